//! Every exchange, queue and routing key of the pipeline, named in one place.
//!
//! All names hang off a prefix (`moocpipe` in production, a random one per
//! test) so that several pipelines, or many tests, share one broker without
//! seeing each other's messages.
//!
//! | name | kind | arguments | why |
//! |---|---|---|---|
//! | `<p>.jobs` | direct exchange, durable | | routes a job to its stage by the stage name |
//! | `<p>.<stage>` | quorum queue, durable, bound to `<p>.jobs` with `<stage>` | `x-dead-letter-exchange=<p>.dead`, `x-dead-letter-routing-key=<stage>`, `x-delivery-limit=10` | one queue per stage so a probe never waits behind an encode; quorum for replication; a broker-side rejection, or a message given back more than [`DELIVERY_LIMIT`] times (a poison message that kills its consumer), lands in the dead-letter queue instead of circling for ever |
//! | `<p>.retry` | direct exchange, durable | | takes a job that failed transiently to the delay queue of its back-off step |
//! | `<p>.<stage>.delay.<ms>` | classic queue, durable, bound to `<p>.retry` with `<stage>.<ms>` | `x-message-ttl=<ms>`, `x-dead-letter-exchange=<p>.jobs`, `x-dead-letter-routing-key=<stage>` | holds a retry for its back-off, then RabbitMQ dead-letters it back to the stage queue. One queue per step: every message in it has the same TTL, so the head always expires first (per-message expiry in one queue blocks behind the head, and quorum queues in 3.10 have no per-message TTL). The delay is in the name, so workers configured with other back-offs never redeclare a queue with different arguments. |
//! | `<p>.dead` | direct exchange, durable | | routes a dead letter to its stage's dead-letter queue |
//! | `<p>.<stage>.dead` | quorum queue, durable, bound to `<p>.dead` with `<stage>` | | what an operator lists, replays or purges; no delivery limit, since `dlq list` gives every message back |
//! | `<p>.events` | topic exchange, durable, keys `take.<stage>.<outcome>` | `alternate-exchange=<p>.events.unrouted` | tells the report worker and the API what happened |
//! | binding `<p>.report` ← `<p>.events` | keys `take.probe.failed`, `take.transcode.failed`, `take.caption.failed` | | a take whose stage was dead-lettered still gets its report and its author notice |
//! | `<p>.events.unrouted` | fanout exchange + classic queue of that name, durable | queue: `x-max-length=10000`, `x-overflow=drop-head`, `x-message-ttl=86400000` | every publish is `mandatory`; an event nobody subscribed to yet is parked here (bounded, a day) instead of coming back as an unroutable error |
//!
//! [`declare`] declares all of it; redeclaring with the same arguments is a
//! no-op in AMQP, so every worker calls it at start and after a reconnect.

use std::time::Duration;

use lapin::options::{
    ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, ExchangeKind};

use crate::error::BrokerError;

/// The prefix of the production topology.
pub const DEFAULT_PREFIX: &str = "moocpipe";

/// Back-off of the default retry policy: five retries after 2 s, 10 s,
/// 30 s, 2 min and 10 min, so a store or network outage of several minutes
/// does not use up a job's attempts (a job whose worker died also spends
/// one when its lease is swept).
pub const DEFAULT_RETRY_DELAYS: [Duration; 5] = [
    Duration::from_secs(2),
    Duration::from_secs(10),
    Duration::from_secs(30),
    Duration::from_secs(120),
    Duration::from_secs(600),
];

/// Bound on the parking queue for unrouted events.
/// How often a quorum stage queue delivers one message before RabbitMQ
/// dead-letters it (`x-delivery-limit`). The worker never gives a delivery
/// back on purpose, so only a consumer that dies or loses its channel with
/// the message in hand counts here.
pub const DELIVERY_LIMIT: i64 = 10;
const UNROUTED_MAX_LENGTH: i64 = 10_000;
/// How long an unrouted event is kept: a day.
const UNROUTED_TTL_MS: i64 = 24 * 60 * 60 * 1000;

/// A stage of the pipeline: one queue, one kind of worker. Defined in
/// `moocpipe-proto` so the runners, the records and the broker share one type.
pub use moocpipe_proto::Stage;

/// The names of one pipeline's exchanges and queues, and the back-off steps
/// its delay queues are declared for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    prefix: String,
    retry_delays: Vec<Duration>,
}

impl Default for Topology {
    fn default() -> Self {
        Topology::new(DEFAULT_PREFIX)
    }
}

impl Topology {
    /// The topology under `prefix` with the default back-off
    /// ([`DEFAULT_RETRY_DELAYS`]).
    pub fn new(prefix: impl Into<String>) -> Self {
        Topology {
            prefix: prefix.into(),
            retry_delays: DEFAULT_RETRY_DELAYS.to_vec(),
        }
    }

