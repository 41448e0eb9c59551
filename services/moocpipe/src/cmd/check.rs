//! `moocpipe check`: clause-by-clause verdicts on raw takes, as a table for
//! people or JSON Lines for machines.
//!
//! Exit code: 0 when every rule of every file passes; 1 when a rule fails or
//! cannot be told; 2 when a file could not be checked. Every file is checked
//! whatever happened to the ones before it.

use clap::Args;
use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use moocpipe_media::MeasureOptions;
use moocpipe_proto::{ProbeRecord, TakeVerdict, Verdict};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Raw takes to check (MOV, MP4, MXF, MKV, …): files, or objects as
    /// s3://bucket/key, read by ranges with the MOOCPIPE_S3_* settings
    /// (the bucket comes from the name).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Print one JSON object per file, one per line (JSON Lines), instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Time bound for checking one file, in seconds.
    #[arg(long, default_value_t = 600, env = "MOOCPIPE_CHECK_TIMEOUT")]
    pub timeout: u64,
    /// Read every frame, even when the container's index could answer
    /// (MOV/MP4 and MXF OP1a are otherwise measured from their index and
    /// the first frame of each stream).
    #[arg(long)]
    pub full: bool,
}

pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let options = MeasureOptions {
        timeout: Duration::from_secs(args.timeout.max(1)),
        full_pass: args.full,
    };
    let show_progress = !args.json && std::io::stderr().is_terminal();
    let mut worst = 0u8;
    let mut stdout = std::io::stdout().lock();
    for path in &args.files {
        let file = path.display().to_string();
        let mut last_shown = -1i64;
        let mut progress = |fraction: f64| {
            let percent = (fraction * 100.0) as i64;
            if show_progress && percent != last_shown {
                last_shown = percent;
                eprint!("\r\x1b[2Kchecking {file}: {percent:>3}%");
            }
        };
        let record = match file.strip_prefix("s3://") {
            Some(object) => remote::check(&file, object, &options, &mut progress)?,
            None => moocpipe_probe::run(&file, path, &options, &mut progress),
        };
        if show_progress {
            eprint!("\r\x1b[2K");
        }
        worst = worst.max(exit_code_of(record.verdict));
        if args.json {
            writeln!(stdout, "{}", serde_json::to_string(&record)?)?;
        } else {
            writeln!(stdout, "{}", render(&record))?;
        }
        stdout.flush()?;
    }
    Ok(ExitCode::from(worst))
}

fn exit_code_of(verdict: TakeVerdict) -> u8 {
    match verdict {
        TakeVerdict::Pass => 0,
        TakeVerdict::Fail | TakeVerdict::CannotTell => 1,
        TakeVerdict::Error => 2,
    }
}

/// The human report of one file: a heading, the rule table, hints, warnings.
pub fn render(record: &ProbeRecord) -> String {
    let mut out = String::new();
    if let Some(error) = &record.error {
        out.push_str(&format!(
            "✗ {} — cannot check [{}]\n  {}\n",
            record.file, error.kind, error.message
        ));
        return out;
    }
    out.push_str(&format!("{} {}\n", mark(record.verdict), record.file));
    out.push_str(&format!("  {}\n", summary(record)));
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(["rule", "clause", "required", "measured", "verdict"]);
    for rule in &record.rules {
        table.add_row([
            rule.id.as_str().to_string(),
            rule.clause.clone(),
            rule.required.clone(),
            rule.measured.clone(),
            rule.verdict.as_str().to_string(),
        ]);
    }
    out.push_str(&table.to_string());
    out.push('\n');
    let hints: Vec<_> = record
        .rules
        .iter()
        .filter_map(|r| r.hint.as_ref().map(|h| (r.id, h)))
        .collect();
    if !hints.is_empty() {
        out.push_str("  What to change:\n");
        for (id, hint) in hints {
            out.push_str(&format!("  - {id}: {hint}\n"));
        }
    }
    for warning in &record.warnings {
        out.push_str(&format!("  warning: {warning}\n"));
    }
    let failed = record
        .rules
        .iter()
        .filter(|r| r.verdict == Verdict::Fail)
        .count();
    let unknown = record
        .rules
        .iter()
        .filter(|r| r.verdict == Verdict::CannotTell)
        .count();
    out.push_str(&format!(
        "  verdict: {} ({} of {} rules pass, {failed} fail, {unknown} cannot tell)\n",
        record.verdict.as_str().to_uppercase(),
        record.rules.len() - failed - unknown,
        record.rules.len()
    ));
    out
}

