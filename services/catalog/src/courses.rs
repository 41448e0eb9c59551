//! Course rows: the segment report and the optional `course.json`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sqlx::FromRow;

use crate::takes::{Page, Paged};
use crate::{Catalog, CatalogError};

pub use moocpipe_proto::CourseInfo;

/// A course's row.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct CourseRow {
    pub course: String,
    pub title: Option<String>,
    pub launch_date: Option<String>,
    /// The segment report (`segments.json`) as stored.
    pub report: Option<String>,
    pub rules_total: i64,
    pub rules_failed: i64,
    pub video_seconds: Option<f64>,
    pub updated_ms: i64,
}

/// A course as the course list shows it: its readiness and its takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, FromRow, JsonSchema)]
pub struct CourseSummary {
    pub course: String,
    pub title: Option<String>,
    pub launch_date: Option<String>,
    /// Course rules (clauses 8.1–8.6, F-01 item 14, F-08) in the last
    /// segment report, and how many of them fail; 0 and 0 before one.
    pub rules_total: i64,
    pub rules_failed: i64,
    /// Counted video of the course, seconds.
    pub video_seconds: Option<f64>,
    pub takes: i64,
    pub published: i64,
    pub failed_spec: i64,
    /// Takes that could not be checked or were dead-lettered.
    pub errors: i64,
}

const SUMMARY: &str = "c.course, c.title, c.launch_date, c.rules_total, c.rules_failed,
    c.video_seconds,
    COUNT(t.take_id) AS takes,
    COALESCE(SUM(CASE WHEN t.state = 'published' THEN 1 ELSE 0 END), 0) AS published,
    COALESCE(SUM(CASE WHEN t.state = 'failed_spec' THEN 1 ELSE 0 END), 0) AS failed_spec,
    COALESCE(SUM(CASE WHEN t.state IN ('error', 'dead_lettered') THEN 1 ELSE 0 END), 0) AS errors";

impl Catalog {
    pub async fn upsert_course(&self, row: &CourseRow) -> Result<(), CatalogError> {
        sqlx::query(
            "INSERT INTO catalog_courses (course, title, launch_date, report, rules_total,
                rules_failed, video_seconds, updated_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (course) DO UPDATE SET title = excluded.title,
                launch_date = excluded.launch_date, report = excluded.report,
                rules_total = excluded.rules_total, rules_failed = excluded.rules_failed,
                video_seconds = excluded.video_seconds, updated_ms = excluded.updated_ms",
        )
        .bind(&row.course)
        .bind(&row.title)
        .bind(&row.launch_date)
        .bind(&row.report)
        .bind(row.rules_total)
        .bind(row.rules_failed)
        .bind(row.video_seconds)
        .bind(row.updated_ms)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn course(&self, course: &str) -> Result<Option<CourseRow>, CatalogError> {
        Ok(sqlx::query_as::<_, CourseRow>(
            "SELECT course, title, launch_date, report, rules_total, rules_failed,
                video_seconds, updated_ms
             FROM catalog_courses WHERE course = $1",
        )
        .bind(course)
        .fetch_optional(self.pool())
        .await?)
    }

    /// A course's summary row, if the course is known.
    pub async fn course_summary(
        &self,
        course: &str,
    ) -> Result<Option<CourseSummary>, CatalogError> {
        let sql = format!(
            "SELECT {SUMMARY} FROM catalog_courses c
             LEFT JOIN catalog_takes t ON t.course = c.course
             WHERE c.course = $1
             GROUP BY c.course, c.title, c.launch_date, c.rules_total, c.rules_failed,
                c.video_seconds"
        );
        Ok(sqlx::query_as::<_, CourseSummary>(&sql)
            .bind(course)
            .fetch_optional(self.pool())
            .await?)
    }

    /// A page of courses in name order.
    pub async fn courses(&self, page: Page) -> Result<Paged<CourseSummary>, CatalogError> {
        let total = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM catalog_courses")
            .fetch_one(self.pool())
            .await?;
        let sql = format!(
            "SELECT {SUMMARY} FROM catalog_courses c
             LEFT JOIN catalog_takes t ON t.course = c.course
             GROUP BY c.course, c.title, c.launch_date, c.rules_total, c.rules_failed,
                c.video_seconds
             ORDER BY c.course LIMIT {} OFFSET {}",
            page.per_page,
            (i64::from(page.page) - 1) * i64::from(page.per_page)
        );
        Ok(Paged {
            items: sqlx::query_as::<_, CourseSummary>(&sql)
                .fetch_all(self.pool())
                .await?,
            page: page.page,
            per_page: page.per_page,
            total,
        })
    }
}
