//! The studio's uploads from the browser (distributed mode): the server
//! checks where a take goes and what its sidecar says — with the ingest's
//! own rules — writes the sidecar, and starts a multipart upload in the
//! raw bucket; the browser then sends the parts straight to the bucket
//! through presigned URLs (the bytes never pass through this server),
//! asks which parts the bucket holds to resume after a reload, and has the
//! server complete the upload, which sends the ingest job at once.
//!
//! ```text
//!  browser ── POST /api/v1/uploads {course, kind, module, lesson, file, sidecar fields}
//!          ◀── 422 (layout / sidecar / size) | 409 (a take of that name exists)
//!          ◀── {key, upload_id, part_size}      server: sidecar written, CreateMultipartUpload
//!          ── POST /api/v1/uploads/{id}/parts {key, part_numbers} ◀── presigned PUT URLs
//!          ── PUT part → raw bucket (CORS), 4 at a time
//!          ── GET  /api/v1/uploads/{id}/parts?key=      ◀── ListParts (resume: only the rest is sent)
//!          ── POST /api/v1/uploads/{id}/complete {key, size, parts}
//!          ◀── {take_id}                        server: checks the parts, CompleteMultipartUpload, ingest job
//!          ── GET /api/v1/takes/{take_id} until the probe's verdict is there
//! ```
//!
//! The server keeps no state of its own between the calls: the store's
//! upload (its id, key and parts) is the state, so a server restart or a
//! second server behind a proxy changes nothing.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use moocpipe_catalog::Session;
use moocpipe_ingest::{place_object, RawObject};
use moocpipe_proto::TakeKind;
use moocpipe_storage::{ObjectStore, S3Store, StorageError, UploadedPart, MAX_PARTS};
use prometheus::{IntCounter, IntCounterVec, Opts, Registry};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{ApiError, ErrorKind};
use crate::SharedApp;

/// The largest take the page accepts (the studio records 1–50 GB).
pub const MAX_TAKE_BYTES: u64 = 50 * 1024 * 1024 * 1024;
/// The smallest part the server hands out by default; larger takes get
/// larger parts (at most 10,000 of them).
pub const DEFAULT_PART_MIB: u64 = 16;
/// How long a presigned part URL lives. The page asks for URLs just before
/// it sends the parts, and asks again when one has expired.
pub const PART_URL_TTL: Duration = Duration::from_secs(3600);
/// Part URLs given in one answer at most.
pub const MAX_URLS_PER_CALL: usize = 100;

/// Sends the ingest job of a raw object (the distributed runner's
/// `submit`, handed in by the binary so this crate needs no broker code of
/// its own); answers the take id.
pub trait Ingest: Send + Sync {
    fn submit<'a>(
        &'a self,
        key: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>>;
}

/// What the upload path needs: the raw bucket through a key that may
/// write it, and the ingest.
pub struct UploadConfig {
    pub store: S3Store,
    /// Parts are at least this large (S3's minimum, 5 MiB, at least).
    pub min_part_bytes: u64,
    pub ingest: Arc<dyn Ingest>,
}

/// The upload path of a running server.
pub struct Uploads {
    pub config: UploadConfig,
    metrics: UploadMetrics,
}

impl Uploads {
    pub fn new(config: UploadConfig, registry: &Registry) -> Uploads {
        Uploads {
            config,
            metrics: UploadMetrics::register(registry),
        }
    }

    fn store(&self) -> &S3Store {
        &self.config.store
    }
}

/// Uploads by step and the bytes completed, on the server's `/metrics`.
/// Labels are steps only: never a key, a course or a user.
struct UploadMetrics {
    uploads: Option<IntCounterVec>,
    bytes: Option<IntCounter>,
}

const STEPS: [&str; 4] = ["started", "completed", "aborted", "refused"];

impl UploadMetrics {
    fn register(registry: &Registry) -> UploadMetrics {
        let uploads = IntCounterVec::new(
            Opts::new(
                "moocpipe_uploads_total",
                "Browser uploads of takes by step: started, completed, aborted, refused (layout, sidecar, size or name)",
            ),
            &["step"],
        )
        .ok()
        .filter(|c| registry.register(Box::new(c.clone())).is_ok());
        if let Some(c) = &uploads {
            for step in STEPS {
                c.with_label_values(&[step]);
            }
        }
        let bytes = IntCounter::new(
            "moocpipe_upload_bytes_total",
            "Bytes of the takes whose browser upload completed",
        )
        .ok()
        .filter(|c| registry.register(Box::new(c.clone())).is_ok());
        UploadMetrics { uploads, bytes }
    }

    fn count(&self, step: &str) {
        if let Some(c) = &self.uploads {
            c.with_label_values(&[step]).inc();
        }
    }

