//! The HLS package: hlssink2 writes one media playlist per rung; this module
//! writes the master playlist over them and checks the package is whole.

use crate::ladder::PlannedRung;
use crate::{TranscodeError, RENDITIONS_PREFIX};
use moocpipe_proto::transcode::HlsPackage;
use moocpipe_proto::{RuleId, RuleResult, Verdict};
use std::path::Path;

/// H.264 High profile at the level x264 picks for the rung's size, for the
/// CODECS attribute (avc1.PPCCLL).
fn codecs(height: u32) -> &'static str {
    match height {
        h if h > 720 => "avc1.640028,mp4a.40.2", // level 4.0
        h if h > 576 => "avc1.64001f,mp4a.40.2", // level 3.1
        _ => "avc1.64001e,mp4a.40.2",            // level 3.0
    }
}

/// Writes `hls/master.m3u8` over the rungs' media playlists.
pub fn write_master(
    out_dir: &Path,
    rungs: &[PlannedRung],
    fps: f64,
    audio_bitrate_bps: u64,
) -> Result<HlsPackage, TranscodeError> {
    let mut text = String::from("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    let mut variants = Vec::new();
    for r in rungs {
        // Peak rate: constant-bitrate video, AAC and ~10 % of MPEG-TS overhead.
        let bandwidth = (r.bitrate_bps + audio_bitrate_bps) * 11 / 10;
        text.push_str(&format!(
            "#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},RESOLUTION={}x{},FRAME-RATE={fps:.3},CODECS=\"{}\"\n{}/index.m3u8\n",
            r.width,
            r.height,
            codecs(r.height),
            r.name
        ));
        variants.push(format!("{RENDITIONS_PREFIX}/hls/{}/index.m3u8", r.name));
    }
    let path = out_dir.join("hls").join("master.m3u8");
    std::fs::write(&path, text).map_err(|e| TranscodeError::Output {
        path: path.clone(),
        message: e.to_string(),
    })?;
    Ok(HlsPackage {
        master: format!("{RENDITIONS_PREFIX}/hls/master.m3u8"),
        variants,
        segments: 0,
        rules: Vec::new(),
    })
}

/// Checks every media playlist: it ends (`#EXT-X-ENDLIST`), its segments
/// exist and are not empty, and its segments add up to the video's duration.
pub fn verify(out_dir: &Path, mut package: HlsPackage, duration: Option<f64>) -> HlsPackage {
    let mut problems = Vec::new();
    let mut segments = 0u32;
    let mut totals = Vec::new();
    for variant in &package.variants {
        let rel = variant.trim_start_matches(&format!("{RENDITIONS_PREFIX}/"));
        let playlist = out_dir.join(rel);
        let Ok(text) = std::fs::read_to_string(&playlist) else {
            problems.push(format!("{variant} is missing"));
            continue;
        };
        if !text.lines().any(|l| l.trim() == "#EXT-X-ENDLIST") {
            problems.push(format!("{variant} does not end"));
        }
        let dir = playlist.parent().unwrap_or(out_dir);
        let mut total = 0.0;
        for line in text.lines() {
            if let Some(d) = line.strip_prefix("#EXTINF:") {
                total += d
                    .trim_end_matches(',')
                    .split(',')
                    .next()
                    .and_then(|v| v.parse::<f64>().ok())
                    .unwrap_or(0.0);
            } else if !line.starts_with('#') && !line.trim().is_empty() {
                segments += 1;
                let seg = dir.join(line.trim());
                if std::fs::metadata(&seg)
                    .map(|m| m.len() == 0)
                    .unwrap_or(true)
                {
                    problems.push(format!("segment {} is missing or empty", seg.display()));
                }
            }
        }
        totals.push(total);
        if let Some(d) = duration {
            if (total - d).abs() > 0.5 {
                problems.push(format!("{variant} lasts {total:.2} s, the take {d:.2} s"));
            }
        }
    }
    package.segments = segments;
    let measured = if problems.is_empty() {
        format!(
            "{} variants, {segments} segments, {}",
            package.variants.len(),
            totals
                .first()
                .map(|t| format!("{t:.2} s each"))
                .unwrap_or_default()
        )
    } else {
        problems.join("; ")
    };
    let ok = problems.is_empty();
    package.rules = vec![RuleResult {
        id: RuleId::RenditionHls,
        clause: RuleId::RenditionHls.clause().to_string(),
        required: "every variant complete, segments present, as long as the take (±0.5 s)".into(),
        measured,
        verdict: if ok { Verdict::Pass } else { Verdict::Fail },
        hint: (!ok).then(|| "re-run with --force; if it fails again, report the take".to_string()),
    }];
    package
}
