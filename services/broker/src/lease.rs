//! Durable leases: how a job outlives its AMQP delivery.
//!
//! RabbitMQ closes a channel whose delivery stays unacknowledged longer than
//! `consumer_timeout` (30 min by default; RabbitMQ 3.10 has no per-queue or
//! per-consumer setting) and redelivers the message — while the first worker
//! may still be encoding it. So the worker *accepts* a job by taking a lease
//! on it in a [`LeaseStore`] (who runs it, until when, and the job itself),
//! and only then acks the delivery. From there the lease, not the broker,
//! keeps the job safe:
//!
//! - every acquisition gets a **fencing token** from the store, strictly
//!   greater than any token given before; every later change (renew, hand
//!   back, release) is conditional on it, so a worker that lost its job can
//!   change nothing about it any more;
//! - the worker renews the lease while the job runs (every third of its
//!   time-to-live), carrying the job's progress, and releases it with the
//!   job's outcome only after that outcome — downstream messages, a retry or
//!   a dead letter — was confirmed by the broker;
//! - a worker that dies stops renewing; a sweeper (every worker runs one)
//!   claims the expired lease under a new token, republishes the job from
//!   the lease and releases it; two sweepers never claim the same lease;
//! - a second copy of a job whose lease is live is a duplicate: it is dropped
//!   (or deferred), since the lease holder, or else the sweeper, sees the
//!   job through;
//! - a worker that cannot renew before its lease expires (store unreachable,
//!   or the lease was claimed) cancels its job and publishes nothing.
//!
//! The store keeps the clock: a lease's expiry is the store's "now" plus the
//! time-to-live the worker asks for, so workers' clocks need not agree.
//! Each operation must be atomic. [`InMemoryLeases`] is the reference
//! implementation, for tests and a single process; `moocpipe-control`'s
//! `PgLeases` is the shared one (PostgreSQL).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use crate::message::Headers;
use crate::topology::Stage;

/// Identifies a job: one take at one stage. Stages are idempotent per take,
/// so two messages for the same take and stage are the same job.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LeaseKey {
    pub stage: Stage,
    pub take_id: String,
}

/// A lease as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub key: LeaseKey,
    /// The fencing token of this acquisition (or claim): unique, and greater
    /// than every token the store gave before.
    pub fence: u64,
    /// By the store's clock.
    pub expires_at: SystemTime,
    /// The holder gave the job up (shutdown) or a sweeper claimed it, and a
    /// copy is being republished: the next delivery may take it over.
    pub handed_back: bool,
    /// The job's headers and body, to republish it if the holder vanishes.
    pub headers: Headers,
    pub body: Vec<u8>,
}

/// The result of [`LeaseStore::acquire`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquire {
    /// The lease is ours, under the lease's fencing token.
    Acquired(Lease),
    /// Another worker holds a live lease on the job.
    Busy { fence: u64, expires_at: SystemTime },
}

/// How a held lease ends: the job's outcome, once it was handed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// Done; its messages were confirmed.
    Succeeded,
    /// Failed for now; the retry is waiting in a delay queue.
    Retrying(String),
    /// Dead-lettered with this reason.
    Dead(String),
    /// Put back on the stage queue unchanged (a hand-back or a sweep).
    Requeued,
}

impl Finish {
    /// The job state this outcome leaves: `succeeded`, `retrying`, `dead`
    /// or `queued`.
    pub fn state(&self) -> &'static str {
        match self {
            Finish::Succeeded => "succeeded",
            Finish::Retrying(_) => "retrying",
            Finish::Dead(_) => "dead",
            Finish::Requeued => "queued",
        }
    }

    /// Why it failed, for `Retrying` and `Dead`.
    pub fn error(&self) -> Option<&str> {
        match self {
            Finish::Retrying(error) | Finish::Dead(error) => Some(error),
            Finish::Succeeded | Finish::Requeued => None,
        }
    }
}

/// A lease store failure; the worker treats it as transient.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LeaseError(pub String);

