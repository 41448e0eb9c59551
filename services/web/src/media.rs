//! `/media/<take>/<file>`: a file one of the take's records names — a
//! rendition, the poster, an HLS file, a caption file — and nothing else.
//! From the embedded store it is served with HTTP Range (the player
//! seeks); from S3 the browser is sent to a presigned URL that lives
//! minutes. Stable links (`links`) send their files the same way.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use moocpipe_proto::{CaptionRun, StoredObject, TranscodeRecord};
use moocpipe_storage::ObjectStore;
use tower::ServiceExt;
use tower_http::services::ServeFile;

use crate::error::{ApiError, ErrorKind, PageError};
use crate::{SharedApp, Store};

/// The object `key` as the take's transcode or caption record names it;
/// `None` for anything else.
pub(crate) fn recorded(
    transcode: Option<&str>,
    caption: Option<&str>,
    key: &str,
) -> Option<StoredObject> {
    Recorded::parse(transcode, caption).object(key)
}

/// A take's transcode and caption records, parsed once per request.
#[derive(Debug, Default)]
pub(crate) struct Recorded {
    pub transcode: Option<TranscodeRecord>,
    pub caption: Option<CaptionRun>,
}

impl Recorded {
    /// The records as the catalog row holds them (text); one that does not
    /// parse names nothing.
    pub fn parse(transcode: Option<&str>, caption: Option<&str>) -> Recorded {
        Recorded {
            transcode: transcode.and_then(|t| serde_json::from_str(t).ok()),
            caption: caption.and_then(|c| serde_json::from_str(c).ok()),
        }
    }

    /// The object `key` as one of the records names it.
    pub fn object(&self, key: &str) -> Option<StoredObject> {
        let transcode = self.transcode.iter().flat_map(|t| t.objects.iter());
        let caption = self.caption.iter().flat_map(|c| c.objects.iter());
        transcode.chain(caption).find(|o| o.key == key).cloned()
    }
}

pub async fn file(
    State(app): State<SharedApp>,
    Path((take_id, file)): Path<(String, String)>,
    request: Request,
) -> Result<Response, PageError> {
    let row = app
        .catalog
        .take(&take_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("take {take_id}")))?;
    let key = format!("takes/{take_id}/{file}");
    if recorded(row.transcode.as_deref(), row.caption.as_deref(), &key).is_none() {
        return Err(ApiError::not_found(format!("{file} of take {take_id}")).into());
    }
    Ok(send(&app, &key, app.config.media_url_ttl, request).await?)
}

/// Sends the stored object `key`: from the embedded store the file itself
/// (with Range), from S3 a 302 to a URL presigned for `ttl`.
pub(crate) async fn send(
    app: &SharedApp,
    key: &str,
    ttl: std::time::Duration,
    request: Request,
) -> Result<Response, ApiError> {
    match &app.store {
        Store::Local(store) => {
            let path = store.path(key);
            let mut response = ServeFile::new(path)
                .oneshot(request)
                .await
                .map_err(|e| ApiError::new(ErrorKind::Internal, e.to_string()))?
                .map(Body::new);
            if key.ends_with(".vtt") {
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    header::HeaderValue::from_static("text/vtt; charset=utf-8"),
                );
            }
            Ok(response)
        }
        Store::S3(store) => {
            let url = store
                .presign_get(key, ttl)
                .await
                .map_err(|e| ApiError::new(ErrorKind::Unavailable, e.to_string()))?;
            let location = header::HeaderValue::from_str(&url)
                .map_err(|e| ApiError::new(ErrorKind::Internal, format!("presigned URL: {e}")))?;
            let response = (
                StatusCode::FOUND,
                [
                    (header::LOCATION, location),
                    (
                        header::CACHE_CONTROL,
                        header::HeaderValue::from_static("no-store"),
                    ),
                ],
            )
                .into_response();
            Ok(response)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::recorded;

    fn named(transcode: Option<&str>, caption: Option<&str>, key: &str) -> bool {
        recorded(transcode, caption, key).is_some()
    }

    #[test]
    fn only_objects_a_record_names_are_served() {
        let caption = serde_json::json!({
            "schema_version": 1, "file": "t.mov", "language": "en",
            "source": {"kind": "author_supplied", "file": "t.vtt"},
            "cues": 1, "audio_seconds": 1.0, "captioned_seconds": 1.0,
            "style_violations": [], "warnings": [],
            "style": {"max_lines": 2, "max_line_chars": 42, "min_cue_seconds": 1.0,
                      "max_cue_seconds": 7.0, "max_chars_per_second": 20.0},
            "run": "r1",
            "objects": [{"key": "takes/t/runs/r1/captions/a.vtt", "size_bytes": 10, "etag": "e"}]
        })
        .to_string();
        let parsed = serde_json::from_str::<moocpipe_proto::CaptionRun>(&caption);
        assert!(parsed.is_ok(), "{parsed:?}");
        assert!(named(
            None,
            Some(&caption),
            "takes/t/runs/r1/captions/a.vtt"
        ));
        assert!(!named(None, Some(&caption), "takes/t/records/probe.json"));
        assert!(!named(None, None, "takes/t/runs/r1/captions/a.vtt"));
    }
}
