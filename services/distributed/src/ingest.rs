//! Ingest: raw objects become takes.
//!
//! Three ways lead here, all ending as an [`IngestJob`] on the ingest queue:
//! `moocpipe submit s3://bucket/key` ([`submit`]), the periodic scan of the
//! raw bucket ([`scan_once`]; it works on every S3, Garage included, which
//! has no bucket notifications) and S3 event messages ([`crate::events`]).
//! The ingest handler ([`handle`]) HEADs the object, reads its sidecar,
//! places it in its course, and — unless the take (bucket, key, ETag) is
//! ingested already — records it and sends the probe job. Ingest jobs for
//! one object share a lease (their `take_id` header is
//! [`ingest_key_id`] of bucket and key), so the same upload seen three ways
//! is ingested once.
//!
//! **Course materials** (every other file of a course folder: a syllabus,
//! slides, images, archives — `moocpipe_ingest::material_object`) come the
//! same three ways and are published by the ingest job itself
//! ([`publish_material`]): checked by their first 8 KiB (a ranged GET),
//! then streamed from the raw bucket into the media bucket (a GET pinned
//! to the ETag, multipart parts of 16 MiB, two in flight: never the whole
//! file in memory) and recorded last. Inline rather than a stage of their
//! own: a copy is I/O without GStreamer or scratch disk, it gets the
//! ingest job's lease (renewed while a large copy runs), retries and dead
//! letters for free, and a queue, a worker kind and a deployment for a few
//! seconds of work would not pay. The scan itself never copies, so a large
//! material never holds up a pass.

use crate::stages::report::course_index_key;
use crate::stages::{pipeline_error, replayed};
use crate::{storage_error, Context};
use futures_util::stream::{self, StreamExt};
use moocpipe_broker::{BrokerError, Job, JobError, Outgoing, Publisher, Stage, Topology};
use moocpipe_ingest::filetype::HEAD_BYTES;
use moocpipe_ingest::{
    has_take_extension, ingest_key_id, material_object, place_object, RawObject,
};
use moocpipe_pipeline::materials::{self, MaterialSource};
use moocpipe_pipeline::PipelineError;
use moocpipe_proto::{IngestJob, IngestVia, MaterialRecord, TakeJob, MATERIAL_EVENT};
use moocpipe_storage::layout::{self, Stage as Record};
use moocpipe_storage::{ObjectStore, StorageError};
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::path::Path;
use std::sync::Arc;

/// The ingest job for an object, addressed to the ingest queue.
pub fn job_for(
    bucket: &str,
    key: &str,
    etag: Option<String>,
    via: IngestVia,
) -> Result<Outgoing, BrokerError> {
    let job = IngestJob {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        etag,
        via,
    };
    Outgoing::job(Stage::Ingest, ingest_key_id(bucket, key), &job)
}

