//! The consumer loop every stage's worker runs: consume, accept under a
//! lease, run the handler, hand the outcome on, retry or dead-letter,
//! reconnect, shut down. See the crate docs for why jobs are acked on
//! accept.
//!
//! - this module: the options, the connection and consumer loop, shutdown;
//! - [`accept`]: a delivery becomes a job under a lease (or a dead letter,
//!   a deferral, a dropped duplicate);
//! - [`job`]: one job's run, its lease renewals, hand-back;
//! - [`outcome`]: the messages an outcome publishes, with confirms;
//! - [`sweep`]: expired leases claimed and their jobs republished.

mod accept;
mod job;
mod outcome;
mod sweep;

use std::future::{pending, Future};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, Consumer};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{interval, sleep, timeout_at, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, info_span, warn, Instrument};

use crate::connect::AmqpConfig;
use crate::error::{BrokerError, JobError};
use crate::health::WorkerHealth;
use crate::lease::{holder_name, new_token, LeaseStore};
use crate::message::{Job, Outgoing};
use crate::metrics::{NoMetrics, WorkerMetrics};
use crate::publish::Publisher;
use crate::topology::{self, Stage, Topology};
use accept::accept;
use outcome::Shared;
use sweep::sweep_expired;

/// How long a job may wait for its hand-back to be confirmed once the
/// shutdown deadline has passed.
pub(super) const HAND_BACK_TIMEOUT: Duration = Duration::from_secs(10);
/// Shortest lease time-to-live: it is renewed every third of it, against a
/// store that may take a while to answer.
const MIN_LEASE_TTL: Duration = Duration::from_millis(300);
/// How long a cancelled handler gets to wind down before it is dropped.
pub(super) const WIND_DOWN: Duration = Duration::from_secs(2);
/// How often the loop checks that its connection is still up while it has
/// nothing else to wait for (all slots busy).
const HEALTH_INTERVAL: Duration = Duration::from_secs(1);

/// How many times in a row a job may be deferred behind another worker
/// holding its take before it is dead-lettered: a holder that renews its
/// lease for ever (a stuck job) must not keep a trigger circling.
pub const DEFAULT_MAX_DEFERRALS: u32 = 100;

/// The event outcome published when a job is dead-lettered:
/// `take.<stage>.failed`.
pub const EVENT_FAILED: &str = "failed";

/// A stage's work: called once per accepted job.
///
/// `Ok(messages)`: the job is done and `messages` (jobs for the next
/// stages, events) are published with confirms before the job is let go.
/// `Err(JobError::Transient)`: retried after a back-off, dead-lettered after
/// the last attempt. `Err(JobError::Permanent)`: dead-lettered at once.
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, job: Job) -> impl Future<Output = Result<Vec<Outgoing>, JobError>> + Send;
}

impl<F, Fut> Handler for F
where
    F: Fn(Job) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<Outgoing>, JobError>> + Send,
{
    fn handle(&self, job: Job) -> impl Future<Output = Result<Vec<Outgoing>, JobError>> + Send {
        self(job)
    }
}

/// What a worker runs and how.
pub struct WorkerOptions<L> {
    pub topology: Topology,
    pub stage: Stage,
    /// Jobs run at once by this worker, which is also the prefetch of each
    /// consume. 1 for heavy stages.
    pub prefetch: u16,
    /// Where accepted jobs are recorded; shared by every worker of the stage.
    pub leases: Arc<L>,
    /// A lease lives this long without renewal; renewed every third of it.
    pub lease_ttl: Duration,
    /// How often this worker looks for expired leases of its stage.
    pub sweep_interval: Duration,
    /// On shutdown, how long running jobs may take to finish before they
    /// are handed back to the queue.
    pub shutdown_grace: Duration,
    /// How long a finished job waits for the broker (a reconnect) to
    /// confirm its outcome before it gives up and leaves the job to the
    /// sweeper.
    pub handoff_timeout: Duration,
    pub metrics: Arc<dyn WorkerMetrics>,
    /// What to do with a job whose lease another worker holds: `false`
    /// drops it as a duplicate (a second copy of the same work); `true`
    /// sends it through the first delay queue to run after the holder —
    /// for stages whose jobs for one take are distinct triggers (report).
    pub defer_busy: bool,
    /// With `defer_busy`: deferrals in a row before the job is
    /// dead-lettered instead.
    pub max_deferrals: u32,
    /// What the loop reports to `/healthz`.
    pub health: Arc<WorkerHealth>,
    /// A job whose progress has not moved for this long is stopped and
    /// retried (a transient failure): a stuck media pipeline must not hold
    /// its lease — renewed all the while — for ever. `None` (the default):
    /// no limit, for stages that report no progress.
    pub stall_after: Option<Duration>,
}

/// How long a heavy job (transcode, caption) may go without progress
/// before it is stopped and retried: far longer than any step of a take
/// that reports none (opening the source, verifying the renditions).
pub const DEFAULT_STALL_AFTER: Duration = Duration::from_secs(600);

