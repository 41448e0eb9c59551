//! The stage policy, as pure functions: given records, what happens next.
//! No I/O here, so both runners decide alike and the rules are tested
//! without a broker or a store.
//!
//! Decisions taken where the two runners used to differ:
//!
//! - a **transient probe error** (I/O, time-out, missing plugin, internal)
//!   is never recorded: the take is retried (the broker's retry; the next
//!   `process` run). Only the take's own faults are recorded;
//! - **quality is measured** for every readable take: from the transcode's
//!   decode, or from a decode of its own when the take is not transcoded
//!   (the local runner; the distributed runner cannot yet, see
//!   [`qc_without_transcode`]);
//! - **failure wording** comes from here ([`failure_text`],
//!   [`spec_failures`], [`rendition_failures`]).

use moocpipe_proto::transcode::EncodeSettings;
use moocpipe_proto::{
    CaptionRun, ErrorKind, ProbeError, ProbeRecord, PublishedRecord, Stage, StoredObject, TakeRef,
    TakeVerdict, TranscodeRecord, Verdict, SCHEMA_VERSION,
};
use moocpipe_storage::layout;

/// Whether a stage whose record exists is skipped: always, unless forced
/// (`process --force`, `dlq replay`).
pub fn skip_recorded(recorded: bool, force: bool) -> bool {
    recorded && !force
}

/// Whether a stage runs although the take has a failure record for it: a
/// replayed job (`dlq replay`) runs again; any other job of a take whose
/// stage was dead-lettered does not repeat the failure.
pub fn rerun_after_failure(failure_recorded: bool, replay: bool) -> bool {
    !failure_recorded || replay
}

/// What follows the probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterProbe {
    /// Not the take's fault (I/O, a time-out…): record nothing, retry.
    Retry { kind: ErrorKind, message: String },
    /// The take cannot be read: record it, stop, report the take.
    Unreadable { why: String },
    /// The spec passed (or failing takes are allowed): transcode and caption.
    GoOn,
    /// The spec failed: record it, do not transcode, report at once.
    Stop,
}

impl AfterProbe {
    /// Whether the probe record is written.
    pub fn records(&self) -> bool {
        !matches!(self, AfterProbe::Retry { .. })
    }
}

/// What follows a probe record.
pub fn after_probe(record: &ProbeRecord, allow_noncompliant: bool) -> AfterProbe {
    match record.verdict {
        TakeVerdict::Error => match &record.error {
            Some(error) if error.kind.is_transient() => AfterProbe::Retry {
                kind: error.kind,
                message: error.message.clone(),
            },
            Some(error) => AfterProbe::Unreadable {
                why: format!("{}: {}", error.kind, error.message),
            },
            None => AfterProbe::Unreadable {
                why: "the take could not be read".into(),
            },
        },
        TakeVerdict::Pass => AfterProbe::GoOn,
        TakeVerdict::Fail | TakeVerdict::CannotTell if allow_noncompliant => AfterProbe::GoOn,
        TakeVerdict::Fail | TakeVerdict::CannotTell => AfterProbe::Stop,
    }
}

/// Whether quality is measured with a decode of its own: for a readable take
/// that is not transcoded. (The distributed runner measures only inside the
/// transcode: `media::analyse` reads files, not byte ranges, so a worker
/// cannot measure a take it does not transcode without copying it.)
pub fn qc_without_transcode(after: &AfterProbe) -> bool {
    matches!(after, AfterProbe::Stop)
}

/// Captions go with renditions that passed their checks.
pub fn caption_after_transcode(transcode: &TranscodeRecord) -> bool {
    transcode.verdict == TakeVerdict::Pass
}

/// The record of a transcode that could not run (not the take's fault is
/// never recorded: see [`is_recorded_error`]).
pub fn failed_transcode(
    take_id: &str,
    settings: EncodeSettings,
    kind: ErrorKind,
    message: String,
) -> TranscodeRecord {
    TranscodeRecord {
        schema_version: SCHEMA_VERSION,
        take_id: take_id.to_string(),
        verdict: TakeVerdict::Error,
        renditions: Vec::new(),
        hls: None,
        poster: None,
        settings,
        error: Some(ProbeError { kind, message }),
        run: None,
        objects: Vec::new(),
    }
}

/// Whether a stage error is recorded (the take's fault, never retried) or
/// not (retried: cancelled, I/O, time-out…).
pub fn is_recorded_error(kind: ErrorKind) -> bool {
    !kind.is_transient()
}

/// What a failed stage means to the author, in one phrase.
pub fn failure_text(stage: Stage, error: &str) -> String {
    match stage {
        Stage::Probe => format!("the take could not be checked: {error}"),
        Stage::Transcode => format!("the renditions could not be made: {error}"),
        Stage::Caption => format!("captions not made: {error}"),
        Stage::Ingest => format!("the take could not be taken in: {error}"),
        Stage::Report => format!("the take could not be reported: {error}"),
    }
}

