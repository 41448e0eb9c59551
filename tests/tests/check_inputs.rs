//! Bad input: every kind gets a typed error naming the file, exit code 2, no
//! panic, no hang; the other files of the same command are still checked;
//! nothing is written next to the input and the input is never modified.

use moocpipe_proto::{ErrorKind, ProbeRecord, TakeVerdict};
use moocpipe_tests::cli::{check_json, moocpipe, moocpipe_bin};
use moocpipe_tests::media;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Checks `bad` between two good takes and returns the bad one's record.
fn check_bad(bad: &Path) -> ProbeRecord {
    let good = media::compliant_prores_mov();
    let run = check_json(&[&good, bad, &good]);
    assert_eq!(
        run.exit_code, 2,
        "a file that cannot be checked gives exit code 2; stderr: {}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_eq!(run.records.len(), 3, "every file gets a record");
    assert_eq!(run.records[0].verdict, TakeVerdict::Pass);
    assert_eq!(
        run.records[2].verdict,
        TakeVerdict::Pass,
        "the batch goes on after a bad file"
    );
    let record = run.records[1].clone();
    assert_eq!(record.verdict, TakeVerdict::Error);
    assert!(record.rules.is_empty());
    let error = record.error.clone().expect("a typed error");
    assert!(
        error.message.contains(&bad.display().to_string()),
        "the message names the file: {}",
        error.message
    );
    record
}

fn kind(bad: &Path) -> ErrorKind {
    check_bad(bad).error.expect("error").kind
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write");
    p
}

#[test]
fn empty_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert_eq!(kind(&write(dir.path(), "empty.mov", b"")), ErrorKind::Empty);
}

#[test]
fn truncated_file_without_its_index() {
    // qtmux writes the index (moov) at the end: cut it off.
    let dir = tempfile::tempdir().expect("tempdir");
    let src = media::compliant_prores_mov();
    let len = std::fs::metadata(&src).expect("meta").len() as usize / 2;
    let cut = media::truncated_copy(&src, len, dir.path(), "cut.mov");
    assert_eq!(kind(&cut), ErrorKind::Truncated);
}

#[test]
fn truncated_file_with_its_index_at_the_front() {
    // The index survives but promises frames the file no longer holds.
    let dir = tempfile::tempdir().expect("tempdir");
    let src = media::compliant_faststart_mov();
    let len = std::fs::metadata(&src).expect("meta").len() as usize / 2;
    let cut = media::truncated_copy(&src, len, dir.path(), "cut-faststart.mov");
    let record = check_bad(&cut);
    let error = record.error.expect("error");
    assert_eq!(error.kind, ErrorKind::Truncated, "{}", error.message);
}

#[test]
fn random_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A fixed xorshift sequence: noise without a dependency.
    let bytes = media::noise_bytes(1_000_000);
    assert_eq!(
        kind(&write(dir.path(), "noise.mov", &bytes)),
        ErrorKind::UnrecognizedFormat
    );
}

#[test]
fn text_file_named_mov() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "This is not a video. It is a note about the lecture.\n".repeat(100);
    assert_eq!(
        kind(&write(dir.path(), "notes.mov", text.as_bytes())),
        ErrorKind::UnrecognizedFormat
    );
}

#[test]
fn audio_only_files() {
    assert_eq!(kind(&media::wav_audio_only()), ErrorKind::NoVideoStream);
    assert_eq!(kind(&media::mov_audio_only()), ErrorKind::NoVideoStream);
}

#[test]
fn a_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sub = dir.path().join("take.mov");
    std::fs::create_dir(&sub).expect("mkdir");
    assert_eq!(kind(&sub), ErrorKind::NotAFile);
}

#[test]
fn a_missing_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert_eq!(
        kind(&dir.path().join("no-such-take.mov")),
        ErrorKind::NotFound
    );
}

#[test]
fn a_fifo_does_not_hang() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("pipe.mov");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    assert_eq!(kind(&fifo), ErrorKind::NotAFile);
}

