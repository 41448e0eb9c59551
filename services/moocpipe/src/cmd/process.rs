//! `moocpipe process`: the main job on the embedded default — check and
//! publish the course folders' materials, probe, transcode and verify every
//! take of the given takes or course folders, then write each course's
//! segment-length report, into a local folder store.

use crate::config::{Config, ConfigError};
use clap::Args;
use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use indicatif::{ProgressBar, ProgressStyle};
use moocpipe_local::{Event, ProcessOptions, Status, Summary};
use moocpipe_media::MeasureOptions;
use moocpipe_storage::LocalStore;
use moocpipe_transcode::ladder::X264_PRESETS;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct ProcessArgs {
    /// Takes or course folders (<course>/<NN-module>/<NN-lesson>/<take>.<ext>).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Print the summary as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Redo every stage even when its record exists.
    #[arg(long)]
    pub force: bool,
    /// Transcode takes that fail the raw-footage spec too.
    #[arg(long)]
    pub allow_noncompliant: bool,
    /// Skip captions (speech recognition is the slowest stage on a CPU).
    #[arg(long)]
    pub no_captions: bool,
    /// Skip the technical-quality measurements (loudness, black, bars…).
    #[arg(long)]
    pub no_qc: bool,
    /// Place take files given alone in this course (a folder-name id),
    /// whatever their folders. Without any of --course, --module, --lesson a
    /// take outside a course folder goes to `loose-takes`, module 1, lesson 1.
    #[arg(long, value_name = "ID")]
    pub course: Option<String>,
    /// Module (week) number for take files given alone [default: 1].
    #[arg(long, value_name = "N")]
    pub module: Option<u32>,
    /// Lesson number for take files given alone [default: 1].
    #[arg(long, value_name = "N")]
    pub lesson: Option<u32>,
    #[command(flatten)]
    pub overrides: ConfigOverrides,
}

/// The flags (and their environment variables) that override the
/// configuration file. Shared with `moocpipe config show`, which prints the
/// configuration `process` would run with under the same flags. Every one is
/// optional without a clap default: a default here would always beat the
/// file.
#[derive(Debug, Default, Args)]
pub struct ConfigOverrides {
    /// The store folder: takes/<take-id>/… and courses/<course>/reports/…
    /// [default: `[store] data_dir`, moocpipe-data]
    #[arg(long, env = "MOOCPIPE_DATA")]
    pub data: Option<PathBuf>,
    /// x264 speed preset (ultrafast … veryslow): slower is smaller at the same
    /// quality. [default: `[transcode] preset`, veryfast]
    #[arg(long, env = "MOOCPIPE_PRESET")]
    pub preset: Option<String>,
    /// Make only these rungs of the ladder (comma-separated, e.g. `1080p`).
    #[arg(long, value_delimiter = ',')]
    pub rungs: Vec<String>,
    /// Skip the HLS package.
    #[arg(long)]
    pub no_hls: bool,
    /// Time bound for probing one take, in seconds. [default: `[probe]
    /// timeout_seconds`, 600]
    #[arg(long)]
    pub timeout: Option<u64>,
}

impl ConfigOverrides {
    /// Lays the flags (clap has already put the environment variables into
    /// them) over `config`, the built-in defaults and the file.
    pub fn apply(&self, config: &mut Config) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            path: None,
            key: key.into(),
            message,
        };
        if let Some(preset) = &self.preset {
            if !X264_PRESETS.contains(&preset.as_str()) {
                return Err(invalid(
                    "--preset",
                    format!(
                        "unknown x264 preset {preset:?}; one of {}",
                        X264_PRESETS.join(", ")
                    ),
                ));
            }
            config.transcode.preset = preset.clone();
        }
        if self.no_hls {
            config.transcode.hls = false;
        }
        if !self.rungs.is_empty() {
            config.transcode = std::mem::take(&mut config.transcode)
                .only_rungs(&self.rungs)
                .map_err(|message| invalid("--rungs", message))?;
        }
        if let Some(seconds) = self.timeout {
            // As before the configuration file: 0 means the shortest bound.
            config.probe.timeout_seconds = seconds.max(1);
        }
        if let Some(data) = &self.data {
            config.store.data_dir = data.clone();
        }
        Ok(())
    }
}

