//! The consumer loop every stage's worker runs: consume, accept under a
//! lease, run the handler, hand the outcome on, retry or dead-letter,
//! reconnect, shut down. See the crate docs for why jobs are acked on
//! accept.

use std::future::{pending, Future};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures_util::{FutureExt, StreamExt};
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, Consumer};
use serde::Serialize;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{interval, sleep, timeout_at, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, info_span, warn, Instrument};

use crate::connect::AmqpConfig;
use crate::error::{BrokerError, ErrorClass, JobError};
use crate::lease::{new_token, Acquire, Lease, LeaseKey, LeaseStore};
use crate::message::{mark_dead, Headers, Job, Outgoing, Progress};
use crate::metrics::{NoMetrics, Outcome, WorkerMetrics};
use crate::publish::Publisher;
use crate::topology::{self, Stage, Topology};

/// How long a job may wait for its hand-back to be confirmed once the
/// shutdown deadline has passed.
const HAND_BACK_TIMEOUT: Duration = Duration::from_secs(10);
/// Shortest lease time-to-live: it is renewed every third of it, against a
/// store that may take a while to answer.
const MIN_LEASE_TTL: Duration = Duration::from_millis(300);
/// How long a cancelled handler gets to wind down before it is dropped.
const WIND_DOWN: Duration = Duration::from_secs(2);
/// How often the loop checks that its connection is still up while it has
/// nothing else to wait for (all slots busy).
const HEALTH_INTERVAL: Duration = Duration::from_secs(1);
/// Pause before giving a delivery back when the lease store failed, so a
/// broken store does not turn into a hot redelivery loop.
const LEASE_STORE_PAUSE: Duration = Duration::from_secs(1);

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
}

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
}

/// A message to publish, already addressed.
#[derive(Debug, Clone)]
struct Addressed {
    exchange: String,
    routing_key: String,
    headers: FieldTable,
    body: Vec<u8>,
}

/// The body of a `take.<stage>.failed` event.
#[derive(Debug, Serialize)]
struct FailedEvent<'a> {
    take_id: &'a str,
    stage: Stage,
    kind: &'static str,
    error: &'a str,
    attempts: u32,
}

struct Shared<H, L> {
    options: WorkerOptions<L>,
    handler: H,
    /// The current session's publisher; `None` while disconnected.
    publisher: watch::Receiver<Option<Publisher>>,
}

impl<H: Handler, L: LeaseStore> Shared<H, L> {
    fn stage(&self) -> Stage {
        self.options.stage
    }

    fn topology(&self) -> &Topology {
        &self.options.topology
    }

    fn job_to(&self, stage: Stage, headers: &Headers, body: &[u8]) -> Addressed {
        Addressed {
            exchange: self.topology().jobs_exchange(),
            routing_key: Topology::stage_routing_key(stage).to_owned(),
            headers: headers.to_table(),
            body: body.to_vec(),
        }
    }

    fn retry(&self, headers: &Headers, body: &[u8], delay: Duration) -> Addressed {
        let headers = headers
            .clone()
            .with_attempt(headers.attempt.saturating_add(1));
        Addressed {
            exchange: self.topology().retry_exchange(),
            routing_key: Topology::delay_routing_key(self.stage(), delay),
            headers: headers.to_table(),
            body: body.to_vec(),
        }
    }

    /// The dead letter and its `take.<stage>.failed` event.
    fn dead_letter(
        &self,
        headers: &Headers,
        body: &[u8],
        reason: &str,
        class: ErrorClass,
    ) -> Vec<Addressed> {
        let mut table = headers.to_table();
        mark_dead(&mut table, reason, class);
        let mut messages = vec![Addressed {
            exchange: self.topology().dead_exchange(),
            routing_key: Topology::stage_routing_key(self.stage()).to_owned(),
            headers: table,
            body: body.to_vec(),
        }];
        let event = FailedEvent {
            take_id: &headers.take_id,
            stage: self.stage(),
            kind: class.as_str(),
            error: reason,
            attempts: headers.attempt.saturating_add(1),
        };
        match serde_json::to_vec(&event) {
            Ok(event_body) => messages.push(Addressed {
                exchange: self.topology().events_exchange(),
                routing_key: Topology::event_routing_key(self.stage(), EVENT_FAILED),
                headers: Headers::new(headers.take_id.clone())
                    .with_traceparent(headers.traceparent.clone())
                    .to_table(),
                body: event_body,
            }),
            Err(error) => warn!(%error, "encoding the failed event"),
        }
        messages
    }

