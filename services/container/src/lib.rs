//! Container indexes read without GStreamer and without reading the media:
//! the sample tables of MOV/MP4 ([`mov`]), the index table segments and
//! essence descriptors of MXF OP1a ([`mxf`]); [`read`] tries each. From them come the facts the
//! raw-footage spec needs — stream bytes and duration (so the bitrate), key
//! and delta frame counts, frame count and rate, sample formats — for a few
//! kilobytes of reads on a take of any size.
//!
//! The index is trusted only after it is checked: every sample lies inside
//! the object, the tables agree on the sample count, `stss` is increasing.
//! Anything else is an [`IndexError`], and the caller falls back to a full
//! demux pass. No panic, and no allocation larger than the index box,
//! whatever the input.

pub mod frame;
pub mod mov;
pub mod mxf;
mod read;

pub use read::{FileSource, ReadAt};

use std::io;

/// The index of whichever container `source` is: MOV/MP4, else MXF.
pub fn read<R: ReadAt + ?Sized>(source: &R) -> Result<ContainerIndex, IndexError> {
    match mov::read(source) {
        Err(IndexError::NotThisFormat) => mxf::read(source),
        other => other,
    }
}

/// Which container the index came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Apple QuickTime (`qt  ` brand, or no `ftyp`).
    QuickTime,
    /// ISO base media (MP4 and friends).
    Mp4,
    /// MXF OP1a (SMPTE ST 377-1).
    Mxf,
}

impl Format {
    /// The container in words, as the demux pass names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::QuickTime => "QuickTime",
            Format::Mp4 => "MP4",
            Format::Mxf => "MXF",
        }
    }
}

/// What a container's index says.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerIndex {
    pub format: Format,
    /// The `ftyp` box's major brand (`qt  `, `isom`…), when there is one.
    pub brand: Option<[u8; 4]>,
    /// The movie's declared duration.
    pub duration_seconds: Option<f64>,
    /// The same duration as declared: ticks of [`ContainerIndex::timescale`].
    pub duration_ticks: u64,
    pub timescale: u32,
    pub tracks: Vec<Track>,
    /// Bytes read to build this index.
    pub bytes_read: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackKind {
    Video,
    Audio,
    /// Timecode, text, metadata…: the handler's four-character code.
    Other(String),
}

/// One track of the index.
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    pub id: u32,
    pub kind: TrackKind,
    /// The sample description's four-character code (`apch`, `AVdh`,
    /// `avc1`, `lpcm`, `in24`, `mp4a`…).
    pub codec: String,
    /// Ticks per second of the track's times.
    pub timescale: u32,
    /// The media header's declared duration, in ticks.
    pub media_duration_ticks: u64,
    pub video: Option<VideoEntry>,
    pub audio: Option<AudioEntry>,
    pub samples: SampleStats,
    /// The edit list (`elst`), empty when the track has none.
    pub edits: Vec<Edit>,
    /// The samples carry composition offsets (`ctts`): presentation order
    /// differs from decoding order.
    pub composition_offsets: bool,
}

/// One entry of a track's edit list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edit {
    /// In the movie's timescale.
    pub segment_duration: u64,
    /// In the track's timescale; -1 for an empty edit.
    pub media_time: i64,
    /// 16.16 fixed point (0x10000 is normal speed).
    pub rate: u32,
}

impl Track {
    /// The samples' summed durations in seconds.
    pub fn duration_seconds(&self) -> Option<f64> {
        (self.timescale > 0 && self.samples.duration_ticks > 0)
            .then(|| self.samples.duration_ticks as f64 / f64::from(self.timescale))
    }
}

/// A visual sample description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoEntry {
    pub width: u32,
    pub height: u32,
    /// The description's pixel depth field (24, 32…; not the bit depth per
    /// component, which comes from the frame header).
    pub depth: u16,
    /// The `fiel` extension's field count (1 progressive, 2 interlaced).
    pub fields: Option<u8>,
    /// Extension boxes (`avcC`, `fiel`, `colr`, `pasp`…) and their payloads.
    pub extensions: Vec<(String, Vec<u8>)>,
}

/// A sound sample description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioEntry {
    pub channels: u32,
    pub sample_rate: u32,
    pub bits_per_sample: u32,
    /// The sound description's version (0, 1 or 2).
    pub version: u16,
    /// QuickTime v2 LPCM flags (float, big-endian, signed…).
    pub lpcm_flags: Option<u32>,
    /// Bytes per packet: v1's field, v2's constant bytes per packet, 0 in v0.
    pub bytes_per_packet: u32,
    /// The `enda` box's flag (in the entry or its `wave` box): true for
    /// little-endian samples.
    pub little_endian: Option<bool>,
    /// Extension boxes (`esds`, `chan`, `enda`…) and their payloads.
    pub extensions: Vec<(String, Vec<u8>)>,
}

/// Totals over a track's samples, walked once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SampleStats {
    pub count: u64,
    /// Sum of the sample sizes.
    pub bytes: u64,
    /// Samples marked sync (all of them when the track has no `stss`).
    pub key_samples: u64,
    /// Sum of the sample durations, in the track's ticks.
    pub duration_ticks: u64,
    pub first_delta: u64,
    pub min_delta: u64,
    pub max_delta: u64,
    /// Where the first sample lies, for reading its header.
    pub first_offset: u64,
    pub first_size: u64,
    /// The furthest byte any sample reaches.
    pub max_end: u64,
}

/// Why an index cannot be used. Every variant but [`IndexError::Io`] means
/// "measure by demuxing instead".
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("reading the index: {0}")]
    Io(#[from] io::Error),
    /// The object is not this container at all.
    #[error("not a QuickTime, MP4 or MXF file")]
    NotThisFormat,
    /// The container keeps no usable index (no `moov`, fragmented).
    #[error("no index: {0}")]
    NotIndexed(String),
    /// The index contradicts itself.
    #[error("the index is inconsistent: {0}")]
    Malformed(String),
    /// Something the index places outside the object: a take cut short.
    #[error(
        "{what} at byte {offset} ({len} bytes) lies past the end of the object ({limit} bytes)"
    )]
    OutOfBounds {
        what: String,
        offset: u64,
        len: u64,
        limit: u64,
    },
    /// An index larger than any real one.
    #[error("{what} of {len} bytes is larger than {limit} bytes")]
    TooLarge { what: String, len: u64, limit: u64 },
}

impl IndexError {
    pub(crate) fn malformed(what: impl Into<String>) -> IndexError {
        IndexError::Malformed(what.into())
    }

    /// True when the object ends before what its index describes: the
    /// take was cut short (in upload, say).
    pub fn is_truncation(&self) -> bool {
        matches!(self, IndexError::OutOfBounds { .. })
    }
}
