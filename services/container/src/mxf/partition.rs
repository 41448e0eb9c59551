//! Partitions: their packs, where they are (the random index pack, or a
//! walk back from the footer), and where a body's essence lies in them.

use super::klv::{ber, hex, is_fill, klv_at, read_all, PARTITION, RIP, UL};
use super::{MAX_INDEX, MAX_METADATA};

/// The most partitions followed: a recorder that starts one every 10 s
/// writes 1 080 in 3 hours.
const MAX_PARTITIONS: usize = 100_000;
use crate::read::{ByteReader, ReadAt};
use crate::IndexError;

/// One partition pack.
#[derive(Debug, Clone)]
pub(super) struct Partition {
    /// Absolute offset of the pack.
    pub(super) at: u64,
    /// 2 header, 3 body, 4 footer.
    pub(super) kind: u8,
    /// Odd: open (its metadata may be incomplete).
    pub(super) status: u8,
    pub(super) footer: u64,
    pub(super) previous: u64,
    pub(super) header_bytes: u64,
    pub(super) index_bytes: u64,
    pub(super) body_offset: u64,
    pub(super) body_sid: u32,
    pub(super) operational_pattern: [u8; 16],
    /// Where the partition's content (metadata, index, essence) starts:
    /// after the pack and the fill that may follow it.
    pub(super) content: u64,
}

impl Partition {
    /// Where the essence of this partition starts.
    pub(super) fn essence_start(&self) -> Option<u64> {
        self.content
            .checked_add(self.header_bytes)?
            .checked_add(self.index_bytes)
    }
}

pub(super) fn partition_at<R: ReadAt + ?Sized>(
    source: &R,
    at: u64,
    read: &mut u64,
) -> Result<Partition, IndexError> {
    let klv = klv_at(source, at, source.len(), read)?;
    if klv.key[..13] != PARTITION || !(2..=4).contains(&klv.key[13]) {
        return Err(IndexError::malformed(format!(
            "no partition pack at byte {at}"
        )));
    }
    // 88 bytes of fixed fields, then the essence container batch (unused);
    // read with the KLV after the pack, which may be fill up to the KAG
    // (the byte counts start after it).
    if klv.len < 88 || klv.len > 64 * 1024 {
        return Err(IndexError::malformed(format!(
            "a partition pack of {} bytes",
            klv.len
        )));
    }
    let with_next = source.read_at(klv.value, (klv.len + 25) as usize)?;
    *read += with_next.len() as u64;
    let mut content = klv.end();
    if let Some(next) = with_next.get(klv.len as usize..) {
        if next.len() >= 17 && next[..16].try_into().is_ok_and(|k: [u8; 16]| is_fill(&k)) {
            let (len, ber_len) = ber(&next[16..])?;
            content = content
                .checked_add(16 + ber_len)
                .and_then(|c| c.checked_add(len))
                .filter(|&c| c <= source.len())
                .ok_or(IndexError::OutOfBounds {
                    what: "the fill after a partition pack".into(),
                    offset: klv.end(),
                    len,
                    limit: source.len(),
                })?;
        }
    }
    let mut r = ByteReader::new(&with_next);
    r.skip(4)?; // major, minor version
    r.skip(4)?; // KAG size
    let this = r.u64()?;
    let previous = r.u64()?;
    let footer = r.u64()?;
    let header_bytes = r.u64()?;
    let index_bytes = r.u64()?;
    r.skip(4)?; // index SID
    let body_offset = r.u64()?;
    let body_sid = r.u32()?;
    let mut operational_pattern = [0u8; 16];
    for b in &mut operational_pattern {
        *b = r.u8()?;
    }
    if this != at {
        return Err(IndexError::malformed(format!(
            "the partition pack at byte {at} says it is at {this}"
        )));
    }
    Ok(Partition {
        at,
        kind: klv.key[13],
        status: klv.key[14],
        footer,
        previous,
        header_bytes,
        index_bytes,
        body_offset,
        body_sid,
        operational_pattern,
        content,
    })
}

