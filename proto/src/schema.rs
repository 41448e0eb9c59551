//! JSON Schemas of the records, generated from the types. `proto/schema/`
//! holds the committed copies; `tests/schema.rs` fails when they drift and
//! rewrites them when run with `UPDATE_SCHEMAS=1`.

use schemars::schema_for;

/// (file name in `proto/schema/`, pretty-printed schema) for every record type.
pub fn all() -> Vec<(&'static str, String)> {
    vec![
        (
            "probe-record.schema.json",
            pretty(schema_for!(crate::ProbeRecord)),
        ),
        ("take-ref.schema.json", pretty(schema_for!(crate::TakeRef))),
        (
            "transcode-record.schema.json",
            pretty(schema_for!(crate::TranscodeRecord)),
        ),
        (
            "segment-report.schema.json",
            pretty(schema_for!(crate::SegmentReport)),
        ),
        (
            "caption-record.schema.json",
            pretty(schema_for!(crate::CaptionRecord)),
        ),
        (
            "caption-run.schema.json",
            pretty(schema_for!(crate::CaptionRun)),
        ),
        (
            "ingest-job.schema.json",
            pretty(schema_for!(crate::IngestJob)),
        ),
        ("take-job.schema.json", pretty(schema_for!(crate::TakeJob))),
        (
            "published-record.schema.json",
            pretty(schema_for!(crate::PublishedRecord)),
        ),
        (
            "course-info.schema.json",
            pretty(schema_for!(crate::CourseInfo)),
        ),
        (
            "material-record.schema.json",
            pretty(schema_for!(crate::MaterialRecord)),
        ),
        (
            "qc-record.schema.json",
            pretty(schema_for!(crate::QcRecord)),
        ),
    ]
}

fn pretty(schema: schemars::Schema) -> String {
    // Serialising a schemars::Schema (a JSON value) cannot fail.
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}
