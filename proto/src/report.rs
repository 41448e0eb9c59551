//! The course segment-length report (clauses 8.1–8.6, F-01, F-08).

use crate::rules::RuleResult;
use crate::take::TakeKind;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A course's segment lengths by module and lesson, with each rule's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentReport {
    pub schema_version: u32,
    pub course: String,
    pub modules: Vec<ModuleSegments>,
    /// The promo / trailer, when the course has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promo: Option<SegmentTake>,
    /// The closing video message, when the course has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closing: Option<SegmentTake>,
    /// Total counted video of the course, seconds (lectures, promo and closing).
    pub total_video_seconds: f64,
    /// The course's rules, in the regulation's order; per-lesson and
    /// per-module verdicts of the same rules sit with their lesson and module.
    pub rules: Vec<RuleResult>,
    /// How a lesson with several takes is counted, in words.
    pub counting: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModuleSegments {
    pub module: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub lessons: Vec<LessonSegments>,
    /// Sum of the counted takes of the module's lessons, seconds.
    pub video_seconds: f64,
    /// `module.lessons` and `module.video_total` for this module.
    pub rules: Vec<RuleResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LessonSegments {
    pub lesson: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Every take of the lesson, counted or not.
    pub takes: Vec<SegmentTake>,
    /// The take that counts (see `SegmentReport::counting`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted_take_id: Option<String>,
    pub video_seconds: f64,
    /// `lesson.video_min` for this lesson.
    pub rules: Vec<RuleResult>,
}

/// One take as the report sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentTake {
    pub take_id: String,
    pub take: String,
    pub kind: TakeKind,
    pub title: String,
    /// From the take's probe; absent when the take could not be probed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
    /// Whether the take passed the raw-footage spec.
    pub compliant: bool,
    /// The probe's overall verdict (`pass`, `fail`, `cannot-tell`, `error`).
    pub probe_verdict: crate::TakeVerdict,
}
