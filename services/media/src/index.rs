//! Measuring from the container's index (issue 15): the MOV/MP4 sample
//! tables or the MXF index table segments ([`moocpipe_container`]) give
//! every stream's frame count, key frames, bytes and duration.
//!
//! The codec facts come, in order of preference:
//! - from the sample descriptions and the first video frame's header, read
//!   directly at the first sample's offset ([`index_only`], MOV/MP4 with
//!   ProRes or DNxHD/DNxHR video and PCM sound): no GStreamer at all, and
//!   the index plus [`HEAD_BYTES`] a video track read;
//! - else from a demux pass that stops at the first frame of every stream
//!   ([`demux::Pass::Heads`]), which gives them exactly as the full pass
//!   would (same demuxer caps, same parser caps, same frame header), and
//!   [`apply`] puts the index's counts beside them.
//!
//! The index is only used when it agrees with itself and the object, and
//! (heads pass) with what the demuxer exposed: as many video and audio
//! tracks as pads, and the first video frame the size the index says.
//! Anything else falls back to the full pass.
//!
//! [`demux::Pass::Heads`]: crate::demux::Pass::Heads

use crate::codec::{AudioCodec, VideoCodec};
use crate::demux::{DemuxPass, StreamTally};
use crate::Source;
use gstreamer as gst;
use moocpipe_container::frame::HEAD_BYTES;
use moocpipe_container::{
    ContainerIndex, FileSource, Format, IndexError, ReadAt, Track, TrackKind,
};
use moocpipe_proto::Fraction;
use std::io;
use std::sync::Arc;

/// A remote object as the index reader's random access.
struct RemoteSource {
    size: u64,
    reader: Arc<dyn crate::RangeReader>,
}

impl ReadAt for RemoteSource {
    fn len(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        self.reader.read_at(offset, len as u64)
    }
}

/// A container's index and the object it was read from, kept open for the
/// frame headers.
pub(crate) struct Indexed {
    pub(crate) index: ContainerIndex,
    object: Box<dyn ReadAt>,
}

/// The index of `source` when it has one worth trying; `None` sends the
/// caller to the full demux pass (with the reason in the debug log).
pub(crate) fn read(file: &str, source: &Source, size: u64) -> Option<Indexed> {
    let object: io::Result<Box<dyn ReadAt>> = match source {
        Source::File(path) => {
            FileSource::open(path).map(|source| Box::new(source) as Box<dyn ReadAt>)
        }
        Source::Remote { reader, .. } => Ok(Box::new(RemoteSource {
            size,
            reader: Arc::clone(reader),
        })),
    };
    let result = object
        .map_err(IndexError::from)
        .and_then(|object| Ok((moocpipe_container::read(object.as_ref())?, object)));
    match result {
        Ok((index, object)) => Some(Indexed { index, object }),
        Err(why) => {
            tracing::debug!(file, %why, "no usable index; reading every frame");
            None
        }
    }
}

/// A video stream measured without GStreamer.
pub(crate) struct IndexVideo {
    pub(crate) codec: VideoCodec,
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) frame_rate: Option<Fraction>,
    pub(crate) tally: StreamTally,
}

/// What [`index_only`] found: everything a measurement needs.
pub(crate) struct IndexOnly {
    /// The container in the demux pass's words.
    pub(crate) container: &'static str,
    pub(crate) declared: gst::ClockTime,
    pub(crate) video: Vec<IndexVideo>,
    pub(crate) audio: Vec<(AudioCodec, StreamTally)>,
}

/// The whole measurement from the index, the sample descriptions and the
/// first video frame's header, without GStreamer. `Err` says why not (a
/// codec whose facts come from a GStreamer parser, a timeline the demuxer
/// would cut or shift, tracks it may not expose…): the caller then runs
/// the heads pass, which answers for every case this one declines.
pub(crate) fn index_only(indexed: &Indexed) -> Result<IndexOnly, String> {
    let index = &indexed.index;
    let container = match (index.format, index.brand.as_ref()) {
        (Format::QuickTime, None | Some(b"qt  ")) => "QuickTime",
        (Format::Mp4, Some(b"isom" | b"avc1" | b"mp41" | b"mp42")) => "MP4",
        (Format::Mxf, _) => {
            return Err("MXF: the demuxer's caps are not derived here".into());
        }
        (_, brand) => {
            return Err(format!(
                "brand {:?}: typefind decides the container's name",
                brand.map(|b| String::from_utf8_lossy(b).into_owned())
            ));
        }
    };
    if index.timescale == 0
        || index.duration_ticks == 0
        || index.duration_ticks >= u64::from(u32::MAX)
    {
        return Err("the movie declares no duration".into());
    }
    let mut video = Vec::new();
    let mut audio = Vec::new();
    for track in &index.tracks {
        timeline(index, track)?;
        let mut tally = StreamTally {
            first_pts: Some(gst::ClockTime::ZERO),
            ..StreamTally::default()
        };
        match track.kind {
            TrackKind::Video => {
                let entry = track
                    .video
                    .as_ref()
                    .ok_or_else(|| format!("track {} has no picture description", track.id))?;
                let len = usize::try_from(track.samples.first_size)
                    .unwrap_or(usize::MAX)
                    .min(HEAD_BYTES);
                let head = indexed
                    .object
                    .read_at(track.samples.first_offset, len)
                    .map_err(|e| format!("track {}: reading its first frame: {e}", track.id))?;
                let codec = crate::described::video(track, &head)?;
                let frame_rate = Some(crate::described::frame_rate(track)?);
                fill(&mut tally, track, true)?;
                video.push(IndexVideo {
                    codec,
                    width: entry.width,
                    height: entry.height,
                    frame_rate,
                    tally,
                });
            }
            TrackKind::Audio => {
                let codec = crate::described::audio(track)?;
                fill(&mut tally, track, false)?;
                audio.push((codec, tally));
            }
            TrackKind::Other(ref handler) => {
                return Err(format!(
                    "track {} is a `{handler}` track: the demuxer decides whether it is a stream",
                    track.id
                ));
            }
        }
    }
    if video.is_empty() {
        return Err("no video track".into());
    }
    let nanos = u128::from(index.duration_ticks) * 1_000_000_000 / u128::from(index.timescale);
    Ok(IndexOnly {
        container,
        declared: gst::ClockTime::from_nseconds(u64::try_from(nanos).unwrap_or(u64::MAX)),
        video,
        audio,
    })
}

