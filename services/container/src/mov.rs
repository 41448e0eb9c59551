//! QuickTime / ISO-BMFF (MOV, MP4) sample tables, read from the `moov`
//! box without touching the media data.
//!
//! The walk reads only box headers at the top level (16 bytes each, `mdat`
//! is skipped by its size), then the whole `moov` box (bounded by
//! [`MAX_MOOV`]). Every count in a table is checked against the bytes its
//! box holds before anything is allocated, so a hostile index cannot make
//! us allocate more than the `moov` box itself.

use crate::read::{ByteReader, ReadAt};
use crate::{
    AudioEntry, ContainerIndex, Edit, Format, IndexError, SampleStats, Track, TrackKind, VideoEntry,
};

/// The largest `moov` box read: a 3-hour 25 fps take's tables are a few MB;
/// past this the index is not trusted to be an index (fall back to demux).
pub const MAX_MOOV: u64 = 64 * 1024 * 1024;

/// Box header: `size` (including the header) and the four-character type.
#[derive(Debug, Clone, Copy)]
struct BoxHeader {
    kind: [u8; 4],
    /// Offset of the payload from the start of the buffer or file.
    payload: u64,
    /// Payload length.
    len: u64,
}

fn fourcc(kind: [u8; 4]) -> String {
    kind.iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b)
            } else {
                '?'
            }
        })
        .collect()
}

/// Reads a box header at `offset` of a file of `end` bytes.
fn header_at<R: ReadAt + ?Sized>(
    source: &R,
    offset: u64,
    end: u64,
    read: &mut u64,
) -> Result<BoxHeader, IndexError> {
    let head = source.read_at(offset, 16.min(end - offset) as usize)?;
    *read += head.len() as u64;
    parse_header(&head, offset, end)
}

/// Parses a box header from `head` (the first up-to-16 bytes of the box at
/// `offset`), in a container that ends at `end`.
fn parse_header(head: &[u8], offset: u64, end: u64) -> Result<BoxHeader, IndexError> {
    let mut r = ByteReader::new(head);
    let size32 = r
        .u32()
        .map_err(|_| IndexError::malformed("a box header is cut short"))?;
    let kind = r
        .fourcc()
        .map_err(|_| IndexError::malformed("a box header is cut short"))?;
    let (header_len, size) = match size32 {
        0 => (8, end - offset),
        1 => {
            let large = r
                .u64()
                .map_err(|_| IndexError::malformed("a 64-bit box size is cut short"))?;
            (16, large)
        }
        n => (8, u64::from(n)),
    };
    if size < header_len || offset.checked_add(size).is_none_or(|box_end| box_end > end) {
        return Err(IndexError::OutOfBounds {
            what: format!("box `{}`", fourcc(kind)),
            offset,
            len: size,
            limit: end,
        });
    }
    Ok(BoxHeader {
        kind,
        payload: offset + header_len,
        len: size - header_len,
    })
}

/// The children of a box whose payload is `buf`.
fn children(buf: &[u8]) -> Result<Vec<(BoxHeader, &[u8])>, IndexError> {
    let mut out = Vec::new();
    let mut offset = 0u64;
    let end = buf.len() as u64;
    while offset + 8 <= end {
        let head_end = (offset + 16).min(end) as usize;
        let header = parse_header(&buf[offset as usize..head_end], offset, end)?;
        let start = header.payload as usize;
        let stop = (header.payload + header.len) as usize;
        out.push((header, &buf[start..stop]));
        offset = header.payload + header.len;
    }
    Ok(out)
}

fn child<'a>(boxes: &[(BoxHeader, &'a [u8])], kind: &[u8; 4]) -> Option<&'a [u8]> {
    boxes
        .iter()
        .find(|(h, _)| &h.kind == kind)
        .map(|(_, payload)| *payload)
}

fn require<'a>(
    boxes: &[(BoxHeader, &'a [u8])],
    kind: &[u8; 4],
    parent: &str,
) -> Result<&'a [u8], IndexError> {
    child(boxes, kind)
        .ok_or_else(|| IndexError::malformed(format!("`{parent}` has no `{}`", fourcc(*kind))))
}

