//! One rung of the ladder: its scale and H.264 encode from the video head,
//! then the MP4 (index at the front, title in its metadata) and the HLS
//! variant, each with the encoded audio.

use super::graph::Graph;
use super::head::{AudioHead, VideoHead};
use super::RungPlan;
use crate::error::MediaError;
use gstreamer as gst;
use gstreamer::prelude::*;
use std::path::Path;

impl Graph<'_> {
    /// queue ─ videoscale ─ x264enc ─ tee from the video head, and from that
    /// tee the rung's MP4 and, when planned, its HLS variant.
    pub(super) fn rung(
        &self,
        rung: &RungPlan,
        video: &VideoHead,
        audio: Option<&AudioHead>,
    ) -> Result<(), MediaError> {
        let h264 = self.encode(rung, video)?;
        self.mp4(rung, &h264, audio)?;
        if let Some(dir) = &rung.hls_dir {
            self.hls(dir, &h264, audio)?;
        }
        Ok(())
    }

    /// The rung's encode, fed by the video head; returns the tee of its H.264.
    fn encode(&self, rung: &RungPlan, video: &VideoHead) -> Result<gst::Element, MediaError> {
        let queue = self.make("queue")?;
        let [scale, size] = self.scaler(rung.width, rung.height)?;
        let x264 = self.make("x264enc")?;
        x264.set_property("bitrate", (rung.bitrate_bps / 1000) as u32);
        // A 500 ms VBV buffer: with 1000 ms, the buffer left unfilled at the
        // end took a 1 s clip at 8.5 Mbit/s down to 7.65 Mbit/s measured.
        x264.set_property("vbv-buf-capacity", 500u32);

        // nal-hrd=cbr pads with filler: a static slide still measures the target rate.
        x264.set_property("option-string", "nal-hrd=cbr");
        x264.set_property_from_str("speed-preset", &self.plan.preset);
        x264.set_property("key-int-max", self.plan.key_int);
        let high = self.caps_filter(
            gst::Caps::builder("video/x-h264")
                .field("profile", "high")
                .build(),
        )?;
        let tee = self.make("tee")?;
        self.add_chain(&[&queue, &scale, &size, &x264, &high, &tee])?;
        self.link_from_tee(&video.tee, &queue)?;
        Ok(tee)
    }

    /// MP4, index at the front (scratch copy in the plan's scratch folder),
    /// title in its metadata.
    fn mp4(
        &self,
        rung: &RungPlan,
        h264: &gst::Element,
        audio: Option<&AudioHead>,
    ) -> Result<(), MediaError> {
        let queue = self.make("queue")?;
        let parse = self.make("h264parse")?;
        let mux = self.make("mp4mux")?;
        mux.set_property("faststart", true);
        mux.set_property(
            "faststart-file",
            self.plan
                .scratch_dir
                .join(format!("faststart-{}.tmp", rung.name))
                .to_string_lossy()
                .as_ref(),
        );
        if let Some(setter) = mux.dynamic_cast_ref::<gst::TagSetter>() {
            setter
                .add_tag::<gst::tags::Title>(&self.plan.title.as_str(), gst::TagMergeMode::Replace);
        }
        let sink = self.make("filesink")?;
        sink.set_property("location", rung.mp4.to_string_lossy().as_ref());
        self.add_chain(&[&queue, &parse])?;
        self.add(&[&mux, &sink])?;
        self.link(&mux, &sink)?;
        self.link_from_tee(h264, &queue)?;
        self.link_to_request(&parse, &mux, "video_%u")?;
        if let Some(audio) = audio {
            self.feed_audio(audio, &mux, "audio_%u")?;
        }
        Ok(())
    }

    /// The rung's HLS media playlist and segments in `dir`, by hlssink2.
    fn hls(
        &self,
        dir: &Path,
        h264: &gst::Element,
        audio: Option<&AudioHead>,
    ) -> Result<(), MediaError> {
        let queue = self.make("queue")?;
        let parse = self.make("h264parse")?;
        let hls = self.make("hlssink2")?;
        hls.set_property(
            "location",
            dir.join("segment%05d.ts").to_string_lossy().as_ref(),
        );
        hls.set_property(
            "playlist-location",
            dir.join("index.m3u8").to_string_lossy().as_ref(),
        );
        hls.set_property("target-duration", self.plan.hls_segment_seconds);
        hls.set_property("playlist-length", 0u32);
        hls.set_property("max-files", 0u32);
        // Key frames come at a fixed interval already.
        hls.set_property("send-keyframe-requests", false);
        self.add_chain(&[&queue, &parse])?;
        self.add(&[&hls])?;
        self.link_from_tee(h264, &queue)?;
        self.link_to_request(&parse, &hls, "video")?;
        if let Some(audio) = audio {
            self.feed_audio(audio, &hls, "audio")?;
        }
        Ok(())
    }
}