    fn add_bytes(&self, n: u64) {
        if let Some(c) = &self.bytes {
            c.inc_by(n);
        }
    }
}

/// `POST /api/v1/uploads`: where the take goes and what its sidecar says.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUpload {
    /// The course folder, e.g. `physics-101`.
    pub course: String,
    /// `lecture` (in a lesson), `promo` or `closing`.
    pub kind: TakeKind,
    /// A lecture's module folder: `NN`, `NN-name`, `NN_name` or `NN name`.
    #[serde(default)]
    pub module: Option<String>,
    /// A lecture's lesson folder, named like the module's.
    #[serde(default)]
    pub lesson: Option<String>,
    /// The take's file name in the bucket, e.g. `take-01.mov` (mov, mp4,
    /// m4v, mxf, mkv or avi).
    pub file_name: String,
    /// The file's size: 1 byte to 50 GiB.
    pub size_bytes: u64,
    /// Sidecar: the lecture's title.
    #[serde(default)]
    pub title: Option<String>,
    /// Sidecar: the spoken language, `kk`, `ru` or `en`.
    #[serde(default)]
    pub language: Option<String>,
    /// Sidecar: where the author's notice goes.
    #[serde(default)]
    pub author_email: Option<String>,
}

/// A started upload: what the browser keeps to send, resume and complete it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct UploadCreated {
    pub bucket: String,
    /// The take's key in the raw bucket.
    pub key: String,
    pub upload_id: String,
    /// Every part but the last has exactly this size.
    pub part_size_bytes: u64,
    pub parts: u32,
    pub size_bytes: u64,
    /// The sidecar written next to the take.
    pub sidecar_key: String,
    pub course: String,
    pub kind: TakeKind,
    pub module: Option<u32>,
    pub lesson: Option<u32>,
    /// The title the take will have (the sidecar's, else from its folder).
    pub title: String,
}

/// `POST /api/v1/uploads/{upload_id}/parts`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PartsWanted {
    pub key: String,
    /// Part numbers from 1, at most 100 at a time.
    pub part_numbers: Vec<u32>,
}

/// Presigned URLs, one per part asked for.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PartUrls {
    pub urls: Vec<PartUrl>,
    pub expires_in_seconds: u64,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PartUrl {
    pub part_number: u32,
    /// PUT the part's bytes here (the response's `ETag` header names it).
    pub url: String,
}

/// `?key=` of `GET /api/v1/uploads/{upload_id}/parts`.
#[derive(Debug, Clone, Deserialize)]
pub struct KeyQuery {
    key: Option<String>,
}

/// The parts the bucket holds for an unfinished upload.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StoredParts {
    pub key: String,
    pub upload_id: String,
    pub parts: Vec<StoredPart>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct StoredPart {
    pub part_number: u32,
    pub size_bytes: u64,
    /// Without quotes.
    pub etag: String,
}

/// `POST /api/v1/uploads/{upload_id}/complete`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteUpload {
    pub key: String,
    /// The whole file's size: the parts must add up to it.
    pub size_bytes: u64,
    /// The parts as the browser sent them (number and the `ETag` the store
    /// answered); they must be the ones the store holds.
    pub parts: Vec<CompletedPart>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompletedPart {
    pub part_number: u32,
    pub etag: String,
}

/// A finished upload and its take.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct UploadCompleted {
    pub key: String,
    pub take_id: String,
    /// The object's ETag (its version).
    pub etag: String,
    pub size_bytes: u64,
    /// `submitted`: the ingest job went out now; `scan`: the broker did not
    /// take it, the ingest's next scan of the bucket will find the take.
    pub ingest: String,
}

/// `POST /api/v1/uploads/{upload_id}/abort`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AbortUpload {
    pub key: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct UploadAborted {
    pub key: String,
    pub upload_id: String,
    /// Whether the sidecar written for it was removed too.
    pub sidecar_removed: bool,
}

/// The folders a course has in the raw bucket, for the page's choices.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CourseFolders {
    pub course: String,
    pub modules: Vec<ModuleFolder>,
    pub promo: bool,
    pub closing: bool,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ModuleFolder {
    pub folder: String,
    pub lessons: Vec<String>,
}

/// A checked upload: where the take and its sidecar go.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub key: String,
    pub sidecar_key: String,
    pub sidecar: Vec<u8>,
    pub content_type: &'static str,
    pub part_size: u64,
    pub parts: u32,
    pub course: String,
    pub kind: TakeKind,
    pub module: Option<u32>,
    pub lesson: Option<u32>,
    pub title: String,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorKind::Invalid, message)
}

