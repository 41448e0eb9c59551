//! The heads of the transcode: the source and decodebin; the video head,
//! which converts to 8-bit 4:2:0 once and tees the picture to every branch;
//! the audio head, which encodes AAC once and tees it to every muxer; the
//! QC analysis fed from both; and the routing of decodebin's pads to them.

use super::graph::Graph;
use crate::error::MediaError;
use gstreamer as gst;
use gstreamer::prelude::*;

/// The video head: `videoconvert ─ I420 ─ tee`. Decoded video enters at
/// `convert`; every rung, the poster and the analysis read from `tee`.
pub(super) struct VideoHead {
    pub convert: gst::Element,
    pub tee: gst::Element,
}

/// The audio head: `queue ─ tee(raw) ─ queue ─ … ─ AAC ─ tee(encoded)`.
/// Decoded audio enters at `queue`; the analysis reads the decoded audio
/// from `raw`, every muxer the AAC from `encoded`.
pub(super) struct AudioHead {
    pub queue: gst::Element,
    pub raw: gst::Element,
    pub encoded: gst::Element,
}

impl Graph<'_> {
    /// `<source> ─ decodebin`, its libav decoders set to frame threading.
    pub(super) fn source(&self) -> Result<gst::Element, MediaError> {
        let src = crate::source::element(self.file, &self.plan.source)?;
        let decode = self.make("decodebin")?;
        self.add(&[&src, &decode])?;
        self.link(&src, &decode)?;

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
        Ok(decode)
    }

    /// Video head: videoconvert to 8-bit 4:2:0 once, on every core → tee.
    /// Every rung then scales I420, the format x264 encodes; converting per
    /// rung cost 18 % more wall time than ffmpeg on the ladder. A 10-bit
    /// source (ProRes, DNxHD) is converted by `moocpipe420` first (see
    /// `convert`), and videoconvert passes its I420 through untouched.
    pub(super) fn video_head(&self) -> Result<VideoHead, MediaError> {
        let convert = self.make("videoconvert")?;
        convert.set_property("n-threads", 0u32);
        let i420 = self.caps_filter(
            gst::Caps::builder("video/x-raw")
                .field("format", "I420")
                .build(),
        )?;
        let tee = self.make("tee")?;
        self.add_chain(&[&convert, &i420, &tee])?;
        Ok(VideoHead { convert, tee })
    }

    /// Audio head: queue → tee (decoded) → queue → convert → resample →
    /// 48 kHz stereo → AAC → tee.
    pub(super) fn audio_head(&self) -> Result<AudioHead, MediaError> {
        let queue = self.deep_queue(30)?;
        // The decoded audio, before any channel change, for the analysis.
        let raw = self.make("tee")?;
        let encode_queue = self.deep_queue(30)?;
        let convert = self.make("audioconvert")?;
        let resample = self.make("audioresample")?;
        let caps = self.caps_filter(
            gst::Caps::builder("audio/x-raw")
                .field("rate", 48_000i32)
                .field("channels", 2i32)
                .build(),
        )?;
        let aac = self.make("avenc_aac")?;
        aac.set_property(
            "bitrate",
            i32::try_from(self.plan.audio_bitrate_bps).unwrap_or(i32::MAX),
        );
        let parse = self.make("aacparse")?;
        let encoded = self.make("tee")?;
        self.add_chain(&[
            &queue,
            &raw,
            &encode_queue,
            &convert,
            &resample,
            &caps,
            &aac,
            &parse,
            &encoded,
        ])?;
        Ok(AudioHead {
            queue,
            raw,
            encoded,
        })
    }

    /// Feeds the decoded audio and the I420 picture to the plan's analysis
    /// sink, when QC shares this decode.
    pub(super) fn analysis(
        &self,
        video: &VideoHead,
        audio: Option<&AudioHead>,
    ) -> Result<(), MediaError> {
        let Some((width, sink)) = &self.plan.analysis else {
            return Ok(());
        };
        if let Some(audio) = audio {
            self.attach(&audio.raw, crate::analyse::audio_branch(sink.clone()))?;
        }
        self.attach(
            &video.tee,
            crate::analyse::video_branch(sink.clone(), *width),
        )
    }

    /// Feeds the encoded audio to a muxer's request pad through a 30 s
    /// queue (x264's lookahead holds video back; a shallow queue deadlocks).
    pub(super) fn feed_audio(
        &self,
        audio: &AudioHead,
        mux: &gst::Element,
        template: &str,
    ) -> Result<(), MediaError> {
        let q = self.deep_queue(30)?;
        self.add(&[&q])?;
        self.link_from_tee(&audio.encoded, &q)?;
        self.link_to_request(&q, mux, template)
    }

    /// decodebin's pads: the first video to the video head through a queue
    /// (and `moocpipe420` when its format is 10-bit), the first audio to the
    /// audio head (when there is one), anything else to a fakesink.
    pub(super) fn route_decoded(
        &self,
        decode: &gst::Element,
        video: &VideoHead,
        audio: Option<&AudioHead>,
    ) {
        let weak = self.pipeline.downgrade();
        let video_head = video.convert.clone();
        let audio_sink = audio.and_then(|a| a.queue.static_pad("sink"));
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
    }
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