pub fn run(args: ProcessArgs, config_file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let (mut config, _) = crate::config::load(config_file)?;
    args.overrides.apply(&mut config)?;
    // Fails here, before any encoding, when the store cannot be written.
    let store = LocalStore::open(&config.store.data_dir)?;
    let caption = (!args.no_captions).then(|| config.caption_config());
    let options = ProcessOptions {
        force: args.force,
        allow_noncompliant: args.allow_noncompliant,
        probe: MeasureOptions {
            timeout: Duration::from_secs(config.probe.timeout_seconds),
            ..MeasureOptions::default()
        },
        transcode: config.transcode,
        course_rules: moocpipe_report::CourseRules::default(),
        qc: config.qc,
        no_qc: args.no_qc,
        caption,
        loose: Some(loose_placement(&args)?),
    };

    // Ctrl-C (or SIGTERM) stops the current transcode cleanly; a second one exits at once.
    let cancel = Arc::new(AtomicBool::new(false));
    {
        let cancel = cancel.clone();
        let _ = ctrlc::set_handler(move || {
            if cancel.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!("\nmoocpipe: stopping after cleaning up (Ctrl-C again to quit at once)");
        });
    }

    let mut display = Display::new(std::io::stderr().is_terminal());
    let summary = moocpipe_local::process(&args.paths, &store, &options, &cancel, &mut |e| {
        display.on_event(e)
    })?;
    display.finish();

    let mut stdout = std::io::stdout().lock();
    if args.json {
        writeln!(stdout, "{}", serde_json::to_string_pretty(&summary)?)?;
    } else {
        write!(stdout, "{}", render(&summary))?;
    }
    Ok(ExitCode::from(summary.exit_code()))
}

/// Where take files given alone go: the flags' placement when any is
/// given (it then wins over the folders), else the named default for takes
/// outside a course folder.
fn loose_placement(args: &ProcessArgs) -> anyhow::Result<moocpipe_local::Loose> {
    let fallback = moocpipe_local::Loose::fallback();
    if args.course.is_none() && args.module.is_none() && args.lesson.is_none() {
        return Ok(fallback);
    }
    let loose = moocpipe_local::Loose {
        course: args.course.clone().unwrap_or(fallback.course),
        module: args.module.unwrap_or(fallback.module),
        lesson: args.lesson.unwrap_or(fallback.lesson),
        explicit: true,
    };
    loose
        .check()
        .map_err(|why| anyhow::anyhow!("--course/--module/--lesson: {why}"))?;
    Ok(loose)
}

/// Progress on stderr: a bar in a terminal, a line per 10 % otherwise.
struct Display {
    tty: bool,
    bar: Option<ProgressBar>,
    last_tenth: i64,
}

impl Display {
    fn new(tty: bool) -> Self {
        Display {
            tty,
            bar: None,
            last_tenth: -1,
        }
    }

