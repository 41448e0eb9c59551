//! The header metadata's tracks and essence descriptors: what each
//! essence track holds (picture size and layout, sound rate, depth and
//! channels), found by the track number its elements' keys carry.

use super::klv::{item, item_rational, item_u32, items, klvs, METADATA_SET};
use crate::read::ByteReader;
use crate::{AudioEntry, IndexError, VideoEntry};
use std::collections::BTreeMap;

/// What the header metadata says of one essence track.
#[derive(Debug, Default, Clone)]
pub(super) struct Described {
    /// The track's number: the last four bytes of its elements' keys.
    pub(super) track_number: Option<u32>,
    pub(super) video: Option<VideoEntry>,
    pub(super) audio: Option<AudioEntry>,
    /// The picture or sound essence coding label.
    pub(super) coding: Option<[u8; 16]>,
    /// Bytes per audio sample frame (all channels).
    pub(super) block_align: Option<u32>,
}

/// Tracks and essence descriptors of the header metadata, by track id.
pub(super) fn descriptors(metadata: &[u8]) -> Result<BTreeMap<u32, Described>, IndexError> {
    let mut numbers = BTreeMap::new();
    let mut described: Vec<(Option<u32>, Described)> = Vec::new();
    for (key, set) in klvs(metadata)? {
        if key[..14] != METADATA_SET {
            continue;
        }
        let items = items(set);
        match key[14] {
            // Timeline track: track id and the number its elements carry.
            0x3b => {
                if let (Some(id), Some(number)) =
                    (item_u32(&items, 0x4801), item_u32(&items, 0x4804))
                {
                    if number != 0 {
                        numbers.insert(id, number);
                    }
                }
            }
            // Picture descriptors: generic, CDCI, RGBA, MPEG.
            0x27 | 0x28 | 0x29 | 0x51 => {
                let layout = item(&items, 0x320c).and_then(|v| v.first().copied());
                described.push((
                    item_u32(&items, 0x3006),
                    Described {
                        video: Some(VideoEntry {
                            width: item_u32(&items, 0x3203).unwrap_or(0),
                            height: item_u32(&items, 0x3202).unwrap_or(0),
                            depth: item_u32(&items, 0x3301)
                                .and_then(|d| u16::try_from(d).ok())
                                .unwrap_or(0),
                            // Full frame and segmented frame are one field.
                            fields: layout.map(|l| if matches!(l, 0 | 4) { 1 } else { 2 }),
                            extensions: Vec::new(),
                        }),
                        coding: item(&items, 0x3201).and_then(|v| v.try_into().ok()),
                        ..Described::default()
                    },
                ));
            }
            // Sound descriptors: generic, AES3, wave.
            0x42 | 0x47 | 0x48 => {
                let channels = item_u32(&items, 0x3d07).unwrap_or(0);
                let bits = item_u32(&items, 0x3d01).unwrap_or(0);
                let rate = item_rational(&items, 0x3d03)
                    .filter(|(_, d)| *d > 0)
                    .map(|(n, d)| n / d)
                    .unwrap_or(0);
                let block_align = item(&items, 0x3d0a)
                    .and_then(|v| ByteReader::new(v).u16().ok())
                    .map(u32::from)
                    .or_else(|| Some(channels * bits.div_ceil(8)))
                    .filter(|&b| b > 0);
                described.push((
                    item_u32(&items, 0x3006),
                    Described {
                        audio: Some(AudioEntry {
                            channels,
                            sample_rate: rate,
                            bits_per_sample: bits,
                            version: 0,
                            lpcm_flags: None,
                            bytes_per_packet: 0,
                            little_endian: None,
                            extensions: Vec::new(),
                        }),
                        coding: item(&items, 0x3d06).and_then(|v| v.try_into().ok()),
                        block_align,
                        ..Described::default()
                    },
                ));
            }
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    for (linked, mut d) in described {
        let Some(id) = linked else { continue };
        d.track_number = numbers.get(&id).copied();
        out.insert(id, d);
    }
    Ok(out)
}
