//! The poster: one frame of the transcode's own decode, scaled and written as
//! a JPEG; and, for a take whose frames end before the poster's time, a
//! poster decoded from a finished rendition.

use super::graph::{internal, Graph};
use super::head::VideoHead;
use super::PosterPlan;
use crate::error::MediaError;
use crate::pipeline::PipelineGuard;
use gstreamer as gst;
use gstreamer::prelude::*;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

pub(super) fn clock_time(d: Duration) -> gst::ClockTime {
    gst::ClockTime::from_nseconds(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

impl Graph<'_> {
    /// The poster branch: queue ─ videoscale ─ caps ─ jpegenc ─ filesink,
    /// fed by the video head. A probe in front of the queue lets exactly one
    /// frame in, the first at or after `at`, so the branch costs one scale
    /// and one JPEG encode. The sink does not take part in preroll
    /// (`async=false`): it gets its frame only after `at`, and the other
    /// sinks must not wait for it.
    pub(super) fn poster(&self, poster: &PosterPlan, video: &VideoHead) -> Result<(), MediaError> {
        let queue = self.make("queue")?;
        let [scale, size] = self.scaler(poster.width, poster.height)?;
        let jpeg = self.make("jpegenc")?;
        jpeg.set_property("quality", 90i32);
        let sink = self.make("filesink")?;
        sink.set_property("location", poster.path.to_string_lossy().as_ref());
        sink.set_property("async", false);

        queue
            .static_pad("sink")
            .ok_or_else(|| self.internal("queue without a sink pad"))?
            .add_probe(
                gst::PadProbeType::BUFFER,
                one_frame_at(clock_time(poster.at)),
            );
        self.add_chain(&[&queue, &scale, &size, &jpeg, &sink])?;
        self.link_from_tee(&video.tee, &queue)
    }
}

/// A buffer probe that passes the first frame at or after `at` (counted from
/// the first frame's time) and consumes every other frame.
///
/// A frame kept out is taken from the probe info and dropped here, and the
/// probe answers `Handled`: "consumed, do not pass it on, do not unref it".
/// Answering `Drop` instead logged a `GStreamer-CRITICAL
/// gst_mini_object_unref: assertion 'mini_object != NULL'` per dropped
/// frame (issue 11): gstreamer-rs 0.25 moves the buffer out of GStreamer's
/// probe info into ours (leaving NULL there) and unrefs it when ours is
/// dropped; on `Drop`, GStreamer 1.22's pad then unrefs its own pointer, now
/// NULL. `Handled` is the answer for data the probe disposed of itself.
fn one_frame_at(
    at: gst::ClockTime,
) -> impl Fn(&gst::Pad, &mut gst::PadProbeInfo) -> gst::PadProbeReturn + Send + Sync + 'static {
    // The first frame's time, and whether the poster's frame has gone by.
    let seen: Mutex<(Option<gst::ClockTime>, bool)> = Mutex::new((None, false));
    move |_, info| {
        let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
        let (first, taken) = &mut *seen;
        let pass = info
            .buffer()
            .and_then(|b| b.pts())
            .filter(|_| !*taken)
            .is_some_and(|pts| pts.saturating_sub(*first.get_or_insert(pts)) >= at);
        if pass {
            *taken = true;
            gst::PadProbeReturn::Ok
        } else {
            drop(info.take_buffer());
            gst::PadProbeReturn::Handled
        }
    }
}

/// Writes a JPEG poster of the key frame nearest `at` (from the start) of an
/// H.264 MP4, decoding that one frame. The transcode
/// writes its poster itself ([`PosterPlan`]); this is for when it could not
/// (a take whose frames end before the poster's time).
pub fn poster(file: &str, mp4: &Path, at: Duration, out: &Path) -> Result<(), MediaError> {
    crate::init()?;
    let pipeline = gst::parse::launch(
        "filesrc name=src ! qtdemux ! video/x-h264 ! h264parse ! avdec_h264 ! videoconvert ! jpegenc quality=90 snapshot=true ! filesink name=sink",
    )
    .map_err(|e| internal(file, format!("poster pipeline: {e}")))?
    .downcast::<gst::Pipeline>()
    .map_err(|_| internal(file, "poster pipeline is not a pipeline"))?;
    let _guard = PipelineGuard(pipeline.clone());
    let by_name = |name: &str| {
        pipeline
            .by_name(name)
            .ok_or_else(|| internal(file, format!("no {name}")))
    };
    by_name("src")?.set_property("location", mp4.to_string_lossy().as_ref());
    by_name("sink")?.set_property("location", out.to_string_lossy().as_ref());
    pipeline
        .set_state(gst::State::Paused)
        .map_err(|_| internal(file, "the poster pipeline would not start"))?;
    let bus = pipeline
        .bus()
        .ok_or_else(|| internal(file, "pipeline without a bus"))?;
    let wait = |types: &[gst::MessageType]| -> Result<(), MediaError> {
        match bus.timed_pop_filtered(gst::ClockTime::from_seconds(30), types) {
            Some(msg) => match msg.view() {
                gst::MessageView::Error(err) => Err(MediaError::from_gst(
                    file,
                    &err.error(),
                    err.debug().as_deref(),
                )),
                _ => Ok(()),
            },
            None => Err(MediaError::Timeout {
                file: file.to_string(),
                seconds: 30,
            }),
        }
    };
    wait(&[gst::MessageType::AsyncDone, gst::MessageType::Error])?;
    let target = clock_time(at);
    pipeline
        // The key frame nearest the target: one frame to decode instead of a GOP.
        .seek_simple(
            gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT | gst::SeekFlags::SNAP_NEAREST,
            target,
        )
        .map_err(|e| internal(file, format!("poster seek: {e}")))?;
    wait(&[gst::MessageType::AsyncDone, gst::MessageType::Error])?;
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|_| internal(file, "the poster pipeline would not play"))?;
    wait(&[gst::MessageType::Eos, gst::MessageType::Error])
}
