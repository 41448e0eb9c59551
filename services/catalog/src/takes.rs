//! Take rows: written by [`crate::sync`], read by the dashboard.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sqlx::FromRow;

use crate::{Catalog, CatalogError};

/// A take as the lists show it: where it sits and how far it got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, FromRow, JsonSchema)]
pub struct TakeSummary {
    pub take_id: String,
    pub course: String,
    /// `lecture`, `promo` or `closing`.
    pub kind: String,
    pub module: Option<i64>,
    pub module_name: Option<String>,
    pub lesson: Option<i64>,
    pub lesson_name: Option<String>,
    /// The file's stem, e.g. `take-03`.
    pub take: String,
    pub title: String,
    pub size_bytes: i64,
    /// One of [`crate::state::ALL`], e.g. `published`.
    pub state: String,
    /// The spec verdict: `pass`, `fail`, `cannot-tell`, `error`; absent
    /// before the probe.
    pub spec: Option<String>,
    /// The rule ids the take fails, space-separated.
    pub failed_rules: String,
    /// Suggested F-10 scores (0–3), once QC ran.
    pub sound_score: Option<i64>,
    pub image_score: Option<i64>,
    /// 1 when the author's notice went out.
    pub notice_sent: i64,
    pub probed_ms: Option<i64>,
    pub updated_ms: i64,
}

/// A take's whole row: its summary and its records as stored (JSON).
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct TakeRow {
    #[sqlx(flatten)]
    pub summary: TakeSummary,
    pub take_key: String,
    pub first_seen_ms: i64,
    pub ingest: String,
    pub probe: Option<String>,
    pub qc: Option<String>,
    pub transcode: Option<String>,
    pub caption: Option<String>,
    pub published: Option<String>,
    /// A JSON object: stage → its failure record.
    pub failures: Option<String>,
}

/// Which takes a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TakeFilter {
    pub course: Option<String>,
    pub state: Option<String>,
}

/// One page of a list: 1-based `page`, at most [`Page::MAX_PER_PAGE`] items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub page: u32,
    pub per_page: u32,
}

impl Page {
    pub const MAX_PER_PAGE: u32 = 500;
    pub const DEFAULT_PER_PAGE: u32 = 50;

    /// A page within bounds: page ≥ 1, 1 ≤ per_page ≤ 500.
    pub fn new(page: Option<u32>, per_page: Option<u32>) -> Page {
        Page {
            page: page.unwrap_or(1).max(1),
            per_page: per_page
                .unwrap_or(Page::DEFAULT_PER_PAGE)
                .clamp(1, Page::MAX_PER_PAGE),
        }
    }

    fn offset(self) -> i64 {
        (i64::from(self.page) - 1) * i64::from(self.per_page)
    }
}

impl Default for Page {
    fn default() -> Self {
        Page::new(None, None)
    }
}

/// A page of items and how many there are in all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub page: u32,
    pub per_page: u32,
    pub total: i64,
}

/// Takes in one state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, FromRow, JsonSchema)]
pub struct StateCount {
    pub state: String,
    pub takes: i64,
}

/// Takes that failed one spec rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, FromRow, JsonSchema)]
pub struct RuleCount {
    pub rule: String,
    pub takes: i64,
}

const SUMMARY: &str = "take_id, course, kind, module, module_name, lesson, lesson_name, take,
    title, size_bytes, state, spec, failed_rules, sound_score, image_score, notice_sent,
    probed_ms, updated_ms";

/// Lectures by module, lesson and take; promo and closing (no module) first.
const IN_COURSE_ORDER: &str = "COALESCE(module, -1), COALESCE(lesson, -1), take, take_id";

