//! The moocpipe command line: parses arguments and hands each subcommand to
//! its module under `cmd/`. The work itself lives in the stage crates.

pub mod cmd;
pub mod config;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// moocpipe: checks, transcodes, captions and reports on a MOOC studio's lecture takes.
#[derive(Debug, Parser)]
#[command(name = "moocpipe", version, about)]
pub struct Cli {
    /// Configuration file (TOML) [default: $XDG_CONFIG_HOME/moocpipe/moocpipe.toml
    /// or ~/.config/moocpipe/moocpipe.toml, when it exists]. Its values give way
    /// to environment variables and flags.
    #[arg(long, global = true, env = "MOOCPIPE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check raw takes against the raw-footage spec (clauses 9.1–9.3), rule by rule.
    Check(cmd::check::CheckArgs),
    /// Probe, transcode and verify takes or whole course folders, and write each course's segment-length report.
    Process(cmd::process::ProcessArgs),
    /// Measure technical quality (loudness, clipping, silence, black, bars, frozen) and suggest F-10 scores.
    Qc(cmd::qc::QcArgs),
    /// Captions (WebVTT, SRT, transcript) from the author's file or speech recognition.
    Caption(cmd::caption::CaptionArgs),
    /// Install (`fetch`) or list the Whisper models captions use.
    Models(cmd::models::ModelsArgs),
    /// Show the configuration in force (`show`) or which file it comes from (`path`).
    Config(cmd::config::ConfigArgs),
    /// Distributed mode: run one stage's worker (probe, transcode, caption, report) over RabbitMQ and S3.
    Worker(cmd::distributed::WorkerArgs),
    /// Distributed mode: find new raw takes (scan, S3 events, submitted jobs) and send them down the pipeline.
    Ingest(cmd::distributed::IngestArgs),
    /// Distributed mode: ingest raw takes by name (s3://bucket/key).
    Submit(cmd::distributed::SubmitArgs),
    /// Distributed mode: list, replay or purge a stage's dead-letter queue.
    Dlq(cmd::distributed::DlqArgs),
    /// The CAIDD dashboard and the JSON API over the catalog (embedded: `--data`; distributed: `--database-url`).
    Serve(cmd::serve::ServeArgs),
    /// Who may log in to the dashboard: add, list, remove users, set passwords.
    Users(cmd::serve::UsersArgs),
    /// Rebuild the dashboard's catalog from the store (`sync`).
    Catalog(cmd::serve::CatalogCmdArgs),
    /// A take's stable links for its author: issue, list, revoke, re-issue.
    Links(cmd::links::LinksArgs),
}

impl Cli {
    /// The process's name in traces (`service.name`) unless
    /// `OTEL_SERVICE_NAME` gives one: `moocpipe-<role>`, a worker's role
    /// being its stage, so each kind of process is told apart.
    pub fn service_name(&self) -> String {
        let role = match &self.command {
            Command::Check(_) => "check",
            Command::Process(_) => "process",
            Command::Qc(_) => "qc",
            Command::Caption(_) => "caption-cli",
            Command::Models(_) => "models",
            Command::Config(_) => "config",
            Command::Worker(args) => moocpipe_broker::Stage::from(args.stage).as_str(),
            Command::Ingest(_) => "ingest",
            Command::Submit(_) => "submit",
            Command::Dlq(_) => "dlq",
            Command::Serve(_) => "serve",
            Command::Users(_) => "users",
            Command::Catalog(_) => "catalog",
            Command::Links(_) => "links",
        };
        format!("moocpipe-{role}")
    }
}

/// Runs the parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    match cli.command {
        Command::Check(args) => cmd::check::run(args),
        Command::Process(args) => cmd::process::run(args, cli.config.as_deref()),
        Command::Qc(args) => cmd::qc::run(args, cli.config.as_deref()),
        Command::Caption(args) => {
            let config = config::load(cli.config.as_deref())?.0.caption_config();
            cmd::caption::run(args, config)
        }
        Command::Models(args) => cmd::models::run(args),
        Command::Config(args) => cmd::config::run(args, cli.config.as_deref()),
        Command::Worker(args) => cmd::distributed::worker(args, cli.config.as_deref()),
        Command::Ingest(args) => cmd::distributed::ingest(args, cli.config.as_deref()),
        Command::Submit(args) => cmd::distributed::submit(args),
        Command::Dlq(args) => cmd::distributed::dlq(args),
        Command::Serve(args) => cmd::serve::serve(args, cli.config.as_deref()),
        Command::Users(args) => cmd::serve::users(args, cli.config.as_deref()),
        Command::Catalog(args) => cmd::serve::catalog(args, cli.config.as_deref()),
        Command::Links(args) => cmd::links::run(args, cli.config.as_deref()),
    }
}