/// Reads the sample tables of a MOV/MP4 file.
pub fn read<R: ReadAt + ?Sized>(source: &R) -> Result<ContainerIndex, IndexError> {
    let end = source.len();
    let mut offset = 0u64;
    let mut moov = None;
    let mut brand = None;
    let mut fragmented = false;
    let mut first = true;
    let mut read = 0u64;
    while offset + 8 <= end {
        if first {
            // A QuickTime file starts with ftyp, wide, free, skip, mdat or
            // moov; anything else is not this container (checked before the
            // size, which in another format means nothing).
            const FIRST: [&[u8; 4]; 7] = [
                b"ftyp", b"wide", b"free", b"skip", b"mdat", b"moov", b"pnot",
            ];
            let head = source.read_at(4, 4)?;
            read += head.len() as u64;
            if !FIRST.iter().any(|kind| kind.as_slice() == head.as_slice()) {
                return Err(IndexError::NotThisFormat);
            }
            first = false;
        }
        let header = header_at(source, offset, end, &mut read)?;
        match &header.kind {
            b"ftyp" => {
                let payload = source.read_at(header.payload, header.len.min(64) as usize)?;
                read += payload.len() as u64;
                brand = payload.get(..4).map(|b| [b[0], b[1], b[2], b[3]]);
            }
            b"moov" => {
                if header.len > MAX_MOOV {
                    return Err(IndexError::TooLarge {
                        what: "`moov` box".into(),
                        len: header.len,
                        limit: MAX_MOOV,
                    });
                }
                moov = Some(header);
            }
            b"moof" => fragmented = true,
            _ => {}
        }
        offset = header.payload + header.len;
    }
    if fragmented {
        return Err(IndexError::NotIndexed(
            "a fragmented MP4 (`moof`) keeps its index in fragments".into(),
        ));
    }
    let Some(moov) = moov else {
        return Err(IndexError::NotIndexed("no `moov` box".into()));
    };
    let buf = source.read_at(moov.payload, moov.len as usize)?;
    if buf.len() as u64 != moov.len {
        return Err(IndexError::OutOfBounds {
            what: "`moov` box".into(),
            offset: moov.payload,
            len: moov.len,
            limit: end,
        });
    }
    let format = match brand.as_ref() {
        Some(b"qt  ") | None => Format::QuickTime,
        Some(_) => Format::Mp4,
    };
    let mut index = parse_moov(&buf, end)?;
    // Samples of a well-formed file never overlap: together they fit the object.
    let sampled = index
        .tracks
        .iter()
        .try_fold(0u64, |sum, t| sum.checked_add(t.samples.bytes));
    if sampled.is_none_or(|bytes| bytes > end) {
        return Err(IndexError::malformed(format!(
            "the samples add up to more than the object's {end} bytes (they overlap)"
        )));
    }
    index.format = format;
    index.brand = brand;
    index.bytes_read = read + moov.len;
    Ok(index)
}

fn parse_moov(buf: &[u8], file_len: u64) -> Result<ContainerIndex, IndexError> {
    let boxes = children(buf)?;
    let mvhd = require(&boxes, b"mvhd", "moov")?;
    let (timescale, ticks) = parse_mvhd(mvhd)?;
    let mut tracks = Vec::new();
    for (header, payload) in &boxes {
        if &header.kind == b"trak" {
            tracks.push(parse_trak(payload, file_len)?);
        }
    }
    Ok(ContainerIndex {
        format: Format::QuickTime,
        brand: None,
        duration_seconds: seconds(ticks, timescale),
        duration_ticks: ticks,
        timescale,
        tracks,
        bytes_read: 0,
    })
}

/// The movie's timescale and duration in its ticks.
fn parse_mvhd(buf: &[u8]) -> Result<(u32, u64), IndexError> {
    let mut r = ByteReader::new(buf);
    let version = r.u8()?;
    r.skip(3)?;
    let (timescale, duration) = if version == 1 {
        r.skip(16)?;
        (r.u32()?, r.u64()?)
    } else {
        r.skip(8)?;
        (r.u32()?, u64::from(r.u32()?))
    };
    Ok((timescale, duration))
}

fn seconds(ticks: u64, timescale: u32) -> Option<f64> {
    (timescale > 0 && ticks > 0 && ticks != u64::from(u32::MAX) && ticks != u64::MAX)
        .then(|| ticks as f64 / f64::from(timescale))
}

