//! A fresh database per test on the test server
//! (`MOOCPIPE_TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`; `scripts/postgres.sh
//! ensure` starts one). Dropped with the value.

use std::hash::{BuildHasher, RandomState};
use std::time::SystemTime;

use sqlx::{Connection, PgConnection};

/// The test server's administrative database.
pub const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Where the tests find it.
pub const ENV_TEST_DATABASE_URL: &str = "MOOCPIPE_TEST_DATABASE_URL";

/// A database of its own, created empty on the test server.
#[derive(Debug)]
pub struct TestDatabase {
    admin_url: String,
    pub name: String,
    /// Its URL, for `MOOCPIPE_DATABASE_URL` or [`crate::connect`].
    pub url: String,
}

/// `url` with its database (the path) replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

impl TestDatabase {
    /// Creates `moocpipe_test_<random>`. Panics, saying how to start a
    /// server, when none answers (tests only).
    pub async fn create() -> TestDatabase {
        let admin_url = std::env::var(ENV_TEST_DATABASE_URL)
            .unwrap_or_else(|_| DEFAULT_TEST_DATABASE_URL.to_owned());
        let random = RandomState::new().hash_one(SystemTime::now());
        let name = format!("moocpipe_test_{random:016x}");
        let mut admin = match PgConnection::connect(&admin_url).await {
            Ok(connection) => connection,
            Err(error) => panic!(
                "PostgreSQL is not reachable at {} ({error}). Start it with \
                 `scripts/postgres.sh ensure`, or point {ENV_TEST_DATABASE_URL} at one.",
                moocpipe_broker::redact_url(&admin_url)
            ),
        };
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        let _ = admin.close().await;
        let url = with_database(&admin_url, &name);
        TestDatabase {
            admin_url,
            name,
            url,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // A runtime of its own on a thread of its own: Drop may run inside
        // or outside a tokio runtime.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async move {
                let mut admin = PgConnection::connect(&admin_url).await.ok()?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await
                    .ok()?;
                admin.close().await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("could not drop the test database {}", self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_is_swapped_and_the_rest_kept() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "t2"),
            "postgres://u:p@h/t2?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "t3"),
            "postgres://h:5432/t3"
        );
    }
}
