//! GStreamer measurements of media files. Knows nothing of rules or queues:
//! it answers "what is in this file", and the stages judge it.
//!
//! - [`measure`]: the facts of a raw take, from its container's index and
//!   the first frame of every stream where the index can be trusted
//!   (MOV/MP4, MXF OP1a), else from one demux pass over every frame (parsers where
//!   they exist for caps, never a decoder). Where the sample descriptions
//!   and the first frame's header say every codec fact (ProRes, DNxHD/DNxHR
//!   and PCM in MOV/MP4), GStreamer is not even initialised.

pub mod analyse;
mod codec;
pub mod convert;
mod demux;
mod described;
pub mod error;
mod index;
mod measure;
mod pipeline;
pub mod source;
pub mod speech;
pub mod transcode;

pub use error::MediaError;
pub use measure::{measure, measure_source, MeasureOptions, MeasuredFrom, Measurement};
pub use source::{RangeReader, Source};

/// Initialises GStreamer once per process. Safe to call many times.
pub fn init() -> Result<(), MediaError> {
    static INIT: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    INIT.get_or_init(|| {
        gstreamer::init().map_err(|e| e.to_string())?;
        convert::register().map_err(|e| e.to_string())?;
        Ok(())
    })
    .clone()
    .map_err(|message| MediaError::Internal {
        file: "-".into(),
        message: format!("GStreamer failed to initialise: {message}"),
    })
}
