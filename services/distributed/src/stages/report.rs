//! The report stage: once everything a take waits for is recorded, checks
//! every published object with a HEAD, issues the take's stable link (its
//! page and every file below it; the server redirects each request to a
//! freshly presigned URL), tells the author once (and the studio, on a
//! spec failure), and rebuilds the course's segment-length report.
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
use crate::{catalog_error, storage_error, Context};
use moocpipe_broker::{Job, JobError, Outgoing, Stage};
use moocpipe_catalog::LinkScope;
use moocpipe_notify::{Notice, Notifier};
use moocpipe_pipeline::{policy, sequencer, Readiness};
use moocpipe_proto::{
    NoticeRecord, ProbeRecord, PublishedRecord, StableLinkRecord, TakeJob, TakeRef, TakeVerdict,
};
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
    record.links = sequencer::links(media, &take_id, &ready.wanted)
        .await
        .map_err(pipeline_error)?;
    // The take's stable link: the same one on a retry (its token is
    // computed from the take), so a resent notice carries the same links.
    let link = match &ctx.links {
        Some(links) => {
            let issued = links
                .catalog
                .issue_link(
                    &links.settings.key,
                    &LinkScope::Take {
                        take_id: take_id.clone(),
                    },
                    &take.course,
                    links.settings.ttl,
                )
                .await
                .map_err(catalog_error)?;
            record.link = Some(StableLinkRecord {
                link_id: issued.link.link_id.clone(),
                expires_at: rfc3339_ms(issued.link.expires_ms),
            });
            Some(links.settings.url(&issued.token))
        }
        None => None,
    };

    let text = policy::notice(&take, &record, state.caption.as_ref(), link.as_deref());
    // The studio hears of every take that failed the spec or could not be
    // checked, with what to change, as the author does.
    let cc = if record.spec == TakeVerdict::Pass {
        Vec::new()
    } else {
        ctx.settings.notify.studio.clone()
    };
    let notice = Notice {
        take_id: take.take_id.clone(),
        to: take.sidecar.author_email.clone(),
        cc,
        subject: text.subject,
        text: text.text,
        payload: payload(&record, link.as_deref()),
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

/// The webhook's body: the published record, with the take's page
/// (`page`) and each file's link (`links[].url`) when there is a link.
fn payload(record: &PublishedRecord, link: Option<&str>) -> serde_json::Value {
    let mut value = serde_json::to_value(record).unwrap_or(serde_json::Value::Null);
    if let (Some(link), Some(object)) = (link, value.as_object_mut()) {
        object.insert("page".into(), link.into());
        if let Some(files) = object.get_mut("links").and_then(|l| l.as_array_mut()) {
            for file in files.iter_mut().filter_map(|f| f.as_object_mut()) {
                let path = file.get("path").and_then(|p| p.as_str()).unwrap_or("");
                let url = format!("{link}/{path}");
                file.insert("url".into(), url.into());
            }
        }
    }
    value
}

/// Milliseconds since the epoch as RFC 3339 (UTC, seconds).
fn rfc3339_ms(ms: i64) -> String {
    let at =
        SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_seconds(at).to_string()
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
