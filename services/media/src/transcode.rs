//! The transcode pipeline: one decode of the source feeds every rung of the
//! ladder; each rung's H.264 goes to an MP4 (index at the front) and to an
//! HLS variant; one AAC encode feeds them all.
//!
//! ```text
//! filesrc ─ decodebin ─┬─ queue ─ [moocpipe420] ─ videoconvert(I420) ─ tee ─┬─ queue ─ videoscale ─ x264enc ─ tee ─┬─ queue ─ h264parse ─ mp4mux ─ filesink
//!                      │                                             │   (one chain per rung)               └─ queue ─ h264parse ─ hlssink2
//!                      └─ queue ─ audioconvert ─ audioresample ─ avenc_aac ─ aacparse ─ tee ─ queue ─▶ every mp4mux and hlssink2
//! ```
//!
//! Audio waits in deep queues (30 s) before each muxer: x264's lookahead
//! holds video back, and with 1 s audio queues mp4mux deadlocked at slower
//! presets (the demuxer feeds both streams from one thread).

use crate::analyse::AnalysisSink;
use crate::error::MediaError;
use crate::pipeline::{check_cancel, played_fraction, wait_for_eos, PipelineGuard};
use gstreamer as gst;
use gstreamer::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

fn make(factory: &str, file: &str) -> Result<gst::Element, MediaError> {
    gst::ElementFactory::make(factory)
        .build()
        .map_err(|_| MediaError::MissingPlugin {
            file: file.to_string(),
            message: format!("GStreamer element {factory} is not installed"),
        })
}

fn internal(file: &str, message: impl Into<String>) -> MediaError {
    MediaError::Internal {
        file: file.to_string(),
        message: message.into(),
    }
}

/// A queue that holds up to `seconds` of data whatever its size.
fn deep_queue(file: &str, seconds: u64) -> Result<gst::Element, MediaError> {
    let q = make("queue", file)?;
    q.set_property(
        "max-size-time",
        gst::ClockTime::from_seconds(seconds).nseconds(),
    );
    q.set_property("max-size-bytes", 0u32);
    q.set_property("max-size-buffers", 0u32);
    Ok(q)
}

fn caps_filter(file: &str, caps: gst::Caps) -> Result<gst::Element, MediaError> {
    let f = make("capsfilter", file)?;
    f.set_property("caps", caps);
    Ok(f)
}

/// videoscale (on every core) and the caps that make it scale to
/// `width`×`height` with square pixels.
fn scaler(file: &str, width: u32, height: u32) -> Result<(gst::Element, gst::Element), MediaError> {
    let scale = make("videoscale", file)?;
    scale.set_property("n-threads", 0u32);
    let size = caps_filter(
        file,
        gst::Caps::builder("video/x-raw")
            .field("width", width as i32)
            .field("height", height as i32)
            .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
            .build(),
    )?;
    Ok((scale, size))
}

fn add_chain(
    pipeline: &gst::Pipeline,
    file: &str,
    chain: &[&gst::Element],
) -> Result<(), MediaError> {
    pipeline
        .add_many(chain.iter().copied())
        .map_err(|e| internal(file, e.to_string()))?;
    gst::Element::link_many(chain.iter().copied()).map_err(|e| internal(file, e.to_string()))
}

/// Feeds the encoded audio from `a_tee` to a muxer's request pad through a
/// 30 s queue (x264's lookahead holds video back; a shallow queue deadlocks).
fn feed_audio(
    pipeline: &gst::Pipeline,
    a_tee: &gst::Element,
    mux: &gst::Element,
    template: &str,
    file: &str,
) -> Result<(), MediaError> {
    let q = deep_queue(file, 30)?;
    pipeline
        .add(&q)
        .map_err(|e| internal(file, e.to_string()))?;
    link_from_tee(a_tee, &q, file)?;
    link_to_request(&q, mux, template, file)
}

/// Adds an analysis branch and feeds it from a new pad of `tee`.
fn attach(
    pipeline: &gst::Pipeline,
    tee: &gst::Element,
    branch: Option<Vec<gst::Element>>,
    file: &str,
) -> Result<(), MediaError> {
    let chain = branch.ok_or_else(|| MediaError::MissingPlugin {
        file: file.to_string(),
        message: "an element of the analysis branch is not installed".into(),
    })?;
    let refs: Vec<&gst::Element> = chain.iter().collect();
    add_chain(pipeline, file, &refs)?;
    link_from_tee(tee, &chain[0], file)
}