#[test]
fn an_unreadable_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("locked.mov");
    std::fs::copy(media::compliant_prores_mov(), &file).expect("copy");
    let status = Command::new("chmod")
        .arg("000")
        .arg(&file)
        .status()
        .expect("chmod");
    assert!(status.success());
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    let out = if is_root {
        // root reads anything: run moocpipe as nobody, who may enter the
        // folder but not read the file.
        let status = Command::new("chmod")
            .arg("755")
            .arg(dir.path())
            .status()
            .expect("chmod dir");
        assert!(status.success());
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(moocpipe_bin())
            .args(["check", "--json"])
            .arg(&file)
            .output()
            .expect("run moocpipe as nobody")
    } else {
        moocpipe(&["check", "--json", &file.to_string_lossy()])
    };
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let record: ProbeRecord = serde_json::from_slice(&out.stdout).expect("one record");
    let error = record.error.expect("error");
    assert_eq!(error.kind, ErrorKind::PermissionDenied, "{}", error.message);
    assert!(error.message.contains("locked.mov"));
}

#[test]
fn a_huge_file_is_bounded_by_the_time_limit() {
    // 20 GB (sparse): a short MPEG-TS followed by zeros the demuxer must scan.
    let dir = tempfile::tempdir().expect("tempdir");
    let src = media::h264_long_gop_mov();
    let huge = dir.path().join("huge.ts");
    let pipeline = format!(
        "filesrc location={} ! qtdemux ! video/x-h264 ! h264parse ! mpegtsmux ! filesink location={}",
        src.display(),
        huge.display()
    );
    let status = Command::new("gst-launch-1.0")
        .arg("-q")
        .args(pipeline.split_whitespace())
        .status()
        .expect("gst-launch");
    assert!(status.success());
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&huge)
        .expect("open");
    f.set_len(20 * 1024 * 1024 * 1024).expect("extend sparse");
    let started = std::time::Instant::now();
    let out = moocpipe(&["check", "--json", "--timeout", "1", &huge.to_string_lossy()]);
    assert!(started.elapsed().as_secs() < 10, "the time bound holds");
    assert_eq!(out.status.code(), Some(2));
    let record: ProbeRecord = serde_json::from_slice(&out.stdout).expect("one record");
    assert_eq!(record.error.expect("error").kind, ErrorKind::Timeout);
}

#[test]
fn checking_writes_nothing_and_leaves_the_take_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let take = dir.path().join("take.mov");
    std::fs::copy(media::compliant_prores_mov(), &take).expect("copy");
    let before = std::fs::read(&take).expect("read");
    let mtime = std::fs::metadata(&take)
        .and_then(|m| m.modified())
        .expect("mtime");
    let out = moocpipe(&["check", &take.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(0));
    let entries: Vec<_> = std::fs::read_dir(dir.path()).expect("ls").collect();
    assert_eq!(entries.len(), 1, "nothing written next to the take");
    assert_eq!(std::fs::read(&take).expect("read"), before);
    assert_eq!(
        std::fs::metadata(&take)
            .and_then(|m| m.modified())
            .expect("mtime"),
        mtime
    );
}

#[test]
fn exit_codes_follow_the_worst_file() {
    let pass = media::compliant_prores_mov();
    let fail = media::prores_720p();
    assert_eq!(
        moocpipe(&["check", &pass.to_string_lossy()]).status.code(),
        Some(0)
    );
    assert_eq!(
        moocpipe(&["check", &pass.to_string_lossy(), &fail.to_string_lossy()])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        moocpipe(&["check", &fail.to_string_lossy(), "/no/such/take.mov"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn the_table_names_rule_clause_values_verdict_and_hint() {
    let fail = media::prores_pcm_44k();
    let out = moocpipe(&["check", &fail.to_string_lossy()]);
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "audio.sample_rate",
        "9.2.1",
        "≥ 48 kHz",
        "44100 Hz",
        "fail",
        "set the recorder to 48 kHz / 24-bit",
        "video.bitrate",
        "verdict: FAIL",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
}
