//! The embedded default: `moocpipe process` runs ingest, probe, transcode and
//! report in order in one process, over a local-folder store laid out as the
//! distributed mode's S3 store is. Every stage writes its record; a stage
//! whose record already exists for the same take (same take id) is skipped
//! unless forced, so a second run only does what is missing.

mod caption;
mod course;

use moocpipe_media::analyse::AnalysisSink;
use moocpipe_media::transcode::TranscodeProgress;
use moocpipe_media::MeasureOptions;
use moocpipe_probe::qc::QcSession;
use moocpipe_proto::{
    CaptionRecord, ProbeError, ProbeRecord, QcRecord, TakeRef, TakeVerdict, TranscodeRecord,
    SCHEMA_VERSION,
};
use moocpipe_qc::QcConfig;
use moocpipe_storage::layout::{self, Stage};
use moocpipe_storage::{LocalStore, StorageError};
use moocpipe_transcode::TranscodeConfig;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// How `process` runs.
#[derive(Debug, Clone, Default)]
pub struct ProcessOptions {
    /// Redo every stage even when its record exists.
    pub force: bool,
    /// Transcode takes that fail the raw-footage spec too.
    pub allow_noncompliant: bool,
    pub probe: MeasureOptions,
    pub transcode: TranscodeConfig,
    pub course_rules: moocpipe_report::CourseRules,
    pub qc: QcConfig,
    /// Skip the technical-quality measurements.
    pub no_qc: bool,
    /// Caption settings; `None` skips captions.
    pub caption: Option<moocpipe_caption::CaptionConfig>,
}

/// What happens, as it happens, for a progress display.
#[derive(Debug)]
pub enum Event<'a> {
    /// Work on a take starts; `index` counts from 1.
    Take {
        take: &'a TakeRef,
        index: usize,
        total: usize,
    },
    Probed {
        take: &'a TakeRef,
        record: &'a ProbeRecord,
        reused: bool,
    },
    Transcoding {
        take: &'a TakeRef,
        progress: &'a TranscodeProgress,
    },
    Transcoded {
        take: &'a TakeRef,
        record: &'a TranscodeRecord,
        reused: bool,
    },
    Qc {
        take: &'a TakeRef,
        record: &'a QcRecord,
        reused: bool,
    },
    /// Speech recognition under way: the fraction of the audio done.
    Captioning { take: &'a TakeRef, fraction: f64 },
    Captioned {
        take: &'a TakeRef,
        record: &'a CaptionRecord,
        reused: bool,
    },
    ReportWritten {
        course: &'a str,
        files: &'a [PathBuf],
    },
}

/// What became of one take.
#[derive(Debug, Clone, Serialize)]
pub struct TakeOutcome {
    pub take_id: String,
    pub key: String,
    pub course: String,
    pub title: String,
    /// The probe's verdict on the raw-footage spec.
    pub spec: TakeVerdict,
    /// The transcode's verdict; absent when it did not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcode: Option<TakeVerdict>,
    pub status: Status,
    /// Rendition files (platform first), as paths on disk.
    pub renditions: Vec<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hls_master: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poster: Option<PathBuf>,
    /// Suggested F-10 scores (0–3) for sound and picture, when measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sound_score: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_score: Option<u32>,
    /// Caption files (WebVTT, SRT, transcript), when made.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub captions: Vec<PathBuf>,
    /// Cues in the captions, when made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caption_cues: Option<u32>,
    /// Warnings of the caption record (no speech, low coverage…) and style
    /// violations, counted, for the summary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caption_warnings: Option<usize>,
    /// Why captions could not be made, when they could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caption_error: Option<String>,
    /// Why the take did not finish, in plain words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A take's end state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Renditions made and verified.
    Done,
    /// Fails the raw-footage spec; not transcoded (see `--allow-noncompliant`).
    NotTranscoded,
    /// A rendition failed its verification.
    VerificationFailed,
    /// The take could not be read or transcoded.
    Error,
    /// Stopped by the user before it finished.
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Done => "done",
            Status::NotTranscoded => "not-transcoded",
            Status::VerificationFailed => "verification-failed",
            Status::Error => "error",
            Status::Cancelled => "cancelled",
        }
    }
}