/// Where leases live. Every operation must be atomic; times are the
/// store's.
pub trait LeaseStore: Send + Sync + 'static {
    /// Takes the lease on `key` for `ttl` under a new fencing token, unless
    /// a live one (held, not expired, not handed back) exists. `holder`
    /// names the worker (host:pid) for people reading the store.
    fn acquire(
        &self,
        key: &LeaseKey,
        headers: &Headers,
        body: &[u8],
        holder: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<Acquire, LeaseError>> + Send;

    /// Extends the lease held under `fence` to `ttl` from now and records
    /// the job's `progress` (0–1). `Ok(false)`: the lease is gone or held
    /// under another token — stop working on the job.
    fn renew(
        &self,
        key: &LeaseKey,
        fence: u64,
        ttl: Duration,
        progress: f64,
    ) -> impl Future<Output = Result<bool, LeaseError>> + Send;

    /// Marks the lease held under `fence` handed back, under a new token
    /// for `ttl`, and returns that token; `Ok(None)` when `fence` no longer
    /// holds it. Used by a worker giving a job up before it republishes it.
    fn hand_back(
        &self,
        key: &LeaseKey,
        fence: u64,
        ttl: Duration,
    ) -> impl Future<Output = Result<Option<u64>, LeaseError>> + Send;

    /// Ends the lease held under `fence` with the job's outcome; `Ok(false)`
    /// when `fence` no longer holds it (nothing changes).
    fn release(
        &self,
        key: &LeaseKey,
        fence: u64,
        finish: &Finish,
    ) -> impl Future<Output = Result<bool, LeaseError>> + Send;

    /// Claims up to `limit` leases of `stage` that expired: each is marked
    /// handed back under a new token for `ttl`, and returned with that
    /// token; `handed_back` says whether it had been handed back before it
    /// expired. A lease is claimed by one caller only.
    fn claim_expired(
        &self,
        stage: Stage,
        ttl: Duration,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Lease>, LeaseError>> + Send;
}

/// One held lease, as a [`crate::Job`] sees it: checks and extends it
/// right before the job publishes its record.
#[derive(Clone, Default)]
pub struct LeaseHandle(Option<Arc<dyn Confirm>>);

impl std::fmt::Debug for LeaseHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "LeaseHandle(held)"
        } else {
            "LeaseHandle(none)"
        })
    }
}

type ConfirmFuture<'a> = Pin<Box<dyn Future<Output = Result<bool, LeaseError>> + Send + 'a>>;

trait Confirm: Send + Sync {
    fn confirm(&self, progress: f64) -> ConfirmFuture<'_>;
}

struct Held<L> {
    store: Arc<L>,
    key: LeaseKey,
    fence: u64,
    ttl: Duration,
}

impl<L: LeaseStore> Confirm for Held<L> {
    fn confirm(&self, progress: f64) -> ConfirmFuture<'_> {
        Box::pin(self.store.renew(&self.key, self.fence, self.ttl, progress))
    }
}

impl LeaseHandle {
    /// No store behind it: [`LeaseHandle::confirm`] always holds (a job
    /// built by hand, in a test).
    pub fn none() -> Self {
        LeaseHandle(None)
    }

    /// The lease on `key` held under `fence` in `store`, renewed for `ttl`.
    pub fn held<L: LeaseStore>(store: Arc<L>, key: LeaseKey, fence: u64, ttl: Duration) -> Self {
        LeaseHandle(Some(Arc::new(Held {
            store,
            key,
            fence,
            ttl,
        })))
    }

