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

use crate::stages::report::course_index_key;
use crate::{storage_error, Context};
use moocpipe_broker::{BrokerError, Job, JobError, Outgoing, Publisher, Stage, Topology};
use moocpipe_ingest::{has_take_extension, ingest_key_id, place_object, RawObject};
use moocpipe_proto::{IngestJob, IngestVia, TakeJob};
use moocpipe_storage::layout::{self, Stage as Record};
use moocpipe_storage::{ObjectStore, StorageError};
use std::collections::HashMap;
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
        // Sidecars, caption files, notes: found by the scan and by events,
        // never takes. Asked for by name, it is the sender's mistake.
        return match message.via {
            IngestVia::Submit => Err(JobError::Permanent(format!(
                "{location}: not a take (expected a file ending in {})",
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

/// One pass of the scan: every take-like object of the raw bucket whose
/// take (bucket, key, ETag) has no ingest record yet gets an ingest job.
/// `seen` remembers (key → ETag) between passes so an unchanged bucket
/// costs one listing. Returns the number of jobs sent.
pub async fn scan_once(
    ctx: &Context,
    publisher: &Publisher,
    topology: &Topology,
    seen: &mut HashMap<String, String>,
) -> Result<usize, ScanError> {
    let raw = &ctx.stores.raw;
    let keys = raw.list("").await?;
    let mut sent = 0;
    for key in keys {
        if !has_take_extension(Path::new(&key)) {
            continue;
        }
        let Some(meta) = raw.head(&key).await? else {
            continue; // deleted since the listing
        };
        if seen.get(&key) == Some(&meta.etag) {
            continue;
        }
        let take_id = moocpipe_ingest::take_id(raw.bucket(), &key, &meta.etag);
        let known = ctx
            .stores
            .media
            .head(&layout::record(&take_id, Record::Ingest))
            .await?
            .is_some();
        if !known {
            let job = job_for(raw.bucket(), &key, Some(meta.etag.clone()), IngestVia::Scan)?;
            publisher.send(topology, &job).await?;
            tracing::info!(%key, "new raw take found by the scan");
            sent += 1;
        }
        seen.insert(key, meta.etag);
    }
    Ok(sent)
}

/// Why a scan pass stopped; the next pass tries again.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Broker(#[from] BrokerError),
}
