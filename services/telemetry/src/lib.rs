//! Telemetry shared by every moocpipe role: logging and tracing set-up, one
//! call at the start of a process.

use tracing_subscriber::EnvFilter;

/// Installs the global tracing subscriber. Logs go to stderr so that stdout
/// stays clean for reports and JSON; the level comes from `MOOCPIPE_LOG`
/// (`RUST_LOG` syntax), else `default_level`.
pub fn init(default_level: &str) {
    let filter =
        EnvFilter::try_from_env("MOOCPIPE_LOG").unwrap_or_else(|_| EnvFilter::new(default_level));
    // A second call (e.g. from a test) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
