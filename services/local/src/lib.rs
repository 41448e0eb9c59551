//! The local runner: `moocpipe process` runs ingest, probe, transcode (with
//! QC), captions and the course report in order in one process, over a
//! local-folder store laid out as the distributed runner's S3 store is.
//!
//! The policy (what to skip, whether a take goes on after the spec, what a
//! failure records, the output names) and the store side (run prefixes,
//! records naming every object with size and checksum, other runs removed)
//! are the distributed runner's too, from `moocpipe-pipeline`; its async
//! store steps run here on a current-thread tokio runtime over
//! `LocalStore`. Every stage writes its record; a stage whose record exists
//! for the same take (same take id) is skipped unless forced, so a second
//! run only does what is missing.
//!
//! **Runs.** One `process` invocation is one run, named `local-<unix
//! milliseconds>-<pid>` (unique per invocation); a stage's outputs are
//! renamed from the staging folder into `takes/<id>/runs/<run>/<output>`
//! (a rename, not a copy: staging is inside the store), described with a
//! HEAD, named by the record, and the take's other runs of that output are
//! removed once the record is written.
//!
//! **Materials.** The files of a course folder that are not takes (a
//! syllabus, slides, images, archives) are checked by their content and
//! published before the takes are processed (they take seconds), each
//! once per version of its file (`materials.rs`).

mod caption;
mod course;
mod materials;

pub use materials::MaterialOutcome;

/// Where take files given alone go (`--course`, `--module`, `--lesson`).
pub use moocpipe_ingest::Loose;
/// The QC session and its own-decode run (`moocpipe qc` uses it too).
pub use moocpipe_pipeline::qc;

use moocpipe_media::analyse::AnalysisSink;
use moocpipe_media::transcode::TranscodeProgress;
use moocpipe_media::MeasureOptions;
use moocpipe_pipeline::policy::{self, AfterProbe};
use moocpipe_pipeline::qc::QcSession;
use moocpipe_pipeline::{sequencer, PipelineError, RunContext};
use moocpipe_proto::{CaptionRecord, ProbeRecord, QcRecord, TakeRef, TakeVerdict, TranscodeRecord};
use moocpipe_qc::QcConfig;
use moocpipe_storage::layout::{self, Output, Record};
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
    /// Where take files given alone go when their folders do not place
    /// them (or always, when explicit); `None`: such a file is a layout
    /// error.
    pub loose: Option<Loose>,
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
    /// Something worth telling that stops nothing (e.g. an invalid
    /// `course.json`, which is then not copied).
    Warning { message: &'a str },
    /// A course material was checked (and published, when it passed).
    Material { outcome: &'a MaterialOutcome },
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
    /// Course materials: checked by their content, published or not.
    pub materials: Vec<MaterialOutcome>,
    /// Files in course folders that are neither takes, sidecars nor
    /// materials.
    pub ignored: Vec<PathBuf>,
    /// Take files given alone outside a course folder, and where they were
    /// placed (`<course>/<NN>/<NN>/<file>`).
    pub placed_loose: Vec<(PathBuf, String)>,
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
    /// captions are on) and every material published; 1 when a take fails
    /// the spec or a verification, its captions could not be made, or a
    /// material is not what its name claims (or is empty, or of a type not
    /// accepted); 2 when something could not be read or run — a take, or a
    /// material's file or its copy (errors outrank failures). A material
    /// never lowers what the takes say.
    pub fn exit_code(&self) -> u8 {
        let worst = self.takes.iter().map(|t| match t.status {
            Status::Done if t.caption_error.is_some() => 1,
            Status::Done => 0,
            Status::NotTranscoded | Status::VerificationFailed => 1,
            Status::Error | Status::Cancelled => 2,
        });
        let materials = self
            .materials
            .iter()
            .map(|m| match (m.failed(), m.recorded) {
                (false, _) => 0,
                (true, true) => 1,
                (true, false) => 2,
            });
        let layout = if self.layout_errors.is_empty() { 0 } else { 2 };
        worst
            .chain(materials)
            .chain(std::iter::once(layout))
            .max()
            .unwrap_or(0)
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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| StorageError::Io {
            path: store.root().to_path_buf(),
            message: format!("cannot start the store's runtime: {e}"),
        })?;
    let run = run_name();
    let found = moocpipe_ingest::discover_placing(paths, options.loose.as_ref());
    let materials = tracing::info_span!("materials").in_scope(|| {
        materials::publish_all(&found.materials, store, options, &runtime, cancel, on_event)
    });
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
        let ctx = TakeContext {
            take,
            source,
            store,
            options,
            cancel,
            run: &run,
            runtime: &runtime,
        };
        outcomes.push(process_take(&ctx, on_event)?);
    }
    let reports = course::write_reports(&found.takes, store, options, on_event)?;
    Ok(Summary {
        store: store.root().to_path_buf(),
        takes: outcomes,
        layout_errors: found.errors.iter().map(|e| e.to_string()).collect(),
        materials,
        ignored: found.ignored,
        placed_loose: found.placed_loose,
        reports,
    })
}

