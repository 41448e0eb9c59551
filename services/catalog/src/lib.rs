//! The catalog `moocpipe serve` reads: one row per take, per course and per
//! course material, the users who may log in and their sessions.
//!
//! The take and course rows are a *projection* of the store: records under
//! `takes/<id>/records/`, the course index, report and material records
//! under `courses/`.
//! [`sync`] reads them and upserts the row, so the catalog can always be
//! rebuilt from the store and a second sync of the same take changes
//! nothing. The distributed `serve` syncs a take on every event the
//! pipeline publishes about it; the embedded one scans its data folder.
//!
//! One schema and one set of queries for both backends (sqlx's `any`
//! driver): PostgreSQL in the distributed mode (the control plane's
//! database, tables prefixed `catalog_`), SQLite in the data folder
//! (`<data>/catalog.sqlite`) in the embedded one. Times are integer
//! milliseconds since the Unix epoch, written by the catalog's process.

mod courses;
mod error;
pub mod links;
mod materials;
mod schema;
pub mod state;
pub mod sync;
mod takes;
pub mod users;

pub use courses::{CourseInfo, CourseRow, CourseSummary};
pub use error::CatalogError;
pub use links::{IssuedLink, Link, LinkKey, LinkScope, LinkSettings};
pub use state::TakeState;
pub use takes::{Page, Paged, RuleCount, StateCount, TakeFilter, TakeRow, TakeSummary};
pub use users::{Role, Session, User};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::AnyPool;
use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The embedded catalog's file in the data folder.
pub const SQLITE_FILE: &str = "catalog.sqlite";

const MAX_CONNECTIONS: u32 = 8;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Which database holds the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// A connection pool to the catalog, with its schema in place.
#[derive(Clone, Debug)]
pub struct Catalog {
    pool: AnyPool,
    backend: Backend,
}

impl Catalog {
    /// Opens the catalog at `url` (`postgres://…` or `sqlite://…`) and
    /// creates its tables when they are missing.
    pub async fn open(url: &str) -> Result<Catalog, CatalogError> {
        sqlx::any::install_default_drivers();
        let shown = redact(url);
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(CatalogError::Url {
                url: shown,
                why: "the catalog is a postgres:// or sqlite:// URL".into(),
            });
        };
        let options = AnyConnectOptions::from_str(url).map_err(|e| CatalogError::Url {
            url: shown.clone(),
            why: e.to_string(),
        })?;
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Postgres => MAX_CONNECTIONS,
                // One writer at a time in SQLite; readers share the WAL.
                Backend::Sqlite => 4,
            })
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|source| CatalogError::Connect { url: shown, source })?;
        let catalog = Catalog { pool, backend };
        // SQLite: another process (a server, a second `users add`) may
        // hold the file for a moment while it creates the tables or
        // switches to WAL; that is a wait, not an error.
        let mut tries = 0;
        loop {
            match schema::create(&catalog).await {
                Err(CatalogError::Query(e))
                    if backend == Backend::Sqlite && is_busy(&e) && tries < 50 =>
                {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => break other?,
            }
        }
        Ok(catalog)
    }

    /// The embedded catalog: `<data>/catalog.sqlite`, created when missing.
    pub async fn open_local(data: &Path) -> Result<Catalog, CatalogError> {
        std::fs::create_dir_all(data).map_err(|source| CatalogError::Io {
            path: data.display().to_string(),
            source,
        })?;
        let file = data.join(SQLITE_FILE);
        Catalog::open(&format!("sqlite://{}?mode=rwc", file.display())).await
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// One round trip, for `/healthz`.
    pub async fn ping(&self) -> Result<(), CatalogError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// SQLite's "database is locked" (SQLITE_BUSY, code 5).
fn is_busy(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.code().as_deref() == Some("5"))
}

/// Now, in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A URL with its password replaced, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_password_in_a_url_is_hidden() {
        assert_eq!(
            super::redact("postgres://u:secret@db/x"),
            "postgres://u:***@db/x"
        );
        assert_eq!(super::redact("sqlite://a/b"), "sqlite://a/b");
    }
}
