//! The raw-footage spec (REQUIREMENTS.md, clauses 9.1–9.2 and 9.5.1): one
//! function per rule, each turning measured facts into a verdict with the
//! measured value, the requirement and, on failure, what to change.
//!
//! A multicam ISO recording (9.5.1) holds several video streams: every one
//! is judged by the 9.1 rules, and a rule's row names each stream ("video
//! stream 2: 1280×720 progressive"), so the studio knows which camera to fix.

use moocpipe_proto::{
    AudioFacts, Interlacing, RuleId, RuleResult, StreamCounts, Verdict, VideoFacts,
};

/// Minimum bits per colour component (9.1.1).
pub const MIN_VIDEO_BIT_DEPTH: u32 = 8;
/// Minimum raw video stream bitrate (9.1.3).
pub const MIN_VIDEO_BITRATE_BPS: u64 = 50_000_000;
/// Minimum frame size (9.1.6).
pub const MIN_WIDTH: u32 = 1920;
pub const MIN_HEIGHT: u32 = 1080;
/// Minimum frame rate (9.1.7): 24p, where 23.976 (24000/1001) counts as 24p.
pub const MIN_FRAME_RATE: f64 = 24_000.0 / 1_001.0;
/// Minimum audio sample rate (9.2.1).
pub const MIN_SAMPLE_RATE: u32 = 48_000;
/// Minimum bits per audio sample (9.2.2).
pub const MIN_AUDIO_BIT_DEPTH: u32 = 20;
/// Minimum audio channels (9.2.3).
pub const MIN_CHANNELS: u32 = 2;
/// How far frames ÷ duration may stray from the declared rate before the
/// declared rate is distrusted.
const FRAME_RATE_TOLERANCE: f64 = 0.02;

/// Judges a take on every raw-footage rule, in the regulation's order.
/// Every video stream is judged by each 9.1 rule; see [`every_video`].
pub fn evaluate(
    video: &[VideoFacts],
    audio: &[AudioFacts],
    streams: StreamCounts,
) -> Vec<RuleResult> {
    vec![
        every_video(video, bit_depth),
        every_video(video, intraframe),
        every_video(video, bitrate),
        every_video(video, resolution),
        every_video(video, frame_rate),
        sample_rate(audio),
        audio_bit_depth(audio),
        channels(audio),
        take_streams(streams),
    ]
}

/// One 9.1 rule over every video stream. With one stream (or none) it is
/// the rule itself; with several, the verdict is the worst of the streams'
/// (fail, then cannot-tell, then pass), and the measured values and hints
/// name the stream each comes from ("video stream 2: …").
fn every_video(video: &[VideoFacts], rule: fn(Option<&VideoFacts>) -> RuleResult) -> RuleResult {
    if video.len() < 2 {
        return rule(video.first());
    }
    let results: Vec<RuleResult> = video.iter().map(|v| rule(Some(v))).collect();
    let severity = |v: Verdict| match v {
        Verdict::Fail => 2,
        Verdict::CannotTell => 1,
        _ => 0,
    };
    let verdict = results
        .iter()
        .map(|r| r.verdict)
        .max_by_key(|&v| severity(v))
        .unwrap_or(Verdict::Pass);
    let named = |i: usize, text: &str| format!("video stream {}: {text}", i + 1);
    let measured = results
        .iter()
        .enumerate()
        .map(|(i, r)| named(i, &r.measured))
        .collect::<Vec<_>>()
        .join("; ");
    let hints: Vec<String> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.verdict == Verdict::Fail)
        .filter_map(|(i, r)| r.hint.as_deref().map(|h| named(i, h)))
        .collect();
    RuleResult {
        measured,
        verdict,
        hint: (verdict == Verdict::Fail).then(|| hints.join("; ")),
        ..results[0].clone()
    }
}

fn result(
    id: RuleId,
    required: &str,
    measured: String,
    verdict: Verdict,
    hint: &str,
) -> RuleResult {
    RuleResult {
        id,
        clause: id.clause().to_string(),
        required: required.to_string(),
        measured,
        verdict,
        hint: (verdict == Verdict::Fail).then(|| hint.to_string()),
    }
}

