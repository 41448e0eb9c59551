//! Consuming a queue of our own outside the worker loop (the S3 event
//! queue ingest reads, the dashboard's catalog queue): declared durable,
//! optionally bound, with a prefetch, read until shutdown.

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicConsumeOptions, BasicQosOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Consumer};
use tokio_util::sync::CancellationToken;

use crate::error::BrokerError;

/// Declares `queue` (durable, classic), binds it to each `(exchange,
/// routing key)`, sets the prefetch and starts consuming it as `tag`.
pub async fn durable_queue(
    channel: &Channel,
    queue: &str,
    bindings: &[(&str, &str)],
    prefetch: u16,
    tag: &str,
) -> Result<Consumer, BrokerError> {
    channel
        .queue_declare(
            queue,
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    for (exchange, key) in bindings {
        channel
            .queue_bind(
                queue,
                exchange,
                key,
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    channel
        .basic_qos(prefetch, BasicQosOptions::default())
        .await?;
    Ok(channel
        .basic_consume(
            queue,
            tag,
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?)
}

/// The next delivery; `None` once `shutdown` fires. A consumer the broker
/// cancelled is [`BrokerError::Disconnected`] with `what`.
pub async fn next(
    consumer: &mut Consumer,
    shutdown: &CancellationToken,
    what: &'static str,
) -> Result<Option<Delivery>, BrokerError> {
    let delivery = tokio::select! {
        next = consumer.next() => next,
        () = shutdown.cancelled() => return Ok(None),
    };
    match delivery {
        Some(delivery) => Ok(Some(delivery?)),
        None => Err(BrokerError::Disconnected(what)),
    }
}
