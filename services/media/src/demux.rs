//! The demux pass: reads every frame of every stream through the container's
//! demuxer and tallies sizes, key and delta frames and timestamps as the
//! demuxer hands them out. Where GStreamer has a parser for a stream's codec
//! (H.264, JPEG, AAC…) the frames then go through it, only so that its output
//! caps tell profile, bit depth, chroma and scan; nothing is ever decoded.
//! Memory stays flat: each frame is dropped by a fakesink once counted.

use crate::error::MediaError;
use crate::pipeline::{wait_for_eos, PipelineGuard};
use gstreamer as gst;
use gstreamer::prelude::*;
// How many bytes of a stream's first frame are kept for header parsing.
use moocpipe_container::frame::HEAD_BYTES;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What the pass saw of one elementary stream.
#[derive(Debug, Clone, Default)]
pub struct StreamTally {
    /// The demuxer's caps for the stream.
    pub caps: Option<gst::Caps>,
    /// The parser's output caps, when the stream went through a parser.
    pub parsed_caps: Option<gst::Caps>,
    pub frames: u64,
    pub key_frames: u64,
    pub delta_frames: u64,
    pub bytes: u64,
    pub first_pts: Option<gst::ClockTime>,
    /// The latest `pts + duration` seen (or `pts` when a frame has no duration).
    pub end: Option<gst::ClockTime>,
    /// The first bytes of the first frame (codec frame header).
    pub head: Vec<u8>,
    /// The stream goes through a parser, whose caps are still to come when
    /// `parsed_caps` is `None`.
    pub has_parser: bool,
}

impl StreamTally {
    fn count(&mut self, buffer: &gst::BufferRef) {
        self.frames += 1;
        if buffer.flags().contains(gst::BufferFlags::DELTA_UNIT) {
            self.delta_frames += 1;
        } else {
            self.key_frames += 1;
        }
        self.bytes += buffer.size() as u64;
        if let Some(pts) = buffer.pts().or(buffer.dts()) {
            self.first_pts = Some(self.first_pts.map_or(pts, |f| f.min(pts)));
            let end = pts + buffer.duration().unwrap_or(gst::ClockTime::ZERO);
            self.end = Some(self.end.map_or(end, |e| e.max(end)));
        }
        if self.head.is_empty() {
            if let Ok(map) = buffer.map_readable() {
                let n = map.len().min(HEAD_BYTES);
                self.head.extend_from_slice(&map[..n]);
            }
        }
    }

    /// Duration covered by the stream's frames.
    pub fn duration(&self) -> Option<gst::ClockTime> {
        match (self.first_pts, self.end) {
            (Some(first), Some(end)) if end > first => Some(end - first),
            _ => None,
        }
    }
}

/// How much of the file a pass reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pass {
    /// Every frame of every stream: the tallies count them all.
    #[default]
    Full,
    /// Up to the first frame of every stream (and its parser's caps): codec
    /// facts and frame headers only. The tallies hold that first frame; the
    /// counts come from the container's index.
    Heads,
}

/// The result of the pass.
#[derive(Debug, Clone)]
pub struct DemuxPass {
    /// Caps of the container as typefind saw it (e.g. `video/quicktime`).
    pub container_caps: gst::Caps,
    /// One tally per demuxer source pad, in pad order.
    pub streams: Vec<StreamTally>,
    /// The duration the container declares (from its header or index).
    pub declared_duration: Option<gst::ClockTime>,
}

#[derive(Default)]
struct Shared {
    container_caps: Option<gst::Caps>,
    /// Set by a streaming-thread callback that found the file unusable.
    stop: Option<MediaError>,
    streams: Vec<StreamTally>,
    pass: Pass,
    /// The demuxer has exposed every stream.
    no_more_pads: bool,
    /// A [`Pass::Heads`] pass has all it needs and said so on the bus.
    done: bool,
}

impl Shared {
    /// In a [`Pass::Heads`] pass: true, once, when every stream has its
    /// first frame and its parser's caps.
    fn heads_complete(&mut self) -> bool {
        let complete = self.pass == Pass::Heads
            && !self.done
            && self.no_more_pads
            && !self.streams.is_empty()
            && self
                .streams
                .iter()
                .all(|s| s.frames > 0 && (!s.has_parser || s.parsed_caps.is_some()));
        if complete {
            self.done = true;
        }
        complete
    }
}

/// Tells the bus loop that a [`Pass::Heads`] pass is complete.
fn post_done(element: Option<gst::Element>) {
    if let Some(element) = element {
        let done = gst::message::Application::new(gst::Structure::new_empty(
            crate::pipeline::DONE_MESSAGE,
        ));
        let _ = element.post_message(done);
    }
}

