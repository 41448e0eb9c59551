//! The elements of an edit unit (a content package): picture, sound,
//! system items and fill, read from their KLV headers.

use super::index_table::IndexTable;
use super::klv::{hex, is_essence, is_fill, klv_at, UL};
use super::partition::EssenceMap;
use crate::read::ReadAt;
use crate::IndexError;

/// The most elements looked for in one edit unit.
const MAX_ELEMENTS: usize = 64;

/// One element of an edit unit as laid out in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Element {
    pub(super) key: [u8; 16],
    pub(super) header: u64,
    pub(super) len: u64,
}

impl Element {
    pub(super) fn total(&self) -> u64 {
        self.header + self.len
    }

    pub(super) fn item_type(&self) -> u8 {
        self.key[12]
    }

    pub(super) fn is_picture(&self) -> bool {
        is_essence(&self.key) && matches!(self.item_type(), 0x05 | 0x15)
    }

    pub(super) fn is_sound(&self) -> bool {
        is_essence(&self.key) && matches!(self.item_type(), 0x06 | 0x16)
    }

    pub(super) fn track_number(&self) -> u32 {
        u32::from_be_bytes([self.key[12], self.key[13], self.key[14], self.key[15]])
    }
}

/// The elements of the edit unit at `at`: up to `end` when known, else as
/// many as `count`.
pub(super) fn layout<R: ReadAt + ?Sized>(
    source: &R,
    at: u64,
    end: Option<u64>,
    count: Option<usize>,
    limit: u64,
    read: &mut u64,
) -> Result<Vec<Element>, IndexError> {
    let mut out = Vec::new();
    let mut pos = at;
    loop {
        if end.is_some_and(|e| pos >= e) || count.is_some_and(|c| out.len() >= c) {
            break;
        }
        if out.len() >= MAX_ELEMENTS {
            return Err(IndexError::malformed(format!(
                "an edit unit of more than {MAX_ELEMENTS} elements"
            )));
        }
        let klv = klv_at(source, pos, end.unwrap_or(limit).min(limit), read)?;
        // Essence elements, system items (a pack, key byte 5 = 0x02) and fill.
        let content_package = klv.key[..4] == UL && klv.key[8..12] == [0x0d, 0x01, 0x03, 0x01];
        if !content_package && !is_fill(&klv.key) {
            return Err(IndexError::NotIndexed(format!(
                "byte {pos}, in an edit unit, holds KLV {} (not essence)",
                hex(&klv.key[8..])
            )));
        }
        out.push(Element {
            key: klv.key,
            header: klv.header_len(pos),
            len: klv.len,
        });
        pos = klv.end();
    }
    if end.is_some_and(|e| pos != e) {
        return Err(IndexError::malformed(format!(
            "the elements of the edit unit at byte {at} end at {pos}, not at the next edit unit"
        )));
    }
    Ok(out)
}

/// What the edit units hold, from the index and the first and last edit
/// unit's element headers.
pub(super) struct Content {
    /// The first edit unit's elements, where it starts in the file.
    pub(super) first: Vec<Element>,
    pub(super) first_at: u64,
    /// Where the last edit unit ends in the file.
    pub(super) last_end: u64,
    /// Which of the elements is the picture.
    pub(super) picture: usize,
    /// The pictures' bytes (element values) over every edit unit.
    pub(super) picture_bytes: u64,
    /// Edit units marked random access.
    pub(super) key_units: u64,
}