/// This invocation's run name: `local-<unix milliseconds>-<pid>`.
fn run_name() -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("local-{millis}-{}", std::process::id())
}

/// Everything a stage of one take needs, instead of eight arguments.
pub(crate) struct TakeContext<'a> {
    pub take: &'a TakeRef,
    /// The raw take on disk.
    pub source: &'a Path,
    pub store: &'a LocalStore,
    pub options: &'a ProcessOptions,
    pub cancel: &'a AtomicBool,
    /// This invocation's run name.
    pub run: &'a str,
    /// Runs the shared async store steps.
    pub runtime: &'a tokio::runtime::Runtime,
}

impl TakeContext<'_> {
    pub(crate) fn run_context(&self) -> RunContext<'_> {
        RunContext {
            take: self.take,
            run: self.run,
        }
    }

    /// Moves a finished staging folder into this run's `output` (a rename),
    /// describes its objects, and returns them.
    pub(crate) fn publish(
        &self,
        staged: &Path,
        output: Output,
    ) -> Result<Vec<moocpipe_proto::StoredObject>, StorageError> {
        let run = self.run_context();
        self.store.publish_dir(staged, &run.prefix(output))?;
        self.runtime
            .block_on(sequencer::describe_run(self.store, run, output))
            .map_err(|e| self.store_error(e))
    }

    /// After the record naming this run is written: removes the take's other
    /// runs of `output` and the folders they leave empty.
    pub(crate) fn remove_other_runs(&self, output: Output) {
        let run = self.run_context();
        if let Err(e) = self
            .runtime
            .block_on(sequencer::remove_other_runs(self.store, run, output))
        {
            tracing::warn!(error = %e, "other runs not removed");
        }
        let runs = self.store.path(&layout::runs(&self.take.take_id));
        for name in self
            .store
            .list(&layout::runs(&self.take.take_id))
            .unwrap_or_default()
        {
            if name != self.run {
                prune_empty(&runs.join(name));
            }
        }
        // Outputs of the layout before runs were fenced.
        let legacy = self.store.path(&layout::renditions(&self.take.take_id));
        if output == Output::Renditions && legacy.is_dir() {
            let _ = std::fs::remove_dir_all(legacy);
        }
        let legacy = self.store.path(&format!(
            "{}/captions",
            layout::take_dir(&self.take.take_id)
        ));
        if output == Output::Captions && legacy.is_dir() {
            let _ = std::fs::remove_dir_all(legacy);
        }
    }

    fn store_error(&self, e: PipelineError) -> StorageError {
        match e {
            PipelineError::Storage(e) => e,
            other => StorageError::Io {
                path: self.store.root().to_path_buf(),
                message: other.to_string(),
            },
        }
    }
}

