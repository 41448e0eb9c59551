//! The store side of every stage, generic over [`ObjectStore`]: the local
//! runner calls it over `LocalStore`, the workers over `S3Store`.
//!
//! A stage run writes its outputs under its own run prefix
//! (`takes/<id>/runs/<run>/<output>/…`), describes every object with a HEAD
//! (size and ETag), writes its record naming the run and the objects —
//! last, and in the distributed runner only after confirming it still holds
//! the job — and then removes every other run of the same output for the
//! take: earlier attempts, and orphans of an attempt that lost its lease
//! (removed by the next record written for that output). Two runs never
//! share a key, so a late writer can only ever leave its own complete run
//! behind, which no record names and the next write removes.
//!
//! The report reads the records into a [`TakeState`], asks the policy
//! whether the take is ready, and links exactly what the records name,
//! after a HEAD agrees with the recorded size and checksum.

use crate::policy::{self, PolicyError, Readiness, TakeState, Wanted};
use moocpipe_proto::{
    CaptionRun, ProbeRecord, PublishedLink, Stage, StoredObject, TakeRef, TranscodeRecord,
};
use moocpipe_storage::layout::{self, Output, Record};
use moocpipe_storage::{content_type, ObjectStore, StorageError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What went wrong on the store side of a stage.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// A work folder could not be read.
    #[error("{}: {message}", path.display())]
    WorkFolder { path: PathBuf, message: String },
    /// A recorded object is not in the store.
    #[error("{location}: recorded but not there")]
    Missing { location: String },
    /// A recorded object is there but is not what the record says.
    #[error("{location}: {found}, the record says {expected}")]
    Differs {
        location: String,
        expected: String,
        found: String,
    },
}

impl PipelineError {
    /// Whether trying again later may help: a store outage, a work folder,
    /// an object that is not (yet) what its record says. A record that
    /// contradicts itself or a store that refuses us is permanent.
    pub fn is_transient(&self) -> bool {
        match self {
            PipelineError::Storage(e) => e.is_transient(),
            PipelineError::Policy(_) => false,
            PipelineError::WorkFolder { .. }
            | PipelineError::Missing { .. }
            | PipelineError::Differs { .. } => true,
        }
    }
}

/// `takes/<id>/records/failed-<stage>.json`: a dead-lettered stage of a take,
/// as the report heard of it (the body of a `take.<stage>.failed` event).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailureRecord {
    pub take_id: String,
    pub stage: Stage,
    pub kind: String,
    pub error: String,
    #[serde(default)]
    pub attempts: u32,
}

/// One stage run of one take: which take, and the run's name (its fencing
/// token).
#[derive(Debug, Clone, Copy)]
pub struct RunContext<'a> {
    pub take: &'a TakeRef,
    pub run: &'a str,
}

impl RunContext<'_> {
    /// `takes/<id>/runs/<run>/<output>`
    pub fn prefix(&self, output: Output) -> String {
        layout::run_output(&self.take.take_id, self.run, output)
    }
}

