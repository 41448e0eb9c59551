//! Multipart upload of a large file, streamed from disk part by part.
//!
//! S3 allows at most 10,000 parts of 5 MiB to 5 GiB. Parts here are at
//! least 16 MiB and grow (in whole MiB) so that any file fits in 10,000:
//! 50 GB is 2,981 parts of 16 MiB. Each part's body is read from the file
//! at its offset while it is sent (and re-read if the SDK retries it), so
//! memory stays at a few buffers whatever the file's size. Up to
//! [`PARALLEL_PARTS`] parts are in flight at once.
//!
//! An object streamed from another store ([`upload_reader`]) is read one
//! part at a time into memory instead, two parts in flight.
//!
//! An upload that fails, or whose future is dropped, is aborted: parts of
//! an unfinished upload are invisible but stored (and billed) until then.

use super::classify::{chain, sdk_error, Request};
use crate::{ObjectReader, StorageError};
use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use std::path::{Path, PathBuf};
use tokio::task::JoinSet;

const MIB: u64 = 1024 * 1024;
/// The smallest part, and the size above which a file goes multipart.
pub(crate) const MIN_PART_SIZE: u64 = 16 * MIB;
/// S3's largest object.
const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * MIB;
/// Parts sent at the same time: enough to fill a link to AWS, few enough
/// for a 2-core worker.
const PARALLEL_PARTS: usize = 4;
/// The file read buffer (the SDK's default of 4 KiB costs a lot of CPU on
/// multi-gigabyte files).
pub(crate) const READ_BUFFER: usize = 256 * 1024;

/// The part size for a file of `size` bytes: at least 16 MiB, whole MiB,
/// and large enough that the file fits in 10,000 parts.
pub(crate) fn part_size(size: u64) -> u64 {
    super::upload::part_size(size, MIN_PART_SIZE)
}

/// Uploads `path` (of `size` bytes) to `key` in parts.
/// `client` makes the small calls (create, complete, abort), `transfer`
/// (longer time-outs) sends the parts.
pub(crate) async fn upload(
    client: &Client,
    transfer: &Client,
    bucket: &str,
    key: &str,
    path: &Path,
    size: u64,
    content_type: &str,
) -> Result<(), StorageError> {
    check_size(key, &path.display().to_string(), size)?;
    let pending = create(client, bucket, key, content_type).await?;
    let sent = send_parts(&pending, transfer, path, size).await;
    complete(pending, sent).await
}

/// Uploads the `size` bytes `reader` gives to `key` in parts, read one
/// part at a time: at most [`READER_PARTS_IN_FLIGHT`] parts are being
/// sent while the next one fills, so memory is a few parts (each kept
/// until sent, so the SDK can send it again) whatever the size.
pub(crate) async fn upload_reader(
    client: &Client,
    transfer: &Client,
    bucket: &str,
    key: &str,
    mut reader: ObjectReader,
    size: u64,
    content_type: &str,
) -> Result<(), StorageError> {
    check_size(key, reader.location(), size)?;
    let pending = create(client, bucket, key, content_type).await?;
    let sent = send_reader_parts(&pending, transfer, &mut reader, size).await;
    complete(pending, sent).await
}

/// Parts of a streamed upload sent at once (each is held in memory).
const READER_PARTS_IN_FLIGHT: usize = 2;

fn check_size(key: &str, source: &str, size: u64) -> Result<(), StorageError> {
    if size > MAX_OBJECT_SIZE {
        return Err(StorageError::Rejected {
            operation: "put_file",
            key: key.to_string(),
            status: 0,
            code: "EntityTooLarge".into(),
            message: format!("{source} is {size} bytes; S3 objects end at 5 TiB"),
        });
    }
    Ok(())
}

/// A reader that gave more or fewer bytes than it was said to hold.
pub(crate) fn wrong_length(key: &str, reader: &ObjectReader, size: u64) -> StorageError {
    StorageError::Transient {
        message: format!(
            "{} gave {} bytes or more where {size} were expected; {key} not written",
            reader.location(),
            reader.bytes_read()
        ),
    }
}

async fn create(
    client: &Client,
    bucket: &str,
    key: &str,
    content_type: &str,
) -> Result<PendingUpload, StorageError> {
    let created = client
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .content_type(content_type)
        .send()
        .await
        .map_err(|e| sdk_error(e, Request::new("create_multipart_upload", bucket, key)))?;
    let upload_id = created.upload_id().ok_or_else(|| StorageError::Rejected {
        operation: "create_multipart_upload",
        key: key.to_string(),
        status: 200,
        code: "-".into(),
        message: "the store returned no upload id".into(),
    })?;
    Ok(PendingUpload {
        client: client.clone(),
        bucket: bucket.to_string(),
        key: key.to_string(),
        upload_id: upload_id.to_string(),
        finished: false,
    })
}