impl Catalog {
    /// Writes a take's row (and its failed rules) in one transaction. The
    /// first time the take and its probe were seen stay as first written.
    pub async fn upsert_take(
        &self,
        row: &TakeRow,
        failed_rules: &[String],
    ) -> Result<(), CatalogError> {
        let s = &row.summary;
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO catalog_takes (take_id, course, kind, module, module_name, lesson,
                lesson_name, take, title, take_key, size_bytes, state, spec, failed_rules,
                sound_score, image_score, notice_sent, first_seen_ms, probed_ms, updated_ms,
                ingest, probe, qc, transcode, caption, published, failures)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27)
             ON CONFLICT (take_id) DO UPDATE SET
                course = excluded.course, kind = excluded.kind, module = excluded.module,
                module_name = excluded.module_name, lesson = excluded.lesson,
                lesson_name = excluded.lesson_name, take = excluded.take,
                title = excluded.title, take_key = excluded.take_key,
                size_bytes = excluded.size_bytes, state = excluded.state,
                spec = excluded.spec, failed_rules = excluded.failed_rules,
                sound_score = excluded.sound_score, image_score = excluded.image_score,
                notice_sent = excluded.notice_sent,
                probed_ms = COALESCE(catalog_takes.probed_ms, excluded.probed_ms),
                updated_ms = excluded.updated_ms, ingest = excluded.ingest,
                probe = excluded.probe, qc = excluded.qc, transcode = excluded.transcode,
                caption = excluded.caption, published = excluded.published,
                failures = excluded.failures",
        )
        .bind(&s.take_id)
        .bind(&s.course)
        .bind(&s.kind)
        .bind(s.module)
        .bind(&s.module_name)
        .bind(s.lesson)
        .bind(&s.lesson_name)
        .bind(&s.take)
        .bind(&s.title)
        .bind(&row.take_key)
        .bind(s.size_bytes)
        .bind(&s.state)
        .bind(&s.spec)
        .bind(&s.failed_rules)
        .bind(s.sound_score)
        .bind(s.image_score)
        .bind(s.notice_sent)
        .bind(row.first_seen_ms)
        .bind(s.probed_ms)
        .bind(s.updated_ms)
        .bind(&row.ingest)
        .bind(&row.probe)
        .bind(&row.qc)
        .bind(&row.transcode)
        .bind(&row.caption)
        .bind(&row.published)
        .bind(&row.failures)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM catalog_rule_failures WHERE take_id = $1")
            .bind(&s.take_id)
            .execute(&mut *tx)
            .await?;
        let probed_ms = s.probed_ms.unwrap_or(s.updated_ms);
        for rule in failed_rules {
            sqlx::query(
                "INSERT INTO catalog_rule_failures (take_id, rule, probed_ms)
                 SELECT $1, $2, COALESCE(probed_ms, $3) FROM catalog_takes WHERE take_id = $1",
            )
            .bind(&s.take_id)
            .bind(rule)
            .bind(probed_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// One take's whole row.
    pub async fn take(&self, take_id: &str) -> Result<Option<TakeRow>, CatalogError> {
        let sql = format!(
            "SELECT {SUMMARY}, take_key, first_seen_ms, ingest, probe, qc, transcode, caption,
                published, failures
             FROM catalog_takes WHERE take_id = $1"
        );
        Ok(sqlx::query_as::<_, TakeRow>(&sql)
            .bind(take_id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// A page of takes, newest first (by last change).
    pub async fn takes(
        &self,
        filter: &TakeFilter,
        page: Page,
    ) -> Result<Paged<TakeSummary>, CatalogError> {
        let mut conditions = Vec::new();
        let mut binds = Vec::new();
        if let Some(course) = &filter.course {
            binds.push(course.clone());
            conditions.push(format!("course = ${}", binds.len()));
        }
        if let Some(state) = &filter.state {
            binds.push(state.clone());
            conditions.push(format!("state = ${}", binds.len()));
        }
        let filter_sql = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let count_sql = format!("SELECT COUNT(*) FROM catalog_takes {filter_sql}");
        let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
        for bind in &binds {
            count = count.bind(bind);
        }
        let total = count.fetch_one(self.pool()).await?;
        let list_sql = format!(
            "SELECT {SUMMARY} FROM catalog_takes {filter_sql}
             ORDER BY updated_ms DESC, take_id LIMIT {} OFFSET {}",
            page.per_page,
            page.offset()
        );
        let mut list = sqlx::query_as::<_, TakeSummary>(&list_sql);
        for bind in &binds {
            list = list.bind(bind);
        }
        Ok(Paged {
            items: list.fetch_all(self.pool()).await?,
            page: page.page,
            per_page: page.per_page,
            total,
        })
    }

    /// Every take of a course, in course order.
    pub async fn course_takes(&self, course: &str) -> Result<Vec<TakeSummary>, CatalogError> {
        let sql = format!(
            "SELECT {SUMMARY} FROM catalog_takes WHERE course = $1 ORDER BY {IN_COURSE_ORDER}"
        );
        Ok(sqlx::query_as::<_, TakeSummary>(&sql)
            .bind(course)
            .fetch_all(self.pool())
            .await?)
    }

    /// Takes per state (states with none are left out).
    pub async fn state_counts(&self) -> Result<Vec<StateCount>, CatalogError> {
        Ok(sqlx::query_as::<_, StateCount>(
            "SELECT state, COUNT(*) AS takes FROM catalog_takes GROUP BY state",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// Spec rules failed by takes probed since `since_ms`, most failed first.
    pub async fn failing_rules_since(&self, since_ms: i64) -> Result<Vec<RuleCount>, CatalogError> {
        Ok(sqlx::query_as::<_, RuleCount>(
            "SELECT rule, COUNT(*) AS takes FROM catalog_rule_failures WHERE probed_ms >= $1
             GROUP BY rule ORDER BY COUNT(*) DESC, rule",
        )
        .bind(since_ms)
        .fetch_all(self.pool())
        .await?)
    }

    /// The ids of every take the catalog holds.
    pub async fn take_ids(&self) -> Result<Vec<String>, CatalogError> {
        Ok(
            sqlx::query_scalar::<_, String>("SELECT take_id FROM catalog_takes ORDER BY take_id")
                .fetch_all(self.pool())
                .await?,
        )
    }
}
