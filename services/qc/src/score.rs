//! The record and its suggested scores: F-10 criterion 1 (sound) from the
//! audio findings, criterion 2 (image) from the video findings.

use crate::config::QcConfig;
use moocpipe_proto::{
    AudioQc, Finding, FindingKind, QcRecord, Severity, SuggestedScore, VideoQc, SCHEMA_VERSION,
};

/// F-10 criterion scored from the sound.
pub const SOUND_CRITERION: u32 = 1;
/// F-10 criterion scored from the picture.
pub const IMAGE_CRITERION: u32 = 2;
/// Highest score of an F-10 criterion.
pub const MAX_SCORE: u32 = 3;

/// Builds the record of `file`: every finding in time order (ties keep audio
/// before video and each analyzer's order), and a suggested score for each
/// criterion. A missing stream scores 0 ("no audio stream", "no video
/// stream"). `config` is the one the analyzers ran with; the scoring rules
/// themselves have no thresholds.
pub fn record(
    file: &str,
    audio: Option<(AudioQc, Vec<Finding>)>,
    video: Option<(VideoQc, Vec<Finding>)>,
    config: &QcConfig,
) -> QcRecord {
    let _ = config;
    let sound_score = match &audio {
        Some((_, findings)) => score(SOUND_CRITERION, findings),
        None => missing(SOUND_CRITERION, "no audio stream"),
    };
    let image_score = match &video {
        Some((_, findings)) => score(IMAGE_CRITERION, findings),
        None => missing(IMAGE_CRITERION, "no video stream"),
    };
    let (audio, audio_findings) = audio.map_or((None, Vec::new()), |(qc, f)| (Some(qc), f));
    let (video, video_findings) = video.map_or((None, Vec::new()), |(qc, f)| (Some(qc), f));
    let mut findings = audio_findings;
    findings.extend(video_findings);
    findings.sort_by(|a, b| a.start_seconds.total_cmp(&b.start_seconds));
    QcRecord {
        schema_version: SCHEMA_VERSION,
        file: file.to_string(),
        audio,
        video,
        findings,
        sound_score,
        image_score,
    }
}

/// Points a severity takes off.
fn penalty(severity: Severity) -> u32 {
    match severity {
        Severity::Info => 0,
        Severity::Minor => 1,
        Severity::Major => 2,
    }
}

/// The score of `criterion` from its findings: 3, less 1 for each kind of
/// finding whose worst is Minor and 2 for each whose worst is Major, at
/// least 0. Info findings take nothing off. The evidence is the message of
/// every finding that took something off, in time order, or "no problems
/// found".
pub fn score(criterion: u32, findings: &[Finding]) -> SuggestedScore {
    let mut worst: Vec<(FindingKind, Severity)> = Vec::new();
    for f in findings {
        match worst.iter_mut().find(|(kind, _)| *kind == f.kind) {
            Some((_, severity)) => *severity = (*severity).max(f.severity),
            None => worst.push((f.kind, f.severity)),
        }
    }
    let lost: u32 = worst.iter().map(|&(_, s)| penalty(s)).sum();
    let score = MAX_SCORE.saturating_sub(lost);
    let mut counted: Vec<&Finding> = findings
        .iter()
        .filter(|f| penalty(f.severity) > 0)
        .collect();
    counted.sort_by(|a, b| a.start_seconds.total_cmp(&b.start_seconds));
    let evidence = if counted.is_empty() {
        vec!["no problems found".to_string()]
    } else {
        counted.iter().map(|f| f.message.clone()).collect()
    };
    SuggestedScore {
        criterion,
        score,
        evidence,
    }
}

