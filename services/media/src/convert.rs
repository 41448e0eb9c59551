//! `moocpipe420`: 10-bit 4:2:2 or 4:2:0 planar video (what ProRes and
//! DNxHD decoders output) to the 8-bit 4:2:0 that x264 encodes for the
//! platform.
//!
//! GStreamer's `videoconvert` does this through its general path (unpack to
//! 16-bit AYUV64, resample chroma, pack), which measured about twice the CPU
//! of ffmpeg's swscale for the same conversion and made the whole transcode
//! slower than ffmpeg on two cores. This element does the one conversion
//! the platform needs directly: luma rounded from 10 to 8 bits, chroma
//! averaged over each pair of lines (4:2:2 → 4:2:0, chroma sited between
//! the lines as H.264 expects by default) and rounded. The loops are plain
//! slices that the compiler vectorises.

use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer_video as gst_video;
use gstreamer_video::prelude::*;

/// The factory name the element is registered under by [`crate::init`].
pub const FACTORY: &str = "moocpipe420";

/// Input formats the element converts; anything else goes to `videoconvert`.
pub const INPUT_FORMATS: [gst_video::VideoFormat; 2] = [
    gst_video::VideoFormat::I42210le,
    gst_video::VideoFormat::I42010le,
];

glib::wrapper! {
    /// The element; see the module documentation.
    pub struct To420(ObjectSubclass<imp::To420>)
        @extends gst_video::VideoFilter, gstreamer_base::BaseTransform, gst::Element, gst::Object;
}

/// Registers the element with GStreamer (statically, for this process).
pub(crate) fn register() -> Result<(), glib::BoolError> {
    gst::Element::register(None, FACTORY, gst::Rank::NONE, To420::static_type())
}

/// Whether `caps` are raw video in one of [`INPUT_FORMATS`].
pub fn converts(caps: &gst::Caps) -> bool {
    gst_video::VideoInfo::from_caps(caps)
        .map(|info| INPUT_FORMATS.contains(&info.format()))
        .unwrap_or(false)
}

/// 10-bit sample to 8 bits, rounded (1022 and 1023 round to 256: clamped).
#[inline(always)]
fn to8(v: u16) -> u8 {
    (((v & 0x03ff) + 2) >> 2).min(255) as u8
}

/// A row of little-endian 16-bit samples as `u16`s, when it is aligned as
/// GStreamer's buffers are (`None` otherwise: the caller takes bytes).
fn samples(row: &[u8]) -> Option<&[u16]> {
    if cfg!(target_endian = "little") {
        bytemuck::try_cast_slice(row).ok()
    } else {
        None
    }
}

/// One row of 10-bit samples to 8 bits. On `u16`s the loop compiles to a
/// few SIMD instructions per 8 samples; the byte-pair fallback took 4.5 %
/// of a ladder transcode's CPU.
fn row_to8(src: &[u8], dst: &mut [u8]) {
    match samples(src) {
        Some(src) => {
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = to8(u16::from_le(s));
            }
        }
        None => {
            for (d, s) in dst.iter_mut().zip(src.chunks_exact(2)) {
                *d = to8(u16::from_le_bytes([s[0], s[1]]));
            }
        }
    }
}

/// The average of two 10-bit samples, to 8 bits, rounded.
#[inline(always)]
fn avg_to8(x: u16, y: u16) -> u8 {
    (((x & 0x03ff) + (y & 0x03ff) + 4) >> 3).min(255) as u8
}

/// The average of two rows of 10-bit samples, to 8 bits, rounded.
fn rows_avg_to8(a: &[u8], b: &[u8], dst: &mut [u8]) {
    match (samples(a), samples(b)) {
        (Some(a), Some(b)) => {
            for ((d, &x), &y) in dst.iter_mut().zip(a).zip(b) {
                *d = avg_to8(u16::from_le(x), u16::from_le(y));
            }
        }
        _ => {
            for ((d, x), y) in dst.iter_mut().zip(a.chunks_exact(2)).zip(b.chunks_exact(2)) {
                *d = avg_to8(
                    u16::from_le_bytes([x[0], x[1]]),
                    u16::from_le_bytes([y[0], y[1]]),
                );
            }
        }
    }
}

/// A plane's geometry: rows, bytes per row used, stride.
#[derive(Clone, Copy)]
struct Plane {
    rows: usize,
    row_bytes: usize,
    stride: usize,
}

