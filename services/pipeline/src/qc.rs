//! The QC session (F-10 criteria 1–2): one decode of the take — the
//! transcode's, or one of its own — feeds the loudness and picture analyzers
//! of `moocpipe-qc`, which turn into a [`QcRecord`] with a suggested score.
//! Here rather than in the probe stage, so no stage crate imports another:
//! the runners wire the transcode's decode to it.

use moocpipe_media::analyse::{self, AnalysisSink, ANALYSIS_RATE};
use moocpipe_media::MediaError;
use moocpipe_proto::QcRecord;
use moocpipe_qc::{AudioAnalyzer, QcConfig, VideoAnalyzer};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

/// Width frames are scaled to for picture analysis: black, bars and frozen
/// frames are plain at 320 pixels, and a small frame keeps the decode cheap.
pub const ANALYSIS_WIDTH: u32 = 320;

/// The analyzers, created when the first chunk of each stream tells its format.
struct Analyzers {
    config: QcConfig,
    audio: Option<AudioAnalyzer>,
    video: Option<VideoAnalyzer>,
    /// Why audio could not be analysed, when it could not.
    audio_error: Option<String>,
}

impl AnalysisSink for Analyzers {
    fn audio(&mut self, channels: u32, pts_seconds: f64, samples: &[f32]) {
        if self.audio.is_none() && self.audio_error.is_none() {
            match AudioAnalyzer::new(ANALYSIS_RATE, channels, &self.config) {
                Ok(a) => self.audio = Some(a),
                Err(e) => self.audio_error = Some(e.to_string()),
            }
        }
        if let Some(a) = &mut self.audio {
            if let Err(e) = a.push(pts_seconds, samples) {
                self.audio_error = Some(e.to_string());
            }
        }
    }

    fn video(&mut self, width: u32, height: u32, pts_seconds: f64, luma: &[u8], stride: usize) {
        let v = self
            .video
            .get_or_insert_with(|| VideoAnalyzer::new(width, height, &self.config));
        v.push(pts_seconds, luma, stride);
    }
}

/// One take's analysis: feed [`QcSession::sink`] from a decode (its own, or
/// the transcode's), then [`QcSession::finish`].
pub struct QcSession {
    config: QcConfig,
    analyzers: Arc<Mutex<Analyzers>>,
}

impl QcSession {
    pub fn new(config: &QcConfig) -> Self {
        QcSession {
            config: config.clone(),
            analyzers: Arc::new(Mutex::new(Analyzers {
                config: config.clone(),
                audio: None,
                video: None,
                audio_error: None,
            })),
        }
    }

    /// Where decoded media goes; frames at [`ANALYSIS_WIDTH`].
    pub fn sink(&self) -> Arc<Mutex<dyn AnalysisSink>> {
        self.analyzers.clone()
    }

    /// The record of everything the sink was fed.
    pub fn finish(self, file: &str) -> Result<QcRecord, MediaError> {
        let mut guard = self.analyzers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = guard.audio_error.take() {
            return Err(MediaError::Internal {
                file: file.to_string(),
                message: format!("loudness analysis failed: {e}"),
            });
        }
        let audio = guard.audio.take().map(AudioAnalyzer::finish);
        let video = guard.video.take().map(VideoAnalyzer::finish);
        let record = moocpipe_qc::record(file, audio, video, &self.config);
        tracing::info!(
            sound = record.sound_score.score,
            image = record.image_score.score,
            findings = record.findings.len(),
            "measured quality"
        );
        Ok(record)
    }
}

/// Measures the technical quality of the take at `path` with a decode of its
/// own; `file` is the name the record and errors use. Only reads the file.
pub fn run(
    file: &str,
    path: &Path,
    config: &QcConfig,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(f64),
) -> Result<QcRecord, MediaError> {
    let span = tracing::info_span!("qc", file);
    let _enter = span.enter();
    let session = QcSession::new(config);
    analyse::analyse(file, path, ANALYSIS_WIDTH, session.sink(), cancel, progress)?;
    session.finish(file)
}