fn parse_trak(buf: &[u8], file_len: u64) -> Result<Track, IndexError> {
    let boxes = children(buf)?;
    let tkhd = require(&boxes, b"tkhd", "trak")?;
    let id = parse_tkhd_id(tkhd)?;
    let mdia = children(require(&boxes, b"mdia", "trak")?)?;
    let (timescale, media_duration) = parse_mdhd(require(&mdia, b"mdhd", "mdia")?)?;
    let handler = parse_hdlr(require(&mdia, b"hdlr", "mdia")?)?;
    let kind = match &handler {
        b"vide" => TrackKind::Video,
        b"soun" => TrackKind::Audio,
        other => TrackKind::Other(fourcc(*other)),
    };
    let minf = children(require(&mdia, b"minf", "mdia")?)?;
    let stbl = children(require(&minf, b"stbl", "minf")?)?;
    let (codec, video, audio) = parse_stsd(require(&stbl, b"stsd", "stbl")?, &kind)?;
    let samples = sample_stats(&stbl, file_len, id)?;
    let edits = match child(&boxes, b"edts").map(children).transpose()? {
        Some(edts) => child(&edts, b"elst").map(parse_elst).transpose()?,
        None => None,
    };
    Ok(Track {
        id,
        kind,
        codec,
        timescale,
        media_duration_ticks: media_duration,
        video,
        audio,
        samples,
        edits: edits.unwrap_or_default(),
        composition_offsets: child(&stbl, b"ctts").is_some(),
    })
}

/// The edit list: bounded by its box (12 or 20 bytes an entry).
fn parse_elst(buf: &[u8]) -> Result<Vec<Edit>, IndexError> {
    let mut r = ByteReader::new(buf);
    let version = r.u8()?;
    r.skip(3)?;
    let count = r.u32()?;
    let width = if version == 1 { 20 } else { 12 };
    let table = r.table(count, width)?;
    let mut r = ByteReader::new(table.bytes());
    (0..count)
        .map(|_| {
            let (segment_duration, media_time) = if version == 1 {
                (r.u64()?, r.u64()? as i64)
            } else {
                (u64::from(r.u32()?), i64::from(r.u32()? as i32))
            };
            Ok(Edit {
                segment_duration,
                media_time,
                rate: r.u32()?,
            })
        })
        .collect()
}

fn parse_tkhd_id(buf: &[u8]) -> Result<u32, IndexError> {
    let mut r = ByteReader::new(buf);
    let version = r.u8()?;
    r.skip(3)?;
    r.skip(if version == 1 { 16 } else { 8 })?;
    r.u32()
}

fn parse_mdhd(buf: &[u8]) -> Result<(u32, u64), IndexError> {
    let mut r = ByteReader::new(buf);
    let version = r.u8()?;
    r.skip(3)?;
    if version == 1 {
        r.skip(16)?;
        Ok((r.u32()?, r.u64()?))
    } else {
        r.skip(8)?;
        Ok((r.u32()?, u64::from(r.u32()?)))
    }
}

fn parse_hdlr(buf: &[u8]) -> Result<[u8; 4], IndexError> {
    let mut r = ByteReader::new(buf);
    r.skip(8)?; // version, flags, pre_defined / component type
    r.fourcc()
}

