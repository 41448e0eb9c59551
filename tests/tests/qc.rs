//! `moocpipe qc` end to end on generated takes whose defects are known:
//! each is found at the right time, and clean footage gets no findings.

use moocpipe_proto::{FindingKind, QcRecord, Severity};
use moocpipe_tests::cli::moocpipe;
use moocpipe_tests::media;
use std::path::Path;

fn qc(file: &Path) -> QcRecord {
    let out = moocpipe(&["qc", "--json", &file.to_string_lossy()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "a QC record ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn findings(record: &QcRecord, kind: FindingKind) -> Vec<&moocpipe_proto::Finding> {
    record.findings.iter().filter(|f| f.kind == kind).collect()
}

#[test]
fn a_sine_at_a_known_level_measures_its_loudness() {
    // A stereo sine of amplitude 0.1: BS.1770 gives 20·log10(0.1) = -20 LUFS
    // (the K-weighting is ~0 dB at 1 kHz and two channels add 3 dB to the
    // per-channel mean square of A²/2).
    let record = qc(&media::qc_sine_minus_20());
    let lufs = record
        .audio
        .as_ref()
        .and_then(|a| a.integrated_lufs)
        .expect("integrated loudness");
    assert!((lufs - -20.0).abs() <= 0.5, "{lufs} LUFS");
    let peak = record
        .audio
        .as_ref()
        .and_then(|a| a.true_peak_dbtp)
        .expect("true peak");
    assert!((peak - -20.0).abs() <= 0.5, "true peak {peak} dBTP");
    // -20 LUFS is 4 LU under the -16 LUFS target: a loudness finding.
    assert_eq!(findings(&record, FindingKind::Loudness).len(), 1);
}

#[test]
fn a_silence_is_found_at_its_time() {
    let record = qc(&media::qc_silence_10_to_20());
    let silences = findings(&record, FindingKind::Silence);
    assert_eq!(silences.len(), 1, "{:?}", record.findings);
    assert!(
        (silences[0].start_seconds - 10.0).abs() <= 0.2,
        "{:?}",
        silences[0]
    );
    assert!(
        (silences[0].end_seconds - 20.0).abs() <= 0.2,
        "{:?}",
        silences[0]
    );
    assert!(record.sound_score.score < 3);
}

#[test]
fn a_black_segment_is_found_at_its_time() {
    let record = qc(&media::qc_black_5_to_10());
    let black = findings(&record, FindingKind::Black);
    assert_eq!(black.len(), 1, "{:?}", record.findings);
    assert!(
        (black[0].start_seconds - 5.0).abs() <= 0.1,
        "{:?}",
        black[0]
    );
    assert!((black[0].end_seconds - 10.0).abs() <= 0.1, "{:?}", black[0]);
    assert!(record.image_score.score < 3);
}

#[test]
fn letterbox_bars_are_found_with_their_size() {
    let record = qc(&media::qc_letterbox());
    assert_eq!(
        findings(&record, FindingKind::Bars).len(),
        1,
        "{:?}",
        record.findings
    );
    let bars = record.video.as_ref().expect("video").bars;
    // 140 of 1080 rows, analysed at 320×180: about 23 rows each.
    for (edge, rows) in [("top", bars.top), ("bottom", bars.bottom)] {
        assert!((21..=25).contains(&rows), "{edge} bar of {rows} rows");
    }
    assert_eq!((bars.left, bars.right), (0, 0));
}

#[test]
fn a_still_picture_is_frozen_information_not_a_defect() {
    let record = qc(&media::qc_frozen());
    let frozen = findings(&record, FindingKind::Frozen);
    assert_eq!(frozen.len(), 1, "{:?}", record.findings);
    assert_eq!(frozen[0].severity, Severity::Info);
    assert_eq!(
        record.image_score.score, 3,
        "slide lectures are legitimately static"
    );
}

#[test]
fn clean_footage_gets_no_findings() {
    let record = qc(&media::qc_clean());
    assert!(record.findings.is_empty(), "{:?}", record.findings);
    assert_eq!((record.sound_score.score, record.image_score.score), (3, 3));
}

#[test]
fn a_file_that_cannot_be_decoded_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("broken.mov");
    std::fs::write(&bad, b"not media").expect("write");
    let out = moocpipe(&["qc", "--json", &bad.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("broken.mov") && text.contains("unrecognized_format"),
        "{text}"
    );
}
