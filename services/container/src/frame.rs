//! Frame headers: what the first bytes of a coded picture say of its bit
//! depth, chroma and scan, for the intra-frame codecs studios deliver
//! (Apple ProRes, Avid DNxHD/DNxHR — SMPTE VC-3). Both the index path (a
//! read of [`HEAD_BYTES`] at the first sample's offset) and the demux pass
//! (the first buffer) parse the same bytes with these functions.
//!
//! Pure functions over a slice: any input gives `None` or a header, never a
//! panic, and nothing is allocated.

/// How many bytes of a frame the parsers look at (and the most either path
/// keeps of a frame).
pub const HEAD_BYTES: usize = 64;

/// The facts a ProRes frame header (`icpf`) carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProresHeader {
    /// The frame's size as its first four bytes declare it (the whole
    /// sample, header included).
    pub frame_size: u32,
    pub chroma_444: bool,
    pub interlaced: bool,
}

/// Parses a ProRes frame: 4-byte size, `icpf`, then the frame header whose
/// byte 12 (absolute 20) holds chroma format (bits 7–6) and interlace mode
/// (bits 3–2).
pub fn prores_header(head: &[u8]) -> Option<ProresHeader> {
    let size = head.get(..4)?;
    if head.get(4..8)? != b"icpf" {
        return None;
    }
    let flags = *head.get(20)?;
    Some(ProresHeader {
        frame_size: u32::from_be_bytes([size[0], size[1], size[2], size[3]]),
        chroma_444: (flags >> 6) & 3 == 3,
        interlaced: (flags >> 2) & 3 != 0,
    })
}

/// The facts a DNxHD/DNxHR (SMPTE VC-3) frame header carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnxHeader {
    /// The compression id (1235…1274).
    pub cid: u32,
    pub bit_depth: Option<u32>,
    pub chroma_444: bool,
    pub interlaced: bool,
}

/// Parses a VC-3 frame header: the 5-byte prefix 00 00 02 80 01 (DNxHD),
/// 00 00 02 80 02 (DNxHD 4:4:4) or .. .. hh hh 03 (DNxHR, header size hhhh);
/// byte 5 bit 1 marks interlace, byte 0x21 bits 7–5 the bit depth,
/// bytes 0x28–0x2B the compression id, byte 0x2C bit 6 4:4:4.
pub fn dnx_header(head: &[u8]) -> Option<DnxHeader> {
    let head = head.get(..0x2D)?;
    // Byte 5 holds the field flags, so the prefix is bytes 0–4 followed by a zero byte.
    let prefix = head[..5]
        .iter()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
        << 8;
    let header_size = prefix >> 16;
    let classic = prefix == 0x0000_0280_0100 || prefix == 0x0000_0280_0200;
    let hr = (prefix & 0xFFFF_0000_FFFF) == 0x0300
        && (0x0280..=0x2170).contains(&header_size)
        && header_size & 3 == 0;
    if !classic && !hr {
        return None;
    }
    let bit_depth = match head[0x21] >> 5 {
        1 => Some(8),
        2 => Some(10),
        3 => Some(12),
        _ => None,
    };
    Some(DnxHeader {
        cid: u32::from_be_bytes([head[0x28], head[0x29], head[0x2A], head[0x2B]]),
        bit_depth,
        chroma_444: (head[0x2C] >> 6) & 1 == 1,
        interlaced: head[5] & 2 != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prores_header_reads_size_chroma_and_scan() {
        let mut frame = vec![0u8; 32];
        frame[..4].copy_from_slice(&1234u32.to_be_bytes());
        frame[4..8].copy_from_slice(b"icpf");
        frame[20] = 0b1000_0000; // 4:2:2, progressive
        assert_eq!(
            prores_header(&frame),
            Some(ProresHeader {
                frame_size: 1234,
                chroma_444: false,
                interlaced: false
            })
        );
        frame[20] = 0b1100_0100; // 4:4:4, top field first
        assert_eq!(
            prores_header(&frame),
            Some(ProresHeader {
                frame_size: 1234,
                chroma_444: true,
                interlaced: true
            })
        );
        assert_eq!(prores_header(&frame[..20]), None);
        frame[4] = b'x';
        assert_eq!(prores_header(&frame), None);
    }

    #[test]
    fn dnx_header_reads_a_dnxhd_header_and_rejects_other_data() {
        let mut frame = [0u8; 0x30];
        frame[..5].copy_from_slice(&[0, 0, 2, 0x80, 1]);
        frame[5] = 2; // interlaced
        frame[0x21] = 2 << 5; // 10-bit
        frame[0x28..0x2C].copy_from_slice(&1235u32.to_be_bytes());
        assert_eq!(
            dnx_header(&frame),
            Some(DnxHeader {
                cid: 1235,
                bit_depth: Some(10),
                chroma_444: false,
                interlaced: true
            })
        );
        assert_eq!(dnx_header(&frame[..0x2C]), None);
        assert_eq!(dnx_header(&[0u8; 64]), None);
        assert_eq!(dnx_header(&[0u8; 8]), None);
    }
}