fn mark(verdict: TakeVerdict) -> &'static str {
    match verdict {
        TakeVerdict::Pass => "✓",
        TakeVerdict::Fail | TakeVerdict::Error => "✗",
        TakeVerdict::CannotTell => "?",
    }
}

/// One line of facts: container, codec, size, rate, duration, audio.
fn summary(record: &ProbeRecord) -> String {
    let mut parts = Vec::new();
    if let Some(c) = &record.container {
        parts.push(c.clone());
    }
    // A multicam take lists every camera's stream.
    for v in record.video.iter().chain(&record.more_video) {
        let rate = v
            .frame_rate
            .and_then(|f| f.as_f64())
            .map(|r| format!(" {r:.3} fps"))
            .unwrap_or_default();
        parts.push(format!("{} {}×{}{rate}", v.codec, v.width, v.height));
    }
    for a in &record.audio {
        parts.push(a.to_string());
    }
    if let Some(d) = record.duration_seconds {
        parts.push(format!("{d:.2} s"));
    }
    parts.join(" · ")
}

/// `check s3://bucket/key`: the probe stage's own path — the object read by
/// ranged GETs through the distributed reader, nothing downloaded first.
mod remote {
    use anyhow::Context;
    use moocpipe_distributed::metrics::StageMetrics;
    use moocpipe_distributed::remote::S3RangeReader;
    use moocpipe_media::{MeasureOptions, Source};
    use moocpipe_proto::ProbeRecord;
    use moocpipe_storage::{ObjectStore, S3Config, S3Store, ENV_BUCKET};
    use std::sync::Arc;
    use std::time::Instant;

    /// Checks `bucket/key` (named `file` in the record). The store's
    /// settings come from `MOOCPIPE_S3_*`, the bucket from the name.
    pub fn check(
        file: &str,
        object: &str,
        options: &MeasureOptions,
        progress: &mut dyn FnMut(f64),
    ) -> anyhow::Result<ProbeRecord> {
        let started = Instant::now();
        let (bucket, key) = object
            .split_once('/')
            .filter(|(b, k)| !b.is_empty() && !k.is_empty())
            .with_context(|| format!("{file}: expected s3://bucket/key"))?;
        let config = S3Config::from_lookup(|name| {
            if name == ENV_BUCKET {
                Some(bucket.to_string())
            } else {
                std::env::var(name).ok()
            }
        })?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let store = runtime.block_on(async { S3Store::new(&config) })?;
        let Some(meta) = runtime.block_on(store.head(key))? else {
            anyhow::bail!("{file}: no such object");
        };
        let registry = prometheus::Registry::new();
        let metrics = StageMetrics::register(&registry, moocpipe_broker::Stage::Probe)?;
        let source = Source::Remote {
            name: key.to_string(),
            size: meta.size,
            reader: Arc::new(S3RangeReader::new(
                store,
                key.to_string(),
                meta.size,
                meta.etag,
                runtime.handle().clone(),
                metrics,
            )),
        };
        // Outside the runtime: the reader blocks on it from GStreamer's threads.
        let record = moocpipe_probe::run_source(file, &source, options, progress);
        let read: f64 = registry
            .gather()
            .iter()
            .filter(|family| family.name() == "moocpipe_bytes_read_total")
            .flat_map(|family| family.get_metric())
            .map(|m| m.get_counter().get_value())
            .sum();
        tracing::info!(
            file,
            size = meta.size,
            bytes_read = read as u64,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "checked from the store"
        );
        Ok(record)
    }
}