    fn on_event(&mut self, event: Event<'_>) {
        match event {
            Event::Take { take, index, total } => {
                self.finish();
                eprintln!("[{index}/{total}] {}", take.key);
            }
            Event::Probed { record, reused, .. } => {
                let again = if reused { " (recorded earlier)" } else { "" };
                eprintln!("  probe: {}{again}", record.verdict);
            }
            Event::Transcoding { take, progress } => {
                let eta = progress
                    .eta
                    .map(|d| format!("{}s", d.as_secs()))
                    .unwrap_or_else(|| "?".into());
                if self.tty {
                    let bar = self.bar.get_or_insert_with(|| {
                        let bar = ProgressBar::new(1000);
                        if let Ok(style) = ProgressStyle::with_template(
                            "  transcode [{bar:30}] {percent:>3}% {msg}",
                        ) {
                            bar.set_style(style.progress_chars("=> "));
                        }
                        bar
                    });
                    bar.set_position((progress.fraction * 1000.0) as u64);
                    bar.set_message(format!("{:.1} fps, ETA {eta}", progress.fps));
                } else {
                    let tenth = (progress.fraction * 10.0) as i64;
                    if tenth != self.last_tenth {
                        self.last_tenth = tenth;
                        eprintln!(
                            "  transcode {}: {:>3}% ({:.1} fps, ETA {eta})",
                            take.take,
                            tenth * 10,
                            progress.fps
                        );
                    }
                }
            }
            Event::Transcoded { record, reused, .. } => {
                self.finish();
                let again = if reused { " (recorded earlier)" } else { "" };
                eprintln!("  transcode: {}{again}", record.verdict);
            }
            Event::Qc { record, reused, .. } => {
                let again = if reused { " (recorded earlier)" } else { "" };
                eprintln!(
                    "  qc: sound {}/3, picture {}/3, {} finding(s){again}",
                    record.sound_score.score,
                    record.image_score.score,
                    record.findings.len()
                );
            }
            Event::Captioning { take, fraction } => {
                let tenth = (fraction * 10.0) as i64;
                if tenth != self.last_tenth {
                    self.last_tenth = tenth;
                    eprintln!("  caption {}: {:>3}%", take.take, tenth * 10);
                }
            }
            Event::Captioned { record, reused, .. } => {
                self.last_tenth = -1;
                let again = if reused { " (recorded earlier)" } else { "" };
                eprintln!(
                    "  captions: {} cue(s), {} warning(s), {} style violation(s){again}",
                    record.cues,
                    record.warnings.len(),
                    record.style_violations.len()
                );
            }
            Event::Warning { message } => {
                self.finish();
                eprintln!("warning: {message}");
            }
            Event::Material { outcome } => {
                let again = if outcome.reused {
                    " (recorded earlier)"
                } else {
                    ""
                };
                match &outcome.error {
                    None => eprintln!(
                        "material {}/{}: published{again}",
                        outcome.course, outcome.path
                    ),
                    Some(why) => eprintln!("material error: {why}{again}"),
                }
            }
            Event::ReportWritten { course, files } => {
                self.finish();
                if let Some(html) = files
                    .iter()
                    .find(|f| f.extension().is_some_and(|e| e == "html"))
                {
                    eprintln!("report for {course}: {}", html.display());
                }
            }
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        self.last_tenth = -1;
    }
}

/// The summary table and where everything is.
fn render(summary: &Summary) -> String {
    let mut out = String::new();
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header([
            "take",
            "spec",
            "transcode",
            "QC sound/picture",
            "status",
            "captions",
            "renditions / why not",
        ]);
    for t in &summary.takes {
        let detail = if t.status == Status::Done {
            let dir = t
                .renditions
                .first()
                .and_then(|p| p.parent())
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            match &t.caption_error {
                Some(why) => format!("{dir}; {why}"),
                None => dir,
            }
        } else {
            t.note.clone().unwrap_or_default()
        };
        table.add_row([
            t.key.clone(),
            t.spec.to_string(),
            t.transcode
                .map(|v| v.to_string())
                .unwrap_or_else(|| "-".into()),
            match (t.sound_score, t.image_score) {
                (Some(s), Some(i)) => format!("{s}/3, {i}/3"),
                _ => "-".into(),
            },
            t.status.as_str().to_string(),
            match (t.caption_cues, t.caption_warnings, &t.caption_error) {
                (_, _, Some(_)) => "failed".into(),
                (Some(cues), Some(w), None) if w > 0 => format!("{cues} cues, {w} to review"),
                (Some(cues), _, None) => format!("{cues} cues"),
                _ => "-".into(),
            },
            detail,
        ]);
    }
    if !summary.takes.is_empty() || summary.materials.is_empty() {
        out.push_str(&table.to_string());
        out.push('\n');
    }
    if !summary.materials.is_empty() {
        out.push_str(&materials_table(summary));
    }
    for e in &summary.layout_errors {
        out.push_str(&format!("layout error: {e}\n"));
    }
    for p in &summary.ignored {
        out.push_str(&format!("ignored (not a take): {}\n", p.display()));
    }
    for (path, key) in &summary.placed_loose {
        out.push_str(&format!(
            "placed outside a course folder: {} as {key} (choose with --course, --module, --lesson)\n",
            path.display()
        ));
    }
    for r in &summary.reports {
        let files: Vec<String> = r.files.iter().map(|f| f.display().to_string()).collect();
        out.push_str(&format!(
            "segment report for {}: {}\n",
            r.course,
            files.join(", ")
        ));
    }
    let done = summary
        .takes
        .iter()
        .filter(|t| t.status == Status::Done)
        .count();
    let published = summary.materials.iter().filter(|m| !m.failed()).count();
    out.push_str(&format!(
        "{done} of {} takes transcoded and verified, {published} of {} materials published; store: {}\n",
        summary.takes.len(),
        summary.materials.len(),
        summary.store.display()
    ));
    out
}

/// The materials: each one's type and size, and where its copy is or why
/// there is none.
fn materials_table(summary: &Summary) -> String {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header([
            "material",
            "type",
            "bytes",
            "verdict",
            "published as / why not",
        ]);
    for m in &summary.materials {
        table.add_row([
            format!("{}/{}", m.course, m.path),
            m.detected
                .map(|t| t.label().to_owned())
                .unwrap_or_else(|| "-".into()),
            m.size_bytes.to_string(),
            m.verdict.as_str().to_owned(),
            match (&m.published, &m.error) {
                (_, Some(why)) => why.clone(),
                (Some(path), None) => path.display().to_string(),
                (None, None) => String::new(),
            },
        ]);
    }
    format!("{table}\n")
}