    /// Replaces the back-off steps: retry `n` (from 1) waits `delays[n-1]`,
    /// and a job fails for good after `delays.len()` retries. Delays are
    /// rounded to whole milliseconds (the queue TTL's unit).
    pub fn with_retry_delays(mut self, delays: impl Into<Vec<Duration>>) -> Self {
        self.retry_delays = delays.into();
        self
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn retry_delays(&self) -> &[Duration] {
        &self.retry_delays
    }

    /// Attempts a job gets in all: the first run plus one per back-off step.
    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.retry_delays.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1)
    }

    /// The back-off before retry number `retry` (1 for the first retry), or
    /// `None` when the retries are used up.
    pub fn retry_delay(&self, retry: u32) -> Option<Duration> {
        let index = usize::try_from(retry.checked_sub(1)?).ok()?;
        self.retry_delays.get(index).copied()
    }

    /// `<p>.jobs`: the direct exchange every job is published to.
    pub fn jobs_exchange(&self) -> String {
        format!("{}.jobs", self.prefix)
    }

    /// `<p>.events`: the topic exchange of `take.<stage>.<outcome>` events.
    pub fn events_exchange(&self) -> String {
        format!("{}.events", self.prefix)
    }

    /// `<p>.events.unrouted`: the alternate exchange (and its queue) that
    /// parks events nobody is bound to.
    pub fn unrouted_events(&self) -> String {
        format!("{}.events.unrouted", self.prefix)
    }

    /// `<p>.retry`: the direct exchange in front of the delay queues.
    pub fn retry_exchange(&self) -> String {
        format!("{}.retry", self.prefix)
    }

    /// `<p>.dead`: the direct exchange in front of the dead-letter queues.
    pub fn dead_exchange(&self) -> String {
        format!("{}.dead", self.prefix)
    }

    /// `<p>.<stage>`: the stage's work queue (quorum).
    pub fn stage_queue(&self, stage: Stage) -> String {
        format!("{}.{}", self.prefix, stage)
    }

    /// `<p>.<stage>.dead`: the stage's dead-letter queue (quorum).
    pub fn dead_queue(&self, stage: Stage) -> String {
        format!("{}.{}.dead", self.prefix, stage)
    }

    /// `<p>.<stage>.delay.<ms>`: the delay queue of one back-off step.
    pub fn delay_queue(&self, stage: Stage, delay: Duration) -> String {
        format!("{}.{}.delay.{}", self.prefix, stage, delay_ms(delay))
    }

    /// The routing key on `<p>.retry` of a stage's back-off step.
    pub fn delay_routing_key(stage: Stage, delay: Duration) -> String {
        format!("{}.{}", stage, delay_ms(delay))
    }

    /// The routing key on `<p>.jobs` and `<p>.dead`: the stage's name.
    pub fn stage_routing_key(stage: Stage) -> &'static str {
        stage.as_str()
    }

    /// The routing key of an event: `take.<stage>.<outcome>`.
    pub fn event_routing_key(stage: Stage, outcome: &str) -> String {
        format!("take.{stage}.{outcome}")
    }
}

fn delay_ms(delay: Duration) -> u64 {
    u64::try_from(delay.as_millis()).unwrap_or(u64::MAX)
}

fn durable_queue() -> QueueDeclareOptions {
    QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    }
}

fn durable_exchange() -> ExchangeDeclareOptions {
    ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    }
}