pub async fn handle(ctx: Arc<Context>, job: Job) -> Result<Vec<Outgoing>, JobError> {
    let message: IngestJob = job.json()?;
    let raw = &ctx.stores.raw;
    let location = format!("s3://{}/{}", message.bucket, message.key);
    if message.bucket != raw.bucket() {
        return Err(JobError::Permanent(format!(
            "{location}: not in the raw bucket ({}) this pipeline reads",
            raw.bucket()
        )));
    }
    if !has_take_extension(Path::new(&message.key)) {
        if let Some((course, path)) = material_object(&message.key) {
            return publish_material(&ctx, &job, &message, course, path).await;
        }
        // Sidecars, caption files, hidden files: found by the scan and by
        // events, neither takes nor materials. Asked for by name, it is
        // the sender's mistake.
        return match message.via {
            IngestVia::Submit => Err(JobError::Permanent(format!(
                "{location}: neither a take (a file ending in {}) nor a course material \
                 (any other file in a course folder but sidecars, captions and hidden files)",
                moocpipe_ingest::TAKE_EXTENSIONS.join(", ")
            ))),
            IngestVia::Scan | IngestVia::Event => Ok(Vec::new()),
        };
    }
    let meta = raw
        .head(&message.key)
        .await
        .map_err(storage_error)?
        .ok_or_else(|| JobError::Permanent(format!("{location}: no such object")))?;
    let object = RawObject {
        bucket: &message.bucket,
        key: &message.key,
        etag: &meta.etag,
        size_bytes: meta.size,
    };
    let sidecar = match object.sidecar_key() {
        Some(key) => match raw.get_bytes(&key).await {
            Ok(bytes) => Some(bytes),
            Err(StorageError::NotFound { .. }) => None,
            Err(e) => return Err(storage_error(e)),
        },
        None => None,
    };
    let take =
        place_object(object, sidecar.as_deref()).map_err(|e| JobError::Permanent(e.to_string()))?;
    let media = &ctx.stores.media;
    let record_key = layout::record(&take.take_id, Record::Ingest);
    let known = media
        .head(&record_key)
        .await
        .map_err(storage_error)?
        .is_some();
    // A first delivery of a known take is a duplicate (the same upload seen
    // another way). A retry is not: the attempt before may have recorded
    // the take and died before its probe job was confirmed.
    if known && job.attempt() == 0 {
        tracing::info!(take_id = %take.take_id, %location, via = ?message.via, "already ingested");
        return Ok(Vec::new());
    }
    media
        .put_json(&record_key, &take)
        .await
        .map_err(storage_error)?;
    media
        .put_json(&course_index_key(&take.course, &take.take_id), &take)
        .await
        .map_err(storage_error)?;
    tracing::info!(take_id = %take.take_id, %location, via = ?message.via, "ingested");
    let probe = TakeJob {
        take,
        etag: meta.etag,
        captions: false,
    };
    let take_id = probe.take.take_id.clone();
    Ok(vec![
        Outgoing::job(Stage::Probe, take_id.clone(), &probe)
            .map_err(|e| JobError::Transient(e.to_string()))?,
        Outgoing::event(Stage::Ingest, "ingested", take_id, &probe.take)
            .map_err(|e| JobError::Transient(e.to_string()))?,
    ])
}

/// Checks a course material of the raw bucket and publishes it into the
/// media bucket (`moocpipe-pipeline`'s `materials::publish`, as `process`
/// does): the first [`HEAD_BYTES`] by a ranged GET, the copy streamed,
/// both pinned to the ETag the HEAD gave. Its record, new or found, goes
/// out as a `take.ingest.material` event for the catalog. An object
/// replaced while it is read is left to its new version's own job.
async fn publish_material(
    ctx: &Context,
    job: &Job,
    message: &IngestJob,
    course: &str,
    path: &str,
) -> Result<Vec<Outgoing>, JobError> {
    let (raw, media) = (&ctx.stores.raw, &ctx.stores.media);
    let key = message.key.as_str();
    let location = raw.location(key);
    let meta = raw
        .head(key)
        .await
        .map_err(storage_error)?
        .ok_or_else(|| JobError::Permanent(format!("{location}: no such object")))?;
    let source = MaterialSource {
        course,
        path,
        location: &location,
        version: &meta.etag,
        size_bytes: meta.size,
    };
    let etag = meta.etag.as_str();
    let read_head = async {
        let head = raw.get_range_if_match(key, 0, HEAD_BYTES, etag).await?;
        ctx.metrics.read(head.len() as u64);
        Ok(head)
    };
    let copy = |target: String, content_type: String| async move {
        let reader = raw.read_object(key, Some(etag)).await?;
        media
            .put_reader(&target, reader, meta.size, &content_type)
            .await?;
        ctx.metrics.read(meta.size);
        ctx.metrics.written(meta.size);
        Ok(())
    };
    let published = match materials::publish(media, source, read_head, copy, replayed(job)).await {
        Ok(published) => published,
        Err(PipelineError::Storage(moocpipe_storage::StorageError::Changed { .. })) => {
            tracing::info!(%location, "the material changed while it was read; its new version is ingested on its own");
            return Ok(Vec::new());
        }
        Err(e) => return Err(pipeline_error(e)),
    };
    let record: &MaterialRecord = &published.record;
    ctx.metrics.material(if published.reused {
        "unchanged"
    } else {
        record.verdict.as_str()
    });
    match &record.error {
        Some(error) => tracing::info!(%location, error = %error.message, "material not published"),
        None if !published.reused => tracing::info!(%location, "material published"),
        None => tracing::debug!(%location, "material recorded earlier"),
    }
    let event = Outgoing::event(
        Stage::Ingest,
        MATERIAL_EVENT,
        ingest_key_id(&message.bucket, key),
        record,
    )
    .map_err(|e| JobError::Transient(e.to_string()))?;
    Ok(vec![event])
}

