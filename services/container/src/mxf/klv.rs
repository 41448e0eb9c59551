//! KLV (SMPTE ST 336) as MXF uses it: universal labels, BER lengths,
//! triplets read from the object, and local sets with 2-byte tags.

use crate::read::{ByteReader, ReadAt};
use crate::IndexError;

/// SMPTE universal labels all start so.
pub(super) const UL: [u8; 4] = [0x06, 0x0e, 0x2b, 0x34];
/// Partition packs: then kind (2 header, 3 body, 4 footer) and status.
pub(super) const PARTITION: [u8; 13] = [
    0x06, 0x0e, 0x2b, 0x34, 0x02, 0x05, 0x01, 0x01, 0x0d, 0x01, 0x02, 0x01, 0x01,
];
pub(super) const RIP: [u8; 16] = [
    0x06, 0x0e, 0x2b, 0x34, 0x02, 0x05, 0x01, 0x01, 0x0d, 0x01, 0x02, 0x01, 0x01, 0x11, 0x01, 0x00,
];
pub(super) const INDEX_SEGMENT: [u8; 16] = [
    0x06, 0x0e, 0x2b, 0x34, 0x02, 0x53, 0x01, 0x01, 0x0d, 0x01, 0x02, 0x01, 0x01, 0x10, 0x01, 0x00,
];
/// Header metadata sets (2-byte local tags): then the set type.
pub(super) const METADATA_SET: [u8; 14] = [
    0x06, 0x0e, 0x2b, 0x34, 0x02, 0x53, 0x01, 0x01, 0x0d, 0x01, 0x01, 0x01, 0x01, 0x01,
];

/// A key-length-value triplet's header.
#[derive(Debug, Clone, Copy)]
pub(super) struct Klv {
    pub(super) key: [u8; 16],
    /// Where the value starts (absolute).
    pub(super) value: u64,
    pub(super) len: u64,
}

impl Klv {
    pub(super) fn end(&self) -> u64 {
        self.value + self.len
    }

    pub(super) fn header_len(&self, at: u64) -> u64 {
        self.value - at
    }
}

pub(super) fn is_fill(key: &[u8; 16]) -> bool {
    key[..4] == UL && key[8..14] == [0x03, 0x01, 0x02, 0x10, 0x01, 0x00]
}

/// Generic container essence elements: 06 0e 2b 34 01 02 01 xx 0d 01 03 01,
/// then item type, element count, element type, element number.
pub(super) fn is_essence(key: &[u8; 16]) -> bool {
    key[..4] == UL && key[4] == 0x01 && key[8..12] == [0x0d, 0x01, 0x03, 0x01]
}

/// A BER length at the start of `buf`: (length, bytes used).
pub(super) fn ber(buf: &[u8]) -> Result<(u64, u64), IndexError> {
    let first = *buf
        .first()
        .ok_or_else(|| IndexError::malformed("a KLV length is cut short"))?;
    if first < 0x80 {
        return Ok((u64::from(first), 1));
    }
    let n = usize::from(first & 0x7f);
    if n == 0 || n > 8 {
        return Err(IndexError::malformed(format!("a KLV length of {n} bytes")));
    }
    let bytes = buf
        .get(1..1 + n)
        .ok_or_else(|| IndexError::malformed("a KLV length is cut short"))?;
    let len = bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    Ok((len, 1 + n as u64))
}

/// The KLV header at `at`, whose value must end by `limit`.
pub(super) fn klv_at<R: ReadAt + ?Sized>(
    source: &R,
    at: u64,
    limit: u64,
    read: &mut u64,
) -> Result<Klv, IndexError> {
    let head = source.read_at(at, 25.min(limit.saturating_sub(at)) as usize)?;
    *read += head.len() as u64;
    let key: [u8; 16] =
        head.get(..16)
            .and_then(|k| k.try_into().ok())
            .ok_or(IndexError::OutOfBounds {
                what: "a KLV key".into(),
                offset: at,
                len: 16,
                limit,
            })?;
    let (len, ber_len) = ber(&head[16..])?;
    let value = at + 16 + ber_len;
    if value.checked_add(len).is_none_or(|end| end > limit) {
        return Err(IndexError::OutOfBounds {
            what: format!("KLV {}", hex(&key[8..])),
            offset: at,
            len,
            limit,
        });
    }
    Ok(Klv { key, value, len })
}

