//! [`PgLeases`]: the broker's `LeaseStore` on the `jobs` table.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use moocpipe_broker::lease::{Acquire, Finish, Lease, LeaseError, LeaseKey, LeaseStore};
use moocpipe_broker::{Headers, Stage};
use serde_json::{json, Value};
use sqlx::{PgPool, Row};

/// Job leases in PostgreSQL, shared by every worker that uses the database.
#[derive(Debug, Clone)]
pub struct PgLeases {
    pool: PgPool,
}

impl PgLeases {
    /// Leases in the database behind `pool` (migrated: see [`crate::connect`]).
    pub fn new(pool: PgPool) -> Self {
        PgLeases { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

fn store_error(error: sqlx::Error) -> LeaseError {
    LeaseError(format!("control database: {error}"))
}

fn seconds(ttl: Duration) -> f64 {
    ttl.as_secs_f64()
}

fn fence_of(value: i64) -> Result<u64, LeaseError> {
    u64::try_from(value).map_err(|_| LeaseError(format!("negative fencing token {value}")))
}

fn fence_param(fence: u64) -> i64 {
    // Tokens come from a bigint sequence, so a real one always fits; one
    // that does not can match no row.
    i64::try_from(fence).unwrap_or(-1)
}

fn time_of(millis: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(millis).unwrap_or(0))
}

/// The job's headers as stored (`jobs.headers`, JSON).
fn headers_json(headers: &Headers) -> String {
    json!({
        "schema_version": headers.schema_version,
        "take_id": headers.take_id,
        "attempt": headers.attempt,
        "traceparent": headers.traceparent,
        "tracestate": headers.tracestate,
        "replay": headers.replay,
    })
    .to_string()
}

fn headers_from(text: &str) -> Result<Headers, LeaseError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| LeaseError(format!("a job's stored headers are not JSON: {e}")))?;
    let number = |name: &str| {
        value[name]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| LeaseError(format!("a job's stored headers lack {name}")))
    };
    Ok(Headers {
        schema_version: number("schema_version")?,
        take_id: value["take_id"]
            .as_str()
            .ok_or_else(|| LeaseError("a job's stored headers lack take_id".into()))?
            .to_owned(),
        attempt: number("attempt")?,
        traceparent: value["traceparent"].as_str().map(str::to_owned),
        tracestate: value["tracestate"].as_str().map(str::to_owned),
        replay: value["replay"].as_bool().unwrap_or(false),
    })
}

/// `lease_expires` in milliseconds since the epoch, by the database's clock.
const EXPIRES_MS: &str = "(extract(epoch FROM lease_expires) * 1000)::bigint";