/// Every rule of the spec that did not pass, for the author.
pub fn spec_failures(probe: &ProbeRecord) -> Vec<String> {
    probe
        .rules
        .iter()
        .filter(|r| r.verdict != Verdict::Pass)
        .map(|r| {
            let mut line = format!(
                "{} (clause {}): measured {}, required {}",
                r.id.as_str(),
                r.clause,
                r.measured,
                r.required
            );
            if let Some(hint) = r.hint.as_deref().filter(|h| !h.is_empty()) {
                line.push_str(&format!(" — {hint}"));
            }
            line
        })
        .collect()
}

/// Every check of a rendition or of the HLS package that did not pass.
pub fn rendition_failures(record: &TranscodeRecord) -> Vec<String> {
    let renditions = record.renditions.iter().flat_map(|r| {
        r.rules
            .iter()
            .filter(|rule| rule.verdict != Verdict::Pass)
            .map(move |rule| {
                format!(
                    "{} {}: measured {}",
                    r.name,
                    rule.id.as_str(),
                    rule.measured
                )
            })
    });
    let hls = record
        .hls
        .iter()
        .flat_map(|h| h.rules.iter())
        .filter(|rule| rule.verdict != Verdict::Pass)
        .map(|rule| format!("hls {}: measured {}", rule.id.as_str(), rule.measured));
    renditions.chain(hls).collect()
}

/// The language captions are made in: the sidecar's, else the default.
pub fn caption_language(take: &TakeRef, default_language: &str) -> String {
    take.sidecar
        .language
        .clone()
        .unwrap_or_else(|| default_language.to_string())
}

/// The caption files' stem, `<signed name>.<lang>` (`.vtt`, `.srt`, `.txt`
/// follow).
pub fn caption_stem(take: &TakeRef, language: &str) -> String {
    format!("{}.{language}", moocpipe_transcode::naming::base_name(take))
}

/// Everything the report needs to know of a take, read from its records.
#[derive(Debug, Clone, Default)]
pub struct TakeState {
    pub probe: Option<ProbeRecord>,
    /// The error of a dead-lettered probe (no record).
    pub probe_failed: Option<String>,
    pub transcode: Option<TranscodeRecord>,
    pub transcode_failed: Option<String>,
    pub caption: Option<CaptionRun>,
    pub caption_failed: Option<String>,
    /// Whether the take waits for captions (captions are on).
    pub captions_expected: bool,
    pub allow_noncompliant: bool,
}

/// One object to link in the notice, as a record names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// `1080p`, `poster`, `captions.vtt`…
    pub name: String,
    pub download_name: String,
    /// Key, size and checksum as recorded: the HEAD must agree.
    pub object: StoredObject,
}

/// The take's published record (without links and notice) and what to link.
#[derive(Debug, Clone, PartialEq)]
pub struct Ready {
    pub record: PublishedRecord,
    pub wanted: Vec<Wanted>,
}

/// Whether a take can be reported.
#[derive(Debug, Clone, PartialEq)]
pub enum Readiness {
    /// Something it waits for is still running.
    Waiting,
    Ready(Box<Ready>),
}

/// A record that names an output it does not list among its objects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("the {stage} record of take {take_id} names {file} but its run stored no such object")]
    NotStored {
        stage: Stage,
        take_id: String,
        file: String,
    },
    #[error("the {stage} record of take {take_id} names no run (written by an older version; replay the take)")]
    NoRun { stage: Stage, take_id: String },
}

