//! The distributed mode (DESIGN.md, issue 5): the same stage functions as
//! `moocpipe process`, each behind its own queue, with media and records in
//! S3-compatible storage.
//!
//! ```text
//!  submit ─┐
//!  scan ───┼─▶ ingest ─▶ probe ─┬─▶ transcode ─┐
//!  S3 event┘   (dedup by        └─▶ caption ───┼─▶ report ─▶ links, one notice,
//!              bucket+key+ETag)   spec failed ─┘             course report
//!                                 take.*.failed events ──────┘
//! ```
//!
//! Each stage's handler ([`stages`]) is wrapped by `moocpipe-broker`'s
//! worker loop (leases, retries, dead letters, confirms); this crate adds
//! what is particular to moocpipe:
//!
//! - every stage is **idempotent by record**: a stage whose record exists
//!   for the take skips its work and sends its messages again, so a job
//!   delivered twice costs a lookup, not a second encode;
//! - a stage writes its outputs first, under a run prefix of its own named by
//!   the job's lease token (`takes/<id>/runs/<run>/…`), and its record
//!   **last**, after confirming the lease, naming the run and every object
//!   with size and ETag: a record means "finished", a worker killed half-way
//!   or one that lost its lease leaves a run no record names, removed when
//!   the next record is written, and two runs never mix;
//! - the stage policy and the store side are shared with the local runner
//!   (`moocpipe-pipeline`);
//! - the raw bucket is only read, with its own credentials ([`Stores`]);
//! - every stage reads the raw take by ranged GETs as the demuxer asks for
//!   them ([`remote`]), never copying it first; outputs are written to a
//!   work folder ([`scratch`]) removed on every path before they are
//!   uploaded;
//! - leases and job state live in PostgreSQL (`moocpipe-control`);
//! - `/metrics` and `/healthz` ([`serve`]).

pub mod config;
pub mod events;
pub mod ingest;
pub mod metrics;
pub mod remote;
pub mod run;
pub mod scratch;
pub mod serve;
pub mod stages;

pub use config::{Settings, Stores};

use moocpipe_broker::JobError;
use moocpipe_storage::StorageError;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// What every handler gets: the stores, the settings and the metrics.
pub struct Context {
    pub stores: Stores,
    pub settings: Settings,
    pub metrics: metrics::StageMetrics,
    /// The report stage's: where it issues stable links, and how.
    pub links: Option<ReportLinks>,
}

/// The catalog the report stage issues each take's stable link in, and
/// the key and address links are made with.
pub struct ReportLinks {
    pub catalog: moocpipe_catalog::Catalog,
    pub settings: moocpipe_catalog::LinkSettings,
}

/// A catalog failure as a job failure: a query that failed (the database
/// is down or busy) is retried, the rest is permanent.
pub fn catalog_error(error: moocpipe_catalog::CatalogError) -> JobError {
    match error {
        moocpipe_catalog::CatalogError::Query(_)
        | moocpipe_catalog::CatalogError::Connect { .. } => JobError::Transient(error.to_string()),
        other => JobError::Permanent(other.to_string()),
    }
}

/// A storage failure as a job failure: network trouble and 5xx are retried,
/// the rest (a missing bucket, denied access, a bad record) goes to the
/// dead-letter queue with the store's own words.
pub fn storage_error(error: StorageError) -> JobError {
    if error.is_transient() {
        JobError::Transient(error.to_string())
    } else {
        JobError::Permanent(error.to_string())
    }
}

/// Sets a flag when dropped: a blocking stage (a GStreamer pipeline, a
/// whisper.cpp run) watches it and stops when its job is given up.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Runs a blocking stage function on tokio's blocking pool. When `cancel`
/// fires, or this future is dropped, the function's flag is set so it stops
/// what it started; the result is then a transient error (the job goes back
/// to the queue). The function runs inside the caller's span.
pub async fn blocking<T, F>(cancel: &CancellationToken, work: F) -> Result<T, JobError>
where
    T: Send + 'static,
    F: FnOnce(&AtomicBool) -> T + Send + 'static,
{
    let flag = Arc::new(AtomicBool::new(false));
    let guard = CancelOnDrop(Arc::clone(&flag));
    let inner = Arc::clone(&flag);
    // The job's span goes along: the pipeline's and whisper's spans are
    // its children, and their log lines name its trace.
    let span = tracing::Span::current();
    let task = tokio::task::spawn_blocking(move || span.in_scope(|| work(&inner)));
    let result = tokio::select! {
        joined = task => joined.map_err(|e| JobError::Transient(format!("the stage stopped unexpectedly: {e}"))),
        () = cancel.cancelled() => Err(JobError::Transient("the job was given up (shutdown or lost lease)".into())),
    };
    drop(guard);
    result
}
