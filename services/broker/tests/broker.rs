//! Against the real RabbitMQ at 127.0.0.1:5672 (guest/guest), or
//! `MOOCPIPE_AMQP_URL`. Each test declares its own topology under a random
//! prefix and deletes it at the end, even when it fails. Without a broker
//! every test fails and says how to start one: `scripts/rabbitmq.sh ensure`.
//!
//! Two tests change the broker at run time with `rabbitmqctl` (needs root):
//! the consumer_timeout test lowers the timeout and restores it, the
//! reconnect test closes its own worker's connection.

#[path = "support/consumer_timeout.rs"]
mod consumer_timeout;

use consumer_timeout::{rabbitmqctl, LowConsumerTimeout};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicQosOptions, QueueBindOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::Connection;
use moocpipe_broker::lease::{Finish, LeaseKey, LeaseStore};
use moocpipe_broker::message::{HEADER_ATTEMPT, HEADER_ERROR, HEADER_ERROR_KIND};
use moocpipe_broker::{
    dlq, run_worker, topology, AmqpConfig, ErrorClass, Headers, InMemoryLeases, Job, JobError,
    Outcome, Outgoing, Publisher, Stage, Topology, WorkerMetrics, WorkerOptions,
};
use serde_json::json;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const RETRY_DELAYS: [Duration; 2] = [Duration::from_millis(300), Duration::from_millis(600)];

fn amqp_url() -> String {
    std::env::var("MOOCPIPE_AMQP_URL")
        .unwrap_or_else(|_| moocpipe_broker::DEFAULT_AMQP_URL.to_owned())
}

fn random_prefix() -> String {
    use std::hash::{BuildHasher, RandomState};
    let random = RandomState::new().hash_one(SystemTime::now());
    format!("test-{random:012x}")
}

async fn connect(config: &AmqpConfig) -> Connection {
    match config.connect().await {
        Ok(connection) => connection,
        Err(error) => panic!(
            "RabbitMQ is not reachable at {} ({error}). Start it with `scripts/rabbitmq.sh ensure`, \
             or point MOOCPIPE_AMQP_URL at one.",
            config.url
        ),
    }
}

/// A test's own topology on the real broker; deleted on drop.
struct Broker {
    amqp: AmqpConfig,
    topology: Topology,
    connection: Connection,
    publisher: Publisher,
}

impl Broker {
    async fn new() -> Broker {
        let amqp = AmqpConfig::new(amqp_url()).with_connection_name(random_prefix());
        let topology = Topology::new(random_prefix()).with_retry_delays(RETRY_DELAYS.to_vec());
        let connection = connect(&amqp).await;
        let channel = connection.create_channel().await.expect("channel");
        topology::declare(&channel, &topology)
            .await
            .expect("declare");
        let publisher = Publisher::on(channel).await.expect("confirm mode");
        Broker {
            amqp,
            topology,
            connection,
            publisher,
        }
    }

    fn options(&self, stage: Stage, leases: &Arc<InMemoryLeases>) -> WorkerOptions<InMemoryLeases> {
        WorkerOptions::new(self.topology.clone(), stage, Arc::clone(leases))
            .lease_ttl(Duration::from_secs(3))
            .shutdown_grace(Duration::from_millis(300))
            .handoff_timeout(Duration::from_secs(10))
    }

    fn spawn_worker<H: moocpipe_broker::Handler>(
        &self,
        options: WorkerOptions<InMemoryLeases>,
        handler: H,
    ) -> (CancellationToken, JoinHandle<()>) {
        let shutdown = CancellationToken::new();
        let amqp = self.amqp.clone();
        let token = shutdown.clone();
        let task = tokio::spawn(async move {
            run_worker(&amqp, options, handler, token)
                .await
                .expect("worker");
        });
        (shutdown, task)
    }

    async fn send(&self, stage: Stage, take_id: &str) {
        let message = Outgoing::job(stage, take_id, &json!({ "take_id": take_id }))
            .expect("encode")
            .with_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        self.publisher
            .send(&self.topology, &message)
            .await
            .expect("publish a job");
    }

