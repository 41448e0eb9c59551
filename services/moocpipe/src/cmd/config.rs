//! `moocpipe config`: what the configuration file says and where it is.
//!
//! `show` prints the configuration `process` would run with, every key of
//! every section as TOML (so its output is itself a valid configuration
//! file), after the same layering: built-in defaults < file < environment <
//! the `process` flags given to `show`. `path` prints which file is read.

use super::process::ConfigOverrides;
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the configuration in force as TOML, with the file it came from.
    Show(ShowArgs),
    /// Print which configuration file is read (or, when none is, where one would be).
    Path,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// `process` flags to lay over the file, as `process` would.
    #[command(flatten)]
    pub overrides: ConfigOverrides,
}

pub fn run(args: ConfigArgs, config_file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    match args.command {
        ConfigCommand::Show(show) => {
            let (mut config, from) = crate::config::load(config_file)?;
            show.overrides.apply(&mut config)?;
            write!(stdout, "{}", config.to_toml(from.as_deref())?)?;
        }
        ConfigCommand::Path => match crate::config::locate(config_file)? {
            Some(path) => writeln!(stdout, "{}", path.display())?,
            // The default location, so `$EDITOR "$(moocpipe config path)"`
            // creates the file where it will be read.
            None => match crate::config::default_path() {
                Some(path) => {
                    writeln!(stdout, "{}", path.display())?;
                    eprintln!("moocpipe: no configuration file there yet; built-in defaults are in force");
                }
                None => anyhow::bail!(
                    "no configuration file, and neither XDG_CONFIG_HOME nor HOME is set to say where one would be"
                ),
            },
        },
    }
    Ok(ExitCode::SUCCESS)
}
