//! `moocpipe process` end to end: real GStreamer transcodes of generated
//! takes, every output confirmed by ffprobe as well as by moocpipe's own
//! verification, idempotence, bad input, and the course report.

use moocpipe_tests::cli::moocpipe_bin;
use moocpipe_tests::media;
use moocpipe_tests::oracle::{ffmpeg_psnr, ffprobe_stream, num};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Run {
    code: i32,
    summary: Value,
    stderr: String,
}

/// `moocpipe process --json --no-captions` (captions have their own test
/// below and in tests/caption.rs).
fn process(data: &Path, args: &[&str]) -> Run {
    let out: Output = Command::new(moocpipe_bin())
        .arg("process")
        .arg("--no-captions")
        .arg("--json")
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .expect("run moocpipe process");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let summary = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("summary is JSON ({e}); stderr:\n{stderr}"));
    Run {
        code: out.status.code().unwrap_or(-1),
        summary,
        stderr,
    }
}

/// The 2 s compliant ProRes take placed in a one-lesson course under `dir`.
fn take_2s(dir: &Path, name: &str) -> PathBuf {
    media::place_in(
        &media::compliant_prores_2s(),
        dir,
        &format!("course/01-m/01-l/{name}"),
    )
}

/// A configuration file in `dir` that captions with tiny.en, the model
/// fetched (cached) first.
/// `moocpipe --config <config> process --json --rungs 1080p --no-hls
/// --data <data> <root>/physics-101`: the caption tests' run.
fn process_1080p(config: &Path, data: &Path, root: &Path) -> Run {
    let out = Command::new(moocpipe_bin())
        .arg("--config")
        .arg(config)
        .args([
            "process", "--json", "--rungs", "1080p", "--no-hls", "--data",
        ])
        .arg(data)
        .arg(root.join("physics-101"))
        .output()
        .expect("run moocpipe process");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    Run {
        code: out.status.code().unwrap_or(-1),
        summary: serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("summary is JSON ({e}); stderr:\n{stderr}")),
        stderr,
    }
}

fn tiny_en_config(dir: &Path) -> PathBuf {
    let config = dir.join("moocpipe.toml");
    std::fs::write(&config, "[caption]\nmodel = \"tiny.en\"\n").expect("config");
    let fetch = Command::new(moocpipe_bin())
        .args(["models", "fetch", "tiny.en"])
        .output()
        .expect("run models fetch");
    assert!(
        fetch.status.success(),
        "{}",
        String::from_utf8_lossy(&fetch.stderr)
    );
    config
}

fn take<'a>(run: &'a Run, key_suffix: &str) -> &'a Value {
    run.summary["takes"]
        .as_array()
        .and_then(|ts| {
            ts.iter()
                .find(|t| t["key"].as_str().is_some_and(|k| k.ends_with(key_suffix)))
        })
        .unwrap_or_else(|| panic!("no take ending {key_suffix} in {}", run.summary))
}

fn paths(v: &Value) -> Vec<PathBuf> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_str().map(PathBuf::from))
                .collect()
        })
        .unwrap_or_default()
}

/// ffprobe's format section (duration, tags) of a file.
fn ffprobe_format(file: &Path) -> Value {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_format", "-of", "json"])
        .arg(file)
        .output()
        .expect("ffprobe");
    serde_json::from_slice::<Value>(&out.stdout).expect("json")["format"].clone()
}

fn video_bitrate(file: &Path) -> f64 {
    let bytes = moocpipe_tests::oracle::ffprobe_video_bytes(file) as f64;
    let v = ffprobe_stream(file, "video");
    bytes * 8.0 / num(&v, "duration")
}

