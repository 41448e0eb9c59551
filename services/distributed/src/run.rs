//! Wiring for the binary: a stage's worker process, the ingest process
//! (queue worker, scanner, S3-event consumer) and `submit`.

use crate::ingest::{job_for, scan_once};
use crate::metrics::StageMetrics;
use crate::stages::{caption, probe, report, transcode};
use crate::{events, serve, Context, ReportLinks, Settings, Stores};
use lapin::options::{BasicAckOptions, BasicNackOptions};
use moocpipe_broker::topology::declare;
use moocpipe_broker::{
    consume, run_worker, AmqpConfig, BrokerError, Job, JobError, Outgoing, PrometheusMetrics,
    Publisher, Stage, Topology, WorkerOptions,
};
/// The control database's URL, password hidden when shown.
pub use moocpipe_control::DatabaseUrl;
use moocpipe_control::{ControlError, PgLeases};
use moocpipe_proto::IngestVia;
use moocpipe_storage::{ObjectStore, S3Store, StorageError};
use prometheus::Registry;
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How a worker process runs, besides its stores and stage settings.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub amqp: AmqpConfig,
    pub topology: Topology,
    /// Where `/metrics` and `/healthz` listen; `None`: nowhere.
    pub metrics_addr: Option<SocketAddr>,
    /// Jobs at once; `None`: 1 for transcode and caption, 4 otherwise.
    pub prefetch: Option<u16>,
    pub lease_ttl: Duration,
    pub shutdown_grace: Duration,
    /// Transcode and caption jobs whose progress does not move for this
    /// long are stopped and retried; `None`: never.
    pub stall_after: Option<Duration>,
    /// The control database (leases, job state): required by the workers
    /// and `ingest`, not by `submit`.
    pub database_url: Option<DatabaseUrl>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Control(#[from] ControlError),
    #[error("{0}")]
    Setup(String),
}

fn options(
    stage: Stage,
    run: &RunOptions,
    leases: Arc<PgLeases>,
    registry: &Registry,
) -> Result<WorkerOptions<PgLeases>, RunError> {
    let metrics = PrometheusMetrics::register(registry)
        .map_err(|e| RunError::Setup(format!("metrics: {e}")))?;
    let mut options = WorkerOptions::new(run.topology.clone(), stage, leases)
        .lease_ttl(run.lease_ttl)
        .shutdown_grace(run.shutdown_grace)
        .metrics(Arc::new(metrics));
    if let Some(prefetch) = run.prefetch {
        options = options.prefetch(prefetch);
    }
    // Only the heavy stages report progress as they go.
    if stage.is_heavy() {
        options = options.stall_after(run.stall_after);
    }
    Ok(options)
}

async fn start_http(
    run: &RunOptions,
    registry: &Registry,
    health: serve::Health,
    shutdown: &CancellationToken,
) -> Result<(), RunError> {
    if let Some(addr) = run.metrics_addr {
        serve::serve(addr, registry.clone(), Some(health), shutdown.clone())
            .await
            .map_err(|e| RunError::Setup(format!("cannot serve /metrics on {addr}: {e}")))?;
    }
    Ok(())
}

/// The report stage's links: the catalog in the control database and the
/// link key, which it must have (the notice carries links made with it).
async fn report_links(database_url: &str) -> Result<ReportLinks, RunError> {
    let lookup = |name: &str| std::env::var(name).ok();
    let key = moocpipe_catalog::LinkKey::from_lookup(lookup)
        .map_err(|e| RunError::Setup(e.to_string()))?
        .ok_or_else(|| {
            RunError::Setup(format!(
                "{} is not set: the report stage makes the authors' stable links with it. \
                 Make one with `openssl rand -hex 32` and give the same value to every \
                 report worker and to `moocpipe serve`",
                moocpipe_catalog::links::ENV_LINK_KEY
            ))
        })?;
    let settings = moocpipe_catalog::LinkSettings::from_lookup(key, lookup)
        .map_err(|e| RunError::Setup(e.to_string()))?;
    let catalog = moocpipe_catalog::Catalog::open(database_url)
        .await
        .map_err(|e| RunError::Setup(format!("the catalog (stable links): {e}")))?;
    tracing::info!(public_url = %settings.public_url, "stable links ready");
    Ok(ReportLinks { catalog, settings })
}