fn pass_fail(ok: bool) -> Verdict {
    if ok {
        Verdict::Pass
    } else {
        Verdict::Fail
    }
}

const NO_VIDEO: &str = "no video stream";

fn bit_depth(v: Option<&VideoFacts>) -> RuleResult {
    let required = "≥ 8 bits per component";
    let hint = "re-export with at least 8 bits per component, e.g. ProRes 422 HQ (10-bit)";
    let id = RuleId::VideoBitDepth;
    match v {
        None => result(id, required, NO_VIDEO.into(), Verdict::Fail, hint),
        Some(v) => match v.bit_depth {
            Some(bits) => result(
                id,
                required,
                format!("{bits} bits ({})", v.codec),
                pass_fail(bits >= MIN_VIDEO_BIT_DEPTH),
                hint,
            ),
            None => result(
                id,
                required,
                format!("unknown: {} does not declare its bit depth", v.codec),
                Verdict::CannotTell,
                hint,
            ),
        },
    }
}

fn intraframe(v: Option<&VideoFacts>) -> RuleResult {
    let required = "every frame a key frame (0 delta frames)";
    let id = RuleId::VideoIntraframe;
    let Some(v) = v else {
        return result(
            id,
            required,
            NO_VIDEO.into(),
            Verdict::Fail,
            "export the take with its video stream",
        );
    };
    let hint = format!(
        "{} here is long-GOP; re-export with an intraframe codec (ProRes 422 HQ, DNxHR HQ, AVC-Intra)",
        v.codec
    );
    if v.frames == 0 {
        return result(
            id,
            required,
            "unknown: the stream holds no frames".into(),
            Verdict::CannotTell,
            &hint,
        );
    }
    result(
        id,
        required,
        format!("{} key, {} delta frames", v.key_frames, v.delta_frames),
        pass_fail(v.delta_frames == 0),
        &hint,
    )
}

fn bitrate(v: Option<&VideoFacts>) -> RuleResult {
    let required = "≥ 50 Mbit/s video stream";
    let hint = "re-export at a higher data rate: ProRes 422 HQ or DNxHR HQ gives well over 50 Mbit/s at 1080p";
    let id = RuleId::VideoBitrate;
    match v {
        None => result(id, required, NO_VIDEO.into(), Verdict::Fail, hint),
        Some(v) => match v.bitrate_bps {
            Some(bps) => result(
                id,
                required,
                format!("{:.1} Mbit/s", bps as f64 / 1e6),
                pass_fail(bps >= MIN_VIDEO_BITRATE_BPS),
                hint,
            ),
            None => result(
                id,
                required,
                "unknown: the video frames carry no timestamps to measure a duration".into(),
                Verdict::CannotTell,
                hint,
            ),
        },
    }
}

fn resolution(v: Option<&VideoFacts>) -> RuleResult {
    let required = "≥ 1920×1080, progressive (1080p)";
    let id = RuleId::VideoResolution;
    let Some(v) = v else {
        return result(
            id,
            required,
            NO_VIDEO.into(),
            Verdict::Fail,
            "record at 1920×1080 progressive",
        );
    };
    let measured = format!("{}×{} {}", v.width, v.height, v.interlacing);
    if v.width == 0 || v.height == 0 {
        return result(
            id,
            required,
            "unknown: the stream declares no frame size".into(),
            Verdict::CannotTell,
            "",
        );
    }
    let big_enough = v.width >= MIN_WIDTH && v.height >= MIN_HEIGHT;
    let hint = match (big_enough, v.interlacing) {
        (true, _) => "set the camera to progressive scan (1080p, not 1080i) and re-record, or deinterlace and re-export",
        (false, _) => "record and export at 1920×1080 (or larger), progressive",
    };
    match v.interlacing {
        Interlacing::Unknown if big_enough => result(
            id,
            required,
            format!("{}×{}, scan unknown", v.width, v.height),
            Verdict::CannotTell,
            hint,
        ),
        scan => result(
            id,
            required,
            measured,
            pass_fail(big_enough && scan == Interlacing::Progressive),
            hint,
        ),
    }
}