/// Uploads every file below `dir` to `<run prefix of output>/<path below
/// dir>` with the media type of its extension, and describes each with a
/// HEAD after its upload. Objects in key order.
pub async fn store_run<S: ObjectStore>(
    store: &S,
    ctx: RunContext<'_>,
    output: Output,
    dir: &Path,
) -> Result<Vec<StoredObject>, PipelineError> {
    let prefix = ctx.prefix(output);
    let mut files = Vec::new();
    collect_files(dir, dir, &mut files).map_err(|e| PipelineError::WorkFolder {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    files.sort();
    let mut objects = Vec::new();
    for rel in files {
        let key = format!("{prefix}/{rel}");
        store
            .put_file(&key, &dir.join(&rel), content_type::for_key(&key))
            .await?;
        objects.push(describe(store, &key).await?);
    }
    Ok(objects)
}

/// Describes every object already under a run's output (the local runner
/// renames its work folder there instead of copying it).
pub async fn describe_run<S: ObjectStore>(
    store: &S,
    ctx: RunContext<'_>,
    output: Output,
) -> Result<Vec<StoredObject>, PipelineError> {
    let prefix = format!("{}/", ctx.prefix(output));
    let mut objects = Vec::new();
    for key in store.list(&prefix).await? {
        objects.push(describe(store, &key).await?);
    }
    Ok(objects)
}

async fn describe<S: ObjectStore>(store: &S, key: &str) -> Result<StoredObject, PipelineError> {
    let meta = store
        .head(key)
        .await?
        .ok_or_else(|| PipelineError::Missing {
            location: store.location(key),
        })?;
    Ok(StoredObject {
        key: key.to_string(),
        size_bytes: meta.size,
        etag: meta.etag,
    })
}

/// Removes every run of `output` of the take but `keep`: called right after
/// the record naming `keep` is written. Returns the objects removed.
pub async fn remove_other_runs<S: ObjectStore>(
    store: &S,
    ctx: RunContext<'_>,
    output: Output,
) -> Result<usize, PipelineError> {
    let id = &ctx.take.take_id;
    let mut removed = 0;
    for key in store.list(&layout::runs(id)).await? {
        match layout::run_of(id, &key) {
            Some((run, Some(o))) if o == output && run != ctx.run => {
                store.delete(&key).await?;
                removed += 1;
            }
            _ => {}
        }
    }
    if removed > 0 {
        tracing::info!(
            take_id = %id,
            output = output.as_str(),
            removed,
            "removed objects of runs no record names"
        );
    }
    Ok(removed)
}

/// Reads what the report needs of a take: its records and failure records.
pub async fn take_state<S: ObjectStore>(
    store: &S,
    take_id: &str,
    captions_expected: bool,
    allow_noncompliant: bool,
) -> Result<TakeState, PipelineError> {
    let failure = |stage| async move {
        Ok::<_, PipelineError>(
            store
                .get_json::<FailureRecord>(&layout::failure(take_id, stage))
                .await?
                .map(|f| f.error),
        )
    };
    Ok(TakeState {
        probe: store
            .get_json::<ProbeRecord>(&layout::record(take_id, Record::Probe))
            .await?,
        probe_failed: failure(Stage::Probe).await?,
        transcode: store
            .get_json::<TranscodeRecord>(&layout::record(take_id, Record::Transcode))
            .await?,
        transcode_failed: failure(Stage::Transcode).await?,
        caption: store
            .get_json::<CaptionRun>(&layout::record(take_id, Record::Caption))
            .await?,
        caption_failed: failure(Stage::Caption).await?,
        captions_expected,
        allow_noncompliant,
    })
}

/// Whether the take is ready to report (see [`policy::readiness`]).
pub async fn report_readiness<S: ObjectStore>(
    store: &S,
    take: &TakeRef,
    captions_expected: bool,
    allow_noncompliant: bool,
) -> Result<(Readiness, TakeState), PipelineError> {
    let state = take_state(store, &take.take_id, captions_expected, allow_noncompliant).await?;
    Ok((policy::readiness(take, &state)?, state))
}

/// Checks each wanted object with a HEAD — there, of the recorded size and
/// ETag, of its extension's media type — and names it by its path below
/// the take's stable link.
pub async fn links<S: ObjectStore>(
    store: &S,
    take_id: &str,
    wanted: &[Wanted],
) -> Result<Vec<PublishedLink>, PipelineError> {
    let mut out = Vec::new();
    for want in wanted {
        let key = &want.object.key;
        let location = store.location(key);
        let path = layout::take_path(take_id, key)
            .ok_or_else(|| PipelineError::Differs {
                location: location.clone(),
                expected: format!("an object of take {take_id}"),
                found: key.clone(),
            })?
            .to_owned();
        let meta = store
            .head(key)
            .await?
            .ok_or_else(|| PipelineError::Missing {
                location: location.clone(),
            })?;
        if meta.size != want.object.size_bytes || meta.etag != want.object.etag {
            return Err(PipelineError::Differs {
                location,
                expected: format!(
                    "{} bytes, ETag {}",
                    want.object.size_bytes, want.object.etag
                ),
                found: format!("{} bytes, ETag {}", meta.size, meta.etag),
            });
        }
        let expected = content_type::for_key(key);
        let content_type = meta.content_type.clone().unwrap_or_default();
        if content_type != expected {
            return Err(PipelineError::Differs {
                location,
                expected: expected.to_string(),
                found: format!("{content_type:?}"),
            });
        }
        out.push(PublishedLink {
            name: want.name.clone(),
            key: key.clone(),
            download_name: want.download_name.clone(),
            size_bytes: meta.size,
            content_type,
            path,
        });
    }
    Ok(out)
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            collect_files(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(rel.join("/"));
        }
    }
    Ok(())
}
