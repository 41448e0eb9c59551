//! Measuring a take: checks the path, runs the demux pass and turns what it
//! saw into facts per stream.
//!
//! GStreamer's Discoverer is deliberately not used: it decodes a frame, which
//! alone took peak RSS from 12 MB to 79 MB on a 1 s 1080p ProRes take (over
//! the 64 MB budget), and its synchronous call sometimes never returned on a
//! truncated MOV. The parsers in the demux pass give the same parsed caps.

use crate::codec;
use crate::demux::{self, StreamTally};
use crate::error::MediaError;
use crate::Source;
use gstreamer as gst;
use moocpipe_proto::{AudioFacts, Fraction, Interlacing, StreamCounts, VideoFacts};
use std::path::Path;
use std::time::{Duration, Instant};

/// How a measurement runs.
#[derive(Debug, Clone)]
pub struct MeasureOptions {
    /// Time bound for one file; past it the check fails with a timeout error.
    pub timeout: Duration,
    /// Read every frame even when the container's index could answer
    /// (`check --full`).
    pub full_pass: bool,
}

impl Default for MeasureOptions {
    fn default() -> Self {
        // A 50 GB take read at ~200 MB/s needs about 4 minutes.
        MeasureOptions {
            timeout: Duration::from_secs(600),
            full_pass: false,
        }
    }
}

/// Everything measured about a media file.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    pub size_bytes: u64,
    /// Container format in words, e.g. "QuickTime", "MP4", "MXF", "Matroska".
    pub container: String,
    pub duration_seconds: Option<f64>,
    pub streams: StreamCounts,
    pub video: Vec<VideoFacts>,
    pub audio: Vec<AudioFacts>,
    pub warnings: Vec<String>,
    /// Whether the counts came from the container's index or from reading
    /// every frame.
    pub measured_from: MeasuredFrom,
}

/// How the frame counts, bytes and durations of a [`Measurement`] were
/// found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeasuredFrom {
    /// The container's index (MOV/MP4 sample tables, MXF index table
    /// segments), checked against the
    /// object, plus the first frame of every stream.
    Index,
    /// A demux pass over every frame.
    Demux,
}

/// Measures the file at `path`; `file` is the name errors and warnings use.
/// Only reads the file. `progress` gets the fraction of the demux pass done.
pub fn measure(
    file: &str,
    path: &Path,
    options: &MeasureOptions,
    progress: &mut dyn FnMut(f64),
) -> Result<Measurement, MediaError> {
    // measure_source runs the preflight on the resolved path.
    let absolute = std::fs::canonicalize(path).map_err(|e| MediaError::from_io(file, &e))?;
    measure_source(file, &Source::File(absolute), options, progress)
}

/// [`measure`] over any [`Source`]: a file, or a remote object read by
/// ranges as the demuxer asks for them.
pub fn measure_source(
    file: &str,
    source: &Source,
    options: &MeasureOptions,
    progress: &mut dyn FnMut(f64),
) -> Result<Measurement, MediaError> {
    let size_bytes = crate::source::preflight(file, source)?;
    crate::init()?;
    let started = Instant::now();
    let deadline = started + options.timeout;
    let timeout_secs = options.timeout.as_secs();

    let index = if options.full_pass {
        None
    } else {
        crate::index::read(file, source, size_bytes)
    };
    let mut demux = |which| demux::run(file, source, which, deadline, timeout_secs, &mut *progress);
    // The index and the first frame of each stream, when both agree;
    // otherwise every frame.
    let from_index = match index {
        Some(index) => match crate::index::apply(demux(demux::Pass::Heads)?, &index) {
            Ok(pass) => Some(pass),
            Err(why) => {
                tracing::info!(file, %why, "the index does not match the streams; reading every frame");
                None
            }
        },
        None => None,
    };
    let (pass, measured_from) = match from_index {
        Some(pass) => (pass, MeasuredFrom::Index),
        None => (demux(demux::Pass::Full)?, MeasuredFrom::Demux),
    };
    tracing::debug!(
        file,
        elapsed_ms = started.elapsed().as_millis() as u64,
        from = ?measured_from,
        "measured"
    );
    let mut measurement = merge(file, source.name_path(), size_bytes, pass)?;
    measurement.measured_from = measured_from;
    Ok(measurement)
}