/// A track the demuxer plays from its first sample to its last, at its
/// sample tables' times: durations that agree with the declared ones, no
/// composition offsets, no edit list but one that starts at the first
/// sample and covers them all.
fn timeline(index: &ContainerIndex, track: &Track) -> Result<(), String> {
    let id = track.id;
    let samples = &track.samples;
    if samples.count == 0 || track.timescale == 0 {
        return Err(format!("track {id} is empty or has no timescale"));
    }
    if track.media_duration_ticks != samples.duration_ticks {
        return Err(format!(
            "track {id} declares {} ticks but its samples last {}",
            track.media_duration_ticks, samples.duration_ticks
        ));
    }
    if track.composition_offsets {
        return Err(format!("track {id} has composition offsets"));
    }
    // The track's and the movie's durations, in one unit.
    let track_span = u128::from(track.media_duration_ticks) * u128::from(index.timescale);
    let movie_span = u128::from(index.duration_ticks) * u128::from(track.timescale);
    // qtdemux drops a track over five times longer than the movie (a
    // "prologue image").
    if movie_span * 10 / track_span.max(1) < 2 {
        return Err(format!("track {id} lasts over five times the movie"));
    }
    match track.edits.as_slice() {
        [] => Ok(()),
        [edit]
            if edit.media_time == 0
                && edit.rate == 0x1_0000
                && u128::from(edit.segment_duration) * u128::from(track.timescale)
                    >= track_span =>
        {
            Ok(())
        }
        _ => Err(format!("track {id}'s edit list shifts or cuts its samples")),
    }
}

/// Fills the tallies of a heads-only pass from `index`. Errors say why the
/// two disagree (the caller then reads every frame).
pub(crate) fn apply(mut heads: DemuxPass, index: &ContainerIndex) -> Result<DemuxPass, String> {
    let tracks = |kind: &TrackKind| -> Vec<&Track> {
        index.tracks.iter().filter(|t| &t.kind == kind).collect()
    };
    let (videos, audios) = (tracks(&TrackKind::Video), tracks(&TrackKind::Audio));
    let mut next_video = videos.iter();
    let mut next_audio = audios.iter();
    let (mut video_pads, mut audio_pads) = (0, 0);
    for tally in &mut heads.streams {
        let name = tally
            .caps
            .as_ref()
            .and_then(|c| c.structure(0))
            .map(|s| s.name().to_string())
            .unwrap_or_default();
        let is_video =
            name.starts_with("video/") || name == "image/jpeg" || name.starts_with("image/x-j");
        let track = if is_video {
            video_pads += 1;
            next_video.next()
        } else if name.starts_with("audio/") {
            audio_pads += 1;
            next_audio.next()
        } else {
            continue;
        };
        let Some(track) = track else {
            return Err(format!(
                "the demuxer exposes more {} streams than the index has tracks",
                if is_video { "video" } else { "audio" }
            ));
        };
        if is_video && tally.bytes != track.samples.first_size {
            return Err(format!(
                "the first frame of track {} is {} bytes, the index says {}",
                track.id, tally.bytes, track.samples.first_size
            ));
        }
        fill(tally, track, is_video)?;
    }
    if video_pads != videos.len() || audio_pads != audios.len() {
        return Err(format!(
            "the index has {} video and {} audio tracks, the demuxer {} and {}",
            videos.len(),
            audios.len(),
            video_pads,
            audio_pads
        ));
    }
    Ok(heads)
}

/// One tally from its track's tables: frames, key and delta frames, bytes,
/// and the end of the last frame (first frame's time + summed durations).
fn fill(tally: &mut StreamTally, track: &Track, is_video: bool) -> Result<(), String> {
    let samples = &track.samples;
    if track.duration_seconds().is_none() {
        return Err(format!("track {} declares no durations", track.id));
    }
    let first = tally.first_pts.unwrap_or(gst::ClockTime::ZERO);
    // Whole nanoseconds rounded down, as the demuxer's timestamps are.
    let nanos = u128::from(samples.duration_ticks) * 1_000_000_000 / u128::from(track.timescale);
    tally.end =
        Some(first + gst::ClockTime::from_nseconds(u64::try_from(nanos).unwrap_or(u64::MAX)));
    tally.bytes = samples.bytes;
    if is_video {
        // The demux pass counts what the demuxer pushes: one buffer a
        // sample for video. Audio buffers are chunks whose number depends on
        // the demuxer, and no rule reads them.
        tally.frames = samples.count;
        tally.key_frames = samples.key_samples;
        tally.delta_frames = samples.count - samples.key_samples;
    }
    Ok(())
}
