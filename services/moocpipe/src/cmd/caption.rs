//! `moocpipe caption`: captions for takes, from the author's `.vtt`/`.srt`
//! next to the take when there is one, else from speech recognition.
//! Writes `<out>/<stem>.{vtt,srt,txt}` and prints the caption record.
//!
//! Exit code: 0 when every file was captioned (warnings included); 2 when
//! one could not be (unreadable take, malformed author file, no model).

use clap::Args;
use moocpipe_caption::{CaptionConfig, ModelChoice};
use moocpipe_models::ModelName;
use moocpipe_proto::CaptionRecord;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

#[derive(Debug, Args)]
pub struct CaptionArgs {
    /// Takes (or any media file with sound) to caption.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Where the caption files go (never next to the take: an author's own
    /// file there must not be overwritten).
    #[arg(long, default_value = "captions")]
    pub out: PathBuf,
    /// Spoken language (ISO 639-1: en, ru, kk…); default from the configuration.
    #[arg(long)]
    pub language: Option<String>,
    /// A known model: tiny.en or base (see `moocpipe models list`).
    #[arg(long, conflicts_with = "model_path")]
    pub model: Option<ModelName>,
    /// Any whisper.cpp ggml/gguf model file instead.
    #[arg(long)]
    pub model_path: Option<PathBuf>,
    /// Print one JSON record per file, one per line (JSON Lines).
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: CaptionArgs, mut config: CaptionConfig) -> anyhow::Result<ExitCode> {
    if let Some(m) = args.model {
        config.model = ModelChoice::Named(m);
    }
    if let Some(p) = &args.model_path {
        config.model = ModelChoice::File(p.clone());
    }
    let cancel = AtomicBool::new(false);
    let show_progress = !args.json && std::io::stderr().is_terminal();
    let mut worst = 0u8;
    let mut stdout = std::io::stdout().lock();
    for path in &args.files {
        let file = path.display().to_string();
        let mut progress = super::percent_progress("captioning", file.clone(), show_progress);
        let result = moocpipe_caption::run(
            &file,
            path,
            args.language.as_deref(),
            &config,
            &cancel,
            &mut progress,
        );
        super::clear_line(show_progress);
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "captions".into());
        let written = result.map_err(|e| (e.kind(), e.to_string())).and_then(|c| {
            moocpipe_caption::write(&args.out, &stem, &c)
                .map(|files| (c.record, files))
                .map_err(|e| {
                    (
                        moocpipe_proto::ErrorKind::Io,
                        format!("{}: cannot write captions: {e}", args.out.display()),
                    )
                })
        });
        match written {
            Ok((record, _)) if args.json => {
                writeln!(stdout, "{}", serde_json::to_string(&record)?)?
            }
            Ok((record, files)) => write!(
                stdout,
                "{}",
                render(&record, &[&files.vtt, &files.srt, &files.text])
            )?,
            Err((kind, message)) => {
                worst = 2;
                if args.json {
                    let error = serde_json::json!({"file": file, "error": {"kind": kind, "message": message}});
                    writeln!(stdout, "{error}")?;
                } else {
                    writeln!(stdout, "✗ {file} — no captions [{kind}]\n  {message}\n")?;
                }
            }
        }
        stdout.flush()?;
    }
    Ok(ExitCode::from(worst))
}

fn render(record: &CaptionRecord, files: &[&PathBuf]) -> String {
    let source = match &record.source {
        moocpipe_proto::CaptionSource::Recognised {
            model, beam_size, ..
        } => format!("recognised with {model} (beam {beam_size})"),
        moocpipe_proto::CaptionSource::AuthorSupplied { file } => {
            format!("the author's file {file}")
        }
    };
    let mut out = format!(
        "{}\n  {} cues in {}, {source}; {:.1} s of {:.1} s captioned",
        record.file, record.cues, record.language, record.captioned_seconds, record.audio_seconds
    );
    if let Some(c) = record.coverage {
        out.push_str(&format!(", {:.0} % of the audible time covered", c * 100.0));
    }
    out.push('\n');
    for f in files {
        out.push_str(&format!("  wrote {}\n", f.display()));
    }
    for w in &record.warnings {
        out.push_str(&format!("  ⚠ {}\n", w.message));
    }
    if !record.style_violations.is_empty() {
        out.push_str(&format!(
            "  {} style violations (see --json for each cue)\n",
            record.style_violations.len()
        ));
    }
    out.push('\n');
    out
}
