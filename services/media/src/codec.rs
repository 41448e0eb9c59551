//! Codec knowledge: what a stream's caps and its first frame's header say
//! about codec, profile, bit depth, chroma and scan. Caps come in two flavours
//! — the demuxer's and a parser's — and the parser's win where both speak.

use gstreamer as gst;
use gstreamer_audio as gst_audio;
use gstreamer_pbutils as pbutils;
use gstreamer_video as gst_video;
use moocpipe_container::frame;
use moocpipe_proto::Interlacing;

/// Codec-level facts of a video stream.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoCodec {
    pub codec: String,
    pub profile: Option<String>,
    pub bit_depth: Option<u32>,
    pub chroma: Option<String>,
    pub interlacing: Option<Interlacing>,
}

/// Looks a field up in the parsed caps first, then in the demuxer's.
struct Fields<'a> {
    parsed: Option<&'a gst::StructureRef>,
    demuxed: Option<&'a gst::StructureRef>,
}

impl Fields<'_> {
    fn str(&self, name: &str) -> Option<String> {
        [self.parsed, self.demuxed]
            .into_iter()
            .flatten()
            .find_map(|s| s.get::<String>(name).ok())
    }
    fn uint(&self, name: &str) -> Option<u32> {
        [self.parsed, self.demuxed]
            .into_iter()
            .flatten()
            .find_map(|s| {
                s.get::<u32>(name)
                    .ok()
                    .or_else(|| s.get::<i32>(name).ok().and_then(|v| u32::try_from(v).ok()))
            })
    }
}

/// Interprets a video stream. `demuxed` are the demuxer's caps, `parsed` the
/// parser's for the same stream when it has one, `head` the first bytes of
/// the first frame.
pub fn video(demuxed: Option<&gst::Caps>, parsed: Option<&gst::Caps>, head: &[u8]) -> VideoCodec {
    let fields = Fields {
        parsed: parsed.and_then(|c| c.structure(0)),
        demuxed: demuxed.and_then(|c| c.structure(0)),
    };
    let name = fields
        .demuxed
        .or(fields.parsed)
        .map(|s| s.name().to_string())
        .unwrap_or_default();
    let caps_scan = fields.str("interlace-mode").map(|m| match m.as_str() {
        "progressive" => Interlacing::Progressive,
        "mixed" => Interlacing::Mixed,
        _ => Interlacing::Interlaced,
    });

    if let Some(codec) = from_frame_header(head, fields.str("variant")) {
        return codec;
    }

    let profile = fields.str("profile");
    let bit_depth_luma = fields.uint("bit-depth-luma");
    let chroma_format = fields.str("chroma-format");
    let (codec, bit_depth, chroma) = match name.as_str() {
        "video/x-raw" => {
            let info = fields
                .str("format")
                .map(|f| gst_video::VideoFormat::from_string(&f))
                .filter(|f| *f != gst_video::VideoFormat::Unknown)
                .map(gst_video::VideoFormatInfo::from_format);
            match info {
                Some(info) => (
                    format!("uncompressed {}", info.name()),
                    info.depth().first().copied(),
                    raw_chroma(&info),
                ),
                None => ("uncompressed video".to_string(), None, None),
            }
        }
        "image/jpeg" => (
            "Motion JPEG".to_string(),
            // Baseline JPEG is 8-bit; jpegparse marks the rare 12-bit
            // extended-sequential frames with their SOF marker.
            Some(if fields.uint("sof-marker") == Some(1) {
                12
            } else {
                8
            }),
            fields
                .str("sampling")
                .map(|s| s.trim_start_matches("YCbCr-").to_string()),
        ),
        "video/x-h264" => ("H.264".to_string(), bit_depth_luma, chroma_format),
        "video/x-h265" => ("H.265".to_string(), bit_depth_luma, chroma_format),
        _ => (
            describe(fields.demuxed.or(fields.parsed)).unwrap_or_else(|| name.clone()),
            bit_depth_luma,
            chroma_format,
        ),
    };
    VideoCodec {
        codec,
        profile,
        bit_depth,
        chroma,
        interlacing: caps_scan,
    }
}