/// Refuses what is not a readable, non-empty regular file before GStreamer
/// sees it (a FIFO would block a reader forever).
pub(crate) fn preflight(file: &str, path: &Path) -> Result<u64, MediaError> {
    let meta = std::fs::metadata(path).map_err(|e| MediaError::from_io(file, &e))?;
    let file_type = meta.file_type();
    if !file_type.is_file() {
        let what = if file_type.is_dir() {
            "a directory"
        } else {
            "a device, FIFO or socket"
        };
        return Err(MediaError::NotAFile {
            file: file.to_string(),
            what,
        });
    }
    if meta.len() == 0 {
        return Err(MediaError::Empty {
            file: file.to_string(),
        });
    }
    std::fs::File::open(path).map_err(|e| MediaError::from_io(file, &e))?;
    Ok(meta.len())
}

#[derive(PartialEq)]
enum Kind {
    Video,
    Audio,
    Other,
}

fn kind_of(tally: &StreamTally) -> Kind {
    let name = tally
        .caps
        .as_ref()
        .and_then(|c| c.structure(0))
        .map(|s| s.name().to_string())
        .unwrap_or_default();
    if name.starts_with("video/") || name == "image/jpeg" || name.starts_with("image/x-j") {
        Kind::Video
    } else if name.starts_with("audio/") {
        Kind::Audio
    } else {
        Kind::Other
    }
}

fn merge(
    file: &str,
    path: &Path,
    size_bytes: u64,
    pass: demux::DemuxPass,
) -> Result<Measurement, MediaError> {
    let mut warnings = Vec::new();
    let container = container_name(&pass.container_caps);
    if let Some(w) = extension_warning(path, &container) {
        warnings.push(w);
    }
    check_complete(file, &pass)?;
    let videos: Vec<&StreamTally> = pass
        .streams
        .iter()
        .filter(|s| kind_of(s) == Kind::Video)
        .collect();
    let audios: Vec<&StreamTally> = pass
        .streams
        .iter()
        .filter(|s| kind_of(s) == Kind::Audio)
        .collect();
    let streams = StreamCounts {
        video: videos.len() as u32,
        audio: audios.len() as u32,
        other: (pass.streams.len() - videos.len() - audios.len()) as u32,
    };
    if videos.is_empty() {
        let found = if pass.streams.is_empty() {
            format!("the {container} container holds no streams")
        } else {
            format!(
                "found {} audio and {} other stream(s); is this an audio file?",
                streams.audio, streams.other
            )
        };
        return Err(MediaError::NoVideoStream {
            file: file.to_string(),
            found,
        });
    }

    let video: Vec<VideoFacts> = videos.iter().map(|t| video_facts(t)).collect();
    let audio: Vec<AudioFacts> = audios.iter().map(|t| audio_facts(t)).collect();
    if video.iter().any(|v| v.frames == 0) {
        warnings.push("the video stream holds no frames".into());
    }
    let duration_seconds = pass
        .declared_duration
        .map(seconds)
        .or_else(|| video.first().and_then(|v| v.duration_seconds));
    Ok(Measurement {
        size_bytes,
        container,
        duration_seconds,
        streams,
        video,
        audio,
        warnings,
        measured_from: MeasuredFrom::Demux,
    })
}