/// One folder or file name of a key: no separators, no control
/// characters, nothing hidden, not `.` or `..`.
fn check_segment(what: &str, value: &str) -> Result<(), ApiError> {
    let problem = if value.trim().is_empty() {
        Some("is empty".to_owned())
    } else if value != value.trim() {
        Some("starts or ends with a space".to_owned())
    } else if value.contains(['/', '\\']) {
        Some("contains a / or \\; give one folder or file name".to_owned())
    } else if value.chars().any(char::is_control) {
        Some("contains a control character".to_owned())
    } else if value.starts_with('.') {
        Some("starts with a dot (hidden files are not takes)".to_owned())
    } else if value.len() > 255 {
        Some("is longer than 255 bytes".to_owned())
    } else {
        None
    };
    match problem {
        Some(p) => Err(invalid(format!("the {what} {value:?} {p}"))),
        None => Ok(()),
    }
}

/// An address the notice can go to: one `@` between two non-empty parts,
/// no spaces.
fn check_email(value: &str) -> Result<(), ApiError> {
    let fits = match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if fits || value.trim().is_empty() {
        // A blank one is the sidecar's rule to refuse, in its words.
        Ok(())
    } else {
        Err(invalid(format!(
            "author_email {value:?} is not an e-mail address (name@university.kz)"
        )))
    }
}

/// Checks a new upload against the course layout and the sidecar rules —
/// the ingest's own code, so a take the page accepts is a take the
/// pipeline places — and works out its key, sidecar and parts.
pub fn plan(request: &NewUpload, bucket: &str, min_part_bytes: u64) -> Result<Plan, ApiError> {
    check_segment("course", &request.course)?;
    check_segment("file name", &request.file_name)?;
    let folders = match request.kind {
        TakeKind::Lecture => {
            let (Some(module), Some(lesson)) = (&request.module, &request.lesson) else {
                return Err(invalid(
                    "a lecture goes in a lesson: give its module and lesson folders (e.g. 01-mechanics and 02-newton)",
                ));
            };
            check_segment("module folder", module)?;
            check_segment("lesson folder", lesson)?;
            format!("{module}/{lesson}")
        }
        TakeKind::Promo | TakeKind::Closing => {
            if request.module.is_some() || request.lesson.is_some() {
                return Err(invalid(format!(
                    "a {} take goes directly in the course's {} folder: leave module and lesson out",
                    kind_name(request.kind),
                    kind_name(request.kind)
                )));
            }
            kind_name(request.kind).to_owned()
        }
    };
    if request.size_bytes == 0 {
        return Err(invalid("the file is empty"));
    }
    if request.size_bytes > MAX_TAKE_BYTES {
        return Err(invalid(format!(
            "the file is {} bytes; takes are at most {MAX_TAKE_BYTES} bytes (50 GiB)",
            request.size_bytes
        )));
    }
    if let Some(email) = &request.author_email {
        check_email(email)?;
    }
    let key = format!("{}/{folders}/{}", request.course, request.file_name);
    let mut sidecar = serde_json::Map::new();
    for (field, value) in [
        ("title", &request.title),
        ("author_email", &request.author_email),
        ("language", &request.language),
    ] {
        if let Some(value) = value {
            sidecar.insert(field.to_owned(), serde_json::Value::String(value.clone()));
        }
    }
    let sidecar = serde_json::to_vec_pretty(&serde_json::Value::Object(sidecar))
        .map_err(|e| ApiError::new(ErrorKind::Internal, e.to_string()))?;
    let object = RawObject {
        bucket,
        key: &key,
        etag: "",
        size_bytes: request.size_bytes,
    };
    let placed = place_object(object, Some(&sidecar)).map_err(|e| invalid(e.to_string()))?;
    let sidecar_key = object
        .sidecar_key()
        .ok_or_else(|| invalid(format!("{key}: a take's name has an extension")))?;
    let part_size = moocpipe_storage::part_size(request.size_bytes, min_part_bytes);
    let parts = request.size_bytes.div_ceil(part_size);
    Ok(Plan {
        content_type: moocpipe_storage::content_type::for_key(&key),
        key,
        sidecar_key,
        sidecar,
        part_size,
        // At most 10,000 (part_size sees to it).
        parts: u32::try_from(parts.min(MAX_PARTS)).unwrap_or(u32::MAX),
        course: placed.course,
        kind: placed.kind,
        module: placed.module,
        lesson: placed.lesson,
        title: placed.title,
    })
}

fn kind_name(kind: TakeKind) -> &'static str {
    match kind {
        TakeKind::Lecture => "lecture",
        TakeKind::Promo => "promo",
        TakeKind::Closing => "closing",
    }
}