/// Reads the layout of the first and the last edit unit and walks the
/// index: every edit unit's picture is its size less the other elements,
/// which must be the same in every edit unit (see the module docs).
pub(super) fn content<R: ReadAt + ?Sized>(
    source: &R,
    table: &IndexTable,
    map: &EssenceMap,
    count: u64,
    read: &mut u64,
) -> Result<Content, IndexError> {
    let cbr = table.edit_unit_bytes;
    let (first_stream, _) = table.offset_of(0)?;
    let (first_at, first_limit) = map.file_offset(first_stream)?;
    let first_end = if count > 1 {
        let (next, _) = table.offset_of(1)?;
        Some(map.file_offset(next)?.0).filter(|&n| n > first_at && n <= first_limit)
    } else {
        None
    };
    let first = layout(source, first_at, first_end, None, first_limit, read)?;
    let (last_stream, _) = table.offset_of(count - 1)?;
    let (last_at, last_limit) = map.file_offset(last_stream)?;
    let last = layout(source, last_at, None, Some(first.len()), last_limit, read)?;
    let keys = |l: &[Element]| l.iter().map(|e| e.key).collect::<Vec<_>>();
    if keys(&first) != keys(&last) {
        return Err(IndexError::malformed(
            "the first and the last edit unit hold different elements",
        ));
    }
    let total = |l: &[Element]| l.iter().map(Element::total).sum::<u64>();

    // The one element whose size may vary: the picture.
    let pictures: Vec<usize> = (0..first.len())
        .filter(|&i| first[i].is_picture())
        .collect();
    let [picture] = pictures[..] else {
        return Err(IndexError::NotIndexed(format!(
            "{} picture elements in an edit unit",
            pictures.len()
        )));
    };
    if let Some(sound) = first.iter().find(|e| e.is_sound() && e.key[14] != 0x01) {
        // BWF (wave) frame-wrapped sound only: the demuxer passes it as is.
        return Err(IndexError::NotIndexed(format!(
            "sound element type {:#04x} (not frame-wrapped wave)",
            sound.key[14]
        )));
    }
    for (i, (a, b)) in first.iter().zip(&last).enumerate() {
        let same = if i == picture {
            a.header == b.header
        } else {
            a == b
        };
        if !same {
            return Err(IndexError::NotIndexed(format!(
                "element {i} of the edit unit changes size or header (the index cannot tell its size)"
            )));
        }
    }
    if cbr == 0 && first[picture + 1..].iter().any(|e| is_fill(&e.key)) {
        return Err(IndexError::NotIndexed(
            "fill after the picture in a variable-size edit unit".into(),
        ));
    }
    if cbr > 0 && total(&first) != u64::from(cbr) {
        return Err(IndexError::malformed(format!(
            "edit units of {cbr} bytes hold elements of {} bytes",
            total(&first)
        )));
    }
    let fixed = total(&first) - first[picture].len;

    // Every edit unit: its size from the next one's offset (the last one's
    // from its elements), less the fixed part, is its picture.
    let (mut picture_bytes, mut key_units) = (0u64, 0u64);
    let (mut previous, mut previous_key) = table.offset_of(0)?;
    for unit in 1..=count {
        let size = if unit < count {
            let (offset, key) = table.offset_of(unit)?;
            if offset <= previous {
                return Err(IndexError::malformed(format!(
                    "edit unit {unit} starts at essence offset {offset}, not after {previous}"
                )));
            }
            let size = offset - previous;
            key_units += u64::from(previous_key);
            (previous, previous_key) = (offset, key);
            size
        } else {
            key_units += u64::from(previous_key);
            total(&last)
        };
        let Some(picture_len) = size.checked_sub(fixed).filter(|&n| n > 0) else {
            return Err(IndexError::malformed(format!(
                "edit unit {} of {size} bytes cannot hold its {fixed} bytes of other elements and a picture",
                unit - 1
            )));
        };
        if unit == 1 && picture_len != first[picture].len {
            return Err(IndexError::malformed(format!(
                "the index makes the first picture {picture_len} bytes, its element says {}",
                first[picture].len
            )));
        }
        picture_bytes += picture_len;
    }
    if previous.saturating_add(total(&last)) > map.total() {
        return Err(IndexError::OutOfBounds {
            what: "the last edit unit".into(),
            offset: previous,
            len: total(&last),
            limit: map.total(),
        });
    }
    Ok(Content {
        last_end: last_at + total(&last),
        first,
        first_at,
        picture,
        picture_bytes,
        key_units,
    })
}