/// Completes the upload when every part was `sent`, else aborts it.
async fn complete(
    pending: PendingUpload,
    sent: Result<Vec<CompletedPart>, StorageError>,
) -> Result<(), StorageError> {
    let parts = match sent {
        Ok(parts) => parts,
        Err(err) => {
            pending.abort().await;
            return Err(err);
        }
    };
    let completed = pending
        .client
        .complete_multipart_upload()
        .bucket(&pending.bucket)
        .key(&pending.key)
        .upload_id(&pending.upload_id)
        // Part numbers and ETags only: Garage refuses part checksums
        // here (and none were sent with the parts).
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await;
    match completed {
        Ok(_) => {
            pending.finish();
            Ok(())
        }
        Err(e) => {
            let err = sdk_error(
                e,
                Request::new("complete_multipart_upload", &pending.bucket, &pending.key),
            );
            pending.abort().await;
            Err(err)
        }
    }
}

/// Reads and sends every part of a streamed upload, in order.
async fn send_reader_parts(
    pending: &PendingUpload,
    transfer: &Client,
    reader: &mut ObjectReader,
    size: u64,
) -> Result<Vec<CompletedPart>, StorageError> {
    let part_size = part_size(size);
    let count = size.div_ceil(part_size);
    let part_len = usize::try_from(part_size).unwrap_or(usize::MAX);
    let mut parts = Vec::new();
    let mut running = JoinSet::new();
    let mut rest = bytes::Bytes::new();
    for index in 0..count {
        let mut body = Vec::with_capacity(part_len);
        reader.fill(&mut body, part_len, &mut rest).await?;
        let expected = part_size.min(size - index * part_size);
        if body.len() as u64 != expected {
            return Err(wrong_length(&pending.key, reader, size));
        }
        while running.len() >= READER_PARTS_IN_FLIGHT {
            if let Some(done) = running.join_next().await {
                parts.push(joined(done)?);
            }
        }
        let number = i32::try_from(index + 1).unwrap_or(i32::MAX);
        let request = transfer
            .upload_part()
            .bucket(&pending.bucket)
            .key(&pending.key)
            .upload_id(&pending.upload_id)
            .part_number(number)
            .content_length(i64::try_from(body.len()).unwrap_or(i64::MAX))
            .body(ByteStream::from(body));
        let (bucket, key) = (pending.bucket.clone(), pending.key.clone());
        running.spawn(async move {
            let sent = request
                .send()
                .await
                .map_err(|e| sdk_error(e, Request::new("upload_part", &bucket, &key)))?;
            completed_part(&key, number, sent.e_tag())
        });
    }
    if !rest.is_empty() || reader.next_chunk().await?.is_some() {
        return Err(wrong_length(&pending.key, reader, size));
    }
    while let Some(done) = running.join_next().await {
        parts.push(joined(done)?);
    }
    parts.sort_by_key(|p| p.part_number());
    Ok(parts)
}

/// A sent part as the completion names it: its number and ETag.
fn completed_part(
    key: &str,
    number: i32,
    etag: Option<&str>,
) -> Result<CompletedPart, StorageError> {
    let etag = etag.ok_or_else(|| StorageError::Rejected {
        operation: "upload_part",
        key: key.to_owned(),
        status: 200,
        code: "-".into(),
        message: format!("the store returned no ETag for part {number}"),
    })?;
    Ok(CompletedPart::builder()
        .part_number(number)
        .e_tag(etag)
        .build())
}

/// Sends every part, [`PARALLEL_PARTS`] at a time; on the first failure the
/// others are cancelled (dropping the `JoinSet` aborts its tasks).
async fn send_parts(
    pending: &PendingUpload,
    transfer: &Client,
    path: &Path,
    size: u64,
) -> Result<Vec<CompletedPart>, StorageError> {
    let part_size = part_size(size);
    let count = size.div_ceil(part_size);
    let mut parts = Vec::new();
    let mut running = JoinSet::new();
    for index in 0..count {
        if running.len() >= PARALLEL_PARTS {
            if let Some(done) = running.join_next().await {
                parts.push(joined(done)?);
            }
        }
        let offset = index * part_size;
        let part = Part {
            // At most 10,000 parts: always fits.
            number: i32::try_from(index + 1).unwrap_or(i32::MAX),
            offset,
            len: part_size.min(size - offset),
        };
        running.spawn(send_part(
            transfer.clone(),
            pending.bucket.clone(),
            pending.key.clone(),
            pending.upload_id.clone(),
            path.to_path_buf(),
            part,
        ));
    }
    while let Some(done) = running.join_next().await {
        parts.push(joined(done)?);
    }
    parts.sort_by_key(|p| p.part_number());
    Ok(parts)
}

