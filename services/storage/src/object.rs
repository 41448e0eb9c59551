//! The object-store interface the workers use, one for every backend: the
//! local folder (embedded mode, tests) and S3 (distributed mode). Keys follow
//! [`crate::layout`]; a key that works in one backend works in the other.
//!
//! The trait's futures are `Send` so a worker can hold a store in an `Arc`
//! and call it from spawned tasks. It is not object-safe (generic JSON
//! helpers, `impl Future` returns): a binary picks its backend once and
//! calls code generic over `S: ObjectStore`.

use crate::{ObjectReader, StorageError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The longest a presigned URL may live: S3's SigV4 limit.
pub const MAX_PRESIGN_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);

/// What `head` tells about an object without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Size in bytes.
    pub size: u64,
    /// The store's version tag, without the surrounding quotes. On S3 a
    /// multipart upload's ETag ends in `-<parts>`; locally it is made from
    /// size and modification time. It changes whenever the content does.
    pub etag: String,
    /// The media type given at upload (S3) or guessed from the extension
    /// (local, see [`crate::content_type::for_key`]).
    pub content_type: Option<String>,
    /// When the object was last written (S3's `Last-Modified`, a file's
    /// modification time), if the store says.
    pub modified: Option<std::time::SystemTime>,
}

/// One object of a listing page: what ListObjectsV2 tells without a HEAD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    pub key: String,
    /// As [`ObjectMeta::etag`]: without quotes, the same value `head` gives.
    pub etag: String,
    pub size: u64,
}

/// One page of a listing, in key order, and where the next one starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    pub objects: Vec<ListedObject>,
    /// Pass to [`ObjectStore::list_page`] for the next page; `None` after
    /// the last one. Opaque (S3's continuation token, or a key).
    pub next: Option<String>,
}

/// Objects in one [`ObjectStore::list_page`] page (S3's own maximum).
pub const LIST_PAGE_SIZE: usize = 1000;

/// A store of objects under string keys.
///
/// Writes are whole-object and atomic: a reader sees the old object or the
/// new one, never part of one. Streaming methods (`put_file`,
/// `download_to`) never hold a whole object in memory, so they are the ones
/// for media; the `bytes`/JSON ones are for records.
pub trait ObjectStore: Send + Sync {
    /// Where a key lives, for messages and logs (`s3://bucket/key` or a path).
    fn location(&self, key: &str) -> String;

