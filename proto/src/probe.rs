//! The probe record: what `moocpipe check` prints with `--json` and what the
//! probe stage stores as `records/probe.json`.

use crate::rules::{RuleResult, Verdict};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Everything known about one raw take: its measured facts and a verdict per rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbeRecord {
    pub schema_version: u32,
    /// The file as the user named it.
    pub file: String,
    /// Overall verdict: `fail` if any rule fails, `cannot-tell` if none fails
    /// but one cannot be told, `error` if the file could not be checked.
    pub verdict: TakeVerdict,
    /// One entry per rule, in the order of the regulation. Empty on error.
    pub rules: Vec<RuleResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    /// Container format, e.g. "QuickTime", "MXF", "Matroska".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
    #[serde(default)]
    pub streams: StreamCounts,
    /// The (first) video stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<VideoFacts>,
    /// The video streams after the first, in stream order: a multicam ISO
    /// recording (clause 9.5.1) holds one per camera, and every one is
    /// judged by the 9.1 rules. Absent for a take with one video stream.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_video: Vec<VideoFacts>,
    #[serde(default)]
    pub audio: Vec<AudioFacts>,
    /// Things worth knowing that are no rule's business (e.g. a misleading extension).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Set when the file could not be checked; `rules` is then empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ProbeError>,
    /// How frame counts, bytes and durations were measured: from the
    /// container's index, or by reading every frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured_from: Option<MeasuredFrom>,
}

/// Where a [`ProbeRecord`]'s counts come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum MeasuredFrom {
    /// The container's index (MOV/MP4 sample tables, MXF index table
    /// segments), checked against the object, and the first frame of
    /// every stream.
    Index,
    /// A demux pass over every frame.
    Demux,
}

impl ProbeRecord {
    /// The record of a file that could not be checked.
    pub fn failed(file: impl Into<String>, size_bytes: Option<u64>, error: ProbeError) -> Self {
        ProbeRecord {
            schema_version: crate::SCHEMA_VERSION,
            file: file.into(),
            verdict: TakeVerdict::Error,
            rules: Vec::new(),
            size_bytes,
            container: None,
            duration_seconds: None,
            streams: StreamCounts::default(),
            video: None,
            more_video: Vec::new(),
            audio: Vec::new(),
            warnings: Vec::new(),
            error: Some(error),
            measured_from: None,
        }
    }

    /// The overall verdict of a set of rule results.
    pub fn verdict_of(rules: &[RuleResult]) -> TakeVerdict {
        if rules.iter().any(|r| r.verdict == Verdict::Fail) {
            TakeVerdict::Fail
        } else if rules.iter().any(|r| r.verdict == Verdict::CannotTell) {
            TakeVerdict::CannotTell
        } else {
            TakeVerdict::Pass
        }
    }
}

/// A take's overall verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TakeVerdict {
    Pass,
    Fail,
    CannotTell,
    Error,
}

impl TakeVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            TakeVerdict::Pass => "pass",
            TakeVerdict::Fail => "fail",
            TakeVerdict::CannotTell => "cannot-tell",
            TakeVerdict::Error => "error",
        }
    }
}

impl fmt::Display for TakeVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How many elementary streams of each kind the container holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamCounts {
    pub video: u32,
    pub audio: u32,
    /// Subtitles, timecode, data and anything else.
    pub other: u32,
}

/// A rational number, e.g. a frame rate of 24000/1001.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fraction {
    pub num: i32,
    pub den: i32,
}

impl Fraction {
    pub fn as_f64(self) -> Option<f64> {
        (self.den != 0 && self.num > 0).then(|| f64::from(self.num) / f64::from(self.den))
    }
}

impl fmt::Display for Fraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.num, self.den)
    }
}

/// How the video's frames are scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Interlacing {
    Progressive,
    /// Every frame holds two fields.
    Interlaced,
    /// Some frames interlaced, some progressive.
    Mixed,
    Unknown,
}

