//! MXF (SMPTE ST 377-1) OP1a: the index table segments (edit units, stream
//! offsets, key-frame flags) and the essence descriptors, read without
//! touching the essence beyond the element headers of the first and the
//! last edit unit.
//!
//! What is read: the header partition pack, the random index pack at the
//! end (or, without one, the partition packs from the footer back), each
//! partition pack, the index segments those packs announce, and the header
//! metadata of the footer (or of the header partition when the footer has
//! none). Then the KLV headers of the first and the last edit unit give the
//! content package's layout: which elements (picture, sound, system, fill)
//! in which order, and their sizes.
//!
//! An edit unit's picture size is its size (from the stream offsets of
//! consecutive edit units) less everything else in it, so the layout must
//! leave one element whose size varies, the picture: one picture element,
//! sound elements of a whole number of samples per edit unit (the same in
//! every edit unit), no fill after the picture. A constant-size index
//! (`EditUnitByteCount`) needs none of that: every edit unit is laid out as
//! the first. Anything else — several picture elements, AES3 sound (the
//! demuxer strips its headers), clip wrapping, other operational patterns,
//! a run-in, an index that disagrees with itself or the object — is an
//! [`IndexError`], and the caller reads every frame instead.
//!
//! Every count is checked against the bytes that hold it before anything is
//! allocated; metadata and index reads are bounded ([`MAX_METADATA`],
//! [`MAX_INDEX`]), and so is the number of partitions (100 000).
//!
//! Longer property tests than the default 1 000 cases:
//! `PROPTEST_CASES=20000 cargo test --release -p moocpipe-container`.
//!
//! Modules: [`klv`] (labels, lengths, local sets), [`partition`] (packs,
//! where they are, where the essence lies), [`metadata`] (descriptors),
//! [`index_table`] (segments, offsets), [`edit_unit`] (the elements of
//! an edit unit and the walk over all of them).

mod edit_unit;
mod index_table;
mod klv;
mod metadata;
mod partition;

use crate::read::ReadAt;
use crate::{ContainerIndex, Format, IndexError, SampleStats, Track, TrackKind};
use index_table::IndexTable;
use klv::hex;

/// The most header metadata read: real files hold tens of kilobytes.
pub const MAX_METADATA: u64 = 16 * 1024 * 1024;
/// The most index table bytes read over all partitions: 11 bytes an edit
/// unit, so 64 MB covers 6 million edit units (over 60 hours at 25 fps).
pub const MAX_INDEX: u64 = 64 * 1024 * 1024;

/// Reads the index of an MXF OP1a file.
pub fn read<R: ReadAt + ?Sized>(source: &R) -> Result<ContainerIndex, IndexError> {
    let mut read = 0u64;
    let partitions = partition::partitions(source, &mut read)?;
    let described =
        metadata::descriptors(&partition::metadata_bytes(source, &partitions, &mut read)?)?;
    let index_bufs = partition::index_bytes(source, &partitions, &mut read)?;
    let table = IndexTable::collect(&index_bufs)?;
    let map = partition::essence_map(&partitions, table.body_sid, source.len())?;
    let count = if table.open_ended() {
        let (total, cbr) = (map.total(), u64::from(table.edit_unit_bytes));
        if total == 0 || !total.is_multiple_of(cbr) {
            return Err(IndexError::NotIndexed(format!(
                "{total} bytes of essence are not a whole number of {cbr}-byte edit units"
            )));
        }
        total / cbr
    } else {
        table.count
    };
    let content = edit_unit::content(source, &table, &map, count, &mut read)?;

    // Tracks, in element order; facts from the descriptor whose track
    // number the element's key carries.
    let (num, den) = table.edit_rate;
    let mut tracks = Vec::new();
    let mut before = 0u64;
    for (i, e) in content.first.iter().enumerate() {
        let offset = content.first_at + before + e.header;
        before += e.total();
        if !(e.is_picture() || e.is_sound()) {
            continue;
        }
        let d = described
            .values()
            .find(|d| d.track_number == Some(e.track_number()))
            .cloned()
            .unwrap_or_default();
        let mut samples = SampleStats {
            count,
            key_samples: count,
            duration_ticks: count.saturating_mul(u64::from(den)),
            first_delta: u64::from(den),
            min_delta: u64::from(den),
            max_delta: u64::from(den),
            first_offset: offset,
            first_size: e.len,
            max_end: content.last_end,
            ..SampleStats::default()
        };
        let kind = if i == content.picture {
            samples.bytes = content.picture_bytes;
            samples.key_samples = content.key_units;
            TrackKind::Video
        } else {
            // Whole samples in every edit unit, or the sizes would vary.
            let audio = d.audio.as_ref().ok_or_else(|| {
                IndexError::NotIndexed(format!(
                    "sound track {:08x} has no descriptor",
                    e.track_number()
                ))
            })?;
            let whole =
                (u64::from(audio.sample_rate) * u64::from(den)).is_multiple_of(u64::from(num));
            let aligned = d
                .block_align
                .is_some_and(|b| e.len.is_multiple_of(u64::from(b)));
            if !whole || !aligned {
                return Err(IndexError::NotIndexed(format!(
                    "{} Hz sound in edit units of {den}/{num} s is not a whole number of samples each",
                    audio.sample_rate
                )));
            }
            samples.bytes = e.len.saturating_mul(count);
            TrackKind::Audio
        };
        tracks.push(Track {
            id: e.track_number(),
            kind,
            codec: d
                .coding
                .map(|c| hex(&c[8..]))
                .unwrap_or_else(|| hex(&e.key[12..])),
            timescale: num,
            media_duration_ticks: count.saturating_mul(u64::from(den)),
            video: d.video,
            audio: d.audio,
            samples,
            edits: Vec::new(),
            composition_offsets: false,
        });
    }
    Ok(ContainerIndex {
        format: Format::Mxf,
        brand: None,
        duration_seconds: Some(count as f64 * f64::from(den) / f64::from(num)),
        duration_ticks: count.saturating_mul(u64::from(den)),
        timescale: num,
        tracks,
        bytes_read: read,
    })
}