#[test]
fn a_compliant_take_gets_verified_renditions_hls_and_a_poster() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = media::compliant_prores_2s();
    media::place_in(
        &src,
        dir.path(),
        "physics-101/01-mechanics/02-newtons-laws/take-01.mov",
    );
    let data = dir.path().join("data");
    let run = process(&data, &[&dir.path().join("physics-101").to_string_lossy()]);
    assert_eq!(run.code, 0, "{}\n{}", run.summary, run.stderr);
    let t = take(&run, "take-01.mov");
    assert_eq!(t["status"], "done");
    let renditions = paths(&t["renditions"]);
    assert_eq!(renditions.len(), 3);

    let source_video = ffprobe_stream(&src, "video");
    let source_duration = num(&source_video, "duration");
    for (file, (w, h)) in renditions
        .iter()
        .zip([(1920.0, 1080.0), (1280.0, 720.0), (854.0, 480.0)])
    {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        assert!(
            name.starts_with("physics-101-m01-l02-"),
            "signed name: {name}"
        );
        let v = ffprobe_stream(file, "video");
        assert_eq!(v["codec_name"], "h264");
        assert_eq!(v["profile"], "High");
        assert_eq!((num(&v, "width"), num(&v, "height")), (w, h), "{name}");
        assert_eq!(v["r_frame_rate"], "25/1");
        assert!(
            (num(&v, "duration") - source_duration).abs() <= 0.1,
            "{name} duration"
        );
        let a = ffprobe_stream(file, "audio");
        assert_eq!(a["codec_name"], "aac");
        assert_eq!(a["profile"], "LC");
        assert_eq!(
            (num(&a, "sample_rate"), num(&a, "channels")),
            (48_000.0, 2.0)
        );
        // Audio and video stay in sync: they start together and end together.
        assert!(
            (num(&a, "start_time") - num(&v, "start_time")).abs() < 0.05,
            "{name} start times"
        );
        assert!(
            (num(&a, "duration") - num(&v, "duration")).abs() < 0.1,
            "{name} durations"
        );
        let format = ffprobe_format(file);
        assert_eq!(
            format["tags"]["title"], "Newtons laws",
            "the lecture title is in the metadata"
        );
        let boxes = moocpipe_transcode::verify::top_level_boxes(file);
        let moov = boxes.iter().position(|b| b == "moov");
        let mdat = boxes.iter().position(|b| b == "mdat");
        assert!(
            moov.is_some() && moov < mdat,
            "index at the front: {boxes:?}"
        );
    }
    assert!(
        video_bitrate(&renditions[0]) >= 8_000_000.0,
        "platform rendition ≥ 8 Mbit/s"
    );
    // The picture survives the 10-bit 4:2:2 → 8-bit 4:2:0 conversion
    // (moocpipe420) and the encode, against ffmpeg's own conversion of the
    // source. This moving test pattern at 8.5 Mbit/s measured y 36.4, u 45.1,
    // v 46.1 dB (videoconvert gave the same; ffmpeg's own encode y 36.2);
    // swapped or misplaced planes fall far below.
    let (y, u, v) = ffmpeg_psnr(&renditions[0], &src);
    assert!(
        y > 33.0 && u > 40.0 && v > 40.0,
        "PSNR of the platform rendition against the source: y {y:.1} u {u:.1} v {v:.1} dB"
    );

    let master = PathBuf::from(t["hls_master"].as_str().expect("hls master"));
    let text = std::fs::read_to_string(&master).expect("master playlist");
    assert_eq!(text.matches("#EXT-X-STREAM-INF").count(), 3);
    for variant in ["1080p", "720p", "480p"] {
        let playlist = master
            .parent()
            .expect("hls dir")
            .join(variant)
            .join("index.m3u8");
        let media = std::fs::read_to_string(&playlist).expect("variant playlist");
        assert!(media.contains("#EXT-X-ENDLIST"));
        let first = media
            .lines()
            .find(|l| l.ends_with(".ts"))
            .expect("a segment");
        let seg = playlist.parent().expect("dir").join(first);
        assert_eq!(ffprobe_stream(&seg, "video")["codec_name"], "h264");
    }
    assert_poster_1080p(t);
}

/// The take's poster is a 1920×1080 JPEG.
fn assert_poster_1080p(t: &Value) {
    let poster = PathBuf::from(t["poster"].as_str().expect("poster"));
    let p = ffprobe_stream(&poster, "video");
    assert_eq!(p["codec_name"], "mjpeg");
    assert_eq!((num(&p, "width"), num(&p, "height")), (1920.0, 1080.0));
}