/// A key the upload routes may act on: a take's key in the course layout
/// (never any other object of the bucket).
fn check_take_key(bucket: &str, key: &str) -> Result<(), ApiError> {
    let object = RawObject {
        bucket,
        key,
        etag: "",
        size_bytes: 0,
    };
    place_object(object, None)
        .map(|_| ())
        .map_err(|e| invalid(format!("not a take's key: {e}")))
}

/// The server's upload path, or why there is none.
fn uploads(app: &SharedApp) -> Result<&Uploads, ApiError> {
    app.uploads.as_ref().ok_or_else(|| {
        ApiError::new(
            ErrorKind::NotFound,
            "this server has no upload path: uploads from the browser need the distributed mode \
             (moocpipe serve --database-url with an S3 raw bucket); in the embedded mode, put the \
             take in a course folder and run `moocpipe process`",
        )
    })
}

/// What a store error means to the browser.
fn store_error(error: StorageError, what: &str) -> ApiError {
    match &error {
        StorageError::NotFound { .. } => ApiError::not_found(what.to_owned()),
        StorageError::BadKey { .. } => invalid(error.to_string()),
        StorageError::AccessDenied { .. } => {
            tracing::error!(%error, "the server's key may not do this in the raw bucket");
            ApiError::new(
                ErrorKind::Unavailable,
                format!(
                    "the server may not write the raw bucket ({error}); its key is set by \
                     MOOCPIPE_UPLOAD_S3_ACCESS_KEY_ID and MOOCPIPE_UPLOAD_S3_SECRET_ACCESS_KEY"
                ),
            )
        }
        StorageError::Rejected { code, .. }
            if matches!(
                code.as_str(),
                "InvalidPart" | "InvalidPartOrder" | "EntityTooSmall"
            ) =>
        {
            ApiError::new(ErrorKind::Conflict, error.to_string())
        }
        _ if error.is_transient() => {
            tracing::warn!(%error, "raw bucket");
            ApiError::new(
                ErrorKind::Unavailable,
                format!("the raw bucket did not answer; try again: {error}"),
            )
        }
        _ => {
            tracing::error!(%error, "raw bucket");
            ApiError::new(ErrorKind::Unavailable, error.to_string())
        }
    }
}

fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(b)| b)
        .map_err(|e| ApiError::new(ErrorKind::BadRequest, e.body_text()))
}

/// A request about an upload already started, which names its key.
trait AboutKey {
    fn key(&self) -> &str;
}

impl AboutKey for PartsWanted {
    fn key(&self) -> &str {
        &self.key
    }
}

impl AboutKey for CompleteUpload {
    fn key(&self) -> &str {
        &self.key
    }
}

impl AboutKey for AbortUpload {
    fn key(&self) -> &str {
        &self.key
    }
}

/// The upload path and a request about an upload, whose key is checked to
/// be a take's (never any other object of the bucket) and named in the
/// handler's span.
fn about_key<T: AboutKey>(
    app: &SharedApp,
    request: Result<Json<T>, JsonRejection>,
) -> Result<(&Uploads, T), ApiError> {
    let uploads = uploads(app)?;
    let request = body(request)?;
    check_take_key(uploads.store().bucket(), request.key())?;
    tracing::Span::current().record("key", request.key());
    Ok((uploads, request))
}

/// The objects of a take's stem in its folder (`take-01.mov`,
/// `take-01.json`, … for `take-01.mxf`): an earlier take of that name, or
/// its sidecar.
async fn same_stem(store: &S3Store, key: &str) -> Result<Vec<String>, ApiError> {
    let Some((stem, _)) = key.rsplit_once('.') else {
        return Ok(Vec::new());
    };
    let listed = store
        .list(&format!("{stem}."))
        .await
        .map_err(|e| store_error(e, "the raw bucket"))?;
    Ok(listed
        .into_iter()
        .filter(|k| k.rsplit_once('.').is_some_and(|(s, _)| s == stem))
        .collect())
}

fn is_take(key: &str) -> bool {
    moocpipe_ingest::has_take_extension(std::path::Path::new(key))
}

