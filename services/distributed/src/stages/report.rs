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

use super::caption::captions_prefix;
use super::event;
use crate::{storage_error, Context};
use moocpipe_broker::{Job, JobError, Outgoing, Stage};
use moocpipe_notify::{Notice, Notifier};
use moocpipe_proto::{
    NoticeRecord, ProbeRecord, PublishedLink, PublishedRecord, TakeJob, TakeRef, TakeVerdict,
    TranscodeRecord, Verdict, SCHEMA_VERSION,
};
use moocpipe_storage::layout::{self, Stage as Record};
use moocpipe_storage::{content_type, ObjectStore, S3Store};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::SystemTime;

/// The body of a `take.<stage>.failed` event (see `moocpipe-broker`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailedEvent {
    pub take_id: String,
    pub stage: Stage,
    pub kind: String,
    pub error: String,
    #[serde(default)]
    pub attempts: u32,
}

/// `takes/<id>/records/failed-<stage>.json`: a dead-lettered stage of a
/// take, as the report stage heard of it.
pub fn failure_key(take_id: &str, stage: Stage) -> String {
    format!(
        "{}/records/failed-{}.json",
        layout::take_dir(take_id),
        stage.as_str()
    )
}

/// `courses/<course>/takes/<take-id>.json`: the course's index of takes,
/// written by ingest, read here for the segment-length report.
pub fn course_index_key(course: &str, take_id: &str) -> String {
    format!("courses/{course}/takes/{take_id}.json")
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
    let Some(mut record) = ready(&ctx, &take, captions_expected).await? else {
        tracing::info!(take_id, "not ready to report yet");
        return Ok(Vec::new());
    };

    let notice = notice_of(&take, &record);
    let notifier = Notifier::new(ctx.settings.notify.clone())
        .map_err(|e| JobError::Permanent(format!("notification settings: {e}")))?;
    let sent = notifier.send(&notice).await.map_err(|e| {
        if e.is_transient() {
            JobError::Transient(format!("telling the author of {take_id}: {e}"))
        } else {
            JobError::Permanent(format!("telling the author of {take_id}: {e}"))
        }
    })?;
    record.notice = Some(NoticeRecord {
        sent_at: now_rfc3339(),
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
    update_course_report(&ctx, &take.course).await?;
    tracing::info!(take_id, links = record.links.len(), "published and noticed");
    Ok(vec![event(Stage::Report, "published", &take_id, &record)?])
}

/// The take's published record (without its notice) when everything it
/// waits for is recorded; `None` while something is still running.
async fn ready(
    ctx: &Context,
    take: &TakeRef,
    captions_expected: bool,
) -> Result<Option<PublishedRecord>, JobError> {
    let media = &ctx.stores.media;
    let id = &take.take_id;
    let get_failure = |stage| async move {
        media
            .get_json::<FailedEvent>(&failure_key(id, stage))
            .await
            .map_err(storage_error)
    };
    let mut record = PublishedRecord {
        schema_version: SCHEMA_VERSION,
        take_id: id.clone(),
        key: take.key.clone(),
        title: take.title.clone(),
        spec: TakeVerdict::Error,
        transcode: None,
        failures: Vec::new(),
        links: Vec::new(),
        captions_missing: None,
        notice: None,
    };
    let probe = media
        .get_json::<ProbeRecord>(&layout::record(id, Record::Probe))
        .await
        .map_err(storage_error)?;
    let Some(probe) = probe else {
        // A probe that died before writing its record.
        return Ok(get_failure(Stage::Probe).await?.map(|failed| {
            record
                .failures
                .push(format!("the take could not be checked: {}", failed.error));
            record
        }));
    };
    record.spec = probe.verdict;
    record.failures = probe
        .rules
        .iter()
        .filter(|r| r.verdict != Verdict::Pass)
        .map(|r| {
            format!(
                "{} (clause {}): measured {}, required {}",
                r.id.as_str(),
                r.clause,
                r.measured,
                r.required
            )
        })
        .collect();
    if let Some(error) = &probe.error {
        record.failures.push(format!(
            "the take could not be checked: {}: {}",
            error.kind, error.message
        ));
        return Ok(Some(record));
    }
    if probe.verdict != TakeVerdict::Pass && !ctx.settings.allow_noncompliant {
        return Ok(Some(record));
    }

    let transcode = media
        .get_json::<TranscodeRecord>(&layout::record(id, Record::Transcode))
        .await
        .map_err(storage_error)?;
    let Some(transcode) = transcode else {
        return Ok(get_failure(Stage::Transcode).await?.map(|failed| {
            record.failures.push(format!(
                "the renditions could not be made: {}",
                failed.error
            ));
            record
        }));
    };
    let caption_done = media
        .head(&layout::record(id, Record::Caption))
        .await
        .map_err(storage_error)?
        .is_some();
    if captions_expected && !caption_done {
        match get_failure(Stage::Caption).await? {
            Some(failed) => record.captions_missing = Some(failed.error),
            None => return Ok(None),
        }
    } else if !captions_expected {
        record.captions_missing = Some("captions are turned off".into());
    }

    record.transcode = Some(transcode.verdict);
    if let Some(error) = &transcode.error {
        record.failures.push(format!(
            "the renditions could not be made: {}: {}",
            error.kind, error.message
        ));
    }
    for rendition in &transcode.renditions {
        for rule in rendition
            .rules
            .iter()
            .filter(|r| r.verdict != Verdict::Pass)
        {
            record.failures.push(format!(
                "{} {}: measured {}",
                rendition.name,
                rule.id.as_str(),
                rule.measured
            ));
        }
    }
    if transcode.verdict == TakeVerdict::Pass {
        let dir = layout::take_dir(id);
        let mut wanted: Vec<(String, String, String)> = transcode
            .renditions
            .iter()
            .map(|r| {
                (
                    r.name.clone(),
                    format!("{dir}/{}", r.file),
                    r.download_name.clone(),
                )
            })
            .collect();
        if let Some(poster) = &transcode.poster {
            let name = poster.rsplit('/').next().unwrap_or(poster).to_string();
            wanted.push(("poster".into(), format!("{dir}/{poster}"), name));
        }
        if caption_done {
            for key in media
                .list(&format!("{}/", captions_prefix(id)))
                .await
                .map_err(storage_error)?
            {
                let name = key.rsplit('/').next().unwrap_or(&key).to_string();
                let what = name.rsplit('.').next().unwrap_or("captions");
                wanted.push((format!("captions.{what}"), key.clone(), name));
            }
        }
        for (name, key, download_name) in wanted {
            record
                .links
                .push(link(media, &ctx.settings, name, key, download_name).await?);
        }
    }
    Ok(Some(record))
}

/// Checks one published object with a HEAD and presigns it.
async fn link(
    media: &S3Store,
    settings: &crate::Settings,
    name: String,
    key: String,
    download_name: String,
) -> Result<PublishedLink, JobError> {
    let meta = media
        .head(&key)
        .await
        .map_err(storage_error)?
        .ok_or_else(|| {
            JobError::Transient(format!(
                "{}: recorded as published but not there",
                media.location(&key)
            ))
        })?;
    let expected = content_type::for_key(&key);
    let content_type = meta.content_type.clone().unwrap_or_default();
    if meta.size == 0 || content_type != expected {
        return Err(JobError::Transient(format!(
            "{}: {} bytes of {content_type:?}, expected a non-empty {expected}",
            media.location(&key),
            meta.size
        )));
    }
    let url = media
        .presign_get(&key, settings.link_expiry)
        .await
        .map_err(storage_error)?;
    Ok(PublishedLink {
        name,
        key,
        download_name,
        size_bytes: meta.size,
        content_type,
        url,
        expires_at: humantime::format_rfc3339_seconds(SystemTime::now() + settings.link_expiry)
            .to_string(),
    })
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// What the author reads: the verdict, what failed, the links.
fn notice_of(take: &TakeRef, record: &PublishedRecord) -> Notice {
    let ok = record.spec == TakeVerdict::Pass && record.transcode == Some(TakeVerdict::Pass);
    let subject = if ok {
        format!("[moocpipe] {} is ready: {}", take.course, take.title)
    } else {
        format!("[moocpipe] {} needs attention: {}", take.course, take.title)
    };
    let mut text = format!(
        "Take: {}\nCourse: {}\nTitle: {}\n\n",
        take.key, take.course, take.title
    );
    text.push_str(&format!("Raw-footage spec: {}\n", record.spec));
    if let Some(transcode) = record.transcode {
        text.push_str(&format!("Renditions: {transcode}\n"));
    }
    if !record.failures.is_empty() {
        text.push_str("\nWhat failed:\n");
        for failure in &record.failures {
            text.push_str(&format!("  - {failure}\n"));
        }
    }
    if let Some(why) = &record.captions_missing {
        text.push_str(&format!("\nNo captions: {why}\n"));
    }
    if !record.links.is_empty() {
        text.push_str("\nDownloads:\n");
        for link in &record.links {
            text.push_str(&format!(
                "  {} ({} bytes, until {}):\n    {}\n",
                link.download_name, link.size_bytes, link.expires_at, link.url
            ));
        }
    }
    Notice {
        take_id: take.take_id.clone(),
        to: take.sidecar.author_email.clone(),
        subject,
        text,
        payload: serde_json::to_value(record).unwrap_or(serde_json::Value::Null),
    }
}

/// Rebuilds `courses/<course>/reports/segments.{json,csv,html}` over the
/// course's current takes: per key, the take whose raw object is still the
/// same upload.
async fn update_course_report(ctx: &Context, course: &str) -> Result<(), JobError> {
    let media = &ctx.stores.media;
    let mut takes = Vec::new();
    for key in media
        .list(&format!("courses/{course}/takes/"))
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
