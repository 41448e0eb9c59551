//! Types that cross a process boundary or land in storage: records, rule ids,
//! verdicts and errors. Every record carries [`SCHEMA_VERSION`]; the JSON Schemas
//! in `proto/schema/` are generated from these types (see [`schema`]) and a test
//! fails when they drift apart.

pub mod caption;
pub mod course;
pub mod job;
pub mod material;
pub mod naming;
pub mod probe;
pub mod qc;
pub mod report;
pub mod rules;
pub mod run;
pub mod schema;
pub mod stage;
pub mod take;
pub mod transcode;

pub use caption::{
    CaptionRecord, CaptionSource, CaptionWarning, CaptionWarningKind, CueStyleLimits, StyleRule,
    StyleViolation,
};
pub use course::CourseInfo;
pub use job::{
    IngestJob, IngestVia, NoticeRecord, PublishedLink, PublishedRecord, StableLinkRecord, TakeJob,
};
pub use material::{
    MaterialError, MaterialErrorKind, MaterialFamily, MaterialRecord, MaterialType,
    MaterialVerdict, MATERIAL_EVENT,
};
pub use naming::{slug, SLUG_MAX_LEN};
pub use probe::{
    AudioFacts, ErrorKind, Fraction, Interlacing, MeasuredFrom, ProbeError, ProbeRecord,
    StreamCounts, TakeVerdict, VideoFacts,
};
pub use qc::{AudioQc, Bars, Finding, FindingKind, QcRecord, Severity, SuggestedScore, VideoQc};
pub use report::{LessonSegments, ModuleSegments, SegmentReport, SegmentTake};
pub use rules::{RuleId, RuleResult, Verdict};
pub use run::{CaptionRun, StoredObject};
pub use stage::{Stage, UnknownStage};
pub use take::{Sidecar, TakeKind, TakeRef};
pub use transcode::{EncodeSettings, HlsPackage, Rendition, TranscodeRecord};

/// Version of every record and message schema in this crate. Bump it on any
/// change a reader of an older version could misread.
pub const SCHEMA_VERSION: u32 = 1;
