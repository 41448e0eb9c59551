//! Operating the dead-letter queues: list, replay, purge. Behind
//! `moocpipe dlq list|replay|purge <stage>`.
//!
//! Listing must not lose or reorder anything, so it reads with a consumer
//! of its own and never acks: closing its channel puts every message back
//! where it was. Replaying moves one message at a time and acks the dead
//! letter only after the broker confirmed its copy in the stage queue, so a
//! crash in the middle duplicates at most one job (stages are idempotent)
//! and loses none.

use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicNackOptions, BasicQosOptions,
    QueueDeclareOptions, QueuePurgeOptions,
};
use lapin::types::{FieldTable, ShortString};
use lapin::Connection;
use tokio::time::{sleep, timeout, Instant};

use crate::error::{BrokerError, ErrorClass};
use crate::message::{
    as_string, as_u32, HEADER_ATTEMPT, HEADER_ERROR, HEADER_ERROR_KIND, HEADER_REPLAY,
    HEADER_TAKE_ID,
};
use crate::publish::Publisher;
use crate::topology::{Stage, Topology};

/// How long [`list`] waits for the next message before it takes the queue
/// as read.
const LIST_IDLE: Duration = Duration::from_secs(2);
/// How long [`list`] waits for the broker to show the listed messages
/// as ready again.
const REQUEUE_WAIT: Duration = Duration::from_secs(5);

/// A message in a stage's dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// `None` for a message malformed enough to have no take id.
    pub take_id: Option<String>,
    /// Why it failed (`x-moocpipe-error`); for a message the broker
    /// dead-lettered itself, the reason from its `x-death` record.
    pub reason: String,
    /// `transient`, `permanent`, `malformed` or `lost`; `None` when the
    /// broker dead-lettered it.
    pub kind: Option<ErrorClass>,
    /// How many times a worker ran it (retries + 1).
    pub attempts: u32,
    pub body: Vec<u8>,
}

impl DeadLetter {
    fn from_message(headers: Option<&FieldTable>, body: Vec<u8>) -> Self {
        let get = |name: &str| headers.and_then(|table| table.inner().get(name));
        let reason = get(HEADER_ERROR)
            .and_then(as_string)
            .or_else(|| broker_reason(headers))
            .unwrap_or_else(|| "unknown (no x-moocpipe-error header)".to_owned());
        DeadLetter {
            take_id: get(HEADER_TAKE_ID).and_then(as_string),
            reason,
            kind: get(HEADER_ERROR_KIND)
                .and_then(as_string)
                .and_then(|kind| ErrorClass::parse(&kind)),
            attempts: get(HEADER_ATTEMPT)
                .and_then(as_u32)
                .unwrap_or(0)
                .saturating_add(1),
            body,
        }
    }
}

/// The reason RabbitMQ gives in `x-death` (`rejected`, `expired`,
/// `delivery_limit`…) when it dead-lettered a message itself.
fn broker_reason(headers: Option<&FieldTable>) -> Option<String> {
    let deaths = headers?.inner().get("x-death")?.as_array()?;
    let first = deaths.as_slice().first()?.as_field_table()?;
    let reason = first.inner().get("reason").and_then(as_string)?;
    let queue = first
        .inner()
        .get("queue")
        .and_then(as_string)
        .unwrap_or_default();
    Some(format!("dead-lettered by the broker: {reason} in {queue}"))
}