#[tracing::instrument(name = "upload create", skip_all, fields(user = %session.name, key = tracing::field::Empty))]
pub async fn create(
    State(app): State<SharedApp>,
    Extension(session): Extension<Session>,
    request: Result<Json<NewUpload>, JsonRejection>,
) -> Result<Json<UploadCreated>, ApiError> {
    let uploads = uploads(&app)?;
    let request = body(request)?;
    let store = uploads.store();
    let plan = match plan(&request, store.bucket(), uploads.config.min_part_bytes) {
        Ok(plan) => plan,
        Err(error) => {
            uploads.metrics.count("refused");
            return Err(error);
        }
    };
    tracing::Span::current().record("key", plan.key.as_str());
    // A raw take is never replaced: a new take of the same name would
    // overwrite it, and a take of the same stem would share its sidecar.
    if let Some(taken) = same_stem(store, &plan.key)
        .await?
        .into_iter()
        .find(|k| is_take(k))
    {
        uploads.metrics.count("refused");
        return Err(ApiError::new(
            ErrorKind::Conflict,
            format!(
                "s3://{}/{taken} exists already: raw takes are never replaced; give this one \
                 another name (e.g. take-02)",
                store.bucket()
            ),
        ));
    }
    store
        .put_bytes(&plan.sidecar_key, plan.sidecar.clone(), "application/json")
        .await
        .map_err(|e| store_error(e, "the raw bucket"))?;
    let upload_id = store
        .create_upload(&plan.key, plan.content_type)
        .await
        .map_err(|e| store_error(e, "the raw bucket"))?;
    uploads.metrics.count("started");
    tracing::info!(
        upload_id,
        bytes = request.size_bytes,
        parts = plan.parts,
        "upload started"
    );
    Ok(Json(UploadCreated {
        bucket: store.bucket().to_owned(),
        key: plan.key,
        upload_id,
        part_size_bytes: plan.part_size,
        parts: plan.parts,
        size_bytes: request.size_bytes,
        sidecar_key: plan.sidecar_key,
        course: plan.course,
        kind: plan.kind,
        module: plan.module,
        lesson: plan.lesson,
        title: plan.title,
    }))
}

#[tracing::instrument(name = "upload sign parts", skip_all, fields(user = %session.name, key = tracing::field::Empty, upload_id = %upload_id))]
pub async fn sign_parts(
    State(app): State<SharedApp>,
    Extension(session): Extension<Session>,
    Path(upload_id): Path<String>,
    request: Result<Json<PartsWanted>, JsonRejection>,
) -> Result<Json<PartUrls>, ApiError> {
    let (uploads, request) = about_key(&app, request)?;
    let store = uploads.store();
    if request.part_numbers.is_empty() || request.part_numbers.len() > MAX_URLS_PER_CALL {
        return Err(invalid(format!(
            "ask for 1 to {MAX_URLS_PER_CALL} parts at a time"
        )));
    }
    let mut urls = Vec::with_capacity(request.part_numbers.len());
    for &number in &request.part_numbers {
        if number == 0 || u64::from(number) > MAX_PARTS {
            return Err(invalid(format!(
                "part {number}: parts are numbered 1 to {MAX_PARTS}"
            )));
        }
        let url = store
            .presign_part(&request.key, &upload_id, number, PART_URL_TTL)
            .await
            .map_err(|e| store_error(e, "the raw bucket"))?;
        urls.push(PartUrl {
            part_number: number,
            url,
        });
    }
    Ok(Json(PartUrls {
        urls,
        expires_in_seconds: PART_URL_TTL.as_secs(),
    }))
}

fn no_upload(upload_id: &str, key: &str) -> String {
    format!(
        "unfinished upload {upload_id} of {key} (it was completed or aborted, or never started)"
    )
}

#[tracing::instrument(name = "upload list parts", skip_all, fields(user = %session.name, upload_id = %upload_id))]
pub async fn list_parts(
    State(app): State<SharedApp>,
    Extension(session): Extension<Session>,
    Path(upload_id): Path<String>,
    query: Result<Query<KeyQuery>, QueryRejection>,
) -> Result<Json<StoredParts>, ApiError> {
    let uploads = uploads(&app)?;
    let Query(query) = query.map_err(|e| ApiError::new(ErrorKind::BadRequest, e.body_text()))?;
    let key = query
        .key
        .ok_or_else(|| ApiError::new(ErrorKind::BadRequest, "give the upload's key in ?key="))?;
    let store = uploads.store();
    check_take_key(store.bucket(), &key)?;
    let parts = store
        .list_parts(&key, &upload_id)
        .await
        .map_err(|e| store_error(e, &no_upload(&upload_id, &key)))?;
    Ok(Json(StoredParts {
        parts: parts.into_iter().map(stored).collect(),
        key,
        upload_id,
    }))
}

fn stored(p: UploadedPart) -> StoredPart {
    StoredPart {
        part_number: p.number,
        size_bytes: p.size,
        etag: p.etag,
    }
}

