//! A course folder's optional `course.json`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `<course>/course.json`: what the folder name does not say. Ingest copies
/// it into the store (`courses/<course>/course.json`) for the dashboard.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CourseInfo {
    /// The course's name for people, e.g. "Physics 101".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The day the course opens, `YYYY-MM-DD`: its materials are due two
    /// weeks before (clause 12.6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_date: Option<String>,
}