async fn message_count(channel: &lapin::Channel, queue: &str) -> Result<u32, BrokerError> {
    let declared = channel
        .queue_declare(
            queue,
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    Ok(declared.message_count())
}

/// Headers that describe a past failure, dropped on replay: ours and the
/// broker's dead-lettering records.
fn is_failure_header(key: &str) -> bool {
    key == HEADER_ERROR
        || key == HEADER_ERROR_KIND
        || key == "x-death"
        || key.starts_with("x-first-death")
        || key.starts_with("x-last-death")
}

/// The dead letters of `stage`, oldest first, leaving them in place.
pub async fn list(
    connection: &Connection,
    topology: &Topology,
    stage: Stage,
) -> Result<Vec<DeadLetter>, BrokerError> {
    let queue = topology.dead_queue(stage);
    let channel = connection.create_channel().await?;
    let count = message_count(&channel, &queue).await?;
    let mut letters = Vec::new();
    if count > 0 {
        // Prefetch everything, ack nothing: the close below requeues it all.
        channel.basic_qos(0, BasicQosOptions::default()).await?;
        let mut consumer = channel
            .basic_consume(
                &queue,
                "moocpipe-dlq-list",
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let mut last_tag = None;
        while letters.len() < usize::try_from(count).unwrap_or(usize::MAX) {
            match timeout(LIST_IDLE, consumer.next()).await {
                Ok(Some(Ok(delivery))) => {
                    last_tag = Some(delivery.delivery_tag);
                    letters.push(DeadLetter::from_message(
                        delivery.properties.headers().as_ref(),
                        delivery.data,
                    ));
                }
                Ok(Some(Err(error))) => return Err(error.into()),
                Ok(None) | Err(_) => break,
            }
        }
        drop(consumer);
        if let Some(tag) = last_tag {
            channel
                .basic_nack(
                    tag,
                    BasicNackOptions {
                        multiple: true,
                        requeue: true,
                    },
                )
                .await?;
            // The requeue is asynchronous on the broker's side: return only
            // once the queue shows the messages again, so that a caller that
            // lists twice, or replays right after listing, sees them all.
            let deadline = Instant::now() + REQUEUE_WAIT;
            let listed = u32::try_from(letters.len()).unwrap_or(u32::MAX);
            while message_count(&channel, &queue).await? < listed && Instant::now() < deadline {
                sleep(Duration::from_millis(20)).await;
            }
        }
    }
    channel.close(200, "listed").await?;
    Ok(letters)
}

/// Moves every dead letter of `stage` back to the stage's queue with its
/// retry count reset and its error headers removed. Returns how many were
/// moved. Messages dead-lettered again while the replay runs are left for
/// the next one (the count is taken at the start).
pub async fn replay(
    connection: &Connection,
    topology: &Topology,
    stage: Stage,
) -> Result<u32, BrokerError> {
    let queue = topology.dead_queue(stage);
    let channel = connection.create_channel().await?;
    let publisher = Publisher::open(connection).await?;
    let count = message_count(&channel, &queue).await?;
    let mut moved = 0;
    while moved < count {
        let Some(message) = channel
            .basic_get(&queue, BasicGetOptions { no_ack: false })
            .await?
        else {
            break;
        };
        let mut headers = message
            .delivery
            .properties
            .headers()
            .clone()
            .unwrap_or_default();
        let mut fresh = FieldTable::default();
        for (key, value) in headers.inner() {
            if !is_failure_header(key.as_str()) {
                fresh.insert(key.clone(), value.clone());
            }
        }
        headers = fresh;
        headers.insert(
            ShortString::from(HEADER_ATTEMPT),
            lapin::types::AMQPValue::LongLongInt(0),
        );
        // The stage redoes work whose failure it recorded (and so do the
        // job's retries, which carry the header on).
        headers.insert(
            ShortString::from(HEADER_REPLAY),
            lapin::types::AMQPValue::Boolean(true),
        );
        publisher
            .publish(
                &topology.jobs_exchange(),
                Topology::stage_routing_key(stage),
                headers,
                &message.delivery.data,
            )
            .await?;
        message.delivery.ack(BasicAckOptions::default()).await?;
        moved += 1;
    }
    // Anything fetched but not moved goes back when the channel closes.
    channel.close(200, "replayed").await?;
    publisher.channel().close(200, "replayed").await?;
    Ok(moved)
}

/// Deletes every dead letter of `stage`; returns how many.
pub async fn purge(
    connection: &Connection,
    topology: &Topology,
    stage: Stage,
) -> Result<u32, BrokerError> {
    let channel = connection.create_channel().await?;
    let purged = channel
        .queue_purge(&topology.dead_queue(stage), QueuePurgeOptions::default())
        .await?;
    channel.close(200, "purged").await?;
    Ok(purged)
}
