//! Technical-quality analysis of a take (F-10 criteria 1–2): loudness, true
//! peak, clipping and silence of the sound; black, bars and frozen frames of
//! the picture; and a suggested score for each criterion with its evidence.
//!
//! Pure analysis: the caller decodes the take and pushes interleaved f32
//! audio to an [`AudioAnalyzer`] and 8-bit luma frames to a
//! [`VideoAnalyzer`], then turns what their `finish` returns into a
//! [`moocpipe_proto::QcRecord`] with [`record`]. Everything is deterministic:
//! the same samples and frames give the same record however they are chunked.

mod config;
mod loudness;
mod picture;
mod score;
#[cfg(test)]
mod signals;

pub use config::{
    QcConfig, BARS_MIN_SIZE_FRACTION, BLACK_MAJOR_FRACTION, BLACK_PIXEL_FRACTION,
    CLIP_MAJOR_FRACTION, CLIP_MERGE_GAP_SECONDS, FALLBACK_FRAME_SECONDS, SILENCE_WINDOW_SECONDS,
    WHITE_BAR_LUMA,
};
pub use loudness::AudioAnalyzer;
pub use picture::VideoAnalyzer;
pub use score::{record, score, IMAGE_CRITERION, MAX_SCORE, SOUND_CRITERION};

use std::fmt;

/// Why audio cannot be analysed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QcError {
    /// A format the loudness meter cannot measure.
    UnsupportedAudio { rate: u32, channels: u32 },
    /// The loudness meter refused the samples.
    Loudness(ebur128::Error),
}

impl fmt::Display for QcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QcError::UnsupportedAudio { rate, channels } => write!(
                f,
                "cannot measure audio of {channels} channels at {rate} Hz \
                 (1 to 64 channels at 16 Hz to 2.8224 MHz)"
            ),
            QcError::Loudness(e) => write!(f, "loudness meter: {e}"),
        }
    }
}

impl std::error::Error for QcError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            QcError::Loudness(e) => Some(e),
            QcError::UnsupportedAudio { .. } => None,
        }
    }
}
