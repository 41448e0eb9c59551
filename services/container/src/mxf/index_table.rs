//! Index table segments (SMPTE ST 377-1 section 11): edit rate, the edit
//! units each covers, and per edit unit its stream offset and flags, or one
//! size for all.

use super::klv::{item, item_rational, item_u32, item_u64, items, klvs, INDEX_SEGMENT};
use crate::read::ByteReader;
use crate::IndexError;
use std::collections::BTreeMap;

/// One index table segment.
#[derive(Debug)]
struct Segment<'a> {
    edit_rate: (u32, u32),
    start: u64,
    duration: u64,
    edit_unit_bytes: u32,
    body_sid: u32,
    /// (count, entry length, entries).
    entries: Option<(u64, usize, &'a [u8])>,
}

fn index_segment(set: &[u8]) -> Result<Segment<'_>, IndexError> {
    let items = items(set);
    let edit_rate = item_rational(&items, 0x3f0b)
        .filter(|(n, d)| *n > 0 && *d > 0)
        .ok_or_else(|| IndexError::malformed("an index segment without an edit rate"))?;
    let entries = match item(&items, 0x3f0a) {
        None => None,
        Some(array) => {
            let mut r = ByteReader::new(array);
            let count = r.u32()?;
            let width = r.u32()? as usize;
            let slices = item(&items, 0x3f08)
                .and_then(|v| v.first().copied())
                .unwrap_or(0);
            let positions = item(&items, 0x3f0e)
                .and_then(|v| v.first().copied())
                .unwrap_or(0);
            if width < 11 + 4 * usize::from(slices) + 8 * usize::from(positions) {
                return Err(IndexError::malformed(format!(
                    "index entries of {width} bytes hold less than their fields"
                )));
            }
            let table = r.rest();
            let bytes = (count as usize)
                .checked_mul(width)
                .filter(|&n| n <= table.len())
                .ok_or_else(|| {
                    IndexError::malformed(format!(
                        "an index segment claims {count} entries of {width} bytes but holds {}",
                        table.len()
                    ))
                })?;
            Some((u64::from(count), width, &table[..bytes]))
        }
    };
    Ok(Segment {
        edit_rate,
        start: item_u64(&items, 0x3f0c).unwrap_or(0),
        duration: item_u64(&items, 0x3f0d).unwrap_or(0),
        edit_unit_bytes: item_u32(&items, 0x3f05).unwrap_or(0),
        body_sid: item_u32(&items, 0x3f07).unwrap_or(0),
        entries,
    })
}

/// Every segment of the one index table, in order, checked to cover the
/// edit units 0..count without gap or overlap.
pub(super) struct IndexTable<'a> {
    segments: BTreeMap<u64, Segment<'a>>,
    /// Edit rate as (numerator, denominator).
    pub(super) edit_rate: (u32, u32),
    /// The essence container (body) the table indexes.
    pub(super) body_sid: u32,
    /// Bytes of every edit unit, or 0 when each has its own entry.
    pub(super) edit_unit_bytes: u32,
    /// Edit units covered; 0 for a constant-size table left open ended
    /// (its length is then the essence's, see [`IndexTable::open_ended`]).
    pub(super) count: u64,
}

impl<'a> IndexTable<'a> {
    /// The index segments in `bufs` (the index byte ranges of the
    /// partitions). A segment repeated in another partition must agree.
    pub(super) fn collect(bufs: &'a [Vec<u8>]) -> Result<IndexTable<'a>, IndexError> {
        let mut segments: BTreeMap<u64, Segment> = BTreeMap::new();
        for buf in bufs {
            for (key, set) in klvs(buf)? {
                if key != INDEX_SEGMENT {
                    continue;
                }
                let segment = index_segment(set)?;
                match segments.get(&segment.start) {
                    Some(seen) if seen.duration != segment.duration => {
                        return Err(IndexError::malformed(format!(
                            "two index segments start at edit unit {} with different lengths",
                            segment.start
                        )))
                    }
                    Some(_) => {}
                    None => {
                        segments.insert(segment.start, segment);
                    }
                }
            }
        }
        let Some(first) = segments.values().next() else {
            return Err(IndexError::NotIndexed(
                "an MXF file without an index table".into(),
            ));
        };
        let (edit_rate, body_sid, cbr) = (first.edit_rate, first.body_sid, first.edit_unit_bytes);
        let mut count = 0u64;
        for s in segments.values() {
            if s.start != count {
                return Err(IndexError::malformed(format!(
                    "index segments leave a gap or overlap at edit unit {count} (next starts at {})",
                    s.start
                )));
            }
            if s.edit_rate != edit_rate || s.body_sid != body_sid || s.edit_unit_bytes != cbr {
                return Err(IndexError::NotIndexed(
                    "index segments of several essence containers or edit rates".into(),
                ));
            }
            if cbr == 0 && s.entries.is_none_or(|(n, _, _)| n != s.duration) {
                return Err(IndexError::malformed(format!(
                    "the index segment at edit unit {} lists {} entries for {} edit units",
                    s.start,
                    s.entries.map_or(0, |(n, _, _)| n),
                    s.duration
                )));
            }
            count = count
                .checked_add(s.duration)
                .ok_or_else(|| IndexError::malformed("the edit unit count overflows"))?;
        }
        let table = IndexTable {
            segments,
            edit_rate,
            body_sid,
            edit_unit_bytes: cbr,
            count,
        };
        if count == 0 && !table.open_ended() {
            return Err(IndexError::NotIndexed(
                "the index lists no edit units".into(),
            ));
        }
        Ok(table)
    }

    /// A constant-size index that leaves its length open (0): it covers
    /// the whole essence.
    pub(super) fn open_ended(&self) -> bool {
        self.edit_unit_bytes > 0 && self.count == 0 && self.segments.len() == 1
    }

    /// Where edit unit `unit` starts in the essence stream, and whether it
    /// is a random access point (every unit of a constant-size index is).
    pub(super) fn offset_of(&self, unit: u64) -> Result<(u64, bool), IndexError> {
        let cbr = self.edit_unit_bytes;
        if cbr > 0 {
            return unit
                .checked_mul(u64::from(cbr))
                .map(|o| (o, true))
                .ok_or_else(|| IndexError::malformed("edit unit offsets overflow"));
        }
        let (_, segment) = self
            .segments
            .range(..=unit)
            .next_back()
            .ok_or_else(|| IndexError::malformed("no index segment for an edit unit"))?;
        let (_, width, table) = segment
            .entries
            .ok_or_else(|| IndexError::malformed("an index segment without entries"))?;
        let at = usize::try_from(unit - segment.start)
            .ok()
            .and_then(|i| i.checked_mul(width))
            .filter(|&a| a + 11 <= table.len())
            .ok_or_else(|| IndexError::malformed("an index entry out of range"))?;
        let mut r = ByteReader::new(&table[at..]);
        r.skip(2)?; // temporal offset, key-frame offset
        let flags = r.u8()?;
        // Bit 7: random access (a key frame).
        Ok((r.u64()?, flags & 0x80 != 0))
    }
}