/// Reads `len` bytes at `at`, refusing fewer (the object ends sooner).
pub(super) fn read_all<R: ReadAt + ?Sized>(
    source: &R,
    at: u64,
    len: u64,
    what: &str,
    read: &mut u64,
) -> Result<Vec<u8>, IndexError> {
    let want = usize::try_from(len).map_err(|_| IndexError::TooLarge {
        what: what.into(),
        len,
        limit: usize::MAX as u64,
    })?;
    let buf = source.read_at(at, want)?;
    *read += buf.len() as u64;
    if buf.len() != want {
        return Err(IndexError::OutOfBounds {
            what: what.into(),
            offset: at,
            len,
            limit: source.len(),
        });
    }
    Ok(buf)
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A KLV's key and value.
pub(super) type KeyedValue<'a> = ([u8; 16], &'a [u8]);

/// The local sets of a buffer of KLVs with 2-byte tags and lengths:
/// `(key, value)` for each set.
pub(super) fn klvs(buf: &[u8]) -> Result<Vec<KeyedValue<'_>>, IndexError> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos + 17 <= buf.len() {
        let key: [u8; 16] = buf[pos..pos + 16]
            .try_into()
            .map_err(|_| IndexError::malformed("a KLV key is cut short"))?;
        if key[..4] != UL {
            // Some writers pad with zeros up to the byte count.
            if buf[pos..].iter().all(|&b| b == 0) {
                break;
            }
            return Err(IndexError::malformed(format!(
                "no KLV key at byte {pos} of the metadata"
            )));
        }
        let (len, ber_len) = ber(&buf[pos + 16..])?;
        let start = pos + 16 + ber_len as usize;
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| start.checked_add(l))
            .filter(|&e| e <= buf.len())
            .ok_or_else(|| IndexError::malformed("a metadata KLV runs past its partition"))?;
        out.push((key, &buf[start..end]));
        pos = end;
    }
    Ok(out)
}

/// The items of a local set: tag → value. An index entry array longer
/// than a 2-byte length can say is taken by its own count (see
/// [`super::index_table`]).
pub(super) fn items(set: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos + 4 <= set.len() {
        let tag = u16::from_be_bytes([set[pos], set[pos + 1]]);
        let mut len = usize::from(u16::from_be_bytes([set[pos + 2], set[pos + 3]]));
        let start = pos + 4;
        if tag == 0x3f0a && start + 8 <= set.len() {
            // Index entry array: count × entry length, whatever the tag's
            // 16-bit length (which such arrays overflow).
            let count =
                u32::from_be_bytes([set[start], set[start + 1], set[start + 2], set[start + 3]])
                    as usize;
            let width = u32::from_be_bytes([
                set[start + 4],
                set[start + 5],
                set[start + 6],
                set[start + 7],
            ]) as usize;
            if let Some(total) = count.checked_mul(width).and_then(|n| n.checked_add(8)) {
                if start + total <= set.len() {
                    len = total;
                }
            }
        }
        let Some(value) = set.get(start..start + len) else {
            break;
        };
        out.push((tag, value));
        pos = start + len;
    }
    out
}

pub(super) fn item<'a>(items: &[(u16, &'a [u8])], tag: u16) -> Option<&'a [u8]> {
    items.iter().find(|(t, _)| *t == tag).map(|(_, v)| *v)
}

pub(super) fn item_u32(items: &[(u16, &[u8])], tag: u16) -> Option<u32> {
    item(items, tag).and_then(|v| ByteReader::new(v).u32().ok())
}

pub(super) fn item_u64(items: &[(u16, &[u8])], tag: u16) -> Option<u64> {
    item(items, tag).and_then(|v| ByteReader::new(v).u64().ok())
}

pub(super) fn item_rational(items: &[(u16, &[u8])], tag: u16) -> Option<(u32, u32)> {
    item(items, tag).and_then(|v| {
        let mut r = ByteReader::new(v);
        Some((r.u32().ok()?, r.u32().ok()?))
    })
}