/// The run's result.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub store: PathBuf,
    pub takes: Vec<TakeOutcome>,
    /// Paths that do not fit the course layout, with why.
    pub layout_errors: Vec<String>,
    /// Files in course folders that are not takes or sidecars.
    pub ignored: Vec<PathBuf>,
    /// Segment-length reports written, per course.
    pub reports: Vec<CourseReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CourseReport {
    pub course: String,
    pub files: Vec<PathBuf>,
}

impl Summary {
    /// 0 when every take was transcoded and verified (and captioned, when
    /// captions are on); 1 when a take fails the spec or a verification, or
    /// its captions could not be made; 2 when something could not be read or
    /// run (errors outrank failures).
    pub fn exit_code(&self) -> u8 {
        let worst = self.takes.iter().map(|t| match t.status {
            Status::Done if t.caption_error.is_some() => 1,
            Status::Done => 0,
            Status::NotTranscoded | Status::VerificationFailed => 1,
            Status::Error | Status::Cancelled => 2,
        });
        let layout = if self.layout_errors.is_empty() { 0 } else { 2 };
        worst.chain(std::iter::once(layout)).max().unwrap_or(0)
    }
}

/// Processes every take found under `paths` into `store`.
pub fn process(
    paths: &[PathBuf],
    store: &LocalStore,
    options: &ProcessOptions,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<Summary, StorageError> {
    let found = moocpipe_ingest::discover(paths);
    let total = found.takes.len();
    let mut outcomes = Vec::new();
    for (index, (take, source)) in found.takes.iter().enumerate() {
        on_event(Event::Take {
            take,
            index: index + 1,
            total,
        });
        if cancel.load(Ordering::Relaxed) {
            outcomes.push(outcome(
                take,
                TakeVerdict::Error,
                None,
                Status::Cancelled,
                Some("stopped before it started".into()),
            ));
            continue;
        }
        outcomes.push(process_take(
            take, source, store, options, cancel, on_event,
        )?);
    }
    let reports = course::write_reports(&found.takes, store, options, on_event)?;
    Ok(Summary {
        store: store.root().to_path_buf(),
        takes: outcomes,
        layout_errors: found.errors.iter().map(|e| e.to_string()).collect(),
        ignored: found.ignored,
        reports,
    })
}

fn outcome(
    take: &TakeRef,
    spec: TakeVerdict,
    transcode: Option<TakeVerdict>,
    status: Status,
    note: Option<String>,
) -> TakeOutcome {
    TakeOutcome {
        take_id: take.take_id.clone(),
        key: take.key.clone(),
        course: take.course.clone(),
        title: take.title.clone(),
        spec,
        transcode,
        status,
        renditions: Vec::new(),
        hls_master: None,
        poster: None,
        sound_score: None,
        image_score: None,
        captions: Vec::new(),
        caption_cues: None,
        caption_warnings: None,
        caption_error: None,
        note,
    }
}

/// The probe record of a take: the stored one, or a fresh probe.
pub fn probe_take(
    take: &TakeRef,
    source: &Path,
    store: &LocalStore,
    options: &ProcessOptions,
) -> Result<(ProbeRecord, bool), StorageError> {
    let key = layout::record(&take.take_id, Stage::Probe);
    if !options.force {
        if let Some(record) = store.get_json::<ProbeRecord>(&key)? {
            return Ok((record, true));
        }
    }
    let record = moocpipe_probe::run(&take.key, source, &options.probe, &mut |_| {});
    store.put_json(&key, &record)?;
    Ok((record, false))
}

fn process_take(
    take: &TakeRef,
    source: &Path,
    store: &LocalStore,
    options: &ProcessOptions,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<TakeOutcome, StorageError> {
    let span = tracing::info_span!("take", take_id = %take.take_id, key = %take.key);
    let _enter = span.enter();
    store.put_json(&layout::record(&take.take_id, Stage::Ingest), take)?;
    let (probe, reused) = probe_take(take, source, store, options)?;
    on_event(Event::Probed {
        take,
        record: &probe,
        reused,
    });
    if probe.verdict == TakeVerdict::Error {
        let note = probe.error.as_ref().map(|e| e.message.clone());
        return Ok(outcome(take, probe.verdict, None, Status::Error, note));
    }

    // QC shares the transcode's decode when the transcode runs; otherwise
    // (not transcoded, or renditions recorded) it decodes the take itself.
    let qc_key = layout::record(&take.take_id, Stage::Qc);
    let stored_qc = if options.force || options.no_qc {
        None
    } else {
        store.get_json::<QcRecord>(&qc_key)?
    };
    let session = (stored_qc.is_none() && !options.no_qc).then(|| QcSession::new(&options.qc));
    let sink = session.as_ref().map(QcSession::sink);
    let (mut out, decoded) = transcode_part(
        take,
        source,
        &probe,
        store,
        options,
        cancel,
        sink.as_ref(),
        on_event,
    )?;
    let qc = match (stored_qc, session) {
        (Some(record), _) => Some((record, true)),
        (None, Some(session)) if out.status != Status::Cancelled => {
            let result = if decoded {
                session.finish(&take.key)
            } else {
                moocpipe_probe::qc::run(&take.key, source, &options.qc, cancel, &mut |_| {})
            };
            match result {
                Ok(record) => {
                    store.put_json(&qc_key, &record)?;
                    Some((record, false))
                }
                Err(e) => {
                    let note = format!("quality not measured: {e}");
                    out.note = Some(match out.note.take() {
                        Some(n) => format!("{n}; {note}"),
                        None => note,
                    });
                    None
                }
            }
        }
        _ => None,
    };
    if let Some((record, reused)) = qc {
        out.sound_score = Some(record.sound_score.score);
        out.image_score = Some(record.image_score.score);
        on_event(Event::Qc {
            take,
            record: &record,
            reused,
        });
    }

    // Captions go with published renditions.
    if let (Status::Done, Some(config)) = (out.status, &options.caption) {
        match caption::caption_take(take, source, store, options, config, cancel, on_event)? {
            caption::Captioned::Done { record, files } => {
                out.captions = files;
                out.caption_cues = Some(record.cues);
                out.caption_warnings = Some(record.warnings.len() + record.style_violations.len());
            }
            caption::Captioned::Failed(why) => out.caption_error = Some(why),
            caption::Captioned::Cancelled => {
                out.status = Status::Cancelled;
                out.note = Some("stopped by the user while captioning".into());
            }
        }
    }
    Ok(out)
}

/// The transcode half of a take: skipped for a take that fails the spec
/// (unless allowed) or whose renditions are recorded; else run, feeding
/// `analysis` too, and published. Returns the outcome and whether the take
/// was decoded to its end (so the analysis saw all of it).
#[allow(clippy::too_many_arguments)]
fn transcode_part(
    take: &TakeRef,
    source: &Path,
    probe: &ProbeRecord,
    store: &LocalStore,
    options: &ProcessOptions,
    cancel: &AtomicBool,
    analysis: Option<&Arc<Mutex<dyn AnalysisSink>>>,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<(TakeOutcome, bool), StorageError> {
    match probe.verdict {
        TakeVerdict::Fail | TakeVerdict::CannotTell if !options.allow_noncompliant => {
            let failing: Vec<&str> = probe
                .rules
                .iter()
                .filter(|r| r.verdict != moocpipe_proto::Verdict::Pass)
                .map(|r| r.id.as_str())
                .collect();
            let note = format!(
                "fails the raw-footage spec ({}); not transcoded (use --allow-noncompliant to transcode anyway)",
                failing.join(", ")
            );
            let out = outcome(take, probe.verdict, None, Status::NotTranscoded, Some(note));
            return Ok((out, false));
        }
        _ => {}
    }

    let record_key = layout::record(&take.take_id, Stage::Transcode);
    let stored = if options.force {
        None
    } else {
        store.get_json::<TranscodeRecord>(&record_key)?
    };
    let (record, reused) = match stored {
        Some(r)
            if r.verdict == TakeVerdict::Pass
                && store.exists(&layout::renditions(&take.take_id)) =>
        {
            (r, true)
        }
        _ => match transcode_take(
            take, source, probe, store, options, cancel, analysis, on_event,
        )? {
            Ok(r) => (r, false),
            Err(o) => return Ok((o, false)),
        },
    };
    on_event(Event::Transcoded {
        take,
        record: &record,
        reused,
    });
    let take_dir = store.path(&layout::take_dir(&take.take_id));
    let mut out = outcome(
        take,
        probe.verdict,
        Some(record.verdict),
        if record.verdict == TakeVerdict::Pass {
            Status::Done
        } else {
            Status::VerificationFailed
        },
        None,
    );
    if record.verdict == TakeVerdict::Pass {
        out.renditions = record
            .renditions
            .iter()
            .map(|r| take_dir.join(&r.file))
            .collect();
        out.hls_master = record.hls.as_ref().map(|h| take_dir.join(&h.master));
        out.poster = record.poster.as_ref().map(|p| take_dir.join(p));
    } else {
        let failed: Vec<String> = record
            .renditions
            .iter()
            .flat_map(|r| r.rules.iter().map(move |rule| (r, rule)))
            .filter(|(_, rule)| rule.verdict != moocpipe_proto::Verdict::Pass)
            .map(|(r, rule)| format!("{} {}: {}", r.name, rule.id, rule.measured))
            .chain(
                record
                    .hls
                    .iter()
                    .flat_map(|h| h.rules.iter())
                    .filter(|rule| rule.verdict != moocpipe_proto::Verdict::Pass)
                    .map(|rule| format!("{}: {}", rule.id, rule.measured)),
            )
            .collect();
        out.note = Some(format!(
            "verification failed: {}; nothing was published",
            failed.join("; ")
        ));
    }
    Ok((out, !reused))
}

/// Runs the transcode into a staging folder and publishes it when every
/// output passed; the record is written in every case but cancellation.
#[allow(clippy::too_many_arguments)]
fn transcode_take(
    take: &TakeRef,
    source: &Path,
    probe: &ProbeRecord,
    store: &LocalStore,
    options: &ProcessOptions,
    cancel: &AtomicBool,
    analysis: Option<&Arc<Mutex<dyn AnalysisSink>>>,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<Result<TranscodeRecord, TakeOutcome>, StorageError> {
    let staging = store.staging(&take.take_id)?;
    let out_dir = staging.path().join("renditions");
    let scratch = staging.path().join("scratch");
    for dir in [&out_dir, &scratch] {
        std::fs::create_dir_all(dir).map_err(|e| StorageError::Io {
            path: dir.clone(),
            message: e.to_string(),
        })?;
    }
    let source = moocpipe_media::Source::File(source.to_path_buf());
    let job = moocpipe_transcode::TranscodeJob {
        take,
        source: &source,
        probe,
        out_dir: &out_dir,
        scratch_dir: &scratch,
        analysis: analysis.map(|sink| (moocpipe_probe::qc::ANALYSIS_WIDTH, sink)),
    };
    let result = moocpipe_transcode::run(job, &options.transcode, cancel, &mut |p| {
        on_event(Event::Transcoding { take, progress: p })
    });
    let record_key = layout::record(&take.take_id, Stage::Transcode);
    match result {
        Ok(record) => {
            if record.verdict == TakeVerdict::Pass {
                store.publish_dir(&out_dir, &layout::renditions(&take.take_id))?;
            }
            store.put_json(&record_key, &record)?;
            Ok(Ok(record))
        }
        Err(e) if e.kind() == moocpipe_proto::ErrorKind::Cancelled => Ok(Err(outcome(
            take,
            probe.verdict,
            None,
            Status::Cancelled,
            Some("stopped by the user; nothing was published".into()),
        ))),
        Err(e) => {
            let record = TranscodeRecord {
                schema_version: SCHEMA_VERSION,
                take_id: take.take_id.clone(),
                verdict: TakeVerdict::Error,
                renditions: Vec::new(),
                hls: None,
                poster: None,
                settings: moocpipe_proto::transcode::EncodeSettings {
                    preset: options.transcode.preset.clone(),
                    audio_bitrate_bps: options.transcode.audio_bitrate_bps,
                    hls_segment_seconds: options.transcode.hls_segment_seconds,
                },
                error: Some(ProbeError {
                    kind: e.kind(),
                    message: e.to_string(),
                }),
            };
            store.put_json(&record_key, &record)?;
            Ok(Err(outcome(
                take,
                probe.verdict,
                Some(TakeVerdict::Error),
                Status::Error,
                Some(e.to_string()),
            )))
        }
    }
}
