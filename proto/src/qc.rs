//! The technical-quality record (F-10 criteria 1–2, F-11 protocol): what was
//! measured on a take's sound and picture, the findings with their time
//! ranges, and a suggested score for reviewers to confirm.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Technical-quality measurements of one take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QcRecord {
    pub schema_version: u32,
    /// The file as the user named it.
    pub file: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<AudioQc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<VideoQc>,
    /// Every finding, in time order.
    pub findings: Vec<Finding>,
    /// F-10 criterion 1, sound quality: "no technical problems, extraneous noise".
    pub sound_score: SuggestedScore,
    /// F-10 criterion 2, video image quality: "no white bars and defects".
    pub image_score: SuggestedScore,
}

/// Loudness and level of the take's (first) audio stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AudioQc {
    /// Integrated loudness, LUFS (ITU-R BS.1770-4 / EBU R128); absent when
    /// the take is too quiet or short to gate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrated_lufs: Option<f64>,
    /// Loudness range, LU (EBU Tech 3342).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loudness_range_lu: Option<f64>,
    /// Highest true peak over all channels, dBTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub true_peak_dbtp: Option<f64>,
    /// Samples at or above the clipping level.
    pub clipped_samples: u64,
    /// Seconds of audio analysed.
    pub seconds: f64,
}

/// What the picture analysis saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VideoQc {
    pub frames: u64,
    /// Seconds of black picture.
    pub black_seconds: f64,
    /// Seconds of frozen (unchanging) picture.
    pub frozen_seconds: f64,
    /// Rows of bars found at the top and bottom, and columns at the left and
    /// right, over most of the take (letterbox / pillarbox), in pixels of the
    /// analysed picture.
    pub bars: Bars,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bars {
    pub top: u32,
    pub bottom: u32,
    pub left: u32,
    pub right: u32,
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// Integrated loudness away from the target.
    Loudness,
    /// True peak above the ceiling.
    TruePeak,
    /// A run of clipped samples.
    Clipping,
    /// Audio below the silence threshold for longer than allowed.
    Silence,
    /// Black picture.
    Black,
    /// Bars at the picture's edges (letterbox or pillarbox).
    Bars,
    /// An unchanging picture (information only: slide lectures are static).
    Frozen,
}

/// How much a finding weighs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing; does not lower a score.
    Info,
    /// Lowers the suggested score by one point.
    Minor,
    /// Lowers the suggested score by two points.
    Major,
}

/// One finding with where it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    pub kind: FindingKind,
    pub severity: Severity,
    /// Start of the range, seconds from the start of the take.
    pub start_seconds: f64,
    /// End of the range (equal to start for a whole-take measurement).
    pub end_seconds: f64,
    /// What was measured against what is expected, in plain words.
    pub message: String,
}

/// A suggested F-10 score (0–3) and the findings that led to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SuggestedScore {
    pub criterion: u32,
    pub score: u32,
    /// Why, in plain words, for the reviewer who confirms it.
    pub evidence: Vec<String>,
}
