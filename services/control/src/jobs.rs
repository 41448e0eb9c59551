//! Reading job state: what the dashboard (and the tests) ask of the
//! `jobs` and `job_runs` tables.

use sqlx::{FromRow, PgPool};

use crate::ControlError;

/// One job: a stage of a take, as `jobs` holds it. Times are milliseconds
/// since the Unix epoch, by the database's clock.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct JobRow {
    pub stage: String,
    pub take_id: String,
    /// `queued`, `running`, `succeeded`, `retrying` or `dead`.
    pub state: String,
    pub attempt: i32,
    pub fence: i64,
    /// `host:pid` of the worker running it.
    pub holder: Option<String>,
    /// `None` when nobody holds the job.
    pub lease_expires_ms: Option<i64>,
    pub progress: f32,
    pub started_ms: Option<i64>,
    pub updated_ms: i64,
    pub finished_ms: Option<i64>,
    pub last_error: Option<String>,
}

/// One run of a job: an acquisition by a worker.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct JobRunRow {
    pub fence: i64,
    pub attempt: i32,
    pub worker: String,
    pub started_ms: i64,
    pub ended_ms: Option<i64>,
    /// `None` while it runs; then `succeeded`, `retrying`, `dead`,
    /// `handed_back`, `lost` or `taken_over`.
    pub outcome: Option<String>,
    pub error: Option<String>,
}

fn ms(column: &str) -> String {
    format!("(extract(epoch FROM {column}) * 1000)::bigint")
}

/// The job of `stage` for `take_id`, if it was ever accepted.
pub async fn job(
    pool: &PgPool,
    stage: &str,
    take_id: &str,
) -> Result<Option<JobRow>, ControlError> {
    let sql = format!(
        "SELECT stage, take_id, state, attempt, fence, holder, {} AS lease_expires_ms, progress,
                {} AS started_ms, {} AS updated_ms, {} AS finished_ms, last_error
         FROM jobs WHERE stage = $1 AND take_id = $2",
        ms("lease_expires"),
        ms("started_at"),
        ms("updated_at"),
        ms("finished_at"),
    );
    Ok(sqlx::query_as::<_, JobRow>(&sql)
        .bind(stage)
        .bind(take_id)
        .fetch_optional(pool)
        .await?)
}

/// The runs of the job of `stage` for `take_id`, oldest first.
pub async fn job_runs(
    pool: &PgPool,
    stage: &str,
    take_id: &str,
) -> Result<Vec<JobRunRow>, ControlError> {
    let sql = format!(
        "SELECT fence, attempt, worker, {} AS started_ms, {} AS ended_ms, outcome, error
         FROM job_runs WHERE stage = $1 AND take_id = $2 ORDER BY fence",
        ms("started_at"),
        ms("ended_at"),
    );
    Ok(sqlx::query_as::<_, JobRunRow>(&sql)
        .bind(stage)
        .bind(take_id)
        .fetch_all(pool)
        .await?)
}

fn job_columns() -> String {
    format!(
        "stage, take_id, state, attempt, fence, holder, {} AS lease_expires_ms, progress,
         {} AS started_ms, {} AS updated_ms, {} AS finished_ms, last_error",
        ms("lease_expires"),
        ms("started_at"),
        ms("updated_at"),
        ms("finished_at"),
    )
}

/// Jobs running, retrying or queued now, longest-running first (at most
/// `limit`).
pub async fn active_jobs(pool: &PgPool, limit: i64) -> Result<Vec<JobRow>, ControlError> {
    let sql = format!(
        "SELECT {} FROM jobs WHERE state IN ('running', 'retrying', 'queued')
         ORDER BY started_at NULLS LAST, stage, take_id LIMIT $1",
        job_columns()
    );
    Ok(sqlx::query_as::<_, JobRow>(&sql)
        .bind(limit)
        .fetch_all(pool)
        .await?)
}

/// Every job of a take, in the pipeline's order of creation.
pub async fn take_jobs(pool: &PgPool, take_id: &str) -> Result<Vec<JobRow>, ControlError> {
    let sql = format!(
        "SELECT {} FROM jobs WHERE take_id = $1 ORDER BY created_at, stage",
        job_columns()
    );
    Ok(sqlx::query_as::<_, JobRow>(&sql)
        .bind(take_id)
        .fetch_all(pool)
        .await?)
}

/// How many jobs are dead (dead-lettered and not replayed).
pub async fn dead_jobs(pool: &PgPool) -> Result<i64, ControlError> {
    Ok(
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM jobs WHERE state = 'dead'")
            .fetch_one(pool)
            .await?,
    )
}

/// Whether the take's probe job is running or waiting to (the catalog's
/// "probing").
pub async fn probe_pending(pool: &PgPool, take_id: &str) -> Result<bool, ControlError> {
    Ok(sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM jobs WHERE stage = 'probe' AND take_id = $1
         AND state IN ('running', 'retrying', 'queued')",
    )
    .bind(take_id)
    .fetch_one(pool)
    .await?
        > 0)
}