    /// Renews the lease (recording `progress`): `Ok(true)` while it is
    /// still held under this token.
    pub async fn confirm(&self, progress: f64) -> Result<bool, LeaseError> {
        match &self.0 {
            Some(held) => held.confirm(progress).await,
            None => Ok(true),
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    lease: Lease,
    /// `running`, `queued`, `succeeded`, `retrying` or `dead`.
    state: &'static str,
    /// `None` once released.
    expires_at: Option<SystemTime>,
    progress: f64,
}

/// A lease store in memory: for tests, and for one process whose workers
/// share it (it does not survive the process). Same semantics as the
/// PostgreSQL store, with this process's clock.
#[derive(Debug, Default)]
pub struct InMemoryLeases {
    jobs: Mutex<HashMap<LeaseKey, Entry>>,
    fences: AtomicU64,
}

impl InMemoryLeases {
    pub fn new() -> Self {
        InMemoryLeases::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<LeaseKey, Entry>> {
        // A panic while holding the lock leaves the map consistent (every
        // operation is a single insert or field update), so poisoning is
        // ignored.
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn next_fence(&self) -> u64 {
        self.fences.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Every lease currently held (running or being handed back), for tests.
    pub fn all(&self) -> Vec<Lease> {
        self.lock()
            .values()
            .filter(|entry| entry.expires_at.is_some())
            .map(|entry| entry.lease.clone())
            .collect()
    }

    /// The job's state and last recorded progress, for tests.
    pub fn state(&self, key: &LeaseKey) -> Option<(&'static str, f64)> {
        self.lock()
            .get(key)
            .map(|entry| (entry.state, entry.progress))
    }
}

impl LeaseStore for InMemoryLeases {
    async fn acquire(
        &self,
        key: &LeaseKey,
        headers: &Headers,
        body: &[u8],
        _holder: &str,
        ttl: Duration,
    ) -> Result<Acquire, LeaseError> {
        let now = SystemTime::now();
        let mut jobs = self.lock();
        if let Some(entry) = jobs.get(key) {
            if let Some(expires_at) = entry.expires_at {
                if entry.state == "running" && expires_at > now {
                    return Ok(Acquire::Busy {
                        fence: entry.lease.fence,
                        expires_at,
                    });
                }
            }
        }
        let lease = Lease {
            key: key.clone(),
            fence: self.next_fence(),
            expires_at: now + ttl,
            handed_back: false,
            headers: headers.clone(),
            body: body.to_vec(),
        };
        jobs.insert(
            key.clone(),
            Entry {
                lease: lease.clone(),
                state: "running",
                expires_at: Some(lease.expires_at),
                progress: 0.0,
            },
        );
        Ok(Acquire::Acquired(lease))
    }

    async fn renew(
        &self,
        key: &LeaseKey,
        fence: u64,
        ttl: Duration,
        progress: f64,
    ) -> Result<bool, LeaseError> {
        let mut jobs = self.lock();
        match jobs.get_mut(key) {
            Some(entry) if entry.lease.fence == fence && entry.state == "running" => {
                let expires_at = SystemTime::now() + ttl;
                entry.expires_at = Some(expires_at);
                entry.lease.expires_at = expires_at;
                entry.progress = progress;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn hand_back(
        &self,
        key: &LeaseKey,
        fence: u64,
        ttl: Duration,
    ) -> Result<Option<u64>, LeaseError> {
        let mut jobs = self.lock();
        match jobs.get_mut(key) {
            Some(entry) if entry.lease.fence == fence && entry.expires_at.is_some() => {
                let new_fence = self.next_fence();
                let expires_at = SystemTime::now() + ttl;
                entry.lease.fence = new_fence;
                entry.lease.expires_at = expires_at;
                entry.lease.handed_back = true;
                entry.expires_at = Some(expires_at);
                entry.state = "queued";
                Ok(Some(new_fence))
            }
            _ => Ok(None),
        }
    }

    async fn release(
        &self,
        key: &LeaseKey,
        fence: u64,
        finish: &Finish,
    ) -> Result<bool, LeaseError> {
        let mut jobs = self.lock();
        match jobs.get_mut(key) {
            Some(entry) if entry.lease.fence == fence && entry.expires_at.is_some() => {
                entry.expires_at = None;
                entry.state = finish.state();
                if *finish == Finish::Succeeded {
                    entry.progress = 1.0;
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn claim_expired(
        &self,
        stage: Stage,
        ttl: Duration,
        limit: usize,
    ) -> Result<Vec<Lease>, LeaseError> {
        let now = SystemTime::now();
        let mut jobs = self.lock();
        let mut claimed = Vec::new();
        for entry in jobs.values_mut() {
            if claimed.len() >= limit {
                break;
            }
            let expired = entry.expires_at.is_some_and(|at| at <= now);
            if entry.lease.key.stage != stage || !expired {
                continue;
            }
            let was_handed_back = entry.state == "queued";
            let expires_at = now + ttl;
            entry.lease.fence = self.next_fence();
            entry.lease.expires_at = expires_at;
            entry.lease.handed_back = true;
            entry.expires_at = Some(expires_at);
            entry.state = "queued";
            let mut lease = entry.lease.clone();
            lease.handed_back = was_handed_back;
            claimed.push(lease);
        }
        Ok(claimed)
    }
}

/// A name unique across processes and time, for consumer tags: process id,
/// a per-process counter and a random part.
pub fn new_token() -> String {
    use std::hash::{BuildHasher, RandomState};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let random = RandomState::new().hash_one((count, SystemTime::now()));
    format!("{}-{count}-{random:016x}", std::process::id())
}

/// This worker as a lease holder: `host:pid`.
pub fn holder_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    format!("{host}:{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> LeaseKey {
        LeaseKey {
            stage: Stage::Transcode,
            take_id: "t".into(),
        }
    }

    async fn take(store: &InMemoryLeases, ttl: Duration) -> Acquire {
        store
            .acquire(&key(), &Headers::new("t"), b"{}", "test:1", ttl)
            .await
            .expect("acquire")
    }

    #[tokio::test]
    async fn a_live_lease_keeps_others_out_until_it_expires_or_is_handed_back() {
        let store = InMemoryLeases::new();
        let minute = Duration::from_secs(60);
        let Acquire::Acquired(a) = take(&store, Duration::ZERO).await else {
            panic!("first acquisition");
        };
        // Expired at once: taken over under a greater token, and the old
        // holder can no longer renew or release.
        let Acquire::Acquired(b) = take(&store, minute).await else {
            panic!("takeover");
        };
        assert!(b.fence > a.fence);
        assert!(
            matches!(take(&store, minute).await, Acquire::Busy { fence, .. } if fence == b.fence)
        );
        assert_eq!(store.renew(&key(), a.fence, minute, 0.5).await, Ok(false));
        assert_eq!(
            store.release(&key(), a.fence, &Finish::Succeeded).await,
            Ok(false)
        );
        assert_eq!(store.renew(&key(), b.fence, minute, 0.5).await, Ok(true));
        assert_eq!(store.state(&key()), Some(("running", 0.5)));
        // Handed back: the next delivery may take it at once.
        let handed = store
            .hand_back(&key(), b.fence, minute)
            .await
            .expect("hand back")
            .expect("held");
        assert_eq!(store.renew(&key(), b.fence, minute, 0.6).await, Ok(false));
        let Acquire::Acquired(c) = take(&store, minute).await else {
            panic!("after a hand-back");
        };
        assert!(c.fence > handed);
        assert_eq!(
            store.release(&key(), handed, &Finish::Requeued).await,
            Ok(false)
        );
        assert_eq!(
            store.release(&key(), c.fence, &Finish::Succeeded).await,
            Ok(true)
        );
        assert!(store.all().is_empty());
        assert_eq!(store.state(&key()), Some(("succeeded", 1.0)));
    }

    #[tokio::test]
    async fn an_expired_lease_is_claimed_once() {
        let store = InMemoryLeases::new();
        let Acquire::Acquired(a) = take(&store, Duration::ZERO).await else {
            panic!("acquire");
        };
        let minute = Duration::from_secs(60);
        let claimed = store
            .claim_expired(Stage::Transcode, minute, 10)
            .await
            .expect("claim");
        assert_eq!(claimed.len(), 1);
        assert!(claimed[0].fence > a.fence);
        assert!(!claimed[0].handed_back);
        assert_eq!(
            store.claim_expired(Stage::Transcode, minute, 10).await,
            Ok(Vec::new())
        );
    }

    #[test]
    fn tokens_differ() {
        assert_ne!(new_token(), new_token());
    }
}
