//! The S3 backend (distributed mode): one bucket of any S3-compatible
//! store, AWS or self-hosted (Garage, MinIO, Ceph RGW), through
//! `aws-sdk-s3`.

mod classify;
mod config;
mod multipart;
mod upload;

pub use config::{
    S3Config, S3Timeouts, ENV_ACCESS_KEY_ID, ENV_BUCKET, ENV_CONNECT_TIMEOUT, ENV_ENDPOINT,
    ENV_MAX_ATTEMPTS, ENV_OPERATION_TIMEOUT, ENV_PATH_STYLE, ENV_PUBLIC_ENDPOINT, ENV_READ_TIMEOUT,
    ENV_REGION, ENV_SECRET_ACCESS_KEY, ENV_TRANSFER_TIMEOUT,
};

pub use upload::{part_size, UploadedPart, MAX_PARTS, MAX_PART_SIZE, MIN_PART_SIZE};

use crate::object::{
    check_expiry, check_key, check_prefix, ListPage, ListedObject, ObjectMeta, ObjectStore,
    LIST_PAGE_SIZE,
};
use crate::{ObjectReader, StorageError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::Client;
use classify::{sdk_error, Request};
use std::path::Path;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// A bucket on an S3-compatible store. Cloning is cheap (the SDK client is
/// shared), so a worker can hand one to each task.
#[derive(Clone)]
pub struct S3Store {
    client: Client,
    /// The same connections with the longer `transfer` time-outs, for
    /// file uploads.
    transfer: Client,
    bucket: String,
    endpoint: Option<String>,
    timeouts: S3Timeouts,
    /// Presigns for the address browsers reach the store at, when it is
    /// not the one the workers use (`MOOCPIPE_S3_PUBLIC_ENDPOINT`).
    presigner: Option<Client>,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl S3Store {
    /// Builds the client; no request is made (see [`S3Store::check`]).
    pub fn new(config: &S3Config) -> Result<Self, StorageError> {
        config.validate()?;
        Ok(S3Store {
            client: config.client(),
            transfer: config.transfer_client(),
            bucket: config.bucket.clone(),
            endpoint: config.endpoint.clone(),
            timeouts: config.timeouts,
            presigner: None,
        })
    }

    /// Presigned URLs name `endpoint` (`http(s)://host[:port]`) instead of
    /// the endpoint requests go to: in a Compose stack the workers reach
    /// the store as `garage:3900`, a browser as the host's public name.
    /// Requests are still made to the configured endpoint. `None` leaves
    /// the store as it is.
    pub fn with_public_endpoint(
        mut self,
        config: &S3Config,
        endpoint: Option<String>,
    ) -> Result<Self, StorageError> {
        let Some(endpoint) = endpoint.filter(|e| !e.trim().is_empty()) else {
            return Ok(self);
        };
        let public = S3Config {
            endpoint: Some(endpoint.trim().trim_end_matches('/').to_owned()),
            ..config.clone()
        };
        public.validate().map_err(|e| StorageError::Config {
            message: format!("{ENV_PUBLIC_ENDPOINT}: {e}"),
        })?;
        self.presigner = Some(public.client());
        Ok(self)
    }

    /// [`S3Store::new`] from the `MOOCPIPE_S3_*` variables ([`S3Config::from_env`]).
    pub fn from_env() -> Result<Self, StorageError> {
        Self::new(&S3Config::from_env()?)
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The SDK client, for what this interface does not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Proves the bucket exists and the credentials reach it, so a worker
    /// fails at start with `NoSuchBucket` or `AccessDenied` rather than on
    /// its first message.
    pub async fn check(&self) -> Result<(), StorageError> {
        match self.client.head_bucket().bucket(&self.bucket).send().await {
            Ok(_) => Ok(()),
            // HEAD has no body: a bare 404 here is the bucket.
            Err(e) => match sdk_error(e, self.request("head_bucket", "")) {
                StorageError::NotFound { .. } => Err(StorageError::NoSuchBucket {
                    bucket: self.bucket.clone(),
                }),
                other => Err(other),
            },
        }
    }

    /// The client presigned URLs are made with (the public endpoint's,
    /// when there is one): they name its endpoint.
    fn presigner(&self) -> &Client {
        self.presigner.as_ref().unwrap_or(&self.client)
    }

    fn request<'a>(&'a self, operation: &'static str, key: &'a str) -> Request<'a> {
        Request::new(operation, &self.bucket, key)
    }

    async fn get_object(
        &self,
        key: &str,
        range: Option<String>,
        request: Request<'_>,
    ) -> Result<aws_sdk_s3::operation::get_object::GetObjectOutput, StorageError> {
        self.client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_range(range)
            .set_if_match(request.if_match.map(|etag| format!("\"{etag}\"")))
            .send()
            .await
            .map_err(|e| sdk_error(e, request))
    }

    /// [`StorageError::Changed`] unless a response's ETag (`found`, quoted)
    /// is the `expected` one (when one is asked for).
    fn check_version(
        &self,
        key: &str,
        expected: Option<&str>,
        found: Option<&str>,
    ) -> Result<(), StorageError> {
        let Some(expected) = expected else {
            return Ok(());
        };
        let found = found.map(|e| e.trim_matches('"').to_string());
        if found.as_deref() == Some(expected) {
            return Ok(());
        }
        Err(StorageError::Changed {
            location: self.location(key),
            expected_etag: expected.to_string(),
            found_etag: found,
        })
    }

    /// A ranged GET, its body read within the `operation` time-out (the
    /// SDK's own time-outs end with the response's headers).
    async fn read_range(&self, request: Request<'_>, len: u64) -> Result<Vec<u8>, StorageError> {
        let key = request.key;
        if len == 0 {
            // `bytes=start-(start-1)` is not a range; nothing to read anyway.
            return Ok(Vec::new());
        }
        let start = request.start;
        let end = start.saturating_add(len - 1);
        let read = async {
            let object = self
                .get_object(key, Some(format!("bytes={start}-{end}")), request)
                .await?;
            // Belt and braces: a store that ignored `If-Match` still
            // names the version it answered from.
            self.check_version(key, request.if_match, object.e_tag())?;
            object
                .body
                .collect()
                .await
                .map_err(|e| body_error(self, key, e))
        };
        match tokio::time::timeout(self.timeouts.operation, read).await {
            Ok(bytes) => Ok(bytes?.into_bytes().to_vec()),
            Err(_) => Err(StorageError::Transient {
                message: format!(
                    "{} s3://{}/{key} (bytes {start}-{end}): timed out after {:?}",
                    request.operation, self.bucket, self.timeouts.operation
                ),
            }),
        }
    }

    /// One PUT of a whole (small) object's `size` bytes, with the
    /// transfer time-outs.
    async fn put_transfer(
        &self,
        key: &str,
        body: ByteStream,
        size: u64,
        content_type: &str,
    ) -> Result<(), StorageError> {
        self.transfer
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(i64::try_from(size).unwrap_or(i64::MAX))
            .body(body)
            .send()
            .await
            .map_err(|e| sdk_error(e, self.request("put_object", key)))?;
        Ok(())
    }

    /// Streams a response body into `file`; returns the bytes written.
    async fn write_body(
        &self,
        key: &str,
        mut body: ByteStream,
        file: &mut tokio::fs::File,
        path: &Path,
    ) -> Result<u64, StorageError> {
        let mut written = 0u64;
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|e| body_error(self, key, e))?
        {
            file.write_all(&chunk)
                .await
                .map_err(|e| StorageError::io(path, &e))?;
            written += chunk.len() as u64;
        }
        file.sync_all()
            .await
            .map_err(|e| StorageError::io(path, &e))?;
        Ok(written)
    }
}