impl fmt::Display for Interlacing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Interlacing::Progressive => "progressive",
            Interlacing::Interlaced => "interlaced",
            Interlacing::Mixed => "mixed",
            Interlacing::Unknown => "unknown scan",
        })
    }
}

/// Facts of a video stream, measured from its caps, its frame headers and a
/// demux pass over every frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VideoFacts {
    /// Codec name, e.g. "ProRes 422 HQ", "DNxHR HQ", "H.264", "Motion JPEG".
    pub codec: String,
    /// Codec profile or variant, e.g. "hq", "high", "dnxhr-hq".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    pub width: u32,
    pub height: u32,
    /// The stream's nominal frame rate; absent when the stream declares none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_rate: Option<Fraction>,
    pub interlacing: Interlacing,
    /// Bits per colour component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bit_depth: Option<u32>,
    /// Chroma subsampling, e.g. "4:2:2".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chroma: Option<String>,
    /// Video stream bits per second: stream bytes × 8 / stream duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitrate_bps: Option<u64>,
    /// Bytes of the video stream (sum of its frames).
    pub bytes: u64,
    pub frames: u64,
    pub key_frames: u64,
    pub delta_frames: u64,
    /// From the first frame's start to the last frame's end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
}

/// Facts of an audio stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AudioFacts {
    /// Codec name, e.g. "PCM", "AAC".
    pub codec: String,
    /// True for lossy or lossless compressed audio (no bit depth of its own).
    pub compressed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<u32>,
    /// Bits per sample of uncompressed audio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bit_depth: Option<u32>,
    /// Sample format as GStreamer names it, e.g. "S24LE", "F32LE".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<u32>,
    pub bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
}

impl fmt::Display for AudioFacts {
    /// "PCM 48000 Hz 2 ch", with "?" for what is unknown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unknown = || "?".to_string();
        write!(
            f,
            "{} {} Hz {} ch",
            self.codec,
            self.sample_rate
                .map(|r| r.to_string())
                .unwrap_or_else(unknown),
            self.channels.map(|c| c.to_string()).unwrap_or_else(unknown)
        )
    }
}

/// Why a file could not be checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbeError {
    pub kind: ErrorKind,
    /// Names the file and the cause, in plain words.
    pub message: String,
}

/// What kind of failure stopped a check. Lets a caller tell a bad input
/// (permanent) from a passing trouble (transient).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No such file.
    NotFound,
    /// A directory, FIFO, device or other non-regular file.
    NotAFile,
    PermissionDenied,
    /// Zero bytes.
    Empty,
    /// Other I/O failure while reading.
    Io,
    /// Not a media container GStreamer recognises (random bytes, a text file…).
    UnrecognizedFormat,
    /// The container's header or index is missing: the file was cut short.
    Truncated,
    /// The container is recognised but its data cannot be demuxed.
    Corrupt,
    /// A media file without any video stream (e.g. audio only).
    NoVideoStream,
    /// A GStreamer element needed for this format is not installed.
    MissingPlugin,
    /// The check did not finish within its time bound.
    Timeout,
    /// A fault of moocpipe or GStreamer itself.
    Internal,
    /// Stopped on request (Ctrl-C, SIGTERM) before it finished.
    Cancelled,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::NotAFile => "not_a_file",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::Empty => "empty",
            ErrorKind::Io => "io",
            ErrorKind::UnrecognizedFormat => "unrecognized_format",
            ErrorKind::Truncated => "truncated",
            ErrorKind::Corrupt => "corrupt",
            ErrorKind::NoVideoStream => "no_video_stream",
            ErrorKind::MissingPlugin => "missing_plugin",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Internal => "internal",
            ErrorKind::Cancelled => "cancelled",
        }
    }

    /// True when retrying later may succeed (the input itself is not at fault).
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            ErrorKind::Io
                | ErrorKind::Timeout
                | ErrorKind::Internal
                | ErrorKind::MissingPlugin
                | ErrorKind::Cancelled
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