/// Links a tee's new request pad to `sink`'s sink pad.
fn link_from_tee(tee: &gst::Element, sink: &gst::Element, file: &str) -> Result<(), MediaError> {
    let src = tee
        .request_pad_simple("src_%u")
        .ok_or_else(|| internal(file, "tee gave no pad"))?;
    let sinkpad = sink
        .static_pad("sink")
        .ok_or_else(|| internal(file, "no sink pad"))?;
    src.link(&sinkpad)
        .map(|_| ())
        .map_err(|e| internal(file, e.to_string()))
}

/// Links `src`'s src pad to a request pad of a muxer.
fn link_to_request(
    src: &gst::Element,
    mux: &gst::Element,
    template: &str,
    file: &str,
) -> Result<(), MediaError> {
    let sinkpad = mux
        .request_pad_simple(template)
        .ok_or_else(|| internal(file, format!("{} gave no {template} pad", mux.name())))?;
    let srcpad = src
        .static_pad("src")
        .ok_or_else(|| internal(file, "no src pad"))?;
    srcpad
        .link(&sinkpad)
        .map(|_| ())
        .map_err(|e| internal(file, e.to_string()))
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
    let pipeline = gst::Pipeline::new();
    let guard = PipelineGuard(pipeline.clone());

    let src = crate::source::element(file, &plan.source)?;
    let decode = make("decodebin", file)?;
    pipeline
        .add_many([&src, &decode])
        .map_err(|e| internal(file, e.to_string()))?;
    src.link(&decode)
        .map_err(|e| internal(file, e.to_string()))?;

    // Video head: videoconvert to 8-bit 4:2:0 once, on every core → tee.
    // Every rung then scales I420, the format x264 encodes; converting per
    // rung cost 18 % more wall time than ffmpeg on the ladder. A 10-bit
    // source (ProRes, DNxHD) is converted by `moocpipe420` first (see
    // `convert`), and videoconvert passes its I420 through untouched.
    let v_convert = make("videoconvert", file)?;
    v_convert.set_property("n-threads", 0u32);
    let v_i420 = caps_filter(
        file,
        gst::Caps::builder("video/x-raw")
            .field("format", "I420")
            .build(),
    )?;
    let v_tee = make("tee", file)?;
    add_chain(&pipeline, file, &[&v_convert, &v_i420, &v_tee])?;

    // Audio head: queue → convert → resample → 48 kHz stereo → AAC → tee.
    let a_tee = if plan.audio {
        let a_queue = deep_queue(file, 30)?;
        // The decoded audio, before any channel change, for the analysis.
        let raw_tee = make("tee", file)?;
        let a_encode_queue = deep_queue(file, 30)?;
        let a_convert = make("audioconvert", file)?;
        let a_resample = make("audioresample", file)?;
        let a_caps = caps_filter(
            file,
            gst::Caps::builder("audio/x-raw")
                .field("rate", 48_000i32)
                .field("channels", 2i32)
                .build(),
        )?;
        let aac = make("avenc_aac", file)?;
        aac.set_property(
            "bitrate",
            i32::try_from(plan.audio_bitrate_bps).unwrap_or(i32::MAX),
        );

        let aac_parse = make("aacparse", file)?;
        let tee = make("tee", file)?;
        add_chain(
            &pipeline,
            file,
            &[
                &a_queue,
                &raw_tee,
                &a_encode_queue,
                &a_convert,
                &a_resample,
                &a_caps,
                &aac,
                &aac_parse,
                &tee,
            ],
        )?;
        if let Some((_, sink)) = &plan.analysis {
            let branch = crate::analyse::audio_branch(sink.clone());
            attach(&pipeline, &raw_tee, branch, file)?;
        }
        Some((a_queue, tee))
    } else {
        None
    };
    if let Some((width, sink)) = &plan.analysis {
        let branch = crate::analyse::video_branch(sink.clone(), *width);
        attach(&pipeline, &v_tee, branch, file)?;
    }

    if let Some(poster) = &plan.poster {
        let branch = poster_branch(poster, file)?;
        let refs: Vec<&gst::Element> = branch.iter().collect();
        add_chain(&pipeline, file, &refs)?;
        link_from_tee(&v_tee, &branch[0], file)?;
    }

    for rung in &plan.rungs {
        let queue = make("queue", file)?;
        let (scale, size) = scaler(file, rung.width, rung.height)?;
        let x264 = make("x264enc", file)?;
        x264.set_property("bitrate", (rung.bitrate_bps / 1000) as u32);
        // A 500 ms VBV buffer: with 1000 ms, the buffer left unfilled at the
        // end took a 1 s clip at 8.5 Mbit/s down to 7.65 Mbit/s measured.
        x264.set_property("vbv-buf-capacity", 500u32);

        // nal-hrd=cbr pads with filler: a static slide still measures the target rate.
        x264.set_property("option-string", "nal-hrd=cbr");
        x264.set_property_from_str("speed-preset", &plan.preset);
        x264.set_property("key-int-max", plan.key_int);
        let high = caps_filter(
            file,
            gst::Caps::builder("video/x-h264")
                .field("profile", "high")
                .build(),
        )?;
        let h_tee = make("tee", file)?;
        add_chain(
            &pipeline,
            file,
            &[&queue, &scale, &size, &x264, &high, &h_tee],
        )?;
        link_from_tee(&v_tee, &queue, file)?;

        // MP4, index at the front, title in its metadata.
        let mp4_queue = make("queue", file)?;
        let mp4_parse = make("h264parse", file)?;
        let mux = make("mp4mux", file)?;
        mux.set_property("faststart", true);
        mux.set_property(
            "faststart-file",
            plan.scratch_dir
                .join(format!("faststart-{}.tmp", rung.name))
                .to_string_lossy()
                .as_ref(),
        );
        if let Some(setter) = mux.dynamic_cast_ref::<gst::TagSetter>() {
            setter.add_tag::<gst::tags::Title>(&plan.title.as_str(), gst::TagMergeMode::Replace);
        }
        let sink = make("filesink", file)?;
        sink.set_property("location", rung.mp4.to_string_lossy().as_ref());
        add_chain(&pipeline, file, &[&mp4_queue, &mp4_parse])?;
        pipeline
            .add_many([&mux, &sink])
            .map_err(|e| internal(file, e.to_string()))?;
        mux.link(&sink).map_err(|e| internal(file, e.to_string()))?;
        link_from_tee(&h_tee, &mp4_queue, file)?;
        link_to_request(&mp4_parse, &mux, "video_%u", file)?;
        if let Some((_, a_tee)) = &a_tee {
            feed_audio(&pipeline, a_tee, &mux, "audio_%u", file)?;
        }

        if let Some(dir) = &rung.hls_dir {
            let hls_queue = make("queue", file)?;
            let hls_parse = make("h264parse", file)?;
            let hls = make("hlssink2", file)?;
            hls.set_property(
                "location",
                dir.join("segment%05d.ts").to_string_lossy().as_ref(),
            );
            hls.set_property(
                "playlist-location",
                dir.join("index.m3u8").to_string_lossy().as_ref(),
            );
            hls.set_property("target-duration", plan.hls_segment_seconds);
            hls.set_property("playlist-length", 0u32);
            hls.set_property("max-files", 0u32);
            // Key frames come at a fixed interval already.
            hls.set_property("send-keyframe-requests", false);
            add_chain(&pipeline, file, &[&hls_queue, &hls_parse])?;
            pipeline
                .add(&hls)
                .map_err(|e| internal(file, e.to_string()))?;
            link_from_tee(&h_tee, &hls_queue, file)?;
            link_to_request(&hls_parse, &hls, "video", file)?;
            if let Some((_, a_tee)) = &a_tee {
                feed_audio(&pipeline, a_tee, &hls, "audio", file)?;
            }
        }
    }

    // libav decoders: frame threading decoded ProRes ~5 % faster than auto here.
    decode.connect("deep-element-added", false, |args| {
        let element = args.get(2).and_then(|v| v.get::<gst::Element>().ok())?;
        let is_libav_decoder = element
            .factory()
            .is_some_and(|f| f.name().starts_with("avdec_"));
        if is_libav_decoder && element.find_property("thread-type").is_some() {
            element.set_property_from_str("thread-type", "frame");
        }
        None
    });

    // Count decoded frames for the progress report.
    let frames = Arc::new(AtomicU64::new(0));
    if let Some(pad) = v_convert.static_pad("sink") {
        let frames = frames.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            frames.fetch_add(1, Ordering::Relaxed);
            gst::PadProbeReturn::Ok
        });
    }

    // decodebin's pads: the first video to the video head through a queue
    // (and `moocpipe420` when its format is 10-bit), the first audio to the
    // audio head (when wanted), anything else to a fakesink.
    let weak = pipeline.downgrade();
    let video_head = v_convert.clone();
    let audio_sink = a_tee.as_ref().and_then(|(q, _)| q.static_pad("sink"));
    decode.connect_pad_added(move |_, pad| {
        let Some(pipeline) = weak.upgrade() else {
            return;
        };
        let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
        let name = caps
            .structure(0)
            .map(|s| s.name().to_string())
            .unwrap_or_default();
        let video_free = video_head
            .static_pad("sink")
            .is_some_and(|p| !p.is_linked());
        if name.starts_with("video/") && video_free {
            if link_video_head(&pipeline, pad, &caps, &video_head).is_ok() {
                return;
            }
        } else if let Some(target) = audio_sink
            .as_ref()
            .filter(|t| name.starts_with("audio/") && !t.is_linked())
        {
            let _ = pad.link(target);
            return;
        }
        crate::pipeline::discard(&pipeline, pad);
    });

    pipeline
        .set_state(gst::State::Playing)
        .map_err(|_| internal(file, "the transcode pipeline would not start"))?;
    let started = Instant::now();
    let duration = plan
        .duration
        .map(|d| gst::ClockTime::from_nseconds(d.as_nanos() as u64));
    wait_for_eos(file, &pipeline, &mut |pipeline| {
        check_cancel(file, cancel)?;
        let fraction = played_fraction(pipeline, duration).unwrap_or(0.0);
        let elapsed = started.elapsed();
        let done = frames.load(Ordering::Relaxed);
        let eta = (fraction > 0.01).then(|| elapsed.mul_f64((1.0 - fraction) / fraction));
        progress(&TranscodeProgress {
            fraction,
            frames: done,
            fps: done as f64 / elapsed.as_secs_f64().max(1e-3),
            elapsed,
            eta,
        });
        Ok(())
    })?;
    drop(guard);
    let elapsed = started.elapsed();
    let done = frames.load(Ordering::Relaxed);
    progress(&TranscodeProgress {
        fraction: 1.0,
        frames: done,
        fps: done as f64 / elapsed.as_secs_f64().max(1e-3),
        elapsed,
        eta: Some(Duration::ZERO),
    });
    Ok(())
}

