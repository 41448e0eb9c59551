//! The transcode record: the platform renditions of a take and their verification.

use crate::probe::{Fraction, ProbeError, TakeVerdict};
use crate::rules::RuleResult;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What the transcode stage made of a take, and whether every output passed
/// its verification. Paths are relative to the run's folder in the store
/// (`takes/<id>/runs/<run>/`); `objects` names every object of the run with
/// its full key, size and checksum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TranscodeRecord {
    pub schema_version: u32,
    pub take_id: String,
    /// `pass` when every rendition passed every check; `fail` when one did
    /// not; `error` when the transcode could not run.
    pub verdict: TakeVerdict,
    pub renditions: Vec<Rendition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hls: Option<HlsPackage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poster: Option<String>,
    /// Encoder settings the renditions were made with.
    pub settings: EncodeSettings,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ProbeError>,
    /// The run whose outputs these are; absent when nothing was stored (a
    /// failed verification, an error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// Every object the run stored (renditions, HLS, poster).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<crate::run::StoredObject>,
}

/// One MP4 rendition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rendition {
    /// Rung name, e.g. "1080p".
    pub name: String,
    /// True for the rendition uploaded to the platform (≥ 8 Mbit/s 1080p).
    pub platform: bool,
    /// Path relative to the run folder, e.g. `renditions/physics-101-m01-l02-newtons-laws-1080p.mp4`.
    pub file: String,
    /// Human-readable name to download it as.
    pub download_name: String,
    pub width: u32,
    pub height: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_rate: Option<Fraction>,
    pub target_bitrate_bps: u64,
    /// Measured on the finished file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_bitrate_bps: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
    pub size_bytes: u64,
    /// The checks run on the finished file.
    pub rules: Vec<RuleResult>,
}

/// The HLS package over the ladder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HlsPackage {
    /// The master playlist, e.g. `renditions/hls/master.m3u8`.
    pub master: String,
    /// One media playlist per rung.
    pub variants: Vec<String>,
    pub segments: u32,
    /// The package's check (`rendition.hls`).
    pub rules: Vec<RuleResult>,
}

/// The encoder settings of a transcode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EncodeSettings {
    /// x264 speed preset, e.g. "veryfast".
    pub preset: String,
    pub audio_bitrate_bps: u64,
    /// Target HLS segment length, seconds.
    pub hls_segment_seconds: u32,
}
