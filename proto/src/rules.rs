//! Rule ids of the regulation (REQUIREMENTS.md), their clauses, and verdicts.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The verdict of one rule on one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    Fail,
    /// The fact the rule needs could not be measured; `measured` says why.
    CannotTell,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::CannotTell => "cannot-tell",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule of the regulation, named exactly as in REQUIREMENTS.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum RuleId {
    #[serde(rename = "video.bit_depth")]
    VideoBitDepth,
    #[serde(rename = "video.intraframe")]
    VideoIntraframe,
    #[serde(rename = "video.bitrate")]
    VideoBitrate,
    #[serde(rename = "video.resolution")]
    VideoResolution,
    #[serde(rename = "video.frame_rate")]
    VideoFrameRate,
    #[serde(rename = "audio.sample_rate")]
    AudioSampleRate,
    #[serde(rename = "audio.bit_depth")]
    AudioBitDepth,
    #[serde(rename = "audio.channels")]
    AudioChannels,
    #[serde(rename = "take.streams")]
    TakeStreams,
}

impl RuleId {
    /// The raw-footage rules (clauses 9.1–9.3), in report order.
    pub const RAW_SPEC: [RuleId; 9] = [
        RuleId::VideoBitDepth,
        RuleId::VideoIntraframe,
        RuleId::VideoBitrate,
        RuleId::VideoResolution,
        RuleId::VideoFrameRate,
        RuleId::AudioSampleRate,
        RuleId::AudioBitDepth,
        RuleId::AudioChannels,
        RuleId::TakeStreams,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RuleId::VideoBitDepth => "video.bit_depth",
            RuleId::VideoIntraframe => "video.intraframe",
            RuleId::VideoBitrate => "video.bitrate",
            RuleId::VideoResolution => "video.resolution",
            RuleId::VideoFrameRate => "video.frame_rate",
            RuleId::AudioSampleRate => "audio.sample_rate",
            RuleId::AudioBitDepth => "audio.bit_depth",
            RuleId::AudioChannels => "audio.channels",
            RuleId::TakeStreams => "take.streams",
        }
    }

    /// The regulation's clause(s) the rule comes from.
    pub fn clause(self) -> &'static str {
        match self {
            RuleId::VideoBitDepth => "9.1.1",
            RuleId::VideoIntraframe => "9.1.2",
            RuleId::VideoBitrate => "9.1.3",
            RuleId::VideoResolution => "9.1.5, 9.1.6",
            RuleId::VideoFrameRate => "9.1.7",
            RuleId::AudioSampleRate => "9.2.1",
            RuleId::AudioBitDepth => "9.2.2",
            RuleId::AudioChannels => "9.2.3",
            RuleId::TakeStreams => "9.3",
        }
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rule's outcome: what is required, what was measured, and the verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleResult {
    pub id: RuleId,
    pub clause: String,
    pub required: String,
    /// The measured value in words; for `cannot-tell`, why it is unknown.
    pub measured: String,
    pub verdict: Verdict,
    /// For a failure: what to change, in plain words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}