fn missing(criterion: u32, why: &str) -> SuggestedScore {
    SuggestedScore {
        criterion,
        score: 0,
        evidence: vec![why.to_string()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::{moving, sine, FPS, RATE};
    use crate::{AudioAnalyzer, VideoAnalyzer};

    fn finding(kind: FindingKind, severity: Severity, start: f64, message: &str) -> Finding {
        Finding {
            kind,
            severity,
            start_seconds: start,
            end_seconds: start + 1.0,
            message: message.to_string(),
        }
    }

    fn audio_qc() -> AudioQc {
        AudioQc {
            integrated_lufs: Some(-16.0),
            loudness_range_lu: None,
            true_peak_dbtp: Some(-10.0),
            clipped_samples: 0,
            seconds: 10.0,
        }
    }

    fn video_qc() -> VideoQc {
        VideoQc {
            frames: 250,
            black_seconds: 0.0,
            frozen_seconds: 0.0,
            bars: Default::default(),
        }
    }

    #[test]
    fn scoring_arithmetic() {
        use FindingKind::*;
        use Severity::*;
        let s = |findings: &[Finding]| score(1, findings).score;
        assert_eq!(s(&[]), 3);
        assert_eq!(s(&[finding(Frozen, Info, 0.0, "f")]), 3);
        assert_eq!(s(&[finding(Silence, Minor, 0.0, "s")]), 2);
        // Each kind counts once, at its worst.
        assert_eq!(
            s(&[
                finding(Clipping, Minor, 0.0, "a"),
                finding(Clipping, Minor, 5.0, "b")
            ]),
            2
        );
        assert_eq!(
            s(&[
                finding(Clipping, Minor, 0.0, "a"),
                finding(Clipping, Major, 5.0, "b")
            ]),
            1
        );
        assert_eq!(
            s(&[
                finding(Loudness, Minor, 0.0, "l"),
                finding(TruePeak, Minor, 1.0, "t")
            ]),
            1
        );
        assert_eq!(
            s(&[
                finding(Loudness, Minor, 0.0, "l"),
                finding(Clipping, Major, 1.0, "c")
            ]),
            0
        );
        // Floor at 0.
        assert_eq!(
            s(&[
                finding(Loudness, Major, 0.0, "l"),
                finding(Silence, Major, 1.0, "c")
            ]),
            0
        );
        let all = [
            finding(Loudness, Major, 0.0, "l"),
            finding(Silence, Major, 1.0, "s"),
            finding(Clipping, Major, 2.0, "c"),
            finding(TruePeak, Minor, 3.0, "t"),
        ];
        assert_eq!(s(&all), 0);
    }

    #[test]
    fn evidence_is_every_counted_message_in_time_order() {
        use FindingKind::*;
        use Severity::*;
        let findings = [
            finding(Clipping, Minor, 9.0, "clip at 9"),
            finding(Frozen, Info, 0.0, "frozen"),
            finding(Clipping, Minor, 2.0, "clip at 2"),
        ];
        let got = score(2, &findings);
        assert_eq!(got.criterion, 2);
        assert_eq!(got.score, 2);
        assert_eq!(got.evidence, ["clip at 2", "clip at 9"]);
        assert_eq!(score(1, &findings[1..2]).evidence, ["no problems found"]);
    }

    #[test]
    fn missing_streams_score_zero() {
        let config = QcConfig::default();
        let r = record("a.mp4", None, Some((video_qc(), vec![])), &config);
        assert_eq!(
            r.sound_score,
            SuggestedScore {
                criterion: 1,
                score: 0,
                evidence: vec!["no audio stream".into()]
            }
        );
        assert_eq!(r.image_score.score, 3);
        assert_eq!(r.audio, None);
        let r = record("a.wav", Some((audio_qc(), vec![])), None, &config);
        assert_eq!((r.sound_score.score, r.image_score.score), (3, 0));
        assert_eq!(r.image_score.evidence, ["no video stream"]);
        assert_eq!(r.image_score.criterion, 2);
    }

    #[test]
    fn record_merges_findings_in_time_order() {
        use FindingKind::*;
        use Severity::*;
        let audio = vec![
            finding(Loudness, Minor, 0.0, "l"),
            finding(Silence, Minor, 7.0, "s"),
        ];
        let video = vec![
            finding(Black, Minor, 3.0, "b"),
            finding(Frozen, Info, 12.0, "f"),
        ];
        let r = record(
            "t.mp4",
            Some((audio_qc(), audio)),
            Some((video_qc(), video)),
            &QcConfig::default(),
        );
        assert_eq!(r.schema_version, SCHEMA_VERSION);
        assert_eq!(r.file, "t.mp4");
        let starts: Vec<_> = r.findings.iter().map(|f| f.start_seconds).collect();
        assert_eq!(starts, [0.0, 3.0, 7.0, 12.0]);
        assert_eq!((r.sound_score.score, r.image_score.score), (1, 2));
        assert_eq!(r.sound_score.evidence, ["l", "s"]);
        assert_eq!(r.image_score.evidence, ["b"]);
    }

    /// A take of `seconds` of tone at the −16 LUFS target and a moving
    /// picture, except where `still` says the picture repeats.
    fn take(seconds: usize, still: impl Fn(usize) -> bool) -> QcRecord {
        let config = QcConfig::default();
        let mut audio = AudioAnalyzer::new(RATE, 2, &config).expect("analyzer");
        audio
            .push(0.0, &sine(2, 997.0, 0.158_489_319, seconds as f64, 0))
            .expect("push");
        let (w, h) = (320, 180);
        let mut video = VideoAnalyzer::new(w as u32, h as u32, &config);
        let mut shown = 0;
        for i in 0..seconds * FPS as usize {
            if !still(i) {
                shown = i;
            }
            video.push(i as f64 / FPS, &moving(w, h, shown), w);
        }
        record(
            "take.mp4",
            Some(audio.finish()),
            Some(video.finish()),
            &config,
        )
    }

    #[test]
    fn clean_take_scores_three_and_three() {
        let r = take(10, |_| false);
        assert!(r.findings.is_empty(), "{:?}", r.findings);
        assert_eq!(
            r.sound_score,
            SuggestedScore {
                criterion: 1,
                score: 3,
                evidence: vec!["no problems found".into()]
            }
        );
        assert_eq!(
            r.image_score,
            SuggestedScore {
                criterion: 2,
                score: 3,
                evidence: vec!["no problems found".into()]
            }
        );
    }

    #[test]
    fn frozen_segment_is_reported_without_lowering_the_score() {
        // 4.0–12.0 s of a 16 s take repeat one picture.
        let r = take(16, |i| (101..300).contains(&i));
        assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
        let f = &r.findings[0];
        assert_eq!((f.kind, f.severity), (FindingKind::Frozen, Severity::Info));
        assert!(
            (f.start_seconds - 4.0).abs() < 1e-6 && (f.end_seconds - 12.0).abs() < 1e-6,
            "{f:?}"
        );
        assert_eq!(r.image_score.score, 3);
        assert_eq!(r.image_score.evidence, ["no problems found"]);
    }
}