#[test]
fn a_static_black_source_still_measures_8_mbit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = media::black_prores_2s();
    let file = media::place_in(&src, dir.path(), "course/01-m/01-l/black.mov");
    // Black compresses so well that even ProRes HQ falls below 50 Mbit/s:
    // the raw take fails the spec, so it is processed anyway.
    let run = process(
        &dir.path().join("data"),
        &["--allow-noncompliant", &file.to_string_lossy()],
    );
    assert_eq!(
        take(&run, "black.mov")["status"],
        "done",
        "{}\n{}",
        run.summary,
        run.stderr
    );
    let renditions = paths(&take(&run, "black.mov")["renditions"]);
    let rate = video_bitrate(&renditions[0]);
    assert!(rate >= 8_000_000.0, "black 1080p rendition measured {rate}");
}

#[test]
fn a_23_976_source_keeps_its_rate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = media::place_in(
        &media::prores_23_976_2s(),
        dir.path(),
        "course/01-m/01-l/film.mov",
    );
    let run = process(&dir.path().join("data"), &[&file.to_string_lossy()]);
    assert_eq!(run.code, 0, "{}\n{}", run.summary, run.stderr);
    for r in paths(&take(&run, "film.mov")["renditions"]) {
        assert_eq!(
            ffprobe_stream(&r, "video")["r_frame_rate"],
            "24000/1001",
            "{}",
            r.display()
        );
    }
}

#[test]
fn a_uhd_source_is_scaled_to_1080p() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = media::place_in(
        &media::uhd_mjpeg_1s(),
        dir.path(),
        "course/01-m/01-l/uhd.mkv",
    );
    let run = process(
        &dir.path().join("data"),
        &["--allow-noncompliant", &file.to_string_lossy()],
    );
    let t = take(&run, "uhd.mkv");
    assert_eq!(t["status"], "done", "{}\n{}", run.summary, run.stderr);
    let v = ffprobe_stream(&paths(&t["renditions"])[0], "video");
    assert_eq!((num(&v, "width"), num(&v, "height")), (1920.0, 1080.0));
    // The poster comes from the decoded source, scaled to the platform size.
    assert_poster_1080p(t);
}

#[test]
fn a_poster_time_after_the_last_frame_still_gets_a_poster() {
    // At 0.99 of a 2 s take the poster's time (1.98 s) is after the last
    // frame's (1.96 s): no frame reaches the poster branch, and the key
    // frame nearest it is taken from the platform rendition instead.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = take_2s(dir.path(), "late.mov");
    let config = dir.path().join("moocpipe.toml");
    std::fs::write(&config, "[transcode]\nposter_at = 0.99\n").expect("config");
    let run = process(
        &dir.path().join("data"),
        &[
            "--config",
            &config.to_string_lossy(),
            "--no-qc",
            &file.to_string_lossy(),
        ],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.summary, run.stderr);
    assert_poster_1080p(take(&run, "late.mov"));
}

#[test]
fn the_medium_preset_does_not_deadlock_the_muxers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = take_2s(dir.path(), "medium.mov");
    let started = std::time::Instant::now();
    let run = process(
        &dir.path().join("data"),
        &["--preset", "medium", &file.to_string_lossy()],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.summary, run.stderr);
    assert!(started.elapsed().as_secs() < 300);
}

