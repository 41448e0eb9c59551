//! The MOV/MP4 index reader on real files made by GStreamer at test time,
//! checked against ffprobe's packet count (a full read), and on hostile
//! input: cut short, mutated, random.

mod fixtures;

use fixtures::{consistent, ffprobe_packets, generate};
use moocpipe_container::{frame, mov, FileSource, IndexError, ReadAt, TrackKind};
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// 2 s of 1080p24 ProRes 422 HQ with 24-bit stereo PCM, moov at the end.
fn prores() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        generate(
            "prores.mov",
            "gst-launch-1.0",
            "-q videotestsrc num-buffers=48 ! video/x-raw,width=1920,height=1080,framerate=24/1 \
             ! avenc_prores_ks profile=hq ! queue ! qtmux name=m ! filesink location=OUT \
             audiotestsrc num-buffers=94 samplesperbuffer=1024 \
             ! audio/x-raw,format=S24LE,rate=48000,channels=2 ! queue ! m.",
        )
    })
}

/// 2 s of long-GOP H.264 (a key frame every 15) with AAC, moov first.
fn h264() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        generate(
            "h264.mp4",
            "gst-launch-1.0",
            "-q videotestsrc num-buffers=60 ! video/x-raw,width=640,height=360,framerate=30/1 \
             ! x264enc key-int-max=15 ! h264parse ! mp4mux name=m faststart=true \
             ! filesink location=OUT audiotestsrc num-buffers=80 ! audioconvert \
             ! avenc_aac ! aacparse ! m.",
        )
    })
}

fn index_of(path: &Path) -> (moocpipe_container::ContainerIndex, FileSource) {
    let source = FileSource::open(path).expect("open");
    let index = mov::read(&source).expect("an index");
    (index, source)
}

#[test]
fn a_prores_take_is_measured_from_its_index_alone() {
    let path = prores();
    let (index, source) = index_of(path);
    let video = index
        .tracks
        .iter()
        .find(|t| t.kind == TrackKind::Video)
        .expect("a video track");
    assert_eq!(video.codec, "apch");
    let entry = video.video.as_ref().expect("a visual description");
    assert_eq!((entry.width, entry.height), (1920, 1080));
    assert_eq!(entry.fields, Some(1), "progressive");
    let (packets, keys, _) = ffprobe_packets(path, "v");
    assert_eq!(video.samples.count, packets);
    assert_eq!(video.samples.key_samples, keys, "ProRes: every frame a key");
    assert_eq!(video.duration_seconds(), Some(2.0));
    // The bitrate the spec checks: stream bytes over stream duration.
    let bitrate = video.samples.bytes as f64 * 8.0 / 2.0;
    assert!(bitrate > 50e6, "{bitrate}");

    let audio = index
        .tracks
        .iter()
        .find(|t| t.kind == TrackKind::Audio)
        .and_then(|t| t.audio.as_ref())
        .expect("an audio description");
    assert_eq!(
        (audio.channels, audio.sample_rate, audio.bits_per_sample),
        (2, 48000, 24)
    );
    // qtmux: little-endian 24-bit as `sowt`, sound description v1.
    assert_eq!((audio.version, audio.bytes_per_packet), (1, 3));
    assert_eq!(index.brand, Some(*b"qt  "));
    assert!(index.timescale > 0 && index.duration_ticks > 0);
    for track in &index.tracks {
        assert!(!track.composition_offsets);
        assert!(
            track.edits.len() <= 1 && track.edits.iter().all(|e| e.media_time == 0),
            "{:?}",
            track.edits
        );
    }

    // The first frame's header, read where the index says it is.
    let before = source.bytes_read();
    let head = source
        .read_at(video.samples.first_offset, frame::HEAD_BYTES)
        .expect("read");
    let header = frame::prores_header(&head).expect("an icpf frame");
    assert_eq!(u64::from(header.frame_size), video.samples.first_size);
    assert!(!header.interlaced, "progressive");
    assert_eq!(source.bytes_read() - before, frame::HEAD_BYTES as u64);

    // The point of it all: a few kilobytes of a 15 MB take.
    let size = std::fs::metadata(path).expect("size").len();
    assert!(
        source.bytes_read() * 1000 < size,
        "read {} of {size} bytes",
        source.bytes_read()
    );
    assert_eq!(
        index.bytes_read + frame::HEAD_BYTES as u64,
        source.bytes_read()
    );
}

