//! What can go wrong in a store, sorted by what the caller does about it:
//! retry later ([`StorageError::is_transient`]) or record why and stop (every
//! other variant: the configuration, the credentials or the request is wrong,
//! and asking again will not change the answer).

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The local store's folder cannot be created or written (found at open,
    /// before any work starts).
    #[error("{path}: cannot write the store here: {message}")]
    NotWritable { path: PathBuf, message: String },
    /// A local file-system error; counted as transient (a full disk or a
    /// flaky mount can recover), like `proto::ErrorKind::Io`.
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    /// A record that exists but does not parse (or a value that does not
    /// serialise): a bug or a hand-edited record, never fixed by a retry.
    #[error("{path}: not a valid record: {message}")]
    BadRecord { path: PathBuf, message: String },
    /// No object under this key. `store` is `s3://<bucket>` or the local root.
    #[error("{store}/{key}: no such object")]
    NotFound { store: String, key: String },
    /// The bucket itself is missing: a deployment error, not a missing object.
    #[error("bucket `{bucket}` does not exist: create it or fix MOOCPIPE_S3_BUCKET")]
    NoSuchBucket { bucket: String },
    /// The credentials may not do this (wrong key, or a key that may only
    /// read, as the pipeline's key on the raw bucket). Permanent.
    #[error(
        "access denied to `{key}` in `{bucket}` ({reason}): the credentials are not allowed this"
    )]
    AccessDenied {
        bucket: String,
        key: String,
        reason: String,
    },
    /// A ranged read that starts at or past the end of the object.
    #[error("{key}: a read from byte {start} is outside the object")]
    InvalidRange { key: String, start: u64 },
    /// The object is no longer the version a read was pinned to (its ETag
    /// changed: the studio uploaded the take again). Permanent for the read
    /// in progress — mixing bytes of two versions would be worse than
    /// failing — while the new version is a new take of its own.
    #[error("{location}: the object changed while it was read (ETag {} expected, {} found)", .expected_etag, .found_etag.as_deref().unwrap_or("none"))]
    Changed {
        location: String,
        expected_etag: String,
        /// The ETag the store answered with, when it told one (`None`: a
        /// 412 Precondition Failed, or the object is gone).
        found_etag: Option<String>,
    },
    /// A key that would not mean the same thing in every backend (`..`,
    /// a leading `/`, empty segments): refused before it reaches a store.
    #[error("`{key}`: not a valid object key: {reason}")]
    BadKey { key: String, reason: String },
    /// S3 signatures are valid for at most 7 days; asking for more is a bug
    /// in the caller, so it is refused rather than silently shortened.
    #[error("a presigned URL lives at most {} s (7 days); {} s were asked for", .max.as_secs(), .requested.as_secs())]
    ExpiryTooLong { requested: Duration, max: Duration },
    /// The S3 settings are missing or invalid (names the variable or field).
    #[error("S3 configuration: {message}")]
    Config { message: String },
    /// Any other refusal by the store (a 4xx other than the ones above).
    #[error("{operation} `{key}`: the store refused it ({status} {code}): {message}")]
    Rejected {
        operation: &'static str,
        key: String,
        status: u16,
        code: String,
        message: String,
    },
    /// Network failure, time-out, 5xx or throttling, after the SDK's own
    /// retries: try again later.
    #[error("the store is unavailable, retry later: {message}")]
    Transient { message: String },
}

impl StorageError {
    /// Whether retrying later may succeed (network, 5xx, throttling, local
    /// I/O); `false` means the input or the deployment must change first.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StorageError::Transient { .. } | StorageError::Io { .. }
        )
    }

    pub(crate) fn io(path: impl Into<PathBuf>, err: &std::io::Error) -> Self {
        StorageError::Io {
            path: path.into(),
            message: err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_network_and_io_failures_are_transient() {
        let transient = StorageError::Transient {
            message: "connection refused".into(),
        };
        let missing = StorageError::NoSuchBucket {
            bucket: "media".into(),
        };
        assert!(transient.is_transient());
        assert!(!missing.is_transient());
        assert!(missing.to_string().contains("`media`"), "{missing}");
    }
}
