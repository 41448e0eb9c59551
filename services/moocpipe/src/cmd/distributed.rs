//! The distributed mode's subcommands: `worker <stage>`, `ingest`, `submit`
//! and `dlq`. Each builds a tokio runtime, reads the S3 and RabbitMQ
//! settings from flags and the environment, and hands over to
//! `moocpipe-distributed` / `moocpipe-broker`.

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use moocpipe_broker::{topology, AmqpConfig, Stage, Topology, DEFAULT_AMQP_URL};
use moocpipe_distributed::config::raw_config;
use moocpipe_distributed::run::{IngestOptions, RunOptions};
use moocpipe_distributed::{Settings, Stores};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Where RabbitMQ is and which pipeline on it. (`Debug` by hand: the URL's
/// password stays out of it.)
#[derive(Clone, Args)]
pub struct BrokerArgs {
    /// RabbitMQ to connect to, as amqp://user:password@host:port/vhost
    /// [default: the local broker, user guest]. Its value is never shown.
    #[arg(
        long,
        env = "MOOCPIPE_AMQP_URL",
        default_value = DEFAULT_AMQP_URL,
        hide_default_value = true,
        hide_env_values = true,
        value_name = "URL"
    )]
    pub amqp_url: String,
    /// Prefix of every exchange and queue name (several pipelines can share
    /// one broker).
    #[arg(long, env = "MOOCPIPE_QUEUE_PREFIX", default_value = moocpipe_broker::topology::DEFAULT_PREFIX)]
    pub queue_prefix: String,
}

impl std::fmt::Debug for BrokerArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerArgs")
            .field("amqp_url", &moocpipe_broker::redact_url(&self.amqp_url))
            .field("queue_prefix", &self.queue_prefix)
            .finish()
    }
}

impl BrokerArgs {
    fn amqp(&self, role: &str) -> AmqpConfig {
        AmqpConfig::new(self.amqp_url.clone())
            .with_connection_name(format!("moocpipe {role} ({})", std::process::id()))
    }

    fn topology(&self) -> Topology {
        Topology::new(self.queue_prefix.clone())
    }
}

/// How a worker process runs.
#[derive(Clone, Args)]
pub struct ProcessArgs {
    /// The control database (PostgreSQL: job leases and state), as
    /// postgres://user:password@host:port/database. Required. Its value is
    /// never shown.
    #[arg(
        long,
        env = "MOOCPIPE_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database_url: Option<String>,
    /// Serve /metrics and /healthz here (e.g. 0.0.0.0:9464).
    #[arg(long, env = "MOOCPIPE_METRICS_ADDR", value_name = "ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// Jobs run at once [default: 1 for transcode and caption, 4 otherwise].
    #[arg(long, value_name = "N")]
    pub prefetch: Option<u16>,
    /// A job's lease lives this long without renewal (renewed every third).
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub lease_secs: u64,
    /// On SIGTERM, running jobs get this long to finish before they are
    /// handed back to the queue.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub shutdown_grace_secs: u64,
    /// A transcode or caption job whose progress has not moved for this
    /// long is stopped and retried (a stuck media pipeline); 0: never.
    #[arg(long, default_value_t = 600, value_name = "SECONDS")]
    pub stall_secs: u64,
}

impl std::fmt::Debug for ProcessArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessArgs")
            .field(
                "database_url",
                &self
                    .database_url
                    .as_deref()
                    .map(moocpipe_broker::redact_url),
            )
            .field("metrics_addr", &self.metrics_addr)
            .field("prefetch", &self.prefetch)
            .field("lease_secs", &self.lease_secs)
            .field("shutdown_grace_secs", &self.shutdown_grace_secs)
            .field("stall_secs", &self.stall_secs)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WorkerStage {
    Probe,
    Transcode,
    Caption,
    Report,
}