/// Removes the empty folders under `dir`, and `dir` when it ends up empty.
fn prune_empty(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                prune_empty(&entry.path());
            }
        }
    }
    // Fails, as it should, on a folder that still holds something.
    let _ = std::fs::remove_dir(dir);
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

/// The probe record of a take: the stored one, or a fresh probe. A probe
/// that failed for a transient reason (I/O, a time-out) is not stored: the
/// next run tries again.
pub fn probe_take(
    take: &TakeRef,
    source: &Path,
    store: &LocalStore,
    options: &ProcessOptions,
) -> Result<(ProbeRecord, bool), StorageError> {
    let key = layout::record(&take.take_id, Record::Probe);
    if let Some(record) = store.get_json::<ProbeRecord>(&key)? {
        if policy::skip_recorded(true, options.force) {
            return Ok((record, true));
        }
    }
    let record = moocpipe_probe::run(&take.key, source, &options.probe, &mut |_| {});
    if policy::after_probe(&record, options.allow_noncompliant).records() {
        store.put_json(&key, &record)?;
    }
    Ok((record, false))
}

fn process_take(
    ctx: &TakeContext<'_>,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<TakeOutcome, StorageError> {
    let (take, store, options) = (ctx.take, ctx.store, ctx.options);
    // One trace per take (when traces are exported): a root span, whose
    // trace id every log line of the take shows.
    let span = tracing::info_span!(
        parent: None,
        "take",
        take_id = %take.take_id,
        key = %take.key,
        trace_id = tracing::field::Empty,
    );
    moocpipe_telemetry::propagation::record_trace_id(&span, &Default::default());
    let _enter = span.enter();
    store.put_json(&layout::record(&take.take_id, Record::Ingest), take)?;
    let (probe, reused) =
        tracing::info_span!("probe").in_scope(|| probe_take(take, ctx.source, store, options))?;
    on_event(Event::Probed {
        take,
        record: &probe,
        reused,
    });
    let after = policy::after_probe(&probe, options.allow_noncompliant);
    match &after {
        AfterProbe::Retry { message, .. } => {
            let note = format!("{message} (not recorded: the next run tries again)");
            return Ok(outcome(
                take,
                probe.verdict,
                None,
                Status::Error,
                Some(note),
            ));
        }
        AfterProbe::Unreadable { .. } => {
            let note = probe.error.as_ref().map(|e| e.message.clone());
            return Ok(outcome(take, probe.verdict, None, Status::Error, note));
        }
        AfterProbe::GoOn | AfterProbe::Stop => {}
    }

    // QC shares the transcode's decode when the transcode runs; otherwise
    // (not transcoded, or renditions recorded) it decodes the take itself.
    let qc_key = layout::record(&take.take_id, Record::Qc);
    let stored_qc = if options.no_qc {
        None
    } else {
        store
            .get_json::<QcRecord>(&qc_key)?
            .filter(|_| policy::skip_recorded(true, options.force))
    };
    let session = (stored_qc.is_none() && !options.no_qc).then(|| QcSession::new(&options.qc));
    let sink = session.as_ref().map(QcSession::sink);
    let (mut out, decoded) = transcode_part(ctx, &probe, &after, sink.as_ref(), on_event)?;
    let qc = match (stored_qc, session) {
        (Some(record), _) => Some((record, true)),
        (None, Some(session)) if out.status != Status::Cancelled => {
            let result = if decoded {
                session.finish(&take.key)
            } else {
                moocpipe_pipeline::qc::run(
                    &take.key,
                    ctx.source,
                    &options.qc,
                    ctx.cancel,
                    &mut |_| {},
                )
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
        match tracing::info_span!("caption")
            .in_scope(|| caption::caption_take(ctx, config, on_event))?
        {
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
fn transcode_part(
    ctx: &TakeContext<'_>,
    probe: &ProbeRecord,
    after: &AfterProbe,
    analysis: Option<&Arc<Mutex<dyn AnalysisSink>>>,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<(TakeOutcome, bool), StorageError> {
    let (take, store) = (ctx.take, ctx.store);
    if *after == AfterProbe::Stop {
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

    let record_key = layout::record(&take.take_id, Record::Transcode);
    let stored = store
        .get_json::<TranscodeRecord>(&record_key)?
        .filter(|_| policy::skip_recorded(true, ctx.options.force));
    // Reused only when passed, fenced (names its run) and still there.
    let reusable = |r: &TranscodeRecord| {
        r.verdict == TakeVerdict::Pass
            && r.run.as_deref().is_some_and(|run| {
                store.exists(&layout::run_output(&take.take_id, run, Output::Renditions))
            })
    };
    let (record, reused) = match stored {
        Some(r) if reusable(&r) => (r, true),
        _ => match tracing::info_span!("transcode")
            .in_scope(|| transcode_take(ctx, probe, analysis, on_event))?
        {
            Ok(r) => (r, false),
            Err(o) => return Ok((o, false)),
        },
    };
    on_event(Event::Transcoded {
        take,
        record: &record,
        reused,
    });
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
    if let (TakeVerdict::Pass, Some(run)) = (record.verdict, &record.run) {
        let run_dir = store.path(&layout::run_dir(&take.take_id, run));
        out.renditions = record
            .renditions
            .iter()
            .map(|r| run_dir.join(&r.file))
            .collect();
        out.hls_master = record.hls.as_ref().map(|h| run_dir.join(&h.master));
        out.poster = record.poster.as_ref().map(|p| run_dir.join(p));
    } else {
        out.note = Some(format!(
            "verification failed: {}; nothing was published",
            policy::rendition_failures(&record).join("; ")
        ));
    }
    Ok((out, !reused))
}

/// Runs the transcode into a staging folder and publishes it as this run's
/// renditions when every output passed; the record is written in every case
/// but cancellation and transient errors.
fn transcode_take(
    ctx: &TakeContext<'_>,
    probe: &ProbeRecord,
    analysis: Option<&Arc<Mutex<dyn AnalysisSink>>>,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<Result<TranscodeRecord, TakeOutcome>, StorageError> {
    let (take, store, options) = (ctx.take, ctx.store, ctx.options);
    let staging = store.staging(&take.take_id)?;
    let out_dir = staging.path().join("renditions");
    let scratch = staging.path().join("scratch");
    for dir in [&out_dir, &scratch] {
        std::fs::create_dir_all(dir).map_err(|e| StorageError::Io {
            path: dir.clone(),
            message: e.to_string(),
        })?;
    }
    let source = moocpipe_media::Source::File(ctx.source.to_path_buf());
    let job = moocpipe_transcode::TranscodeJob {
        take,
        source: &source,
        probe,
        out_dir: &out_dir,
        scratch_dir: &scratch,
        analysis: analysis.map(|sink| (moocpipe_pipeline::qc::ANALYSIS_WIDTH, sink)),
    };
    let result = moocpipe_transcode::run(job, &options.transcode, ctx.cancel, &mut |p| {
        on_event(Event::Transcoding { take, progress: p })
    });
    let record_key = layout::record(&take.take_id, Record::Transcode);
    match result {
        Ok(mut record) => {
            if record.verdict == TakeVerdict::Pass {
                record.objects = ctx.publish(&out_dir, Output::Renditions)?;
                record.run = Some(ctx.run.to_string());
            }
            store.put_json(&record_key, &record)?;
            ctx.remove_other_runs(Output::Renditions);
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
            if policy::is_recorded_error(e.kind()) {
                let record = policy::failed_transcode(
                    &take.take_id,
                    moocpipe_proto::transcode::EncodeSettings {
                        preset: options.transcode.preset.clone(),
                        audio_bitrate_bps: options.transcode.audio_bitrate_bps,
                        hls_segment_seconds: options.transcode.hls_segment_seconds,
                    },
                    e.kind(),
                    e.to_string(),
                );
                store.put_json(&record_key, &record)?;
            }
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
