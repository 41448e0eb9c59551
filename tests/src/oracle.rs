//! Independent oracles: ffprobe and mediainfo, to confirm what moocpipe measures.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn json_of(cmd: &mut Command) -> Value {
    let out = cmd.output().expect("run oracle");
    assert!(
        out.status.success(),
        "oracle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("oracle prints JSON")
}

/// `ffprobe -show_streams -count_packets` as JSON: one entry per stream.
pub fn ffprobe_streams(file: &Path) -> Vec<Value> {
    let v = json_of(
        Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-count_packets",
                "-show_streams",
                "-of",
                "json",
            ])
            .arg(file),
    );
    v["streams"].as_array().cloned().unwrap_or_default()
}

/// The first stream of a type ("video" or "audio") ffprobe finds.
pub fn ffprobe_stream(file: &Path, codec_type: &str) -> Value {
    ffprobe_streams(file)
        .into_iter()
        .find(|s| s["codec_type"] == codec_type)
        .unwrap_or_else(|| panic!("ffprobe finds no {codec_type} stream in {}", file.display()))
}

/// Sum of the sizes of the packets of the first video stream, per ffprobe.
pub fn ffprobe_video_bytes(file: &Path) -> u64 {
    let v = json_of(
        Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-select_streams",
                "v:0",
                "-show_entries",
                "packet=size",
                "-of",
                "json",
            ])
            .arg(file),
    );
    v["packets"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .filter_map(|p| p["size"].as_str()?.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0)
}

/// mediainfo's track of a type ("Video" or "Audio").
pub fn mediainfo_track(file: &Path, kind: &str) -> Value {
    let v = json_of(Command::new("mediainfo").arg("--Output=JSON").arg(file));
    v["media"]["track"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["@type"] == kind).cloned())
        .unwrap_or_else(|| panic!("mediainfo finds no {kind} track in {}", file.display()))
}

/// A field of an oracle's JSON that is a number or a numeric string.
pub fn num(v: &Value, field: &str) -> f64 {
    match &v[field] {
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) => s.parse().unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

/// ffmpeg's PSNR of `rendition` against `source` (converted to the
/// rendition's 8-bit 4:2:0 and size by ffmpeg's own swscale), per plane:
/// (y, u, v) in dB. A wrong conversion (planes swapped, chroma misplaced,
/// levels off) shows as a plane far below the others.
pub fn ffmpeg_psnr(rendition: &Path, source: &Path) -> (f64, f64, f64) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-i"])
        .arg(rendition)
        .arg("-i")
        .arg(source)
        .args([
            "-lavfi",
            "[1:v]format=yuv420p[ref];[0:v][ref]psnr",
            "-f",
            "null",
            "-",
        ])
        .output()
        .expect("run ffmpeg");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ffmpeg psnr failed: {log}");
    let line = log
        .lines()
        .find(|l| l.contains("PSNR y:"))
        .unwrap_or_else(|| panic!("no PSNR line in: {log}"));
    let field = |name: &str| -> f64 {
        let start = line.find(name).expect("psnr field") + name.len();
        line[start..]
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::INFINITY)
    };
    (field(" y:"), field(" u:"), field(" v:"))
}