fn joined(
    done: Result<Result<CompletedPart, StorageError>, tokio::task::JoinError>,
) -> Result<CompletedPart, StorageError> {
    match done {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(StorageError::Transient {
            message: format!("an upload part's task was cancelled: {e}"),
        }),
    }
}

#[derive(Debug, Clone, Copy)]
struct Part {
    number: i32,
    offset: u64,
    len: u64,
}

async fn send_part(
    client: Client,
    bucket: String,
    key: String,
    upload_id: String,
    path: PathBuf,
    part: Part,
) -> Result<CompletedPart, StorageError> {
    let body = ByteStream::read_from()
        .path(&path)
        .offset(part.offset)
        .length(Length::Exact(part.len))
        .buffer_size(READ_BUFFER)
        .build()
        .await
        .map_err(|e| StorageError::Io {
            path: path.clone(),
            message: format!("cannot read part {} of the upload: {e}", part.number),
        })?;
    let sent = client
        .upload_part()
        .bucket(&bucket)
        .key(&key)
        .upload_id(&upload_id)
        .part_number(part.number)
        .content_length(i64::try_from(part.len).unwrap_or(i64::MAX))
        .body(body)
        .send()
        .await
        .map_err(|e| sdk_error(e, Request::new("upload_part", &bucket, &key)))?;
    completed_part(&key, part.number, sent.e_tag())
}

/// An upload that has been created and not yet completed. Aborted
/// explicitly on failure; if the upload's future is dropped (a cancelled
/// task, a shutdown) the abort is spawned from `Drop`.
struct PendingUpload {
    client: Client,
    bucket: String,
    key: String,
    upload_id: String,
    finished: bool,
}

impl PendingUpload {
    fn finish(mut self) {
        self.finished = true;
    }

    async fn abort(mut self) {
        self.finished = true;
        abort(&self.client, &self.bucket, &self.key, &self.upload_id).await;
    }
}

impl Drop for PendingUpload {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let (client, bucket, key, upload_id) = (
            self.client.clone(),
            std::mem::take(&mut self.bucket),
            std::mem::take(&mut self.key),
            std::mem::take(&mut self.upload_id),
        );
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move { abort(&client, &bucket, &key, &upload_id).await });
            }
            Err(_) => tracing::warn!(
                bucket,
                key,
                upload_id,
                "a multipart upload was dropped outside a runtime and cannot be aborted"
            ),
        }
    }
}

/// Best effort: a failure is logged, since the upload has already failed
/// and its error is the one to report.
async fn abort(client: &Client, bucket: &str, key: &str, upload_id: &str) {
    let aborted = client
        .abort_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .send()
        .await;
    if let Err(e) = aborted {
        tracing::warn!(
            bucket,
            key,
            upload_id,
            error = %chain(&e),
            "could not abort a failed multipart upload; its parts stay until a lifecycle rule removes them"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::upload::MAX_PARTS;
    use super::*;

    #[test]
    fn parts_are_at_least_16_mib_and_never_more_than_10000() {
        assert_eq!(part_size(1), MIN_PART_SIZE);
        assert_eq!(part_size(40 * MIB), MIN_PART_SIZE);
        let fifty_gb = 50_000_000_000;
        assert_eq!(part_size(fifty_gb), MIN_PART_SIZE);
        assert_eq!(fifty_gb.div_ceil(part_size(fifty_gb)), 2_981);
        for size in [
            160_000 * MIB,
            160_000 * MIB + 1,
            1024 * 1024 * MIB,
            MAX_OBJECT_SIZE,
        ] {
            let part = part_size(size);
            assert!(size.div_ceil(part) <= MAX_PARTS, "{size}: {part}");
            assert_eq!(part % MIB, 0);
            assert!(part <= 5 * 1024 * MIB, "parts stay under S3's 5 GiB");
        }
    }
}
