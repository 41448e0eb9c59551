//! Course materials: one row per material of a course, its record as
//! stored (`courses/<course>/material-records/<id>.json`) and the columns
//! the course page and the stable link look it up by.

use moocpipe_proto::MaterialRecord;
use sqlx::FromRow;

use crate::{now_ms, Catalog, CatalogError};

#[derive(FromRow)]
struct RecordRow {
    record: String,
}

fn parse(row: RecordRow) -> Result<MaterialRecord, CatalogError> {
    serde_json::from_str(&row.record).map_err(|e| CatalogError::Record {
        location: "catalog_materials".into(),
        what: "material",
        why: e.to_string(),
    })
}

impl Catalog {
    /// Makes the course's materials exactly `records`: rows of materials
    /// no longer recorded go, the others are written whole. One
    /// transaction, so a reader sees the old list or the new one.
    pub async fn replace_materials(
        &self,
        course: &str,
        records: &[MaterialRecord],
    ) -> Result<(), CatalogError> {
        let now = now_ms();
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM catalog_materials WHERE course = $1")
            .bind(course)
            .execute(&mut *tx)
            .await?;
        for record in records {
            let text = serde_json::to_string(record).map_err(|e| CatalogError::Record {
                location: format!("material {} of {course}", record.path),
                what: "material",
                why: e.to_string(),
            })?;
            sqlx::query(
                "INSERT INTO catalog_materials (course, path, verdict, declared, detected,
                    size_bytes, object_key, error, record, updated_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(course)
            .bind(&record.path)
            .bind(record.verdict.as_str())
            .bind(record.declared.map(|t| t.as_str()))
            .bind(record.detected.map(|t| t.as_str()))
            .bind(i64::try_from(record.size_bytes).unwrap_or(i64::MAX))
            .bind(record.object.as_ref().map(|o| o.key.as_str()))
            .bind(record.error.as_ref().map(|e| e.message.as_str()))
            .bind(text)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A course's materials, by path.
    pub async fn course_materials(
        &self,
        course: &str,
    ) -> Result<Vec<MaterialRecord>, CatalogError> {
        sqlx::query_as::<_, RecordRow>(
            "SELECT record FROM catalog_materials WHERE course = $1 ORDER BY path",
        )
        .bind(course)
        .fetch_all(self.pool())
        .await?
        .into_iter()
        .map(parse)
        .collect()
    }

    /// The published material whose copy is the object `key`.
    pub async fn material_by_object(
        &self,
        key: &str,
    ) -> Result<Option<MaterialRecord>, CatalogError> {
        sqlx::query_as::<_, RecordRow>(
            "SELECT record FROM catalog_materials WHERE object_key = $1 AND verdict = 'ok'",
        )
        .bind(key)
        .fetch_optional(self.pool())
        .await?
        .map(parse)
        .transpose()
    }
}
