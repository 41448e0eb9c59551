//! A raw take read straight from the bucket: GStreamer asks for byte ranges
//! (see `moocpipe_media::Source::Remote`), and each is served from a small
//! cache of blocks fetched with ranged GETs. A read that continues the one
//! before fetches 8 MiB ahead (a whole decode reads the file in order); a
//! read elsewhere (a seek: the index at the end of a MOV, say) fetches
//! only a little more than asked.
//! Memory stays at a few blocks whatever the take's size; nothing is
//! written to disk.
//!
//! Every ranged GET is pinned to the version the take id was made from
//! (`If-Match` with the ingest's ETag, and the response's ETag checked):
//! a take replaced while a job reads it fails with "the take changed
//! while it was processed" instead of feeding the decoder a mix of two
//! uploads; the new upload is a new take, found by the scan. A read that
//! fails for a transient reason (a time-out, a store restarting) is tried
//! again a few times with back-off ([`RETRY_DELAYS`]) before it fails the
//! job, so one lost GET does not cost a whole transcode.
//!
//! Each GET is a span (`read range`: offset, bytes, tries) under the job
//! that made the reader, although GStreamer's threads call it; when the
//! reader goes, the bytes it read against the take's size are observed
//! (`moocpipe_take_read_ratio`).

use crate::metrics::StageMetrics;
use crate::{storage_error, Context};
use moocpipe_broker::JobError;
use moocpipe_media::{RangeReader, Source};
use moocpipe_proto::TakeJob;
use moocpipe_storage::{ObjectStore, S3Store, StorageError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::runtime::Handle;

/// What a job's error says when its take was replaced under it.
pub const CHANGED: &str = "the take changed while it was processed";

/// Pauses before the second and third try of a ranged read that failed
/// for a transient reason: three tries over about 8 s (plus the calls'
/// own time-outs) before the read fails the job and its queue retries it.
pub const RETRY_DELAYS: [Duration; 2] = [Duration::from_secs(2), Duration::from_secs(6)];

/// The raw take of `job` as a source the stages read by ranges. The object
/// must still be the version the take id was made from (same ETag): a take
/// replaced by a new upload is a new take, and this job's is gone
/// (permanent). Call from the runtime whose handle the reads will use.
pub async fn source(ctx: &Context, job: &TakeJob) -> Result<Source, JobError> {
    let raw = &ctx.stores.raw;
    let key = &job.take.key;
    let location = raw.location(key);
    let meta = raw
        .head(key)
        .await
        .map_err(storage_error)?
        .ok_or_else(|| JobError::Permanent(format!("{location}: the raw take is gone")))?;
    if meta.etag != job.etag {
        return Err(JobError::Permanent(format!(
            "{CHANGED}: {location} was replaced by a newer upload (ETag {} instead of {}); the newer one is ingested as another take",
            meta.etag, job.etag
        )));
    }
    Ok(Source::Remote {
        name: key.clone(),
        size: meta.size,
        reader: Arc::new(S3RangeReader::new(
            raw.clone(),
            key.clone(),
            meta.size,
            job.etag.clone(),
            Handle::current(),
            ctx.metrics.clone(),
        )),
    })
}

/// Whether a job's error text is a take replaced mid-read (the reader's
/// I/O error passes through GStreamer as text). A stage that finds it in
/// a media error should fail the job for good ([`changed_error`]): a retry
/// would only find the new upload, which is another take.
pub fn is_changed(message: &str) -> bool {
    message.contains(CHANGED)
}

/// The permanent job error for a take replaced mid-read, naming it.
pub fn changed_error(error: &StorageError) -> JobError {
    JobError::Permanent(format!("{CHANGED}: {error}"))
}

/// A read that continues the previous one fetches at least this much.
const BLOCK: u64 = 8 * 1024 * 1024;
/// Any other read fetches at least this much.
const SMALL: u64 = 64 * 1024;
/// Blocks kept: demuxers read audio and video a little apart.
const BLOCKS: usize = 3;

/// Reads ranges of `key` in `store`, from threads outside the runtime that
/// `handle` belongs to (GStreamer's streaming threads).
pub struct S3RangeReader {
    store: S3Store,
    key: String,
    size: u64,
    /// The version every read is pinned to.
    etag: String,
    handle: Handle,
    metrics: StageMetrics,
    retry_delays: Vec<Duration>,
    blocks: Mutex<Blocks>,
    /// The span of the job that made the reader: every GET's parent.
    job: tracing::Span,
    /// Bytes fetched so far.
    read: AtomicU64,
}

#[derive(Default)]
struct Blocks {
    /// (start, bytes), most recently used last.
    cached: Vec<(u64, Vec<u8>)>,
    /// Where the last read ended.
    last_end: u64,
}

impl S3RangeReader {
    /// A reader of version `etag` of `key`, `size` bytes long, its reads
    /// traced under the current span.
    pub fn new(
        store: S3Store,
        key: String,
        size: u64,
        etag: String,
        handle: Handle,
        metrics: StageMetrics,
    ) -> Self {
        S3RangeReader {
            store,
            key,
            size,
            etag,
            handle,
            metrics,
            retry_delays: RETRY_DELAYS.to_vec(),
            blocks: Mutex::new(Blocks::default()),
            job: tracing::Span::current(),
            read: AtomicU64::new(0),
        }
    }

    /// Other pauses between tries (one try more than pauses).
    pub fn with_retry_delays(mut self, delays: Vec<Duration>) -> Self {
        self.retry_delays = delays;
        self
    }

    /// One ranged GET of the pinned version, tried again after each of
    /// `retry_delays` while it fails for a transient reason.
    fn fetch(&self, offset: u64, len: u64) -> Result<Vec<u8>, StorageError> {
        let span = tracing::info_span!(
            parent: &self.job,
            "read range",
            offset,
            len,
            bytes = tracing::field::Empty,
            tries = 1u32,
        );
        let _entered = span.enter();
        let mut pauses = self.retry_delays.iter();
        let mut tries = 1u32;
        loop {
            let read = self.handle.block_on(
                self.store
                    .get_range_if_match(&self.key, offset, len, &self.etag),
            );
            match read {
                Err(error) if error.is_transient() => match pauses.next() {
                    Some(pause) => {
                        tracing::warn!(key = %self.key, offset, len, %error, ?pause, "a ranged read failed; trying again");
                        self.metrics.read_retried();
                        // A GStreamer streaming thread, not a runtime's.
                        std::thread::sleep(*pause);
                        tries += 1;
                        span.record("tries", tries);
                    }
                    None => return Err(error),
                },
                other => {
                    if let Ok(bytes) = &other {
                        span.record("bytes", bytes.len());
                        self.read.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                    }
                    return other;
                }
            }
        }
    }
}

/// The reader's failure as GStreamer will pass it on: a replaced take
/// says so in words [`is_changed`] finds.
fn read_error(error: StorageError) -> std::io::Error {
    match error {
        StorageError::Changed { .. } => std::io::Error::other(format!("{CHANGED}: {error}")),
        other => std::io::Error::other(other.to_string()),
    }
}

impl Drop for S3RangeReader {
    /// The job is done with the take: how much of it was read.
    fn drop(&mut self) {
        let read = self.read.load(Ordering::Relaxed);
        if read > 0 && self.size > 0 {
            self.metrics.take_read(read as f64 / self.size as f64);
        }
    }
}

impl RangeReader for S3RangeReader {
    fn read_at(&self, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
        let end = offset.saturating_add(len).min(self.size);
        let mut blocks = self.blocks.lock().unwrap_or_else(|p| p.into_inner());
        let sequential = offset == blocks.last_end;
        blocks.last_end = end;
        let cached = &mut blocks.cached;
        if let Some(i) = cached
            .iter()
            .position(|(start, bytes)| *start <= offset && end <= start + bytes.len() as u64)
        {
            let block = cached.remove(i);
            let from = usize::try_from(offset - block.0).unwrap_or(usize::MAX);
            let to = usize::try_from(end - block.0).unwrap_or(usize::MAX);
            let out = block
                .1
                .get(from..to)
                .map(<[u8]>::to_vec)
                .unwrap_or_default();
            cached.push(block);
            return Ok(out);
        }
        let ahead = if sequential { BLOCK } else { SMALL };
        let want = len.max(ahead).min(self.size.saturating_sub(offset));
        let bytes = self.fetch(offset, want).map_err(read_error)?;
        self.metrics.read(bytes.len() as u64);
        let take = usize::try_from(end - offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let out = bytes[..take].to_vec();
        if cached.len() >= BLOCKS {
            cached.remove(0);
        }
        cached.push((offset, bytes));
        Ok(out)
    }
}
