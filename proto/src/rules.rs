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
    #[serde(rename = "rendition.bitrate")]
    RenditionBitrate,
    #[serde(rename = "rendition.resolution")]
    RenditionResolution,
    #[serde(rename = "rendition.frame_rate")]
    RenditionFrameRate,
    #[serde(rename = "rendition.duration")]
    RenditionDuration,
    #[serde(rename = "rendition.audio")]
    RenditionAudio,
    #[serde(rename = "rendition.faststart")]
    RenditionFaststart,
    #[serde(rename = "rendition.hls")]
    RenditionHls,
    #[serde(rename = "course.modules")]
    CourseModules,
    #[serde(rename = "module.lessons")]
    ModuleLessons,
    #[serde(rename = "lesson.video_min")]
    LessonVideoMin,
    #[serde(rename = "module.video_total")]
    ModuleVideoTotal,
    #[serde(rename = "course.hours")]
    CourseHours,
    #[serde(rename = "promo.max")]
    PromoMax,
    #[serde(rename = "closing.message")]
    ClosingMessage,
}

impl RuleId {
    /// The raw-footage rules (clauses 9.1–9.2, 9.5.1), in report order.
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

    /// The checks every rendition gets after encoding (clause 9.1.4).
    pub const RENDITION: [RuleId; 7] = [
        RuleId::RenditionBitrate,
        RuleId::RenditionResolution,
        RuleId::RenditionFrameRate,
        RuleId::RenditionDuration,
        RuleId::RenditionAudio,
        RuleId::RenditionFaststart,
        RuleId::RenditionHls,
    ];

    /// The course-structure rules (clauses 8.1–8.6, F-01, F-08), in report order.
    pub const COURSE: [RuleId; 7] = [
        RuleId::CourseModules,
        RuleId::ModuleLessons,
        RuleId::LessonVideoMin,
        RuleId::ModuleVideoTotal,
        RuleId::CourseHours,
        RuleId::PromoMax,
        RuleId::ClosingMessage,
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
            RuleId::RenditionBitrate => "rendition.bitrate",
            RuleId::RenditionResolution => "rendition.resolution",
            RuleId::RenditionFrameRate => "rendition.frame_rate",
            RuleId::RenditionDuration => "rendition.duration",
            RuleId::RenditionAudio => "rendition.audio",
            RuleId::RenditionFaststart => "rendition.faststart",
            RuleId::RenditionHls => "rendition.hls",
            RuleId::CourseModules => "course.modules",
            RuleId::ModuleLessons => "module.lessons",
            RuleId::LessonVideoMin => "lesson.video_min",
            RuleId::ModuleVideoTotal => "module.video_total",
            RuleId::CourseHours => "course.hours",
            RuleId::PromoMax => "promo.max",
            RuleId::ClosingMessage => "closing.message",
        }
    }

    /// The regulation's clause(s) the rule comes from.
    pub fn clause(self) -> &'static str {
        match self {
            RuleId::VideoBitDepth => "9.1.1",
            RuleId::VideoIntraframe => "9.1.2",
            RuleId::VideoBitrate => "9.1.3",
            // 9.1.5 asks the same of the studio's monitor, not of the file.
            RuleId::VideoResolution => "9.1.6",
            RuleId::VideoFrameRate => "9.1.7",
            RuleId::AudioSampleRate => "9.2.1",
            RuleId::AudioBitDepth => "9.2.2",
            RuleId::AudioChannels => "9.2.3",
            // 9.3 lists the kinds of finished material, not a stream count;
            // 9.5.1 allows a multicam ISO recording several video streams.
            RuleId::TakeStreams => "9.2, 9.5.1",
            RuleId::RenditionBitrate
            | RuleId::RenditionResolution
            | RuleId::RenditionFrameRate
            | RuleId::RenditionAudio
            | RuleId::RenditionFaststart => "9.1.4",
            // Not a clause of the regulation: the rendition must be the whole lecture.
            RuleId::RenditionDuration => "9.1.4 (whole take)",
            // Streaming is what a modern platform expects; no clause asks for it.
            RuleId::RenditionHls => "platform (HLS)",

            RuleId::CourseModules => "8.1",
            RuleId::ModuleLessons => "8.3",
            RuleId::LessonVideoMin => "8.4, 8.5, F-01 item 20",
            RuleId::ModuleVideoTotal => "8.4",
            RuleId::CourseHours => "8.6",
            RuleId::PromoMax => "F-01 item 14",
            RuleId::ClosingMessage => "F-08",
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