/// How long a presigned URL lives: at most 7 days, in every backend.
fn presigning(expiry: Duration) -> Result<PresigningConfig, StorageError> {
    check_expiry(expiry)?;
    PresigningConfig::expires_in(expiry).map_err(|e| StorageError::Config {
        message: format!("presigning for {expiry:?}: {e}"),
    })
}

/// A body cut off mid-way: the network, so worth a retry.
fn body_error(store: &S3Store, key: &str, err: impl std::fmt::Display) -> StorageError {
    StorageError::Transient {
        message: format!("reading s3://{}/{key}: {err}", store.bucket),
    }
}

impl ObjectStore for S3Store {
    fn location(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    async fn put_bytes(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), StorageError> {
        check_key(key)?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(i64::try_from(bytes.len()).unwrap_or(i64::MAX))
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| sdk_error(e, self.request("put_object", key)))?;
        Ok(())
    }

    /// One span per upload (`upload`: key, bytes; its time is the
    /// upload's), under the job's.
    #[tracing::instrument(name = "upload", skip(self, path, content_type), fields(bytes = tracing::field::Empty))]
    async fn put_file(
        &self,
        key: &str,
        path: &Path,
        content_type: &str,
    ) -> Result<(), StorageError> {
        check_key(key)?;
        let meta = tokio::fs::metadata(path)
            .await
            .map_err(|e| StorageError::io(path, &e))?;
        if !meta.is_file() {
            return Err(StorageError::Io {
                path: path.to_path_buf(),
                message: "not a regular file: nothing to upload".into(),
            });
        }
        let size = meta.len();
        tracing::Span::current().record("bytes", size);
        if size > multipart::MIN_PART_SIZE {
            return multipart::upload(
                &self.client,
                &self.transfer,
                &self.bucket,
                key,
                path,
                size,
                content_type,
            )
            .await;
        }
        let body = ByteStream::read_from()
            .path(path)
            .length(Length::Exact(size))
            .buffer_size(multipart::READ_BUFFER)
            .build()
            .await
            .map_err(|e| StorageError::Io {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        self.put_transfer(key, body, size, content_type).await
    }

    async fn get_bytes(&self, key: &str) -> Result<Vec<u8>, StorageError> {
        check_key(key)?;
        let object = self
            .get_object(key, None, self.request("get_object", key))
            .await?;
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| body_error(self, key, e))?;
        Ok(bytes.into_bytes().to_vec())
    }

    async fn get_range(&self, key: &str, start: u64, len: u64) -> Result<Vec<u8>, StorageError> {
        check_key(key)?;
        let request = Request {
            start,
            ..self.request("get_object (range)", key)
        };
        self.read_range(request, len).await
    }

    async fn get_range_if_match(
        &self,
        key: &str,
        start: u64,
        len: u64,
        etag: &str,
    ) -> Result<Vec<u8>, StorageError> {
        check_key(key)?;
        let request = Request {
            start,
            if_match: Some(etag),
            ..self.request("get_object (range, If-Match)", key)
        };
        self.read_range(request, len).await
    }

    async fn download_to(&self, key: &str, path: &Path) -> Result<u64, StorageError> {
        check_key(key)?;
        let object = self
            .get_object(key, None, self.request("get_object", key))
            .await?;
        let expected = object.content_length().and_then(|n| u64::try_from(n).ok());
        let dir = path.parent().unwrap_or(Path::new("."));
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| StorageError::io(dir, &e))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let tmp = dir.join(format!(
            ".{name}.{}.{}.download",
            std::process::id(),
            crate::local::unique()
        ));
        let result = async {
            let mut file = tokio::fs::File::create(&tmp)
                .await
                .map_err(|e| StorageError::io(&tmp, &e))?;
            let written = self.write_body(key, object.body, &mut file, &tmp).await?;
            if expected.is_some_and(|n| n != written) {
                return Err(body_error(
                    self,
                    key,
                    format!("{written} bytes received of {expected:?}"),
                ));
            }
            tokio::fs::rename(&tmp, path)
                .await
                .map_err(|e| StorageError::io(path, &e))?;
            Ok(written)
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result
    }

    /// The GET's headers within the `operation` time-out, then each chunk
    /// of its body within the `read` one (a body of any length streams on
    /// as long as bytes keep coming).
    async fn read_object(
        &self,
        key: &str,
        etag: Option<&str>,
    ) -> Result<ObjectReader, StorageError> {
        check_key(key)?;
        let request = Request {
            if_match: etag,
            ..self.request("get_object (whole)", key)
        };
        let object =
            tokio::time::timeout(self.timeouts.operation, self.get_object(key, None, request))
                .await
                .map_err(|_| StorageError::Transient {
                    message: format!(
                        "get_object s3://{}/{key}: no answer within {:?}",
                        self.bucket, self.timeouts.operation
                    ),
                })??;
        self.check_version(key, etag, object.e_tag())?;
        Ok(ObjectReader::s3(
            object.body,
            self.timeouts.read,
            self.location(key),
        ))
    }

    /// One span per upload (`upload`: key, bytes), as `put_file`.
    #[tracing::instrument(name = "upload", skip(self, reader, content_type), fields(bytes = size))]
    async fn put_reader(
        &self,
        key: &str,
        mut reader: ObjectReader,
        size: u64,
        content_type: &str,
    ) -> Result<(), StorageError> {
        check_key(key)?;
        if size > multipart::MIN_PART_SIZE {
            return multipart::upload_reader(
                &self.client,
                &self.transfer,
                &self.bucket,
                key,
                reader,
                size,
                content_type,
            )
            .await;
        }
        // One part's worth at most: read whole, then one PUT.
        let mut body = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        let mut rest = bytes::Bytes::new();
        let len = usize::try_from(size).unwrap_or(usize::MAX);
        reader.fill(&mut body, len, &mut rest).await?;
        let more = !rest.is_empty() || reader.next_chunk().await?.is_some();
        if body.len() as u64 != size || more {
            return Err(multipart::wrong_length(key, &reader, size));
        }
        self.put_transfer(key, ByteStream::from(body), size, content_type)
            .await
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StorageError> {
        check_key(key)?;
        let head = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        match head {
            Ok(out) => Ok(Some(ObjectMeta {
                size: out
                    .content_length()
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or(0),
                etag: out
                    .e_tag()
                    .unwrap_or_default()
                    .trim_matches('"')
                    .to_string(),
                content_type: out.content_type().map(str::to_string),
                modified: out
                    .last_modified()
                    .and_then(|time| std::time::SystemTime::try_from(*time).ok()),
            })),
            // A bodiless 404 is a missing key or a missing bucket; ask.
            Err(e) => match sdk_error(e, self.request("head_object", key)) {
                StorageError::NotFound { .. } => self.check().await.map(|()| None),
                other => Err(other),
            },
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        check_prefix(prefix)?;
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_error(e, self.request("list_objects_v2", prefix)))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
        }
        keys.sort();
        Ok(keys)
    }

    async fn list_page(
        &self,
        prefix: &str,
        continuation: Option<String>,
    ) -> Result<ListPage, StorageError> {
        check_prefix(prefix)?;
        let page = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .max_keys(i32::try_from(LIST_PAGE_SIZE).unwrap_or(1000))
            .set_continuation_token(continuation)
            .send()
            .await
            .map_err(|e| sdk_error(e, self.request("list_objects_v2", prefix)))?;
        let objects = page
            .contents()
            .iter()
            .filter_map(|o| {
                Some(ListedObject {
                    key: o.key()?.to_string(),
                    etag: o.e_tag().unwrap_or_default().trim_matches('"').to_string(),
                    size: o.size().and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
                })
            })
            .collect();
        let next = match page.is_truncated() {
            Some(true) => page.next_continuation_token().map(str::to_string),
            _ => None,
        };
        Ok(ListPage { objects, next })
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        check_key(key)?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| sdk_error(e, self.request("delete_object", key)))?;
        Ok(())
    }

    async fn presign_get(&self, key: &str, expiry: Duration) -> Result<String, StorageError> {
        check_key(key)?;
        let presigning = presigning(expiry)?;
        let request = self
            .presigner()
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(presigning)
            .await
            .map_err(|e| sdk_error(e, self.request("presign get_object", key)))?;
        Ok(request.uri().to_string())
    }
}