/// Entries [`scan_once`]'s memory of seen takes keeps at most (about
/// 200 bytes each: 100 MB); takes past it cost one HEAD per pass.
pub const MAX_SEEN: usize = 500_000;

/// HEADs of ingest records in flight at once during a pass.
const CONCURRENT_CHECKS: usize = 16;

/// One pass of the scan: every take-like object of the raw bucket whose
/// take (bucket, key, ETag) has no ingest record yet, and every course
/// material whose record is not of its ETag, gets an ingest job.
/// Returns the number of jobs sent. See [`scan_pass`].
pub async fn scan_once(
    ctx: &Context,
    publisher: &Publisher,
    topology: &Topology,
    seen: &mut HashMap<String, String>,
) -> Result<usize, ScanError> {
    let raw = &ctx.stores.raw;
    let stats = scan_pass(
        raw,
        raw.bucket(),
        &ctx.stores.media,
        seen,
        |job| async move { publisher.send(topology, &job).await },
    )
    .await?;
    tracing::debug!(?stats, "scan pass");
    Ok(stats.sent)
}

/// What one pass of the scan did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScanStats {
    /// Listing requests (pages of up to 1,000 objects).
    pub pages: usize,
    /// Objects listed, takes or not.
    pub listed: usize,
    /// Take-like objects among them.
    pub takes: usize,
    /// Course materials among them.
    pub materials: usize,
    /// Records looked up (a HEAD of an ingest record, a GET of a material
    /// record): takes and materials not already remembered with the same
    /// ETag.
    pub checked: usize,
    /// Ingest jobs sent.
    pub sent: usize,
}

