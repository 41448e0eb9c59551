//! The store side of course materials, for both runners: `process` calls
//! it for each material its walk finds, the distributed ingest for each
//! material object of the raw bucket. Where the bytes come from is the
//! caller's (a file, ranged GETs pinned to an ETag); what is decided and
//! stored is the same.
//!
//! A material is checked once per version of its file: its record
//! (`courses/<course>/material-records/<id>.json`) names the version it
//! checked, and a record of the same version whose copy is still what it
//! names makes a second run change nothing. Otherwise the first
//! [`HEAD_BYTES`] are checked against the type the name claims
//! (`moocpipe_ingest::filetype`); a material that passes is copied to
//! `courses/<course>/materials/<path>` with the media type of its verified
//! type, described by a HEAD, and its record written last. One that fails
//! is recorded with its error, nothing copied (and the copy of an earlier,
//! good version removed: the record is what the course page and the
//! stable link go by).

use moocpipe_ingest::filetype::{self, HEAD_BYTES};
use moocpipe_ingest::material_id;
use moocpipe_proto::{
    MaterialError, MaterialRecord, MaterialVerdict, StoredObject, SCHEMA_VERSION,
};
use moocpipe_storage::layout;
use moocpipe_storage::{ObjectStore, StorageError};
use std::future::Future;

use crate::PipelineError;

/// One material, wherever it is read from.
#[derive(Debug, Clone, Copy)]
pub struct MaterialSource<'a> {
    /// The course folder's name.
    pub course: &'a str,
    /// Its path below the course folder, `/`-separated.
    pub path: &'a str,
    /// Where it is read, as messages name it: the path as given, or
    /// `s3://bucket/key`.
    pub location: &'a str,
    /// The version read: an ETag, or size and modification time.
    pub version: &'a str,
    pub size_bytes: u64,
}

/// A material's record, and whether it was found already made for this
/// version (nothing read, nothing written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub record: MaterialRecord,
    pub reused: bool,
}

/// The record's key of a material.
pub fn record_key(course: &str, path: &str) -> String {
    layout::material_record(course, &material_id(course, path))
}

/// Checks and publishes one material (see the module docs). `read_head`
/// gives the first [`HEAD_BYTES`] of the source (fewer only when it is
/// shorter); `copy(key, content_type)` copies the whole source to `key` of
/// `store`, streaming it. Neither is called for a version already
/// recorded, unless `force`. An error of the store or the source is
/// returned, nothing recorded: the next run (or the job's retry) tries
/// again.
#[tracing::instrument(name = "material", skip_all, fields(course = source.course, path = source.path))]
pub async fn publish<S, H, C, CF>(
    store: &S,
    source: MaterialSource<'_>,
    read_head: H,
    copy: C,
    force: bool,
) -> Result<Published, PipelineError>
where
    S: ObjectStore,
    H: Future<Output = Result<Vec<u8>, StorageError>>,
    C: FnOnce(String, String) -> CF,
    CF: Future<Output = Result<(), StorageError>>,
{
    let record_key = record_key(source.course, source.path);
    let recorded = match store.get_json::<MaterialRecord>(&record_key).await {
        Ok(record) => record,
        // An unreadable record is made again.
        Err(StorageError::BadRecord { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    if let Some(record) = recorded.as_ref().filter(|_| !force) {
        if record.source_version == source.version && still_published(store, record).await? {
            tracing::debug!("material recorded earlier");
            return Ok(Published {
                record: record.clone(),
                reused: true,
            });
        }
    }

    let head = if source.size_bytes == 0 {
        Vec::new()
    } else {
        read_head.await?
    };
    let mut record = MaterialRecord {
        schema_version: SCHEMA_VERSION,
        course: source.course.to_owned(),
        path: source.path.to_owned(),
        source: source.location.to_owned(),
        source_version: source.version.to_owned(),
        size_bytes: source.size_bytes,
        declared: None,
        detected: None,
        detected_media_type: None,
        verdict: MaterialVerdict::Error,
        content_type: None,
        object: None,
        error: None,
    };
    let head = &head[..head.len().min(HEAD_BYTES as usize)];
    match filetype::check(source.location, source.size_bytes, head) {
        Err(error) => {
            tracing::info!(%error, "material not published");
            record.declared = error.declared();
            record.detected = error.detected();
            record.detected_media_type = error.detected_media_type().map(str::to_owned);
            record.error = Some(MaterialError {
                kind: error.kind(),
                message: error.to_string(),
            });
            // An earlier version's copy is not what this record says.
            if let Some(old) = recorded.and_then(|r| r.object) {
                store.delete(&old.key).await?;
            }
        }
        Ok(checked) => {
            let key = layout::material_object(source.course, source.path);
            copy(key.clone(), checked.content_type.clone()).await?;
            let meta = store
                .head(&key)
                .await?
                .ok_or_else(|| PipelineError::Missing {
                    location: store.location(&key),
                })?;
            if meta.size != source.size_bytes {
                return Err(PipelineError::Differs {
                    location: store.location(&key),
                    expected: format!(
                        "{} bytes (the source changed while it was copied?)",
                        source.size_bytes
                    ),
                    found: format!("{} bytes", meta.size),
                });
            }
            tracing::info!(bytes = meta.size, r#type = %checked.detected, "material published");
            record.declared = Some(checked.declared);
            record.detected = Some(checked.detected);
            record.detected_media_type = Some(checked.detected_media_type);
            record.verdict = MaterialVerdict::Ok;
            record.content_type = Some(checked.content_type);
            record.object = Some(StoredObject {
                key,
                size_bytes: meta.size,
                etag: meta.etag,
            });
        }
    }
    store.put_json(&record_key, &record).await?;
    Ok(Published {
        record,
        reused: false,
    })
}

/// Whether a record's copy (if it has one) is still there as recorded.
async fn still_published<S: ObjectStore>(
    store: &S,
    record: &MaterialRecord,
) -> Result<bool, PipelineError> {
    let Some(object) = &record.object else {
        return Ok(record.verdict == MaterialVerdict::Error);
    };
    Ok(store
        .head(&object.key)
        .await?
        .is_some_and(|meta| meta.size == object.size_bytes && meta.etag == object.etag))
}
