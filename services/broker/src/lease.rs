//! Durable leases: how a job outlives its AMQP delivery.
//!
//! RabbitMQ closes a channel whose delivery stays unacknowledged longer than
//! `consumer_timeout` (30 min by default; RabbitMQ 3.10 has no per-queue or
//! per-consumer setting) and redelivers the message — while the first worker
//! may still be encoding it. So the worker *accepts* a job by writing a lease
//! (who runs it, until when, and the job itself) to a [`LeaseStore`], and only
//! then acks the delivery. From there the lease, not the broker, keeps the job
//! safe:
//!
//! - the worker renews the lease while the job runs (every third of its
//!   time-to-live) and releases it only after the job's outcome — downstream
//!   messages, a retry or a dead letter — was confirmed by the broker;
//! - a worker that dies stops renewing; a sweeper (every worker runs one)
//!   finds the expired lease, claims it, republishes the job from the lease
//!   and releases it;
//! - a second copy of a job whose lease is live is a duplicate: it is dropped,
//!   since the lease holder, or else the sweeper, sees the job through;
//! - a worker that cannot renew before its lease expires (store unreachable,
//!   or the lease was claimed) cancels its job and publishes nothing, so a job
//!   never runs twice at the same time because of a lost delivery.
//!
//! The store must be shared by all workers of a stage and outlive them;
//! its operations must be atomic per key (a compare-and-set on the token).
//! [`InMemoryLeases`] is the reference implementation, for tests and a single
//! process. Note for an S3 implementation: Garage ignores conditional PUTs,
//! so it cannot provide the compare-and-set on its own.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use crate::message::Headers;
use crate::topology::Stage;

/// Identifies a job: one take at one stage. Stages are idempotent per take,
/// so two messages for the same take and stage are the same job.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LeaseKey {
    pub stage: Stage,
    pub take_id: String,
}

/// A job accepted by a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub key: LeaseKey,
    /// Unique per acquisition; every change is conditional on it.
    pub token: String,
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
    Acquired,
    /// Another worker holds a live lease on the job.
    Busy {
        token: String,
        expires_at: SystemTime,
    },
}

/// A lease store failure; the worker treats it as transient.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LeaseError(pub String);

/// Where leases live. Implementations must make each operation atomic per
/// key. Times are wall-clock times: workers' clocks must agree to well
/// within a lease's time-to-live.
pub trait LeaseStore: Send + Sync + 'static {
    /// Records `lease` unless a live one (not expired at `now`, not handed
    /// back) exists for its key.
    fn acquire(
        &self,
        lease: Lease,
        now: SystemTime,
    ) -> impl Future<Output = Result<Acquire, LeaseError>> + Send;

    /// Extends the lease held with `token`. `Ok(false)`: the lease is gone or
    /// held by someone else — stop working on the job.
    fn renew(
        &self,
        key: &LeaseKey,
        token: &str,
        expires_at: SystemTime,
    ) -> impl Future<Output = Result<bool, LeaseError>> + Send;

    /// Marks the lease held with `token` handed back, under `new_token`
    /// until `expires_at`; `Ok(false)` when `token` no longer holds it. Used
    /// before republishing a job: by a worker giving it up, by a sweeper
    /// taking over an expired lease.
    fn hand_back(
        &self,
        key: &LeaseKey,
        token: &str,
        new_token: &str,
        expires_at: SystemTime,
    ) -> impl Future<Output = Result<bool, LeaseError>> + Send;

    /// Deletes the lease held with `token`; `Ok(false)` when `token` no
    /// longer holds it (nothing is deleted).
    fn release(
        &self,
        key: &LeaseKey,
        token: &str,
    ) -> impl Future<Output = Result<bool, LeaseError>> + Send;

    /// Leases of `stage` that expired before `now`.
    fn expired(
        &self,
        stage: Stage,
        now: SystemTime,
    ) -> impl Future<Output = Result<Vec<Lease>, LeaseError>> + Send;
}

/// A lease store in memory: for tests, and for one process whose workers
/// share it (it does not survive the process).
#[derive(Debug, Default)]
pub struct InMemoryLeases {
    leases: Mutex<HashMap<LeaseKey, Lease>>,
}