/// What every worker process sets up before it consumes: stale work folders
/// swept, metrics registered (and served), the stage's context and the
/// worker loop's options.
async fn prepare(
    stage: Stage,
    stores: Stores,
    settings: Settings,
    run: &RunOptions,
    shutdown: &CancellationToken,
) -> Result<(Arc<Context>, WorkerOptions<PgLeases>), RunError> {
    let url = run.database_url.as_ref().ok_or_else(|| {
        RunError::Setup(format!(
            "no control database: set {} or --database-url (PostgreSQL: leases and job state)",
            moocpipe_control::ENV_DATABASE_URL
        ))
    })?;
    let pool = moocpipe_control::connect(url.expose()).await?;
    tracing::info!(database = %url, "control database ready");
    crate::scratch::sweep_stale(&settings.scratch_dir);
    let links = if stage == Stage::Report {
        Some(report_links(url.expose()).await?)
    } else {
        None
    };
    let registry = Registry::new();
    let ctx = Arc::new(Context {
        metrics: StageMetrics::register(&registry, stage)
            .map_err(|e| RunError::Setup(format!("metrics: {e}")))?,
        stores,
        settings,
        links,
    });
    let leases = Arc::new(PgLeases::new(pool.clone()));
    let options = options(stage, run, leases, &registry)?;
    let health = serve::Health {
        stage,
        worker: Arc::clone(&options.health),
        database: pool,
        store: ctx.stores.media.clone(),
    };
    start_http(run, &registry, health, shutdown).await?;
    tracing::info!(%stage, prefix = run.topology.prefix(), "worker starting");
    Ok((ctx, options))
}

/// The worker loop with `handle` as the stage's handler.
async fn consume<F, Fut>(
    run: &RunOptions,
    options: WorkerOptions<PgLeases>,
    ctx: Arc<Context>,
    handle: F,
    shutdown: CancellationToken,
) -> Result<(), RunError>
where
    F: Fn(Arc<Context>, Job) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<Outgoing>, JobError>> + Send,
{
    let handler = move |job| handle(Arc::clone(&ctx), job);
    // Boxed: four of these in one async fn overflow the compiler's layout
    // query depth otherwise.
    Ok(Box::pin(run_worker(&run.amqp, options, handler, shutdown)).await?)
}

/// Runs the worker of `stage` (probe, transcode, caption or report) until
/// `shutdown` fires; running jobs finish or are handed back first.
pub async fn run_stage(
    stage: Stage,
    stores: Stores,
    settings: Settings,
    run: RunOptions,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    let (ctx, options) = prepare(stage, stores, settings, &run, &shutdown).await?;
    match stage {
        Stage::Probe => consume(&run, options, ctx, probe::handle, shutdown).await,
        Stage::Transcode => consume(&run, options, ctx, transcode::handle, shutdown).await,
        Stage::Caption => consume(&run, options, ctx, caption::handle, shutdown).await,
        Stage::Report => consume(&run, options, ctx, report::handle, shutdown).await,
        Stage::Ingest => Err(RunError::Setup(
            "the ingest stage runs as `moocpipe ingest`".into(),
        )),
    }
}

/// What `moocpipe ingest` does besides consuming its queue.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Scan the raw bucket this often; `None`: no scan.
    pub scan_interval: Option<Duration>,
    /// Consume S3 event notifications from this queue; `None`: no events.
    pub events_queue: Option<String>,
}

/// The ingest process: the ingest queue's worker, the periodic scan and the
/// S3-event consumer, until `shutdown` fires.
pub async fn run_ingest(
    stores: Stores,
    settings: Settings,
    run: RunOptions,
    ingest: IngestOptions,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    let (ctx, options) = prepare(Stage::Ingest, stores, settings, &run, &shutdown).await?;
    let mut side = tokio::task::JoinSet::new();
    if let Some(every) = ingest.scan_interval {
        side.spawn(scanner(
            Arc::clone(&ctx),
            run.clone(),
            every,
            shutdown.clone(),
        ));
    }
    if let Some(queue) = ingest.events_queue {
        side.spawn(event_consumer(run.clone(), queue, shutdown.clone()));
    }
    let result = consume(&run, options, ctx, crate::ingest::handle, shutdown.clone()).await;
    shutdown.cancel();
    while side.join_next().await.is_some() {}
    result
}

/// A connection with the topology declared and a confirming publisher.
async fn connect(run: &RunOptions) -> Result<(lapin::Connection, Publisher), BrokerError> {
    let connection = run.amqp.connect().await?;
    let publisher = Publisher::open(&connection).await?;
    declare(publisher.channel(), &run.topology).await?;
    Ok((connection, publisher))
}

