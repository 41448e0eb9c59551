//! Test support for moocpipe's end-to-end tests: media generated at test time
//! with GStreamer (ffmpeg only where GStreamer 1.22 cannot make the file),
//! cached by recipe; the moocpipe binary; and independent oracles (ffprobe,
//! mediainfo) to confirm what moocpipe measures.

pub mod cli;
pub mod media;
pub mod oracle;
pub mod wer;
