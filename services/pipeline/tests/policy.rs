//! The stage policy without a broker or a store: records in, decisions out.

use moocpipe_pipeline::policy::{
    self, after_probe, caption_stem, readiness, AfterProbe, Readiness, TakeState,
};
use moocpipe_pipeline::PolicyError;
use moocpipe_proto::transcode::EncodeSettings;
use moocpipe_proto::{
    CaptionRun, ErrorKind, ProbeError, ProbeRecord, Rendition, RuleId, RuleResult, Sidecar,
    StoredObject, TakeKind, TakeRef, TakeVerdict, TranscodeRecord, Verdict, SCHEMA_VERSION,
};
use serde_json::json;

fn take() -> TakeRef {
    TakeRef {
        take_id: "t1".into(),
        source: "s3://raw/physics-101/01-mechanics/02-newton/take-01.mov".into(),
        key: "physics-101/01-mechanics/02-newton/take-01.mov".into(),
        course: "physics-101".into(),
        kind: TakeKind::Lecture,
        module: Some(1),
        module_name: Some("mechanics".into()),
        lesson: Some(2),
        lesson_name: Some("newton".into()),
        take: "take-01".into(),
        title: "Newton's laws".into(),
        sidecar: Sidecar {
            author_email: Some("a@example.org".into()),
            language: Some("en".into()),
            ..Sidecar::default()
        },
        size_bytes: 1000,
    }
}

fn rule(verdict: Verdict) -> RuleResult {
    RuleResult {
        id: RuleId::VideoResolution,
        clause: "9.2".into(),
        required: "1920x1080".into(),
        measured: "1280x720".into(),
        verdict,
        hint: None,
    }
}

fn probe(verdict: TakeVerdict) -> ProbeRecord {
    let mut record = probe_error(ErrorKind::Io);
    record.verdict = verdict;
    record.rules = match verdict {
        TakeVerdict::Fail => vec![rule(Verdict::Fail)],
        _ => vec![rule(Verdict::Pass)],
    };
    record.error = None;
    record
}

fn probe_error(kind: ErrorKind) -> ProbeRecord {
    ProbeRecord::failed(
        "take-01.mov",
        Some(1000),
        ProbeError {
            kind,
            message: "broken".into(),
        },
    )
}

fn settings() -> EncodeSettings {
    EncodeSettings {
        preset: "veryfast".into(),
        audio_bitrate_bps: 192_000,
        hls_segment_seconds: 6,
    }
}

fn object(key: &str, size_bytes: u64) -> StoredObject {
    StoredObject {
        key: key.into(),
        size_bytes,
        etag: format!("etag-{size_bytes}"),
    }
}

fn transcode(verdict: TakeVerdict) -> TranscodeRecord {
    let dir = "takes/t1/runs/r1";
    TranscodeRecord {
        schema_version: SCHEMA_VERSION,
        take_id: "t1".into(),
        verdict,
        renditions: vec![Rendition {
            name: "1080p".into(),
            platform: true,
            file: "renditions/n-1080p.mp4".into(),
            download_name: "n-1080p.mp4".into(),
            width: 1920,
            height: 1080,
            frame_rate: None,
            target_bitrate_bps: 8_500_000,
            video_bitrate_bps: None,
            duration_seconds: None,
            size_bytes: 10,
            rules: vec![rule(if verdict == TakeVerdict::Pass {
                Verdict::Pass
            } else {
                Verdict::Fail
            })],
        }],
        hls: None,
        poster: Some("renditions/n-poster.jpg".into()),
        settings: settings(),
        error: None,
        run: Some("r1".into()),
        objects: vec![
            object(&format!("{dir}/renditions/n-1080p.mp4"), 10),
            object(&format!("{dir}/renditions/n-poster.jpg"), 5),
        ],
    }
}