/// Converts one plane. `vertical_halve`: each output row averages two
/// input rows (4:2:2 chroma to 4:2:0); otherwise rows map one to one.
fn convert_plane(src: &[u8], s: Plane, dst: &mut [u8], d: Plane, vertical_halve: bool) {
    for out_row in 0..d.rows {
        let out = &mut dst[out_row * d.stride..][..d.row_bytes];
        let row = |r: usize| -> &[u8] {
            let r = r.min(s.rows.saturating_sub(1));
            &src[r * s.stride..][..s.row_bytes]
        };
        if vertical_halve {
            rows_avg_to8(row(out_row * 2), row(out_row * 2 + 1), out);
        } else {
            row_to8(row(out_row), out);
        }
    }
}

/// Converts a whole frame; `Err` when a plane is not where its info says.
fn convert_frame(
    inframe: &gst_video::VideoFrameRef<&gst::BufferRef>,
    outframe: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
) -> Result<(), glib::BoolError> {
    let halve = inframe.format() == gst_video::VideoFormat::I42210le;
    let in_strides: Vec<usize> = inframe.plane_stride().iter().map(|s| *s as usize).collect();
    let out_strides: Vec<usize> = outframe
        .plane_stride()
        .iter()
        .map(|s| *s as usize)
        .collect();
    let (w, h) = (outframe.width() as usize, outframe.height() as usize);
    for plane in 0..3u32 {
        let p = plane as usize;
        let (out_w, out_h) = if plane == 0 {
            (w, h)
        } else {
            (w.div_ceil(2), h.div_ceil(2))
        };
        let in_h = if plane == 0 || !halve { out_h } else { h };
        let src = inframe.plane_data(plane)?;
        let s = Plane {
            rows: in_h,
            row_bytes: out_w * 2,
            stride: in_strides.get(p).copied().unwrap_or(0),
        };
        let d = Plane {
            rows: out_h,
            row_bytes: out_w,
            stride: out_strides.get(p).copied().unwrap_or(0),
        };
        let fits = s.stride >= s.row_bytes
            && d.stride >= d.row_bytes
            && src.len() >= (s.rows.max(1) - 1) * s.stride + s.row_bytes;
        let dst = outframe.plane_data_mut(plane)?;
        if !fits || dst.len() < (d.rows.max(1) - 1) * d.stride + d.row_bytes {
            return Err(glib::bool_error!(
                "plane {plane} is smaller than its format says"
            ));
        }
        convert_plane(src, s, dst, d, halve && plane > 0);
    }
    Ok(())
}

mod imp {
    use super::*;
    use gstreamer_base::subclass::prelude::*;
    use gstreamer_video::subclass::prelude::*;
    use std::sync::LazyLock;

    #[derive(Default)]
    pub struct To420;

    #[glib::object_subclass]
    impl ObjectSubclass for To420 {
        const NAME: &'static str = "MoocpipeTo420";
        type Type = super::To420;
        type ParentType = gst_video::VideoFilter;
    }

    impl ObjectImpl for To420 {}
    impl GstObjectImpl for To420 {}