    /// Publishes `messages` in order with confirms, riding out reconnects
    /// for up to `handoff_timeout`. A message once confirmed is not sent
    /// again. False when the broker could not be reached in time.
    async fn hand_on(&self, messages: &[Addressed]) -> bool {
        let deadline = tokio::time::Instant::now() + self.options.handoff_timeout;
        let mut publisher = self.publisher.clone();
        let mut next = 0;
        loop {
            let current = publisher.borrow_and_update().clone();
            if let Some(current) = current {
                while let Some(message) = messages.get(next) {
                    let sent = current
                        .publish(
                            &message.exchange,
                            &message.routing_key,
                            message.headers.clone(),
                            &message.body,
                        )
                        .await;
                    match sent {
                        Ok(()) => next += 1,
                        Err(error) => {
                            warn!(%error, exchange = %message.exchange, routing_key = %message.routing_key, "publish failed; waiting for the broker");
                            break;
                        }
                    }
                }
                if next == messages.len() {
                    return true;
                }
            }
            match timeout_at(deadline, publisher.changed()).await {
                Ok(Ok(())) => continue,
                _ => return false,
            }
        }
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

    loop {
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

/// Checks a delivery and, when it is a job, records the lease and acks it
/// and starts the job. Returns an error only when the broker failed.
async fn accept<H: Handler, L: LeaseStore>(
    shared: &Arc<Shared<H, L>>,
    publisher: &Publisher,
    delivery: Delivery,
    state: &mut LoopState,
) -> Result<(), BrokerError> {
    let stage = shared.stage();
    let raw_headers = delivery.properties.headers().clone();
    let headers = Headers::from_table(raw_headers.as_ref()).and_then(|headers| {
        serde_json::from_slice::<serde::de::IgnoredAny>(&delivery.data)
            .map(|_| headers)
            .map_err(|error| format!("the body is not JSON: {error}"))
    });
    let headers = match headers {
        Ok(headers) => headers,
        Err(reason) => {
            // Malformed: no retry can fix it. Dead-letter it with what it
            // had, then ack, at once.
            let reason = format!("malformed message: {reason}");
            warn!(%reason, redelivered = delivery.redelivered, "dead-lettering a malformed message");
            let mut table = raw_headers.unwrap_or_default();
            mark_dead(&mut table, &reason, ErrorClass::Malformed);
            publisher
                .publish(
                    &shared.topology().dead_exchange(),
                    Topology::stage_routing_key(stage),
                    table,
                    &delivery.data,
                )
                .await?;
            delivery.ack(BasicAckOptions::default()).await?;
            shared
                .options
                .metrics
                .rejected(stage, ErrorClass::Malformed);
            return Ok(());
        }
    };

    let Ok(permit) = state.slots.clone().try_acquire_owned() else {
        // Cannot happen (the consumer closes when the slots are full), but
        // if it did the delivery goes back rather than waiting here.
        delivery
            .nack(BasicNackOptions {
                requeue: true,
                ..BasicNackOptions::default()
            })
            .await?;
        return Ok(());
    };

    let now = SystemTime::now();
    let lease = Lease {
        key: LeaseKey {
            stage,
            take_id: headers.take_id.clone(),
        },
        token: new_token(),
        expires_at: now + shared.options.lease_ttl,
        handed_back: false,
        headers,
        body: delivery.data.clone(),
    };
    match shared.options.leases.acquire(lease.clone(), now).await {
        Ok(Acquire::Acquired) => {
            // The lease holds the job from here; the delivery can go.
            // Should the ack fail, the job still runs (we hold the lease)
            // and the redelivered copy will be dropped as a duplicate.
            let acked = delivery.ack(BasicAckOptions::default()).await;
            let job = run_job(Arc::clone(shared), lease, permit, state.give_up.clone());
            state.jobs.spawn(job);
            acked?;
        }
        Ok(Acquire::Busy { expires_at, .. }) if shared.options.defer_busy => {
            let delay = shared
                .topology()
                .retry_delays()
                .first()
                .copied()
                .unwrap_or(Duration::from_secs(1));
            info!(take_id = %lease.key.take_id, ?expires_at, ?delay, "another worker holds this take; deferred");
            publisher
                .publish(
                    &shared.topology().retry_exchange(),
                    &Topology::delay_routing_key(stage, delay),
                    lease.headers.to_table(),
                    &lease.body,
                )
                .await?;
            delivery.ack(BasicAckOptions::default()).await?;
        }
        Ok(Acquire::Busy { expires_at, .. }) => {
            info!(take_id = %lease.key.take_id, ?expires_at, "duplicate of a job another worker holds; dropped");
            shared.options.metrics.duplicate(stage);
            delivery.ack(BasicAckOptions::default()).await?;
        }
        Err(error) => {
            warn!(%error, "lease store failed; giving the delivery back");
            sleep(LEASE_STORE_PAUSE).await;
            delivery
                .nack(BasicNackOptions {
                    requeue: true,
                    ..BasicNackOptions::default()
                })
                .await?;
        }
    }
    Ok(())
}

/// How a job's handler call ended.
enum Ran {
    Done(Result<Vec<Outgoing>, JobError>),
    /// The lease was lost: someone else owns the job now.
    Lost,
    /// Shutdown deadline: hand the job back.
    GiveUp,
}

/// Runs one accepted job to its outcome, renewing its lease meanwhile.
async fn run_job<H: Handler, L: LeaseStore>(
    shared: Arc<Shared<H, L>>,
    lease: Lease,
    permit: OwnedSemaphorePermit,
    give_up: CancellationToken,
) {
    let stage = shared.stage();
    let span = info_span!(
        "job",
        %stage,
        take_id = %lease.headers.take_id,
        attempt = lease.headers.attempt,
        traceparent = lease.headers.traceparent.as_deref().unwrap_or(""),
    );
    async move {
        let metrics = &shared.options.metrics;
        let started = Instant::now();
        metrics.job_started(stage);
        info!("job started");

        let lost = CancellationToken::new();
        // Aborted when dropped, so a job that ends any way, a panic
        // included, stops renewing its lease.
        let renewer = AbortOnDrop(tokio::spawn(
            renew(
                Arc::clone(&shared),
                lease.key.clone(),
                lease.token.clone(),
                lost.clone(),
            )
            .in_current_span(),
        ));
        let cancel = CancellationToken::new();
        let job = Job {
            stage,
            headers: lease.headers.clone(),
            body: lease.body.clone(),
            run: lease.token.clone(),
            cancel: cancel.clone(),
            progress: Progress::default(),
        };
        // A panicking handler is a bug, which a later release may fix:
        // transient, so it is retried and then dead-lettered with the panic.
        let mut handled = Box::pin(
            AssertUnwindSafe(shared.handler.handle(job))
                .catch_unwind()
                .map(|result| {
                    result.unwrap_or_else(|panic| Err(JobError::Transient(panic_message(&*panic))))
                }),
        );
        let ran = tokio::select! {
            result = &mut handled => Ran::Done(result),
            () = lost.cancelled() => Ran::Lost,
            () = give_up.cancelled() => Ran::GiveUp,
        };
        if !matches!(ran, Ran::Done(_)) {
            // Let the handler see the cancellation and stop what it started
            // (a GStreamer pipeline, a blocking task) before it is dropped;
            // whatever it returns now is discarded.
            cancel.cancel();
            let _ = tokio::time::timeout(WIND_DOWN, &mut handled).await;
        }
        drop(handled);

        let headers = &lease.headers;
        let (messages, outcome) = match ran {
            Ran::Done(Ok(outgoing)) => {
                let messages = outgoing
                    .into_iter()
                    .map(|mut message| {
                        if message.headers.traceparent.is_none() {
                            message.headers.traceparent = headers.traceparent.clone();
                        }
                        let (exchange, routing_key) = message.route.address(shared.topology());
                        Addressed {
                            exchange,
                            routing_key,
                            headers: message.headers.to_table(),
                            body: message.body,
                        }
                    })
                    .collect();
                (messages, Outcome::Succeeded)
            }
            Ran::Done(Err(failure)) => {
                let retry = headers.attempt.saturating_add(1);
                match (&failure, shared.topology().retry_delay(retry)) {
                    (JobError::Transient(reason), Some(delay)) => {
                        info!(%reason, ?delay, retry, "transient failure; retrying later");
                        (
                            vec![shared.retry(headers, &lease.body, delay)],
                            Outcome::Retried,
                        )
                    }
                    _ => {
                        let class = failure.kind();
                        let reason = match class {
                            ErrorClass::Transient => {
                                format!("{} (gave up after {} attempts)", failure.message(), retry)
                            }
                            _ => failure.message().to_owned(),
                        };
                        warn!(%reason, kind = %class, "job failed; dead-lettering");
                        (
                            shared.dead_letter(headers, &lease.body, &reason, class),
                            Outcome::DeadLettered(class),
                        )
                    }
                }
            }
            Ran::Lost => {
                warn!("lease lost; abandoning the job to its new holder");
                drop(renewer);
                metrics.job_finished(stage, Outcome::Abandoned, started.elapsed());
                drop(permit);
                return;
            }
            Ran::GiveUp => {
                drop(renewer);
                hand_back(&shared, &lease).await;
                metrics.job_finished(stage, Outcome::HandedBack, started.elapsed());
                drop(permit);
                return;
            }
        };

        // The lease stays renewed while the outcome waits for the broker.
        let handed_on = shared.hand_on(&messages).await;
        drop(renewer);
        let outcome = if handed_on {
            match shared
                .options
                .leases
                .release(&lease.key, &lease.token)
                .await
            {
                Ok(true) => {}
                Ok(false) => warn!("the lease was taken over before its release"),
                Err(error) => {
                    warn!(%error, "releasing the lease failed; the sweeper will rerun the job")
                }
            }
            outcome
        } else {
            error!("could not hand the outcome on in time; the sweeper will rerun the job");
            Outcome::Abandoned
        };
        info!(
            outcome = outcome.as_str(),
            seconds = started.elapsed().as_secs_f64(),
            "job ended"
        );
        metrics.job_finished(stage, outcome, started.elapsed());
        drop(permit);
    }
    .instrument(span)
    .await;
}

/// A task aborted when this is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned());
    format!("the handler panicked: {detail}")
}

/// Renews a lease every third of its time-to-live. Fires `lost` when the
/// lease was taken over, or when renewals failed until it expired.
async fn renew<H: Handler, L: LeaseStore>(
    shared: Arc<Shared<H, L>>,
    key: LeaseKey,
    token: String,
    lost: CancellationToken,
) {
    let ttl = shared.options.lease_ttl;
    let mut valid_until = Instant::now() + ttl;
    loop {
        sleep(ttl / 3).await;
        let now = Instant::now();
        match shared
            .options
            .leases
            .renew(&key, &token, SystemTime::now() + ttl)
            .await
        {
            Ok(true) => valid_until = now + ttl,
            Ok(false) => {
                lost.cancel();
                return;
            }
            Err(error) => {
                warn!(%error, "renewing the lease failed");
                if Instant::now() >= valid_until {
                    lost.cancel();
                    return;
                }
            }
        }
    }
}

/// Gives a job back to its queue unfinished: mark the lease handed back
/// (so the copy may be taken at once), republish the job as it came, then
/// release the lease. If the broker is gone, the lease is left for a
/// sweeper; the job is not lost either way.
async fn hand_back<H: Handler, L: LeaseStore>(shared: &Shared<H, L>, lease: &Lease) {
    let token = new_token();
    let until = SystemTime::now() + shared.options.lease_ttl;
    match shared
        .options
        .leases
        .hand_back(&lease.key, &lease.token, &token, until)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            warn!("lease already taken over; nothing to hand back");
            return;
        }
        Err(error) => {
            warn!(%error, "lease store failed; leaving the job to the sweeper");
            return;
        }
    }
    let message = shared.job_to(shared.stage(), &lease.headers, &lease.body);
    let sent = tokio::time::timeout(HAND_BACK_TIMEOUT, shared.hand_on(&[message])).await;
    if matches!(sent, Ok(true)) {
        info!("job handed back to the queue");
        if let Err(error) = shared.options.leases.release(&lease.key, &token).await {
            warn!(%error, "releasing a handed-back lease failed");
        }
    } else {
        warn!("could not hand the job back; its lease is left for the sweeper");
    }
}