impl<L: LeaseStore> WorkerOptions<L> {
    /// Defaults: prefetch 1 for heavy stages and 4 for light ones, leases of
    /// 60 s swept every 30 s, 30 s to finish on shutdown, 60 s to hand on.
    pub fn new(topology: Topology, stage: Stage, leases: Arc<L>) -> Self {
        WorkerOptions {
            topology,
            stage,
            prefetch: if stage.is_heavy() { 1 } else { 4 },
            leases,
            lease_ttl: Duration::from_secs(60),
            sweep_interval: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
            handoff_timeout: Duration::from_secs(60),
            metrics: Arc::new(NoMetrics),
            defer_busy: stage == Stage::Report,
            max_deferrals: DEFAULT_MAX_DEFERRALS,
            health: Arc::new(WorkerHealth::new()),
            stall_after: if stage.is_heavy() {
                Some(DEFAULT_STALL_AFTER)
            } else {
                None
            },
        }
    }

    pub fn prefetch(mut self, prefetch: u16) -> Self {
        self.prefetch = prefetch.max(1);
        self
    }

    /// Sets the lease time-to-live and sweeps every half of it.
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self.sweep_interval = ttl / 2;
        self
    }

    /// Stop and retry a job whose progress has not moved for this long
    /// (`None`: never).
    pub fn stall_after(mut self, after: Option<Duration>) -> Self {
        self.stall_after = after;
        self
    }

    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    pub fn handoff_timeout(mut self, timeout: Duration) -> Self {
        self.handoff_timeout = timeout;
        self
    }

    pub fn metrics(mut self, metrics: Arc<dyn WorkerMetrics>) -> Self {
        self.metrics = metrics;
        self
    }

    pub fn health(mut self, health: Arc<WorkerHealth>) -> Self {
        self.health = health;
        self
    }
}

/// Runs a stage's worker until `shutdown` fires: connects (and reconnects
/// with back-off, re-declaring the topology each time), consumes the
/// stage's queue and runs `handler` on every job. Returns once every
/// running job has finished or been handed back.
///
/// Errors only when the options are unusable ([`BrokerError::Config`]);
/// broker trouble is retried for as long as it lasts.
pub async fn run_worker<H: Handler, L: LeaseStore>(
    amqp: &AmqpConfig,
    options: WorkerOptions<L>,
    handler: H,
    shutdown: CancellationToken,
) -> Result<(), BrokerError> {
    if options.lease_ttl < MIN_LEASE_TTL {
        return Err(BrokerError::Config(format!(
            "lease_ttl {:?} is below {MIN_LEASE_TTL:?}",
            options.lease_ttl
        )));
    }
    let stage = options.stage;
    let slots = usize::from(options.prefetch.max(1));
    let (publisher_tx, publisher_rx) = watch::channel(None);
    let shared = Arc::new(Shared {
        options,
        handler,
        publisher: publisher_rx,
        holder: holder_name(),
    });
    let mut state = LoopState {
        slots: Arc::new(Semaphore::new(slots)),
        jobs: JoinSet::new(),
        give_up: CancellationToken::new(),
        shutdown,
    };
    async {
        // Consecutive failed attempts to get a working session.
        let mut failures = 0u32;
        let mut sessions = 0u32;
        while !state.shutdown.is_cancelled() {
            let connected = tokio::select! {
                connected = amqp.connect() => connected,
                () = state.shutdown.cancelled() => break,
            };
            let error = match connected {
                Ok(connection) => {
                    if sessions > 0 {
                        shared.options.metrics.reconnected(stage);
                    }
                    sessions += 1;
                    failures = 0;
                    let result = session(&shared, &connection, &publisher_tx, &mut state).await;
                    shared.options.health.set_connected(false);
                    publisher_tx.send_replace(None);
                    if let Err(error) = connection.close(200, "worker done").await {
                        debug!(%error, "closing the connection");
                    }
                    match result {
                        Ok(()) => break,
                        Err(error) => error,
                    }
                }
                Err(error) => error,
            };
            shared.options.health.beat();
            failures = failures.saturating_add(1);
            let delay = amqp.reconnect.delay(failures);
            warn!(%error, ?delay, "no broker session; reconnecting");
            tokio::select! {
                () = sleep(delay) => {}
                () = state.shutdown.cancelled() => break,
            }
        }
        // Shut down while disconnected: jobs cannot hand anything on, so
        // they are stopped and their leases left for a sweeper.
        if !state.jobs.is_empty() {
            state.give_up.cancel();
            let deadline = tokio::time::Instant::now() + HAND_BACK_TIMEOUT;
            while let Ok(Some(_)) = timeout_at(deadline, state.jobs.join_next()).await {}
            state.jobs.abort_all();
        }
        info!("worker stopped");
    }
    .instrument(info_span!("worker", %stage))
    .await;
    Ok(())
}

struct LoopState {
    /// One permit per job this worker may run at once.
    slots: Arc<Semaphore>,
    jobs: JoinSet<()>,
    /// Fired after the shutdown grace: running jobs stop and hand back.
    give_up: CancellationToken,
    shutdown: CancellationToken,
}

