//! S3 event notifications in the AWS format (MinIO and Ceph send the same):
//! `{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket":
//! {"name": …}, "object": {"key": …, "eTag": …, "size": …}}}]}`. Object
//! keys arrive URL-encoded, with `+` for a space. Only object creations
//! (`ObjectCreated:Put`, `:CompleteMultipartUpload`, and the other
//! `ObjectCreated:*`) become ingest jobs; anything else is skipped.

use serde::Deserialize;

/// One created object an event tells of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub bucket: String,
    pub key: String,
    pub etag: Option<String>,
}

#[derive(Deserialize)]
struct Notification {
    #[serde(rename = "Records", default)]
    records: Vec<Record>,
}

#[derive(Deserialize)]
struct Record {
    #[serde(rename = "eventName")]
    event_name: String,
    s3: S3Entity,
}

#[derive(Deserialize)]
struct S3Entity {
    bucket: Bucket,
    object: Object,
}

#[derive(Deserialize)]
struct Bucket {
    name: String,
}

#[derive(Deserialize)]
struct Object {
    key: String,
    #[serde(rename = "eTag", default)]
    etag: Option<String>,
}

/// The objects created according to one event message. An error says why
/// the message is not an S3 event (it goes nowhere; the caller logs it).
pub fn parse(body: &[u8]) -> Result<Vec<Created>, String> {
    let notification: Notification =
        serde_json::from_slice(body).map_err(|e| format!("not an S3 event notification: {e}"))?;
    let mut out = Vec::new();
    for record in notification.records {
        // "ObjectCreated:Put" from AWS/MinIO; some senders prefix "s3:".
        let name = record.event_name.trim_start_matches("s3:");
        if !name.starts_with("ObjectCreated:") {
            continue;
        }
        let key = decode_key(&record.s3.object.key).ok_or_else(|| {
            format!(
                "the key {:?} is not valid URL-encoded UTF-8",
                record.s3.object.key
            )
        })?;
        out.push(Created {
            bucket: record.s3.bucket.name,
            key,
            etag: record
                .s3
                .object
                .etag
                .map(|e| e.trim_matches('"').to_owned())
                .filter(|e| !e.is_empty()),
        });
    }
    Ok(out)
}

/// `physics-101/01-m/02+newton/take%2B1.mov` → `physics-101/01-m/02 newton/take+1.mov`.
fn decode_key(key: &str) -> Option<String> {
    let spaced = key.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|k| k.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_and_multipart_completions_are_creations_with_decoded_keys() {
        let body = br#"{"Records": [
            {"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
             "s3": {"bucket": {"name": "raw"}, "object": {"key": "physics-101/01-m/02+newton/take%2B1.mov", "eTag": "\"abc\"", "size": 10}}},
            {"eventName": "ObjectCreated:CompleteMultipartUpload",
             "s3": {"bucket": {"name": "raw"}, "object": {"key": "physics-101/promo/trailer.mp4", "eTag": "def-3"}}},
            {"eventName": "ObjectRemoved:Delete",
             "s3": {"bucket": {"name": "raw"}, "object": {"key": "physics-101/promo/old.mp4"}}}
        ]}"#;
        let created = parse(body).expect("parsed");
        assert_eq!(
            created,
            vec![
                Created {
                    bucket: "raw".into(),
                    key: "physics-101/01-m/02 newton/take+1.mov".into(),
                    etag: Some("abc".into()),
                },
                Created {
                    bucket: "raw".into(),
                    key: "physics-101/promo/trailer.mp4".into(),
                    etag: Some("def-3".into()),
                },
            ]
        );
    }

    #[test]
    fn a_message_that_is_not_an_event_says_so() {
        let error = parse(b"{not json").unwrap_err();
        assert!(error.contains("not an S3 event"), "{error}");
        assert_eq!(parse(br#"{"Records": []}"#), Ok(Vec::new()));
    }
}