#[test]
fn a_second_run_reuses_records_and_force_redoes_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = take_2s(dir.path(), "again.mov");
    let data = dir.path().join("data");
    let first = process(&data, &[&file.to_string_lossy()]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let mp4 = paths(&take(&first, "again.mov")["renditions"])[0].clone();
    let mtime = std::fs::metadata(&mp4)
        .and_then(|m| m.modified())
        .expect("mtime");

    let second = process(&data, &[&file.to_string_lossy()]);
    assert_eq!(second.code, 0);
    assert!(
        second.stderr.contains("probe: pass (recorded earlier)"),
        "{}",
        second.stderr
    );
    assert!(
        second.stderr.contains("transcode: pass (recorded earlier)")
            && second
                .stderr
                .lines()
                .any(|l| l.contains("qc: sound") && l.contains("(recorded earlier)")),
        "{}",
        second.stderr
    );
    assert_eq!(
        std::fs::metadata(&mp4)
            .and_then(|m| m.modified())
            .expect("mtime"),
        mtime
    );

    let forced = process(&data, &["--force", &file.to_string_lossy()]);
    assert_eq!(forced.code, 0);
    assert!(
        !forced.stderr.contains("recorded earlier"),
        "{}",
        forced.stderr
    );
    // A new run of its own; the record names it, and the run it replaced
    // is removed once the record is written.
    let redone = paths(&take(&forced, "again.mov")["renditions"])[0].clone();
    assert_ne!(redone, mp4, "a forced run writes under a run of its own");
    assert!(redone.exists() && !mp4.exists(), "{}", redone.display());
    let id = take(&forced, "again.mov")["take_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let runs: Vec<_> = std::fs::read_dir(data.join("takes").join(&id).join("runs"))
        .expect("runs")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let record: moocpipe_proto::TranscodeRecord = serde_json::from_str(
        &std::fs::read_to_string(data.join("takes").join(&id).join("records/transcode.json"))
            .expect("transcode record"),
    )
    .expect("a transcode record");
    let run = record.run.clone().expect("the record names its run");
    assert_eq!(Some(runs[0].to_string_lossy().as_ref()), Some(run.as_str()));
    assert!(redone.starts_with(data.join("takes").join(&id).join("runs").join(&run)));
    // Every object of the run is named with its size.
    for object in &record.objects {
        let size = std::fs::metadata(data.join(&object.key))
            .map(|m| m.len())
            .expect("a named object exists");
        assert_eq!(size, object.size_bytes, "{}", object.key);
    }
    assert!(
        record.objects.iter().any(|o| data.join(&o.key) == redone),
        "{:?}",
        record.objects
    );
}

#[test]
fn a_batch_goes_on_past_noncompliant_and_corrupt_takes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let course = dir.path().join("course");
    take_2s(dir.path(), "good.mov");
    media::place_in(
        &media::prores_720p(),
        dir.path(),
        "course/01-m/02-l/small.mov",
    );
    let corrupt = course.join("02-m/01-l/corrupt.mov");
    std::fs::create_dir_all(corrupt.parent().expect("dir")).expect("mkdir");
    std::fs::write(&corrupt, b"not a video at all").expect("write");
    let before = std::fs::read(&corrupt).expect("read");

    let run = process(&dir.path().join("data"), &[&course.to_string_lossy()]);
    assert_eq!(run.code, 2, "an unreadable take makes exit code 2");
    let good = take(&run, "good.mov");
    assert_eq!(good["status"], "done");
    // QC is measured for every readable take: from the transcode's decode
    // (good.mov) or from a decode of its own (small.mov, not transcoded);
    // either way every frame of the take is analysed.
    for (t, frames) in [(good, 50), (take(&run, "small.mov"), 25)] {
        assert!(
            t["sound_score"].as_u64().is_some() && t["image_score"].as_u64().is_some(),
            "{t}"
        );
        let id = t["take_id"].as_str().unwrap_or_default();
        let qc = dir
            .path()
            .join("data/takes")
            .join(id)
            .join("records/qc.json");
        let text = std::fs::read_to_string(&qc).expect("qc.json");
        let record: moocpipe_proto::QcRecord = serde_json::from_str(&text).expect("a QC record");
        assert_eq!(
            record.video.map(|v| v.frames),
            Some(frames),
            "{}",
            qc.display()
        );
        let seconds = record.audio.map(|a| a.seconds).unwrap_or_default();
        assert!(
            (seconds - frames as f64 / 25.0).abs() < 0.1,
            "{seconds} s of audio"
        );
    }
    let small = take(&run, "small.mov");
    assert_eq!(small["status"], "not-transcoded");
    assert!(small["note"]
        .as_str()
        .unwrap_or_default()
        .contains("video.resolution"));
    let bad = take(&run, "corrupt.mov");
    assert_eq!(bad["status"], "error");
    assert!(bad["note"]
        .as_str()
        .unwrap_or_default()
        .contains("corrupt.mov"));
    assert_eq!(
        std::fs::read(&corrupt).expect("read"),
        before,
        "the source is never written to"
    );
}

