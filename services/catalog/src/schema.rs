//! The catalog's tables: the same statements for PostgreSQL and SQLite
//! (types both read alike: TEXT, BIGINT, DOUBLE PRECISION). Created when
//! missing; the version row says which schema a database holds, so a later
//! change can add its own steps.

use crate::{Backend, Catalog, CatalogError};

/// The schema these statements make.
pub const VERSION: i64 = 1;

const TABLES: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS catalog_meta (
        name  TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )",
    // One row per take version: a projection of its records.
    "CREATE TABLE IF NOT EXISTS catalog_takes (
        take_id       TEXT PRIMARY KEY,
        course        TEXT NOT NULL,
        kind          TEXT NOT NULL,
        module        BIGINT,
        module_name   TEXT,
        lesson        BIGINT,
        lesson_name   TEXT,
        take          TEXT NOT NULL,
        title         TEXT NOT NULL,
        take_key      TEXT NOT NULL,
        size_bytes    BIGINT NOT NULL,
        state         TEXT NOT NULL,
        spec          TEXT,
        failed_rules  TEXT NOT NULL,
        sound_score   BIGINT,
        image_score   BIGINT,
        notice_sent   BIGINT NOT NULL,
        first_seen_ms BIGINT NOT NULL,
        probed_ms     BIGINT,
        updated_ms    BIGINT NOT NULL,
        ingest        TEXT NOT NULL,
        probe         TEXT,
        qc            TEXT,
        transcode     TEXT,
        caption       TEXT,
        published     TEXT,
        failures      TEXT
    )",
    "CREATE INDEX IF NOT EXISTS catalog_takes_course
        ON catalog_takes (course, module, lesson, take)",
    "CREATE INDEX IF NOT EXISTS catalog_takes_state ON catalog_takes (state)",
    // The spec rules a take failed, for 'failing rules this week'.
    "CREATE TABLE IF NOT EXISTS catalog_rule_failures (
        take_id   TEXT NOT NULL,
        rule      TEXT NOT NULL,
        probed_ms BIGINT NOT NULL,
        PRIMARY KEY (take_id, rule)
    )",
    "CREATE INDEX IF NOT EXISTS catalog_rule_failures_time
        ON catalog_rule_failures (probed_ms)",
    "CREATE TABLE IF NOT EXISTS catalog_courses (
        course      TEXT PRIMARY KEY,
        title       TEXT,
        launch_date TEXT,
        report      TEXT,
        rules_total   BIGINT NOT NULL,
        rules_failed  BIGINT NOT NULL,
        video_seconds DOUBLE PRECISION,
        updated_ms  BIGINT NOT NULL
    )",
    // Course materials (`materials.rs`): a record each, looked up by
    // course for the course page and by its copy's key for its link.
    "CREATE TABLE IF NOT EXISTS catalog_materials (
        course      TEXT NOT NULL,
        path        TEXT NOT NULL,
        verdict     TEXT NOT NULL,
        declared    TEXT,
        detected    TEXT,
        size_bytes  BIGINT NOT NULL,
        object_key  TEXT,
        error       TEXT,
        record      TEXT NOT NULL,
        updated_ms  BIGINT NOT NULL,
        PRIMARY KEY (course, path)
    )",
    "CREATE INDEX IF NOT EXISTS catalog_materials_object ON catalog_materials (object_key)",
    "CREATE TABLE IF NOT EXISTS catalog_users (
        name          TEXT PRIMARY KEY,
        role          TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_ms    BIGINT NOT NULL
    )",
    // Stable links (`links.rs`): a token is known by its SHA-256 only.
    "CREATE TABLE IF NOT EXISTS catalog_links (
        link_id      TEXT PRIMARY KEY,
        token_hash   TEXT NOT NULL UNIQUE,
        kind         TEXT NOT NULL,
        subject      TEXT NOT NULL,
        course       TEXT NOT NULL,
        generation   BIGINT NOT NULL,
        created_ms   BIGINT NOT NULL,
        expires_ms   BIGINT NOT NULL,
        revoked_ms   BIGINT,
        downloads    BIGINT NOT NULL,
        last_used_ms BIGINT
    )",
    "CREATE INDEX IF NOT EXISTS catalog_links_scope ON catalog_links (kind, subject, generation)",
    // A session is known by the SHA-256 of its cookie: a stolen database
    // gives no usable cookie.
    "CREATE TABLE IF NOT EXISTS catalog_sessions (
        token_hash TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        role       TEXT NOT NULL,
        csrf       TEXT NOT NULL,
        expires_ms BIGINT NOT NULL
    )",
];

/// Creates what is missing. In PostgreSQL, under an advisory lock, so
/// several servers starting at once do not race on `CREATE TABLE`.
pub async fn create(catalog: &Catalog) -> Result<(), CatalogError> {
    let mut conn = catalog.pool().acquire().await?;
    match catalog.backend() {
        Backend::Postgres => {
            // (Selected through a subquery: the `any` driver reads no `void`.)
            sqlx::query("SELECT 1 FROM (SELECT pg_advisory_lock(72311)) AS l")
                .execute(&mut *conn)
                .await?;
        }
        Backend::Sqlite => {
            // Readers (the server) and a writer (a `process` run) at once.
            // Switching needs the database to itself, so only when it is
            // not WAL already (a second process opening it is the norm).
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(&mut *conn)
                .await?;
            if !mode.eq_ignore_ascii_case("wal") {
                sqlx::query("PRAGMA journal_mode=WAL")
                    .execute(&mut *conn)
                    .await?;
            }
        }
    }
    let mut result = Ok(());
    for statement in TABLES {
        if let Err(e) = sqlx::query(statement).execute(&mut *conn).await {
            result = Err(e.into());
            break;
        }
    }
    if result.is_ok() {
        result = sqlx::query(
            "INSERT INTO catalog_meta (name, value) VALUES ('schema', $1)
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(VERSION.to_string())
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(Into::into);
    }
    if catalog.backend() == Backend::Postgres {
        sqlx::query("SELECT 1 FROM (SELECT pg_advisory_unlock(72311)) AS l")
            .execute(&mut *conn)
            .await?;
    }
    result
}