/// Whether the parts the store holds make the whole file, as the browser
/// says it sent them: numbers 1..n without a gap, the same ETags, sizes
/// adding up to the file's.
pub fn check_parts(
    held: &[UploadedPart],
    sent: &[CompletedPart],
    size_bytes: u64,
) -> Result<(), String> {
    if held.is_empty() {
        return Err("the bucket holds no part of this upload yet; send them first".to_owned());
    }
    let last = held
        .iter()
        .map(|p| p.number)
        .chain(sent.iter().map(|p| p.part_number))
        .max()
        .unwrap_or(0);
    let missing: Vec<u32> = (1..=last)
        .filter(|n| !held.iter().any(|p| p.number == *n))
        .collect();
    if !missing.is_empty() {
        let shown: Vec<String> = missing.iter().take(20).map(u32::to_string).collect();
        return Err(format!(
            "the bucket does not hold part(s) {}{}; send them, then complete",
            shown.join(", "),
            if missing.len() > shown.len() {
                ", …"
            } else {
                ""
            }
        ));
    }
    for part in sent {
        match held.iter().find(|p| p.number == part.part_number) {
            None => {
                return Err(format!(
                    "part {} was sent but the bucket does not hold it; send it again",
                    part.part_number
                ))
            }
            Some(p) if p.etag != part.etag.trim_matches('"') => {
                return Err(format!(
                    "part {} in the bucket is not the one this browser sent (another upload of \
                     the same file?); send it again",
                    part.part_number
                ))
            }
            Some(_) => {}
        }
    }
    if sent.len() != held.len() {
        return Err(format!(
            "the bucket holds {} parts, the browser sent {}",
            held.len(),
            sent.len()
        ));
    }
    let total: u64 = held.iter().map(|p| p.size).sum();
    if total != size_bytes {
        return Err(format!(
            "the parts hold {total} bytes, the file has {size_bytes}"
        ));
    }
    Ok(())
}

#[tracing::instrument(name = "upload complete", skip_all, fields(user = %session.name, key = tracing::field::Empty, upload_id = %upload_id, take_id = tracing::field::Empty))]
pub async fn complete(
    State(app): State<SharedApp>,
    Extension(session): Extension<Session>,
    Path(upload_id): Path<String>,
    request: Result<Json<CompleteUpload>, JsonRejection>,
) -> Result<Json<UploadCompleted>, ApiError> {
    let (uploads, request) = about_key(&app, request)?;
    let store = uploads.store();
    let key = request.key.as_str();
    let etag = match store.list_parts(key, &upload_id).await {
        Ok(held) => {
            check_parts(&held, &request.parts, request.size_bytes)
                .map_err(|m| ApiError::new(ErrorKind::Conflict, m))?;
            store
                .complete_upload(key, &upload_id, &held)
                .await
                .map_err(|e| store_error(e, &no_upload(&upload_id, key)))?
        }
        // A second call after a first whose answer was lost: the take is
        // there, the same size.
        Err(StorageError::NotFound { .. }) => match store.head(key).await {
            Ok(Some(meta)) if meta.size == request.size_bytes => meta.etag,
            Ok(_) => return Err(ApiError::not_found(no_upload(&upload_id, key))),
            Err(e) => return Err(store_error(e, key)),
        },
        Err(e) => return Err(store_error(e, &no_upload(&upload_id, key))),
    };
    uploads.metrics.count("completed");
    uploads.metrics.add_bytes(request.size_bytes);
    let (take_id, ingest) = match uploads.config.ingest.submit(key).await {
        Ok(take_id) => (take_id, "submitted"),
        Err(error) => {
            tracing::warn!(%error, "the ingest job could not be sent; the next scan will find the take");
            (moocpipe_ingest::take_id(store.bucket(), key, &etag), "scan")
        }
    };
    tracing::Span::current().record("take_id", take_id.as_str());
    tracing::info!(bytes = request.size_bytes, ingest, "upload completed");
    Ok(Json(UploadCompleted {
        key: request.key,
        take_id,
        etag,
        size_bytes: request.size_bytes,
        ingest: ingest.to_owned(),
    }))
}

#[tracing::instrument(name = "upload abort", skip_all, fields(user = %session.name, key = tracing::field::Empty, upload_id = %upload_id))]
pub async fn abort(
    State(app): State<SharedApp>,
    Extension(session): Extension<Session>,
    Path(upload_id): Path<String>,
    request: Result<Json<AbortUpload>, JsonRejection>,
) -> Result<Json<UploadAborted>, ApiError> {
    let (uploads, request) = about_key(&app, request)?;
    let store = uploads.store();
    let key = request.key.as_str();
    store
        .abort_upload(key, &upload_id)
        .await
        .map_err(|e| store_error(e, &no_upload(&upload_id, key)))?;
    uploads.metrics.count("aborted");
    // The sidecar this server wrote goes too, unless a take of its stem
    // made it its own in the meantime.
    let objects = same_stem(store, key).await?;
    let sidecar = RawObject {
        bucket: store.bucket(),
        key,
        etag: "",
        size_bytes: 0,
    }
    .sidecar_key();
    let mut sidecar_removed = false;
    if let Some(sidecar) = sidecar {
        if !objects.iter().any(|k| is_take(k)) && objects.contains(&sidecar) {
            store
                .delete(&sidecar)
                .await
                .map_err(|e| store_error(e, &sidecar))?;
            sidecar_removed = true;
        }
    }
    tracing::info!(sidecar_removed, "upload aborted");
    Ok(Json(UploadAborted {
        key: request.key,
        upload_id,
        sidecar_removed,
    }))
}