/// Runs the pass over `source`, giving up at `deadline`. `progress` is called
/// now and then with the fraction of the file's duration read so far.
pub fn run(
    file: &str,
    source: &crate::Source,
    pass: Pass,
    deadline: Instant,
    timeout_secs: u64,
    progress: &mut dyn FnMut(f64),
) -> Result<DemuxPass, MediaError> {
    let internal = |message: String| MediaError::Internal {
        file: file.to_string(),
        message,
    };
    let pipeline = gst::Pipeline::new();
    let guard = PipelineGuard(pipeline.clone());
    let src = crate::source::element(file, source)?;
    let typefind = gst::ElementFactory::make("typefind")
        .build()
        .map_err(|e| internal(format!("typefind: {e}")))?;
    pipeline
        .add_many([&src, &typefind])
        .map_err(|e| internal(e.to_string()))?;
    src.link(&typefind).map_err(|e| internal(e.to_string()))?;

    let shared = Arc::new(Mutex::new(Shared {
        pass,
        ..Shared::default()
    }));
    let weak_pipeline = pipeline.downgrade();
    let shared_tf = shared.clone();
    let file_tf = file.to_string();
    typefind.connect("have-type", false, move |args| {
        let caps = args.get(2).and_then(|v| v.get::<gst::Caps>().ok())?;
        let pipeline = weak_pipeline.upgrade()?;
        let typefind = args.first().and_then(|v| v.get::<gst::Element>().ok())?;
        plug_demuxer(&file_tf, &pipeline, &typefind, &caps, &shared_tf);
        None
    });

    pipeline.set_state(gst::State::Playing).map_err(|_| {
        wait_for_error(file, &pipeline)
            .unwrap_or_else(|| internal("the demux pipeline would not start".into()))
    })?;

    let mut duration: Option<gst::ClockTime> = None;
    let ran = wait_for_eos(file, &pipeline, &mut |pipeline| {
        if Instant::now() >= deadline {
            return Err(MediaError::Timeout {
                file: file.to_string(),
                seconds: timeout_secs,
            });
        }
        if let Some(stop) = lock(&shared).stop.take() {
            return Err(stop);
        }
        duration = duration.or_else(|| pipeline.query_duration::<gst::ClockTime>());
        if let Some(total) = duration.filter(|d| !d.is_zero()) {
            let read = lock(&shared)
                .streams
                .iter()
                .filter_map(|s| s.end)
                .max()
                .unwrap_or(gst::ClockTime::ZERO);
            progress((read.nseconds() as f64 / total.nseconds() as f64).min(1.0));
        }
        Ok(())
    });
    if let Err(e) = ran {
        // A callback's verdict explains the error that follows it (typefind
        // reports not-linked when no demuxer was plugged).
        return Err(lock(&shared).stop.take().unwrap_or(e));
    }
    let duration = duration.or_else(|| pipeline.query_duration::<gst::ClockTime>());
    drop(guard);
    progress(1.0);

    let mut shared = lock(&shared);
    let container_caps = shared
        .container_caps
        .take()
        .ok_or_else(|| internal("typefind reported no type".into()))?;
    Ok(DemuxPass {
        container_caps,
        streams: std::mem::take(&mut shared.streams),
        declared_duration: duration,
    })
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    // A panic in a streaming-thread callback must not poison the result.
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// After a failed state change, the element's reason is on the bus.
fn wait_for_error(file: &str, pipeline: &gst::Pipeline) -> Option<MediaError> {
    let bus = pipeline.bus()?;
    let msg =
        bus.timed_pop_filtered(gst::ClockTime::from_seconds(1), &[gst::MessageType::Error])?;
    match msg.view() {
        gst::MessageView::Error(err) => Some(MediaError::from_gst(
            file,
            &err.error(),
            err.debug().as_deref(),
        )),
        _ => None,
    }
}

/// Picks the highest-ranked demuxer for `caps`, links it after typefind and
/// tallies every stream it exposes.
fn plug_demuxer(
    file: &str,
    pipeline: &gst::Pipeline,
    typefind: &gst::Element,
    caps: &gst::Caps,
    shared: &Arc<Mutex<Shared>>,
) {
    lock(shared).container_caps = Some(caps.clone());
    let name = caps
        .structure(0)
        .map(|s| s.name().to_string())
        .unwrap_or_else(|| caps.to_string());
    if name.starts_with("audio/") {
        lock(shared).stop = Some(MediaError::NoVideoStream {
            file: file.to_string(),
            found: format!("the file is audio only ({name})"),
        });
        return;
    }
    let mut factories: Vec<gst::ElementFactory> = gst::ElementFactory::factories_with_type(
        gst::ElementFactoryType::DEMUXER,
        gst::Rank::MARGINAL,
    )
    .into_iter()
    .filter(|f| f.can_sink_any_caps(caps))
    .collect();
    factories.sort_by_key(|f| std::cmp::Reverse(f.rank()));
    let demux = factories.first().and_then(|f| f.create().build().ok());
    let Some(demux) = demux else {
        lock(shared).stop = Some(MediaError::UnrecognizedFormat {
            file: file.to_string(),
            message: format!(
                "detected {name}, which is not a container of audio and video streams"
            ),
        });
        return;
    };

    let shared_pads = shared.clone();
    let weak_pipeline = pipeline.downgrade();
    demux.connect_pad_added(move |_demux, pad| {
        let Some(pipeline) = weak_pipeline.upgrade() else {
            return;
        };
        let index = {
            let mut s = lock(&shared_pads);
            s.streams.push(StreamTally {
                caps: pad.current_caps(),
                ..StreamTally::default()
            });
            s.streams.len() - 1
        };
        let shared_buf = shared_pads.clone();
        pad.add_probe(
            gst::PadProbeType::BUFFER
                | gst::PadProbeType::BUFFER_LIST
                | gst::PadProbeType::EVENT_DOWNSTREAM,
            move |pad, info| {
                let mut s = lock(&shared_buf);
                let heads = s.pass == Pass::Heads;
                if heads && s.done && !matches!(info.data, Some(gst::PadProbeData::Event(_))) {
                    // A heads pass has all it needs: stop the demuxer reading
                    // on (it pauses on end-of-stream), rather than letting it
                    // pull frames until the pipeline is torn down.
                    drop(info.data.take());
                    info.flow_res = Err(gst::FlowError::Eos);
                    return gst::PadProbeReturn::Handled;
                }
                let tally = &mut s.streams[index];
                match &info.data {
                    Some(gst::PadProbeData::Buffer(buffer)) if !heads || tally.frames == 0 => {
                        tally.count(buffer)
                    }
                    Some(gst::PadProbeData::BufferList(list)) => {
                        for buffer in list.iter() {
                            if !heads || tally.frames == 0 {
                                tally.count(buffer);
                            }
                        }
                    }
                    Some(gst::PadProbeData::Event(event)) => {
                        if let gst::EventView::Caps(c) = event.view() {
                            tally.caps = Some(c.caps_owned());
                        }
                    }
                    _ => {}
                }
                if s.heads_complete() {
                    post_done(pad.parent_element());
                }
                gst::PadProbeReturn::Ok
            },
        );
        let Ok(sink) = gst::ElementFactory::make("fakesink")
            .property("sync", false)
            .property("async", false)
            .property("enable-last-sample", false)
            .build()
        else {
            return;
        };
        let parser = pad.current_caps().as_ref().and_then(parser_for);
        if let Some(parser) = &parser {
            lock(&shared_pads).streams[index].has_parser = true;
            let shared_caps = shared_pads.clone();
            if let Some(src) = parser.static_pad("src") {
                src.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |pad, info| {
                    if let Some(gst::PadProbeData::Event(event)) = &info.data {
                        if let gst::EventView::Caps(c) = event.view() {
                            let mut s = lock(&shared_caps);
                            s.streams[index].parsed_caps = Some(c.caps_owned());
                            if s.heads_complete() {
                                post_done(pad.parent_element());
                            }
                        }
                    }
                    gst::PadProbeReturn::Ok
                });
            }
        }
        let chain: Vec<&gst::Element> = parser.iter().chain(std::iter::once(&sink)).collect();
        if pipeline.add_many(chain.iter().copied()).is_err() {
            return;
        }
        if chain.len() == 2 {
            let _ = chain[0].link(chain[1]);
        }
        if let Some(sinkpad) = chain[0].static_pad("sink") {
            let _ = pad.link(&sinkpad);
        }
        for element in chain.iter().rev() {
            let _ = element.sync_state_with_parent();
        }
    });

    let shared_pads = shared.clone();
    demux.connect_no_more_pads(move |demux| {
        let mut s = lock(&shared_pads);
        s.no_more_pads = true;
        if s.heads_complete() {
            post_done(Some(demux.clone()));
        }
    });

    if pipeline.add(&demux).is_err() || typefind.link(&demux).is_err() {
        lock(shared).stop = Some(MediaError::Internal {
            file: file.to_string(),
            message: format!("the demuxer for {name} would not link"),
        });
        return;
    }
    let _ = demux.sync_state_with_parent();
}

/// A parser for a coded stream, never for raw audio or video (which needs
/// none) and never anything that decodes.
fn parser_for(caps: &gst::Caps) -> Option<gst::Element> {
    let name = caps.structure(0)?.name();
    if name == "audio/x-raw" || name == "video/x-raw" {
        return None;
    }
    let mut factories: Vec<gst::ElementFactory> = gst::ElementFactory::factories_with_type(
        gst::ElementFactoryType::PARSER,
        gst::Rank::MARGINAL,
    )
    .into_iter()
    .filter(|f| !f.klass().contains("Decoder") && f.can_sink_any_caps(caps))
    .collect();
    factories.sort_by_key(|f| std::cmp::Reverse(f.rank()));
    factories.first().and_then(|f| f.create().build().ok())
}