impl LeaseStore for PgLeases {
    async fn acquire(
        &self,
        key: &LeaseKey,
        headers: &Headers,
        body: &[u8],
        holder: &str,
        ttl: Duration,
    ) -> Result<Acquire, LeaseError> {
        // One statement: take the row unless a live lease holds it, close
        // the run whose lease expired under us, open ours.
        let sql = format!(
            "WITH taken AS (
                INSERT INTO jobs AS j (stage, take_id, state, attempt, fence, holder,
                                       lease_expires, headers, body, progress, started_at)
                VALUES ($1, $2, 'running', $3, nextval('job_fence'), $4,
                        now() + make_interval(secs => $5), $6::jsonb, $7, 0, now())
                ON CONFLICT (stage, take_id) DO UPDATE SET
                    state = 'running', attempt = EXCLUDED.attempt, fence = EXCLUDED.fence,
                    holder = EXCLUDED.holder, lease_expires = EXCLUDED.lease_expires,
                    headers = EXCLUDED.headers, body = EXCLUDED.body, progress = 0,
                    started_at = now(), updated_at = now(), finished_at = NULL
                WHERE j.state <> 'running' OR j.lease_expires IS NULL OR j.lease_expires <= now()
                RETURNING j.fence, {EXPIRES_MS} AS expires_ms
            ), closed AS (
                UPDATE job_runs SET ended_at = now(), outcome = 'taken_over'
                WHERE stage = $1 AND take_id = $2 AND ended_at IS NULL
                  AND EXISTS (SELECT 1 FROM taken)
            ), opened AS (
                INSERT INTO job_runs (fence, stage, take_id, attempt, worker)
                SELECT fence, $1, $2, $3, $4 FROM taken
            )
            SELECT fence, expires_ms FROM taken"
        );
        let row = sqlx::query(&sql)
            .bind(key.stage.as_str())
            .bind(&key.take_id)
            .bind(i32::try_from(headers.attempt).unwrap_or(i32::MAX))
            .bind(holder)
            .bind(seconds(ttl))
            .bind(headers_json(headers))
            .bind(body)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        if let Some(row) = row {
            let fence = fence_of(row.try_get("fence").map_err(store_error)?)?;
            return Ok(Acquire::Acquired(Lease {
                key: key.clone(),
                fence,
                expires_at: time_of(row.try_get("expires_ms").map_err(store_error)?),
                handed_back: false,
                headers: headers.clone(),
                body: body.to_vec(),
            }));
        }
        // Busy: who holds it, for the log.
        let holder = sqlx::query(&format!(
            "SELECT fence, {EXPIRES_MS} AS expires_ms FROM jobs WHERE stage = $1 AND take_id = $2"
        ))
        .bind(key.stage.as_str())
        .bind(&key.take_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        match holder {
            Some(row) => Ok(Acquire::Busy {
                fence: fence_of(row.try_get("fence").map_err(store_error)?)?,
                expires_at: time_of(
                    row.try_get::<Option<i64>, _>("expires_ms")
                        .map_err(store_error)?
                        .unwrap_or(0),
                ),
            }),
            None => Err(LeaseError(format!(
                "the {} job of take {} was neither taken nor held",
                key.stage, key.take_id
            ))),
        }
    }

    async fn renew(
        &self,
        key: &LeaseKey,
        fence: u64,
        ttl: Duration,
        progress: f64,
    ) -> Result<bool, LeaseError> {
        #[allow(clippy::cast_possible_truncation)] // 0–1: f32 is plenty
        let progress = progress.clamp(0.0, 1.0) as f32;
        let renewed = sqlx::query(
            "UPDATE jobs SET lease_expires = now() + make_interval(secs => $4),
                             progress = $5, updated_at = now()
             WHERE stage = $1 AND take_id = $2 AND fence = $3 AND state = 'running'",
        )
        .bind(key.stage.as_str())
        .bind(&key.take_id)
        .bind(fence_param(fence))
        .bind(seconds(ttl))
        .bind(progress)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(renewed.rows_affected() == 1)
    }

