//! Every rendition is verified by probing the finished file with the same
//! code as `moocpipe check`, not by trusting the encoder's settings.

use crate::ladder::{PlannedRung, TranscodeConfig};
use crate::naming;
use crate::RENDITIONS_PREFIX;
use moocpipe_media::transcode::TranscodePlan;
use moocpipe_media::{MeasureOptions, Measurement};
use moocpipe_proto::{ProbeRecord, Rendition, RuleId, RuleResult, TakeRef, Verdict};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Largest allowed difference between a rendition's and the source's video duration.
pub const DURATION_TOLERANCE_S: f64 = 0.1;

fn rule(id: RuleId, required: String, measured: String, ok: bool, hint: &str) -> RuleResult {
    RuleResult {
        id,
        clause: id.clause().to_string(),
        required,
        measured,
        verdict: if ok { Verdict::Pass } else { Verdict::Fail },
        hint: (!ok).then(|| hint.to_string()),
    }
}

/// Probes and judges every rendition of the plan.
pub fn renditions(
    take: &TakeRef,
    probe: &ProbeRecord,
    config: &TranscodeConfig,
    rungs: &[PlannedRung],
    plan: &TranscodePlan,
    out_dir: &Path,
) -> Vec<Rendition> {
    rungs
        .iter()
        .zip(&plan.rungs)
        .map(|(rung, planned)| {
            let file_name = planned
                .mp4
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            let path = out_dir.join(&file_name);
            let display = path.display().to_string();
            let measured =
                moocpipe_media::measure(&display, &path, &MeasureOptions::default(), &mut |_| {});
            let size_bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            let (rules, v) = match &measured {
                Ok(m) => (
                    judge(rung, probe, config, m, &path),
                    m.video.first().cloned(),
                ),
                Err(e) => (
                    vec![rule(
                        RuleId::RenditionResolution,
                        "a readable MP4".into(),
                        format!("cannot read the rendition: {e}"),
                        false,
                        "re-run with --force; if it fails again, report the take",
                    )],
                    None,
                ),
            };
            Rendition {
                name: rung.name.clone(),
                platform: rung.platform,
                file: format!("{RENDITIONS_PREFIX}/{file_name}"),
                download_name: naming::download_name(take, &rung.name, "mp4"),
                width: v.as_ref().map_or(0, |v| v.width),
                height: v.as_ref().map_or(0, |v| v.height),
                frame_rate: v.as_ref().and_then(|v| v.frame_rate),
                target_bitrate_bps: rung.bitrate_bps,
                video_bitrate_bps: v.as_ref().and_then(|v| v.bitrate_bps),
                duration_seconds: v.as_ref().and_then(|v| v.duration_seconds),
                size_bytes,
                rules,
            }
        })
        .collect()
}

fn judge(
    rung: &PlannedRung,
    probe: &ProbeRecord,
    config: &TranscodeConfig,
    m: &Measurement,
    path: &Path,
) -> Vec<RuleResult> {
    let retry = "re-run with --force; if it fails again, report the take";
    let Some(v) = m.video.first() else {
        return vec![rule(
            RuleId::RenditionResolution,
            "a video stream".into(),
            "no video stream".into(),
            false,
            retry,
        )];
    };
    let source = probe.video.as_ref();
    let min_bps = if rung.platform {
        config.min_platform_bitrate_bps
    } else {
        rung.bitrate_bps * 9 / 10
    };
    let bps = v.bitrate_bps.unwrap_or(0);
    let mut rules = vec![
        rule(
            RuleId::RenditionBitrate,
            format!(
                "≥ {:.1} Mbit/s video, measured on the file",
                min_bps as f64 / 1e6
            ),
            format!("{:.2} Mbit/s", bps as f64 / 1e6),
            bps >= min_bps,
            "raise the rung's bitrate; the encoder must run in constant-bitrate mode (nal-hrd=cbr)",
        ),
        rule(
            RuleId::RenditionResolution,
            format!("{}×{} progressive", rung.width, rung.height),
            format!("{}×{} {}", v.width, v.height, v.interlacing),
            v.width == rung.width
                && v.height == rung.height
                && v.interlacing == moocpipe_proto::Interlacing::Progressive,
            retry,
        ),
    ];
    let src_rate = source.and_then(|s| s.frame_rate);
    let rate_ok = match (
        src_rate.and_then(|f| f.as_f64()),
        v.frame_rate.and_then(|f| f.as_f64()),
    ) {
        (Some(a), Some(b)) => (a - b).abs() / a < 1e-3,
        _ => false,
    };
    rules.push(rule(
        RuleId::RenditionFrameRate,
        format!(
            "the source's {}",
            src_rate
                .map(|f| f.to_string())
                .unwrap_or_else(|| "rate".into())
        ),
        v.frame_rate
            .map(|f| f.to_string())
            .unwrap_or_else(|| "none declared".into()),
        rate_ok,
        retry,
    ));
    let src_duration = source.and_then(|s| s.duration_seconds);
    let duration_ok = match (src_duration, v.duration_seconds) {
        (Some(a), Some(b)) => (a - b).abs() <= DURATION_TOLERANCE_S,
        _ => false,
    };
    rules.push(rule(
        RuleId::RenditionDuration,
        format!(
            "the source's {} (± {DURATION_TOLERANCE_S} s)",
            src_duration
                .map(|d| format!("{d:.3} s"))
                .unwrap_or_else(|| "duration".into())
        ),
        v.duration_seconds
            .map(|d| format!("{d:.3} s"))
            .unwrap_or_else(|| "unknown".into()),
        duration_ok,
        retry,
    ));
    let audio_ok = m.audio.first().is_some_and(|a| {
        a.codec == "AAC" && a.sample_rate == Some(48_000) && a.channels == Some(2)
    });
    let audio_measured = match m.audio.first() {
        Some(a) => a.to_string(),
        None if probe.streams.audio == 0 => "no audio (the source has none)".into(),
        None => "no audio".into(),
    };
    rules.push(rule(
        RuleId::RenditionAudio,
        "AAC 48000 Hz 2 ch".into(),
        audio_measured,
        audio_ok,
        "the take needs an audio track; re-export it with its audio",
    ));
    let order = top_level_boxes(path);
    let faststart = match (
        order.iter().position(|b| b == "moov"),
        order.iter().position(|b| b == "mdat"),
    ) {
        (Some(moov), Some(mdat)) => moov < mdat,
        _ => false,
    };
    rules.push(rule(
        RuleId::RenditionFaststart,
        "MP4 index (moov) before the media data (mdat)".into(),
        if order.is_empty() {
            "unreadable".into()
        } else {
            order.join(", ")
        },
        faststart,
        retry,
    ));
    rules
}

/// The types of an MP4's top-level boxes, in file order (reads only headers).
pub fn top_level_boxes(path: &Path) -> Vec<String> {
    let Ok(mut f) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut pos = 0u64;
    let mut out = Vec::new();
    while pos + 8 <= len && out.len() < 64 {
        let mut head = [0u8; 16];
        if f.seek(SeekFrom::Start(pos)).is_err() || f.read_exact(&mut head[..8]).is_err() {
            break;
        }
        let size32 = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as u64;
        out.push(String::from_utf8_lossy(&head[4..8]).to_string());
        let size = match size32 {
            0 => len - pos,
            1 => {
                if f.read_exact(&mut head[8..16]).is_err() {
                    break;
                }
                u64::from_be_bytes([
                    head[8], head[9], head[10], head[11], head[12], head[13], head[14], head[15],
                ])
            }
            s => s,
        };
        if size < 8 {
            break;
        }
        pos += size;
    }
    out
}
