//! GStreamer's Discoverer: stream facts after the parsers have looked at the
//! streams (profile, chroma, bit depth, interlacing of H.264 and friends).

use crate::error::MediaError;
use gstreamer as gst;
use gstreamer_pbutils as pbutils;
use gstreamer_pbutils::prelude::*;
use std::path::Path;

/// The parts of a DiscovererInfo the measurement uses.
#[derive(Debug, Clone, Default)]
pub struct Discovered {
    pub duration: Option<gst::ClockTime>,
    /// Caps of each video stream, in stream order.
    pub video: Vec<gst::Caps>,
    /// Caps and Discoverer depth of each audio stream, in stream order.
    pub audio: Vec<(gst::Caps, u32)>,
}

/// Runs Discoverer on `path` (absolute) with its own time bound.
pub fn run(file: &str, path: &Path, timeout: gst::ClockTime) -> Result<Discovered, MediaError> {
    let internal = |message: String| MediaError::Internal {
        file: file.to_string(),
        message,
    };
    let uri = gst::glib::filename_to_uri(path, None)
        .map_err(|e| internal(format!("cannot make a URI of the path: {e}")))?;
    let discoverer =
        pbutils::Discoverer::new(timeout).map_err(|e| internal(format!("Discoverer: {e}")))?;
    let info = discoverer
        .discover_uri(&uri)
        .map_err(|e| MediaError::from_gst(file, &e, None))?;
    match info.result() {
        pbutils::DiscovererResult::Ok | pbutils::DiscovererResult::MissingPlugins => {}
        pbutils::DiscovererResult::Timeout => {
            return Err(MediaError::Timeout {
                file: file.to_string(),
                seconds: timeout.seconds(),
            })
        }
        other => return Err(internal(format!("Discoverer result {other:?}"))),
    }
    Ok(Discovered {
        duration: info.duration(),
        video: info
            .video_streams()
            .iter()
            .filter_map(|v| v.caps())
            .collect(),
        audio: info
            .audio_streams()
            .iter()
            .filter_map(|a| a.caps().map(|c| (c, a.depth())))
            .collect(),
    })
}