    async fn hand_back(
        &self,
        key: &LeaseKey,
        fence: u64,
        ttl: Duration,
    ) -> Result<Option<u64>, LeaseError> {
        let row = sqlx::query(
            "WITH handed AS (
                UPDATE jobs SET state = 'queued', fence = nextval('job_fence'), holder = NULL,
                                lease_expires = now() + make_interval(secs => $4),
                                updated_at = now()
                WHERE stage = $1 AND take_id = $2 AND fence = $3 AND lease_expires IS NOT NULL
                RETURNING fence
            ), closed AS (
                UPDATE job_runs SET ended_at = now(), outcome = 'handed_back'
                WHERE fence = $3 AND ended_at IS NULL AND EXISTS (SELECT 1 FROM handed)
            )
            SELECT fence FROM handed",
        )
        .bind(key.stage.as_str())
        .bind(&key.take_id)
        .bind(fence_param(fence))
        .bind(seconds(ttl))
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.map(|row| fence_of(row.try_get("fence").map_err(store_error)?))
            .transpose()
    }

    async fn release(
        &self,
        key: &LeaseKey,
        fence: u64,
        finish: &Finish,
    ) -> Result<bool, LeaseError> {
        let state = finish.state();
        let row = sqlx::query(
            "WITH done AS (
                UPDATE jobs SET state = $4, holder = NULL, lease_expires = NULL,
                    updated_at = now(),
                    progress = CASE WHEN $4 = 'succeeded' THEN 1 ELSE progress END,
                    finished_at = CASE WHEN $4 IN ('succeeded', 'dead') THEN now()
                                       ELSE finished_at END,
                    last_error = CASE WHEN $4 = 'succeeded' THEN NULL
                                      ELSE coalesce($5, last_error) END
                WHERE stage = $1 AND take_id = $2 AND fence = $3 AND lease_expires IS NOT NULL
                RETURNING fence
            ), closed AS (
                UPDATE job_runs SET ended_at = now(), outcome = $4, error = $5
                WHERE fence = $3 AND ended_at IS NULL AND EXISTS (SELECT 1 FROM done)
            )
            SELECT fence FROM done",
        )
        .bind(key.stage.as_str())
        .bind(&key.take_id)
        .bind(fence_param(fence))
        .bind(state)
        .bind(finish.error())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(row.is_some())
    }

    async fn claim_expired(
        &self,
        stage: Stage,
        ttl: Duration,
        limit: usize,
    ) -> Result<Vec<Lease>, LeaseError> {
        // SKIP LOCKED: a row another sweeper (or an acquisition) is changing
        // is left to it; a row it changed no longer looks expired.
        let rows = sqlx::query(&format!(
            "WITH expired AS (
                SELECT stage, take_id, fence AS old_fence, state AS old_state FROM jobs
                WHERE stage = $1 AND lease_expires IS NOT NULL AND lease_expires <= now()
                ORDER BY lease_expires
                LIMIT $3
                FOR UPDATE SKIP LOCKED
            ), claimed AS (
                UPDATE jobs j SET state = 'queued', fence = nextval('job_fence'), holder = NULL,
                                  lease_expires = now() + make_interval(secs => $2),
                                  updated_at = now()
                FROM expired e
                WHERE j.stage = e.stage AND j.take_id = e.take_id
                RETURNING j.take_id, j.fence, e.old_fence, e.old_state, j.headers::text AS headers,
                          j.body, {EXPIRES_MS} AS expires_ms
            ), closed AS (
                UPDATE job_runs r SET ended_at = now(), outcome = 'lost'
                FROM claimed c
                WHERE r.fence = c.old_fence AND r.ended_at IS NULL
            )
            SELECT take_id, fence, old_state, headers, body, expires_ms FROM claimed"
        ))
        .bind(stage.as_str())
        .bind(seconds(ttl))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.into_iter()
            .map(|row| {
                let take_id: String = row.try_get("take_id").map_err(store_error)?;
                let old_state: String = row.try_get("old_state").map_err(store_error)?;
                let headers: String = row.try_get("headers").map_err(store_error)?;
                Ok(Lease {
                    key: LeaseKey { stage, take_id },
                    fence: fence_of(row.try_get("fence").map_err(store_error)?)?,
                    expires_at: time_of(row.try_get("expires_ms").map_err(store_error)?),
                    handed_back: old_state == "queued",
                    headers: headers_from(&headers)?,
                    body: row.try_get("body").map_err(store_error)?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_through_their_stored_form() {
        let headers = Headers::new("take-1")
            .with_attempt(3)
            .with_replay(true)
            .with_traceparent(Some("00-1-2-01".into()));
        assert_eq!(headers_from(&headers_json(&headers)), Ok(headers.clone()));
        let mut headers = headers;
        headers.tracestate = Some("vendor=1".into());
        assert_eq!(headers_from(&headers_json(&headers)), Ok(headers));
        assert!(headers_from("{}").is_err());
    }
}
