//! Every key moocpipe writes or reads in the media store, one convention for
//! every backend (DESIGN.md); nothing else formats keys.
//!
//! ```text
//! takes/<take-id>/records/{ingest,probe,qc,transcode,caption,published}.json
//! takes/<take-id>/records/failed-<stage>.json      (a dead-lettered stage, as the report heard of it)
//! takes/<take-id>/runs/<run>/renditions/…          (one transcode run: MP4s, hls/, poster)
//! takes/<take-id>/runs/<run>/captions/…            (one caption run: .vtt, .srt, .txt)
//! courses/<course>/takes/<take-id>.json            (the course's index of takes)
//! courses/<course>/reports/segments.{json,csv,html}
//! courses/<course>/course.json                     (the course folder's optional course.json)
//! courses/<course>/materials/<path in course>       (a course material's published copy)
//! courses/<course>/material-records/<id>.json       (its record: checked type, verdict, the copy)
//! ```
//!
//! A run is one attempt of a stage, named by its fencing token (the
//! distributed runner's lease token, `process`'s time and pid). Its record
//! names the run and every object in it; runs no record names are removed.

/// The records a take has, one file each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    Ingest,
    Probe,
    Qc,
    Transcode,
    Caption,
    Published,
}

/// The former name of [`Record`], kept for callers outside the keys module's
/// change (the distributed ingest).
pub use Record as Stage;

impl Record {
    pub fn as_str(self) -> &'static str {
        match self {
            Record::Ingest => "ingest",
            Record::Probe => "probe",
            Record::Qc => "qc",
            Record::Transcode => "transcode",
            Record::Caption => "caption",
            Record::Published => "published",
        }
    }
}

/// What a stage run stores, one folder each under the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// The transcode's MP4s, HLS package and poster.
    Renditions,
    /// The caption stage's WebVTT, SRT and transcript.
    Captions,
}

impl Output {
    pub fn as_str(self) -> &'static str {
        match self {
            Output::Renditions => "renditions",
            Output::Captions => "captions",
        }
    }
}

/// `takes/<take-id>`
pub fn take_dir(take_id: &str) -> String {
    format!("takes/{take_id}")
}

/// `takes/<take-id>/records/<record>.json`
pub fn record(take_id: &str, record: Record) -> String {
    format!("takes/{take_id}/records/{}.json", record.as_str())
}

/// `takes/<take-id>/records/failed-<stage>.json`: a dead-lettered stage of a
/// take, as the report stage heard of it.
pub fn failure(take_id: &str, stage: moocpipe_proto::Stage) -> String {
    format!("takes/{take_id}/records/failed-{}.json", stage.as_str())
}

/// `takes/<take-id>/runs/`: every run of every stage of a take (a listing
/// prefix).
pub fn runs(take_id: &str) -> String {
    format!("takes/{take_id}/runs/")
}

/// `takes/<take-id>/runs/<run>`: the folder a record's relative paths
/// (`renditions/…`) are relative to.
pub fn run_dir(take_id: &str, run: &str) -> String {
    format!("takes/{take_id}/runs/{run}")
}

/// A take's object's key below `takes/<take-id>/` (`runs/<run>/…`): the
/// path it has below the take's stable link. `None` for another take's.
pub fn take_path<'k>(take_id: &str, key: &'k str) -> Option<&'k str> {
    key.strip_prefix("takes/")?
        .strip_prefix(take_id)?
        .strip_prefix('/')
        .filter(|rest| !rest.is_empty())
}

/// `takes/<take-id>/runs/<run>/<output>`
pub fn run_output(take_id: &str, run: &str, output: Output) -> String {
    format!("takes/{take_id}/runs/{run}/{}", output.as_str())
}

