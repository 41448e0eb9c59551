//! One decode of a take for analysis: its first audio stream as 48 kHz
//! interleaved f32 and its first video stream as small 8-bit luma frames,
//! handed to an [`AnalysisSink`] as they are decoded. Memory stays flat:
//! each chunk is dropped once the sink has seen it.

use crate::error::MediaError;
use crate::pipeline::{check_cancel, played_fraction, wait_for_eos};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

/// Sample rate audio is analysed at.
pub const ANALYSIS_RATE: u32 = 48_000;

/// Receives decoded media. Called from GStreamer's streaming threads.
pub trait AnalysisSink: Send {
    /// `samples` are interleaved, `channels` per frame, at [`ANALYSIS_RATE`].
    fn audio(&mut self, channels: u32, pts_seconds: f64, samples: &[f32]);
    /// An 8-bit luma plane of `width`×`height`, rows `stride` bytes apart.
    fn video(&mut self, width: u32, height: u32, pts_seconds: f64, luma: &[u8], stride: usize);
}

/// Which streams the decode found and fed to the sink.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Analysed {
    pub audio: bool,
    pub video: bool,
}

fn lock<T: ?Sized>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Decodes `path` once, feeding `sink`; video frames are scaled to
/// `video_width` pixels wide (aspect kept). `progress` gets the fraction of
/// the duration decoded; `cancel` stops the decode.
pub fn analyse(
    file: &str,
    path: &Path,
    video_width: u32,
    sink: Arc<Mutex<dyn AnalysisSink>>,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(f64),
) -> Result<Analysed, MediaError> {
    let source = crate::Source::File(path.to_path_buf());
    let (pipeline, guard, decode) = crate::pipeline::open_decode(file, &source)?;
    let internal = |m: String| MediaError::Internal {
        file: file.to_string(),
        message: m,
    };

    let found = Arc::new(Mutex::new(Analysed::default()));
    let weak = pipeline.downgrade();
    let found_pads = found.clone();
    decode.connect_pad_added(move |_, pad| {
        let Some(pipeline) = weak.upgrade() else {
            return;
        };
        let name = pad
            .current_caps()
            .and_then(|c| c.structure(0).map(|s| s.name().to_string()))
            .unwrap_or_default();
        let mut found = lock(&found_pads);
        let branch = if name.starts_with("audio/") && !found.audio {
            found.audio = true;
            audio_branch(sink.clone())
        } else if name.starts_with("video/") && !found.video {
            found.video = true;
            video_branch(sink.clone(), video_width)
        } else {
            gst::ElementFactory::make("fakesink")
                .property("sync", false)
                .build()
                .map(|e| vec![e])
                .ok()
        };
        let Some(chain) = branch else { return };
        if pipeline.add_many(chain.iter()).is_err()
            || gst::Element::link_many(chain.iter()).is_err()
        {
            return;
        }
        if let Some(sinkpad) = chain.first().and_then(|e| e.static_pad("sink")) {
            let _ = pad.link(&sinkpad);
        }
        for e in chain.iter().rev() {
            let _ = e.sync_state_with_parent();
        }
    });

    pipeline
        .set_state(gst::State::Playing)
        .map_err(|_| internal("the analysis pipeline would not start".into()))?;
    let mut duration: Option<gst::ClockTime> = None;
    wait_for_eos(file, &pipeline, &mut |pipeline| {
        check_cancel(file, cancel)?;
        duration = duration.or_else(|| pipeline.query_duration::<gst::ClockTime>());
        if let Some(f) = played_fraction(pipeline, duration) {
            progress(f);
        }
        Ok(())
    })?;
    drop(guard);
    progress(1.0);
    let found = *lock(&found);
    Ok(found)
}

fn pts_seconds(buffer: &gst::BufferRef) -> f64 {
    buffer
        .pts()
        .map(|p| p.nseconds() as f64 / 1e9)
        .unwrap_or_default()
}

/// queue → audioconvert → audioresample → appsink (48 kHz f32) feeding `sink`.
pub(crate) fn audio_branch(sink: Arc<Mutex<dyn AnalysisSink>>) -> Option<Vec<gst::Element>> {
    // Deep: inside the transcode the sinks wait in PAUSED until x264 has
    // output its first frames, and a shallow queue would stall the decode.
    let queue = queue_of_time(gst::ClockTime::from_seconds(30))?;
    let convert = gst::ElementFactory::make("audioconvert").build().ok()?;
    let resample = gst::ElementFactory::make("audioresample").build().ok()?;
    let caps = gst::Caps::builder("audio/x-raw")
        .field("format", "F32LE")
        .field("layout", "interleaved")
        .field("rate", ANALYSIS_RATE as i32)
        .build();
    let appsink = analysis_sink(&caps);
    appsink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let channels = sample
                    .caps()
                    .and_then(|c| c.structure(0).and_then(|st| st.get::<i32>("channels").ok()))
                    .and_then(|c| u32::try_from(c).ok())
                    .unwrap_or(1);
                let Some(buffer) = sample.buffer() else {
                    return Ok(gst::FlowSuccess::Ok);
                };
                let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
                let floats: Vec<f32> = map
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                lock(&sink).audio(channels, pts_seconds(buffer), &floats);
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    Some(vec![queue, convert, resample, appsink.upcast()])
}

/// videoscale → videoconvert → queue → appsink (GRAY8, `width` wide) feeding `sink`.
pub(crate) fn video_branch(
    sink: Arc<Mutex<dyn AnalysisSink>>,
    width: u32,
) -> Option<Vec<gst::Element>> {
    // The queue comes after the scaling and is unbounded: inside the
    // transcode the sinks wait in PAUSED until x264 has output its first
    // frames (its lookahead), and a queue of full-size frames that fills in
    // the meantime stalled the whole pipeline. Small frames queue cheaply.
    let queue = queue_of_time(gst::ClockTime::ZERO)?;
    let scale = gst::ElementFactory::make("videoscale").build().ok()?;
    let convert = gst::ElementFactory::make("videoconvert").build().ok()?;
    let caps = gst::Caps::builder("video/x-raw")
        .field("format", "GRAY8")
        .field("width", width as i32)
        .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
        .build();
    let appsink = analysis_sink(&caps);
    appsink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let Some(info) = sample
                    .caps()
                    .and_then(|c| gstreamer_video::VideoInfo::from_caps(c).ok())
                else {
                    return Ok(gst::FlowSuccess::Ok);
                };
                let Some(buffer) = sample.buffer() else {
                    return Ok(gst::FlowSuccess::Ok);
                };
                let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
                let stride = info
                    .stride()
                    .first()
                    .copied()
                    .unwrap_or(info.width() as i32)
                    .max(0) as usize;
                lock(&sink).video(
                    info.width(),
                    info.height(),
                    pts_seconds(buffer),
                    &map,
                    stride,
                );
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    // videoscale before videoconvert: scale the big picture down first.
    Some(vec![scale, convert, queue, appsink.upcast()])
}

/// A queue bounded only by the time it holds (`ZERO`: unbounded).
fn queue_of_time(limit: gst::ClockTime) -> Option<gst::Element> {
    gst::ElementFactory::make("queue")
        .property("max-size-time", limit.nseconds())
        .property("max-size-bytes", 0u32)
        .property("max-size-buffers", 0u32)
        .build()
        .ok()
}

/// An appsink that never waits, neither for the clock nor for preroll: the
/// analysis reads as fast as the decoder delivers.
fn analysis_sink(caps: &gst::Caps) -> gst_app::AppSink {
    let sink = gst_app::AppSink::builder().caps(caps).sync(false).build();
    sink.set_property("async", false);
    sink
}
