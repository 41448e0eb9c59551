//! Turns the SDK's errors into [`StorageError`]s a caller can act on:
//! a missing bucket, a missing object, refused credentials, or "retry
//! later". The SDK has already retried what it deems retryable, so a
//! `Transient` here means its attempts ran out.

use crate::StorageError;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

/// What was being done, for the error's fields and message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Request<'a> {
    pub operation: &'static str,
    pub bucket: &'a str,
    pub key: &'a str,
    /// The first byte of a ranged read (for `InvalidRange`).
    pub start: u64,
    /// The ETag a read was pinned to (for `Changed` on a 412).
    pub if_match: Option<&'a str>,
}

impl<'a> Request<'a> {
    pub fn new(operation: &'static str, bucket: &'a str, key: &'a str) -> Self {
        Request {
            operation,
            bucket,
            key,
            start: 0,
            if_match: None,
        }
    }
}

pub(crate) fn sdk_error<E>(err: SdkError<E, HttpResponse>, request: Request<'_>) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let context = || {
        format!(
            "{} s3://{}/{}: {}",
            request.operation,
            request.bucket,
            request.key,
            chain(&err)
        )
    };
    match &err {
        SdkError::ServiceError(_) => {
            let status = err.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
            response(status, err.code(), err.message(), request)
        }
        // The request could not even be built (an endpoint that does not
        // resolve to a URL): the settings are wrong.
        SdkError::ConstructionFailure(_) => StorageError::Config { message: context() },
        // Connection refused or reset, DNS, time-outs, a response cut off,
        // a request body that could not be sent in full.
        _ => StorageError::Transient { message: context() },
    }
}

/// An error and its causes, `: `-separated (the SDK's own top-level
/// messages, such as "dispatch failure", say little alone).
pub(crate) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The decision on a response from the store, by S3 error code first and
/// HTTP status second (HEAD responses carry no body, so no code).
pub(crate) fn response(
    status: u16,
    code: Option<&str>,
    message: Option<&str>,
    request: Request<'_>,
) -> StorageError {
    let bucket = request.bucket.to_string();
    let key = request.key.to_string();
    let message = message.unwrap_or_default().to_string();
    match (code, status) {
        (Some("NoSuchBucket"), _) => StorageError::NoSuchBucket { bucket },
        // NoSuchUpload: a multipart upload completed, aborted or never made.
        (Some("NoSuchKey" | "NotFound" | "NoSuchUpload"), _) | (None, 404) => {
            StorageError::NotFound {
                store: format!("s3://{bucket}"),
                key,
            }
        }
        (Some("PreconditionFailed"), _) | (_, 412) => StorageError::Changed {
            location: format!("s3://{bucket}/{key}"),
            expected_etag: request.if_match.unwrap_or_default().to_string(),
            found_etag: None,
        },
        (Some("InvalidRange"), _) | (_, 416) => StorageError::InvalidRange {
            key,
            start: request.start,
        },
        (
            Some(
                "AccessDenied"
                | "InvalidAccessKeyId"
                | "SignatureDoesNotMatch"
                | "AllAccessDisabled"
                | "AccountProblem",
            ),
            _,
        )
        | (_, 401 | 403) => StorageError::AccessDenied {
            bucket,
            key,
            reason: match code {
                Some(code) if message.is_empty() => code.to_string(),
                Some(code) => format!("{code}: {message}"),
                None => format!("HTTP {status}"),
            },
        },
        (
            Some(
                "SlowDown"
                | "Throttling"
                | "ThrottlingException"
                | "RequestTimeout"
                | "InternalError"
                | "ServiceUnavailable",
            ),
            _,
        )
        | (_, 408 | 429 | 500..=599) => StorageError::Transient {
            message: format!(
                "{} s3://{bucket}/{key}: {status} {}: {message}",
                request.operation,
                code.unwrap_or("-")
            ),
        },
        _ => StorageError::Rejected {
            operation: request.operation,
            key,
            status,
            code: code.unwrap_or("-").to_string(),
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GET: Request<'static> = Request {
        operation: "get",
        bucket: "media",
        key: "takes/a/records/probe.json",
        start: 7,
        if_match: Some("abc"),
    };

    #[test]
    fn codes_and_statuses_become_errors_a_caller_can_act_on() {
        let e = response(404, Some("NoSuchBucket"), Some("Bucket not found"), GET);
        assert!(matches!(e, StorageError::NoSuchBucket { ref bucket } if bucket == "media"));
        let e = response(404, Some("NoSuchKey"), None, GET);
        assert!(matches!(e, StorageError::NotFound { .. }), "{e}");
        let e = response(404, None, None, GET);
        assert!(matches!(e, StorageError::NotFound { .. }), "HEAD: {e}");
        let e = response(404, Some("NoSuchUpload"), None, GET);
        assert!(matches!(e, StorageError::NotFound { .. }), "{e}");
        let e = response(416, Some("InvalidRange"), None, GET);
        assert!(
            matches!(e, StorageError::InvalidRange { start: 7, .. }),
            "{e}"
        );
        let e = response(403, Some("AccessDenied"), Some("no write"), GET);
        assert!(
            matches!(e, StorageError::AccessDenied { ref reason, .. } if reason == "AccessDenied: no write"),
            "{e}"
        );
        for (status, code) in [
            (503, Some("SlowDown")),
            (500, None),
            (429, None),
            (400, Some("RequestTimeout")),
        ] {
            let e = response(status, code, None, GET);
            assert!(e.is_transient(), "{status} {code:?}: {e}");
        }
        let e = response(412, Some("PreconditionFailed"), None, GET);
        assert!(
            matches!(e, StorageError::Changed { ref expected_etag, .. } if expected_etag == "abc"),
            "{e}"
        );
        assert!(!e.is_transient());
        let e = response(400, Some("InvalidRequest"), Some("bad"), GET);
        assert!(
            matches!(e, StorageError::Rejected { status: 400, .. }),
            "{e}"
        );
        assert!(!e.is_transient());
    }
}
