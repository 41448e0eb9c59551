//! The store layout, one convention for every backend (DESIGN.md):
//!
//! ```text
//! takes/<take-id>/records/{ingest,probe,qc,transcode,caption,published}.json

//! takes/<take-id>/renditions/…   (names carry course, module, lecture number and title)
//! courses/<course>/reports/segments.{json,csv,html}
//! ```

/// The stages that write a record of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Ingest,
    Probe,
    Qc,
    Transcode,
    Caption,
    Published,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Ingest => "ingest",
            Stage::Probe => "probe",
            Stage::Qc => "qc",
            Stage::Transcode => "transcode",
            Stage::Caption => "caption",
            Stage::Published => "published",
        }
    }
}

/// `takes/<take-id>`
pub fn take_dir(take_id: &str) -> String {
    format!("takes/{take_id}")
}

/// `takes/<take-id>/records/<stage>.json`
pub fn record(take_id: &str, stage: Stage) -> String {
    format!("takes/{take_id}/records/{}.json", stage.as_str())
}

/// `takes/<take-id>/renditions`
pub fn renditions(take_id: &str) -> String {
    format!("takes/{take_id}/renditions")
}

/// `courses/<course>/reports/segments.<ext>`
pub fn segment_report(course: &str, ext: &str) -> String {
    format!("courses/{course}/reports/segments.{ext}")
}