fn clock_time(d: Duration) -> gst::ClockTime {
    gst::ClockTime::from_nseconds(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The poster branch: queue ─ videoscale ─ caps ─ jpegenc ─ filesink. A
/// probe in front of the queue lets exactly one frame in, the first at or
/// after `at`, so the branch costs one scale and one JPEG encode. The sink
/// does not take part in preroll (`async=false`): it gets its frame only
/// after `at`, and the other sinks must not wait for it.
fn poster_branch(poster: &PosterPlan, file: &str) -> Result<Vec<gst::Element>, MediaError> {
    let queue = make("queue", file)?;
    let (scale, size) = scaler(file, poster.width, poster.height)?;
    let jpeg = make("jpegenc", file)?;
    jpeg.set_property("quality", 90i32);
    let sink = make("filesink", file)?;
    sink.set_property("location", poster.path.to_string_lossy().as_ref());
    sink.set_property("async", false);

    let at = clock_time(poster.at);
    // The first frame's time, and whether the poster's frame has gone by.
    let seen: Mutex<(Option<gst::ClockTime>, bool)> = Mutex::new((None, false));
    let pad = queue
        .static_pad("sink")
        .ok_or_else(|| internal(file, "queue without a sink pad"))?;
    // A frame kept out is taken from the probe info and dropped here, and the
    // probe answers `Handled` ("consumed: do not pass it on, do not unref
    // it"). Answering `Drop` logged a `GStreamer-CRITICAL
    // gst_mini_object_unref: assertion 'mini_object != NULL'` per dropped
    // frame (issue 11): gstreamer-rs 0.25 moves the buffer out of
    // GStreamer's probe info into ours (leaving NULL there) and unrefs it
    // when ours is dropped; on `Drop`, GStreamer 1.22's pad then unrefs its
    // own pointer, now NULL.
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
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
    });
    Ok(vec![queue, scale, size, jpeg, sink])
}

/// Links a decoded video pad to the video head: queue, then `moocpipe420`
/// when the format is one it converts.
fn link_video_head(
    pipeline: &gst::Pipeline,
    pad: &gst::Pad,
    caps: &gst::Caps,
    head: &gst::Element,
) -> Result<(), gst::glib::BoolError> {
    let mut chain = vec![gst::ElementFactory::make("queue").build()?];
    if crate::convert::converts(caps) {
        chain.push(gst::ElementFactory::make(crate::convert::FACTORY).build()?);
    }
    pipeline.add_many(chain.iter())?;
    chain.push(head.clone());
    gst::Element::link_many(chain.iter())?;
    chain.pop();
    for e in chain.iter().rev() {
        e.sync_state_with_parent()?;
    }
    let first = chain
        .first()
        .and_then(|e| e.static_pad("sink"))
        .ok_or_else(|| gst::glib::bool_error!("queue without a sink pad"))?;
    pad.link(&first)
        .map_err(|e| gst::glib::bool_error!("cannot link the decoded video: {e:?}"))?;
    Ok(())
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
