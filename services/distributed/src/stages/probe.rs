//! The probe stage: the raw take against the spec, clause by clause.
//!
//! What follows is the pipeline's policy (`moocpipe_pipeline::policy::
//! after_probe`), the local runner's too. Spec passed (or
//! `allow_noncompliant`): a transcode job and, when captions are on, a
//! caption job, in parallel. Spec failed: a report job at once, so the
//! studio hears within minutes what to reshoot. A take that cannot be read
//! (corrupt, truncated, not a video) gets its record, then the job is
//! dead-lettered with the reason; the report hears of it through the
//! `take.probe.failed` event. A transient error (I/O, a time-out) is never
//! recorded: the job is retried.

use super::{event, next, replayed};
use crate::{blocking, remote, storage_error, Context};
use moocpipe_broker::{Job, JobError, Outgoing, Stage};
use moocpipe_pipeline::policy::{self, AfterProbe};
use moocpipe_proto::{ProbeRecord, TakeJob};
use moocpipe_storage::layout::{self, Record};
use moocpipe_storage::ObjectStore;
use std::sync::Arc;

pub async fn handle(ctx: Arc<Context>, job: Job) -> Result<Vec<Outgoing>, JobError> {
    let mut message: TakeJob = job.json()?;
    let take_id = message.take.take_id.clone();
    let key = layout::record(&take_id, Record::Probe);
    let stored = ctx
        .stores
        .media
        .get_json::<ProbeRecord>(&key)
        .await
        .map_err(storage_error)?;
    let record = match stored {
        Some(record) if policy::skip_recorded(true, replayed(&job)) => record,
        _ => {
            // Read by ranges as the demuxer asks: no copy, and the verdict
            // does not wait for a 50 GB download to finish first.
            let source = remote::source(&ctx, &message).await?;
            let file = message.take.key.clone();
            let options = ctx.settings.probe.clone();
            let progress = job.progress.clone();
            let record = blocking(&job.cancel, move |_| {
                moocpipe_probe::run_source(&file, &source, &options, &mut |f| progress.set(f))
            })
            .await?;
            if let AfterProbe::Retry { kind, message } =
                policy::after_probe(&record, ctx.settings.allow_noncompliant)
            {
                // Not the take's fault (I/O, a time-out): no record, retry;
                // unless the take changed under the read.
                return Err(super::stage_failure(kind, &message, None));
            }
            job.confirm_lease().await?;
            ctx.stores
                .media
                .put_json(&key, &record)
                .await
                .map_err(storage_error)?;
            ctx.metrics.probed(&record);
            record
        }
    };
    tracing::info!(take_id, verdict = %record.verdict, "probed");
    match policy::after_probe(&record, ctx.settings.allow_noncompliant) {
        AfterProbe::Retry { kind, message } => Err(super::stage_failure(kind, &message, None)),
        AfterProbe::Unreadable { why } => Err(JobError::Permanent(format!(
            "{}: {why}",
            message.take.source
        ))),
        AfterProbe::GoOn => proceed(&ctx, &mut message, &record),
        AfterProbe::Stop => Ok(vec![
            next(Stage::Report, &message)?,
            event(Stage::Probe, "spec_failed", &take_id, &record.verdict)?,
        ]),
    }
}

fn proceed(
    ctx: &Context,
    message: &mut TakeJob,
    record: &ProbeRecord,
) -> Result<Vec<Outgoing>, JobError> {
    message.captions = ctx.settings.caption.is_some();
    let mut out = vec![next(Stage::Transcode, message)?];
    if message.captions {
        out.push(next(Stage::Caption, message)?);
    }
    out.push(event(
        Stage::Probe,
        "passed",
        &message.take.take_id,
        &record.verdict,
    )?);
    Ok(out)
}
