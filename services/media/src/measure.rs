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
    let started = Instant::now();
    let deadline = started + options.timeout;
    let timeout_secs = options.timeout.as_secs();

    let index = if options.full_pass {
        None
    } else {
        crate::index::read(file, source, size_bytes)
    };
    // The index, the sample descriptions and the first frame's header
    // alone, where they say everything: GStreamer is never started.
    if let Some(indexed) = &index {
        match crate::index::index_only(indexed) {
            Ok(found) => {
                let measurement = from_index_only(file, source.name_path(), size_bytes, found)?;
                progress(1.0);
                tracing::debug!(
                    file,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    from = ?MeasuredFrom::Index,
                    gstreamer = false,
                    "measured from the index, the sample descriptions and the first frame's header"
                );
                return Ok(measurement);
            }
            Err(why) => tracing::info!(
                file,
                %why,
                "codec facts need GStreamer: reading the first frame of every stream"
            ),
        }
    }
    crate::init()?;
    let mut demux = |which| demux::run(file, source, which, deadline, timeout_secs, &mut *progress);
    // The index and the first frame of each stream, when both agree;
    // otherwise every frame.
    let from_index = match index {
        Some(indexed) => match crate::index::apply(demux(demux::Pass::Heads)?, &indexed.index) {
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
        gstreamer = true,
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
    let tallies = |kind: Kind| -> Vec<&StreamTally> {
        pass.streams.iter().filter(|s| kind_of(s) == kind).collect()
    };
    let (videos, audios) = (tallies(Kind::Video), tallies(Kind::Audio));
    let other = (pass.streams.len() - videos.len() - audios.len()) as u32;
    let found = Found {
        container: container_name(&pass.container_caps),
        declared: pass.declared_duration,
        covered: covered(&pass.streams),
        other,
        video: videos.iter().map(|t| video_facts(t)).collect(),
        audio: audios.iter().map(|t| audio_facts(t)).collect(),
    };
    finish(file, path, size_bytes, found)
}

/// [`merge`] for what [`crate::index::index_only`] found.
fn from_index_only(
    file: &str,
    path: &Path,
    size_bytes: u64,
    found: crate::index::IndexOnly,
) -> Result<Measurement, MediaError> {
    let tallies = found
        .video
        .iter()
        .map(|v| &v.tally)
        .chain(found.audio.iter().map(|(_, t)| t));
    let covered = tallies.filter_map(|t| t.end).max();
    let video = found
        .video
        .into_iter()
        .map(|v| facts_of_video(v.codec, v.width, v.height, v.frame_rate, &v.tally))
        .collect();
    let audio = found
        .audio
        .into_iter()
        .map(|(codec, tally)| facts_of_audio(codec, &tally))
        .collect();
    let mut measurement = finish(
        file,
        path,
        size_bytes,
        Found {
            container: found.container.to_string(),
            declared: Some(found.declared),
            covered,
            other: 0,
            video,
            audio,
        },
    )?;
    measurement.measured_from = MeasuredFrom::Index;
    Ok(measurement)
}

/// The streams of a take, however they were measured.
struct Found {
    container: String,
    /// The duration the container declares.
    declared: Option<gst::ClockTime>,
    /// Where the last frame of any stream ends.
    covered: Option<gst::ClockTime>,
    other: u32,
    video: Vec<VideoFacts>,
    audio: Vec<AudioFacts>,
}

fn covered(streams: &[StreamTally]) -> Option<gst::ClockTime> {
    streams.iter().filter_map(|s| s.end).max()
}

fn finish(
    file: &str,
    path: &Path,
    size_bytes: u64,
    found: Found,
) -> Result<Measurement, MediaError> {
    let mut warnings = Vec::new();
    let container = found.container;
    if let Some(w) = extension_warning(path, &container) {
        warnings.push(w);
    }
    check_complete(file, found.declared, found.covered)?;
    let streams = StreamCounts {
        video: found.video.len() as u32,
        audio: found.audio.len() as u32,
        other: found.other,
    };
    if found.video.is_empty() {
        let found = if streams.audio == 0 && streams.other == 0 {
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

    let (video, audio) = (found.video, found.audio);
    if video.iter().any(|v| v.frames == 0) {
        warnings.push("the video stream holds no frames".into());
    }
    let duration_seconds = found
        .declared
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
fn check_complete(
    file: &str,
    declared: Option<gst::ClockTime>,
    covered: Option<gst::ClockTime>,
) -> Result<(), MediaError> {
    let Some(declared) = declared else {
        return Ok(());
    };
    let covered = covered.unwrap_or(gst::ClockTime::ZERO);
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
    facts_of_video(codec, int("width"), int("height"), frame_rate, tally)
}

/// A video stream's facts from its codec facts, picture size and rate
/// (however found) and its tally.
fn facts_of_video(
    codec: codec::VideoCodec,
    width: u32,
    height: u32,
    frame_rate: Option<Fraction>,
    tally: &StreamTally,
) -> VideoFacts {
    let duration = tally.duration();
    let bitrate_bps = duration
        .filter(|d| !d.is_zero())
        .map(|d| (tally.bytes as f64 * 8.0 / seconds(d)).round() as u64);
    VideoFacts {
        codec: codec.codec,
        profile: codec.profile,
        width,
        height,
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
    facts_of_audio(
        codec::audio(tally.caps.as_ref(), tally.parsed_caps.as_ref()),
        tally,
    )
}

fn facts_of_audio(codec: codec::AudioCodec, tally: &StreamTally) -> AudioFacts {
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
