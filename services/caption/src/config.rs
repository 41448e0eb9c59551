//! Caption settings; `Default` is what `moocpipe process` uses unless the
//! configuration file says otherwise.

use crate::cues::CueStyle;
use std::path::PathBuf;

/// Which whisper.cpp model recognises speech.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelChoice {
    /// One of the models `moocpipe models fetch` installs, from the cache.
    Named(moocpipe_models::ModelName),
    /// Any whisper.cpp ggml/gguf file (e.g. a larger model for Russian or
    /// Kazakh, which `base` does not recognise reliably).
    File(PathBuf),
}

/// Caption settings.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptionConfig {
    pub model: ModelChoice,
    /// Where named models are cached (`moocpipe models fetch` writes there).
    pub models_dir: PathBuf,
    /// Beam width. Default 5: greedy decoding hallucinated a repeated
    /// sentence on 3 minutes of lecture speech here, beam 5 did not (and 5
    /// is whisper's own reference setting).
    pub beam_size: u32,
    /// Recognition threads. Default: every core.
    pub threads: u32,
    /// Audio is recognised in chunks of about this many seconds, cut in the
    /// quietest moment near the end, so memory stays bounded on a
    /// 60-minute lecture. Default 60 s (whisper itself works in 30 s windows).
    pub chunk_seconds: f64,
    /// Language when neither the sidecar nor the course names one.
    pub default_language: String,
    /// A 30 ms frame whose RMS level is above this (dBFS) counts as voice
    /// for the coverage figure and the silence guard. Default −45 dBFS:
    /// above a quiet room's noise floor, well below conversational speech
    /// at a studio's recording level.
    pub voice_dbfs: f64,
    pub style: CueStyle,
}

impl Default for CaptionConfig {
    fn default() -> Self {
        CaptionConfig {
            model: ModelChoice::Named(moocpipe_models::ModelName::Base),
            models_dir: moocpipe_models::default_cache_dir(),
            beam_size: 5,
            threads: std::thread::available_parallelism()
                .map(|n| n.get() as u32)
                .unwrap_or(2),
            chunk_seconds: 60.0,
            default_language: "en".into(),
            voice_dbfs: -45.0,
            style: CueStyle::default(),
        }
    }
}
