//! Connecting to RabbitMQ on the caller's tokio runtime, and the back-off
//! between reconnects.

use std::time::Duration;

use lapin::types::LongString;
use lapin::{Connection, ConnectionProperties};

use crate::error::BrokerError;

/// The broker of a developer machine and of the tests.
pub const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// How to reach the broker. Its `Debug` hides the URL's password.
#[derive(Clone, PartialEq, Eq)]
pub struct AmqpConfig {
    /// `amqp://user:password@host:port/vhost`; `?heartbeat=30` and other URI
    /// options are honoured by lapin.
    pub url: String,
    /// Shown in the management UI and `rabbitmqctl list_connections`.
    pub connection_name: String,
    /// Back-off between attempts to (re)connect.
    pub reconnect: Backoff,
}

impl std::fmt::Debug for AmqpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpConfig")
            .field("url", &redact_url(&self.url))
            .field("connection_name", &self.connection_name)
            .field("reconnect", &self.reconnect)
            .finish()
    }
}

/// `url` with the password of its user info replaced by `***`
/// (`amqp://user:***@host/vhost`, `postgres://user:***@host/db`): what may
/// be shown in logs, errors and `Debug` output.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest_start = scheme_end + 3;
    let rest = &url[rest_start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &authority[..at];
    match userinfo.find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..rest_start],
            &userinfo[..colon],
            &rest[at..]
        ),
        None => url.to_owned(),
    }
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
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("amqp://user:s3cret@host:5672/%2f"),
            "amqp://user:***@host:5672/%2f"
        );
        assert_eq!(
            redact_url("postgres://u:p%40ss@db/x?sslmode=require"),
            "postgres://u:***@db/x?sslmode=require"
        );
        assert_eq!(redact_url("postgres://u@db/x"), "postgres://u@db/x");
        assert_eq!(redact_url("amqp://host/vhost"), "amqp://host/vhost");
        let config = AmqpConfig::new("amqp://user:s3cret@host:5672/%2f");
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(debug.contains("user:***@host"), "{debug}");
    }

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
