//! Publishing with publisher confirms: a message counts as sent only when
//! the broker has confirmed that a queue holds it.
//!
//! Every publish is `mandatory` and persistent, and waits for its confirm:
//! a nack, or a message returned because no queue matched, is an error. The
//! worker loop relies on this to hand a job on (downstream, to a delay
//! queue, to a dead-letter queue) before it lets go of it.

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::publisher_confirm::Confirmation;
use lapin::types::FieldTable;
use lapin::{Channel, Connection};
use moocpipe_telemetry::TraceHeaders;
use tracing::{debug, info_span, Instrument};

use crate::error::BrokerError;
use crate::message::{properties, read_trace, write_trace, Outgoing};
use crate::topology::Topology;

/// A channel in confirm mode.
#[derive(Clone)]
pub struct Publisher {
    channel: Channel,
}

impl Publisher {
    /// Opens a channel on `connection` and puts it in confirm mode.
    pub async fn open(connection: &Connection) -> Result<Self, BrokerError> {
        let channel = connection.create_channel().await?;
        Publisher::on(channel).await
    }

    /// Puts an open channel in confirm mode.
    pub async fn on(channel: Channel) -> Result<Self, BrokerError> {
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Publisher { channel })
    }

    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    /// Publishes `message` under `topology` and waits for the broker's
    /// confirm.
    pub async fn send(&self, topology: &Topology, message: &Outgoing) -> Result<(), BrokerError> {
        let (exchange, routing_key) = message.route.address(topology);
        self.publish(
            &exchange,
            &routing_key,
            message.headers.to_table(),
            &message.body,
        )
        .await
    }

    /// Publishes a body with the given headers — mandatory, persistent,
    /// JSON — and waits for the broker's confirm.
    pub async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        mut headers: FieldTable,
        body: &[u8],
    ) -> Result<(), BrokerError> {
        let span = info_span!(
            "publish",
            otel.kind = "producer",
            messaging.system = "rabbitmq",
            messaging.destination.name = exchange,
            messaging.rabbitmq.destination.routing_key = routing_key,
        );
        read_trace(&headers).parent(&span);
        write_trace(&mut headers, &TraceHeaders::of(&span));
        self.confirmed(exchange, routing_key, headers, body)
            .instrument(span)
            .await
    }

    async fn confirmed(
        &self,
        exchange: &str,
        routing_key: &str,
        headers: FieldTable,
        body: &[u8],
    ) -> Result<(), BrokerError> {
        let confirm = self
            .channel
            .basic_publish(
                exchange,
                routing_key,
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                body,
                properties(headers),
            )
            .await?
            .await?;
        match confirm {
            Confirmation::Ack(None) => {
                debug!(exchange, routing_key, "published, confirmed");
                Ok(())
            }
            Confirmation::Ack(Some(returned)) => Err(BrokerError::Unroutable {
                exchange: exchange.to_owned(),
                routing_key: routing_key.to_owned(),
                reply: format!("{} {}", returned.reply_code, returned.reply_text),
            }),
            Confirmation::Nack(_) => Err(BrokerError::Nacked {
                exchange: exchange.to_owned(),
                routing_key: routing_key.to_owned(),
            }),
            Confirmation::NotRequested => Err(BrokerError::ConfirmsOff),
        }
    }
}
