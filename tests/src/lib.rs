//! Test support for moocpipe's end-to-end tests: media generated at test time
//! with GStreamer (ffmpeg only where GStreamer 1.22 cannot make the file),
//! cached by recipe; the moocpipe binary; independent oracles (ffprobe,
//! mediainfo) to confirm what moocpipe measures; the distributed pipeline
//! on real components, and the fault suite that runs on it.

pub mod browser;
pub mod cli;
pub mod faults;
#[path = "../../services/storage/tests/garage/mod.rs"]
pub mod garage;
pub mod materials;
pub mod media;
pub mod netns;
pub mod oracle;
pub mod otlp;
pub mod pipeline;
pub mod throttle;
pub mod wer;