async fn scanner(ctx: Arc<Context>, run: RunOptions, every: Duration, shutdown: CancellationToken) {
    let mut seen = HashMap::new();
    let mut failures = 0u32;
    while !shutdown.is_cancelled() {
        let pause = match connect(&run).await {
            Ok((connection, publisher)) => {
                failures = 0;
                loop {
                    match scan_once(&ctx, &publisher, &run.topology, &mut seen).await {
                        Ok(sent) => tracing::debug!(sent, "scan done"),
                        Err(error) => {
                            tracing::warn!(%error, "scan failed; trying again next time");
                            if !publisher.channel().status().connected() {
                                break;
                            }
                        }
                    }
                    tokio::select! {
                        () = tokio::time::sleep(every) => {}
                        () = shutdown.cancelled() => break,
                    }
                }
                let _ = connection.close(200, "scanner done").await;
                Duration::ZERO
            }
            Err(error) => {
                failures += 1;
                tracing::warn!(%error, "scanner cannot reach the broker");
                run.amqp.reconnect.delay(failures)
            }
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = shutdown.cancelled() => {}
        }
    }
}

async fn event_consumer(run: RunOptions, queue: String, shutdown: CancellationToken) {
    let mut failures = 0u32;
    while !shutdown.is_cancelled() {
        let error = match consume_events(&run, &queue, &shutdown).await {
            Ok(()) => break,
            Err(error) => error,
        };
        failures += 1;
        tracing::warn!(%error, %queue, "S3 event consumer lost the broker; reconnecting");
        tokio::select! {
            () = tokio::time::sleep(run.amqp.reconnect.delay(failures)) => {}
            () = shutdown.cancelled() => {}
        }
    }
}

/// Turns each S3 event message into ingest jobs; acks it once they are
/// confirmed. A message that is not an S3 event is rejected (logged, not
/// requeued).
async fn consume_events(
    run: &RunOptions,
    queue: &str,
    shutdown: &CancellationToken,
) -> Result<(), BrokerError> {
    let (connection, publisher) = connect(run).await?;
    let channel = connection.create_channel().await?;
    let mut consumer =
        consume::durable_queue(&channel, queue, &[], 16, "moocpipe-ingest-events").await?;
    while let Some(delivery) = consume::next(
        &mut consumer,
        shutdown,
        "the broker cancelled the S3 event consumer",
    )
    .await?
    {
        match events::parse(&delivery.data) {
            Ok(created) => {
                for object in created {
                    let job = job_for(&object.bucket, &object.key, object.etag, IngestVia::Event)?;
                    publisher.send(&run.topology, &job).await?;
                }
                delivery.ack(BasicAckOptions::default()).await?;
            }
            Err(reason) => {
                tracing::warn!(%reason, %queue, "rejected a message that is not an S3 event");
                delivery
                    .nack(BasicNackOptions {
                        requeue: false,
                        ..Default::default()
                    })
                    .await?;
            }
        }
    }
    let _ = connection.close(200, "ingest done").await;
    Ok(())
}

/// What `submit` sent an ingest job for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// A take, with the id it will have.
    Take(String),
    /// A course material: its course and path below the course folder.
    Material { course: String, path: String },
}

impl std::fmt::Display for Submitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Submitted::Take(id) => write!(f, "take {id}"),
            Submitted::Material { course, path } => write!(f, "material {path} of {course}"),
        }
    }
}

/// `moocpipe submit s3://bucket/key`: checks that the object exists, then
/// sends its ingest job. Says what it will be: a take (with its id) or a
/// course material.
pub async fn submit(
    run: &RunOptions,
    raw: &S3Store,
    bucket: &str,
    key: &str,
) -> Result<Submitted, RunError> {
    if bucket != raw.bucket() {
        return Err(RunError::Setup(format!(
            "s3://{bucket}/{key}: not in the raw bucket ({}) this pipeline reads",
            raw.bucket()
        )));
    }
    let meta = raw
        .head(key)
        .await?
        .ok_or_else(|| RunError::Setup(format!("s3://{bucket}/{key}: no such object")))?;
    let (connection, publisher) = connect(run).await?;
    let job = job_for(bucket, key, Some(meta.etag.clone()), IngestVia::Submit)?;
    publisher.send(&run.topology, &job).await?;
    let _ = connection.close(200, "submitted").await;
    Ok(match moocpipe_ingest::material_object(key) {
        Some((course, path)) if !moocpipe_ingest::has_take_extension(Path::new(key)) => {
            Submitted::Material {
                course: course.to_owned(),
                path: path.to_owned(),
            }
        }
        _ => Submitted::Take(moocpipe_ingest::take_id(bucket, key, &meta.etag)),
    })
}