fn frame_rate(v: Option<&VideoFacts>) -> RuleResult {
    let required = "≥ 24 fps (23.976 counts as 24p)";
    let hint = "record at 24, 25 or 30 frames per second progressive (23.976 is accepted)";
    let id = RuleId::VideoFrameRate;
    let Some(v) = v else {
        return result(id, required, NO_VIDEO.into(), Verdict::Fail, hint);
    };
    // Frames over duration: the stream's real rate, whatever it declares.
    let effective = v
        .duration_seconds
        .filter(|d| *d > 0.0 && v.frames > 0)
        .map(|d| v.frames as f64 / d);
    let declared = v.frame_rate.and_then(|f| f.as_f64().map(|r| (f, r)));
    // Compare with a hair of tolerance: 24000/1001 must count, float noise must not fail it.
    let meets = |rate: f64| rate >= MIN_FRAME_RATE - 1e-3;
    match (declared, effective) {
        (Some((fraction, rate)), Some(eff)) if (eff - rate).abs() / rate > FRAME_RATE_TOLERANCE => result(
            id,
            required,
            format!(
                "unknown: the stream declares {fraction} ({rate:.3} fps) but holds {} frames in {:.3} s ({eff:.3} fps); variable frame rate?",
                v.frames,
                v.duration_seconds.unwrap_or_default()
            ),
            Verdict::CannotTell,
            hint,
        ),
        (Some((fraction, rate)), eff) => {
            let check = eff
                .map(|_| format!("; {} frames in {:.3} s", v.frames, v.duration_seconds.unwrap_or_default()))
                .unwrap_or_default();
            result(id, required, format!("{rate:.3} fps ({fraction}){check}"), pass_fail(meets(rate)), hint)
        }
        (None, Some(eff)) => result(
            id,
            required,
            format!("{eff:.3} fps ({} frames in {:.3} s; no declared rate)", v.frames, v.duration_seconds.unwrap_or_default()),
            pass_fail(meets(eff)),
            hint,
        ),
        (None, None) => result(id, required, "unknown: no declared rate and no timed frames".into(), Verdict::CannotTell, hint),
    }
}

/// Lists one value per audio stream: "48000 Hz" or "#1 48000 Hz, #2 44100 Hz".
fn per_stream(audio: &[AudioFacts], show: impl Fn(&AudioFacts) -> String) -> String {
    if audio.len() == 1 {
        return show(&audio[0]);
    }
    audio
        .iter()
        .enumerate()
        .map(|(i, a)| format!("#{} {}", i + 1, show(a)))
        .collect::<Vec<_>>()
        .join(", ")
}

const NO_AUDIO: &str = "no audio stream";

fn sample_rate(audio: &[AudioFacts]) -> RuleResult {
    let required = "≥ 48 kHz";
    let hint = "set the recorder to 48 kHz / 24-bit";
    let id = RuleId::AudioSampleRate;
    if audio.is_empty() {
        return result(
            id,
            required,
            NO_AUDIO.into(),
            Verdict::Fail,
            "export the take with its audio track (48 kHz / 24-bit PCM)",
        );
    }
    if audio.iter().any(|a| a.sample_rate.is_none()) {
        return result(
            id,
            required,
            "unknown: an audio stream declares no sample rate".into(),
            Verdict::CannotTell,
            hint,
        );
    }
    let measured = per_stream(audio, |a| {
        format!("{} Hz", a.sample_rate.unwrap_or_default())
    });
    let ok = audio
        .iter()
        .all(|a| a.sample_rate.unwrap_or_default() >= MIN_SAMPLE_RATE);
    result(id, required, measured, pass_fail(ok), hint)
}

