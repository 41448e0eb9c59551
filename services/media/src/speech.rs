//! A take's sound as 16 kHz mono f32, the input of speech recognition,
//! pulled chunk by chunk so a 60-minute lecture never sits in memory whole.
//!
//! Only the audio is decoded: decodebin is told to stop at encoded video
//! (`autoplug-continue`), which goes to a fakesink, so a ProRes picture
//! costs a demux and nothing more. The appsink holds a few buffers at most
//! and the decode waits for the caller, so memory stays flat however slow
//! the recogniser is.

use crate::error::MediaError;
use crate::pipeline::{check_cancel, PipelineGuard};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Sample rate of the speech audio (what Whisper expects).
pub const SPEECH_RATE: u32 = 16_000;

/// An open decode of a take's first audio stream.
pub struct SpeechAudio {
    file: String,
    pipeline: gst::Pipeline,
    _guard: PipelineGuard,
    appsink: gst_app::AppSink,
    /// Set once decodebin has exposed all its pads.
    pads_done: Arc<AtomicBool>,
    /// Set when an audio pad was linked to the appsink.
    audio_found: Arc<AtomicBool>,
    finished: bool,
}

impl SpeechAudio {
    /// Opens `source` and starts decoding its audio (the picture is
    /// demuxed but never decoded).
    pub fn open(file: &str, source: &crate::Source) -> Result<Self, MediaError> {
        let (pipeline, guard, decode) = crate::pipeline::open_decode(file, source)?;
        let internal = |m: String| MediaError::Internal {
            file: file.to_string(),
            message: m,
        };
        let convert = gst::ElementFactory::make("audioconvert")
            .build()
            .map_err(|e| internal(e.to_string()))?;
        let resample = gst::ElementFactory::make("audioresample")
            .build()
            .map_err(|e| internal(e.to_string()))?;
        let caps = gst::Caps::builder("audio/x-raw")
            .field("format", "F32LE")
            .field("layout", "interleaved")
            .field("rate", SPEECH_RATE as i32)
            .field("channels", 1i32)
            .build();
        let appsink = gst_app::AppSink::builder()
            .caps(&caps)
            .sync(false)
            .max_buffers(8)
            .build();
        pipeline
            .add_many([&convert, &resample, appsink.upcast_ref()])
            .map_err(|e| internal(e.to_string()))?;
        gst::Element::link_many([&convert, &resample, appsink.upcast_ref()])
            .map_err(|e| internal(e.to_string()))?;

        // Stop at encoded video: it is never decoded. Only caps that come
        // out of a demuxer or parser count: typefind's own caps name the
        // container, and a QuickTime file is `video/quicktime`.
        decode.connect("autoplug-continue", false, |args| {
            let pad = args.get(1).and_then(|v| v.get::<gst::Pad>().ok());
            let caps = args.get(2).and_then(|v| v.get::<gst::Caps>().ok());
            let video = caps
                .and_then(|c| c.structure(0).map(|s| s.name().starts_with("video/")))
                .unwrap_or(false);
            // decodebin passes its own ghost pad; its target is the element's.
            let container = pad
                .map(|p| match p.downcast_ref::<gst::GhostPad>() {
                    Some(ghost) => ghost.target().unwrap_or(p),
                    None => p,
                })
                .and_then(|p| p.parent_element())
                .and_then(|e| e.factory())
                .is_some_and(|f| f.name() == "typefind");
            Some((!video || container).to_value())
        });
        let audio_found = Arc::new(AtomicBool::new(false));
        let pads_done = Arc::new(AtomicBool::new(false));
        let weak = pipeline.downgrade();
        let convert_sink = convert.static_pad("sink");
        let found = audio_found.clone();
        decode.connect_pad_added(move |_, pad| {
            let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
            let is_audio = caps
                .structure(0)
                .is_some_and(|s| s.name().starts_with("audio/x-raw"));
            if let Some(target) = convert_sink.as_ref().filter(|t| is_audio && !t.is_linked()) {
                if pad.link(target).is_ok() {
                    found.store(true, Ordering::SeqCst);
                    return;
                }
            }
            let Some(pipeline) = weak.upgrade() else {
                return;
            };
            crate::pipeline::discard(&pipeline, pad);
        });
        let done = pads_done.clone();
        decode.connect_no_more_pads(move |_| done.store(true, Ordering::SeqCst));

        pipeline
            .set_state(gst::State::Playing)
            .map_err(|_| internal("the audio decode would not start".into()))?;
        Ok(SpeechAudio {
            file: file.to_string(),
            pipeline,
            _guard: guard,
            appsink,
            pads_done,
            audio_found,
            finished: false,
        })
    }

    /// The take's duration in seconds, once the decode knows it.
    pub fn duration_seconds(&self) -> Option<f64> {
        self.pipeline
            .query_duration::<gst::ClockTime>()
            .map(|d| d.nseconds() as f64 / 1e9)
    }

    /// Whether the take has an audio stream; known once decodebin has
    /// exposed its pads (certainly after [`SpeechAudio::next`] returned `None`).
    pub fn has_audio(&self) -> bool {
        self.audio_found.load(Ordering::SeqCst)
    }

    /// The next decoded samples, `None` at the end (at once for a take
    /// without audio). Errors: the decode's own (a corrupt file), and
    /// `Cancelled` once `cancel` is set.
    pub fn next(&mut self, cancel: &AtomicBool) -> Result<Option<Vec<f32>>, MediaError> {
        if self.finished {
            return Ok(None);
        }
        loop {
            check_cancel(&self.file, cancel)?;
            self.check_bus()?;
            if let Some(sample) = self
                .appsink
                .try_pull_sample(gst::ClockTime::from_mseconds(100))
            {
                let Some(buffer) = sample.buffer() else {
                    continue;
                };
                let map = buffer.map_readable().map_err(|_| MediaError::Internal {
                    file: self.file.clone(),
                    message: "an audio buffer could not be read".into(),
                })?;
                let samples = map
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                return Ok(Some(samples));
            }
            if self.appsink.is_eos() {
                self.finished = true;
                return Ok(None);
            }
            if self.pads_done.load(Ordering::SeqCst) && !self.audio_found.load(Ordering::SeqCst) {
                // No audio stream: nothing will ever reach the appsink.
                self.finished = true;
                return Ok(None);
            }
        }
    }

    /// An error posted by any element ends the decode with that error.
    fn check_bus(&self) -> Result<(), MediaError> {
        let Some(bus) = self.pipeline.bus() else {
            return Ok(());
        };
        while let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
            if let gst::MessageView::Error(err) = msg.view() {
                return Err(MediaError::from_gst(
                    &self.file,
                    &err.error(),
                    err.debug().as_deref(),
                ));
            }
        }
        Ok(())
    }
}
