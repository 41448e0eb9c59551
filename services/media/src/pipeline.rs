//! Running a pipeline to its end, shared by the demux pass, the transcode
//! and the analysis decode: a guard that stops it however the run ends, and
//! the bus loop.

use crate::error::MediaError;
use gstreamer as gst;
use gstreamer::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// Sets the pipeline to `Null` however the run ends.
pub(crate) struct PipelineGuard(pub gst::Pipeline);

impl Drop for PipelineGuard {
    fn drop(&mut self) {
        let _ = self.0.set_state(gst::State::Null);
    }
}

/// The application message a streaming thread posts when the pipeline has
/// seen all it needs before its end of stream (see [`wait_for_eos`]).
pub(crate) const DONE_MESSAGE: &str = "moocpipe-done";

/// Waits for the end of stream, or for a [`DONE_MESSAGE`]. Every 250 ms,
/// and before each wait, `tick` runs: it reports progress, and stops the
/// run by returning an error (cancelled, out of time…). An error message
/// from an element ends the run with that element's error.
pub(crate) fn wait_for_eos(
    file: &str,
    pipeline: &gst::Pipeline,
    tick: &mut dyn FnMut(&gst::Pipeline) -> Result<(), MediaError>,
) -> Result<(), MediaError> {
    let bus = pipeline.bus().ok_or_else(|| MediaError::Internal {
        file: file.to_string(),
        message: "pipeline without a bus".into(),
    })?;
    loop {
        tick(pipeline)?;
        let msg = bus.timed_pop_filtered(
            gst::ClockTime::from_mseconds(250),
            &[
                gst::MessageType::Eos,
                gst::MessageType::Error,
                gst::MessageType::Application,
            ],
        );
        match msg.as_ref().map(|m| m.view()) {
            Some(gst::MessageView::Eos(_)) => return Ok(()),
            Some(gst::MessageView::Application(app))
                if app.structure().is_some_and(|s| s.name() == DONE_MESSAGE) =>
            {
                return Ok(())
            }
            Some(gst::MessageView::Error(err)) => {
                return Err(MediaError::from_gst(
                    file,
                    &err.error(),
                    err.debug().as_deref(),
                ));
            }
            _ => {}
        }
    }
}

/// `Err(Cancelled)` once `cancel` is set.
pub(crate) fn check_cancel(file: &str, cancel: &AtomicBool) -> Result<(), MediaError> {
    if cancel.load(Ordering::Relaxed) {
        Err(MediaError::Cancelled {
            file: file.to_string(),
        })
    } else {
        Ok(())
    }
}

/// The fraction of the pipeline's duration played so far, when both are known.
pub(crate) fn played_fraction(
    pipeline: &gst::Pipeline,
    duration: Option<gst::ClockTime>,
) -> Option<f64> {
    let d = duration.or_else(|| pipeline.query_duration::<gst::ClockTime>())?;
    let p = pipeline.query_position::<gst::ClockTime>()?;
    (!d.is_zero()).then(|| (p.nseconds() as f64 / d.nseconds() as f64).clamp(0.0, 1.0))
}

/// Links `pad` to a new fakesink in `pipeline`: a stream nobody wants still
/// has to flow, or its demuxer would stall the others.
pub(crate) fn discard(pipeline: &gst::Pipeline, pad: &gst::Pad) {
    let Ok(sink) = gst::ElementFactory::make("fakesink")
        .property("sync", false)
        .property("async", false)
        .build()
    else {
        return;
    };
    if pipeline.add(&sink).is_ok() {
        if let Some(sinkpad) = sink.static_pad("sink") {
            let _ = pad.link(&sinkpad);
        }
        let _ = sink.sync_state_with_parent();
    }
}

/// A new pipeline `<source> ! decodebin` (filesrc, or an appsrc reading
/// ranges of a remote object), after the preflight checks, with its guard:
/// the start of every decode of a take (analysis, speech). The caller links
/// decodebin's pads.
pub(crate) fn open_decode(
    file: &str,
    source: &crate::Source,
) -> Result<(gst::Pipeline, PipelineGuard, gst::Element), MediaError> {
    crate::source::preflight(file, source)?;
    crate::init()?;
    let internal = |m: String| MediaError::Internal {
        file: file.to_string(),
        message: m,
    };
    let pipeline = gst::Pipeline::new();
    let guard = PipelineGuard(pipeline.clone());
    let src = crate::source::element(file, source)?;
    let decode = gst::ElementFactory::make("decodebin")
        .build()
        .map_err(|e| internal(e.to_string()))?;
    pipeline
        .add_many([&src, &decode])
        .map_err(|e| internal(e.to_string()))?;
    src.link(&decode).map_err(|e| internal(e.to_string()))?;
    Ok((pipeline, guard, decode))
}