fn long_string(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

fn table(entries: Vec<(&str, AMQPValue)>) -> FieldTable {
    let mut table = FieldTable::default();
    for (key, value) in entries {
        table.insert(ShortString::from(key), value);
    }
    table
}

/// Declares every exchange, queue and binding of `topology`. Idempotent:
/// run it at every start and after every reconnect. A name that exists with
/// other arguments fails with the broker's `PRECONDITION_FAILED` (and closes
/// the channel): that is a deployment error, not something to paper over.
pub async fn declare(channel: &Channel, topology: &Topology) -> Result<(), BrokerError> {
    let jobs = topology.jobs_exchange();
    let retry = topology.retry_exchange();
    let dead = topology.dead_exchange();
    let events = topology.events_exchange();
    let unrouted = topology.unrouted_events();

    for exchange in [&jobs, &retry, &dead] {
        channel
            .exchange_declare(
                exchange,
                ExchangeKind::Direct,
                durable_exchange(),
                FieldTable::default(),
            )
            .await?;
    }
    channel
        .exchange_declare(
            &unrouted,
            ExchangeKind::Fanout,
            durable_exchange(),
            FieldTable::default(),
        )
        .await?;
    channel
        .exchange_declare(
            &events,
            ExchangeKind::Topic,
            durable_exchange(),
            table(vec![("alternate-exchange", long_string(&unrouted))]),
        )
        .await?;
    channel
        .queue_declare(
            &unrouted,
            durable_queue(),
            table(vec![
                ("x-max-length", AMQPValue::LongLongInt(UNROUTED_MAX_LENGTH)),
                ("x-overflow", long_string("drop-head")),
                ("x-message-ttl", AMQPValue::LongLongInt(UNROUTED_TTL_MS)),
            ]),
        )
        .await?;
    channel
        .queue_bind(
            &unrouted,
            &unrouted,
            "",
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;

    for stage in Stage::ALL {
        let key = Topology::stage_routing_key(stage);
        let queue = topology.stage_queue(stage);
        channel
            .queue_declare(
                &queue,
                durable_queue(),
                table(vec![
                    ("x-queue-type", long_string("quorum")),
                    ("x-dead-letter-exchange", long_string(&dead)),
                    ("x-dead-letter-routing-key", long_string(key)),
                    ("x-delivery-limit", AMQPValue::LongLongInt(DELIVERY_LIMIT)),
                ]),
            )
            .await?;
        channel
            .queue_bind(
                &queue,
                &jobs,
                key,
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;

        let dead_queue = topology.dead_queue(stage);
        channel
            .queue_declare(
                &dead_queue,
                durable_queue(),
                table(vec![("x-queue-type", long_string("quorum"))]),
            )
            .await?;
        channel
            .queue_bind(
                &dead_queue,
                &dead,
                key,
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;

        for &delay in topology.retry_delays() {
            let delay_queue = topology.delay_queue(stage, delay);
            let ttl = i64::try_from(delay_ms(delay)).unwrap_or(i64::MAX);
            channel
                .queue_declare(
                    &delay_queue,
                    durable_queue(),
                    table(vec![
                        ("x-message-ttl", AMQPValue::LongLongInt(ttl)),
                        ("x-dead-letter-exchange", long_string(&jobs)),
                        ("x-dead-letter-routing-key", long_string(key)),
                    ]),
                )
                .await?;
            channel
                .queue_bind(
                    &delay_queue,
                    &retry,
                    &Topology::delay_routing_key(stage, delay),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
    }
    let report = topology.stage_queue(Stage::Report);
    for stage in [Stage::Probe, Stage::Transcode, Stage::Caption] {
        channel
            .queue_bind(
                &report,
                &events,
                &Topology::event_routing_key(stage, crate::worker::EVENT_FAILED),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    Ok(())
}

/// Deletes every queue and exchange [`declare`] made, messages included.
/// For tests and for tearing down a staging pipeline; never run against
/// production by accident: it takes the prefix from `topology` like
/// everything else.
pub async fn delete(channel: &Channel, topology: &Topology) -> Result<(), BrokerError> {
    for stage in Stage::ALL {
        channel
            .queue_delete(&topology.stage_queue(stage), QueueDeleteOptions::default())
            .await?;
        channel
            .queue_delete(&topology.dead_queue(stage), QueueDeleteOptions::default())
            .await?;
        for &delay in topology.retry_delays() {
            channel
                .queue_delete(
                    &topology.delay_queue(stage, delay),
                    QueueDeleteOptions::default(),
                )
                .await?;
        }
    }
    channel
        .queue_delete(&topology.unrouted_events(), QueueDeleteOptions::default())
        .await?;
    for exchange in [
        topology.jobs_exchange(),
        topology.retry_exchange(),
        topology.dead_exchange(),
        topology.events_exchange(),
        topology.unrouted_events(),
    ] {
        channel
            .exchange_delete(&exchange, ExchangeDeleteOptions::default())
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_hang_off_the_prefix() {
        let t = Topology::new("t1").with_retry_delays(vec![Duration::from_millis(1500)]);
        assert_eq!(t.jobs_exchange(), "t1.jobs");
        assert_eq!(t.events_exchange(), "t1.events");
        assert_eq!(t.stage_queue(Stage::Transcode), "t1.transcode");
        assert_eq!(t.dead_queue(Stage::Probe), "t1.probe.dead");
        assert_eq!(
            t.delay_queue(Stage::Caption, Duration::from_millis(1500)),
            "t1.caption.delay.1500"
        );
        assert_eq!(
            Topology::event_routing_key(Stage::Report, "succeeded"),
            "take.report.succeeded"
        );
    }

    #[test]
    fn attempts_follow_the_back_off() {
        let t = Topology::new("t")
            .with_retry_delays(vec![Duration::from_secs(1), Duration::from_secs(5)]);
        assert_eq!(t.max_attempts(), 3);
        assert_eq!(t.retry_delay(0), None);
        assert_eq!(t.retry_delay(1), Some(Duration::from_secs(1)));
        assert_eq!(t.retry_delay(2), Some(Duration::from_secs(5)));
        assert_eq!(t.retry_delay(3), None);
    }

    #[test]
    fn stages_parse_back() {
        for stage in Stage::ALL {
            assert_eq!(stage.as_str().parse::<Stage>().ok(), Some(stage));
        }
        assert!("encode".parse::<Stage>().is_err());
    }
}
