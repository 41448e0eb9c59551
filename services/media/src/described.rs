//! Codec facts from a MOV/MP4 sample description and the first frame's
//! header, without GStreamer (issue 15): the same facts, in the same words,
//! as the demux pass takes from qtdemux's caps — for the codecs where
//! qtdemux's caps come from the sample description alone and no parser
//! adds to them: ProRes and DNxHD/DNxHR video (the rest is in the frame
//! header), linear PCM sound.
//!
//! Anything else (H.264, AAC, raw video…) is `Err(why)`: those facts come
//! from a GStreamer parser, and the caller runs the heads pass instead.

use crate::codec::{self, AudioCodec, VideoCodec};
use moocpipe_container::{AudioEntry, Track};
use moocpipe_proto::Fraction;

/// The ProRes variant qtdemux names in its caps for a sample description's
/// four-character code.
fn prores_variant(fourcc: &str) -> Option<&'static str> {
    Some(match fourcc {
        "apco" => "proxy",
        "apcs" => "lt",
        "apcn" => "standard",
        "apch" => "hq",
        "ap4h" => "4444",
        "ap4x" => "4444xq",
        _ => return None,
    })
}

/// A video track's codec facts from its sample description and `head`, the
/// first bytes of its first frame.
pub(crate) fn video(track: &Track, head: &[u8]) -> Result<VideoCodec, String> {
    let fourcc = track.codec.as_str();
    let variant = prores_variant(fourcc);
    let known = variant.is_some() || matches!(fourcc, "AVdn" | "AVdh");
    let facts = known
        .then(|| codec::from_frame_header(head, variant.map(str::to_string)))
        .flatten();
    let Some(facts) = facts else {
        return Err(format!(
            "track {}: `{fourcc}` video is described by GStreamer's parser, not by its frame header",
            track.id
        ));
    };
    if variant.is_some() {
        // A ProRes frame declares its own size: it must be the sample's.
        let declared = moocpipe_container::frame::prores_header(head).map(|h| h.frame_size);
        if declared.map(u64::from) != Some(track.samples.first_size) {
            return Err(format!(
                "track {}: the first frame declares {declared:?} bytes, the index {}",
                track.id, track.samples.first_size
            ));
        }
    }
    Ok(facts)
}

