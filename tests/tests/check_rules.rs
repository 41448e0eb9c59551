//! One test per raw-footage rule for pass and for fail, on media generated at
//! test time, through the moocpipe binary as a user runs it.

use moocpipe_proto::{ProbeRecord, RuleId, RuleResult, TakeVerdict, Verdict};
use moocpipe_tests::cli::check_one;
use moocpipe_tests::media;

fn rule(record: &ProbeRecord, id: RuleId) -> &RuleResult {
    assert!(
        record.error.is_none(),
        "{} could not be checked: {:?}",
        record.file,
        record.error
    );
    record
        .rules
        .iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("{} has no {id} verdict", record.file))
}

fn assert_rule(file: std::path::PathBuf, id: RuleId, expected: Verdict) -> ProbeRecord {
    let record = check_one(&file);
    let r = rule(&record, id);
    assert_eq!(r.verdict, expected, "{id} on {}: {r:?}", file.display());
    assert_eq!(r.clause, id.clause());
    assert_eq!(
        r.hint.is_some(),
        expected == Verdict::Fail,
        "a failure and only a failure carries a hint: {r:?}"
    );
    record
}

#[test]
fn compliant_prores_take_passes_every_rule() {
    let record = check_one(&media::compliant_prores_mov());
    assert_eq!(record.verdict, TakeVerdict::Pass, "{record:#?}");
    let ids: Vec<RuleId> = record.rules.iter().map(|r| r.id).collect();
    assert_eq!(
        ids,
        RuleId::RAW_SPEC,
        "every rule, in the regulation's order"
    );
    assert!(record.warnings.is_empty(), "{:?}", record.warnings);
}

#[test]
fn video_bit_depth_passes_for_10_bit_prores() {
    let record = assert_rule(
        media::compliant_prores_mov(),
        RuleId::VideoBitDepth,
        Verdict::Pass,
    );
    assert_eq!(record.video.as_ref().and_then(|v| v.bit_depth), Some(10));
}

#[test]
fn video_bit_depth_fails_for_5_bit_rgb() {
    let record = assert_rule(media::rgb555_mov(), RuleId::VideoBitDepth, Verdict::Fail);
    assert_eq!(record.video.as_ref().and_then(|v| v.bit_depth), Some(5));
}

#[test]
fn video_intraframe_passes_for_all_intra_h264() {
    // Decided by the frames, not by the codec's name.
    let record = assert_rule(
        media::h264_all_intra_aac_mp4(),
        RuleId::VideoIntraframe,
        Verdict::Pass,
    );
    let v = record.video.expect("video facts");
    assert_eq!(v.codec, "H.264");
    assert_eq!((v.key_frames, v.delta_frames), (25, 0));
}

#[test]
fn video_intraframe_fails_for_long_gop_h264() {
    let record = assert_rule(
        media::h264_long_gop_mov(),
        RuleId::VideoIntraframe,
        Verdict::Fail,
    );
    let v = record.video.expect("video facts");
    assert_eq!(v.key_frames + v.delta_frames, 25);
    assert_eq!(v.key_frames, 3, "a key frame every 10 frames in 25");
}

#[test]
fn video_bitrate_passes_for_prores_hq() {
    let record = assert_rule(
        media::compliant_prores_mov(),
        RuleId::VideoBitrate,
        Verdict::Pass,
    );
    assert!(record.video.and_then(|v| v.bitrate_bps).unwrap_or(0) >= 50_000_000);
}

#[test]
fn video_bitrate_fails_below_50_mbit() {
    let record = assert_rule(
        media::prores_standard_low_rate(),
        RuleId::VideoBitrate,
        Verdict::Fail,
    );
    let bps = record
        .video
        .and_then(|v| v.bitrate_bps)
        .expect("a measured bitrate");
    assert!((10_000_000..50_000_000).contains(&bps), "{bps}");
}

#[test]
fn video_resolution_passes_for_1080p() {
    assert_rule(
        media::compliant_prores_mov(),
        RuleId::VideoResolution,
        Verdict::Pass,
    );
}

#[test]
fn video_resolution_fails_for_720p() {
    let record = assert_rule(media::prores_720p(), RuleId::VideoResolution, Verdict::Fail);
    let v = record.video.expect("video facts");
    assert_eq!((v.width, v.height), (1280, 720));
}

#[test]
fn video_resolution_fails_for_1080i() {
    let record = assert_rule(
        media::prores_interlaced(),
        RuleId::VideoResolution,
        Verdict::Fail,
    );
    let v = record.video.expect("video facts");
    assert_eq!((v.width, v.height), (1920, 1080));
    assert_eq!(v.interlacing, moocpipe_proto::Interlacing::Interlaced);
}

#[test]
fn video_frame_rate_passes_for_23_976() {
    let record = assert_rule(
        media::prores_23_976(),
        RuleId::VideoFrameRate,
        Verdict::Pass,
    );
    let rate = record
        .video
        .and_then(|v| v.frame_rate)
        .expect("a frame rate");
    assert_eq!((rate.num, rate.den), (24_000, 1_001));
}

#[test]
fn video_frame_rate_fails_for_15_fps() {
    assert_rule(media::prores_15fps(), RuleId::VideoFrameRate, Verdict::Fail);
}

#[test]
fn audio_sample_rate_passes_at_48k() {
    assert_rule(
        media::compliant_prores_mov(),
        RuleId::AudioSampleRate,
        Verdict::Pass,
    );
}

#[test]
fn audio_sample_rate_fails_at_44k1() {
    let record = assert_rule(
        media::prores_pcm_44k(),
        RuleId::AudioSampleRate,
        Verdict::Fail,
    );
    assert_eq!(record.audio[0].sample_rate, Some(44_100));
}

