//! The moocpipe command line: parses arguments and hands each subcommand to
//! its module under `cmd/`. The work itself lives in the stage crates.

pub mod cmd;

use clap::{Parser, Subcommand};

/// moocpipe: checks, transcodes and reports on a MOOC studio's lecture takes.
#[derive(Debug, Parser)]
#[command(name = "moocpipe", version, about)]
pub struct Cli {
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
}

/// Runs the parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    match cli.command {
        Command::Check(args) => cmd::check::run(args),
        Command::Process(args) => cmd::process::run(args),
        Command::Qc(args) => cmd::qc::run(args),
    }
}