impl From<WorkerStage> for Stage {
    fn from(stage: WorkerStage) -> Stage {
        match stage {
            WorkerStage::Probe => Stage::Probe,
            WorkerStage::Transcode => Stage::Transcode,
            WorkerStage::Caption => Stage::Caption,
            WorkerStage::Report => Stage::Report,
        }
    }
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The stage whose queue this worker consumes.
    pub stage: WorkerStage,
    #[command(flatten)]
    pub broker: BrokerArgs,
    #[command(flatten)]
    pub process: ProcessArgs,
    /// Probe: send no caption jobs; report: expect no captions.
    #[arg(long)]
    pub no_captions: bool,
    /// Transcode: skip the quality measurements.
    #[arg(long)]
    pub no_qc: bool,
    /// Probe: transcode takes that fail the raw-footage spec too.
    #[arg(long)]
    pub allow_noncompliant: bool,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    #[command(flatten)]
    pub broker: BrokerArgs,
    #[command(flatten)]
    pub process: ProcessArgs,
    /// Scan the raw bucket for new takes this often; 0 turns the scan off.
    #[arg(
        long,
        env = "MOOCPIPE_SCAN_INTERVAL_SECS",
        default_value_t = 60,
        value_name = "SECONDS"
    )]
    pub scan_interval_secs: u64,
    /// Also consume S3 event notifications (AWS/MinIO JSON) from this queue.
    #[arg(long, env = "MOOCPIPE_S3_EVENTS_QUEUE", value_name = "QUEUE")]
    pub events_queue: Option<String>,
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// Raw takes to ingest, as s3://bucket/key.
    #[arg(required = true, value_name = "S3_URI")]
    pub objects: Vec<String>,
    #[command(flatten)]
    pub broker: BrokerArgs,
}

#[derive(Debug, Args)]
pub struct DlqArgs {
    #[command(subcommand)]
    pub action: DlqAction,
}

#[derive(Debug, Subcommand)]
pub enum DlqAction {
    /// Show a stage's dead letters (take, kind, attempts, reason), oldest first.
    List(DlqStage),
    /// Send a stage's dead letters back to its queue, attempt count reset.
    Replay(DlqStage),
    /// Delete a stage's dead letters.
    Purge(DlqStage),
}