/// When a take is ready to report, and with what: a probe error, a failed
/// spec (unless allowed), or a transcode recorded (or dead-lettered) and,
/// when expected, captions recorded (or dead-lettered). The links are
/// exactly the objects the records name: renditions and poster of a passed
/// transcode, every caption file (an SRT of a take without speech is 0 bytes
/// and recorded so, which is fine).
pub fn readiness(take: &TakeRef, state: &TakeState) -> Result<Readiness, PolicyError> {
    let mut record = PublishedRecord {
        schema_version: SCHEMA_VERSION,
        take_id: take.take_id.clone(),
        key: take.key.clone(),
        title: take.title.clone(),
        spec: TakeVerdict::Error,
        transcode: None,
        failures: Vec::new(),
        links: Vec::new(),
        link: None,
        captions_missing: None,
        notice: None,
    };
    let ready = |record| {
        Ok(Readiness::Ready(Box::new(Ready {
            record,
            wanted: Vec::new(),
        })))
    };
    let Some(probe) = &state.probe else {
        return match &state.probe_failed {
            Some(error) => {
                record.failures.push(failure_text(Stage::Probe, error));
                ready(record)
            }
            None => Ok(Readiness::Waiting),
        };
    };
    record.spec = probe.verdict;
    record.failures = spec_failures(probe);
    match after_probe(probe, state.allow_noncompliant) {
        AfterProbe::Retry { .. } => return Ok(Readiness::Waiting),
        AfterProbe::Unreadable { why } => {
            record.failures.push(failure_text(Stage::Probe, &why));
            return ready(record);
        }
        AfterProbe::Stop => return ready(record),
        AfterProbe::GoOn => {}
    }

    let Some(transcode) = &state.transcode else {
        return match &state.transcode_failed {
            Some(error) => {
                record.failures.push(failure_text(Stage::Transcode, error));
                ready(record)
            }
            None => Ok(Readiness::Waiting),
        };
    };
    let captions = if !state.captions_expected {
        record.captions_missing = Some("captions are turned off".into());
        None
    } else if let Some(caption) = &state.caption {
        Some(caption)
    } else if let Some(error) = &state.caption_failed {
        record.captions_missing = Some(error.clone());
        None
    } else {
        // The caption job runs beside the transcode: wait for it, so the
        // notice is sent once, with everything.
        return Ok(Readiness::Waiting);
    };

    record.transcode = Some(transcode.verdict);
    if let Some(error) = &transcode.error {
        record.failures.push(failure_text(
            Stage::Transcode,
            &format!("{}: {}", error.kind, error.message),
        ));
    }
    record.failures.extend(rendition_failures(transcode));
    let mut wanted = Vec::new();
    if transcode.verdict == TakeVerdict::Pass {
        let run = transcode.run.as_deref().ok_or_else(|| PolicyError::NoRun {
            stage: Stage::Transcode,
            take_id: take.take_id.clone(),
        })?;
        let dir = layout::run_dir(&take.take_id, run);
        let find = |file: &str| {
            let key = format!("{dir}/{file}");
            transcode
                .objects
                .iter()
                .find(|o| o.key == key)
                .cloned()
                .ok_or_else(|| PolicyError::NotStored {
                    stage: Stage::Transcode,
                    take_id: take.take_id.clone(),
                    file: file.to_string(),
                })
        };
        for r in &transcode.renditions {
            wanted.push(Wanted {
                name: r.name.clone(),
                download_name: r.download_name.clone(),
                object: find(&r.file)?,
            });
        }
        if let Some(hls) = &transcode.hls {
            wanted.push(Wanted {
                name: "hls".into(),
                download_name: file_name(&hls.master).to_string(),
                object: find(&hls.master)?,
            });
        }
        if let Some(poster) = &transcode.poster {
            wanted.push(Wanted {
                name: "poster".into(),
                download_name: file_name(poster).to_string(),
                object: find(poster)?,
            });
        }
        for object in captions.iter().flat_map(|c| c.objects.iter()) {
            let name = file_name(&object.key);
            let ext = name.rsplit('.').next().unwrap_or("captions");
            wanted.push(Wanted {
                name: format!("captions.{ext}"),
                download_name: name.to_string(),
                object: object.clone(),
            });
        }
    }
    Ok(Readiness::Ready(Box::new(Ready { record, wanted })))
}

fn file_name(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

/// What the author reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeText {
    pub subject: String,
    pub text: String,
}

/// The notice of a published record: the verdict, what failed and what to
/// change, the captions (a take without speech is said to have none), the
/// take's page and its downloads through its stable link (`link`: the
/// link's address, `<public URL>/l/<token>`).
pub fn notice(
    take: &TakeRef,
    record: &PublishedRecord,
    caption: Option<&CaptionRun>,
    link: Option<&str>,
) -> NoticeText {
    let ok = record.spec == TakeVerdict::Pass && record.transcode == Some(TakeVerdict::Pass);
    let subject = if ok {
        format!("[moocpipe] {} is ready: {}", take.course, take.title)
    } else {
        format!("[moocpipe] {} needs attention: {}", take.course, take.title)
    };
    let mut text = format!(
        "Take: {}\nCourse: {}\nTitle: {}\n\n",
        take.key, take.course, take.title
    );
    text.push_str(&format!("Raw-footage spec: {}\n", record.spec));
    if let Some(transcode) = record.transcode {
        text.push_str(&format!("Renditions: {transcode}\n"));
    }
    if !record.failures.is_empty() {
        text.push_str("\nWhat failed, and what to change:\n");
        for failure in &record.failures {
            text.push_str(&format!("  - {failure}\n"));
        }
    }
    if let Some(why) = &record.captions_missing {
        text.push_str(&format!("\nNo captions: {why}\n"));
    } else if let Some(caption) = caption.filter(|_| record.transcode.is_some()) {
        if caption.caption.cues == 0 {
            text.push_str("\nCaptions: no speech was heard, so the caption files hold no cues.\n");
        } else {
            text.push_str(&format!("\nCaptions: {} cues.\n", caption.caption.cues));
        }
    }
    if let Some(link) = link {
        let until = record
            .link
            .as_ref()
            .map(|l| format!(" (until {})", l.expires_at))
            .unwrap_or_default();
        text.push_str(&format!(
            "\nThe take's page, with the player, the checks and every download{until}:\n  {link}\n"
        ));
        if !record.links.is_empty() {
            text.push_str("\nDownloads:\n");
            for l in &record.links {
                text.push_str(&format!(
                    "  {} ({} bytes):\n    {link}/{}\n",
                    l.download_name, l.size_bytes, l.path
                ));
            }
        }
    }
    NoticeText { subject, text }
}
