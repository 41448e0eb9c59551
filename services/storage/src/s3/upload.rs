//! Multipart uploads driven by someone else: the studio's browser sends
//! the parts straight to the bucket through presigned URLs, while the
//! server creates the upload, lists what has arrived (to resume after a
//! reload or a dropped connection), completes or aborts it. The bytes never
//! pass through the server.
//!
//! S3's limits: at most 10,000 parts, each 5 MiB to 5 GiB but the last;
//! [`part_size`] picks a part size inside them for any object up to 5 TiB.

use super::classify::sdk_error;
use super::S3Store;
use crate::object::check_key;
use crate::StorageError;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use std::time::Duration;

const MIB: u64 = 1024 * 1024;
/// S3's smallest part (the last part may be smaller).
pub const MIN_PART_SIZE: u64 = 5 * MIB;
/// S3's largest part.
pub const MAX_PART_SIZE: u64 = 5 * 1024 * MIB;
/// S3's most parts in one upload.
pub const MAX_PARTS: u64 = 10_000;
/// ListParts answers at most this many parts a page.
const LIST_PARTS_PAGE: i32 = 1000;

/// The part size for an object of `size` bytes: at least `at_least`
/// (raised to S3's 5 MiB), in whole MiB, and large enough that the object
/// fits in 10,000 parts.
pub fn part_size(size: u64, at_least: u64) -> u64 {
    size.div_ceil(MAX_PARTS)
        .div_ceil(MIB)
        .saturating_mul(MIB)
        .max(at_least.max(MIN_PART_SIZE))
        .min(MAX_PART_SIZE)
}

/// A part the store holds for an unfinished upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedPart {
    /// From 1.
    pub number: u32,
    pub size: u64,
    /// Without quotes.
    pub etag: String,
}

impl S3Store {
    /// Starts a multipart upload of `key`; returns its upload id.
    pub async fn create_upload(
        &self,
        key: &str,
        content_type: &str,
    ) -> Result<String, StorageError> {
        check_key(key)?;
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(|e| sdk_error(e, self.request("create_multipart_upload", key)))?;
        created
            .upload_id()
            .map(str::to_string)
            .ok_or_else(|| StorageError::Rejected {
                operation: "create_multipart_upload",
                key: key.to_string(),
                status: 200,
                code: "-".into(),
                message: "the store returned no upload id".into(),
            })
    }

    /// A URL that lets whoever holds it PUT part `number` of the upload
    /// for `expiry`, and nothing else. It names the presigning endpoint
    /// (the one browsers reach), and carries a signature: never log it.
    pub async fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u32,
        expiry: Duration,
    ) -> Result<String, StorageError> {
        check_key(key)?;
        let presigning = super::presigning(expiry)?;
        let request = self
            .presigner()
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(part_number(number))
            .presigned(presigning)
            .await
            .map_err(|e| sdk_error(e, self.request("presign upload_part", key)))?;
        Ok(request.uri().to_string())
    }

    /// Every part the store holds for the upload, by number (all pages of
    /// ListParts). An unknown or finished upload is
    /// [`StorageError::NotFound`].
    pub async fn list_parts(
        &self,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<UploadedPart>, StorageError> {
        check_key(key)?;
        let mut parts = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .client
                .list_parts()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
                .max_parts(LIST_PARTS_PAGE)
                .set_part_number_marker(marker.take())
                .send()
                .await
                .map_err(|e| sdk_error(e, self.request("list_parts", key)))?;
            parts.extend(page.parts().iter().filter_map(|p| {
                Some(UploadedPart {
                    number: u32::try_from(p.part_number()?).ok()?,
                    size: p.size().and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
                    etag: p.e_tag()?.trim_matches('"').to_string(),
                })
            }));
            marker = match page.is_truncated() {
                Some(true) => page.next_part_number_marker().map(str::to_string),
                _ => None,
            };
            if marker.is_none() {
                break;
            }
        }
        parts.sort_by_key(|p| p.number);
        parts.dedup_by_key(|p| p.number);
        Ok(parts)
    }

    /// Joins `parts` (numbers and ETags, in order) into the object; returns
    /// the object's ETag, without quotes.
    pub async fn complete_upload(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> Result<String, StorageError> {
        check_key(key)?;
        let completed: Vec<CompletedPart> = parts
            .iter()
            .map(|p| {
                CompletedPart::builder()
                    .part_number(part_number(p.number))
                    .e_tag(format!("\"{}\"", p.etag))
                    .build()
            })
            .collect();
        let done = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            // Numbers and ETags only: Garage refuses part checksums here.
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(completed))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| sdk_error(e, self.request("complete_multipart_upload", key)))?;
        Ok(done
            .e_tag()
            .unwrap_or_default()
            .trim_matches('"')
            .to_string())
    }

    /// Drops an unfinished upload and the parts it holds.
    pub async fn abort_upload(&self, key: &str, upload_id: &str) -> Result<(), StorageError> {
        check_key(key)?;
        self.client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
            .map_err(|e| sdk_error(e, self.request("abort_multipart_upload", key)))?;
        Ok(())
    }
}

/// A part number as the SDK takes it; at most 10,000 in practice.
fn part_number(number: u32) -> i32 {
    i32::try_from(number).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_stay_inside_s3_limits_for_any_size() {
        assert_eq!(part_size(1, 0), MIN_PART_SIZE, "5 MiB at least");
        assert_eq!(part_size(12 * MIB, 5 * MIB), 5 * MIB);
        assert_eq!(part_size(12 * MIB, 16 * MIB), 16 * MIB);
        let fifty_gb = 50_000_000_000;
        assert_eq!(part_size(fifty_gb, 5 * MIB), 5 * MIB);
        assert_eq!(fifty_gb.div_ceil(part_size(fifty_gb, 5 * MIB)), 9_537);
        for size in [
            100 * 1024 * MIB,
            160_000 * MIB + 1,
            1024 * 1024 * MIB,
            5 * 1024 * 1024 * MIB,
        ] {
            for at_least in [0, 5 * MIB, 16 * MIB, 64 * MIB] {
                let part = part_size(size, at_least);
                assert!(size.div_ceil(part) <= MAX_PARTS, "{size}: {part}");
                assert_eq!(part % MIB, 0);
                assert!((MIN_PART_SIZE..=MAX_PART_SIZE).contains(&part));
                assert!(part >= at_least);
            }
        }
    }
}
