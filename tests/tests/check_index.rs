//! Measuring from the container's index gives the same verdicts and values
//! as reading every frame (issue 15): `moocpipe check` and
//! `moocpipe check --full` on every file of the test corpus — every codec
//! and container, and the cut-short, noisy and audio-only cases.

#[path = "../../services/storage/tests/garage/mod.rs"]
#[allow(dead_code)] // the storage tests use all of it, this test part
mod garage;

use moocpipe_proto::{MeasuredFrom, ProbeRecord};
use moocpipe_storage::ObjectStore;
use moocpipe_tests::cli::moocpipe_bin;
use moocpipe_tests::media;
use std::path::{Path, PathBuf};
use std::process::Command;

fn check(file: &Path, full: bool) -> ProbeRecord {
    checked(file, full).0
}

/// The record, and whether the take was measured without starting
/// GStreamer (from the debug log).
fn checked(file: &Path, full: bool) -> (ProbeRecord, bool) {
    let mut command = Command::new(moocpipe_bin());
    command.args(["check", "--json"]);
    if full {
        command.arg("--full");
    }
    let out = command
        .arg(file)
        .env("MOOCPIPE_LOG", "moocpipe_media=debug")
        .env("NO_COLOR", "1")
        .output()
        .expect("run moocpipe check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let log = String::from_utf8_lossy(&out.stderr);
    let record = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{}: not a record ({e}): {stdout}\n{log}", file.display()));
    (record, log.contains("gstreamer=false"))
}

/// Equal but for floating-point values, which may differ in the last
/// nanosecond (the demuxer rounds every frame's time, the index sums ticks).
fn assert_same(a: &serde_json::Value, b: &serde_json::Value, at: &str) {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            assert!(
                (x - y).abs() <= 1e-6 * x.abs().max(1.0),
                "{at}: {x} by index, {y} by demux"
            );
        }
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for key in keys {
                if key == "measured_from" {
                    continue;
                }
                assert_same(
                    x.get(key).unwrap_or(&Value::Null),
                    y.get(key).unwrap_or(&Value::Null),
                    &format!("{at}.{key}"),
                );
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}: lengths");
            for (i, (x, y)) in x.iter().zip(y).enumerate() {
                assert_same(x, y, &format!("{at}[{i}]"));
            }
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}

/// Makes `dir/name` with `program` (gst-launch-1.0 or ffmpeg), `OUT` in
/// `args` standing for it: MXF variants for the index reader's cases.
fn made(dir: &Path, name: &str, program: &str, args: &str) -> PathBuf {
    let out = dir.join(name);
    let args = args.replace("OUT", &out.display().to_string());
    let status = Command::new(program)
        .args(args.split_whitespace())
        .status()
        .unwrap_or_else(|e| panic!("{program} (the test script installs it): {e}"));
    assert!(status.success() && out.exists(), "{program} {args}");
    out
}

/// One second of 1080p DNxHD by mxfmux at `rate`, with `sound` (each a
/// `channels,samples-per-buffer` pair) as frame-wrapped PCM tracks.
fn dnxhd_mxf_with(
    dir: &Path,
    name: &str,
    rate: &str,
    frames: u32,
    sound: &[(u32, u32)],
) -> PathBuf {
    let mut args = format!(
        "-q mxfmux name=m ! filesink location=OUT videotestsrc num-buffers={frames} pattern=smpte \
         ! video/x-raw,width=1920,height=1080,framerate={rate},format=Y42B \
         ! avenc_dnxhd bitrate=185000000 ! m."
    );
    for (channels, samples) in sound {
        args.push_str(&format!(
            " audiotestsrc num-buffers={frames} samplesperbuffer={samples} \
             ! audio/x-raw,rate=48000,channels={channels},format=S24LE ! m."
        ));
    }
    made(dir, name, "gst-launch-1.0", &args)
}

