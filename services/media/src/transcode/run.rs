//! Running the built pipeline: frames counted at the video head, the bus
//! loop with its progress reports and cancel check, and the final report.

use super::head::VideoHead;
use super::TranscodeProgress;
use crate::error::MediaError;
use crate::pipeline::{check_cancel, played_fraction, wait_for_eos, PipelineGuard};
use gstreamer as gst;
use gstreamer::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The decoded frames entering the video head, for the progress report.
pub(super) fn count_frames(video: &VideoHead) -> Arc<AtomicU64> {
    let frames = Arc::new(AtomicU64::new(0));
    if let Some(pad) = video.convert.static_pad("sink") {
        let frames = frames.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            frames.fetch_add(1, Ordering::Relaxed);
            gst::PadProbeReturn::Ok
        });
    }
    frames
}

/// What a run needs besides the pipeline: the take's name, its duration
/// (for the fraction done), the decoded-frame counter, the cancel flag.
pub(super) struct Run<'a> {
    pub file: &'a str,
    pub duration: Option<Duration>,
    pub frames: Arc<AtomicU64>,
    pub cancel: &'a AtomicBool,
}

impl Run<'_> {
    /// Plays the pipeline to its end, reporting progress a few times a
    /// second; stops it (through `guard`) and reports the end.
    pub(super) fn play(
        &self,
        guard: PipelineGuard,
        progress: &mut dyn FnMut(&TranscodeProgress),
    ) -> Result<(), MediaError> {
        // The pipeline's span: decoded frames and how many times faster
        // than real time it ran, recorded however it ends.
        let span = tracing::info_span!(
            "gstreamer transcode",
            file = self.file,
            frames = tracing::field::Empty,
            realtime_factor = tracing::field::Empty,
        );
        let _entered = span.enter();
        let pipeline = &guard.0;
        pipeline.set_state(gst::State::Playing).map_err(|_| {
            super::graph::internal(self.file, "the transcode pipeline would not start")
        })?;
        let started = Instant::now();
        let duration = self
            .duration
            .map(|d| gst::ClockTime::from_nseconds(d.as_nanos() as u64));
        let played = wait_for_eos(self.file, pipeline, &mut |pipeline| {
            check_cancel(self.file, self.cancel)?;
            let fraction = played_fraction(pipeline, duration).unwrap_or(0.0);
            let elapsed = started.elapsed();
            let eta = (fraction > 0.01).then(|| elapsed.mul_f64((1.0 - fraction) / fraction));
            progress(&self.report(fraction, elapsed, eta));
            Ok(())
        });
        span.record("frames", self.frames.load(Ordering::Relaxed));
        if let (Ok(()), Some(media)) = (&played, self.duration) {
            let wall = started.elapsed().as_secs_f64().max(1e-3);
            span.record("realtime_factor", media.as_secs_f64() / wall);
        }
        played?;
        drop(guard);
        progress(&self.report(1.0, started.elapsed(), Some(Duration::ZERO)));
        Ok(())
    }

    fn report(&self, fraction: f64, elapsed: Duration, eta: Option<Duration>) -> TranscodeProgress {
        let frames = self.frames.load(Ordering::Relaxed);
        TranscodeProgress {
            fraction,
            frames,
            fps: frames as f64 / elapsed.as_secs_f64().max(1e-3),
            elapsed,
            eta,
        }
    }
}
