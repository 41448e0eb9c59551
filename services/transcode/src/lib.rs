//! The transcode stage: from a probed raw take, the platform renditions (an
//! H.264 ladder in MP4 with the index at the front), an HLS package over the
//! ladder and a poster, all from one decode; then every output is verified by
//! probing it with the same code as `moocpipe check`.
//!
//! Knows nothing of queues or stores: it writes into a folder it is given and
//! returns a [`TranscodeRecord`].

pub mod hls;
pub mod ladder;
pub mod naming;
pub mod verify;

pub use ladder::{RungConfig, TranscodeConfig};

use moocpipe_media::analyse::AnalysisSink;
use moocpipe_media::transcode::{PosterPlan, RungPlan, TranscodePlan, TranscodeProgress};
use moocpipe_media::{MediaError, Source};
use moocpipe_proto::transcode::EncodeSettings;
use moocpipe_proto::{
    ErrorKind, ProbeRecord, TakeRef, TakeVerdict, TranscodeRecord, SCHEMA_VERSION,
};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where the outputs are referenced from: paths in the record are
/// `renditions/<file>`, relative to the take's folder.
pub const RENDITIONS_PREFIX: &str = "renditions";

#[derive(Debug, thiserror::Error)]
pub enum TranscodeError {
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error("{file}: cannot transcode: {reason}")]
    NotTranscodable { file: String, reason: String },
    #[error("{path}: {message}")]
    Output { path: PathBuf, message: String },
}

impl TranscodeError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            TranscodeError::Media(e) => e.kind(),
            TranscodeError::NotTranscodable { .. } => ErrorKind::NoVideoStream,
            TranscodeError::Output { .. } => ErrorKind::Io,
        }
    }
}

/// One take to transcode: the raw take of `take` at `source`, measured in
/// `probe`; outputs go to `out_dir` (which becomes the take's `renditions/`
/// folder), scratch files to `scratch_dir`.
#[derive(Clone, Copy)]
pub struct TranscodeJob<'a> {
    pub take: &'a TakeRef,
    pub source: &'a Source,
    pub probe: &'a ProbeRecord,
    pub out_dir: &'a Path,
    pub scratch_dir: &'a Path,
    /// A technical-quality analysis to feed from the same decode, with the
    /// width its frames are scaled to.
    pub analysis: Option<(u32, &'a Arc<Mutex<dyn AnalysisSink>>)>,
}

/// Runs a transcode job. A record with `verdict: fail` means an output failed
/// its verification; `Err` means the transcode could not run.
pub fn run(
    job: TranscodeJob<'_>,
    config: &TranscodeConfig,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(&TranscodeProgress),
) -> Result<TranscodeRecord, TranscodeError> {
    let TranscodeJob {
        take,
        source,
        probe,
        out_dir,
        scratch_dir,
        analysis,
    } = job;
    let span = tracing::info_span!("transcode", take_id = %take.take_id);
    let _enter = span.enter();
    let file = source.name_path().display().to_string();
    let video = probe
        .video
        .as_ref()
        .ok_or_else(|| TranscodeError::NotTranscodable {
            file: file.clone(),
            reason: "the probe found no video stream".into(),
        })?;
    let rungs = ladder::plan(config, video.width, video.height).map_err(|reason| {
        TranscodeError::NotTranscodable {
            file: file.clone(),
            reason,
        }
    })?;
    let fps = video.frame_rate.and_then(|f| f.as_f64()).unwrap_or(25.0);
    let base = naming::base_name(take);
    let hls_root = out_dir.join("hls");
    let mut plans = Vec::new();
    for rung in &rungs {
        let hls_dir = hls_root.join(&rung.name);
        std::fs::create_dir_all(&hls_dir).map_err(|e| TranscodeError::Output {
            path: hls_dir.clone(),
            message: e.to_string(),
        })?;
        plans.push(RungPlan {
            name: rung.name.clone(),
            width: rung.width,
            height: rung.height,
            bitrate_bps: rung.bitrate_bps,
            mp4: out_dir.join(format!("{base}-{}.mp4", rung.name)),
            hls_dir: Some(hls_dir),
        });
    }
    let duration = video.duration_seconds.map(Duration::from_secs_f64);
    // The platform rung's index: its size for the poster, its MP4 for the
    // poster's fallback.
    let platform = rungs.iter().position(|r| r.platform);
    let poster_name = format!("{base}-poster.jpg");
    let poster = platform.map(|i| PosterPlan {
        path: out_dir.join(&poster_name),
        at: duration.unwrap_or_default().mul_f64(config.poster_at),
        width: rungs[i].width,
        height: rungs[i].height,
    });
    let plan = TranscodePlan {
        source: source.clone(),
        rungs: plans,
        audio: probe.streams.audio > 0,
        audio_bitrate_bps: config.audio_bitrate_bps,
        preset: config.preset.clone(),
        key_int: ((fps * 2.0).round() as u32).max(1),
        hls_segment_seconds: config.hls_segment_seconds,
        title: take.title.clone(),
        duration,
        scratch_dir: scratch_dir.to_path_buf(),
        analysis: analysis.map(|(width, sink)| (width, sink.clone())),
        poster,
    };
    moocpipe_media::transcode::transcode(&file, &plan, cancel, progress)?;

    let hls = hls::write_master(out_dir, &rungs, fps, config.audio_bitrate_bps)?;
    let renditions = verify::renditions(take, probe, config, &rungs, &plan, out_dir);
    let hls = hls::verify(out_dir, hls, video.duration_seconds);

    let poster = match (&plan.poster, platform) {
        (Some(poster), Some(i)) => {
            let written = std::fs::metadata(&poster.path).is_ok_and(|m| m.len() > 0);
            if !written {
                // No frame at or after the poster's time reached the
                // branch: take the key frame nearest it from the rendition.
                tracing::debug!(
                    at = ?poster.at,
                    "no frame at or after the poster's time: poster from the rendition"
                );
                moocpipe_media::transcode::poster(
                    &file,
                    &plan.rungs[i].mp4,
                    poster.at,
                    &poster.path,
                )?;
            }
            Some(format!("{RENDITIONS_PREFIX}/{poster_name}"))
        }
        _ => None,
    };

    let all_rules = renditions
        .iter()
        .flat_map(|r| r.rules.iter())
        .chain(hls.rules.iter());
    let failed = all_rules
        .clone()
        .any(|r| r.verdict != moocpipe_proto::Verdict::Pass);
    tracing::info!(failed, renditions = renditions.len(), "transcoded");
    Ok(TranscodeRecord {
        schema_version: SCHEMA_VERSION,
        take_id: take.take_id.clone(),
        verdict: if failed {
            TakeVerdict::Fail
        } else {
            TakeVerdict::Pass
        },
        renditions,
        hls: Some(hls),
        poster,
        settings: EncodeSettings {
            preset: config.preset.clone(),
            audio_bitrate_bps: config.audio_bitrate_bps,
            hls_segment_seconds: config.hls_segment_seconds,
        },
        error: None,
        // The runner names the run and its objects once they are stored.
        run: None,
        objects: Vec::new(),
    })
}