/// The offsets of every partition: from the random index pack when there is
/// one, else by walking back from the footer.
pub(super) fn partition_offsets<R: ReadAt + ?Sized>(
    source: &R,
    header: &Partition,
    read: &mut u64,
) -> Result<Vec<u64>, IndexError> {
    let end = source.len();
    if end >= 4 + 17 {
        let tail = read_all(source, end - 4, 4, "the random index pack", read)?;
        let rip_len = u64::from(u32::from_be_bytes([tail[0], tail[1], tail[2], tail[3]]));
        // A pack of 12 bytes a partition: past MAX_PARTITIONS it is not one.
        if rip_len >= 16 + 1 + 4 && rip_len <= end.min(64 + 12 * MAX_PARTITIONS as u64) {
            let at = end - rip_len;
            if let Ok(klv) = klv_at(source, at, end, read) {
                if klv.key == RIP && klv.len >= 4 && klv.len % 12 == 4 {
                    let body = read_all(
                        source,
                        klv.value,
                        klv.len - 4,
                        "the random index pack",
                        read,
                    )?;
                    let mut offsets = Vec::with_capacity(body.len() / 12);
                    for entry in body.chunks_exact(12) {
                        let mut r = ByteReader::new(entry);
                        r.skip(4)?; // body SID
                        offsets.push(r.u64()?);
                    }
                    return Ok(offsets);
                }
            }
        }
    }
    // No random index pack: walk back from the footer (offsets must fall
    // strictly, so the walk ends, and is at most the object's length long).
    if header.footer == 0 {
        return Err(IndexError::NotIndexed(
            "an MXF file without a footer partition (still being written, or cut short)".into(),
        ));
    }
    let mut offsets = vec![header.footer];
    let mut at = header.footer;
    while at > 0 {
        if offsets.len() > MAX_PARTITIONS {
            return Err(IndexError::TooLarge {
                what: "the chain of MXF partitions".into(),
                len: offsets.len() as u64,
                limit: MAX_PARTITIONS as u64,
            });
        }
        let p = partition_at(source, at, read)?;
        if p.previous >= at {
            return Err(IndexError::malformed(format!(
                "the partition at byte {at} names a previous one at {}",
                p.previous
            )));
        }
        at = p.previous;
        offsets.push(at);
    }
    offsets.reverse();
    Ok(offsets)
}

/// Where essence stream offsets lie in the file: (stream offset, file
/// offset, bytes) per partition of the essence's body.
pub(super) struct EssenceMap(Vec<(u64, u64, u64)>);

impl EssenceMap {
    pub(super) fn file_offset(&self, stream: u64) -> Result<(u64, u64), IndexError> {
        self.0
            .iter()
            .rev()
            .find(|(s, _, _)| *s <= stream)
            .and_then(|&(s, f, len)| {
                let into = stream - s;
                (into < len).then(|| (f + into, f + len))
            })
            .ok_or_else(|| IndexError::OutOfBounds {
                what: format!("edit unit at essence offset {stream}"),
                offset: stream,
                len: 0,
                limit: self.total(),
            })
    }

    pub(super) fn total(&self) -> u64 {
        self.0.last().map_or(0, |(s, _, len)| s + len)
    }
}

