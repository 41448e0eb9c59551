//! Measuring from the container's index (issue 15): the MOV/MP4 sample
//! tables or the MXF index table segments ([`moocpipe_container`]) give
//! every stream's frame count, key frames, bytes and duration; a demux pass that stops at the first frame
//! of every stream ([`demux::Pass::Heads`]) gives the codec facts exactly as
//! the full pass would (same demuxer caps, same parser caps, same frame
//! header). Together they replace the full pass's tallies at a few
//! kilobytes of reads.
//!
//! The index is only used when it agrees with what the demuxer exposed:
//! as many video and audio tracks as pads, and the first video frame the
//! size the index says. Anything else falls back to the full pass.

use crate::demux::{DemuxPass, StreamTally};
use crate::Source;
use gstreamer as gst;
use moocpipe_container::{ContainerIndex, FileSource, IndexError, ReadAt, Track, TrackKind};
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

/// The index of `source` when it has one worth trying; `None` sends the
/// caller to the full demux pass (with the reason in the debug log).
pub(crate) fn read(file: &str, source: &Source, size: u64) -> Option<ContainerIndex> {
    let result = match source {
        Source::File(path) => FileSource::open(path)
            .map_err(IndexError::from)
            .and_then(|source| moocpipe_container::read(&source)),
        Source::Remote { reader, .. } => moocpipe_container::read(&RemoteSource {
            size,
            reader: Arc::clone(reader),
        }),
    };
    match result {
        Ok(index) => Some(index),
        Err(why) => {
            tracing::debug!(file, %why, "no usable index; reading every frame");
            None
        }
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