impl InMemoryLeases {
    pub fn new() -> Self {
        InMemoryLeases::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<LeaseKey, Lease>> {
        // A panic while holding the lock leaves the map consistent (every
        // operation is a single insert or remove), so poisoning is ignored.
        self.leases.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A snapshot of every lease, for tests.
    pub fn all(&self) -> Vec<Lease> {
        self.lock().values().cloned().collect()
    }
}

impl LeaseStore for InMemoryLeases {
    async fn acquire(&self, lease: Lease, now: SystemTime) -> Result<Acquire, LeaseError> {
        let mut leases = self.lock();
        if let Some(existing) = leases.get(&lease.key) {
            if !existing.handed_back && existing.expires_at > now {
                return Ok(Acquire::Busy {
                    token: existing.token.clone(),
                    expires_at: existing.expires_at,
                });
            }
        }
        leases.insert(lease.key.clone(), lease);
        Ok(Acquire::Acquired)
    }

    async fn renew(
        &self,
        key: &LeaseKey,
        token: &str,
        expires_at: SystemTime,
    ) -> Result<bool, LeaseError> {
        let mut leases = self.lock();
        match leases.get_mut(key) {
            Some(lease) if lease.token == token && !lease.handed_back => {
                lease.expires_at = expires_at;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn hand_back(
        &self,
        key: &LeaseKey,
        token: &str,
        new_token: &str,
        expires_at: SystemTime,
    ) -> Result<bool, LeaseError> {
        let mut leases = self.lock();
        match leases.get_mut(key) {
            Some(lease) if lease.token == token => {
                lease.token = new_token.to_owned();
                lease.expires_at = expires_at;
                lease.handed_back = true;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn release(&self, key: &LeaseKey, token: &str) -> Result<bool, LeaseError> {
        let mut leases = self.lock();
        if leases.get(key).is_some_and(|lease| lease.token == token) {
            leases.remove(key);
            Ok(true)
        } else {
            Ok(false)
        }
    }

    async fn expired(&self, stage: Stage, now: SystemTime) -> Result<Vec<Lease>, LeaseError> {
        Ok(self
            .lock()
            .values()
            .filter(|lease| lease.key.stage == stage && lease.expires_at <= now)
            .cloned()
            .collect())
    }
}

/// A token unique across processes and time: process id, a per-process
/// counter and a random part.
pub fn new_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let random = RandomState::new().hash_one((count, SystemTime::now()));
    format!("{}-{count}-{random:016x}", std::process::id())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn lease(token: &str, expires_at: SystemTime) -> Lease {
        Lease {
            key: LeaseKey {
                stage: Stage::Transcode,
                take_id: "t".into(),
            },
            token: token.into(),
            expires_at,
            handed_back: false,
            headers: Headers::new("t"),
            body: b"{}".to_vec(),
        }
    }

    #[tokio::test]
    async fn a_live_lease_keeps_others_out_until_it_expires_or_is_handed_back() {
        let store = InMemoryLeases::new();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let later = now + Duration::from_secs(10);
        let key = lease("a", later).key;
        assert_eq!(
            store.acquire(lease("a", later), now).await,
            Ok(Acquire::Acquired)
        );
        assert!(matches!(
            store.acquire(lease("b", later), now).await,
            Ok(Acquire::Busy { .. })
        ));
        // Expired: taken over, and the old holder can no longer renew.
        assert_eq!(
            store.acquire(lease("b", later), later).await,
            Ok(Acquire::Acquired)
        );
        assert_eq!(store.renew(&key, "a", later).await, Ok(false));
        assert_eq!(store.release(&key, "a").await, Ok(false));
        // Handed back: the next delivery may take it at once.
        assert_eq!(store.hand_back(&key, "b", "s", later).await, Ok(true));
        assert_eq!(store.renew(&key, "b", later).await, Ok(false));
        assert_eq!(
            store.acquire(lease("c", later), now).await,
            Ok(Acquire::Acquired)
        );
        assert_eq!(store.release(&key, "s").await, Ok(false));
        assert_eq!(store.release(&key, "c").await, Ok(true));
        assert!(store.all().is_empty());
    }

    #[test]
    fn tokens_differ() {
        assert_ne!(new_token(), new_token());
    }
}
