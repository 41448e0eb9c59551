//! Where a take sits in its course, and what its sidecar says about it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a take is for in its course.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TakeKind {
    /// A video lecture segment of a lesson.
    Lecture,
    /// The course's promo / trailer (F-01 item 14).
    Promo,
    /// The closing video message (F-08).
    Closing,
}

/// The optional `<take>.json` next to a take.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sidecar {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_email: Option<String>,
    /// BCP 47 language tag of the spoken language: "kk", "ru" or "en".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<TakeKind>,
}

/// A raw take, placed in its course. The same upload always gets the same
/// `take_id`, so every stage can tell work it has already done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TakeRef {
    /// Derived from the source's location and version (see `moocpipe-ingest`).
    pub take_id: String,
    /// Where the raw take is: a path (embedded mode) or `s3://bucket/key`.
    pub source: String,
    /// The take's key relative to the course root's parent, e.g.
    /// `physics-101/01-mechanics/02-newton/take-03.mov`.
    pub key: String,
    /// The course's folder name, e.g. `physics-101`.
    pub course: String,
    pub kind: TakeKind,
    /// Module (week) number, from `NN-` of the module folder; absent for promo and closing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module_name: Option<String>,
    /// Lesson number within its module, from `NN-` of the lesson folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lesson: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lesson_name: Option<String>,
    /// The take's file stem, e.g. `take-03`.
    pub take: String,
    /// The title: the sidecar's, else one made from the lesson folder's name.
    pub title: String,
    #[serde(default)]
    pub sidecar: Sidecar,
    pub size_bytes: u64,
}
