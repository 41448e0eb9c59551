//! One take's transcode pipeline while it is built: the take's name and
//! plan beside the pipeline, and the few operations every branch repeats
//! (make an element, add and link a chain, feed a tee or a muxer).

use super::TranscodePlan;
use crate::error::MediaError;
use gstreamer as gst;
use gstreamer::prelude::*;

/// The pipeline of one take under construction, with what every branch
/// builder needs: the take's name (for errors) and its plan.
pub(super) struct Graph<'a> {
    pub file: &'a str,
    pub plan: &'a TranscodePlan,
    pub pipeline: gst::Pipeline,
}

/// A new element of `factory`, or `MissingPlugin` naming it.
pub(super) fn make(factory: &str, file: &str) -> Result<gst::Element, MediaError> {
    gst::ElementFactory::make(factory)
        .build()
        .map_err(|_| MediaError::MissingPlugin {
            file: file.to_string(),
            message: format!("GStreamer element {factory} is not installed"),
        })
}

pub(super) fn internal(file: &str, message: impl Into<String>) -> MediaError {
    MediaError::Internal {
        file: file.to_string(),
        message: message.into(),
    }
}

impl<'a> Graph<'a> {
    pub fn new(file: &'a str, plan: &'a TranscodePlan) -> Self {
        Graph {
            file,
            plan,
            pipeline: gst::Pipeline::new(),
        }
    }

    pub fn make(&self, factory: &str) -> Result<gst::Element, MediaError> {
        make(factory, self.file)
    }

    pub fn internal(&self, message: impl Into<String>) -> MediaError {
        internal(self.file, message)
    }

    /// A queue that holds up to `seconds` of data whatever its size.
    pub fn deep_queue(&self, seconds: u64) -> Result<gst::Element, MediaError> {
        let q = self.make("queue")?;
        q.set_property(
            "max-size-time",
            gst::ClockTime::from_seconds(seconds).nseconds(),
        );
        q.set_property("max-size-bytes", 0u32);
        q.set_property("max-size-buffers", 0u32);
        Ok(q)
    }

    pub fn caps_filter(&self, caps: gst::Caps) -> Result<gst::Element, MediaError> {
        let f = self.make("capsfilter")?;
        f.set_property("caps", caps);
        Ok(f)
    }

    /// videoscale (on every core) and the caps that make it scale to
    /// `width`×`height` with square pixels.
    pub fn scaler(&self, width: u32, height: u32) -> Result<[gst::Element; 2], MediaError> {
        let scale = self.make("videoscale")?;
        scale.set_property("n-threads", 0u32);
        let size = self.caps_filter(
            gst::Caps::builder("video/x-raw")
                .field("width", width as i32)
                .field("height", height as i32)
                .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
                .build(),
        )?;
        Ok([scale, size])
    }

    /// Adds `elements` to the pipeline, unlinked.
    pub fn add(&self, elements: &[&gst::Element]) -> Result<(), MediaError> {
        self.pipeline
            .add_many(elements.iter().copied())
            .map_err(|e| self.internal(e.to_string()))
    }

    /// Adds `chain` to the pipeline and links it in order.
    pub fn add_chain(&self, chain: &[&gst::Element]) -> Result<(), MediaError> {
        self.add(chain)?;
        gst::Element::link_many(chain.iter().copied()).map_err(|e| self.internal(e.to_string()))
    }

    /// Links `src`'s src pad to `sink`'s sink pad.
    pub fn link(&self, src: &gst::Element, sink: &gst::Element) -> Result<(), MediaError> {
        src.link(sink).map_err(|e| self.internal(e.to_string()))
    }

    /// Links a tee's new request pad to `sink`'s sink pad.
    pub fn link_from_tee(&self, tee: &gst::Element, sink: &gst::Element) -> Result<(), MediaError> {
        let src = tee
            .request_pad_simple("src_%u")
            .ok_or_else(|| self.internal("tee gave no pad"))?;
        let sinkpad = sink
            .static_pad("sink")
            .ok_or_else(|| self.internal("no sink pad"))?;
        src.link(&sinkpad)
            .map(|_| ())
            .map_err(|e| self.internal(e.to_string()))
    }

    /// Links `src`'s src pad to a request pad of a muxer.
    pub fn link_to_request(
        &self,
        src: &gst::Element,
        mux: &gst::Element,
        template: &str,
    ) -> Result<(), MediaError> {
        let sinkpad = mux
            .request_pad_simple(template)
            .ok_or_else(|| self.internal(format!("{} gave no {template} pad", mux.name())))?;
        let srcpad = src
            .static_pad("src")
            .ok_or_else(|| self.internal("no src pad"))?;
        srcpad
            .link(&sinkpad)
            .map(|_| ())
            .map_err(|e| self.internal(e.to_string()))
    }

    /// Adds an analysis branch and feeds it from a new pad of `tee`.
    pub fn attach(
        &self,
        tee: &gst::Element,
        branch: Option<Vec<gst::Element>>,
    ) -> Result<(), MediaError> {
        let chain = branch.ok_or_else(|| MediaError::MissingPlugin {
            file: self.file.to_string(),
            message: "an element of the analysis branch is not installed".into(),
        })?;
        let refs: Vec<&gst::Element> = chain.iter().collect();
        self.add_chain(&refs)?;
        let first = chain
            .first()
            .ok_or_else(|| self.internal("an empty analysis branch"))?;
        self.link_from_tee(tee, first)
    }
}
