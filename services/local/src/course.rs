//! The per-course step of `process`: the segment-length report of every
//! course a run touched, over all of that course's current takes.

use crate::{CourseReport, Event, ProcessOptions};
use moocpipe_proto::{ProbeRecord, TakeRef};
use moocpipe_storage::layout::{self, Record as Stage};
use moocpipe_storage::{LocalStore, StorageError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Writes `courses/<course>/reports/segments.{json,csv,html}` for every course
/// of `discovered`. A course's takes are the ones found in this run plus those
/// recorded in the store by earlier runs whose raw file is still there
/// unchanged (so processing one file does not shrink its course's report).
pub fn write_reports(
    discovered: &[(TakeRef, PathBuf)],
    store: &LocalStore,
    options: &ProcessOptions,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<Vec<CourseReport>, StorageError> {
    let mut courses: BTreeMap<String, BTreeMap<String, TakeRef>> = BTreeMap::new();
    for (take, _) in discovered {
        courses
            .entry(take.course.clone())
            .or_default()
            .insert(take.key.clone(), take.clone());
    }
    for take in stored_takes(store)? {
        if let Some(keys) = courses.get_mut(&take.course) {
            if !keys.contains_key(&take.key) && still_current(&take) {
                keys.insert(take.key.clone(), take);
            }
        }
    }
    for (course, root) in course_roots(discovered) {
        copy_course_info(store, &course, &root, on_event)?;
    }
    let mut written = Vec::new();
    for (course, takes) in courses {
        let mut with_probes = Vec::new();
        for take in takes.into_values() {
            let probe =
                store.get_json::<ProbeRecord>(&layout::record(&take.take_id, Stage::Probe))?;
            with_probes.push((take, probe));
        }
        let report = moocpipe_report::build(&course, &with_probes, &options.course_rules);
        let mut files = Vec::new();
        for (ext, text) in moocpipe_report::render_all(&report) {
            let key = layout::segment_report(&course, ext);
            store.put_bytes(&key, text.as_bytes())?;
            files.push(store.path(&key));
        }
        on_event(Event::ReportWritten {
            course: &course,
            files: &files,
        });
        written.push(CourseReport { course, files });
    }
    Ok(written)
}

/// Each course's folder, from a take's path and its key
/// (`<course>/…/<take>`: as many levels up as the key has below the course).
fn course_roots(discovered: &[(TakeRef, PathBuf)]) -> BTreeMap<String, PathBuf> {
    let mut roots = BTreeMap::new();
    for (take, path) in discovered {
        let below = take.key.split('/').count().saturating_sub(1);
        if let Some(root) = path.ancestors().nth(below) {
            if root.file_name().and_then(|n| n.to_str()) == Some(take.course.as_str()) {
                roots
                    .entry(take.course.clone())
                    .or_insert_with(|| root.to_path_buf());
            }
        }
    }
    roots
}

/// Copies the course folder's `course.json` into the store for the
/// dashboard, when it is there and valid; an invalid one is reported (as
/// a warning event) and not copied.
fn copy_course_info(
    store: &LocalStore,
    course: &str,
    root: &Path,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<(), StorageError> {
    let file = root.join(layout::COURSE_INFO_FILE);
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Ok(());
    };
    match serde_json::from_str::<moocpipe_proto::CourseInfo>(&text) {
        Ok(info) => store.put_json(&layout::course_info(course), &info),
        Err(error) => {
            on_event(Event::Warning {
                message: &format!("{}: not a valid course.json: {error}", file.display()),
            });
            Ok(())
        }
    }
}

/// Every take the store holds an ingest record of.
fn stored_takes(store: &LocalStore) -> Result<Vec<TakeRef>, StorageError> {
    let mut out = Vec::new();
    for id in store.list("takes")? {
        if let Some(take) = store.get_json::<TakeRef>(&layout::record(&id, Stage::Ingest))? {
            out.push(take);
        }
    }
    Ok(out)
}

/// True when the take's raw file is still where it was and still the same
/// upload (same take id); a re-exported file has a new id and replaces it.
fn still_current(take: &TakeRef) -> bool {
    moocpipe_ingest::place(Path::new(&take.source))
        .map(|(now, _)| now.take_id == take.take_id)
        .unwrap_or(false)
}