/// The header partition and every other, in order. Refuses what is not
/// MXF (no header partition pack at byte 0: a run-in is not supported),
/// and operational patterns other than OP1a.
pub(super) fn partitions<R: ReadAt + ?Sized>(
    source: &R,
    read: &mut u64,
) -> Result<Vec<Partition>, IndexError> {
    let head = source.read_at(0, 16)?;
    *read += head.len() as u64;
    if head.len() < 14 || head[..13] != PARTITION || head[13] != 0x02 {
        return Err(IndexError::NotThisFormat);
    }
    let header = partition_at(source, 0, read)?;
    let op = &header.operational_pattern;
    if op[..4] != UL || op[12..14] != [0x01, 0x01] {
        return Err(IndexError::NotIndexed(format!(
            "operational pattern {} is not OP1a",
            hex(&op[12..16])
        )));
    }
    let offsets = partition_offsets(source, &header, read)?;
    if offsets.first() != Some(&0) || offsets.windows(2).any(|w| w[0] >= w[1]) {
        return Err(IndexError::malformed(
            "the partitions are not listed in increasing order from the header",
        ));
    }
    let mut partitions = vec![header];
    for &at in &offsets[1..] {
        partitions.push(partition_at(source, at, read)?);
    }
    Ok(partitions)
}

/// Where the essence of body `body_sid` lies: each of its partitions'
/// content after metadata and index, up to the next partition (or the end
/// of the object, `end`).
pub(super) fn essence_map(
    partitions: &[Partition],
    body_sid: u32,
    end: u64,
) -> Result<EssenceMap, IndexError> {
    let mut map = Vec::new();
    for (i, p) in partitions.iter().enumerate() {
        if p.body_sid != body_sid || body_sid == 0 {
            continue;
        }
        let start = p
            .essence_start()
            .ok_or_else(|| IndexError::malformed("a partition's byte counts overflow"))?;
        let stop = partitions.get(i + 1).map_or(end, |next| next.at);
        if start > stop {
            return Err(IndexError::OutOfBounds {
                what: format!("the essence of the partition at byte {}", p.at),
                offset: start,
                len: 0,
                limit: stop,
            });
        }
        map.push((p.body_offset, start, stop - start));
    }
    if map.is_empty() {
        return Err(IndexError::NotIndexed(format!(
            "no partition holds the essence the index describes (body {body_sid})"
        )));
    }
    Ok(EssenceMap(map))
}

/// The index byte ranges of every partition that has one (at most
/// [`MAX_INDEX`] bytes in all).
pub(super) fn index_bytes<R: ReadAt + ?Sized>(
    source: &R,
    partitions: &[Partition],
    read: &mut u64,
) -> Result<Vec<Vec<u8>>, IndexError> {
    let mut bufs = Vec::new();
    let mut total = 0u64;
    for p in partitions.iter().filter(|p| p.index_bytes > 0) {
        total = total.saturating_add(p.index_bytes);
        if total > MAX_INDEX {
            return Err(IndexError::TooLarge {
                what: "MXF index tables".into(),
                len: total,
                limit: MAX_INDEX,
            });
        }
        let at = p
            .content
            .checked_add(p.header_bytes)
            .ok_or_else(|| IndexError::malformed("a partition's byte counts overflow"))?;
        bufs.push(read_all(source, at, p.index_bytes, "an index table", read)?);
    }
    Ok(bufs)
}

/// The header metadata: the last closed copy (the footer's, usually),
/// else the last one; at most [`MAX_METADATA`] bytes.
pub(super) fn metadata_bytes<R: ReadAt + ?Sized>(
    source: &R,
    partitions: &[Partition],
    read: &mut u64,
) -> Result<Vec<u8>, IndexError> {
    let with_metadata = || {
        partitions
            .iter()
            .rev()
            .filter(|p| p.header_bytes > 0 && (p.kind == 0x04 || p.kind == 0x02))
    };
    let holder = with_metadata()
        .find(|p| p.status.is_multiple_of(2))
        .or_else(|| with_metadata().next())
        .ok_or_else(|| IndexError::NotIndexed("no header metadata".into()))?;
    if holder.header_bytes > MAX_METADATA {
        return Err(IndexError::TooLarge {
            what: "MXF header metadata".into(),
            len: holder.header_bytes,
            limit: MAX_METADATA,
        });
    }
    read_all(
        source,
        holder.content,
        holder.header_bytes,
        "the header metadata",
        read,
    )
}
