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