#[test]
fn audio_bit_depth_passes_for_24_bit_and_float_pcm() {
    assert_rule(
        media::compliant_prores_mov(),
        RuleId::AudioBitDepth,
        Verdict::Pass,
    );
    let record = assert_rule(
        media::prores_pcm_float(),
        RuleId::AudioBitDepth,
        Verdict::Pass,
    );
    assert_eq!(record.audio[0].bit_depth, Some(32));
}

#[test]
fn audio_bit_depth_fails_for_16_bit_pcm() {
    let record = assert_rule(
        media::prores_pcm_16bit(),
        RuleId::AudioBitDepth,
        Verdict::Fail,
    );
    assert_eq!(record.audio[0].bit_depth, Some(16));
}

#[test]
fn audio_bit_depth_fails_for_aac() {
    let record = assert_rule(
        media::h264_all_intra_aac_mp4(),
        RuleId::AudioBitDepth,
        Verdict::Fail,
    );
    assert_eq!(record.audio[0].codec, "AAC");
    assert!(record.audio[0].compressed);
}

#[test]
fn audio_channels_passes_for_stereo_and_two_mono_tracks() {
    assert_rule(
        media::compliant_prores_mov(),
        RuleId::AudioChannels,
        Verdict::Pass,
    );
    let record = assert_rule(
        media::prores_two_mono_tracks(),
        RuleId::AudioChannels,
        Verdict::Pass,
    );
    assert_eq!(record.streams.audio, 2);
}

#[test]
fn audio_channels_fails_for_mono() {
    assert_rule(
        media::prores_pcm_mono(),
        RuleId::AudioChannels,
        Verdict::Fail,
    );
}

#[test]
fn take_streams_passes_for_one_video_and_audio() {
    assert_rule(
        media::compliant_prores_mov(),
        RuleId::TakeStreams,
        Verdict::Pass,
    );
}

#[test]
fn take_streams_fails_without_audio_and_audio_rules_do_not_pass() {
    let record = assert_rule(
        media::prores_hq_video_only(),
        RuleId::TakeStreams,
        Verdict::Fail,
    );
    for id in [
        RuleId::AudioSampleRate,
        RuleId::AudioBitDepth,
        RuleId::AudioChannels,
    ] {
        assert_eq!(
            rule(&record, id).verdict,
            Verdict::Fail,
            "{id} without audio"
        );
    }
}

#[test]
fn take_streams_passes_a_multicam_take_with_two_compliant_video_streams() {
    // Clause 9.5.1: a multicam ISO recording holds a stream per camera.
    let record = assert_rule(
        media::prores_two_video_streams(),
        RuleId::TakeStreams,
        Verdict::Pass,
    );
    assert_eq!(record.streams.video, 2);
    assert_eq!(record.more_video.len(), 1, "the second camera's facts");
    assert_eq!(record.verdict, TakeVerdict::Pass, "{record:#?}");
    let bit_depth = rule(&record, RuleId::VideoBitDepth);
    assert!(
        bit_depth.measured.starts_with("video stream 1: 10 bits")
            && bit_depth.measured.contains("; video stream 2: 10 bits"),
        "every stream named: {bit_depth:?}"
    );
}

/// Two cameras in one file, the second at 1280×720: the first camera's
/// 1080p ProRes and its sound, plus the 720p ProRes, copied without
/// re-encoding into `ext` (mov or mkv) by ffmpeg.
fn multicam_with_a_720p_camera(dir: &std::path::Path, ext: &str) -> std::path::PathBuf {
    let out = dir.join(format!("multicam.{ext}"));
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(media::compliant_prores_mov())
        .arg("-i")
        .arg(media::prores_720p())
        .args(["-map", "0:v", "-map", "1:v", "-map", "0:a", "-c", "copy"])
        .arg(&out)
        .status()
        .expect("ffmpeg (the test script installs it)");
    assert!(status.success(), "ffmpeg made no {}", out.display());
    out
}

#[test]
fn a_multicam_take_fails_naming_the_noncompliant_video_stream() {
    let dir = tempfile::tempdir().expect("tempdir");
    for ext in ["mov", "mkv"] {
        let file = multicam_with_a_720p_camera(dir.path(), ext);
        let record = assert_rule(file.clone(), RuleId::VideoResolution, Verdict::Fail);
        let name = file.display();
        assert_eq!(record.streams.video, 2, "{name}");
        assert_eq!(rule(&record, RuleId::TakeStreams).verdict, Verdict::Pass);
        let resolution = rule(&record, RuleId::VideoResolution);
        assert_eq!(
            resolution.measured,
            "video stream 1: 1920×1080 progressive; video stream 2: 1280×720 progressive",
            "{name}"
        );
        let hint = resolution.hint.as_deref().unwrap_or_default();
        assert!(
            hint.starts_with("video stream 2: ") && !hint.contains("video stream 1"),
            "{name}: the hint names the failing camera only: {hint}"
        );
        assert_eq!(rule(&record, RuleId::VideoResolution).clause, "9.1.6");
        // The other video rules pass for both cameras.
        for id in [
            RuleId::VideoBitDepth,
            RuleId::VideoIntraframe,
            RuleId::VideoFrameRate,
        ] {
            assert_eq!(rule(&record, id).verdict, Verdict::Pass, "{name}: {id}");
        }
        let second = record.more_video.first().expect("the second camera");
        assert_eq!((second.width, second.height), (1280, 720), "{name}");
        assert_eq!(record.verdict, TakeVerdict::Fail, "{name}");
    }
}