fn audio_bit_depth(audio: &[AudioFacts]) -> RuleResult {
    let required = "≥ 20 bits per sample, uncompressed (PCM 24-bit or float)";
    let id = RuleId::AudioBitDepth;
    if audio.is_empty() {
        return result(
            id,
            required,
            NO_AUDIO.into(),
            Verdict::Fail,
            "export the take with its audio track (48 kHz / 24-bit PCM)",
        );
    }
    let measured = per_stream(audio, |a| match (a.bit_depth, a.compressed) {
        (Some(bits), false) => format!("{bits}-bit {}", a.codec),
        (Some(bits), true) => format!("{bits}-bit {}", a.codec),
        (None, true) => format!("compressed {} (no bit depth)", a.codec),
        (None, false) => format!("{} of unknown bit depth", a.codec),
    });
    let lossy = audio.iter().any(|a| a.compressed && a.bit_depth.is_none());
    if lossy {
        return result(
            id,
            required,
            measured,
            Verdict::Fail,
            "record or export uncompressed PCM audio at 24-bit (not AAC or MP3): set the recorder to 48 kHz / 24-bit",
        );
    }
    if audio.iter().any(|a| a.bit_depth.is_none()) {
        return result(
            id,
            required,
            format!("unknown: {measured}"),
            Verdict::CannotTell,
            "",
        );
    }
    let ok = audio
        .iter()
        .all(|a| a.bit_depth.unwrap_or_default() >= MIN_AUDIO_BIT_DEPTH);
    result(
        id,
        required,
        measured,
        pass_fail(ok),
        "set the recorder to 48 kHz / 24-bit",
    )
}

fn channels(audio: &[AudioFacts]) -> RuleResult {
    // Channels count across tracks: two mono tracks (as many field recorders
    // write them) make a stereo take.
    let required = "≥ 2 channels";
    let hint = "record in stereo (2 channels) or on two mono tracks";
    let id = RuleId::AudioChannels;
    if audio.is_empty() {
        return result(
            id,
            required,
            NO_AUDIO.into(),
            Verdict::Fail,
            "export the take with its audio track",
        );
    }
    if audio.iter().any(|a| a.channels.is_none()) {
        return result(
            id,
            required,
            "unknown: an audio stream declares no channel count".into(),
            Verdict::CannotTell,
            hint,
        );
    }
    let total: u32 = audio.iter().filter_map(|a| a.channels).sum();
    let measured = if audio.len() == 1 {
        format!("{total} channel{}", if total == 1 { "" } else { "s" })
    } else {
        format!("{total} channels in {} tracks", audio.len())
    };
    result(
        id,
        required,
        measured,
        pass_fail(total >= MIN_CHANNELS),
        hint,
    )
}

