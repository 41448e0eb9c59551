//! The caption record (clauses 9.7.1 and 10.4): how a take's captions were
//! made, how much of its speech they cover, and where they break the
//! subtitle-style rules.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Captions of one take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaptionRecord {
    pub schema_version: u32,
    /// The take as the user named it.
    pub file: String,
    /// Language of the captions (ISO 639-1, e.g. `en`, `ru`, `kk`).
    pub language: String,
    /// Where the captions came from.
    pub source: CaptionSource,
    /// Number of cues written.
    pub cues: u32,
    /// Seconds of audio in the take.
    pub audio_seconds: f64,
    /// Seconds of audible sound (30 ms frames above the configured level),
    /// when recognition ran: the time speech could be in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speech_seconds: Option<f64>,
    /// Seconds covered by cues.
    pub captioned_seconds: f64,
    /// Share of the audible time that cues cover, 0–1, when recognition ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<f64>,
    /// Every cue that breaks a style rule, with what was measured.
    pub style_violations: Vec<StyleViolation>,
    /// Things a reviewer should look at; none of them fails the take.
    pub warnings: Vec<CaptionWarning>,
    /// The style rules the cues were made and checked with.
    pub style: CueStyleLimits,
}

/// Recognised speech, or the author's own caption file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CaptionSource {
    /// Speech recognition with a whisper.cpp model.
    Recognised {
        /// The model's name (e.g. `tiny.en`, `base`, or a user file's name).
        model: String,
        /// SHA-256 of the model file, so a caption is traceable to its weights.
        model_sha256: String,
        /// Beam width of the decoder (1: greedy).
        beam_size: u32,
    },
    /// A `.vtt` or `.srt` file supplied next to the take.
    AuthorSupplied {
        /// The file's name as found.
        file: String,
    },
}

/// The subtitle-style limits (all configurable).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CueStyleLimits {
    pub max_lines: u32,
    pub max_line_chars: u32,
    pub max_chars_per_second: f64,
    pub min_cue_seconds: f64,
    pub max_cue_seconds: f64,
}

/// One cue breaking one rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StyleViolation {
    /// 1-based number of the cue.
    pub cue: u32,
    pub rule: StyleRule,
    /// Cue start, seconds.
    pub start_seconds: f64,
    /// What was measured.
    pub measured: f64,
    /// The limit it breaks.
    pub limit: f64,
}

/// A subtitle-style rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StyleRule {
    /// More lines than `max_lines`.
    Lines,
    /// A line longer than `max_line_chars`.
    LineLength,
    /// Characters per second above `max_chars_per_second`.
    ReadingRate,
    /// Shorter than `min_cue_seconds`.
    TooShort,
    /// Longer than `max_cue_seconds`.
    TooLong,
    /// Starts before the previous cue ends.
    Overlap,
    /// Ends after the media does.
    PastEnd,
}

/// A warning about the captions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaptionWarning {
    pub kind: CaptionWarningKind,
    /// What was seen, in plain words.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaptionWarningKind {
    /// No speech heard (silence or music only): no cues.
    NoSpeech,
    /// The same text repeated over and over: the recogniser looping.
    RepeatedText,
    /// Cues cover much less of the speech than expected.
    LowCoverage,
    /// The take has no audio stream.
    NoAudio,
    /// The model is known to recognise this language poorly (e.g. `base`
    /// on Russian or Kazakh): configure a larger model.
    WeakModel,
}
