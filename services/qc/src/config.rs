//! The thresholds of the analysis, each with its default and where that
//! default comes from. Fixed rules that are not meant to be tuned per run are
//! the constants below the struct.
//!
//! [`QcConfig`] is also the `[qc]` section of moocpipe's configuration file:
//! it deserializes with serde, every field optional (missing ones keep their
//! default) and unknown keys refused, so the documentation of each threshold
//! stays here, in one place.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Thresholds of the technical-quality analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QcConfig {
    /// Target integrated loudness, LUFS. Default −16: the level AES TD1004
    /// recommends for streamed speech programmes, inside the −14…−16 LUFS
    /// band of the large online video platforms.
    pub target_lufs: f64,
    /// Integrated loudness more than this many LU away from the target is a
    /// Minor finding, more than twice as far a Major one. Default 3 LU: the
    /// ±3 LU speech tolerance of AES TD1004 (and R128 s1's live tolerance).
    pub loudness_tolerance_lu: f64,
    /// Highest allowed true peak, dBTP. Default −1: EBU R128's maximum
    /// permitted true-peak level for lossy-coded delivery.
    pub max_true_peak_dbtp: f64,
    /// A sample whose magnitude is at or above this fraction of full scale is
    /// clipped. Default 0.999: decoded float audio rarely sits exactly at 1.0
    /// once a codec has rounded it, so a hair below full scale catches
    /// flattened tops without counting legitimate peaks (which true-peak
    /// limiting keeps below −1 dBFS ≈ 0.89).
    pub clip_level: f32,
    /// This many consecutive clipped samples in one channel make a clipping
    /// run. Default 3: the usual consecutive-sample rule of clip detectors
    /// (one or two full-scale samples are legitimate peaks).
    pub clip_run_samples: u32,
    /// A 100 ms window whose RMS level (over all channels, dB relative to a
    /// full-scale square wave) is below this is silent. Default −50 dBFS:
    /// below the room tone of a studio recording, far below speech.
    pub silence_dbfs: f64,
    /// Silence longer than this many seconds is a (Minor) finding. Default
    /// 5 s: longer than any natural pause in a lecture.
    pub silence_min_seconds: f64,
    /// A pixel with luma below this (0–255) is dark; a frame is black when at
    /// least [`BLACK_PIXEL_FRACTION`] of its pixels are dark. Default 32: the
    /// `pix_th` of ffmpeg's `blackdetect` (0.10) on 8-bit full-range luma,
    /// above limited-range black (16) plus coding noise.
    pub black_luma: u8,
    /// Black runs at least this many seconds long are findings. Default 1 s:
    /// a fade through black between shots is shorter.
    pub black_min_seconds: f64,
    /// A row (or column) at the picture's edge whose mean luma is below this
    /// is a black bar row; one whose mean luma is at or above
    /// [`WHITE_BAR_LUMA`] is a white bar row ("white bars" in F-10). Default
    /// 32, the same darkness as [`QcConfig::black_luma`].
    pub bar_luma: u8,
    /// Bars present in at least this fraction of the analysed (non-black,
    /// non-blank) frames are a (Minor) finding. Default 0.5: bars over most
    /// of the take, not a title card.
    pub bars_min_fraction: f64,
    /// Consecutive frames whose mean absolute luma difference is below this
    /// are the same picture. Default 0.5 (on 0–255): well below the change
    /// of any moving picture, above the rounding noise of a decoded still.
    pub frozen_mad: f64,
    /// Frozen runs at least this many seconds long are (Info) findings.
    /// Default 5 s, as for silence.
    pub frozen_min_seconds: f64,
}

impl Default for QcConfig {
    fn default() -> Self {
        Self {
            target_lufs: -16.0,
            loudness_tolerance_lu: 3.0,
            max_true_peak_dbtp: -1.0,
            clip_level: 0.999,
            clip_run_samples: 3,
            silence_dbfs: -50.0,
            silence_min_seconds: 5.0,
            black_luma: 32,
            black_min_seconds: 1.0,
            bar_luma: 32,
            bars_min_fraction: 0.5,
            frozen_mad: 0.5,
            frozen_min_seconds: 5.0,
        }
    }
}

/// A threshold that cannot work, named by its key in the `[qc]` section, so
/// the configuration file's reader can say which line to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidSetting {
    pub key: &'static str,
    pub message: String,
}

impl fmt::Display for InvalidSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

impl std::error::Error for InvalidSetting {}