/// The first sample description: its four-character code and what it says
/// of the picture or the sound.
fn parse_stsd(
    buf: &[u8],
    kind: &TrackKind,
) -> Result<(String, Option<VideoEntry>, Option<AudioEntry>), IndexError> {
    let mut r = ByteReader::new(buf);
    r.skip(4)?;
    let count = r.u32()?;
    if count == 0 {
        return Err(IndexError::malformed("`stsd` describes no sample format"));
    }
    let entries = children(r.rest())?;
    let Some((header, entry)) = entries.first() else {
        return Err(IndexError::malformed("`stsd` entry is cut short"));
    };
    let codec = fourcc(header.kind);
    let mut r = ByteReader::new(entry);
    r.skip(8)?; // reserved (6) + data reference index (2)
    match kind {
        TrackKind::Video => {
            r.skip(16)?; // version, revision, vendor, temporal and spatial quality
            let width = u32::from(r.u16()?);
            let height = u32::from(r.u16()?);
            r.skip(14)?; // resolutions, data size, frame count
            r.skip(32)?; // compressor name
            let depth = r.u16()?;
            r.skip(2)?; // colour table id
            let extensions = children(r.rest()).unwrap_or_default();
            let field_count = child(&extensions, b"fiel").and_then(|f| f.first().copied());
            Ok((
                codec,
                Some(VideoEntry {
                    width,
                    height,
                    depth,
                    fields: field_count,
                    extensions: extensions
                        .iter()
                        .map(|(h, payload)| (fourcc(h.kind), payload.to_vec()))
                        .collect(),
                }),
                None,
            ))
        }
        TrackKind::Audio => {
            let version = r.u16()?;
            r.skip(6)?; // revision, vendor
            let mut channels = u32::from(r.u16()?);
            let mut bits = u32::from(r.u16()?);
            r.skip(4)?; // compression id, packet size
            let mut rate = r.u32()? >> 16;
            let mut flags = None;
            let mut bytes_per_packet = 0;
            match version {
                1 => {
                    r.skip(4)?; // samples per packet
                    bytes_per_packet = r.u32()?;
                    r.skip(8)?; // bytes per frame, bytes per sample
                }
                2 => {
                    // QuickTime sound description v2: the real values follow.
                    r.skip(4)?; // size of struct
                    let rate64 = f64::from_bits(r.u64()?);
                    channels = r.u32()?;
                    r.skip(4)?; // always 0x7F000000
                    bits = r.u32()?;
                    flags = Some(r.u32()?);
                    bytes_per_packet = r.u32()?;
                    r.skip(4)?; // frames per packet
                    rate = if rate64.is_finite() && rate64 > 0.0 && rate64 < 1e7 {
                        rate64.round() as u32
                    } else {
                        0
                    };
                }
                _ => {}
            }
            let extensions = children(r.rest()).unwrap_or_default();
            // `enda` in the entry, or in its `wave` box (QuickTime's
            // extension for in24, in32, fl32…).
            let wave = child(&extensions, b"wave").and_then(|w| children(w).ok());
            let little_endian = child(&extensions, b"enda")
                .or_else(|| wave.as_deref().and_then(|w| child(w, b"enda")))
                .and_then(|enda| ByteReader::new(enda).u16().ok())
                .map(|flag| flag != 0);
            Ok((
                codec,
                None,
                Some(AudioEntry {
                    channels,
                    sample_rate: rate,
                    bits_per_sample: bits,
                    version,
                    lpcm_flags: flags,
                    bytes_per_packet,
                    little_endian,
                    extensions: extensions
                        .iter()
                        .map(|(h, payload)| (fourcc(h.kind), payload.to_vec()))
                        .collect(),
                }),
            ))
        }
        TrackKind::Other(_) => Ok((codec, None, None)),
    }
}

