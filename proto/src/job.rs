//! The messages of the distributed mode: the jobs on each stage's queue and
//! the record the report stage writes when a take is published. Headers
//! (schema version, take id, attempt, trace context) travel in AMQP headers,
//! not here (see `moocpipe-broker`).

use crate::take::TakeRef;
use crate::TakeVerdict;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How a raw object reached ingest. Every way ends in the same take id, so
/// an upload seen three ways is one take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IngestVia {
    /// `moocpipe submit s3://bucket/key`.
    Submit,
    /// The periodic scan of the raw bucket.
    Scan,
    /// An S3 event notification (AWS/MinIO format).
    Event,
}

/// A job on the ingest queue: a raw object to place in its course and send
/// down the pipeline. The AMQP `take_id` header of an ingest job is
/// `moocpipe_ingest::ingest_key_id` of bucket and key (the real take id
/// needs the ETag, which ingest reads itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IngestJob {
    pub bucket: String,
    pub key: String,
    /// The ETag the sender saw, when it saw one; ingest reads the object's
    /// own anyway and uses that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    pub via: IngestVia,
}

/// A job about one take, for the probe, transcode, caption and report
/// queues. `take.source` is `s3://<raw bucket>/<key>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TakeJob {
    pub take: TakeRef,
    /// The ETag of the raw object the take id was made from: a worker that
    /// finds another ETag under the key has a newer upload in hand, which is
    /// another take, and refuses to mix them.
    pub etag: String,
    /// Whether the probe stage sent a caption job for the take: the report
    /// waits for captions only then.
    #[serde(default)]
    pub captions: bool,
}

/// One published object as the report stage checked it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishedLink {
    /// What it is: `platform`, `720p`, `hls`, `poster`, `captions.vtt`…
    pub name: String,
    /// Its key in the media bucket.
    pub key: String,
    /// The name a browser saves it under.
    pub download_name: String,
    pub size_bytes: u64,
    pub content_type: String,
    /// Its path below the take's stable link (`<link>/<path>`): its key
    /// below `takes/<take-id>/`. The token is never recorded.
    pub path: String,
}

/// The take's stable link, as recorded: its id, never its token (the
/// notice carries the link itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StableLinkRecord {
    /// The link's id in the catalog (for revoking or re-issuing it).
    pub link_id: String,
    /// When the link stops working (RFC 3339, UTC).
    pub expires_at: String,
}

/// How the author was told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeRecord {
    /// RFC 3339, UTC.
    pub sent_at: String,
    /// The address an e-mail went to; absent when none was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the webhook took it.
    pub webhook: bool,
}

/// `takes/<id>/records/published.json`: written by the report stage once per
/// take version, after the author's notice went out. Its presence is what
/// keeps a second notice from being sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishedRecord {
    pub schema_version: u32,
    pub take_id: String,
    pub key: String,
    pub title: String,
    /// The raw take against the spec.
    pub spec: TakeVerdict,
    /// The renditions' verification; absent when the take was not
    /// transcoded (it failed the spec).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcode: Option<TakeVerdict>,
    /// Failing rules of the spec or of a rendition, `id: measured`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
    pub links: Vec<PublishedLink>,
    /// The stable link the author got: the take's page at `/l/<token>`,
    /// each file at `/l/<token>/<path>`. Absent when nothing was linked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<StableLinkRecord>,
    /// Why captions are missing, when they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captions_missing: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<NoticeRecord>,
}
