//! What can go wrong sending a notice, and whether a retry may help.

use std::time::Duration;

/// A notice that was not delivered, or a configuration that cannot work.
///
/// Messages name the channel and the server's address (`host:port` for SMTP,
/// `scheme://host:port` for a webhook), never a password or a webhook's path.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// A configured value cannot work; `variable` is the environment variable
    /// that holds (or would hold) it.
    #[error("{variable}: {reason}")]
    Config {
        variable: &'static str,
        reason: String,
    },
    /// The notice itself cannot be sent: a take id unfit for a header, a
    /// recipient that is not an e-mail address.
    #[error("notice for take {take_id:?}: {reason}")]
    InvalidNotice { take_id: String, reason: String },
    /// The SMTP exchange failed: no connection, a time-out, or the server
    /// refused (4xx: try again later, 5xx: it never will).
    #[error("e-mail to {to} via SMTP server {address} failed: {source}")]
    Smtp {
        address: String,
        to: String,
        #[source]
        source: lettre::transport::smtp::Error,
    },
    /// The webhook answered with a status other than 2xx.
    #[error("webhook POST to {address} answered HTTP {status}")]
    WebhookStatus { address: String, status: u16 },
    /// The webhook did not answer within its time-out.
    #[error("webhook POST to {address} timed out after {timeout:?}")]
    WebhookTimeout { address: String, timeout: Duration },
    /// The webhook request failed before an answer: connection refused, DNS,
    /// TLS, a connection closed midway.
    #[error("webhook POST to {address} failed: {reason}")]
    Webhook { address: String, reason: String },
}

impl NotifyError {
    /// Whether sending the same notice later may succeed: SMTP 4xx answers
    /// and connection failures, webhook 5xx, 408 and 429 answers, time-outs
    /// and connection failures. Configuration errors, invalid notices, SMTP
    /// 5xx answers and other webhook answers are permanent.
    pub fn is_transient(&self) -> bool {
        match self {
            NotifyError::Config { .. } | NotifyError::InvalidNotice { .. } => false,
            // Client errors are lettre refusing to go on (no shared
            // authentication mechanism, STARTTLS required but not offered):
            // configuration, not the weather.
            NotifyError::Smtp { source, .. } => !(source.is_permanent() || source.is_client()),
            NotifyError::WebhookStatus { status, .. } => {
                *status >= 500 || *status == 408 || *status == 429
            }
            NotifyError::WebhookTimeout { .. } | NotifyError::Webhook { .. } => true,
        }
    }
}