/// The frame rate qtdemux puts in its caps: the mean duration of every
/// frame but the first, as `gst_video_guess_framerate` names it. Only a
/// rate that function finds exactly (a standard rate, to within 2 ns a
/// frame) is given; for any other its answer depends on GStreamer's
/// version, and the caller asks GStreamer.
pub(crate) fn frame_rate(track: &Track) -> Result<Fraction, String> {
    let samples = &track.samples;
    let unknown = || format!("track {}: no standard frame rate", track.id);
    if samples.count < 2 || track.media_duration_ticks <= samples.first_delta {
        return Err(unknown());
    }
    // gst_util_uint64_scale_round
    let denom = u128::from(track.timescale) * u128::from(samples.count - 1);
    let ticks = u128::from(track.media_duration_ticks - samples.first_delta);
    let mean = (ticks * 1_000_000_000 + denom / 2)
        .checked_div(denom)
        .ok_or_else(unknown)?;
    if mean == 0 {
        return Err(unknown());
    }
    for d in [1u128, 2, 3, 4, 1001] {
        let mut n = (d * 1_000_000_000 + mean / 2) / mean;
        if d == 1001 {
            // NTSC rates: to the nearest 1000.
            n += 500;
            n -= n % 1000;
        }
        if n == 0 || n > i32::MAX as u128 {
            continue;
        }
        let nominal = d * 1_000_000_000 / n;
        if nominal.abs_diff(mean) < 2 {
            let gcd = gcd(n, d);
            return Ok(Fraction {
                num: i32::try_from(n / gcd).map_err(|_| unknown())?,
                den: i32::try_from(d / gcd).map_err(|_| unknown())?,
            });
        }
    }
    Err(unknown())
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

/// A sound track's codec facts, for the linear PCM descriptions qtdemux
/// turns into `audio/x-raw` caps.
pub(crate) fn audio(track: &Track) -> Result<AudioCodec, String> {
    let not_pcm = || {
        format!(
            "track {}: `{}` sound is described by GStreamer, not by its sample description",
            track.id, track.codec
        )
    };
    let entry = track
        .audio
        .as_ref()
        .filter(|e| e.sample_rate > 0 && e.channels > 0)
        .ok_or_else(not_pcm)?;
    let (format, depth) = pcm_format(&track.codec, entry).ok_or_else(not_pcm)?;
    Ok(AudioCodec {
        codec: if format.starts_with('F') {
            "PCM (float)"
        } else {
            "PCM"
        }
        .into(),
        compressed: false,
        sample_format: Some(format),
        bit_depth: Some(depth),
        sample_rate: Some(entry.sample_rate),
        channels: Some(entry.channels),
    })
}

/// GStreamer's name of the sample format qtdemux gives a PCM description,
/// and its depth in bits.
fn pcm_format(fourcc: &str, entry: &AudioEntry) -> Option<(String, u32)> {
    let little = entry.little_endian == Some(true);
    let integer = |signed: bool, little: bool, width: u32, depth: u32| {
        let name = match (width, depth) {
            (8, 8) => return Some((if signed { "S8" } else { "U8" }.to_string(), 8)),
            (16, 16) => "16",
            (24, 24) => "24",
            (32, 32) => "32",
            (32, 24) => "24_32",
            _ => return None,
        };
        let sign = if signed { 'S' } else { 'U' };
        let end = if little { "LE" } else { "BE" };
        Some((format!("{sign}{name}{end}"), depth))
    };
    match fourcc {
        // Sizes from the description's sample size (v0) or bytes per
        // packet (v1), which must agree.
        "twos" | "sowt" => {
            let bits = entry.bits_per_sample;
            if entry.version == 1 && entry.bytes_per_packet.checked_mul(8) != Some(bits) {
                return None;
            }
            integer(true, fourcc == "sowt", bits, bits)
        }
        // Big-endian unless an `enda` box says otherwise.
        "in24" => integer(true, little, 24, 24),
        // qtdemux 1.22 reads no `enda` for these: big-endian whatever it
        // says (so ffmpeg's pcm_f32le is measured as F32BE either way).
        "in32" => integer(true, false, 32, 32),
        "fl32" => Some(("F32BE".into(), 32)),
        "fl64" => Some(("F64BE".into(), 64)),
        "raw " if entry.bits_per_sample == 8 => Some(("U8".into(), 8)),
        "lpcm" => {
            const FLOAT: u32 = 1;
            const BIG_ENDIAN: u32 = 2;
            const SIGNED: u32 = 4;
            const ALIGNED_HIGH: u32 = 0x10;
            const NON_INTERLEAVED: u32 = 0x20;
            let flags = entry.lpcm_flags?;
            if entry.version != 2 || entry.channels == 0 || flags & NON_INTERLEAVED != 0 {
                return None;
            }
            let width = entry.bytes_per_packet.checked_mul(8)? / entry.channels;
            let big = flags & BIG_ENDIAN != 0;
            if flags & FLOAT != 0 {
                let end = if big { "BE" } else { "LE" };
                return match width {
                    64 => Some((format!("F64{end}"), 64)),
                    32 => Some((format!("F32{end}"), 32)),
                    _ => None,
                };
            }
            let depth = if flags & ALIGNED_HIGH != 0 {
                width
            } else {
                entry.bits_per_sample
            };
            integer(flags & SIGNED != 0, !big, width, depth)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use moocpipe_container::{SampleStats, TrackKind};

    fn video_track(timescale: u32, count: u64, delta: u64) -> Track {
        Track {
            id: 1,
            kind: TrackKind::Video,
            codec: "apch".into(),
            timescale,
            media_duration_ticks: count * delta,
            video: None,
            audio: None,
            samples: SampleStats {
                count,
                first_delta: delta,
                duration_ticks: count * delta,
                ..SampleStats::default()
            },
            edits: Vec::new(),
            composition_offsets: false,
        }
    }

    #[test]
    fn standard_rates_are_named_as_gstreamer_names_them() {
        let rate = |ts, delta| frame_rate(&video_track(ts, 50, delta)).map(|f| (f.num, f.den));
        assert_eq!(rate(2500, 100), Ok((25, 1)));
        assert_eq!(rate(12800, 512), Ok((25, 1)));
        assert_eq!(rate(24000, 1001), Ok((24000, 1001)));
        assert_eq!(rate(30000, 1001), Ok((30000, 1001)));
        assert_eq!(rate(25, 2), Ok((25, 2)));
        assert_eq!(rate(15, 1), Ok((15, 1)));
        // 7 ms: 143000/1001 to within a nanosecond, which caps reduce.
        assert_eq!(rate(1000, 7), Ok((1000, 7)));
        // 33.337 ms: GStreamer's guess is an approximation (version-dependent).
        assert!(rate(1_000_000, 33_337).is_err());
        assert!(frame_rate(&video_track(2500, 1, 100)).is_err());
        assert!(frame_rate(&video_track(0, 50, 100)).is_err());
    }

    fn sound(fourcc: &str, version: u16, bits: u32, per_packet: u32) -> (String, AudioEntry) {
        (
            fourcc.to_string(),
            AudioEntry {
                channels: 2,
                sample_rate: 48_000,
                bits_per_sample: bits,
                version,
                lpcm_flags: None,
                bytes_per_packet: per_packet,
                little_endian: None,
                extensions: Vec::new(),
            },
        )
    }

    #[test]
    fn pcm_descriptions_give_gstreamer_sample_formats() {
        let format = |(fourcc, entry): (String, AudioEntry)| pcm_format(&fourcc, &entry);
        assert_eq!(format(sound("sowt", 1, 24, 3)), Some(("S24LE".into(), 24)));
        assert_eq!(format(sound("sowt", 0, 16, 0)), Some(("S16LE".into(), 16)));
        assert_eq!(format(sound("twos", 0, 8, 0)), Some(("S8".into(), 8)));
        assert_eq!(format(sound("sowt", 1, 24, 4)), None);
        assert_eq!(format(sound("in24", 1, 16, 3)), Some(("S24BE".into(), 24)));
        let (fourcc, mut entry) = sound("in24", 1, 16, 3);
        entry.little_endian = Some(true);
        assert_eq!(pcm_format(&fourcc, &entry), Some(("S24LE".into(), 24)));
        let (fourcc, mut entry) = sound("fl32", 1, 16, 4);
        assert_eq!(pcm_format(&fourcc, &entry), Some(("F32BE".into(), 32)));
        entry.little_endian = Some(true);
        assert_eq!(pcm_format(&fourcc, &entry), Some(("F32BE".into(), 32)));
        let (fourcc, mut entry) = sound("lpcm", 2, 24, 6);
        entry.lpcm_flags = Some(0x4 | 0x8);
        assert_eq!(pcm_format(&fourcc, &entry), Some(("S24LE".into(), 24)));
        entry.lpcm_flags = Some(0x1 | 0x2);
        entry.bytes_per_packet = 8;
        assert_eq!(pcm_format(&fourcc, &entry), Some(("F32BE".into(), 32)));
        assert_eq!(format(sound("mp4a", 0, 16, 0)), None);
        assert_eq!(format(sound("raw ", 0, 8, 0)), Some(("U8".into(), 8)));
        assert_eq!(format(sound("raw ", 0, 16, 0)), None);
        // Checked against qtdemux 1.22 on patched files: aligned high
        // takes the depth from the packet width.
        let (fourcc, mut entry) = sound("lpcm", 2, 24, 8);
        entry.lpcm_flags = Some(0x1C);
        assert_eq!(pcm_format(&fourcc, &entry), Some(("S32LE".into(), 32)));
    }
}
