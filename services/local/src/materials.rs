//! The course materials step of `process`: every material the walk found
//! (a syllabus, slides, images, archives: see `moocpipe-ingest`) checked by
//! its content and, when it is what its name claims, copied into the store
//! under `courses/<course>/materials/<path>` — the store side is
//! `moocpipe-pipeline`'s, shared with the distributed ingest.

use crate::{Event, ProcessOptions};
use moocpipe_ingest::filetype::HEAD_BYTES;
use moocpipe_ingest::LocalMaterial;
use moocpipe_pipeline::materials::{self, MaterialSource};
use moocpipe_proto::{MaterialRecord, MaterialType, MaterialVerdict};
use moocpipe_storage::{LocalStore, ObjectStore, StorageError};
use serde::Serialize;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// What became of one material.
#[derive(Debug, Clone, Serialize)]
pub struct MaterialOutcome {
    pub course: String,
    /// Its path below the course folder.
    pub path: String,
    /// The file, as given.
    pub source: PathBuf,
    pub size_bytes: u64,
    /// `ok` (published) or `error` (see `error`).
    pub verdict: MaterialVerdict,
    /// The type its content was found to be.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detected: Option<MaterialType>,
    /// The published copy, on disk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<PathBuf>,
    /// Why it was not published, naming the file and the cause.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The verdict is recorded (false: the file or the store could not be
    /// read or written; the next run tries again).
    pub recorded: bool,
    /// Recorded by an earlier run for this version of the file.
    pub reused: bool,
}

impl MaterialOutcome {
    fn from_record(
        material: &LocalMaterial,
        record: MaterialRecord,
        store: &LocalStore,
        reused: bool,
    ) -> Self {
        MaterialOutcome {
            course: record.course,
            path: record.path,
            source: material.shown.clone(),
            size_bytes: record.size_bytes,
            verdict: record.verdict,
            detected: record.detected,
            published: record.object.map(|o| store.path(&o.key)),
            error: record.error.map(|e| e.message),
            recorded: true,
            reused,
        }
    }

    /// Whether it was checked and not published (exit code 1), or could
    /// not be checked at all (2).
    pub fn failed(&self) -> bool {
        self.verdict == MaterialVerdict::Error
    }
}

/// Checks and publishes every material; one that fails is recorded (or,
/// when its file or the store fails, reported) and the others go on.
pub fn publish_all(
    found: &[LocalMaterial],
    store: &LocalStore,
    options: &ProcessOptions,
    runtime: &tokio::runtime::Runtime,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Vec<MaterialOutcome> {
    let mut outcomes = Vec::with_capacity(found.len());
    for material in found {
        if cancel.load(Ordering::Relaxed) {
            break;
        }
        let outcome = publish_one(material, store, options, runtime);
        on_event(Event::Material { outcome: &outcome });
        outcomes.push(outcome);
    }
    outcomes
}

fn publish_one(
    material: &LocalMaterial,
    store: &LocalStore,
    options: &ProcessOptions,
    runtime: &tokio::runtime::Runtime,
) -> MaterialOutcome {
    let location = material.shown.display().to_string();
    let source = MaterialSource {
        course: &material.course,
        path: &material.path,
        location: &location,
        version: &material.version,
        size_bytes: material.size_bytes,
    };
    let file = material.source.as_path();
    let read_head = async { read_head(file) };
    let copy = |key: String, content_type: String| async move {
        ObjectStore::put_file(store, &key, file, &content_type).await
    };
    match runtime.block_on(materials::publish(
        store,
        source,
        read_head,
        copy,
        options.force,
    )) {
        Ok(published) => {
            MaterialOutcome::from_record(material, published.record, store, published.reused)
        }
        Err(error) => MaterialOutcome {
            course: material.course.clone(),
            path: material.path.clone(),
            source: material.shown.clone(),
            size_bytes: material.size_bytes,
            verdict: MaterialVerdict::Error,
            detected: None,
            published: None,
            error: Some(format!(
                "{location}: not published: {error} (not recorded: the next run tries again)"
            )),
            recorded: false,
            reused: false,
        },
    }
}

/// The first [`HEAD_BYTES`] of a file.
fn read_head(path: &Path) -> Result<Vec<u8>, StorageError> {
    let mut head = Vec::with_capacity(HEAD_BYTES as usize);
    std::fs::File::open(path)
        .and_then(|file| file.take(HEAD_BYTES).read_to_end(&mut head))
        .map_err(|e| StorageError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    Ok(head)
}
