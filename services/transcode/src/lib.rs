//! The transcode stage.