/// A container whose index promises more than its frames deliver was cut
/// short after its index was written (e.g. a MOV with the index at the front).
fn check_complete(file: &str, pass: &demux::DemuxPass) -> Result<(), MediaError> {
    let Some(declared) = pass.declared_duration else {
        return Ok(());
    };
    let covered = pass
        .streams
        .iter()
        .filter_map(|s| s.end)
        .max()
        .unwrap_or(gst::ClockTime::ZERO);
    // Allow a frame or two of rounding and streams that end early.
    let slack = gst::ClockTime::from_mseconds(250).max(declared / 50);
    if covered + slack < declared {
        return Err(MediaError::Truncated {
            file: file.to_string(),
            message: format!(
                "the container declares {:.2} s but its frames end at {:.2} s",
                seconds(declared),
                seconds(covered)
            ),
        });
    }
    Ok(())
}

fn seconds(t: gst::ClockTime) -> f64 {
    t.nseconds() as f64 / 1e9
}

fn video_facts(tally: &StreamTally) -> VideoFacts {
    let (demuxed, parsed) = (tally.caps.as_ref(), tally.parsed_caps.as_ref());
    let codec = codec::video(demuxed, parsed, &tally.head);
    let structures = [parsed, demuxed]
        .into_iter()
        .flatten()
        .filter_map(|c| c.structure(0));
    let int = |name: &str| {
        structures
            .clone()
            .find_map(|s| s.get::<i32>(name).ok())
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(0)
    };
    let frame_rate = structures
        .clone()
        .find_map(|s| s.get::<gst::Fraction>("framerate").ok())
        .filter(|f| f.numer() > 0 && f.denom() > 0)
        .map(|f| Fraction {
            num: f.numer(),
            den: f.denom(),
        });
    let duration = tally.duration();
    let bitrate_bps = duration
        .filter(|d| !d.is_zero())
        .map(|d| (tally.bytes as f64 * 8.0 / seconds(d)).round() as u64);
    VideoFacts {
        codec: codec.codec,
        profile: codec.profile,
        width: int("width"),
        height: int("height"),
        frame_rate,
        // GStreamer's convention: caps without interlace-mode are progressive.
        interlacing: codec.interlacing.unwrap_or(Interlacing::Progressive),
        bit_depth: codec.bit_depth,
        chroma: codec.chroma,
        bitrate_bps,
        bytes: tally.bytes,
        frames: tally.frames,
        key_frames: tally.key_frames,
        delta_frames: tally.delta_frames,
        duration_seconds: duration.map(seconds),
    }
}

fn audio_facts(tally: &StreamTally) -> AudioFacts {
    let codec = codec::audio(tally.caps.as_ref(), tally.parsed_caps.as_ref());
    AudioFacts {
        codec: codec.codec,
        compressed: codec.compressed,
        sample_rate: codec.sample_rate,
        bit_depth: codec.bit_depth,
        sample_format: codec.sample_format,
        channels: codec.channels,
        bytes: tally.bytes,
        duration_seconds: tally.duration().map(seconds),
    }
}

/// The container's name in words.
fn container_name(caps: &gst::Caps) -> String {
    let Some(s) = caps.structure(0) else {
        return caps.to_string();
    };
    match s.name().as_str() {
        "video/quicktime" => match s.get::<String>("variant").ok().as_deref() {
            Some("iso") | Some("iso-fragmented") => "MP4".into(),
            _ => "QuickTime".into(),
        },
        "application/mxf" => "MXF".into(),
        "video/x-matroska" => "Matroska".into(),
        "video/webm" => "WebM".into(),
        "video/x-msvideo" => "AVI".into(),
        "video/mpegts" => "MPEG-TS".into(),
        _ => gstreamer_pbutils::pb_utils_get_codec_description(caps).to_string(),
    }
}

/// A warning when the file's extension names another container than it holds.
fn extension_warning(path: &Path, container: &str) -> Option<String> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    let family = match ext.as_str() {
        "mov" | "qt" | "mp4" | "m4v" => &["QuickTime", "MP4"][..],
        "mxf" => &["MXF"][..],
        "mkv" | "webm" => &["Matroska", "WebM"][..],
        "avi" => &["AVI"][..],
        _ => return None,
    };
    (!family.contains(&container))
        .then(|| format!("the file is named .{ext} but holds a {container} container"))
}