    impl ElementImpl for To420 {
        fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
            static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
                gst::subclass::ElementMetadata::new(
                    "10-bit to 8-bit 4:2:0",
                    "Filter/Converter/Video",
                    "Converts 10-bit 4:2:2/4:2:0 planar video to I420 for H.264 encoding",
                    "moocpipe",
                )
            });
            Some(&*META)
        }

        fn pad_templates() -> &'static [gst::PadTemplate] {
            static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
                let sink_caps = gst_video::VideoCapsBuilder::new()
                    .format_list(INPUT_FORMATS)
                    .build();
                let src_caps = gst_video::VideoCapsBuilder::new()
                    .format(gst_video::VideoFormat::I420)
                    .build();
                [
                    gst::PadTemplate::new(
                        "sink",
                        gst::PadDirection::Sink,
                        gst::PadPresence::Always,
                        &sink_caps,
                    ),
                    gst::PadTemplate::new(
                        "src",
                        gst::PadDirection::Src,
                        gst::PadPresence::Always,
                        &src_caps,
                    ),
                ]
                .into_iter()
                .filter_map(Result::ok)
                .collect()
            });
            TEMPLATES.as_ref()
        }
    }

    impl BaseTransformImpl for To420 {
        const MODE: gstreamer_base::subclass::BaseTransformMode =
            gstreamer_base::subclass::BaseTransformMode::NeverInPlace;
        const PASSTHROUGH_ON_SAME_CAPS: bool = false;
        const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

        fn transform_caps(
            &self,
            direction: gst::PadDirection,
            caps: &gst::Caps,
            filter: Option<&gst::Caps>,
        ) -> Option<gst::Caps> {
            let mut other = caps.clone();
            {
                let other = other.make_mut();
                for s in other.iter_mut() {
                    if direction == gst::PadDirection::Sink {
                        s.set("format", gst_video::VideoFormat::I420.to_str());
                    } else {
                        s.set(
                            "format",
                            gst::List::new(INPUT_FORMATS.iter().map(|f| f.to_str())),
                        );
                    }
                    // Chroma siting changes with the subsampling.
                    s.remove_field("chroma-site");
                }
            }
            Some(match filter {
                Some(f) => f.intersect_with_mode(&other, gst::CapsIntersectMode::First),
                None => other,
            })
        }
    }

    impl VideoFilterImpl for To420 {
        fn transform_frame(
            &self,
            inframe: &gst_video::VideoFrameRef<&gst::BufferRef>,
            outframe: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
        ) -> Result<gst::FlowSuccess, gst::FlowError> {
            convert_frame(inframe, outframe).map_err(|e| {
                gst::element_imp_error!(self, gst::StreamError::Format, ["{e}"]);
                gst::FlowError::Error
            })?;
            Ok(gst::FlowSuccess::Ok)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn le(v: u16) -> [u8; 2] {
        v.to_le_bytes()
    }

    #[test]
    fn luma_rounds_to_nearest_8_bit_value() {
        let src: Vec<u8> = [0u16, 1, 2, 5, 6, 1020, 1023]
            .iter()
            .flat_map(|v| le(*v))
            .collect();
        let mut dst = [0u8; 7];
        row_to8(&src, &mut dst);
        assert_eq!(dst, [0, 0, 1, 1, 2, 255, 255]);
    }

    #[test]
    fn aligned_and_unaligned_rows_convert_alike() {
        // Every 10-bit value, as u16s (aligned) and one byte into a buffer
        // (unaligned: the byte-pair path).
        let values: Vec<u16> = (0..1024).collect();
        let reversed: Vec<u16> = values.iter().rev().copied().collect();
        let bytes = |v: &[u16]| -> Vec<u8> {
            std::iter::once(0u8)
                .chain(v.iter().flat_map(|x| le(*x)))
                .collect()
        };
        let (a, b) = (bytes(&values), bytes(&reversed));
        let aligned_a: &[u8] = bytemuck::cast_slice(&values);
        let aligned_b: &[u8] = bytemuck::cast_slice(&reversed);
        assert!(samples(aligned_a).is_some() && samples(&a[1..]).is_none());

        let (mut fast, mut slow) = ([0u8; 1024], [0u8; 1024]);
        row_to8(aligned_a, &mut fast);
        row_to8(&a[1..], &mut slow);
        assert_eq!(fast, slow);
        assert!(fast.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!((fast[0], fast[1023]), (0, 255));

        rows_avg_to8(aligned_a, aligned_b, &mut fast);
        rows_avg_to8(&a[1..], &b[1..], &mut slow);
        assert_eq!(fast, slow);
        // v + (1023 − v) = 1023 → (1023 + 4) / 8 = 128 everywhere.
        assert!(fast.iter().all(|&x| x == 128), "{fast:?}");
    }

    #[test]
    fn chroma_averages_line_pairs() {
        let a: Vec<u8> = [512u16, 64, 1023].iter().flat_map(|v| le(*v)).collect();
        let b: Vec<u8> = [512u16, 128, 1023].iter().flat_map(|v| le(*v)).collect();
        let mut dst = [0u8; 3];
        rows_avg_to8(&a, &b, &mut dst);
        // (512+512)/8 = 128; (64+128)/8 = 24; (1023+1023+4)/8 = 256 → 255.
        assert_eq!(dst, [128, 24, 255]);
    }

    #[test]
    fn odd_row_count_repeats_the_last_line() {
        // 3 input rows of 1 sample halve to 2 output rows; the last output
        // row pairs row 2 with itself.
        let src: Vec<u8> = [400u16, 400, 800].iter().flat_map(|v| le(*v)).collect();
        let s = Plane {
            rows: 3,
            row_bytes: 2,
            stride: 2,
        };
        let d = Plane {
            rows: 2,
            row_bytes: 1,
            stride: 1,
        };
        let mut dst = [0u8; 2];
        convert_plane(&src, s, &mut dst, d, true);
        assert_eq!(dst, [100, 200]);
    }
}