    /// Writes `bytes` under `key` with the given media type.
    fn put_bytes(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// Uploads a file, streaming it from disk (S3: multipart when it is
    /// larger than one part, parts of at least 16 MiB).
    fn put_file(
        &self,
        key: &str,
        path: &Path,
        content_type: &str,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// Reads a whole object; [`StorageError::NotFound`] when there is none.
    fn get_bytes(&self, key: &str) -> impl Future<Output = Result<Vec<u8>, StorageError>> + Send;

    /// Reads `len` bytes from byte `start` (fewer only where the object
    /// ends); [`StorageError::InvalidRange`] when `start` is at or past the
    /// end of a non-empty read.
    fn get_range(
        &self,
        key: &str,
        start: u64,
        len: u64,
    ) -> impl Future<Output = Result<Vec<u8>, StorageError>> + Send;

    /// [`ObjectStore::get_range`] of one version of the object: fails with
    /// [`StorageError::Changed`] unless the object's ETag is still `etag`,
    /// so a reader pinned to a version never mixes its bytes with another
    /// upload's. The default implementation reads, then compares the
    /// object's ETag afterwards (a change in between the two is caught by
    /// the next read); S3 sends `If-Match` and checks the response's ETag.
    fn get_range_if_match(
        &self,
        key: &str,
        start: u64,
        len: u64,
        etag: &str,
    ) -> impl Future<Output = Result<Vec<u8>, StorageError>> + Send {
        async move {
            let bytes = self.get_range(key, start, len).await?;
            match self.head(key).await? {
                Some(meta) if meta.etag == etag => Ok(bytes),
                found => Err(StorageError::Changed {
                    location: self.location(key),
                    expected_etag: etag.to_string(),
                    found_etag: found.map(|m| m.etag),
                }),
            }
        }
    }

    /// Streams an object into a file (written beside it, then renamed, so
    /// the file is whole or absent). Returns the number of bytes.
    fn download_to(
        &self,
        key: &str,
        path: &Path,
    ) -> impl Future<Output = Result<u64, StorageError>> + Send;

    /// Reads the whole object from its start, one chunk at a time (see
    /// [`ObjectReader`]); with `etag`, only that version of it
    /// ([`StorageError::Changed`] when the object is another one). Memory
    /// holds one chunk whatever the object's size.
    fn read_object(
        &self,
        key: &str,
        etag: Option<&str>,
    ) -> impl Future<Output = Result<ObjectReader, StorageError>> + Send;

    /// Writes the `size` bytes `reader` gives under `key` with the given
    /// media type, streaming them (S3: one PUT up to 16 MiB, else a
    /// multipart upload of parts of at least 16 MiB, two in flight, so
    /// memory holds a few parts whatever the size). The object is whole
    /// or absent: a reader that gives more or fewer than `size` bytes, or
    /// fails, writes nothing.
    fn put_reader(
        &self,
        key: &str,
        reader: ObjectReader,
        size: u64,
        content_type: &str,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// The object's size, ETag and media type; `None` when there is none.
    fn head(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<ObjectMeta>, StorageError>> + Send;

    /// Every key that starts with `prefix`, at any depth, sorted (S3
    /// semantics: `takes/x/` lists the whole take). Hidden local files
    /// (staging, temporaries) are never listed.
    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<String>, StorageError>> + Send;

    /// One page (at most [`LIST_PAGE_SIZE`] objects) of the keys under
    /// `prefix`, with their ETags and sizes, starting where `continuation`
    /// (the `next` of the page before) says. Memory stays at one page
    /// however large the bucket. The default implementation lists
    /// everything and HEADs the page's objects; backends do better.
    fn list_page(
        &self,
        prefix: &str,
        continuation: Option<String>,
    ) -> impl Future<Output = Result<ListPage, StorageError>> + Send {
        async move {
            let keys = self.list(prefix).await?;
            let from = match &continuation {
                Some(after) => keys.partition_point(|k| k.as_str() <= after.as_str()),
                None => 0,
            };
            let mut page = ListPage::default();
            for key in keys.iter().skip(from).take(LIST_PAGE_SIZE) {
                if let Some(meta) = self.head(key).await? {
                    page.objects.push(ListedObject {
                        key: key.clone(),
                        etag: meta.etag,
                        size: meta.size,
                    });
                }
            }
            if from + LIST_PAGE_SIZE < keys.len() {
                page.next = keys.get(from + LIST_PAGE_SIZE - 1).cloned();
            }
            Ok(page)
        }
    }

    /// Removes an object; removing one that is not there is not an error.
    fn delete(&self, key: &str) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// A URL that lets anyone holding it GET the object until `expiry` has
    /// passed (local: a `file://` URL). More than [`MAX_PRESIGN_EXPIRY`] is
    /// [`StorageError::ExpiryTooLong`] in every backend, so code that works
    /// locally does not fail against S3.
    fn presign_get(
        &self,
        key: &str,
        expiry: Duration,
    ) -> impl Future<Output = Result<String, StorageError>> + Send;

    /// Writes a JSON record (pretty-printed, trailing newline, like the
    /// local store's records).
    fn put_json<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
    ) -> impl Future<Output = Result<(), StorageError>> + Send {
        // Serialised before the future so `T` need not be `Send`.
        let bytes = serde_json::to_vec_pretty(value)
            .map(|mut b| {
                b.push(b'\n');
                b
            })
            .map_err(|e| StorageError::BadRecord {
                path: PathBuf::from(self.location(key)),
                message: e.to_string(),
            });
        async move { self.put_bytes(key, bytes?, "application/json").await }
    }

    /// Reads a JSON record; `None` when there is none (a stage's "not done
    /// yet"), [`StorageError::BadRecord`] when it does not parse.
    fn get_json<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<T>, StorageError>> + Send {
        async move {
            let bytes = match self.get_bytes(key).await {
                Ok(bytes) => bytes,
                Err(StorageError::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(e),
            };
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| StorageError::BadRecord {
                    path: PathBuf::from(self.location(key)),
                    message: e.to_string(),
                })
        }
    }
}

/// Refuses keys that a file system and S3 would read differently: empty,
/// absolute, with empty, `.` or `..` segments, a backslash or a NUL, or
/// longer than S3's 1024 bytes.
pub(crate) fn check_key(key: &str) -> Result<(), StorageError> {
    let bad = |reason: &str| {
        Err(StorageError::BadKey {
            key: key.to_string(),
            reason: reason.to_string(),
        })
    };
    if key.is_empty() {
        return bad("empty");
    }
    if key.len() > 1024 {
        return bad("longer than 1024 bytes");
    }
    if key.contains('\\') || key.contains('\0') {
        return bad("contains a backslash or NUL");
    }
    if key
        .split('/')
        .any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        return bad("empty, `.` or `..` path segment (or a leading or trailing `/`)");
    }
    Ok(())
}

/// Like [`check_key`] for a listing prefix, which may be empty and may end
/// with `/`.
pub(crate) fn check_prefix(prefix: &str) -> Result<(), StorageError> {
    match prefix.strip_suffix('/').unwrap_or(prefix) {
        "" if prefix.is_empty() => Ok(()),
        trimmed => check_key(trimmed).map_err(|_| StorageError::BadKey {
            key: prefix.to_string(),
            reason: "not a valid listing prefix (`..`, `.`, empty segments or a leading `/`)"
                .to_string(),
        }),
    }
}

pub(crate) fn check_expiry(expiry: Duration) -> Result<(), StorageError> {
    if expiry > MAX_PRESIGN_EXPIRY {
        return Err(StorageError::ExpiryTooLong {
            requested: expiry,
            max: MAX_PRESIGN_EXPIRY,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_would_escape_or_differ_between_backends_are_refused() {
        for key in [
            "",
            "/takes/a",
            "takes//a",
            "takes/../a",
            "takes/./a",
            "takes/a/",
            "a\\b",
        ] {
            assert!(
                matches!(check_key(key), Err(StorageError::BadKey { .. })),
                "{key:?}"
            );
        }
        check_key("takes/abc/records/probe.json").expect("a layout key");
        check_key("courses/physics-101/reports/segments.html").expect("a layout key");
    }

    #[test]
    fn prefixes_may_be_empty_or_end_with_a_slash() {
        check_prefix("").expect("everything");
        check_prefix("takes/").expect("a folder");
        check_prefix("takes/ab").expect("a partial name");
        assert!(check_prefix("../").is_err());
        assert!(check_prefix("/").is_err());
    }

    #[test]
    fn expiry_is_capped_at_seven_days() {
        check_expiry(MAX_PRESIGN_EXPIRY).expect("exactly 7 days");
        let err = check_expiry(MAX_PRESIGN_EXPIRY + Duration::from_secs(1)).expect_err("over");
        assert!(err.to_string().contains("604800"), "{err}");
    }
}
