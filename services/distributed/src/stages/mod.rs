//! One handler per stage: `handle(ctx, job) -> messages for the next stages`.
//! The policy (what to skip, whether to go on, what a failure records, the
//! output names, when a take is ready) and the store side (run prefixes,
//! records naming their objects, other runs removed, checked links) are the
//! local runner's too, from `moocpipe-pipeline`; a handler adds the broker
//! glue: decoding the job, reading the source by ranges, running the stage
//! on the blocking pool, confirming its lease before the record, and the
//! messages for the next stages.

pub mod caption;
pub mod probe;
pub mod report;
pub mod transcode;

use crate::{storage_error, Context};
use moocpipe_broker::{Job, JobError, Outgoing, Stage};
use moocpipe_pipeline::{PipelineError, RunContext};
use moocpipe_proto::{StoredObject, TakeJob};
use moocpipe_storage::layout::Output;
use std::path::Path;

/// A stage function's failure as a job failure: a take replaced while it
/// was read is permanent (the new upload is another take), a full work
/// folder is named, the rest goes by its kind.
pub(crate) fn stage_failure(
    kind: moocpipe_proto::ErrorKind,
    message: impl std::fmt::Display,
    scratch: Option<&crate::scratch::Scratch>,
) -> JobError {
    let message = message.to_string();
    if crate::remote::is_changed(&message) {
        return JobError::Permanent(message);
    }
    if let Some(full) = scratch.and_then(|s| s.full_disk(&message)) {
        return full;
    }
    JobError::from_kind(kind, message)
}

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

/// A failure of the store side as a job failure: retried when trying again
/// may help, dead-lettered with its words otherwise.
pub(crate) fn pipeline_error(error: PipelineError) -> JobError {
    match error {
        PipelineError::Storage(e) => storage_error(e),
        e if e.is_transient() => JobError::Transient(e.to_string()),
        e => JobError::Permanent(e.to_string()),
    }
}

/// Whether this job was replayed from the dead-letter queue (`dlq replay`):
/// a replayed stage runs again although its record exists (the replay
/// header is carried into the job's retries).
pub(crate) fn replayed(job: &Job) -> bool {
    job.headers.replay
}

/// Uploads every file below `dir` under the run's prefix and describes each
/// (size and ETag from a HEAD), counting the bytes written.
pub(crate) async fn upload_run(
    ctx: &Context,
    run: RunContext<'_>,
    output: Output,
    dir: &Path,
) -> Result<Vec<StoredObject>, JobError> {
    let objects = moocpipe_pipeline::sequencer::store_run(&ctx.stores.media, run, output, dir)
        .await
        .map_err(pipeline_error)?;
    for object in &objects {
        ctx.metrics.written(object.size_bytes);
    }
    Ok(objects)
}

/// After the record naming `run` is written: removes the take's other runs
/// of `output` (earlier attempts, orphans of one that lost its lease). A
/// failure here only leaves garbage the next write removes.
pub(crate) async fn remove_other_runs(ctx: &Context, run: RunContext<'_>, output: Output) {
    if let Err(error) =
        moocpipe_pipeline::sequencer::remove_other_runs(&ctx.stores.media, run, output).await
    {
        tracing::warn!(take_id = %run.take.take_id, %error, "other runs not removed yet");
    }
}