/// Each file, how it should be measured, and whether without GStreamer
/// (ProRes and DNxHR with PCM in MOV: every codec fact in the sample
/// descriptions and the first frame's header).
fn corpus(dir: &Path) -> Vec<(PathBuf, Option<MeasuredFrom>, bool)> {
    use MeasuredFrom::{Demux, Index};
    let noise = dir.join("noise.mov");
    let bytes = media::noise_bytes(200_000);
    std::fs::write(&noise, bytes).expect("noise");
    let cut = |src: PathBuf, name: &str| {
        let len = std::fs::metadata(&src).expect("meta").len() as usize / 2;
        media::truncated_copy(&src, len, dir, name)
    };
    vec![
        (media::compliant_prores_mov(), Some(Index), true),
        (media::compliant_faststart_mov(), Some(Index), true),
        (media::prores_hq_video_only(), Some(Index), true),
        (media::prores_pcm_44k(), Some(Index), true),
        (media::prores_pcm_16bit(), Some(Index), true),
        (media::prores_pcm_float(), Some(Index), true),
        (media::prores_pcm_mono(), Some(Index), true),
        (media::prores_two_mono_tracks(), Some(Index), true),
        (media::prores_two_video_streams(), Some(Index), true),
        (media::prores_720p(), Some(Index), true),
        (media::prores_15fps(), Some(Index), true),
        (media::prores_23_976(), Some(Index), true),
        (media::prores_standard_low_rate(), Some(Index), true),
        (media::prores_interlaced(), Some(Index), true),
        // H.264 and AAC: the parsers' caps, from the heads pass.
        (media::h264_long_gop_mov(), Some(Index), false),
        (media::h264_all_intra_aac_mp4(), Some(Index), false),
        (media::dnxhr_mov(), Some(Index), true),
        (media::rgb555_mov(), Some(Index), false),
        // MXF OP1a: the index table segments and the first edit unit.
        (media::dnxhd_mxf(), Some(Index), false),
        (
            dnxhd_mxf_with(dir, "two-mono.mxf", "25/1", 25, &[(1, 1920), (1, 1920)]),
            Some(Index),
            false,
        ),
        // ffmpeg's MXF: a constant-size index, system items, fill and AES3
        // sound, whose demuxed size is not its element's: demux.
        (
            made(
                dir,
                "ffmpeg.mxf",
                "ffmpeg",
                "-v error -y -f lavfi -i smptebars=s=1920x1080:r=25 -f lavfi \
                 -i sine=sample_rate=48000 -t 1 -c:v dnxhd -b:v 185M -pix_fmt yuv422p \
                 -c:a pcm_s24le -ac 2 -f mxf OUT",
            ),
            Some(Demux),
            false,
        ),
        // Two cameras in MXF: two picture elements an edit unit: demux.
        (
            made(
                dir,
                "multicam.mxf",
                "gst-launch-1.0",
                "-q mxfmux name=m ! filesink location=OUT \
                 videotestsrc num-buffers=25 ! video/x-raw,width=1920,height=1080,framerate=25/1,format=Y42B \
                 ! avenc_dnxhd bitrate=185000000 ! m. \
                 videotestsrc num-buffers=25 pattern=ball ! video/x-raw,width=1920,height=1080,framerate=25/1,format=Y42B \
                 ! avenc_dnxhd bitrate=185000000 ! m. \
                 audiotestsrc num-buffers=25 samplesperbuffer=1920 ! audio/x-raw,rate=48000,channels=2,format=S24LE ! m.",
            ),
            Some(Demux),
            false,
        ),
        // No index of ours: Matroska.
        (media::mjpeg_mkv(), Some(Demux), false),
        // Errors: the same error either way.
        (cut(media::compliant_prores_mov(), "cut.mov"), None, false),
        (
            cut(media::compliant_faststart_mov(), "cut-faststart.mov"),
            None,
            false,
        ),
        (cut(media::dnxhd_mxf(), "cut.mxf"), None, false),
        (noise, None, false),
        (media::wav_audio_only(), None, false),
        (media::mov_audio_only(), None, false),
    ]
}

#[test]
fn the_index_gives_the_verdicts_and_values_of_a_full_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut without_gstreamer = 0;
    for (file, expected_from, expect_no_gstreamer) in corpus(dir.path()) {
        let (by_index, no_gstreamer) = checked(&file, false);
        let (by_demux, full_without_gstreamer) = checked(&file, true);
        let name = file.display().to_string();
        assert_eq!(by_index.verdict, by_demux.verdict, "{name}: verdict");
        assert_eq!(
            by_index.error.as_ref().map(|e| e.kind),
            by_demux.error.as_ref().map(|e| e.kind),
            "{name}: error kind"
        );
        assert_same(
            &serde_json::to_value(&by_index).expect("json"),
            &serde_json::to_value(&by_demux).expect("json"),
            &name,
        );
        assert_eq!(
            by_index.measured_from, expected_from,
            "{name}: measured from"
        );
        assert_eq!(
            no_gstreamer, expect_no_gstreamer,
            "{name}: measured without starting GStreamer"
        );
        assert!(!full_without_gstreamer, "{name}: --full demuxes");
        without_gstreamer += usize::from(no_gstreamer);
        if by_demux.error.is_none() {
            assert_eq!(
                by_demux.measured_from,
                Some(MeasuredFrom::Demux),
                "{name}: --full reads every frame"
            );
        }
    }
    assert_eq!(
        without_gstreamer, 15,
        "the takes measured without GStreamer"
    );
}

/// `moocpipe check s3://bucket/key` reads the take from the store by ranges
/// (the probe stage's own reader) and gives the record of the local file,
/// from the index, reading a fraction of it.
#[test]
fn a_take_in_s3_is_checked_by_ranges_like_the_file() {
    let garage = garage::Garage::start();
    let store = garage.store();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    for (file, key) in [
        (media::compliant_prores_mov(), "course/01/01/take.mov"),
        (media::dnxhd_mxf(), "course/01/01/take.mxf"),
    ] {
        runtime
            .block_on(store.put_file(key, &file, "application/octet-stream"))
            .expect("upload");
        let uri = format!("s3://{}/{key}", garage.bucket);
        let out = Command::new(moocpipe_bin())
            .args(["check", "--json", &uri])
            .env("MOOCPIPE_S3_ENDPOINT", garage.endpoint())
            .env("MOOCPIPE_S3_REGION", garage::REGION)
            .env("MOOCPIPE_S3_BUCKET", "not-this-one")
            .env("MOOCPIPE_S3_ACCESS_KEY_ID", &garage.access_key_id)
            .env("MOOCPIPE_S3_SECRET_ACCESS_KEY", &garage.secret_access_key)
            .env("MOOCPIPE_LOG", "info")
            .env("NO_COLOR", "1")
            .output()
            .expect("run moocpipe check");
        let log = String::from_utf8_lossy(&out.stderr);
        let mut remote: ProbeRecord = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{uri}: not a record ({e}): {log}"));
        assert_eq!(remote.file, uri);
        assert_eq!(remote.measured_from, Some(MeasuredFrom::Index), "{uri}");
        let mut local = check(&file, false);
        (remote.file, local.file) = (String::new(), String::new());
        assert_same(
            &serde_json::to_value(&remote).expect("json"),
            &serde_json::to_value(&local).expect("json"),
            &uri,
        );
        // The reader's own count of the bytes its ranged GETs fetched.
        let read: u64 = log
            .split("bytes_read=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no byte count in the log: {log}"));
        let size = std::fs::metadata(&file).expect("meta").len();
        assert!(read < size / 2, "{uri}: read {read} of {size} bytes");
    }
}