    /// Takes (acks) up to `n` messages from `queue` within `within`.
    async fn take(&self, queue: &str, n: usize, within: Duration) -> Vec<(FieldTable, Vec<u8>)> {
        let channel = self.connection.create_channel().await.expect("channel");
        let deadline = Instant::now() + within;
        let mut taken = Vec::new();
        while taken.len() < n && Instant::now() < deadline {
            match channel
                .basic_get(queue, BasicGetOptions { no_ack: true })
                .await
                .expect("basic.get")
            {
                Some(message) => taken.push((
                    message
                        .delivery
                        .properties
                        .headers()
                        .clone()
                        .unwrap_or_default(),
                    message.delivery.data,
                )),
                None => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        let _ = channel.close(200, "taken").await;
        taken
    }

    async fn depth(&self, queue: &str) -> u32 {
        let channel = self.connection.create_channel().await.expect("channel");
        let queue = channel
            .queue_declare(
                queue,
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("passive declare");
        let _ = channel.close(200, "counted").await;
        queue.message_count()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let amqp = self.amqp.clone();
        let topology = self.topology.clone();
        // A runtime of its own: drop may run while the test's runtime is
        // unwinding from a panic.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                if let Ok(connection) = amqp.connect().await {
                    if let Ok(channel) = connection.create_channel().await {
                        if let Err(error) = topology::delete(&channel, &topology).await {
                            eprintln!("cleanup of {}: {error}", topology.prefix());
                        }
                    }
                    let _ = connection.close(200, "cleanup").await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

fn header<'a>(headers: &'a FieldTable, name: &str) -> Option<&'a AMQPValue> {
    headers.inner().get(name)
}

fn header_str(headers: &FieldTable, name: &str) -> Option<String> {
    match header(headers, name)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

fn header_int(headers: &FieldTable, name: &str) -> Option<i64> {
    match header(headers, name)? {
        AMQPValue::LongLongInt(v) => Some(*v),
        AMQPValue::LongInt(v) => Some(i64::from(*v)),
        _ => None,
    }
}

async fn wait_until(within: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Counts what the worker loop reports.
#[derive(Default)]
struct Counts {
    started: AtomicU32,
    reconnects: AtomicU32,
    duplicates: AtomicU32,
    swept: AtomicU32,
    outcomes: Mutex<Vec<Outcome>>,
}

impl WorkerMetrics for Counts {
    fn job_started(&self, _stage: Stage) {
        self.started.fetch_add(1, Ordering::SeqCst);
    }
    fn job_finished(&self, _stage: Stage, outcome: Outcome, _duration: Duration) {
        self.outcomes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(outcome);
    }
    fn duplicate(&self, _stage: Stage) {
        self.duplicates.fetch_add(1, Ordering::SeqCst);
    }
    fn lease_swept(&self, _stage: Stage) {
        self.swept.fetch_add(1, Ordering::SeqCst);
    }
    fn reconnected(&self, _stage: Stage) {
        self.reconnects.fetch_add(1, Ordering::SeqCst);
    }
}

impl Counts {
    fn outcomes(&self) -> Vec<Outcome> {
        self.outcomes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// What a handler saw: (take id, attempt) per call.
type Calls = Arc<Mutex<Vec<(String, u32)>>>;

fn record(calls: &Calls, job: &Job) {
    calls
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((job.take_id().to_owned(), job.attempt()));
}

fn seen(calls: &Calls) -> Vec<(String, u32)> {
    calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// A probe handler that passes every take on to the transcode stage.
fn forward_to_transcode(calls: Calls) -> impl moocpipe_broker::Handler {
    move |job: Job| {
        let calls = Arc::clone(&calls);
        async move {
            record(&calls, &job);
            let body: serde_json::Value = job.json()?;
            let next = Outgoing::job(Stage::Transcode, job.take_id(), &body)
                .map_err(|e| JobError::Transient(e.to_string()))?;
            Ok(vec![next])
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topology_declares_twice_and_names_follow_the_prefix() {
    let broker = Broker::new().await;
    let channel = broker.connection.create_channel().await.expect("channel");
    // Again, with the same arguments: a no-op, not an error.
    topology::declare(&channel, &broker.topology)
        .await
        .expect("second declare");
    topology::declare(&channel, &broker.topology)
        .await
        .expect("third declare");
    for stage in Stage::ALL {
        assert_eq!(broker.depth(&broker.topology.stage_queue(stage)).await, 0);
        assert_eq!(broker.depth(&broker.topology.dead_queue(stage)).await, 0);
        for delay in RETRY_DELAYS {
            assert_eq!(
                broker
                    .depth(&broker.topology.delay_queue(stage, delay))
                    .await,
                0
            );
        }
    }
    // A job is routed to its stage's queue; an event with no subscriber is
    // parked rather than returned.
    broker.send(Stage::Caption, "take-a").await;
    let event = Outgoing::event(Stage::Probe, "succeeded", "take-a", &json!({})).expect("event");
    broker
        .publisher
        .send(&broker.topology, &event)
        .await
        .expect("event published");
    assert_eq!(
        broker
            .take(
                &broker.topology.stage_queue(Stage::Caption),
                1,
                Duration::from_secs(5)
            )
            .await
            .len(),
        1
    );
    assert_eq!(
        broker
            .take(
                &broker.topology.unrouted_events(),
                1,
                Duration::from_secs(5)
            )
            .await
            .len(),
        1
    );
    // Publishing to a key nothing is bound to is an error, not a silent loss.
    let unroutable = broker
        .publisher
        .publish(
            &broker.topology.jobs_exchange(),
            "nonesuch",
            FieldTable::default(),
            b"{}",
        )
        .await;
    assert!(
        matches!(
            unroutable,
            Err(moocpipe_broker::BrokerError::Unroutable { .. })
        ),
        "{unroutable:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_reaches_the_handler_and_its_downstream_message_is_delivered() {
    let broker = Broker::new().await;
    let leases = Arc::new(InMemoryLeases::new());
    let calls = Calls::default();
    // An event queue, as the report worker will bind one.
    let channel = broker.connection.create_channel().await.expect("channel");
    let events = format!("{}.test-events", broker.topology.prefix());
    channel
        .queue_declare(
            &events,
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("events queue");
    channel
        .queue_bind(
            &events,
            &broker.topology.events_exchange(),
            "take.probe.*",
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("bind");

    let handler = {
        let calls = Arc::clone(&calls);
        move |job: Job| {
            let calls = Arc::clone(&calls);
            async move {
                record(&calls, &job);
                let body: serde_json::Value = job.json()?;
                assert_eq!(body["take_id"], job.take_id());
                Ok(vec![
                    Outgoing::job(Stage::Transcode, job.take_id(), &body)
                        .map_err(|e| JobError::Permanent(e.to_string()))?,
                    Outgoing::event(
                        Stage::Probe,
                        "succeeded",
                        job.take_id(),
                        &json!({"ok": true}),
                    )
                    .map_err(|e| JobError::Permanent(e.to_string()))?,
                ])
            }
        }
    };
    let (shutdown, worker) = broker.spawn_worker(broker.options(Stage::Probe, &leases), handler);
    broker.send(Stage::Probe, "take-1").await;

    let downstream = broker
        .take(
            &broker.topology.stage_queue(Stage::Transcode),
            1,
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(downstream.len(), 1, "the transcode job arrived");
    let (headers, body) = &downstream[0];
    assert_eq!(header_str(headers, "take_id").as_deref(), Some("take-1"));
    assert_eq!(header_int(headers, "attempt"), Some(0));
    assert_eq!(header_int(headers, "schema_version"), Some(1));
    assert_eq!(
        header_str(headers, "traceparent").as_deref(),
        Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        "the trace context travels on"
    );
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(body).expect("json"),
        json!({"take_id": "take-1"})
    );
    let event = broker.take(&events, 1, Duration::from_secs(5)).await;
    assert_eq!(event.len(), 1, "the event arrived");
    assert_eq!(seen(&calls), vec![("take-1".to_owned(), 0)]);
    wait_until(Duration::from_secs(5), "the lease release", || {
        leases.all().is_empty()
    })
    .await;

    shutdown.cancel();
    worker.await.expect("worker ends");
    let _ = channel
        .queue_delete(&events, QueueDeleteOptions::default())
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_message_is_dead_lettered_after_one_delivery_and_the_worker_goes_on() {
    let broker = Broker::new().await;
    let leases = Arc::new(InMemoryLeases::new());
    let calls = Calls::default();
    let (shutdown, worker) = broker.spawn_worker(
        broker.options(Stage::Probe, &leases),
        forward_to_transcode(Arc::clone(&calls)),
    );
    let jobs = broker.topology.jobs_exchange();
    // Valid headers, body not JSON.
    broker
        .publisher
        .publish(
            &jobs,
            "probe",
            Headers::new("take-bad").to_table(),
            b"not json {",
        )
        .await
        .expect("publish");
    // JSON body, no headers at all.
    broker
        .publisher
        .publish(&jobs, "probe", FieldTable::default(), b"{}")
        .await
        .expect("publish");
    // A good one after them.
    broker.send(Stage::Probe, "take-good").await;

    let downstream = broker
        .take(
            &broker.topology.stage_queue(Stage::Transcode),
            1,
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(downstream.len(), 1, "the good message was processed");
    let dead = broker
        .take(
            &broker.topology.dead_queue(Stage::Probe),
            3,
            Duration::from_secs(2),
        )
        .await;
    assert_eq!(
        dead.len(),
        2,
        "exactly the two malformed messages, once each"
    );
    for (headers, _) in &dead {
        assert_eq!(
            header_str(headers, HEADER_ERROR_KIND).as_deref(),
            Some("malformed")
        );
        let reason = header_str(headers, HEADER_ERROR).expect("reason");
        assert!(reason.starts_with("malformed message"), "{reason}");
    }
    assert_eq!(
        header_str(&dead[0].0, "take_id").as_deref(),
        Some("take-bad")
    );
    assert!(header_str(&dead[0].0, HEADER_ERROR).is_some_and(|r| r.contains("not JSON")));
    assert!(header_str(&dead[1].0, HEADER_ERROR).is_some_and(|r| r.contains("schema_version")));
    assert_eq!(
        seen(&calls),
        vec![("take-good".to_owned(), 0)],
        "the handler never saw them"
    );
    assert_eq!(
        broker
            .depth(&broker.topology.stage_queue(Stage::Probe))
            .await,
        0
    );

    shutdown.cancel();
    worker.await.expect("worker ends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_error_is_retried_with_back_off_then_dead_lettered_with_the_reason() {
    let broker = Broker::new().await;
    let leases = Arc::new(InMemoryLeases::new());
    let calls = Calls::default();
    let times = Arc::new(Mutex::new(Vec::new()));
    let handler = {
        let calls = Arc::clone(&calls);
        let times = Arc::clone(&times);
        move |job: Job| {
            let calls = Arc::clone(&calls);
            let times = Arc::clone(&times);
            async move {
                record(&calls, &job);
                times
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(Instant::now());
                Err(JobError::Transient("storage unreachable".to_owned()))
            }
        }
    };
    let counts = Arc::new(Counts::default());
    let options = broker
        .options(Stage::Transcode, &leases)
        .metrics(counts.clone());
    let (shutdown, worker) = broker.spawn_worker(options, handler);
    broker.send(Stage::Transcode, "take-t").await;

    let dead = broker
        .take(
            &broker.topology.dead_queue(Stage::Transcode),
            1,
            Duration::from_secs(15),
        )
        .await;
    assert_eq!(dead.len(), 1, "dead-lettered after the last attempt");
    let (headers, body) = &dead[0];
    assert_eq!(
        header_str(headers, HEADER_ERROR_KIND).as_deref(),
        Some("transient")
    );
    let reason = header_str(headers, HEADER_ERROR).expect("reason");
    assert!(
        reason.contains("storage unreachable") && reason.contains("3 attempts"),
        "{reason}"
    );
    assert_eq!(header_int(headers, HEADER_ATTEMPT), Some(2));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(body).expect("json"),
        json!({"take_id": "take-t"})
    );
    let take = |attempt| ("take-t".to_owned(), attempt);
    assert_eq!(seen(&calls), vec![take(0), take(1), take(2)]);
    let times = times.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for (gap, delay) in times.windows(2).map(|w| w[1] - w[0]).zip(RETRY_DELAYS) {
        assert!(
            gap >= delay,
            "retry came after {gap:?}, back-off is {delay:?}"
        );
    }
    wait_until(Duration::from_secs(5), "three outcomes", || {
        counts.outcomes().len() == 3
    })
    .await;
    assert_eq!(
        counts.outcomes(),
        vec![
            Outcome::Retried,
            Outcome::Retried,
            Outcome::DeadLettered(ErrorClass::Transient)
        ]
    );
    // The failure is announced as an event too, and the report stage's
    // queue is bound to it (the take still gets its report and notice).
    let events = broker
        .take(
            &broker.topology.stage_queue(Stage::Report),
            1,
            Duration::from_secs(5),
        )
        .await;
    assert_eq!(events.len(), 1);
    let event: serde_json::Value = serde_json::from_slice(&events[0].1).expect("json");
    assert_eq!(event["kind"], "transient");
    assert_eq!(event["attempts"], 3);

    shutdown.cancel();
    worker.await.expect("worker ends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_error_is_dead_lettered_at_once() {
    let broker = Broker::new().await;
    let leases = Arc::new(InMemoryLeases::new());
    let calls = Calls::default();
    let handler = {
        let calls = Arc::clone(&calls);
        move |job: Job| {
            let calls = Arc::clone(&calls);
            async move {
                record(&calls, &job);
                #[derive(serde::Deserialize)]
                #[allow(dead_code)]
                struct NeedsAField {
                    source_key: String,
                }
                // Valid JSON of the wrong shape: the sender's fault.
                let _: NeedsAField = job.json()?;
                Ok(Vec::new())
            }
        }
    };
    let (shutdown, worker) = broker.spawn_worker(broker.options(Stage::Caption, &leases), handler);
    broker.send(Stage::Caption, "take-p").await;
    let dead = broker
        .take(
            &broker.topology.dead_queue(Stage::Caption),
            1,
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(dead.len(), 1);
    assert_eq!(
        header_str(&dead[0].0, HEADER_ERROR_KIND).as_deref(),
        Some("permanent")
    );
    let reason = header_str(&dead[0].0, HEADER_ERROR).expect("reason");
    assert!(reason.contains("source_key"), "{reason}");
    assert_eq!(header_int(&dead[0].0, HEADER_ATTEMPT), Some(0));
    // Nothing is waiting to be retried.
    tokio::time::sleep(RETRY_DELAYS[0] * 2).await;
    assert_eq!(
        seen(&calls),
        vec![("take-p".to_owned(), 0)],
        "one handler call"
    );
    for delay in RETRY_DELAYS {
        assert_eq!(
            broker
                .depth(&broker.topology.delay_queue(Stage::Caption, delay))
                .await,
            0
        );
    }
    shutdown.cancel();
    worker.await.expect("worker ends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_without_loss_replayed_and_purged() {
    let broker = Broker::new().await;
    let stage = Stage::Report;
    let dead_queue = broker.topology.dead_queue(stage);
    let dead_letter = |take: &str, reason: &str, kind: &str, attempt: i64| {
        let mut table = Headers::new(take).to_table();
        table.insert(
            ShortString::from(HEADER_ATTEMPT),
            AMQPValue::LongLongInt(attempt),
        );
        table.insert(
            ShortString::from(HEADER_ERROR),
            AMQPValue::LongString(LongString::from(reason)),
        );
        table.insert(
            ShortString::from(HEADER_ERROR_KIND),
            AMQPValue::LongString(LongString::from(kind)),
        );
        table
    };
    for (i, (kind, attempt)) in [("permanent", 0), ("transient", 2), ("malformed", 0)]
        .into_iter()
        .enumerate()
    {
        broker
            .publisher
            .publish(
                &broker.topology.dead_exchange(),
                "report",
                dead_letter(&format!("take-{i}"), &format!("reason {i}"), kind, attempt),
                format!("{{\"n\":{i}}}").as_bytes(),
            )
            .await
            .expect("publish a dead letter");
    }

    let listed = dlq::list(&broker.connection, &broker.topology, stage)
        .await
        .expect("list");
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[0].take_id.as_deref(), Some("take-0"));
    assert_eq!(listed[0].reason, "reason 0");
    assert_eq!(listed[0].kind, Some(ErrorClass::Permanent));
    assert_eq!(listed[1].attempts, 3, "two retries: three runs");
    assert_eq!(listed[2].body, br#"{"n":2}"#);
    // Listing twice gives the same, in the same order: nothing was taken.
    let again = dlq::list(&broker.connection, &broker.topology, stage)
        .await
        .expect("list");
    assert_eq!(again, listed);
    assert_eq!(broker.depth(&dead_queue).await, 3);

    let moved = dlq::replay(&broker.connection, &broker.topology, stage)
        .await
        .expect("replay");
    assert_eq!(moved, 3);
    assert_eq!(broker.depth(&dead_queue).await, 0);
    let replayed = broker
        .take(
            &broker.topology.stage_queue(stage),
            3,
            Duration::from_secs(5),
        )
        .await;
    assert_eq!(replayed.len(), 3);
    for (i, (headers, body)) in replayed.iter().enumerate() {
        assert_eq!(header_str(headers, "take_id"), Some(format!("take-{i}")));
        assert_eq!(
            header_int(headers, HEADER_ATTEMPT),
            Some(0),
            "attempts reset"
        );
        assert_eq!(
            header_str(headers, HEADER_ERROR),
            None,
            "error headers dropped"
        );
        assert_eq!(body, format!("{{\"n\":{i}}}").as_bytes());
    }

    for i in 0..2 {
        broker
            .publisher
            .publish(
                &broker.topology.dead_exchange(),
                "report",
                dead_letter(&format!("take-x{i}"), "x", "permanent", 0),
                b"{}",
            )
            .await
            .expect("publish a dead letter");
    }
    assert_eq!(
        dlq::purge(&broker.connection, &broker.topology, stage)
            .await
            .expect("purge"),
        2
    );
    assert!(dlq::list(&broker.connection, &broker.topology, stage)
        .await
        .expect("list")
        .is_empty());
    assert_eq!(
        dlq::replay(&broker.connection, &broker.topology, stage)
            .await
            .expect("replay"),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_mid_job_hands_the_job_back_to_another_worker() {
    let broker = Broker::new().await;
    let leases = Arc::new(InMemoryLeases::new());
    let started = Arc::new(AtomicUsize::new(0));
    let cancelled = Arc::new(AtomicUsize::new(0));
    // Worker A never finishes on its own; it notices the cancellation.
    let slow = {
        let started = Arc::clone(&started);
        let cancelled = Arc::clone(&cancelled);
        move |job: Job| {
            let started = Arc::clone(&started);
            let cancelled = Arc::clone(&cancelled);
            async move {
                started.fetch_add(1, Ordering::SeqCst);
                let cancel = job.cancel.clone();
                let guard = CancelledOnDrop(cancel, cancelled);
                tokio::time::sleep(Duration::from_secs(60)).await;
                drop(guard);
                Ok(Vec::new())
            }
        }
    };
    let counts_a = Arc::new(Counts::default());
    let (shutdown_a, worker_a) = broker.spawn_worker(
        broker
            .options(Stage::Transcode, &leases)
            .metrics(counts_a.clone()),
        slow,
    );
    broker.send(Stage::Transcode, "take-s").await;
    wait_until(Duration::from_secs(10), "worker A to start the job", || {
        started.load(Ordering::SeqCst) == 1
    })
    .await;
    let shutdown_started = Instant::now();
    shutdown_a.cancel();
    worker_a.await.expect("worker A ends");
    assert!(
        shutdown_started.elapsed() < Duration::from_secs(8),
        "shutdown kept its deadline"
    );
    assert_eq!(counts_a.outcomes(), vec![Outcome::HandedBack]);
    assert_eq!(
        cancelled.load(Ordering::SeqCst),
        1,
        "the handler saw the cancellation"
    );
    assert!(leases.all().is_empty(), "the lease was released");

    let calls = Calls::default();
    let (shutdown_b, worker_b) = broker.spawn_worker(
        broker.options(Stage::Transcode, &leases),
        forward_to_transcode_report(Arc::clone(&calls)),
    );
    let downstream = broker
        .take(
            &broker.topology.stage_queue(Stage::Report),
            1,
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(downstream.len(), 1, "worker B finished the job");
    assert_eq!(
        seen(&calls),
        vec![("take-s".to_owned(), 0)],
        "same job, attempt not counted"
    );
    shutdown_b.cancel();
    worker_b.await.expect("worker B ends");
}

/// Sets the counter when dropped while `token` is cancelled: the handler
/// future was dropped after the worker cancelled the job.
struct CancelledOnDrop(CancellationToken, Arc<AtomicUsize>);

impl Drop for CancelledOnDrop {
    fn drop(&mut self) {
        if self.0.is_cancelled() {
            self.1.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn forward_to_transcode_report(calls: Calls) -> impl moocpipe_broker::Handler {
    move |job: Job| {
        let calls = Arc::clone(&calls);
        async move {
            record(&calls, &job);
            let next = Outgoing::job(Stage::Report, job.take_id(), &json!({}))
                .map_err(|e| JobError::Transient(e.to_string()))?;
            Ok(vec![next])
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lease_is_swept_and_its_job_rerun() {
    let broker = Broker::new().await;
    let leases = Arc::new(InMemoryLeases::new());
    // The lease of a worker that died mid-job: expired, never released.
    // (A time-to-live of zero: expired as soon as taken.)
    leases
        .acquire(
            &LeaseKey {
                stage: Stage::Transcode,
                take_id: "take-orphan".to_owned(),
            },
            &Headers::new("take-orphan"),
            br#"{"take_id":"take-orphan"}"#,
            "dead-worker:1",
            Duration::ZERO,
        )
        .await
        .expect("seed the lease");
    let calls = Calls::default();
    let counts = Arc::new(Counts::default());
    let (shutdown, worker) = broker.spawn_worker(
        broker
            .options(Stage::Transcode, &leases)
            .metrics(counts.clone()),
        forward_to_transcode_report(Arc::clone(&calls)),
    );
    let downstream = broker
        .take(
            &broker.topology.stage_queue(Stage::Report),
            1,
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(downstream.len(), 1, "the orphaned job ran again");
    assert_eq!(
        seen(&calls),
        vec![("take-orphan".to_owned(), 1)],
        "the lost run counts as an attempt"
    );
    assert_eq!(counts.swept.load(Ordering::SeqCst), 1);
    wait_until(Duration::from_secs(5), "the lease release", || {
        leases.all().is_empty()
    })
    .await;
    shutdown.cancel();
    worker.await.expect("worker ends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_longer_than_consumer_timeout_run_once_and_are_not_lost() {
    let broker = Broker::new().await;
    let low = LowConsumerTimeout::set();

    // Control: a plain consumer that holds a delivery past the timeout gets
    // its channel closed, so the broker really enforces 5 s here.
    let scratch = format!("{}.control", broker.topology.prefix());
    let control = broker.connection.create_channel().await.expect("channel");
    let mut quorum = FieldTable::default();
    quorum.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    control
        .queue_declare(
            &scratch,
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            quorum,
        )
        .await
        .expect("control queue");
    broker
        .publisher
        .publish("", &scratch, FieldTable::default(), b"{}")
        .await
        .expect("publish");
    control
        .basic_qos(1, BasicQosOptions::default())
        .await
        .expect("qos");
    let mut consumer = control
        .basic_consume(
            &scratch,
            "control",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("consume");
    let held = consumer
        .next()
        .await
        .expect("a delivery")
        .expect("delivery");

    // The pipeline: job 1 takes 9 s, longer than the timeout, with job 2
    // queued behind it on the same one-slot worker.
    let leases = Arc::new(InMemoryLeases::new());
    let counts = Arc::new(Counts::default());
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let calls = Calls::default();
    let handler = {
        let (running, most, calls) = (Arc::clone(&running), Arc::clone(&most), Arc::clone(&calls));
        move |job: Job| {
            let (running, most, calls) =
                (Arc::clone(&running), Arc::clone(&most), Arc::clone(&calls));
            async move {
                record(&calls, &job);
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                if job.take_id() == "take-long" {
                    tokio::time::sleep(Duration::from_secs(9)).await;
                }
                running.fetch_sub(1, Ordering::SeqCst);
                Ok(vec![Outgoing::job(
                    Stage::Report,
                    job.take_id(),
                    &json!({}),
                )
                .map_err(|e| JobError::Transient(e.to_string()))?])
            }
        }
    };
    let options = broker
        .options(Stage::Transcode, &leases)
        .prefetch(1)
        .metrics(counts.clone());
    let (shutdown, worker) = broker.spawn_worker(options, handler);
    broker.send(Stage::Transcode, "take-long").await;
    wait_until(Duration::from_secs(5), "the long job to start", || {
        running.load(Ordering::SeqCst) == 1
    })
    .await;
    broker.send(Stage::Transcode, "take-next").await;

    let downstream = broker
        .take(
            &broker.topology.stage_queue(Stage::Report),
            2,
            Duration::from_secs(20),
        )
        .await;
    let control_closed = !control.status().connected();
    let late_ack = held.ack(BasicAckOptions::default()).await;
    drop(low);

    assert!(
        control_closed,
        "the control channel outlived consumer_timeout: the test proves nothing"
    );
    assert!(
        late_ack.is_err(),
        "a late ack on the timed-out channel fails"
    );
    let mut takes: Vec<String> = downstream
        .iter()
        .filter_map(|(headers, _)| header_str(headers, "take_id"))
        .collect();
    takes.sort();
    assert_eq!(takes, vec!["take-long", "take-next"], "both jobs done");
    let mut per_take: HashMap<String, usize> = HashMap::new();
    for (take, _) in seen(&calls) {
        *per_take.entry(take).or_default() += 1;
    }
    assert_eq!(per_take.get("take-long"), Some(&1), "the long job ran once");
    assert_eq!(per_take.get("take-next"), Some(&1));
    assert_eq!(
        most.load(Ordering::SeqCst),
        1,
        "never two at once on a one-slot worker"
    );
    assert_eq!(
        counts.reconnects.load(Ordering::SeqCst),
        0,
        "the worker's channels were never closed"
    );
    assert_eq!(counts.duplicates.load(Ordering::SeqCst), 0);
    assert_eq!(
        broker
            .depth(&broker.topology.dead_queue(Stage::Transcode))
            .await,
        0
    );
    wait_until(Duration::from_secs(5), "the lease release", || {
        leases.all().is_empty()
    })
    .await;

    shutdown.cancel();
    worker.await.expect("worker ends");
    let _ = broker
        .connection
        .create_channel()
        .await
        .expect("channel")
        .queue_delete(&scratch, QueueDeleteOptions::default())
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_reconnects_after_the_broker_closes_its_connection() {
    let broker = Broker::new().await;
    let leases = Arc::new(InMemoryLeases::new());
    let calls = Calls::default();
    let counts = Arc::new(Counts::default());
    let name = format!("{}-worker", broker.topology.prefix());
    let amqp = broker
        .amqp
        .clone()
        .with_connection_name(name.clone())
        .with_reconnect(moocpipe_broker::Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        });
    let options = broker
        .options(Stage::Probe, &leases)
        .metrics(counts.clone());
    let shutdown = CancellationToken::new();
    let worker = {
        let shutdown = shutdown.clone();
        let handler = forward_to_transcode(Arc::clone(&calls));
        tokio::spawn(async move {
            run_worker(&amqp, options, handler, shutdown)
                .await
                .expect("worker")
        })
    };
    broker.send(Stage::Probe, "take-before").await;
    assert_eq!(
        broker
            .take(
                &broker.topology.stage_queue(Stage::Transcode),
                1,
                Duration::from_secs(10)
            )
            .await
            .len(),
        1
    );

    // Close the worker's connection from the broker's side.
    let listing = rabbitmqctl(&["list_connections", "-q", "pid", "client_properties"])
        .expect("rabbitmqctl list_connections (needs root)");
    let pid = listing
        .lines()
        .find(|line| line.contains(&name))
        .and_then(|line| line.split_whitespace().next())
        .unwrap_or_else(|| panic!("the worker's connection {name} in {listing}"))
        .to_owned();
    rabbitmqctl(&["close_connection", &pid, "test: broker-side close"]).expect("close_connection");

    wait_until(Duration::from_secs(10), "the reconnect", || {
        counts.reconnects.load(Ordering::SeqCst) >= 1
    })
    .await;
    broker.send(Stage::Probe, "take-after").await;
    let downstream = broker
        .take(
            &broker.topology.stage_queue(Stage::Transcode),
            1,
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(
        downstream.len(),
        1,
        "a job after the reconnect was processed"
    );
    assert_eq!(
        header_str(&downstream[0].0, "take_id").as_deref(),
        Some("take-after")
    );
    assert_eq!(
        seen(&calls),
        vec![("take-before".to_owned(), 0), ("take-after".to_owned(), 0)]
    );
    shutdown.cancel();
    worker.await.expect("worker ends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_to_a_missing_exchange_fails() {
    let broker = Broker::new().await;
    let publisher = Publisher::open(&broker.connection)
        .await
        .expect("publisher");
    let result = publisher
        .publish(
            &format!("{}.nonesuch", broker.topology.prefix()),
            "x",
            FieldTable::default(),
            b"{}",
        )
        .await;
    assert!(result.is_err(), "{result:?}");
}

/// A job whose progress stops moving is stopped (its handler sees the
/// cancellation) and retried, then dead-lettered with the reason; a job
/// whose progress moves runs to its end however long it takes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_progress_stops_is_stopped_and_retried_and_a_moving_one_is_not() {
    let broker = Broker::new().await;
    let leases = Arc::new(InMemoryLeases::new());
    let calls = Calls::default();
    let stopped = Arc::new(AtomicU32::new(0));
    let handler = {
        let (calls, stopped) = (Arc::clone(&calls), Arc::clone(&stopped));
        move |job: Job| {
            let (calls, stopped) = (Arc::clone(&calls), Arc::clone(&stopped));
            async move {
                record(&calls, &job);
                if job.take_id() == "take-stuck" {
                    // Some progress, then none: a pipeline that hangs.
                    job.progress.set(0.3);
                    job.cancel.cancelled().await;
                    stopped.fetch_add(1, Ordering::SeqCst);
                    return Err(moocpipe_broker::JobError::Transient("stopped".into()));
                }
                // Moves every 100 ms for 1.5 s: longer than the stall limit
                // in all, never without progress that long.
                for step in 1..=15 {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    job.progress.set(f64::from(step) / 15.0);
                }
                Ok(Vec::new())
            }
        }
    };
    let options = broker
        .options(Stage::Transcode, &leases)
        .stall_after(Some(Duration::from_millis(500)));
    let (shutdown, worker) = broker.spawn_worker(options, handler);
    broker.send(Stage::Transcode, "take-slow").await;
    broker.send(Stage::Transcode, "take-stuck").await;
    let dead = broker
        .take(
            &broker.topology.dead_queue(Stage::Transcode),
            1,
            Duration::from_secs(20),
        )
        .await;
    assert_eq!(dead.len(), 1);
    let reason = header_str(&dead[0].0, HEADER_ERROR).expect("reason");
    assert!(reason.contains("made no progress"), "{reason}");
    let runs = seen(&calls);
    let stuck = runs.iter().filter(|(t, _)| t == "take-stuck").count();
    assert!(stuck >= 2, "the stuck job was retried: {runs:?}");
    assert_eq!(
        stopped.load(Ordering::SeqCst) as usize,
        stuck,
        "every stuck run saw its cancellation"
    );
    assert_eq!(
        runs.iter()
            .filter(|(t, _)| t == "take-slow")
            .collect::<Vec<_>>(),
        vec![&("take-slow".to_owned(), 0)],
        "the moving job ran once"
    );
    shutdown.cancel();
    worker.await.expect("worker ends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_is_retried_then_dead_lettered_and_the_worker_survives() {
    let broker = Broker::new().await;
    let leases = Arc::new(InMemoryLeases::new());
    let calls = Calls::default();
    let handler = {
        let calls = Arc::clone(&calls);
        move |job: Job| {
            let calls = Arc::clone(&calls);
            async move {
                record(&calls, &job);
                if job.take_id() == "take-boom" {
                    panic!("boom");
                }
                Ok(Vec::new())
            }
        }
    };
    let (shutdown, worker) = broker.spawn_worker(broker.options(Stage::Probe, &leases), handler);
    broker.send(Stage::Probe, "take-boom").await;
    let dead = broker
        .take(
            &broker.topology.dead_queue(Stage::Probe),
            1,
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(dead.len(), 1);
    let reason = header_str(&dead[0].0, HEADER_ERROR).expect("reason");
    assert!(reason.contains("the handler panicked: boom"), "{reason}");
    broker.send(Stage::Probe, "take-fine").await;
    wait_until(Duration::from_secs(5), "the next job", || {
        seen(&calls).len() == 4
    })
    .await;
    assert_eq!(seen(&calls)[3], ("take-fine".to_owned(), 0));
    wait_until(Duration::from_secs(5), "the lease release", || {
        leases.all().is_empty()
    })
    .await;
    shutdown.cancel();
    worker.await.expect("worker ends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_once_at_a_time_and_stops_when_its_lease_is_lost() {
    let broker = Broker::new().await;
    let leases = Arc::new(InMemoryLeases::new());
    let calls = Calls::default();
    let cancelled = Arc::new(AtomicUsize::new(0));
    let handler = {
        let (calls, cancelled) = (Arc::clone(&calls), Arc::clone(&cancelled));
        move |job: Job| {
            let (calls, cancelled) = (Arc::clone(&calls), Arc::clone(&cancelled));
            async move {
                record(&calls, &job);
                let guard = CancelledOnDrop(job.cancel.clone(), cancelled);
                tokio::time::sleep(Duration::from_secs(30)).await;
                drop(guard);
                Ok(vec![Outgoing::job(
                    Stage::Report,
                    job.take_id(),
                    &json!({}),
                )
                .map_err(|e| JobError::Transient(e.to_string()))?])
            }
        }
    };
    let counts = Arc::new(Counts::default());
    let options = broker
        .options(Stage::Transcode, &leases)
        .prefetch(2)
        .metrics(counts.clone());
    let (shutdown, worker) = broker.spawn_worker(options, handler);
    broker.send(Stage::Transcode, "take-x").await;
    wait_until(Duration::from_secs(5), "the job to start", || {
        seen(&calls).len() == 1
    })
    .await;

    // A second copy while the first runs: dropped, not run alongside.
    broker.send(Stage::Transcode, "take-x").await;
    wait_until(
        Duration::from_secs(5),
        "the duplicate to be dropped",
        || counts.duplicates.load(Ordering::SeqCst) == 1,
    )
    .await;
    assert_eq!(seen(&calls).len(), 1);

    // Another party takes the lease over (as a sweeper would after an
    // expiry): the worker notices at its next renewal, cancels the job and
    // publishes nothing.
    let lease = leases.all().pop().expect("the running job's lease");
    let thief = leases
        .hand_back(&lease.key, lease.fence, Duration::from_secs(60))
        .await
        .expect("take over")
        .expect("the lease was held");
    wait_until(Duration::from_secs(5), "the job to be abandoned", || {
        counts.outcomes() == vec![Outcome::Abandoned]
    })
    .await;
    assert_eq!(
        cancelled.load(Ordering::SeqCst),
        1,
        "the handler was cancelled"
    );
    assert!(broker
        .take(
            &broker.topology.stage_queue(Stage::Report),
            1,
            Duration::from_millis(300)
        )
        .await
        .is_empty());
    assert!(leases
        .release(&lease.key, thief, &Finish::Requeued)
        .await
        .expect("release"));
    shutdown.cancel();
    worker.await.expect("worker ends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_goes_to_the_store_with_each_renewal_and_confirm_lease_checks_the_store() {
    let broker = Broker::new().await;
    let leases = Arc::new(InMemoryLeases::new());
    let key = LeaseKey {
        stage: Stage::Transcode,
        take_id: "take-p".to_owned(),
    };
    // Steps the handler takes, and what confirm_lease said at each.
    let (to_handler, steps) = tokio::sync::mpsc::unbounded_channel::<()>();
    let steps = Arc::new(tokio::sync::Mutex::new(steps));
    let confirmed = Arc::new(Mutex::new(Vec::new()));
    let handler = {
        let confirmed = Arc::clone(&confirmed);
        move |job: Job| {
            let (confirmed, steps) = (Arc::clone(&confirmed), Arc::clone(&steps));
            async move {
                let mut steps = steps.lock().await;
                job.progress.set(0.25);
                // Renewed every 300 ms: the progress is persisted by then.
                tokio::time::sleep(Duration::from_millis(800)).await;
                steps.recv().await;
                job.progress.set(0.5);
                let first = job.confirm_lease().await;
                confirmed
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(first.clone());
                steps.recv().await;
                let second = job.confirm_lease().await;
                confirmed
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(second.clone());
                second.map(|()| Vec::new())
            }
        }
    };
    let options = broker
        .options(Stage::Transcode, &leases)
        .lease_ttl(Duration::from_millis(900));
    let (shutdown, worker) = broker.spawn_worker(options, handler);
    broker.send(Stage::Transcode, "take-p").await;
    wait_until(Duration::from_secs(5), "the renewal to carry 0.25", || {
        leases.state(&key) == Some(("running", 0.25))
    })
    .await;
    to_handler.send(()).expect("step");
    wait_until(Duration::from_secs(5), "the first confirmation", || {
        confirmed.lock().unwrap_or_else(|e| e.into_inner()).len() == 1
    })
    .await;
    assert_eq!(
        confirmed.lock().unwrap_or_else(|e| e.into_inner())[0],
        Ok(())
    );
    assert_eq!(leases.state(&key), Some(("running", 0.5)));
    // Someone else takes the job: the run's next confirmation fails, even
    // before its renewer notices.
    let lease = leases.all().pop().expect("the running job's lease");
    let thief = leases
        .hand_back(&lease.key, lease.fence, Duration::from_secs(60))
        .await
        .expect("take over")
        .expect("held");
    to_handler.send(()).expect("step");
    wait_until(Duration::from_secs(5), "the second confirmation", || {
        confirmed.lock().unwrap_or_else(|e| e.into_inner()).len() == 2
            || leases.all().iter().all(|l| l.fence != thief)
    })
    .await;
    let second = confirmed
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(1)
        .cloned();
    // Either the handler saw the loss itself, or the renewer cancelled the
    // job first (then confirm_lease was never reached): never Ok.
    assert!(
        !matches!(second, Some(Ok(()))),
        "confirm_lease after a takeover: {second:?}"
    );
    assert!(
        matches!(second, None | Some(Err(JobError::Transient(_)))),
        "{second:?}"
    );
    shutdown.cancel();
    worker.await.expect("worker ends");
}

/// A lease store that is down: every call fails.
struct DownLeases;

impl LeaseStore for DownLeases {
    async fn acquire(
        &self,
        _key: &LeaseKey,
        _headers: &Headers,
        _body: &[u8],
        _holder: &str,
        _ttl: Duration,
    ) -> Result<moocpipe_broker::Acquire, moocpipe_broker::lease::LeaseError> {
        Err(moocpipe_broker::lease::LeaseError(
            "connection refused".into(),
        ))
    }
    async fn renew(
        &self,
        _key: &LeaseKey,
        _fence: u64,
        _ttl: Duration,
        _progress: f64,
    ) -> Result<bool, moocpipe_broker::lease::LeaseError> {
        Err(moocpipe_broker::lease::LeaseError(
            "connection refused".into(),
        ))
    }
    async fn hand_back(
        &self,
        _key: &LeaseKey,
        _fence: u64,
        _ttl: Duration,
    ) -> Result<Option<u64>, moocpipe_broker::lease::LeaseError> {
        Err(moocpipe_broker::lease::LeaseError(
            "connection refused".into(),
        ))
    }
    async fn release(
        &self,
        _key: &LeaseKey,
        _fence: u64,
        _finish: &Finish,
    ) -> Result<bool, moocpipe_broker::lease::LeaseError> {
        Err(moocpipe_broker::lease::LeaseError(
            "connection refused".into(),
        ))
    }
    async fn claim_expired(
        &self,
        _stage: Stage,
        _ttl: Duration,
        _limit: usize,
    ) -> Result<Vec<moocpipe_broker::Lease>, moocpipe_broker::lease::LeaseError> {
        Err(moocpipe_broker::lease::LeaseError(
            "connection refused".into(),
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_store_that_is_down_sends_jobs_through_the_delay_queues_to_the_dead_letters() {
    let broker = Broker::new().await;
    let calls = Calls::default();
    let options = WorkerOptions::new(broker.topology.clone(), Stage::Probe, Arc::new(DownLeases))
        .lease_ttl(Duration::from_secs(3));
    let health = Arc::clone(&options.health);
    let (shutdown, worker) = {
        let shutdown = CancellationToken::new();
        let (amqp, token) = (broker.amqp.clone(), shutdown.clone());
        let handler = forward_to_transcode(Arc::clone(&calls));
        let task = tokio::spawn(async move {
            run_worker(&amqp, options, handler, token)
                .await
                .expect("worker");
        });
        (shutdown, task)
    };
    broker.send(Stage::Probe, "take-s").await;
    // Not redelivered at once for ever: an attempt per try, then the
    // dead-letter queue with the store's words.
    let dead = broker
        .take(
            &broker.topology.dead_queue(Stage::Probe),
            1,
            Duration::from_secs(20),
        )
        .await;
    assert_eq!(dead.len(), 1, "dead-lettered after the last attempt");
    let reason = header_str(&dead[0].0, HEADER_ERROR).expect("reason");
    assert!(
        reason.contains("lease store") && reason.contains("connection refused"),
        "{reason}"
    );
    assert_eq!(header_int(&dead[0].0, HEADER_ATTEMPT), Some(2));
    assert!(seen(&calls).is_empty(), "no job runs without its lease");
    assert_eq!(
        broker
            .depth(&broker.topology.stage_queue(Stage::Probe))
            .await,
        0
    );
    let report = health.report();
    assert!(report.store_failing, "{report:?}");
    assert!(report.connected, "{report:?}");
    shutdown.cancel();
    worker.await.expect("worker ends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deferred_trigger_is_dead_lettered_after_its_last_deferral() {
    let broker = Broker::new().await;
    let leases = Arc::new(InMemoryLeases::new());
    // A report job for the take is running elsewhere, and keeps running.
    leases
        .acquire(
            &LeaseKey {
                stage: Stage::Report,
                take_id: "take-d".to_owned(),
            },
            &Headers::new("take-d"),
            b"{}",
            "elsewhere:1",
            Duration::from_secs(600),
        )
        .await
        .expect("the other holder");
    let calls = Calls::default();
    let mut options = broker.options(Stage::Report, &leases);
    assert!(options.defer_busy);
    options.max_deferrals = 2;
    let (shutdown, worker) = broker.spawn_worker(options, forward_to_transcode(Arc::clone(&calls)));
    broker.send(Stage::Report, "take-d").await;
    let dead = broker
        .take(
            &broker.topology.dead_queue(Stage::Report),
            1,
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(dead.len(), 1, "dead-lettered instead of circling");
    let reason = header_str(&dead[0].0, HEADER_ERROR).expect("reason");
    assert!(reason.contains("deferred 2 times"), "{reason}");
    assert_eq!(header_int(&dead[0].0, HEADER_ATTEMPT), Some(0));
    assert!(seen(&calls).is_empty());
    shutdown.cancel();
    worker.await.expect("worker ends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_job_is_marked_and_its_retries_carry_the_mark() {
    let broker = Broker::new().await;
    let leases = Arc::new(InMemoryLeases::new());
    let replays = Arc::new(Mutex::new(Vec::new()));
    let handler = {
        let replays = Arc::clone(&replays);
        move |job: Job| {
            let replays = Arc::clone(&replays);
            async move {
                let seen = {
                    let mut replays = replays.lock().unwrap_or_else(|e| e.into_inner());
                    replays.push((job.headers.replay, job.attempt()));
                    replays.len()
                };
                match seen {
                    1 => Err(JobError::Permanent("a failure record".into())),
                    2 => Err(JobError::Transient("once more".into())),
                    _ => Ok(Vec::new()),
                }
            }
        }
    };
    let (shutdown, worker) = broker.spawn_worker(broker.options(Stage::Caption, &leases), handler);
    broker.send(Stage::Caption, "take-r").await;
    wait_until(Duration::from_secs(10), "the dead letter", || {
        replays.lock().unwrap_or_else(|e| e.into_inner()).len() == 1
    })
    .await;
    let dead_queue = broker.topology.dead_queue(Stage::Caption);
    let deadline = Instant::now() + Duration::from_secs(10);
    while broker.depth(&dead_queue).await == 0 {
        assert!(Instant::now() < deadline, "no dead letter");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let replayed = dlq::replay(&broker.connection, &broker.topology, Stage::Caption)
        .await
        .expect("replay");
    assert_eq!(replayed, 1);
    wait_until(Duration::from_secs(10), "the replay and its retry", || {
        replays.lock().unwrap_or_else(|e| e.into_inner()).len() == 3
    })
    .await;
    assert_eq!(
        replays.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        vec![(false, 0), (true, 0), (true, 1)]
    );
    shutdown.cancel();
    worker.await.expect("worker ends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_given_back_past_the_delivery_limit_is_dead_lettered_by_the_broker() {
    let broker = Broker::new().await;
    broker.send(Stage::Probe, "take-poison").await;
    let queue = broker.topology.stage_queue(Stage::Probe);
    let channel = broker.connection.create_channel().await.expect("channel");
    let mut deliveries = 0;
    let deadline = Instant::now() + Duration::from_secs(15);
    // A consumer that takes the message and gives it back, again and again
    // (as one that crashes on it would).
    while Instant::now() < deadline {
        match channel
            .basic_get(&queue, BasicGetOptions { no_ack: false })
            .await
            .expect("basic.get")
        {
            Some(message) => {
                deliveries += 1;
                message
                    .delivery
                    .nack(lapin::options::BasicNackOptions {
                        requeue: true,
                        ..Default::default()
                    })
                    .await
                    .expect("nack");
            }
            None => {
                if broker
                    .depth(&broker.topology.dead_queue(Stage::Probe))
                    .await
                    == 1
                {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    assert_eq!(
        broker
            .depth(&broker.topology.dead_queue(Stage::Probe))
            .await,
        1,
        "after {deliveries} deliveries"
    );
    let limit = usize::try_from(topology::DELIVERY_LIMIT).expect("small");
    assert!(
        (limit..=limit + 1).contains(&deliveries),
        "{deliveries} deliveries for a limit of {limit}"
    );
    let _ = channel.close(200, "done").await;
}
