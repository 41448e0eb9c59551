//! The report stage: once everything a take waits for is recorded, checks
//! every published object with a HEAD, issues presigned download links,
//! tells the author once, and rebuilds the course's segment-length report.
//!
//! It is triggered by a report job (after the probe when the spec failed,
//! after the transcode, after the captions) and by `take.<stage>.failed`
//! events (a dead-lettered take). A trigger that finds the take not ready
//! yet does nothing: the last stage to finish triggers it again.
//!
//! **Once per take version.** `published.json` is written after the notice
//! went out, and a take with that record is never noticed again. Two
//! triggers for one take share a lease (the worker loop defers the second
//! until the first is done), so they do not race. A worker that dies
//! between sending and recording sends again on the retry: the e-mail's
//! `Message-ID` and the webhook's `Idempotency-Key` are the take id, so a
//! receiver can tell. No correctness rests on conditional writes.

use super::{event, pipeline_error};
use crate::{storage_error, Context};
use moocpipe_broker::{Job, JobError, Outgoing, Stage};
use moocpipe_notify::{Notice, Notifier};
use moocpipe_pipeline::{policy, sequencer, Readiness};
use moocpipe_proto::{NoticeRecord, ProbeRecord, TakeJob, TakeRef};
use moocpipe_storage::layout::{self, Record};
use moocpipe_storage::{content_type, ObjectStore};
use std::sync::Arc;
use std::time::SystemTime;

/// The body of a `take.<stage>.failed` event, kept as the take's failure
/// record (see `moocpipe-pipeline`).
pub use moocpipe_pipeline::FailureRecord as FailedEvent;

/// `takes/<id>/records/failed-<stage>.json`
pub fn failure_key(take_id: &str, stage: Stage) -> String {
    layout::failure(take_id, stage)
}

/// `courses/<course>/takes/<take-id>.json`: the course's index of takes,
/// written by ingest, read here for the segment-length report.
pub fn course_index_key(course: &str, take_id: &str) -> String {
    layout::course_index(course, take_id)
}

pub async fn handle(ctx: Arc<Context>, job: Job) -> Result<Vec<Outgoing>, JobError> {
    let take_id = job.take_id().to_owned();
    let media = &ctx.stores.media;
    let captions_expected = match serde_json::from_slice::<TakeJob>(&job.body) {
        Ok(trigger) => trigger.captions,
        Err(_) => {
            let failed: FailedEvent = job.json()?;
            media
                .put_json(&failure_key(&take_id, failed.stage), &failed)
                .await
                .map_err(storage_error)?;
            ctx.settings.caption.is_some()
        }
    };
    if media
        .head(&layout::record(&take_id, Record::Published))
        .await
        .map_err(storage_error)?
        .is_some()
    {
        tracing::info!(take_id, "already published and noticed");
        return Ok(Vec::new());
    }
    let Some(take) = media
        .get_json::<TakeRef>(&layout::record(&take_id, Record::Ingest))
        .await
        .map_err(storage_error)?
    else {
        return Err(JobError::Permanent(format!(
            "take {take_id}: no ingest record"
        )));
    };
    let (readiness, state) = sequencer::report_readiness(
        media,
        &take,
        captions_expected,
        ctx.settings.allow_noncompliant,
    )
    .await
    .map_err(pipeline_error)?;
    let Readiness::Ready(ready) = readiness else {
        tracing::info!(take_id, "not ready to report yet");
        return Ok(Vec::new());
    };
    let mut record = ready.record;
    // Exactly what the records name, each checked by a HEAD against its
    // recorded size and checksum (an empty SRT recorded as empty is fine).
    record.links = sequencer::links(media, &ready.wanted, ctx.settings.link_expiry)
        .await
        .map_err(pipeline_error)?;

    let text = policy::notice(&take, &record, state.caption.as_ref());
    let notice = Notice {
        take_id: take.take_id.clone(),
        to: take.sidecar.author_email.clone(),
        subject: text.subject,
        text: text.text,
        payload: serde_json::to_value(&record).unwrap_or(serde_json::Value::Null),
    };
    let notifier = Notifier::new(ctx.settings.notify.clone())
        .map_err(|e| JobError::Permanent(format!("notification settings: {e}")))?;
    let deliveries = notifier.send_each(&notice).await;
    ctx.metrics.notices(&deliveries);
    let sent = deliveries.result().map_err(|e| {
        if e.is_transient() {
            JobError::Transient(format!("telling the author of {take_id}: {e}"))
        } else {
            JobError::Permanent(format!("telling the author of {take_id}: {e}"))
        }
    })?;
    record.notice = Some(NoticeRecord {
        sent_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        email: sent
            .email
            .then(|| take.sidecar.author_email.clone())
            .flatten(),
        webhook: sent.webhook,
    });
    media
        .put_json(&layout::record(&take_id, Record::Published), &record)
        .await
        .map_err(storage_error)?;
    // Upload → notice, from the raw take's Last-Modified (best effort).
    let uploaded = ctx.stores.raw.head(&take.key).await.ok().flatten();
    ctx.metrics
        .noticed(&record, uploaded.and_then(|meta| meta.modified));
    update_course_report(&ctx, &take.course).await?;
    tracing::info!(take_id, links = record.links.len(), "published and noticed");
    Ok(vec![event(Stage::Report, "published", &take_id, &record)?])
}

/// Rebuilds `courses/<course>/reports/segments.{json,csv,html}` over the
/// course's current takes: per key, the take whose raw object is still the
/// same upload.
async fn update_course_report(ctx: &Context, course: &str) -> Result<(), JobError> {
    let media = &ctx.stores.media;
    let mut takes = Vec::new();
    for key in media
        .list(&layout::course_takes(course))
        .await
        .map_err(storage_error)?
    {
        let Some(take) = media
            .get_json::<TakeRef>(&key)
            .await
            .map_err(storage_error)?
        else {
            continue;
        };
        let current = ctx
            .stores
            .raw
            .head(&take.key)
            .await
            .map_err(storage_error)?
            .is_some_and(|meta| {
                moocpipe_ingest::take_id(ctx.stores.raw.bucket(), &take.key, &meta.etag)
                    == take.take_id
            });
        if !current {
            continue;
        }
        let probe = media
            .get_json::<ProbeRecord>(&layout::record(&take.take_id, Record::Probe))
            .await
            .map_err(storage_error)?;
        takes.push((take, probe));
    }
    let report = moocpipe_report::build(course, &takes, &ctx.settings.course_rules);
    for (ext, text) in moocpipe_report::render_all(&report) {
        let key = layout::segment_report(course, ext);
        let bytes = text.into_bytes();
        ctx.metrics.written(bytes.len() as u64);
        media
            .put_bytes(&key, bytes, content_type::for_key(&key))
            .await
            .map_err(storage_error)?;
    }
    Ok(())
}