/// One pass over the raw bucket `raw` (named `bucket`), page by page so
/// memory holds one page of the listing however many objects the bucket
/// has. The listing gives every object's ETag, so the take id of each is
/// known without a HEAD of the raw object; `seen` remembers (key → ETag)
/// of takes already ingested or sent, so a take unchanged since the last
/// pass costs nothing but its line in the listing. Other takes cost one
/// HEAD of their ingest record in the media bucket; those without one are
/// handed to `send` as ingest jobs. A take uploaded again (same key, new
/// ETag) is a new take. Keys gone from the bucket are forgotten after a
/// complete pass; `seen` holds at most [`MAX_SEEN`] entries.
pub async fn scan_pass<R, M, F, Fut>(
    raw: &R,
    bucket: &str,
    media: &M,
    seen: &mut HashMap<String, String>,
    mut send: F,
) -> Result<ScanStats, ScanError>
where
    R: ObjectStore,
    M: ObjectStore,
    F: FnMut(Outgoing) -> Fut,
    Fut: std::future::Future<Output = Result<(), BrokerError>>,
{
    let mut stats = ScanStats::default();
    // The take keys of this pass, as hashes (8 bytes each), to forget the
    // ones that are gone once the whole listing has been read.
    let hashes = RandomState::new();
    let mut listed = HashSet::new();
    let mut continuation = None;
    loop {
        let page = raw.list_page("", continuation.take()).await?;
        stats.pages += 1;
        stats.listed += page.objects.len();
        let mut unknown = Vec::new();
        for object in page.objects {
            if let Some(course) = course_info_of(&object.key) {
                listed.insert(hashes.hash_one(&object.key));
                if seen.get(&object.key) != Some(&object.etag) {
                    copy_course_info(raw, media, &object.key, course).await?;
                    seen.insert(object.key.clone(), object.etag.clone());
                }
                continue;
            }
            if has_take_extension(Path::new(&object.key)) {
                stats.takes += 1;
            } else if material_object(&object.key).is_some() {
                stats.materials += 1;
            } else {
                continue;
            }
            listed.insert(hashes.hash_one(&object.key));
            if seen.get(&object.key) != Some(&object.etag) {
                unknown.push(object);
            }
        }
        stats.checked += unknown.len();
        let checked: Vec<_> = stream::iter(unknown)
            .map(|object| async move {
                let known = match material_object(&object.key) {
                    Some((course, path)) if !has_take_extension(Path::new(&object.key)) => {
                        material_recorded(media, course, path, &object.etag).await
                    }
                    _ => {
                        let take_id = moocpipe_ingest::take_id(bucket, &object.key, &object.etag);
                        media
                            .head(&layout::record(&take_id, Record::Ingest))
                            .await
                            .map(|meta| meta.is_some())
                    }
                };
                (object, known)
            })
            .buffer_unordered(CONCURRENT_CHECKS)
            .collect()
            .await;
        for (object, known) in checked {
            if !known? {
                let job = job_for(
                    bucket,
                    &object.key,
                    Some(object.etag.clone()),
                    IngestVia::Scan,
                )?;
                send(job).await?;
                tracing::info!(key = %object.key, "new raw take or material found by the scan");
                stats.sent += 1;
            }
            if seen.len() < MAX_SEEN || seen.contains_key(&object.key) {
                seen.insert(object.key, object.etag);
            }
        }
        match page.next {
            Some(next) => continuation = Some(next),
            None => break,
        }
    }
    seen.retain(|key, _| listed.contains(&hashes.hash_one(key)));
    Ok(stats)
}

/// Whether a material's record is of this version (ETag) of its object.
async fn material_recorded<M: ObjectStore>(
    media: &M,
    course: &str,
    path: &str,
    etag: &str,
) -> Result<bool, StorageError> {
    match media
        .get_json::<MaterialRecord>(&materials::record_key(course, path))
        .await
    {
        Ok(record) => Ok(record.is_some_and(|r| r.source_version == etag)),
        // Made again by the ingest job.
        Err(StorageError::BadRecord { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The course whose `course.json` this key is (`<course>/course.json`).
fn course_info_of(key: &str) -> Option<&str> {
    match key.split_once('/') {
        Some((course, layout::COURSE_INFO_FILE)) if !course.is_empty() => Some(course),
        _ => None,
    }
}

/// Copies a course folder's `course.json` into the media bucket for the
/// dashboard; one that does not parse is logged and left out.
async fn copy_course_info<R: ObjectStore, M: ObjectStore>(
    raw: &R,
    media: &M,
    key: &str,
    course: &str,
) -> Result<(), StorageError> {
    let bytes = raw.get_bytes(key).await?;
    match serde_json::from_slice::<moocpipe_proto::CourseInfo>(&bytes) {
        Ok(info) => {
            media.put_json(&layout::course_info(course), &info).await?;
            tracing::info!(%course, "course.json copied for the dashboard");
        }
        Err(error) => {
            tracing::warn!(location = %raw.location(key), %error, "not a valid course.json; not copied");
        }
    }
    Ok(())
}

/// Why a scan pass stopped; the next pass tries again.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Broker(#[from] BrokerError),
}