#[test]
fn a_take_outside_any_course_folder_is_processed_and_its_placement_said() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = media::place_in(
        &media::compliant_prores_2s(),
        dir.path(),
        "Downloads/take.mov",
    );
    let file = file.to_string_lossy().to_string();
    let fast = ["--rungs", "1080p", "--no-hls", "--no-qc"];

    // The README's "one take" command, as written: the named default.
    let mut args = vec![file.as_str()];
    args.extend(fast);
    let run = process(&dir.path().join("data"), &args);
    assert_eq!(run.code, 0, "{}\n{}", run.summary, run.stderr);
    let t = take(&run, "take.mov");
    assert_eq!(t["key"], "loose-takes/01/01/take.mov");
    assert_eq!(t["status"], "done");
    let placed = run.summary["placed_loose"].to_string();
    assert!(placed.contains("loose-takes/01/01/take.mov"), "{placed}");

    // Chosen with flags.
    let mut args = vec![
        file.as_str(),
        "--course",
        "physics-101",
        "--module",
        "3",
        "--lesson",
        "2",
    ];
    args.extend(fast);
    let run = process(&dir.path().join("data2"), &args);
    assert_eq!(run.code, 0, "{}\n{}", run.summary, run.stderr);
    assert_eq!(take(&run, "take.mov")["key"], "physics-101/03/02/take.mov");

    // A placement that cannot be a folder is refused before any work.
    let out = Command::new(moocpipe_bin())
        .args(["process", "--data"])
        .arg(dir.path().join("data3"))
        .args([file.as_str(), "--course", "../etc"])
        .output()
        .expect("run moocpipe process");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--course"), "{stderr}");
}

#[test]
fn an_unwritable_store_fails_before_any_work() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = take_2s(dir.path(), "t.mov");
    let blocker = dir.path().join("not-a-folder");
    std::fs::write(&blocker, b"x").expect("write");
    let out = Command::new(moocpipe_bin())
        .args(["process", "--no-captions", "--data"])
        .arg(blocker.join("data"))
        .arg(&file)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot write the store"), "{stderr}");
    assert!(!stderr.contains("transcode"), "no work started: {stderr}");
}

