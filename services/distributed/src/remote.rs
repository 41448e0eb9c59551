//! A raw take read straight from the bucket: GStreamer asks for byte ranges
//! (see `moocpipe_media::Source::Remote`), and each is served from a small
//! cache of blocks fetched with ranged GETs. A read that continues the one
//! before fetches 8 MiB ahead (a whole decode reads the file in order); a
//! read elsewhere (a seek: the index at the end of a MOV, say) fetches
//! only a little more than asked.
//! Memory stays at a few blocks whatever the take's size; nothing is
//! written to disk.

use crate::metrics::StageMetrics;
use crate::{storage_error, Context};
use moocpipe_broker::JobError;
use moocpipe_media::{RangeReader, Source};
use moocpipe_proto::TakeJob;
use moocpipe_storage::{ObjectStore, S3Store};
use std::sync::{Arc, Mutex};
use tokio::runtime::Handle;

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
            "{location}: replaced by a newer upload (ETag {} instead of {}); the newer one is another take",
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
            Handle::current(),
            ctx.metrics.clone(),
        )),
    })
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
    handle: Handle,
    metrics: StageMetrics,
    blocks: Mutex<Blocks>,
}

#[derive(Default)]
struct Blocks {
    /// (start, bytes), most recently used last.
    cached: Vec<(u64, Vec<u8>)>,
    /// Where the last read ended.
    last_end: u64,
}

impl S3RangeReader {
    pub fn new(
        store: S3Store,
        key: String,
        size: u64,
        handle: Handle,
        metrics: StageMetrics,
    ) -> Self {
        S3RangeReader {
            store,
            key,
            size,
            handle,
            metrics,
            blocks: Mutex::new(Blocks::default()),
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
        let bytes = self
            .handle
            .block_on(self.store.get_range(&self.key, offset, want))
            .map_err(|e| std::io::Error::other(e.to_string()))?;
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
