//! The two error types of the crate: what went wrong talking to the broker
//! ([`BrokerError`]) and how a job failed ([`JobError`]), which decides
//! between a retry and the dead-letter queue.

use std::fmt;

use moocpipe_proto::ErrorKind;

/// A failure talking to RabbitMQ. Every variant but [`BrokerError::Lease`]
/// means the message in hand was not handed on; the worker loop reconnects.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The connection or channel failed (refused, closed by the broker,
    /// `PRECONDITION_FAILED` on a redeclare with other arguments, …).
    #[error("AMQP: {0}")]
    Amqp(#[from] lapin::Error),
    /// The broker refused to take responsibility for a published message.
    #[error("the broker nacked the message published to {exchange:?} with key {routing_key:?}")]
    Nacked {
        exchange: String,
        routing_key: String,
    },
    /// A `mandatory` message matched no queue and came back.
    #[error("unroutable: no queue is bound to {exchange:?} for key {routing_key:?} ({reply})")]
    Unroutable {
        exchange: String,
        routing_key: String,
        reply: String,
    },
    /// The channel was not in confirm mode: a bug of this crate.
    #[error("publisher confirms were not enabled on the channel")]
    ConfirmsOff,
    /// A body could not be encoded as JSON.
    #[error("encoding a message body: {0}")]
    Encode(#[from] serde_json::Error),
    /// A name that is not a stage (`moocpipe dlq list encode`).
    #[error("unknown stage {0:?} (expected ingest, probe, transcode, caption or report)")]
    UnknownStage(String),
    /// The lease store failed.
    #[error("lease store: {0}")]
    Lease(String),
    /// The connection went away, or the broker cancelled our consumer.
    #[error("disconnected: {0}")]
    Disconnected(&'static str),
    /// The worker's options cannot work.
    #[error("invalid worker options: {0}")]
    Config(String),
}

/// How a job failed; the worker loop acts on the variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// Retrying later may succeed (I/O, time-out, a missing plugin being
    /// installed, a bug being fixed): the job goes through the delay queues,
    /// and to the dead-letter queue only after the last attempt.
    #[error("transient: {0}")]
    Transient(String),
    /// The input is at fault (malformed message, corrupt take): retrying
    /// cannot help, so it is dead-lettered at once with this reason.
    #[error("permanent: {0}")]
    Permanent(String),
}

impl JobError {
    /// The error's kind as a low-cardinality label: `transient` or
    /// `permanent` (metrics, the `x-moocpipe-error-kind` header).
    pub fn kind(&self) -> ErrorClass {
        match self {
            JobError::Transient(_) => ErrorClass::Transient,
            JobError::Permanent(_) => ErrorClass::Permanent,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            JobError::Transient(message) | JobError::Permanent(message) => message,
        }
    }

    /// Classifies a stage's failure with the project's single rule,
    /// [`ErrorKind::is_transient`].
    pub fn from_kind(kind: ErrorKind, message: impl fmt::Display) -> Self {
        let message = format!("{kind}: {message}");
        if kind.is_transient() {
            JobError::Transient(message)
        } else {
            JobError::Permanent(message)
        }
    }
}

/// Why a message ended in a dead-letter queue; the value of the
/// `x-moocpipe-error-kind` header and a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The handler failed and said a retry may help; the retries ran out.
    Transient,
    /// The handler failed and said the input is bad.
    Permanent,
    /// The message itself could not be read (not JSON, missing or wrong
    /// headers): the handler never saw it.
    Malformed,
    /// The worker running it vanished (its lease expired) once too often.
    Lost,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Transient => "transient",
            ErrorClass::Permanent => "permanent",
            ErrorClass::Malformed => "malformed",
            ErrorClass::Lost => "lost",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            ErrorClass::Transient,
            ErrorClass::Permanent,
            ErrorClass::Malformed,
            ErrorClass::Lost,
        ]
        .into_iter()
        .find(|class| class.as_str() == value)
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kinds_map_to_the_project_rule() {
        assert_eq!(
            JobError::from_kind(ErrorKind::Io, "disk").kind(),
            ErrorClass::Transient
        );
        assert_eq!(
            JobError::from_kind(ErrorKind::Corrupt, "take.mov").kind(),
            ErrorClass::Permanent
        );
    }
}