/// Republishes the jobs of this stage whose lease expired: their worker
/// died or lost the broker. A lease that was being handed back keeps its
/// attempt count; one that simply expired counts as an attempt, so a job
/// that kills its worker every time ends in the dead-letter queue.
async fn sweep_expired<H: Handler, L: LeaseStore>(
    shared: &Shared<H, L>,
    publisher: &Publisher,
) -> Result<(), BrokerError> {
    let stage = shared.stage();
    let now = SystemTime::now();
    let expired = match shared.options.leases.expired(stage, now).await {
        Ok(expired) => expired,
        Err(error) => {
            warn!(%error, "listing expired leases failed");
            return Ok(());
        }
    };
    for lease in expired {
        let token = new_token();
        let claimed = shared
            .options
            .leases
            .hand_back(
                &lease.key,
                &lease.token,
                &token,
                now + shared.options.lease_ttl,
            )
            .await
            .map_err(|error| BrokerError::Lease(error.to_string()))?;
        if !claimed {
            continue;
        }
        let headers = if lease.handed_back {
            lease.headers.clone()
        } else {
            lease
                .headers
                .clone()
                .with_attempt(lease.headers.attempt.saturating_add(1))
        };
        let messages = if headers.attempt >= shared.topology().max_attempts() {
            let reason = format!(
                "its worker stopped renewing the lease {} times (crashed or lost its broker and store)",
                headers.attempt
            );
            let last = headers
                .clone()
                .with_attempt(headers.attempt.saturating_sub(1));
            shared.dead_letter(&last, &lease.body, &reason, ErrorClass::Lost)
        } else {
            vec![shared.job_to(stage, &headers, &lease.body)]
        };
        for message in &messages {
            publisher
                .publish(
                    &message.exchange,
                    &message.routing_key,
                    message.headers.clone(),
                    &message.body,
                )
                .await?;
        }
        warn!(take_id = %lease.key.take_id, attempt = headers.attempt, "lease expired; job republished");
        shared.options.metrics.lease_swept(stage);
        if let Err(error) = shared.options.leases.release(&lease.key, &token).await {
            warn!(%error, "releasing a swept lease failed");
        }
    }
    Ok(())
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