/// Walks `stsz`, `stsc`, `stco`/`co64`, `stts` and `stss` together: counts,
/// bytes, key samples and the furthest byte any sample reaches, checking
/// that the tables agree with each other and with the file's length.
fn sample_stats(
    stbl: &[(BoxHeader, &[u8])],
    file_len: u64,
    track: u32,
) -> Result<SampleStats, IndexError> {
    let bad = |what: String| IndexError::malformed(format!("track {track}: {what}"));

    // stsz: one size for all, or a table.
    let mut r = ByteReader::new(require(stbl, b"stsz", "stbl")?);
    r.skip(4)?;
    let uniform = r.u32()?;
    let count = r.u32()?;
    let sizes = if uniform == 0 {
        Some(r.table(count, 4)?)
    } else {
        None
    };
    let size_of = |i: u64| -> Result<u64, IndexError> {
        match &sizes {
            None => Ok(u64::from(uniform)),
            Some(table) => table.u32_at(i).map(u64::from),
        }
    };

    // Chunk offsets.
    let (offsets, wide) = match (child(stbl, b"stco"), child(stbl, b"co64")) {
        (Some(b), _) => (b, false),
        (None, Some(b)) => (b, true),
        (None, None) => return Err(bad("no chunk offsets (`stco`/`co64`)".into())),
    };
    let mut r = ByteReader::new(offsets);
    r.skip(4)?;
    let chunks = r.u32()?;
    let offsets = r.table(chunks, if wide { 8 } else { 4 })?;
    let chunk_offset = |i: u64| -> Result<u64, IndexError> {
        if wide {
            offsets.u64_at(i)
        } else {
            offsets.u32_at(i).map(u64::from)
        }
    };

    // Sample-to-chunk runs.
    let mut r = ByteReader::new(require(stbl, b"stsc", "stbl")?);
    r.skip(4)?;
    let runs = r.u32()?;
    let stsc = r.table(runs, 12)?;

    let mut stats = SampleStats {
        count: u64::from(count),
        ..SampleStats::default()
    };
    let mut sample = 0u64;
    for run in 0..u64::from(runs) {
        let first_chunk = u64::from(stsc.u32_at(run * 3)?);
        let per_chunk = u64::from(stsc.u32_at(run * 3 + 1)?);
        let next_first = if run + 1 < u64::from(runs) {
            u64::from(stsc.u32_at((run + 1) * 3)?)
        } else {
            u64::from(chunks) + 1
        };
        if first_chunk == 0 || next_first < first_chunk || next_first > u64::from(chunks) + 1 {
            return Err(bad(format!(
                "`stsc` run {run} names chunks {first_chunk}..{next_first} of {chunks}"
            )));
        }
        for chunk in first_chunk..next_first {
            let mut offset = chunk_offset(chunk - 1)?;
            if sizes.is_none() {
                // One size for every sample (PCM: a sample is one audio
                // frame, 500 million in a 3-hour take): a chunk at a time.
                if per_chunk > stats.count - sample {
                    return Err(bad(format!(
                        "the chunks hold more samples than `stsz` lists ({})",
                        stats.count
                    )));
                }
                if per_chunk == 0 {
                    continue;
                }
                let size = u64::from(uniform);
                let end = size
                    .checked_mul(per_chunk)
                    .and_then(|len| offset.checked_add(len))
                    .ok_or_else(|| bad(format!("chunk {chunk} ends past 2^64")))?;
                if end > file_len {
                    return Err(IndexError::OutOfBounds {
                        what: format!("track {track} samples {sample}..{}", sample + per_chunk),
                        offset,
                        len: end - offset,
                        limit: file_len,
                    });
                }
                if sample == 0 {
                    stats.first_offset = offset;
                    stats.first_size = size;
                }
                stats.bytes += end - offset;
                stats.max_end = stats.max_end.max(end);
                sample += per_chunk;
                continue;
            }
            for _ in 0..per_chunk {
                if sample >= stats.count {
                    return Err(bad(format!(
                        "the chunks hold more samples than `stsz` lists ({})",
                        stats.count
                    )));
                }
                let size = size_of(sample)?;
                let end = offset
                    .checked_add(size)
                    .ok_or_else(|| bad(format!("sample {sample} ends past 2^64")))?;
                if end > file_len {
                    return Err(IndexError::OutOfBounds {
                        what: format!("track {track} sample {sample}"),
                        offset,
                        len: size,
                        limit: file_len,
                    });
                }
                if sample == 0 {
                    stats.first_offset = offset;
                    stats.first_size = size;
                }
                stats.bytes += size;
                stats.max_end = stats.max_end.max(end);
                offset = end;
                sample += 1;
            }
        }
    }
    if sample != stats.count {
        return Err(bad(format!(
            "`stsz` lists {} samples but the chunks hold {sample}",
            stats.count
        )));
    }

    // Time-to-sample: every sample's duration.
    let mut r = ByteReader::new(require(stbl, b"stts", "stbl")?);
    r.skip(4)?;
    let entries = r.u32()?;
    let stts = r.table(entries, 8)?;
    let mut timed = 0u64;
    for entry in 0..u64::from(entries) {
        let n = u64::from(stts.u32_at(entry * 2)?);
        let delta = u64::from(stts.u32_at(entry * 2 + 1)?);
        timed += n;
        stats.duration_ticks = stats.duration_ticks.saturating_add(n.saturating_mul(delta));
        if entry == 0 {
            stats.first_delta = delta;
        }
        if delta != 0 && (stats.min_delta == 0 || delta < stats.min_delta) {
            stats.min_delta = delta;
        }
        stats.max_delta = stats.max_delta.max(delta);
    }
    if timed != stats.count {
        return Err(bad(format!(
            "`stts` times {timed} samples but `stsz` lists {}",
            stats.count
        )));
    }

    // Sync samples: absent means every sample is a key frame.
    stats.key_samples = match child(stbl, b"stss") {
        None => stats.count,
        Some(buf) => {
            let mut r = ByteReader::new(buf);
            r.skip(4)?;
            let n = r.u32()?;
            let table = r.table(n, 4)?;
            let mut previous = 0u64;
            for i in 0..u64::from(n) {
                let number = u64::from(table.u32_at(i)?);
                if number <= previous || number > stats.count {
                    return Err(bad(format!(
                        "`stss` entry {i} names sample {number} of {}",
                        stats.count
                    )));
                }
                previous = number;
            }
            u64::from(n)
        }
    };
    Ok(stats)
}
