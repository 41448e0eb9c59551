//! The frame-header parsers on hostile input: any bytes give `None` or a
//! header, never a panic; a header's fields are the bits they come from.

#[allow(dead_code)] // the index tests use the rest
mod fixtures;

use moocpipe_container::frame::{dnx_header, prores_header, HEAD_BYTES};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(fixtures::cases(5000)))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2 * HEAD_BYTES)) {
        let _ = prores_header(&bytes);
        let _ = dnx_header(&bytes);
    }

    #[test]
    fn a_prores_header_is_read_from_its_bits(
        size in any::<u32>(),
        flags in any::<u8>(),
        mut rest in proptest::collection::vec(any::<u8>(), 13..HEAD_BYTES),
    ) {
        let mut frame = size.to_be_bytes().to_vec();
        frame.extend_from_slice(b"icpf");
        frame.append(&mut rest);
        frame[20] = flags;
        let header = prores_header(&frame).expect("an icpf frame");
        prop_assert_eq!(header.frame_size, size);
        prop_assert_eq!(header.chroma_444, flags >> 6 == 3);
        prop_assert_eq!(header.interlaced, flags & 0b1100 != 0);
        // Cut anywhere before the flags: no header.
        for len in 0..21 {
            prop_assert_eq!(prores_header(&frame[..len]), None);
        }
    }

    #[test]
    fn a_dnx_header_needs_its_prefix_and_whole_fields(
        hr_size in 0u16..0x3000,
        bytes in proptest::collection::vec(any::<u8>(), 0x2D..HEAD_BYTES),
        classic in any::<bool>(),
    ) {
        let mut frame = bytes;
        if classic {
            frame[..5].copy_from_slice(&[0, 0, 2, 0x80, 1]);
        } else {
            frame[..2].copy_from_slice(&[0, 0]);
            frame[2..4].copy_from_slice(&hr_size.to_be_bytes());
            frame[4] = 3;
        }
        let valid = classic
            || ((0x0280..=0x2170).contains(&hr_size) && hr_size % 4 == 0);
        let header = dnx_header(&frame);
        prop_assert_eq!(header.is_some(), valid);
        if let Some(h) = header {
            prop_assert_eq!(
                h.cid,
                u32::from_be_bytes([frame[0x28], frame[0x29], frame[0x2A], frame[0x2B]])
            );
            prop_assert_eq!(h.interlaced, frame[5] & 2 != 0);
            prop_assert!(matches!(h.bit_depth, None | Some(8) | Some(10) | Some(12)));
        }
        prop_assert_eq!(dnx_header(&frame[..0x2C]), None);
    }
}