#[derive(Debug, Args)]
pub struct DlqStage {
    /// ingest, probe, transcode, caption or report.
    pub stage: String,
    #[command(flatten)]
    pub broker: BrokerArgs,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// How long, once the worker loop has handed back or finished its jobs, the
/// process waits for a stage still winding down on the blocking pool (a
/// pipeline whose source read is in flight) before it exits anyway.
const EXIT_WAIT: Duration = Duration::from_secs(5);

/// Runs a worker process until SIGTERM/Ctrl-C and its jobs are finished or
/// handed back, then shuts the runtime down without waiting forever for
/// blocking tasks: a GStreamer pipeline still stopping must not keep the
/// process alive past its deadline (dropping the runtime would wait for it).
fn until_stopped<F, Fut>(worker: F) -> anyhow::Result<ExitCode>
where
    F: FnOnce(CancellationToken) -> Fut,
    Fut: std::future::Future<Output = Result<(), moocpipe_distributed::run::RunError>>,
{
    let runtime = runtime()?;
    let result = runtime.block_on(async move { Box::pin(worker(shutdown_on_signals())).await });
    runtime.shutdown_timeout(EXIT_WAIT);
    result?;
    Ok(ExitCode::SUCCESS)
}

/// SIGTERM or Ctrl-C fires the token; a second one exits at once.
fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let fired = token.clone();
    tokio::spawn(async move {
        let mut seen = 0;
        loop {
            wait_for_signal().await;
            seen += 1;
            if seen > 1 {
                std::process::exit(130);
            }
            eprintln!("moocpipe: stopping: running jobs finish or go back to the queue (signal again to quit at once)");
            fired.cancel();
        }
    });
    token
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn run_options(broker: &BrokerArgs, process: &ProcessArgs, role: &str) -> RunOptions {
    RunOptions {
        amqp: broker.amqp(role),
        topology: broker.topology(),
        metrics_addr: process.metrics_addr,
        prefetch: process.prefetch,
        lease_ttl: Duration::from_secs(process.lease_secs.max(1)),
        shutdown_grace: Duration::from_secs(process.shutdown_grace_secs),
        stall_after: (process.stall_secs > 0).then(|| Duration::from_secs(process.stall_secs)),
        database_url: process
            .database_url
            .as_deref()
            .filter(|url| !url.trim().is_empty())
            .map(moocpipe_distributed::run::DatabaseUrl::new),
    }
}

/// Stage settings: the configuration file's, then the flags.
fn settings(config_file: Option<&std::path::Path>) -> anyhow::Result<Settings> {
    let (config, _) = crate::config::load(config_file)?;
    let mut settings = Settings::from_lookup(env)?;
    settings.probe.timeout = Duration::from_secs(config.probe.timeout_seconds);
    settings.caption = Some(config.caption_config());
    settings.qc = Some(config.qc.clone());
    settings.transcode = config.transcode;
    Ok(settings)
}

pub fn worker(args: WorkerArgs, config_file: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let stores = Stores::from_lookup(env)?;
    let mut settings = settings(config_file)?;
    if args.no_captions {
        settings.caption = None;
    }
    if args.no_qc {
        settings.qc = None;
    }
    settings.allow_noncompliant = args.allow_noncompliant;
    let stage = Stage::from(args.stage);
    let run = run_options(&args.broker, &args.process, stage.as_str());
    until_stopped(|shutdown| {
        moocpipe_distributed::run::run_stage(stage, stores, settings, run, shutdown)
    })
}

pub fn ingest(args: IngestArgs, config_file: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let stores = Stores::from_lookup(env)?;
    let settings = settings(config_file)?;
    let run = run_options(&args.broker, &args.process, "ingest");
    let ingest = IngestOptions {
        scan_interval: (args.scan_interval_secs > 0)
            .then(|| Duration::from_secs(args.scan_interval_secs)),
        events_queue: args.events_queue,
    };
    until_stopped(|shutdown| {
        moocpipe_distributed::run::run_ingest(stores, settings, run, ingest, shutdown)
    })
}

/// `s3://bucket/key` → (bucket, key).
fn parse_s3_uri(uri: &str) -> anyhow::Result<(&str, &str)> {
    let rest = uri
        .strip_prefix("s3://")
        .with_context(|| format!("{uri}: expected s3://bucket/key"))?;
    match rest.split_once('/') {
        Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => Ok((bucket, key)),
        _ => anyhow::bail!("{uri}: expected s3://bucket/key"),
    }
}

/// What sending ingest jobs needs (`submit`, and `serve` when a browser
/// upload completes): the broker, nothing of a worker's.
pub(crate) fn submit_options(broker: &BrokerArgs, role: &str) -> RunOptions {
    RunOptions {
        amqp: broker.amqp(role),
        topology: broker.topology(),
        metrics_addr: None,
        prefetch: None,
        lease_ttl: Duration::from_secs(60),
        shutdown_grace: Duration::ZERO,
        stall_after: None,
        database_url: None,
    }
}

pub fn submit(args: SubmitArgs) -> anyhow::Result<ExitCode> {
    let raw = moocpipe_storage::S3Store::new(&raw_config(&env)?)?;
    let run = submit_options(&args.broker, "submit");
    let mut failed = false;
    runtime()?.block_on(async {
        for uri in &args.objects {
            let result = match parse_s3_uri(uri) {
                Ok((bucket, key)) => moocpipe_distributed::run::submit(&run, &raw, bucket, key)
                    .await
                    .map_err(anyhow::Error::from),
                Err(e) => Err(e),
            };
            match result {
                Ok(submitted) => println!("{uri}: submitted ({submitted})"),
                Err(e) => {
                    eprintln!("moocpipe: {e:#}");
                    failed = true;
                }
            }
        }
    });
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn dlq(args: DlqArgs) -> anyhow::Result<ExitCode> {
    let (action, target) = match &args.action {
        DlqAction::List(t) => ("list", t),
        DlqAction::Replay(t) => ("replay", t),
        DlqAction::Purge(t) => ("purge", t),
    };
    // The broker's error names the stages it knows.
    let stage: Stage = target.stage.parse()?;
    let amqp = target.broker.amqp("dlq");
    let topology = target.broker.topology();
    runtime()?.block_on(async move {
        let connection = amqp.connect().await?;
        let publisher = moocpipe_broker::Publisher::open(&connection).await?;
        topology::declare(publisher.channel(), &topology).await?;
        match action {
            "list" => {
                let letters = moocpipe_broker::dlq::list(&connection, &topology, stage).await?;
                if letters.is_empty() {
                    println!("{}: no dead letters", topology.dead_queue(stage));
                }
                for letter in letters {
                    println!(
                        "{}\t{}\tattempts {}\t{}",
                        letter.take_id.as_deref().unwrap_or("-"),
                        letter.kind.map_or("broker", |k| k.as_str()),
                        letter.attempts,
                        letter.reason
                    );
                }
            }
            "replay" => {
                let n = moocpipe_broker::dlq::replay(&connection, &topology, stage).await?;
                println!(
                    "{}: {n} sent back to {}",
                    topology.dead_queue(stage),
                    topology.stage_queue(stage)
                );
            }
            _ => {
                let n = moocpipe_broker::dlq::purge(&connection, &topology, stage).await?;
                println!("{}: {n} deleted", topology.dead_queue(stage));
            }
        }
        let _ = connection.close(200, "dlq done").await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