/// Captions of a take without speech: 0 cues, an empty SRT.
fn silent_captions() -> CaptionRun {
    let dir = "takes/t1/runs/c1/captions";
    serde_json::from_value(json!({
        "schema_version": SCHEMA_VERSION,
        "file": "take-01.mov",
        "language": "en",
        "source": {"kind": "recognised", "model": "tiny.en", "model_sha256": "ab", "beam_size": 5},
        "cues": 0,
        "audio_seconds": 10.0,
        "captioned_seconds": 0.0,
        "style_violations": [],
        "warnings": [],
        "style": {"max_lines": 2, "max_line_chars": 42, "max_chars_per_second": 17.0,
                  "min_cue_seconds": 1.0, "max_cue_seconds": 7.0},
        "run": "c1",
        "objects": [
            {"key": format!("{dir}/n.en.srt"), "size_bytes": 0, "etag": "d41d8cd98f00b204e9800998ecf8427e"},
            {"key": format!("{dir}/n.en.txt"), "size_bytes": 0, "etag": "d41d8cd98f00b204e9800998ecf8427e"},
            {"key": format!("{dir}/n.en.vtt"), "size_bytes": 7, "etag": "e1"}
        ]
    }))
    .expect("a caption run record")
}

fn state() -> TakeState {
    TakeState {
        captions_expected: true,
        ..TakeState::default()
    }
}

fn ready(readiness: Result<Readiness, PolicyError>) -> policy::Ready {
    match readiness.expect("a consistent record") {
        Readiness::Ready(ready) => *ready,
        Readiness::Waiting => panic!("expected the take to be ready"),
    }
}

#[test]
fn a_recorded_stage_is_skipped_unless_forced_and_a_failure_only_reruns_on_replay() {
    assert!(policy::skip_recorded(true, false));
    assert!(!policy::skip_recorded(true, true));
    assert!(!policy::skip_recorded(false, false));
    assert!(policy::rerun_after_failure(false, false));
    assert!(!policy::rerun_after_failure(true, false));
    assert!(policy::rerun_after_failure(true, true));
}

#[test]
fn a_transient_probe_error_is_retried_not_recorded_and_a_bad_take_stops() {
    let retry = after_probe(&probe_error(ErrorKind::Io), false);
    assert!(matches!(
        retry,
        AfterProbe::Retry {
            kind: ErrorKind::Io,
            ..
        }
    ));
    assert!(!retry.records());
    let bad = after_probe(&probe_error(ErrorKind::Corrupt), false);
    assert!(matches!(&bad, AfterProbe::Unreadable { why } if why.contains("broken")));
    assert!(bad.records());
    assert!(!policy::is_recorded_error(ErrorKind::Timeout));
    assert!(policy::is_recorded_error(ErrorKind::Truncated));
}

#[test]
fn a_failing_spec_stops_unless_allowed_and_is_still_measured() {
    assert_eq!(
        after_probe(&probe(TakeVerdict::Pass), false),
        AfterProbe::GoOn
    );
    let stop = after_probe(&probe(TakeVerdict::Fail), false);
    assert_eq!(stop, AfterProbe::Stop);
    assert!(policy::qc_without_transcode(&stop));
    assert_eq!(
        after_probe(&probe(TakeVerdict::Fail), true),
        AfterProbe::GoOn
    );
    assert!(!policy::qc_without_transcode(&AfterProbe::GoOn));
}

#[test]
fn a_failed_transcode_record_names_the_error_and_no_run() {
    let record = policy::failed_transcode("t1", settings(), ErrorKind::Corrupt, "bad frame".into());
    assert_eq!(record.verdict, TakeVerdict::Error);
    assert_eq!(record.run, None);
    assert!(record.objects.is_empty());
    assert_eq!(
        record.error.map(|e| (e.kind, e.message)),
        Some((ErrorKind::Corrupt, "bad frame".into()))
    );
}

#[test]
fn caption_names_carry_the_signed_name_and_the_language() {
    let t = take();
    assert_eq!(policy::caption_language(&t, "ru"), "en");
    assert_eq!(
        caption_stem(&t, "en"),
        "physics-101-m01-l02-newtons-laws.en"
    );
}

#[test]
fn a_take_waits_for_its_transcode_and_its_captions() {
    let t = take();
    let mut s = state();
    assert_eq!(readiness(&t, &s), Ok(Readiness::Waiting));
    s.probe = Some(probe(TakeVerdict::Pass));
    assert_eq!(readiness(&t, &s), Ok(Readiness::Waiting));
    s.transcode = Some(transcode(TakeVerdict::Pass));
    assert_eq!(
        readiness(&t, &s),
        Ok(Readiness::Waiting),
        "captions pending"
    );
    s.caption_failed = Some("no audio track".into());
    let r = ready(readiness(&t, &s));
    assert_eq!(r.record.captions_missing.as_deref(), Some("no audio track"));
    assert_eq!(r.wanted.len(), 2, "{:?}", r.wanted);
}

