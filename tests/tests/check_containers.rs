//! Containers and codecs beyond ProRes in MOV, with ffprobe and mediainfo as
//! independent oracles of the facts moocpipe measures.

use moocpipe_proto::{Interlacing, TakeVerdict};
use moocpipe_tests::cli::check_one;
use moocpipe_tests::media;
use moocpipe_tests::oracle::{ffprobe_stream, ffprobe_video_bytes, mediainfo_track, num};
use std::path::Path;

/// moocpipe's video and audio facts agree with ffprobe's and mediainfo's.
fn confirm_with_oracles(file: &Path) -> moocpipe_proto::ProbeRecord {
    let record = check_one(file);
    assert!(record.error.is_none(), "{:?}", record.error);
    let v = record.video.clone().expect("video facts");
    let fv = ffprobe_stream(file, "video");
    assert_eq!(f64::from(v.width), num(&fv, "width"), "width");
    assert_eq!(f64::from(v.height), num(&fv, "height"), "height");
    assert_eq!(v.frames as f64, num(&fv, "nb_read_packets"), "frames");
    let r_frame_rate = fv["r_frame_rate"].as_str().unwrap_or_default().to_string();
    let rate = v.frame_rate.expect("a frame rate");
    assert_eq!(
        format!("{}/{}", rate.num, rate.den),
        r_frame_rate,
        "frame rate"
    );
    assert_eq!(v.bytes, ffprobe_video_bytes(file), "video stream bytes");
    let mi = mediainfo_track(file, "Video");
    let mi_rate = num(&mi, "BitRate");
    if mi_rate.is_finite() {
        let ours = v.bitrate_bps.expect("bitrate") as f64;
        // mediainfo divides by the container's duration where it has no
        // stream duration (Matroska), which runs a frame or so longer.
        assert!(
            (ours - mi_rate).abs() / mi_rate < 0.05,
            "bitrate {ours} vs mediainfo {mi_rate}"
        );
    }
    if let Some(a) = record.audio.first() {
        let fa = ffprobe_stream(file, "audio");
        assert_eq!(
            a.sample_rate.map(f64::from),
            Some(num(&fa, "sample_rate")),
            "sample rate"
        );
        assert_eq!(
            a.channels.map(f64::from),
            Some(num(&fa, "channels")),
            "channels"
        );
    }
    record
}

#[test]
fn prores_in_mov_matches_the_oracles() {
    let record = confirm_with_oracles(&media::compliant_prores_mov());
    let v = record.video.expect("video");
    assert_eq!(v.codec, "ProRes 422 HQ");
    assert_eq!(v.chroma.as_deref(), Some("4:2:2"));
    assert_eq!(record.container.as_deref(), Some("QuickTime"));
    let mi = mediainfo_track(&media::compliant_prores_mov(), "Audio");
    assert_eq!(
        record.audio[0].bit_depth.map(f64::from),
        Some(num(&mi, "BitDepth"))
    );
}

#[test]
fn dnxhd_in_mxf_is_a_compliant_take() {
    let file = media::dnxhd_mxf();
    let record = confirm_with_oracles(&file);
    assert_eq!(record.container.as_deref(), Some("MXF"));
    let v = record.video.clone().expect("video");
    assert_eq!(v.codec, "DNxHD");
    assert_eq!(v.bit_depth, Some(8));
    assert_eq!(record.verdict, TakeVerdict::Pass, "{record:#?}");
}

#[test]
fn dnxhr_in_mov_is_read_despite_its_avdh_fourcc() {
    let file = media::dnxhr_mov();
    let record = confirm_with_oracles(&file);
    let v = record.video.clone().expect("video");
    assert_eq!(v.codec, "DNxHR HQ");
    assert_eq!(v.bit_depth, Some(8));
    assert_eq!(v.interlacing, Interlacing::Progressive);
    assert_eq!(ffprobe_stream(&file, "video")["profile"], "DNXHR HQ");
    assert_eq!(record.verdict, TakeVerdict::Pass, "{record:#?}");
}

#[test]
fn mjpeg_in_matroska_is_read() {
    let record = confirm_with_oracles(&media::mjpeg_mkv());
    assert_eq!(record.container.as_deref(), Some("Matroska"));
    let v = record.video.expect("video");
    assert_eq!(v.codec, "Motion JPEG");
    assert_eq!(v.delta_frames, 0);
}

#[test]
fn h264_in_mp4_is_read() {
    let record = confirm_with_oracles(&media::h264_all_intra_aac_mp4());
    assert_eq!(record.container.as_deref(), Some("MP4"));
    let v = record.video.expect("video");
    assert_eq!(v.bit_depth, Some(8));
    assert_eq!(v.chroma.as_deref(), Some("4:2:0"));
}

#[test]
fn interlaced_prores_matches_ffprobe_field_order() {
    let file = media::prores_interlaced();
    let record = check_one(&file);
    assert_eq!(
        record.video.expect("video").interlacing,
        Interlacing::Interlaced
    );
    assert_eq!(ffprobe_stream(&file, "video")["field_order"], "tt");
}

#[test]
fn a_misleading_extension_is_a_warning_not_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let renamed = dir.path().join("take.mxf");
    std::fs::copy(media::compliant_prores_mov(), &renamed).expect("copy");
    let record = check_one(&renamed);
    assert_eq!(record.verdict, TakeVerdict::Pass);
    assert!(
        record
            .warnings
            .iter()
            .any(|w| w.contains(".mxf") && w.contains("QuickTime")),
        "{:?}",
        record.warnings
    );
}