#[test]
fn a_long_gop_stream_counts_its_key_frames_from_stss() {
    let path = h264();
    let (index, _) = index_of(path);
    let video = index
        .tracks
        .iter()
        .find(|t| t.kind == TrackKind::Video)
        .expect("a video track");
    assert_eq!(video.codec, "avc1");
    let (packets, keys, _) = ffprobe_packets(path, "v");
    assert_eq!(video.samples.count, packets);
    assert_eq!(video.samples.key_samples, keys);
    assert!(keys < packets, "long GOP: {keys} key of {packets}");
    let audio = index
        .tracks
        .iter()
        .find(|t| t.kind == TrackKind::Audio)
        .expect("an audio track");
    assert_eq!(audio.codec, "mp4a");
    assert_eq!(audio.samples.count, ffprobe_packets(path, "a").0);
}

#[test]
fn a_take_cut_short_is_a_truncation_not_an_index() {
    // moov first, then cut the media data: samples point past the end.
    let bytes = std::fs::read(h264()).expect("read");
    let cut = &bytes[..bytes.len() * 2 / 3];
    let err = mov::read(cut).expect_err("cut short");
    assert!(err.is_truncation(), "{err}");

    // moov last and cut: there is no index at all.
    let bytes = std::fs::read(prores()).expect("read");
    let cut = &bytes[..bytes.len() / 2];
    match mov::read(cut) {
        Err(IndexError::NotIndexed(_)) | Err(IndexError::OutOfBounds { .. }) => {}
        other => panic!("expected no index or a truncation, got {other:?}"),
    }
}

#[test]
fn other_containers_are_not_taken_for_quicktime() {
    let mkv = b"\x1aE\xdf\xa3\x93B\x82\x88matroska";
    assert!(matches!(
        mov::read(&mkv[..]),
        Err(IndexError::NotThisFormat)
    ));
    assert!(matches!(mov::read(&[][..]), Err(IndexError::NotIndexed(_))));
}

/// Flips bytes of a real index: whatever comes out, no panic.
fn mutated(seed: &[(usize, u8)]) -> Vec<u8> {
    let mut bytes = std::fs::read(h264()).expect("read");
    let len = bytes.len();
    for &(at, value) in seed {
        // Most of the file is media data; aim at the index (the first
        // few KB: moov is at the front).
        let at = at % 4096.min(len);
        bytes[at] = value;
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(fixtures::cases(2000)))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = mov::read(&bytes[..]);
    }

    #[test]
    fn a_mutated_index_gives_an_error_or_a_consistent_index(
        seed in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)
    ) {
        let bytes = mutated(&seed);
        if let Ok(index) = mov::read(&bytes[..]) {
            consistent(&index, bytes.len() as u64)?;
        }
    }
}

/// A box tree whose counts claim far more than the box holds must be
/// refused before anything is allocated for them.
#[test]
fn absurd_counts_are_refused_without_allocating() {
    fn boxed(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut out = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(payload);
        out
    }
    let mut stsz = vec![0u8; 4];
    stsz.extend_from_slice(&0u32.to_be_bytes()); // sizes in a table
    stsz.extend_from_slice(&u32::MAX.to_be_bytes()); // 4 billion entries
    let mut stsd = vec![0u8; 4];
    stsd.extend_from_slice(&1u32.to_be_bytes());
    stsd.extend_from_slice(&boxed(b"apch", &[0u8; 78]));
    let stbl = boxed(
        b"stbl",
        &[boxed(b"stsd", &stsd), boxed(b"stsz", &stsz)].concat(),
    );
    let minf = boxed(b"minf", &stbl);
    let mut hdlr = vec![0u8; 8];
    hdlr.extend_from_slice(b"vide");
    hdlr.extend_from_slice(&[0u8; 12]);
    let mdhd = [0u8; 24];
    let mdia = boxed(
        b"mdia",
        &[boxed(b"mdhd", &mdhd), boxed(b"hdlr", &hdlr), minf].concat(),
    );
    let trak = boxed(b"trak", &[boxed(b"tkhd", &[0u8; 84]), mdia].concat());
    let moov = boxed(b"moov", &[boxed(b"mvhd", &[0u8; 100]), trak].concat());
    let err = mov::read(&moov[..]).expect_err("absurd");
    assert!(
        matches!(&err, IndexError::Malformed(m) if m.contains("claims")),
        "{err}"
    );
    assert!(moov.as_slice().len() < 1024);
}
