//! `moocpipe qc`: technical-quality measurements of takes (F-10 criteria
//! 1–2) with a suggested score for the reviewers to confirm.
//!
//! The thresholds are the `[qc]` section of the configuration file.
//!
//! Exit code: 0 when every file was measured; 2 when one could not be (or
//! the configuration file is unusable).

use clap::Args;
use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use moocpipe_proto::QcRecord;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

#[derive(Debug, Args)]
pub struct QcArgs {
    /// Takes to measure.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Print one JSON record per file, one per line (JSON Lines).
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: QcArgs, config_file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let config = crate::config::load(config_file)?.0.qc;
    let cancel = AtomicBool::new(false);
    let show_progress = !args.json && std::io::stderr().is_terminal();
    let mut worst = 0u8;
    let mut stdout = std::io::stdout().lock();
    for path in &args.files {
        let file = path.display().to_string();
        let mut progress = super::percent_progress("measuring", file.clone(), show_progress);
        let result = moocpipe_local::qc::run(&file, path, &config, &cancel, &mut progress);
        super::clear_line(show_progress);
        match result {
            Ok(record) if args.json => writeln!(stdout, "{}", serde_json::to_string(&record)?)?,
            Ok(record) => write!(stdout, "{}", render(&record))?,
            Err(e) => {
                worst = 2;
                if args.json {
                    let error = serde_json::json!({"file": file, "error": {"kind": e.kind(), "message": e.to_string()}});
                    writeln!(stdout, "{error}")?;
                } else {
                    writeln!(stdout, "✗ {file} — cannot measure [{}]\n  {e}\n", e.kind())?;
                }
            }
        }
        stdout.flush()?;
    }
    Ok(ExitCode::from(worst))
}

fn render(record: &QcRecord) -> String {
    let mut out = format!("{}\n", record.file);
    if let Some(a) = &record.audio {
        let lufs = a
            .integrated_lufs
            .map(|l| format!("{l:.1} LUFS"))
            .unwrap_or_else(|| "—".into());
        let lra = a
            .loudness_range_lu
            .map(|l| format!("{l:.1} LU"))
            .unwrap_or_else(|| "—".into());
        let peak = a
            .true_peak_dbtp
            .map(|p| format!("{p:.1} dBTP"))
            .unwrap_or_else(|| "—".into());
        out.push_str(&format!(
            "  sound: {lufs} integrated, range {lra}, true peak {peak}, {} clipped samples\n",
            a.clipped_samples
        ));
    }
    if let Some(v) = &record.video {
        out.push_str(&format!(
            "  picture: {} frames, {:.1} s black, {:.1} s frozen, bars top {} bottom {} left {} right {}\n",
            v.frames, v.black_seconds, v.frozen_seconds, v.bars.top, v.bars.bottom, v.bars.left, v.bars.right
        ));
    }
    if !record.findings.is_empty() {
        let mut table = Table::new();
        table
            .load_preset(UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_header(["finding", "severity", "from", "to", "what"]);
        for f in &record.findings {
            table.add_row([
                format!("{:?}", f.kind).to_lowercase(),
                format!("{:?}", f.severity).to_lowercase(),
                format!("{:.2} s", f.start_seconds),
                format!("{:.2} s", f.end_seconds),
                f.message.clone(),
            ]);
        }
        out.push_str(&table.to_string());
        out.push('\n');
    }
    for s in [&record.sound_score, &record.image_score] {
        out.push_str(&format!(
            "  suggested score, F-10 criterion {}: {}/3 — {}\n",
            s.criterion,
            s.score,
            s.evidence.join("; ")
        ));
    }
    out.push('\n');
    out
}
