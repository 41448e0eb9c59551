//! Job leases kept in the media bucket, under `leases/<stage>/<take-id>.json`.
//!
//! The broker's worker loop acks a delivery once it holds a lease on the job
//! and renews it while it works (see `moocpipe-broker`: that is what keeps a
//! long encode clear of RabbitMQ's `consumer_timeout`). The lease must
//! outlive the worker, so it lives where every record lives: in the bucket,
//! with no new component to run.
//!
//! S3 has no compare-and-set that every store honours (Garage ignores
//! `If-None-Match`/`If-Match`), so each change is *read, check, write, read
//! back*: a write is kept only if the read-back shows our token. Two workers
//! that acquire the same key within the same instant can both win; the cost
//! is a job run twice at once with identical, deterministic outputs — never
//! a lost job, because a lease is only ever replaced by another holder of
//! the same job. Duplicates of that kind need two deliveries of one job at
//! the same moment; the worker loop drops (or defers) every later one.

use moocpipe_broker::lease::{Acquire, Lease, LeaseError, LeaseKey, LeaseStore};
use moocpipe_broker::{Headers, Stage};
use moocpipe_storage::{ObjectStore, StorageError};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where the leases live in the bucket.
pub const PREFIX: &str = "leases";

/// A lease as stored.
#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    token: String,
    /// Milliseconds since the Unix epoch.
    expires_at_ms: u64,
    handed_back: bool,
    schema_version: u32,
    take_id: String,
    attempt: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    traceparent: Option<String>,
    /// The job's JSON body.
    body: serde_json::Value,
}

/// Leases in an object store, shared by every worker that uses the bucket.
pub struct StoreLeases<S> {
    store: S,
}

impl<S: ObjectStore + 'static> StoreLeases<S> {
    pub fn new(store: S) -> Self {
        StoreLeases { store }
    }

    /// The lease's object key. A take id is whatever a message's header
    /// says; one that is not a plain name (a malformed or hostile message)
    /// is hashed, so every header makes a valid key and a lease write never
    /// fails on the name (which would give the delivery back forever).
    fn key(key: &LeaseKey) -> String {
        let id = &key.take_id;
        let plain = !id.is_empty()
            && id.len() <= 128
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        let name = if plain {
            id.clone()
        } else {
            format!("h-{}", moocpipe_ingest::take_id("lease", id, ""))
        };
        format!("{PREFIX}/{}/{name}.json", key.stage.as_str())
    }

    async fn read(&self, key: &str) -> Result<Option<Stored>, LeaseError> {
        match self.store.get_json::<Stored>(key).await {
            Ok(found) => Ok(found),
            // A lease that does not parse is no lease (a torn write cannot
            // happen: puts are whole).
            Err(StorageError::BadRecord { .. }) => Ok(None),
            Err(e) => Err(LeaseError(e.to_string())),
        }
    }

    /// Writes `stored` and reads it back: true when our token is what the
    /// store now holds.
    async fn write_checked(&self, key: &str, stored: &Stored) -> Result<bool, LeaseError> {
        self.store
            .put_json(key, stored)
            .await
            .map_err(|e| LeaseError(e.to_string()))?;
        Ok(self
            .read(key)
            .await?
            .is_some_and(|now| now.token == stored.token))
    }
}

fn millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn time_of(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

fn to_stored(lease: &Lease) -> Stored {
    Stored {
        token: lease.token.clone(),
        expires_at_ms: millis(lease.expires_at),
        handed_back: lease.handed_back,
        schema_version: lease.headers.schema_version,
        take_id: lease.headers.take_id.clone(),
        attempt: lease.headers.attempt,
        traceparent: lease.headers.traceparent.clone(),
        body: serde_json::from_slice(&lease.body).unwrap_or(serde_json::Value::Null),
    }
}

fn to_lease(stage: Stage, stored: Stored) -> Lease {
    let headers = Headers {
        schema_version: stored.schema_version,
        take_id: stored.take_id.clone(),
        attempt: stored.attempt,
        traceparent: stored.traceparent,
    };
    Lease {
        key: LeaseKey {
            stage,
            take_id: stored.take_id,
        },
        token: stored.token,
        expires_at: time_of(stored.expires_at_ms),
        handed_back: stored.handed_back,
        headers,
        body: serde_json::to_vec(&stored.body).unwrap_or_default(),
    }
}

impl<S: ObjectStore + 'static> LeaseStore for StoreLeases<S> {
    async fn acquire(&self, lease: Lease, now: SystemTime) -> Result<Acquire, LeaseError> {
        let key = Self::key(&lease.key);
        if let Some(existing) = self.read(&key).await? {
            if !existing.handed_back && time_of(existing.expires_at_ms) > now {
                return Ok(Acquire::Busy {
                    expires_at: time_of(existing.expires_at_ms),
                    token: existing.token,
                });
            }
        }
        let stored = to_stored(&lease);
        if self.write_checked(&key, &stored).await? {
            return Ok(Acquire::Acquired);
        }
        match self.read(&key).await? {
            Some(winner) => Ok(Acquire::Busy {
                expires_at: time_of(winner.expires_at_ms),
                token: winner.token,
            }),
            None => Err(LeaseError(format!(
                "{key}: the lease vanished while it was taken"
            ))),
        }
    }

    async fn renew(
        &self,
        key: &LeaseKey,
        token: &str,
        expires_at: SystemTime,
    ) -> Result<bool, LeaseError> {
        let object = Self::key(key);
        let Some(mut stored) = self.read(&object).await? else {
            return Ok(false);
        };
        if stored.token != token || stored.handed_back {
            return Ok(false);
        }
        stored.expires_at_ms = millis(expires_at);
        self.write_checked(&object, &stored).await
    }

    async fn hand_back(
        &self,
        key: &LeaseKey,
        token: &str,
        new_token: &str,
        expires_at: SystemTime,
    ) -> Result<bool, LeaseError> {
        let object = Self::key(key);
        let Some(mut stored) = self.read(&object).await? else {
            return Ok(false);
        };
        if stored.token != token {
            return Ok(false);
        }
        stored.token = new_token.to_owned();
        stored.expires_at_ms = millis(expires_at);
        stored.handed_back = true;
        self.write_checked(&object, &stored).await
    }

    async fn release(&self, key: &LeaseKey, token: &str) -> Result<bool, LeaseError> {
        let object = Self::key(key);
        match self.read(&object).await? {
            Some(stored) if stored.token == token => {
                self.store
                    .delete(&object)
                    .await
                    .map_err(|e| LeaseError(e.to_string()))?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn expired(&self, stage: Stage, now: SystemTime) -> Result<Vec<Lease>, LeaseError> {
        let prefix = format!("{PREFIX}/{}/", stage.as_str());
        let keys = self
            .store
            .list(&prefix)
            .await
            .map_err(|e| LeaseError(e.to_string()))?;
        let mut out = Vec::new();
        for key in keys {
            if let Some(stored) = self.read(&key).await? {
                if time_of(stored.expires_at_ms) <= now {
                    out.push(to_lease(stage, stored));
                }
            }
        }
        Ok(out)
    }
}
