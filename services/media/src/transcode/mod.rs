//! The transcode pipeline: one decode of the source feeds every rung of the
//! ladder; each rung's H.264 goes to an MP4 (index at the front) and to an
//! HLS variant; one AAC encode feeds them all.
//!
//! ```text
//! filesrc ─ decodebin ─┬─ queue ─ [moocpipe420] ─ videoconvert(I420) ─ tee ─┬─ queue ─ videoscale ─ x264enc ─ tee ─┬─ queue ─ h264parse ─ mp4mux ─ filesink
//!                      │                                             │   (one chain per rung)               └─ queue ─ h264parse ─ hlssink2
//!                      │                                             ├─ one frame ─ queue ─ videoscale ─ jpegenc ─ filesink (poster)
//!                      │                                             └─ videoscale ─ videoconvert(GRAY8) ─ queue ─ appsink (QC, when asked)
//!                      └─ queue ─ tee ─┬─ queue ─ audioconvert ─ audioresample ─ avenc_aac ─ aacparse ─ tee ─ queue ─▶ every mp4mux and hlssink2
//!                                      └─ queue ─ audioconvert ─ audioresample ─ appsink (QC, when asked)
//! ```
//!
//! Audio waits in deep queues (30 s) before each muxer: x264's lookahead
//! holds video back, and with 1 s audio queues mp4mux deadlocked at slower
//! presets (the demuxer feeds both streams from one thread).
//!
//! The pipeline is built by a `Graph` (the take's name and plan
//! beside the pipeline) one part at a time: the source and the heads
//! (`head`), each rung with its MP4 and HLS (`rung`), the poster
//! (`poster`); then it is run to its end (`run`).

mod graph;
mod head;
mod poster;
mod run;
mod rung;

pub use poster::poster;

use crate::analyse::AnalysisSink;
use crate::error::MediaError;
use crate::pipeline::PipelineGuard;
use graph::Graph;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One rung of the ladder and where its outputs go.
#[derive(Debug, Clone)]
pub struct RungPlan {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub bitrate_bps: u64,
    pub mp4: PathBuf,
    /// Folder of the rung's HLS media playlist (`index.m3u8`) and segments.
    pub hls_dir: Option<PathBuf>,
}

/// The poster: one decoded frame, the first at or after `at` (counted from
/// the first frame), scaled to `width`×`height` and written as a JPEG.
/// Taken from the transcode's own decode, so the source picture (not the
/// re-encoded rendition) and no second decode once the transcode is done.
#[derive(Debug, Clone)]
pub struct PosterPlan {
    pub path: PathBuf,
    pub at: Duration,
    pub width: u32,
    pub height: u32,
}

/// Everything the pipeline needs to know.
#[derive(Clone)]
pub struct TranscodePlan {
    pub source: crate::Source,
    pub rungs: Vec<RungPlan>,
    /// Whether the source has an audio stream to encode.
    pub audio: bool,
    pub audio_bitrate_bps: u64,
    /// x264 speed preset, e.g. "veryfast", "medium".
    pub preset: String,
    /// Frames between key frames (HLS segments cut on them).
    pub key_int: u32,
    pub hls_segment_seconds: u32,
    /// Title written into the MP4 metadata.
    pub title: String,
    /// The source's duration, for progress.
    pub duration: Option<Duration>,
    /// Where mp4mux may write its faststart scratch copy.
    pub scratch_dir: PathBuf,
    /// Feeds the decoded source to a technical-quality analysis too, so that
    /// QC shares the transcode's decode: frames scaled to this width.
    pub analysis: Option<(u32, Arc<Mutex<dyn AnalysisSink>>)>,
    /// Writes a poster from the decoded frames as well.
    pub poster: Option<PosterPlan>,
}

/// A progress report, a few times a second.
#[derive(Debug, Clone, Copy)]
pub struct TranscodeProgress {
    /// 0.0–1.0 of the source's duration.
    pub fraction: f64,
    pub frames: u64,
    pub fps: f64,
    pub elapsed: Duration,
    pub eta: Option<Duration>,
}

/// Runs the transcode. `cancel` stops it cleanly (outputs are then incomplete
/// and must be discarded by the caller). Only ever reads the source.
pub fn transcode(
    file: &str,
    plan: &TranscodePlan,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(&TranscodeProgress),
) -> Result<(), MediaError> {
    crate::init()?;
    let graph = Graph::new(file, plan);
    let guard = PipelineGuard(graph.pipeline.clone());

    let decode = graph.source()?;
    let video = graph.video_head()?;
    let audio = plan.audio.then(|| graph.audio_head()).transpose()?;
    graph.analysis(&video, audio.as_ref())?;
    if let Some(poster) = &plan.poster {
        graph.poster(poster, &video)?;
    }
    for rung in &plan.rungs {
        graph.rung(rung, &video, audio.as_ref())?;
    }
    graph.route_decoded(&decode, &video, audio.as_ref());

    let run = run::Run {
        file,
        duration: plan.duration,
        frames: run::count_frames(&video),
        cancel,
    };
    run.play(guard, progress)
}