/// At least one video and one audio stream (9.2); several video streams
/// are a multicam ISO recording (9.5.1), each judged by the 9.1 rules.
fn take_streams(s: StreamCounts) -> RuleResult {
    let required = "≥ 1 video stream and ≥ 1 audio stream";
    let measured = format!(
        "{} video, {} audio{}",
        s.video,
        s.audio,
        if s.other > 0 {
            format!(", {} other", s.other)
        } else {
            String::new()
        }
    );
    let hint = if s.audio == 0 {
        "export the take with its audio track"
    } else {
        "export the take with its video stream"
    };
    result(
        RuleId::TakeStreams,
        required,
        measured,
        pass_fail(s.video >= 1 && s.audio >= 1),
        hint,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use moocpipe_proto::Fraction;

    fn video(num: i32, den: i32, frames: u64, seconds: f64) -> VideoFacts {
        VideoFacts {
            codec: "ProRes 422 HQ".into(),
            profile: Some("hq".into()),
            width: 1920,
            height: 1080,
            frame_rate: Some(Fraction { num, den }),
            interlacing: Interlacing::Progressive,
            bit_depth: Some(10),
            chroma: Some("4:2:2".into()),
            bitrate_bps: Some(180_000_000),
            bytes: 1,
            frames,
            key_frames: frames,
            delta_frames: 0,
            duration_seconds: Some(seconds),
        }
    }

    /// 48 kHz 24-bit PCM of `channels` channels.
    fn pcm(channels: u32) -> AudioFacts {
        AudioFacts {
            codec: "PCM".into(),
            compressed: false,
            sample_rate: Some(48_000),
            bit_depth: Some(24),
            sample_format: Some("S24LE".into()),
            channels: Some(channels),
            bytes: 1,
            duration_seconds: Some(1.0),
        }
    }

    #[test]
    fn ntsc_film_rate_counts_as_24p() {
        let v = video(24_000, 1_001, 24, 24.0 * 1001.0 / 24000.0);
        assert_eq!(frame_rate(Some(&v)).verdict, Verdict::Pass);
        let v = video(23, 1, 23, 1.0);
        assert_eq!(frame_rate(Some(&v)).verdict, Verdict::Fail);
    }

    #[test]
    fn declared_rate_contradicted_by_frames_cannot_be_told() {
        let v = video(25, 1, 12, 1.0);
        assert_eq!(frame_rate(Some(&v)).verdict, Verdict::CannotTell);
    }

    #[test]
    fn two_mono_tracks_make_stereo() {
        let mono = pcm(1);
        assert_eq!(
            channels(&[mono.clone(), mono.clone()]).verdict,
            Verdict::Pass
        );
        assert_eq!(channels(&[mono]).verdict, Verdict::Fail);
    }

    #[test]
    fn failures_carry_a_hint_and_passes_do_not() {
        let rules = evaluate(
            &[video(25, 1, 25, 1.0)],
            &[],
            StreamCounts {
                video: 1,
                audio: 0,
                other: 0,
            },
        );
        for r in &rules {
            assert_eq!(r.hint.is_some(), r.verdict == Verdict::Fail, "{r:?}");
        }
        assert_eq!(rules.len(), RuleId::RAW_SPEC.len());
        let ids: Vec<RuleId> = rules.iter().map(|r| r.id).collect();
        assert_eq!(ids, RuleId::RAW_SPEC);
    }

    #[test]
    fn every_video_stream_of_a_multicam_take_is_judged_and_named() {
        let streams = StreamCounts {
            video: 2,
            audio: 1,
            other: 0,
        };
        let stereo = pcm(2);
        let good = video(25, 1, 25, 1.0);
        let rules = evaluate(
            &[good.clone(), good.clone()],
            std::slice::from_ref(&stereo),
            streams,
        );
        assert!(
            rules.iter().all(|r| r.verdict == Verdict::Pass),
            "{rules:#?}"
        );

        let small = VideoFacts {
            width: 1280,
            height: 720,
            ..good.clone()
        };
        let rules = evaluate(&[good, small], &[stereo], streams);
        let resolution = &rules[3];
        assert_eq!(resolution.id, RuleId::VideoResolution);
        assert_eq!(resolution.verdict, Verdict::Fail);
        assert_eq!(
            resolution.measured,
            "video stream 1: 1920×1080 progressive; video stream 2: 1280×720 progressive"
        );
        let hint = resolution.hint.as_deref().unwrap_or_default();
        assert!(hint.starts_with("video stream 2: "), "{hint}");
        assert!(!hint.contains("video stream 1"), "{hint}");
        for r in rules.iter().filter(|r| r.id != RuleId::VideoResolution) {
            assert_eq!(r.verdict, Verdict::Pass, "{r:?}");
        }
    }

    #[test]
    fn a_take_needs_a_video_and_an_audio_stream() {
        let counts = |video, audio| StreamCounts {
            video,
            audio,
            other: 0,
        };
        assert_eq!(take_streams(counts(1, 1)).verdict, Verdict::Pass);
        assert_eq!(take_streams(counts(3, 2)).verdict, Verdict::Pass);
        assert_eq!(take_streams(counts(1, 0)).verdict, Verdict::Fail);
        assert_eq!(take_streams(counts(0, 1)).verdict, Verdict::Fail);
        assert_eq!(take_streams(counts(1, 1)).clause, "9.2, 9.5.1");
    }
}