/// The module and lesson folders of a course's keys.
pub fn folders_of(course: &str, keys: &[String]) -> CourseFolders {
    let mut modules: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        std::collections::BTreeMap::new();
    let (mut promo, mut closing) = (false, false);
    let prefix = format!("{course}/");
    for key in keys {
        let Some(rest) = key.strip_prefix(&prefix) else {
            continue;
        };
        let parts: Vec<&str> = rest.split('/').collect();
        if !is_take(key) {
            continue;
        }
        match parts.as_slice() {
            [module, lesson, _file] => {
                modules
                    .entry((*module).to_owned())
                    .or_default()
                    .insert((*lesson).to_owned());
            }
            [folder, _file] if folder.eq_ignore_ascii_case("promo") => promo = true,
            [folder, _file] if folder.eq_ignore_ascii_case("closing") => closing = true,
            _ => {}
        }
    }
    CourseFolders {
        course: course.to_owned(),
        modules: modules
            .into_iter()
            .map(|(folder, lessons)| ModuleFolder {
                folder,
                lessons: lessons.into_iter().collect(),
            })
            .collect(),
        promo,
        closing,
    }
}

#[tracing::instrument(name = "upload folders", skip_all, fields(user = %session.name, course = %course))]
pub async fn folders(
    State(app): State<SharedApp>,
    Extension(session): Extension<Session>,
    Path(course): Path<String>,
) -> Result<Json<CourseFolders>, ApiError> {
    let uploads = uploads(&app)?;
    check_segment("course", &course)?;
    let keys = uploads
        .store()
        .list(&format!("{course}/"))
        .await
        .map_err(|e| store_error(e, "the raw bucket"))?;
    Ok(Json(folders_of(&course, &keys)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    fn lecture() -> NewUpload {
        NewUpload {
            course: "physics-101".into(),
            kind: TakeKind::Lecture,
            module: Some("01-mechanics".into()),
            lesson: Some("02-newton".into()),
            file_name: "take-01.mov".into(),
            size_bytes: 12 * MIB,
            title: Some("Newton's laws".into()),
            language: Some("en".into()),
            author_email: Some("lecturer@university.kz".into()),
        }
    }

    #[test]
    fn a_lecture_is_planned_where_the_ingest_will_place_it() {
        let plan = plan(&lecture(), "raw", 5 * MIB).expect("valid");
        assert_eq!(plan.key, "physics-101/01-mechanics/02-newton/take-01.mov");
        assert_eq!(
            plan.sidecar_key,
            "physics-101/01-mechanics/02-newton/take-01.json"
        );
        assert_eq!((plan.module, plan.lesson), (Some(1), Some(2)));
        assert_eq!(plan.title, "Newton's laws");
        assert_eq!(plan.content_type, "video/quicktime");
        assert_eq!((plan.part_size, plan.parts), (5 * MIB, 3));
        let sidecar = moocpipe_ingest::parse_sidecar(std::path::Path::new("s"), &plan.sidecar)
            .expect("the ingest reads the sidecar back");
        assert_eq!(sidecar.language.as_deref(), Some("en"));
        assert_eq!(
            sidecar.author_email.as_deref(),
            Some("lecturer@university.kz")
        );

        let promo = NewUpload {
            kind: TakeKind::Promo,
            module: None,
            lesson: None,
            title: None,
            ..lecture()
        };
        let plan = super::plan(&promo, "raw", 16 * MIB).expect("valid");
        assert_eq!(plan.key, "physics-101/promo/take-01.mov");
        assert_eq!(plan.title, "Promo");
        assert_eq!((plan.part_size, plan.parts), (16 * MIB, 1));
    }

    #[test]
    fn what_the_ingest_would_refuse_is_refused_before_the_upload_with_the_reason() {
        let cases: Vec<(NewUpload, &str)> = vec![
            (
                NewUpload {
                    module: Some("mechanics".into()),
                    ..lecture()
                },
                "the module folder 'mechanics' does not start with a number",
            ),
            (
                NewUpload {
                    lesson: Some("001-intro".into()),
                    ..lecture()
                },
                "starts with 3 digits",
            ),
            (
                NewUpload {
                    lesson: None,
                    ..lecture()
                },
                "a lecture goes in a lesson",
            ),
            (
                NewUpload {
                    kind: TakeKind::Closing,
                    ..lecture()
                },
                "leave module and lesson out",
            ),
            (
                NewUpload {
                    file_name: "notes.txt".into(),
                    ..lecture()
                },
                "not a take",
            ),
            (
                NewUpload {
                    language: Some("fr".into()),
                    ..lecture()
                },
                "expected \"kk\", \"ru\" or \"en\"",
            ),
            (
                NewUpload {
                    title: Some("  ".into()),
                    ..lecture()
                },
                "is blank",
            ),
            (
                NewUpload {
                    author_email: Some("lecturer at uni".into()),
                    ..lecture()
                },
                "not an e-mail address",
            ),
            (
                NewUpload {
                    course: "../etc".into(),
                    ..lecture()
                },
                "contains a / or \\",
            ),
            (
                NewUpload {
                    course: ".hidden".into(),
                    ..lecture()
                },
                "starts with a dot",
            ),
            (
                NewUpload {
                    size_bytes: 0,
                    ..lecture()
                },
                "the file is empty",
            ),
            (
                NewUpload {
                    size_bytes: MAX_TAKE_BYTES + 1,
                    ..lecture()
                },
                "at most",
            ),
        ];
        for (request, says) in cases {
            let error = plan(&request, "raw", 5 * MIB).expect_err(says);
            assert_eq!(error.kind, ErrorKind::Invalid, "{says}");
            assert!(error.message.contains(says), "{says}: {}", error.message);
        }
    }

    #[test]
    fn a_fifty_gb_take_fits_in_ten_thousand_parts() {
        let big = NewUpload {
            size_bytes: 50_000_000_000,
            ..lecture()
        };
        for min in [5 * MIB, 16 * MIB] {
            let plan = plan(&big, "raw", min).expect("valid");
            assert!(u64::from(plan.parts) <= MAX_PARTS);
            assert!(u64::from(plan.parts) * plan.part_size >= big.size_bytes);
            assert!(u64::from(plan.parts - 1) * plan.part_size < big.size_bytes);
        }
    }

    fn held(sizes: &[u64]) -> Vec<UploadedPart> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, size)| UploadedPart {
                number: u32::try_from(i + 1).expect("few"),
                size: *size,
                etag: format!("e{}", i + 1),
            })
            .collect()
    }

    fn sent(n: u32) -> Vec<CompletedPart> {
        (1..=n)
            .map(|number| CompletedPart {
                part_number: number,
                etag: format!("\"e{number}\""),
            })
            .collect()
    }

    #[test]
    fn only_the_whole_file_as_sent_is_completed() {
        let parts = held(&[5, 5, 2]);
        assert_eq!(check_parts(&parts, &sent(3), 12), Ok(()));
        let gap = vec![parts[0].clone(), parts[2].clone()];
        let error = check_parts(&gap, &sent(3), 12).expect_err("part 2 missing");
        assert!(error.contains("part(s) 2"), "{error}");
        let error = check_parts(&parts, &sent(3), 13).expect_err("short");
        assert!(error.contains("12 bytes"), "{error}");
        let mut other = sent(3);
        other[1].etag = "x".into();
        let error = check_parts(&parts, &other, 12).expect_err("replaced");
        assert!(error.contains("part 2"), "{error}");
        let error = check_parts(&parts, &sent(2), 12).expect_err("a part too many");
        assert!(error.contains("holds 3 parts"), "{error}");
    }

    #[test]
    fn a_course_s_folders_come_from_its_takes_keys() {
        let keys: Vec<String> = [
            "physics-101/01-mechanics/01-motion/take-01.mov",
            "physics-101/01-mechanics/01-motion/take-01.json",
            "physics-101/01-mechanics/02-newton/take-01.MXF",
            "physics-101/02/01/a.mp4",
            "physics-101/Promo/trailer.mp4",
            "physics-101/notes.txt",
            "physics-101/01-mechanics/syllabus.pdf",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let folders = folders_of("physics-101", &keys);
        let modules: Vec<(&str, Vec<&str>)> = folders
            .modules
            .iter()
            .map(|m| {
                (
                    m.folder.as_str(),
                    m.lessons.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            modules,
            vec![
                ("01-mechanics", vec!["01-motion", "02-newton"]),
                ("02", vec!["01"]),
            ]
        );
        assert!(folders.promo && !folders.closing);
    }
}
