//! Connecting to RabbitMQ on the caller's tokio runtime, and the back-off
//! between reconnects.

use std::time::Duration;

use lapin::types::LongString;
use lapin::{Connection, ConnectionProperties};

use crate::error::BrokerError;

/// The broker of a developer machine and of the tests.
pub const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// How to reach the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmqpConfig {
    /// `amqp://user:password@host:port/vhost`; `?heartbeat=30` and other URI
    /// options are honoured by lapin.
    pub url: String,
    /// Shown in the management UI and `rabbitmqctl list_connections`.
    pub connection_name: String,
    /// Back-off between attempts to (re)connect.
    pub reconnect: Backoff,
}

impl Default for AmqpConfig {
    fn default() -> Self {
        AmqpConfig::new(DEFAULT_AMQP_URL)
    }
}

impl AmqpConfig {
    pub fn new(url: impl Into<String>) -> Self {
        AmqpConfig {
            url: url.into(),
            connection_name: "moocpipe".to_owned(),
            reconnect: Backoff::default(),
        }
    }

    pub fn with_connection_name(mut self, name: impl Into<String>) -> Self {
        self.connection_name = name.into();
        self
    }

    pub fn with_reconnect(mut self, reconnect: Backoff) -> Self {
        self.reconnect = reconnect;
        self
    }

    /// Opens one connection, driven by the current tokio runtime. Must be
    /// called from within one.
    pub async fn connect(&self) -> Result<Connection, BrokerError> {
        let properties = ConnectionProperties::default()
            .with_connection_name(LongString::from(self.connection_name.as_str()))
            .with_executor(tokio_executor_trait::Tokio::current())
            .with_reactor(tokio_reactor_trait::Tokio::current());
        Ok(Connection::connect(&self.url, properties).await?)
    }
}

/// Exponential back-off between reconnects: `initial`, doubled up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The wait before reconnect attempt `failures` (1 after the first
    /// failure).
    pub fn delay(&self, failures: u32) -> Duration {
        let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(16));
        self.initial.saturating_mul(factor).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        assert_eq!(b.delay(1), Duration::from_millis(100));
        assert_eq!(b.delay(2), Duration::from_millis(200));
        assert_eq!(b.delay(4), Duration::from_millis(800));
        assert_eq!(b.delay(5), Duration::from_secs(1));
        assert_eq!(b.delay(100), Duration::from_secs(1));
    }
}