/// One connection's life. `Ok(())`: shut down cleanly; `Err`: reconnect.
async fn session<H: Handler, L: LeaseStore>(
    shared: &Arc<Shared<H, L>>,
    connection: &Connection,
    publisher_tx: &watch::Sender<Option<Publisher>>,
    state: &mut LoopState,
) -> Result<(), BrokerError> {
    let channel = connection.create_channel().await?;
    topology::declare(&channel, shared.topology()).await?;
    let publisher = Publisher::on(channel).await?;
    publisher_tx.send_replace(Some(publisher.clone()));
    info!("connected; topology declared");

    let mut consumer: Option<(Channel, Consumer)> = None;
    let mut sweep = interval(
        shared
            .options
            .sweep_interval
            .max(Duration::from_millis(100)),
    );
    sweep.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut health = interval(HEALTH_INTERVAL);
    health.set_missed_tick_behavior(MissedTickBehavior::Delay);

    shared.options.health.set_connected(true);
    loop {
        shared.options.health.beat();
        while let Some(joined) = state.jobs.try_join_next() {
            report_join(joined);
        }
        if consumer.is_none() && state.slots.available_permits() > 0 {
            consumer =
                Some(open_consumer(shared, connection, state.slots.available_permits()).await?);
        }
        tokio::select! {
            biased;
            () = state.shutdown.cancelled() => {
                close_consumer(consumer.take()).await;
                return drain(shared, connection, state).await;
            }
            _ = health.tick() => {
                if !connection.status().connected() {
                    return Err(BrokerError::Disconnected("the connection is no longer connected"));
                }
            }
            _ = sweep.tick() => sweep_expired(shared, &publisher).await?,
            Some(joined) = state.jobs.join_next(), if !state.jobs.is_empty() => report_join(joined),
            delivery = next_delivery(&mut consumer) => match delivery {
                Some(Ok(delivery)) => {
                    accept(shared, &publisher, delivery, state).await?;
                    if state.slots.available_permits() == 0 {
                        // Busy: give every prefetched delivery back now, so no
                        // delivery waits unacknowledged behind a long job
                        // (consumer_timeout).
                        close_consumer(consumer.take()).await;
                    }
                }
                Some(Err(error)) => return Err(error.into()),
                None => {
                    return Err(BrokerError::Disconnected("the broker cancelled the consumer"));
                }
            },
        }
    }
}

fn report_join(joined: Result<(), tokio::task::JoinError>) {
    if let Err(error) = joined {
        if error.is_panic() {
            error!(%error, "a job task panicked; its lease is left for the sweeper");
        }
    }
}

async fn next_delivery(
    consumer: &mut Option<(Channel, Consumer)>,
) -> Option<Result<Delivery, lapin::Error>> {
    match consumer {
        Some((_, consumer)) => consumer.next().await,
        None => pending().await,
    }
}

/// A channel of its own for consuming, with a prefetch of the free slots:
/// closing it gives back every prefetched delivery at once.
async fn open_consumer<H: Handler, L: LeaseStore>(
    shared: &Shared<H, L>,
    connection: &Connection,
    free: usize,
) -> Result<(Channel, Consumer), BrokerError> {
    let channel = connection.create_channel().await?;
    let prefetch = u16::try_from(free).unwrap_or(u16::MAX);
    channel
        .basic_qos(prefetch, BasicQosOptions::default())
        .await?;
    let consumer = channel
        .basic_consume(
            &shared.topology().stage_queue(shared.stage()),
            &format!("moocpipe-{}-{}", shared.stage(), new_token()),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    debug!(prefetch, "consuming");
    Ok((channel, consumer))
}

async fn close_consumer(consumer: Option<(Channel, Consumer)>) {
    if let Some((channel, consumer)) = consumer {
        drop(consumer);
        if let Err(error) = channel.close(200, "not consuming").await {
            debug!(%error, "closing the consumer channel");
        }
    }
}

/// After shutdown: wait up to the grace period for running jobs, then hand
/// the rest back, then return (the caller closes the connection).
async fn drain<H: Handler, L: LeaseStore>(
    shared: &Shared<H, L>,
    connection: &Connection,
    state: &mut LoopState,
) -> Result<(), BrokerError> {
    if state.jobs.is_empty() {
        return Ok(());
    }
    info!(running = state.jobs.len(), grace = ?shared.options.shutdown_grace, "shutting down; waiting for running jobs");
    let deadline = tokio::time::Instant::now() + shared.options.shutdown_grace;
    while !state.jobs.is_empty() {
        match timeout_at(deadline, state.jobs.join_next()).await {
            Ok(Some(joined)) => report_join(joined),
            Ok(None) => break,
            Err(_) => break,
        }
        if !connection.status().connected() {
            break;
        }
    }
    if !state.jobs.is_empty() {
        info!(
            running = state.jobs.len(),
            "grace period over; handing jobs back"
        );
        state.give_up.cancel();
        let deadline = tokio::time::Instant::now() + HAND_BACK_TIMEOUT + Duration::from_secs(1);
        while let Ok(Some(joined)) = timeout_at(deadline, state.jobs.join_next()).await {
            report_join(joined);
        }
        state.jobs.abort_all();
    }
    Ok(())
}
