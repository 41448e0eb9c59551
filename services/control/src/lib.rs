//! The distributed mode's control plane, in PostgreSQL: job leases with
//! fencing tokens ([`PgLeases`], the broker's `LeaseStore`), each job's
//! state and progress (`jobs`) and the history of its runs (`job_runs`),
//! which the dashboard reads ([`jobs`]).
//!
//! Every lease operation is **one SQL statement**, so it is atomic without
//! a transaction held across a network round trip: an acquisition is an
//! `INSERT … ON CONFLICT DO UPDATE … WHERE <not held>`, a renewal or release
//! an `UPDATE … WHERE fence = $token`, a sweep an `UPDATE` over rows picked
//! `FOR UPDATE SKIP LOCKED`. Fencing tokens come from one sequence
//! (`job_fence`), so they strictly increase across every job and worker.
//! Time is the database's `now()`, never a worker's clock.
//!
//! The schema lives in `migrations/`, embedded in the binary and applied by
//! [`connect`] when a worker starts (idempotent; concurrent starts are
//! serialised by sqlx's advisory lock).

pub mod jobs;
mod leases;
pub mod testing;

use std::time::Duration;

use moocpipe_broker::redact_url;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
pub use sqlx::PgPool;

pub use jobs::{
    active_jobs, dead_jobs, job, job_runs, probe_pending, take_jobs, JobRow, JobRunRow,
};
pub use leases::PgLeases;

/// The environment variable naming the control database.
pub const ENV_DATABASE_URL: &str = "MOOCPIPE_DATABASE_URL";

/// How long a worker waits for a connection from its pool (and for the
/// first connection at start) before the operation fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections per process: the worker loop, its renewers and the sweeper
/// take one each for a single statement.
const MAX_CONNECTIONS: u32 = 4;

/// The embedded migrations (`services/control/migrations/`).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// What can go wrong with the control database. No variant carries the
/// database URL's password.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The URL is not a PostgreSQL URL.
    #[error("{url}: not a usable PostgreSQL URL: {source}")]
    Url {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    /// The server did not answer, or refused us.
    #[error("cannot reach the control database at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    /// The schema could not be brought up to date.
    #[error("migrating the control database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A statement failed.
    #[error("control database: {0}")]
    Query(#[from] sqlx::Error),
}

/// Connects to the control database at `url` and applies the migrations.
/// Errors name the URL with its password hidden.
pub async fn connect(url: &str) -> Result<PgPool, ControlError> {
    let shown = redact_url(url);
    let options: PgConnectOptions = url.parse().map_err(|source| ControlError::Url {
        url: shown.clone(),
        source,
    })?;
    let pool = PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|source| ControlError::Connect { url: shown, source })?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}

/// A database URL: its `Debug` and `Display` hide the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        DatabaseUrl(url.into())
    }

    /// The URL with its password, to connect with.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({:?})", redact_url(&self.0))
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

/// One round trip to the database: for `/healthz`.
pub async fn ping(pool: &PgPool) -> Result<(), ControlError> {
    sqlx::query("SELECT 1").execute(pool).await?;
    Ok(())
}
