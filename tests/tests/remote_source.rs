//! The distributed probe reads a take by byte ranges through an `appsrc`
//! (`moocpipe_media::Source::Remote`) instead of `filesrc`. The verdicts,
//! measurements and errors must be the same either way: here the ranges
//! come from the file itself, so any difference is the source's doing.

use moocpipe_media::{MeasureOptions, RangeReader, Source};
use moocpipe_proto::{MeasuredFrom, ProbeRecord};
use moocpipe_tests::media;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Ranges of a file, counting what was read.
struct FileRanges {
    file: Mutex<std::fs::File>,
    read: AtomicU64,
}

impl RangeReader for FileRanges {
    fn read_at(&self, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        file.seek(SeekFrom::Start(offset))?;
        let mut out = Vec::new();
        file.by_ref().take(len).read_to_end(&mut out)?;
        self.read.fetch_add(out.len() as u64, Ordering::Relaxed);
        Ok(out)
    }
}

/// (the record through filesrc, the record through ranges, bytes read by ranges).
fn both(path: &Path) -> (ProbeRecord, ProbeRecord, u64) {
    let name = path
        .file_name()
        .expect("name")
        .to_string_lossy()
        .to_string();
    let options = MeasureOptions::default();
    let from_file = moocpipe_probe::run(&name, path, &options, &mut |_| {});
    let reader = Arc::new(FileRanges {
        file: Mutex::new(std::fs::File::open(path).expect("open")),
        read: AtomicU64::new(0),
    });
    let source = Source::Remote {
        name: name.clone(),
        size: std::fs::metadata(path).expect("meta").len(),
        reader: reader.clone(),
    };
    let from_ranges = moocpipe_probe::run_source(&name, &source, &options, &mut |_| {});
    (from_file, from_ranges, reader.read.load(Ordering::Relaxed))
}

#[test]
fn a_compliant_take_measures_the_same_through_ranges_and_reads_only_what_it_needs() {
    // MOV/MP4 and MXF: the index and the first frame of each stream, a
    // fraction of the take (these takes are 1 s long: the first audio chunk
    // lies a few frames in; on a 1 GB take the share is far smaller).
    for path in [
        media::compliant_prores_mov(),
        media::compliant_faststart_mov(),
        media::dnxhd_mxf(),
    ] {
        let (file, ranges, read) = both(&path);
        assert_eq!(file, ranges, "{}", path.display());
        assert_eq!(ranges.measured_from, Some(MeasuredFrom::Index));
        let size = std::fs::metadata(&path).expect("meta").len();
        assert!(
            read < size / 2,
            "{}: read {read} of {size} bytes",
            path.display()
        );
        // ProRes and PCM in MOV: the index and 64 bytes of the first frame,
        // no demuxer reading ahead.
        if path.extension().is_some_and(|e| e == "mov") {
            assert!(read < 16 * 1024, "{}: read {read} bytes", path.display());
        }
    }
}

#[test]
fn broken_takes_fail_the_same_way_through_ranges() {
    let dir = tempfile::tempdir().expect("tempdir");
    let moov_last = media::compliant_prores_mov();
    let faststart = media::compliant_faststart_mov();
    let half = |p: &Path| std::fs::metadata(p).expect("meta").len() as usize / 2;
    let noise = dir.path().join("noise.mov");
    std::fs::write(
        &noise,
        (0..200_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect::<Vec<u8>>(),
    )
    .expect("write");
    for path in [
        media::truncated_copy(&moov_last, half(&moov_last), dir.path(), "cut.mov"),
        media::truncated_copy(
            &faststart,
            half(&faststart),
            dir.path(),
            "cut-faststart.mov",
        ),
        noise,
        media::wav_audio_only(),
    ] {
        let (file, ranges, _) = both(&path);
        assert!(file.error.is_some(), "{}: {file:?}", path.display());
        assert_eq!(
            file.error.as_ref().map(|e| e.kind),
            ranges.error.as_ref().map(|e| e.kind),
            "{}: {:?} vs {:?}",
            path.display(),
            file.error,
            ranges.error
        );
        assert_eq!(file.verdict, ranges.verdict);
    }
}