#[test]
fn a_take_without_speech_is_ready_with_its_empty_srt_linked_as_recorded() {
    let t = take();
    let s = TakeState {
        probe: Some(probe(TakeVerdict::Pass)),
        transcode: Some(transcode(TakeVerdict::Pass)),
        caption: Some(silent_captions()),
        ..state()
    };
    let r = ready(readiness(&t, &s));
    let names: Vec<&str> = r.wanted.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "1080p",
            "poster",
            "captions.srt",
            "captions.txt",
            "captions.vtt"
        ]
    );
    let srt = &r.wanted[2];
    assert_eq!(srt.object.size_bytes, 0, "recorded as 0 bytes");
    assert_eq!(srt.download_name, "n.en.srt");
    assert_eq!(r.record.captions_missing, None);
    assert!(r.record.failures.is_empty(), "{:?}", r.record.failures);

    let notice = policy::notice(
        &t,
        &r.record,
        s.caption.as_ref(),
        Some("https://m.example/l/TOKEN"),
    );
    assert!(
        notice.subject.contains("is ready: Newton's laws"),
        "{}",
        notice.subject
    );
    assert!(
        notice.text.contains("no speech was heard"),
        "{}",
        notice.text
    );
}

#[test]
fn a_failed_spec_or_an_unreadable_take_is_ready_at_once_without_links() {
    let t = take();
    let failed = ready(readiness(
        &t,
        &TakeState {
            probe: Some(probe(TakeVerdict::Fail)),
            ..state()
        },
    ));
    assert_eq!(failed.record.spec, TakeVerdict::Fail);
    assert!(failed.record.failures[0].starts_with("video.resolution (clause 9.2)"));
    assert!(failed.wanted.is_empty());
    let notice = policy::notice(&t, &failed.record, None, None);
    assert!(
        notice.subject.contains("needs attention"),
        "{}",
        notice.subject
    );
    assert!(notice.text.contains("what to change"), "{}", notice.text);

    let dead = ready(readiness(
        &t,
        &TakeState {
            probe_failed: Some("corrupt: no moov".into()),
            ..state()
        },
    ));
    assert_eq!(
        dead.record.failures,
        ["the take could not be checked: corrupt: no moov"]
    );
    // A transient probe error on record (an older version wrote it) waits
    // for the retry.
    assert_eq!(
        readiness(
            &t,
            &TakeState {
                probe: Some(probe_error(ErrorKind::Io)),
                ..state()
            }
        ),
        Ok(Readiness::Waiting)
    );
}

#[test]
fn a_failed_verification_is_reported_without_links() {
    let t = take();
    let r = ready(readiness(
        &t,
        &TakeState {
            probe: Some(probe(TakeVerdict::Pass)),
            transcode: Some(transcode(TakeVerdict::Fail)),
            caption: Some(silent_captions()),
            ..state()
        },
    ));
    assert_eq!(r.record.transcode, Some(TakeVerdict::Fail));
    assert!(r.wanted.is_empty());
    assert_eq!(
        r.record.failures,
        ["1080p video.resolution: measured 1280x720"]
    );
}

#[test]
fn a_record_naming_an_output_its_run_did_not_store_is_refused() {
    let t = take();
    let mut bad = transcode(TakeVerdict::Pass);
    bad.objects.pop();
    let s = TakeState {
        probe: Some(probe(TakeVerdict::Pass)),
        transcode: Some(bad),
        captions_expected: false,
        ..TakeState::default()
    };
    assert!(matches!(
        readiness(&t, &s),
        Err(PolicyError::NotStored { file, .. }) if file == "renditions/n-poster.jpg"
    ));
    let mut legacy = transcode(TakeVerdict::Pass);
    legacy.run = None;
    let s = TakeState {
        transcode: Some(legacy),
        ..s
    };
    assert!(matches!(readiness(&t, &s), Err(PolicyError::NoRun { .. })));
}
