//! What a stage run wrote: every attempt of a stage writes its outputs under
//! a run prefix of its own (`takes/<id>/runs/<run>/…`, the run named by the
//! attempt's fencing token), and its record — written last, only while the
//! attempt still holds the job — names that run and every object with its
//! size and checksum. The report links exactly what a record names and
//! checks both with a HEAD, so two attempts can never mix their outputs.

use crate::caption::CaptionRecord;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One object a stage run wrote, as its record names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StoredObject {
    /// Its key in the store (`takes/<id>/runs/<run>/renditions/…`).
    pub key: String,
    pub size_bytes: u64,
    /// The store's ETag from a HEAD right after the upload (S3: an MD5, or
    /// `<md5 of the parts' MD5s>-<parts>` for a multipart upload; local:
    /// made from size and modification time). It changes whenever the
    /// content does, which is all the report needs of a checksum.
    pub etag: String,
}

/// `takes/<id>/records/caption.json`: the caption stage's record with the run
/// its files were written by and the files themselves (the caption crate's
/// [`CaptionRecord`] plus where it was stored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CaptionRun {
    #[serde(flatten)]
    pub caption: CaptionRecord,
    /// The run whose files these are.
    pub run: String,
    /// The WebVTT, SRT and transcript files (an SRT of a take without
    /// speech is 0 bytes long, and recorded so).
    pub objects: Vec<StoredObject>,
}
