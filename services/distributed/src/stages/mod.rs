//! One handler per stage: `handle(ctx, job) -> messages for the next stages`.
//! Each reads its record first and, when it exists, only sends its messages
//! again (idempotent by record); otherwise it reads the source by ranges,
//! runs the stage function on the blocking pool, uploads its outputs and
//! writes its record last.

pub mod caption;
pub mod probe;
pub mod report;
pub mod transcode;

use crate::{storage_error, Context};
use moocpipe_broker::{JobError, Outgoing, Stage};
use moocpipe_proto::TakeJob;
use moocpipe_storage::{content_type, ObjectStore};
use std::path::Path;

/// A job for `stage` about the same take.
pub(crate) fn next(stage: Stage, job: &TakeJob) -> Result<Outgoing, JobError> {
    Outgoing::job(stage, job.take.take_id.clone(), job)
        .map_err(|e| JobError::Transient(format!("encoding a {stage} job: {e}")))
}

/// An event `take.<stage>.<outcome>` about the take.
pub(crate) fn event<T: serde::Serialize>(
    stage: Stage,
    outcome: &str,
    take_id: &str,
    body: &T,
) -> Result<Outgoing, JobError> {
    Outgoing::event(stage, outcome, take_id.to_owned(), body)
        .map_err(|e| JobError::Transient(format!("encoding a {stage} event: {e}")))
}

/// Uploads every file below `dir` to `<prefix>/<path below dir>`, with the
/// media type of its extension. Returns the bytes written.
pub(crate) async fn upload_dir(ctx: &Context, dir: &Path, prefix: &str) -> Result<u64, JobError> {
    let mut files = Vec::new();
    collect_files(dir, dir, &mut files)
        .map_err(|e| JobError::Transient(format!("{}: {e}", dir.display())))?;
    files.sort();
    let mut total = 0;
    for rel in files {
        let key = format!("{prefix}/{rel}");
        let path = dir.join(&rel);
        ctx.stores
            .media
            .put_file(&key, &path, content_type::for_key(&key))
            .await
            .map_err(storage_error)?;
        let size = std::fs::metadata(&path).map_or(0, |m| m.len());
        ctx.metrics.written(size);
        total += size;
    }
    Ok(total)
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