#[test]
fn ctrl_c_stops_cleanly_and_publishes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = media::place_in(
        &media::compliant_prores_10s(),
        dir.path(),
        "course/01-m/01-l/long.mov",
    );
    let data = dir.path().join("data");
    let mut child = Command::new(moocpipe_bin())
        .args(["process", "--no-captions", "--preset", "medium", "--data"])
        .arg(&data)
        .arg(&file)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // Wait until the transcode has started, then interrupt it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !data
        .join(".staging")
        .read_dir()
        .map(|d| d.count() > 0)
        .unwrap_or(false)
    {
        if child.try_wait().ok().flatten().is_some() {
            let out = child.wait_with_output().expect("output");
            panic!(
                "process ended before transcoding: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(
            std::time::Instant::now() < deadline,
            "transcode never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let takes = std::fs::read_dir(data.join("takes"))
        .expect("takes")
        .flatten()
        .collect::<Vec<_>>();
    assert_eq!(takes.len(), 1);
    assert!(
        !takes[0].path().join("runs").exists() && !takes[0].path().join("renditions").exists(),
        "nothing half-written looks finished"
    );
    assert!(!takes[0].path().join("records/transcode.json").exists());
    let staged = std::fs::read_dir(data.join(".staging"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(staged, 0, "work in progress is cleaned up");
}

#[test]
fn a_spoken_take_gets_captions_beside_its_renditions() {
    const SPOKEN: &str = "Newton's second law relates force, mass and acceleration.";
    let wav = media::spoken("newton-sentence", "en-us", SPOKEN);
    let src = media::prores_take_with_sound("newton-sentence-take", &wav);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = media::place_in(
        &src,
        dir.path(),
        "physics-101/01-mechanics/03-second-law/take-01.mov",
    );
    std::fs::write(
        file.with_extension("json"),
        r#"{"title": "The second law", "language": "en"}"#,
    )
    .expect("sidecar");
    let config = tiny_en_config(dir.path());

    let run_once = || process_1080p(&config, &dir.path().join("data"), dir.path());
    let run = run_once();
    assert_eq!(run.code, 0, "{}\n{}", run.summary, run.stderr);
    let t = take(&run, "take-01.mov");
    let captions = paths(&t["captions"]);
    let names: Vec<String> = captions
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    assert_eq!(
        names,
        [
            "physics-101-m01-l03-the-second-law.en.vtt",
            "physics-101-m01-l03-the-second-law.en.srt",
            "physics-101-m01-l03-the-second-law.en.txt"
        ],
        "signed caption names with the language"
    );
    let vtt = std::fs::read_to_string(&captions[0]).expect("vtt");
    assert!(vtt.starts_with("WEBVTT"), "{vtt}");
    let text = std::fs::read_to_string(&captions[2]).expect("transcript");
    let wer = moocpipe_tests::wer::wer(SPOKEN, &text);
    assert!(wer <= 0.2, "WER {wer}: {text:?}");
    // takes/<id>/runs/<run>/captions/<file>: the take's folder is three up.
    let record_path = captions[0]
        .ancestors()
        .nth(4)
        .expect("take dir")
        .join("records/caption.json");
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(record_path).expect("caption record"))
            .expect("record JSON");
    assert_eq!(record["language"], "en");
    assert_eq!(record["source"]["model"], "tiny.en");

    let again = run_once();
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again
            .stderr
            .lines()
            .any(|l| l.contains("captions") && l.contains("recorded earlier")),
        "{}",
        again.stderr
    );
}

/// A compliant take whose sound is a line-up tone, no speech: captions
/// without cues (an empty SRT), named by the record with their sizes, and
/// the take is done like any other.
#[test]
fn a_compliant_take_without_speech_is_done_with_empty_captions() {
    let src = media::prores_take_with_sound("tone-take", &media::tone_wav());
    let dir = tempfile::tempdir().expect("tempdir");
    let file = media::place_in(
        &src,
        dir.path(),
        "physics-101/01-mechanics/04-line-up/take-01.mov",
    );
    std::fs::write(
        file.with_extension("json"),
        r#"{"title": "Line-up", "language": "en"}"#,
    )
    .expect("sidecar");
    let config = tiny_en_config(dir.path());
    let data = dir.path().join("data");
    let run = process_1080p(&config, &data, dir.path());
    assert_eq!(run.code, 0, "{}\n{}", run.summary, run.stderr);
    let t = take(&run, "take-01.mov");
    assert_eq!(t["status"], "done", "{t}");
    assert_eq!(t["caption_cues"], 0, "a tone is not speech: {t}");
    assert!(t.get("caption_error").is_none(), "{t}");
    let captions = paths(&t["captions"]);
    assert_eq!(captions.len(), 3, "{t}");
    let srt = &captions[1];
    assert_eq!(srt.extension().and_then(|e| e.to_str()), Some("srt"));
    assert_eq!(
        std::fs::metadata(srt).expect("srt").len(),
        0,
        "no cues, no bytes"
    );

    let id = t["take_id"].as_str().unwrap_or_default();
    let record: moocpipe_proto::CaptionRun = serde_json::from_str(
        &std::fs::read_to_string(data.join("takes").join(id).join("records/caption.json"))
            .expect("caption record"),
    )
    .expect("a caption run record");
    assert_eq!(record.caption.cues, 0);
    let named_srt = record
        .objects
        .iter()
        .find(|o| o.key.ends_with(".srt"))
        .expect("the record names the SRT");
    assert_eq!(named_srt.size_bytes, 0);
    assert_eq!(&data.join(&named_srt.key), srt);
    assert!(named_srt
        .key
        .starts_with(&format!("takes/{id}/runs/{}/captions/", record.run)));
}