impl QcConfig {
    /// Checks that every threshold is a number the analysis can use: levels
    /// in dB below full scale, fractions within 0..=1, non-negative
    /// durations and tolerances. TOML has `nan` and `inf`, so finiteness is
    /// checked too; without this, a sign slip in a configuration file would
    /// turn every take's findings upside down without a word.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        fn check(
            ok: bool,
            key: &'static str,
            value: impl fmt::Display,
            want: &str,
        ) -> Result<(), InvalidSetting> {
            if ok {
                Ok(())
            } else {
                Err(InvalidSetting {
                    key,
                    message: format!("{value} is not {want}"),
                })
            }
        }
        let below_zero = |x: f64| x.is_finite() && x < 0.0;
        let non_negative = |x: f64| x.is_finite() && x >= 0.0;
        check(
            below_zero(self.target_lufs),
            "target_lufs",
            self.target_lufs,
            "a loudness below 0 LUFS",
        )?;
        check(
            self.loudness_tolerance_lu.is_finite() && self.loudness_tolerance_lu > 0.0,
            "loudness_tolerance_lu",
            self.loudness_tolerance_lu,
            "a tolerance above 0 LU",
        )?;
        check(
            self.max_true_peak_dbtp.is_finite() && self.max_true_peak_dbtp <= 0.0,
            "max_true_peak_dbtp",
            self.max_true_peak_dbtp,
            "a level at or below 0 dBTP",
        )?;
        check(
            self.clip_level.is_finite() && self.clip_level > 0.0 && self.clip_level <= 1.0,
            "clip_level",
            self.clip_level,
            "a fraction of full scale in (0, 1]",
        )?;
        check(
            self.clip_run_samples >= 1,
            "clip_run_samples",
            self.clip_run_samples,
            "at least 1 sample",
        )?;
        check(
            below_zero(self.silence_dbfs),
            "silence_dbfs",
            self.silence_dbfs,
            "a level below 0 dBFS",
        )?;
        check(
            non_negative(self.silence_min_seconds),
            "silence_min_seconds",
            self.silence_min_seconds,
            "a duration of 0 s or more",
        )?;
        check(
            non_negative(self.black_min_seconds),
            "black_min_seconds",
            self.black_min_seconds,
            "a duration of 0 s or more",
        )?;
        check(
            self.bar_luma < WHITE_BAR_LUMA,
            "bar_luma",
            self.bar_luma,
            "below the white-bar luma 235 (a row cannot be both black and white)",
        )?;
        check(
            non_negative(self.bars_min_fraction) && self.bars_min_fraction <= 1.0,
            "bars_min_fraction",
            self.bars_min_fraction,
            "a fraction in [0, 1]",
        )?;
        check(
            non_negative(self.frozen_mad),
            "frozen_mad",
            self.frozen_mad,
            "a luma difference of 0 or more",
        )?;
        check(
            non_negative(self.frozen_min_seconds),
            "frozen_min_seconds",
            self.frozen_min_seconds,
            "a duration of 0 s or more",
        )?;
        Ok(())
    }
}

/// Length of the windows the silence detector measures RMS over, and the
/// resolution of silence and true-peak times: 100 ms, the block step of
/// BS.1770 gating.
pub const SILENCE_WINDOW_SECONDS: f64 = 0.1;

/// Clipping runs closer together than this are reported as one finding, so a
/// shouted sentence is one finding rather than dozens.
pub const CLIP_MERGE_GAP_SECONDS: f64 = 0.5;

/// Clipping is Major when the clipped time (instants where some channel is
/// inside a clipping run) exceeds this fraction of the take: 0.1 %.
pub const CLIP_MAJOR_FRACTION: f64 = 0.001;

/// A frame is black when at least this fraction of its pixels is darker than
/// [`QcConfig::black_luma`]: 98 % (ffmpeg `blackdetect`'s `pic_th`), which
/// tolerates a logo or a timecode burnt into black.
pub const BLACK_PIXEL_FRACTION: f64 = 0.98;

/// A black run is Major when it lasts more than this fraction of the take.
pub const BLACK_MAJOR_FRACTION: f64 = 0.10;

/// Edge rows or columns whose mean luma is at or above this are white bars:
/// 235 is nominal white of limited-range (studio-swing) video.
pub const WHITE_BAR_LUMA: u8 = 235;

/// Bars thinner than this fraction of the height (top, bottom) or width
/// (left, right) are ignored: 2 %, so the dark line or two that scaling
/// leaves at an edge is not a bar.
pub const BARS_MIN_SIZE_FRACTION: f64 = 0.02;

/// Frame duration assumed when a take has a single frame and no pts deltas
/// to estimate it from: 1/25 s.
pub const FALLBACK_FRAME_SECONDS: f64 = 0.04;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid() {
        assert_eq!(QcConfig::default().validate(), Ok(()));
    }

    #[test]
    fn invalid_thresholds_name_their_key() {
        let key = |change: &dyn Fn(&mut QcConfig)| {
            let mut config = QcConfig::default();
            change(&mut config);
            config.validate().expect_err("invalid").key
        };
        assert_eq!(key(&|c| c.target_lufs = 3.0), "target_lufs");
        assert_eq!(
            key(&|c| c.loudness_tolerance_lu = -3.0),
            "loudness_tolerance_lu"
        );
        assert_eq!(
            key(&|c| c.max_true_peak_dbtp = f64::INFINITY),
            "max_true_peak_dbtp"
        );
        assert_eq!(key(&|c| c.clip_level = 1.5), "clip_level");
        assert_eq!(key(&|c| c.clip_run_samples = 0), "clip_run_samples");
        assert_eq!(key(&|c| c.silence_dbfs = f64::NAN), "silence_dbfs");
        assert_eq!(
            key(&|c| c.silence_min_seconds = -1.0),
            "silence_min_seconds"
        );
        assert_eq!(key(&|c| c.black_min_seconds = -0.5), "black_min_seconds");
        assert_eq!(key(&|c| c.bar_luma = 240), "bar_luma");
        assert_eq!(key(&|c| c.bars_min_fraction = 1.5), "bars_min_fraction");
        assert_eq!(key(&|c| c.frozen_mad = -0.1), "frozen_mad");
        assert_eq!(key(&|c| c.frozen_min_seconds = -5.0), "frozen_min_seconds");
    }
}