/// The run and output a key below [`runs`] belongs to, e.g. `("r1",
/// Some(Output::Captions))` for `takes/<id>/runs/r1/captions/x.vtt`; `None`
/// for a key that is not in a run of this take.
pub fn run_of<'k>(take_id: &str, key: &'k str) -> Option<(&'k str, Option<Output>)> {
    let rest = key.strip_prefix(&runs(take_id))?;
    let (run, below) = rest.split_once('/')?;
    let output = match below.split('/').next() {
        Some("renditions") => Some(Output::Renditions),
        Some("captions") => Some(Output::Captions),
        _ => None,
    };
    Some((run, output))
}

/// `takes/<take-id>/renditions`: where renditions lived before runs (kept
/// for reading stores written by earlier versions; nothing writes it).
pub fn renditions(take_id: &str) -> String {
    format!("takes/{take_id}/renditions")
}

/// `courses/<course>/takes/<take-id>.json`: the course's index of takes,
/// written by ingest, read for the segment-length report.
pub fn course_index(course: &str, take_id: &str) -> String {
    format!("courses/{course}/takes/{take_id}.json")
}

/// `courses/<course>/takes/`: a listing prefix over the course's index.
pub fn course_takes(course: &str) -> String {
    format!("courses/{course}/takes/")
}

/// `courses/<course>/course.json`: a copy of the course folder's optional
/// `course.json` (title, launch date), made by ingest, read by the catalog.
pub fn course_info(course: &str) -> String {
    format!("courses/{course}/course.json")
}

/// The name of a course folder's optional description file.
pub const COURSE_INFO_FILE: &str = "course.json";

/// `courses/<course>/materials/<path>`: the published copy of a course
/// material, `<path>` being its path below the course folder
/// (`01-mechanics/slides.pdf`). A new version of the file replaces it, so
/// its stable link stays the same.
pub fn material_object(course: &str, path: &str) -> String {
    format!("courses/{course}/materials/{path}")
}

/// `courses/<course>/material-records/`: a listing prefix over the
/// course's material records.
pub fn material_records(course: &str) -> String {
    format!("courses/{course}/material-records/")
}

/// `courses/<course>/material-records/<material-id>.json`: a material's
/// record, named by an id made from its path (one flat folder per course,
/// however deep the materials lie).
pub fn material_record(course: &str, material_id: &str) -> String {
    format!("courses/{course}/material-records/{material_id}.json")
}

/// `courses/<course>/reports/segments.<ext>`
pub fn segment_report(course: &str, ext: &str) -> String {
    format!("courses/{course}/reports/segments.{ext}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_a_take() {
        assert_eq!(
            record("ab", Record::Caption),
            "takes/ab/records/caption.json"
        );
        assert_eq!(
            failure("ab", moocpipe_proto::Stage::Transcode),
            "takes/ab/records/failed-transcode.json"
        );
        assert_eq!(
            run_output("ab", "7-1-ff", Output::Renditions),
            "takes/ab/runs/7-1-ff/renditions"
        );
        assert_eq!(course_index("phys", "ab"), "courses/phys/takes/ab.json");
    }

    #[test]
    fn keys_of_a_material() {
        assert_eq!(
            material_object("phys", "01-mechanics/slides.pdf"),
            "courses/phys/materials/01-mechanics/slides.pdf"
        );
        assert_eq!(
            material_record("phys", "0123456789abcdef"),
            "courses/phys/material-records/0123456789abcdef.json"
        );
        assert!(material_record("phys", "x").starts_with(&material_records("phys")));
    }

    #[test]
    fn a_key_tells_its_run_and_output() {
        let key = format!("{}/x.en.vtt", run_output("ab", "r1", Output::Captions));
        assert_eq!(run_of("ab", &key), Some(("r1", Some(Output::Captions))));
        assert_eq!(
            run_of("ab", "takes/ab/runs/r2/renditions/hls/master.m3u8"),
            Some(("r2", Some(Output::Renditions)))
        );
        assert_eq!(run_of("ab", "takes/ab/records/probe.json"), None);
        assert_eq!(run_of("cd", &key), None);
    }
}