/// The facts of an intra-frame codec whose frame header says them all
/// (ProRes, DNxHD/DNxHR): `head` is the first bytes of the first frame,
/// `variant` the ProRes variant the container names (`hq`, `4444`…).
/// Needs no GStreamer: the index path calls it with the sample
/// description's variant, the demux pass with the demuxer's caps.
pub fn from_frame_header(head: &[u8], variant: Option<String>) -> Option<VideoCodec> {
    let scan = |interlaced: bool| {
        Some(if interlaced {
            Interlacing::Interlaced
        } else {
            Interlacing::Progressive
        })
    };
    let chroma = |is_444: bool| Some(if is_444 { "4:4:4" } else { "4:2:2" }.to_string());
    if let Some(h) = frame::prores_header(head) {
        let (codec, depth) = match variant.as_deref() {
            Some("proxy") => ("ProRes 422 Proxy", 10),
            Some("lt") => ("ProRes 422 LT", 10),
            Some("standard") => ("ProRes 422", 10),
            Some("hq") => ("ProRes 422 HQ", 10),
            Some("4444") => ("ProRes 4444", 12),
            Some("4444xq") => ("ProRes 4444 XQ", 12),
            _ if h.chroma_444 => ("ProRes 4444", 12),
            _ => ("ProRes 422", 10),
        };
        return Some(VideoCodec {
            codec: codec.into(),
            profile: variant,
            bit_depth: Some(depth),
            chroma: chroma(h.chroma_444),
            interlacing: scan(h.interlaced),
        });
    }
    let h = frame::dnx_header(head)?;
    let (codec, profile) = match h.cid {
        1270 => ("DNxHR 444", "dnxhr-444".to_string()),
        1271 => ("DNxHR HQX", "dnxhr-hqx".to_string()),
        1272 => ("DNxHR HQ", "dnxhr-hq".to_string()),
        1273 => ("DNxHR SQ", "dnxhr-sq".to_string()),
        1274 => ("DNxHR LB", "dnxhr-lb".to_string()),
        cid => ("DNxHD", format!("cid-{cid}")),
    };
    Some(VideoCodec {
        codec: codec.into(),
        profile: Some(profile),
        bit_depth: h.bit_depth,
        chroma: chroma(h.chroma_444),
        interlacing: scan(h.interlaced),
    })
}

/// Chroma subsampling of a raw video format, e.g. "4:2:2".
fn raw_chroma(info: &gst_video::VideoFormatInfo) -> Option<String> {
    if !info.is_yuv() {
        return (info.n_components() >= 3).then(|| "4:4:4".to_string());
    }
    let w = info.w_sub().get(1).copied()?;
    let h = info.h_sub().get(1).copied()?;
    Some(
        match (w, h) {
            (0, 0) => "4:4:4",
            (1, 0) => "4:2:2",
            (1, 1) => "4:2:0",
            (2, 0) => "4:1:1",
            (2, 2) => "4:1:0",
            _ => return None,
        }
        .to_string(),
    )
}

/// GStreamer's own words for a format, e.g. "Apple ProRes HQ".
fn describe(s: Option<&gst::StructureRef>) -> Option<String> {
    let caps = gst::Caps::builder_full().structure(s?.to_owned()).build();
    Some(pbutils::pb_utils_get_codec_description(&caps).to_string())
}

/// Codec-level facts of an audio stream.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioCodec {
    pub codec: String,
    pub compressed: bool,
    pub sample_format: Option<String>,
    pub bit_depth: Option<u32>,
    pub sample_rate: Option<u32>,
    pub channels: Option<u32>,
}

/// Interprets an audio stream. Compressed audio has no bit depth of its own,
/// lossless codecs included: the regulation asks for PCM.
pub fn audio(demuxed: Option<&gst::Caps>, parsed: Option<&gst::Caps>) -> AudioCodec {
    let fields = Fields {
        parsed: parsed.and_then(|c| c.structure(0)),
        demuxed: demuxed.and_then(|c| c.structure(0)),
    };
    let name = fields
        .demuxed
        .or(fields.parsed)
        .map(|s| s.name().to_string())
        .unwrap_or_default();
    let sample_rate = fields.uint("rate");
    let channels = fields.uint("channels");
    if name == "audio/x-raw" {
        let format = fields.str("format");
        let info = format
            .as_deref()
            .map(gst_audio::AudioFormat::from_string)
            .filter(|f| *f != gst_audio::AudioFormat::Unknown)
            .map(gst_audio::AudioFormatInfo::from_format);
        return AudioCodec {
            codec: match &info {
                Some(i) if i.is_float() => "PCM (float)".into(),
                _ => "PCM".into(),
            },
            compressed: false,
            sample_format: format,
            bit_depth: info.map(|i| i.depth()),
            sample_rate,
            channels,
        };
    }
    let codec = match name.as_str() {
        "audio/mpeg" => match fields.uint("mpegversion") {
            Some(2) | Some(4) => "AAC".to_string(),
            _ => "MPEG audio (MP3)".to_string(),
        },
        _ => describe(fields.demuxed.or(fields.parsed)).unwrap_or_else(|| name.clone()),
    };
    AudioCodec {
        codec,
        compressed: true,
        sample_format: None,
        bit_depth: None,
        sample_rate,
        channels,
    }
}
