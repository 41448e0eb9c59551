//! The envelope of every message: a JSON body and AMQP headers that carry
//! what the broker side needs without parsing the body — the schema version,
//! the take id, the retry count and the W3C trace context.
//!
//! These types are the wire contract between stages and belong in
//! `moocpipe-proto` once the stage messages themselves are defined there;
//! they live here until then.

use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::BasicProperties;
use moocpipe_proto::SCHEMA_VERSION;
use moocpipe_telemetry::TraceHeaders;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::error::{BrokerError, ErrorClass, JobError};
use crate::lease::LeaseHandle;
use crate::topology::{Stage, Topology};

/// Header: the schema version of the body ([`SCHEMA_VERSION`]).
pub const HEADER_SCHEMA_VERSION: &str = "schema_version";
/// Header: the take the message is about.
pub const HEADER_TAKE_ID: &str = "take_id";
/// Header: how many times the job was retried (0 on the first run).
pub const HEADER_ATTEMPT: &str = "attempt";
/// Header: W3C trace context (`00-<trace-id>-<span-id>-<flags>`).
pub const HEADER_TRACEPARENT: &str = moocpipe_telemetry::propagation::TRACEPARENT;
/// Header: W3C trace state, carried with `traceparent`.
pub const HEADER_TRACESTATE: &str = moocpipe_telemetry::propagation::TRACESTATE;
/// Header on a dead letter: why it failed, in plain words.
pub const HEADER_ERROR: &str = "x-moocpipe-error";
/// Header on a dead letter: `transient`, `permanent`, `malformed` or `lost`.
pub const HEADER_ERROR_KIND: &str = "x-moocpipe-error-kind";
/// Header: `true` on a job sent again by `moocpipe dlq replay` (and on its
/// retries): the stage redoes work whose failure was recorded.
pub const HEADER_REPLAY: &str = "x-moocpipe-replay";
/// Header: how many times in a row a job was deferred because another
/// worker held its take (see `WorkerOptions::defer_busy`).
pub const HEADER_DEFERRALS: &str = "x-moocpipe-deferrals";

/// The content type of every body.
pub const CONTENT_TYPE_JSON: &str = "application/json";

/// The headers of a well-formed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Headers {
    pub schema_version: u32,
    pub take_id: String,
    /// Retries so far: 0 on the first run, `n` on the `n`-th retry.
    pub attempt: u32,
    /// The span that published the message (W3C `traceparent`): the
    /// consumer's job span is its child.
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
    /// Sent again by `moocpipe dlq replay` (header `x-moocpipe-replay`),
    /// carried into the job's retries: the stage redoes work even when a
    /// failure record exists.
    pub replay: bool,
}

impl Headers {
    /// Headers of a first attempt at the current schema version.
    pub fn new(take_id: impl Into<String>) -> Self {
        Headers {
            schema_version: SCHEMA_VERSION,
            take_id: take_id.into(),
            attempt: 0,
            traceparent: None,
            tracestate: None,
            replay: false,
        }
    }

    pub fn with_traceparent(mut self, traceparent: Option<String>) -> Self {
        self.traceparent = traceparent;
        self
    }

    /// The trace context these headers carry.
    pub fn trace(&self) -> TraceHeaders {
        TraceHeaders {
            traceparent: self.traceparent.clone(),
            tracestate: self.tracestate.clone(),
        }
    }

    /// Carries `trace` instead of the trace context these headers had.
    pub fn with_trace(mut self, trace: TraceHeaders) -> Self {
        self.traceparent = trace.traceparent;
        self.tracestate = trace.tracestate;
        self
    }

    pub fn with_attempt(mut self, attempt: u32) -> Self {
        self.attempt = attempt;
        self
    }

    pub fn with_replay(mut self, replay: bool) -> Self {
        self.replay = replay;
        self
    }

    /// The AMQP header table.
    pub fn to_table(&self) -> FieldTable {
        let mut table = FieldTable::default();
        self.write_to(&mut table);
        table
    }

    /// Writes (or overwrites) these headers into an existing table, keeping
    /// any other header it has.
    pub fn write_to(&self, table: &mut FieldTable) {
        table.insert(
            ShortString::from(HEADER_SCHEMA_VERSION),
            AMQPValue::LongLongInt(i64::from(self.schema_version)),
        );
        table.insert(
            ShortString::from(HEADER_TAKE_ID),
            AMQPValue::LongString(LongString::from(self.take_id.as_str())),
        );
        table.insert(
            ShortString::from(HEADER_ATTEMPT),
            AMQPValue::LongLongInt(i64::from(self.attempt)),
        );
        write_trace(table, &self.trace());
        table.insert(
            ShortString::from(HEADER_REPLAY),
            AMQPValue::Boolean(self.replay),
        );
    }

    /// Reads the headers of a received message. A missing take id, a
    /// missing or other schema version, or a header of the wrong type makes
    /// the message malformed: the reason says which.
    pub fn from_table(table: Option<&FieldTable>) -> Result<Headers, String> {
        let empty = FieldTable::default();
        let table = table.unwrap_or(&empty);
        let schema_version = match table.inner().get(HEADER_SCHEMA_VERSION) {
            None => return Err(format!("no {HEADER_SCHEMA_VERSION} header")),
            Some(value) => as_u32(value)
                .ok_or_else(|| format!("{HEADER_SCHEMA_VERSION} header is not a number"))?,
        };
        if schema_version != SCHEMA_VERSION {
            return Err(format!(
                "schema version {schema_version}, this worker reads {SCHEMA_VERSION}"
            ));
        }
        let take_id = match table.inner().get(HEADER_TAKE_ID) {
            None => return Err(format!("no {HEADER_TAKE_ID} header")),
            Some(value) => as_string(value)
                .filter(|id| !id.is_empty())
                .ok_or_else(|| format!("{HEADER_TAKE_ID} header is not a non-empty string"))?,
        };
        let attempt = match table.inner().get(HEADER_ATTEMPT) {
            None => 0,
            Some(value) => {
                as_u32(value).ok_or_else(|| format!("{HEADER_ATTEMPT} header is not a number"))?
            }
        };
        let TraceHeaders {
            traceparent,
            tracestate,
        } = read_trace(table);
        let replay = match table.inner().get(HEADER_REPLAY) {
            None => false,
            Some(AMQPValue::Boolean(b)) => *b,
            Some(value) => {
                as_u32(value).ok_or_else(|| format!("{HEADER_REPLAY} header is not a boolean"))?
                    != 0
            }
        };
        Ok(Headers {
            schema_version,
            take_id,
            attempt,
            traceparent,
            tracestate,
            replay,
        })
    }
}

/// The trace context of a header table.
pub(crate) fn read_trace(table: &FieldTable) -> TraceHeaders {
    TraceHeaders {
        traceparent: table.inner().get(HEADER_TRACEPARENT).and_then(as_string),
        tracestate: table.inner().get(HEADER_TRACESTATE).and_then(as_string),
    }
}

/// Writes `trace` into a header table, replacing the context it had; an
/// empty `trace` leaves the table as it is.
pub(crate) fn write_trace(table: &mut FieldTable, trace: &TraceHeaders) {
    let Some(traceparent) = &trace.traceparent else {
        return;
    };
    table.insert(
        ShortString::from(HEADER_TRACEPARENT),
        AMQPValue::LongString(LongString::from(traceparent.as_str())),
    );
    match &trace.tracestate {
        Some(tracestate) => {
            table.insert(
                ShortString::from(HEADER_TRACESTATE),
                AMQPValue::LongString(LongString::from(tracestate.as_str())),
            );
        }
        // The state belonged to the context replaced.
        None if table.contains_key(HEADER_TRACESTATE) => {
            let mut entries = table.inner().clone();
            entries.remove(HEADER_TRACESTATE);
            *table = FieldTable::from(entries);
        }
        None => {}
    }
}

/// An integer header of any AMQP integer type, as RabbitMQ and other
/// clients pick different widths.
pub(crate) fn as_u32(value: &AMQPValue) -> Option<u32> {
    let wide: i64 = match value {
        AMQPValue::ShortShortInt(v) => i64::from(*v),
        AMQPValue::ShortShortUInt(v) => i64::from(*v),
        AMQPValue::ShortInt(v) => i64::from(*v),
        AMQPValue::ShortUInt(v) => i64::from(*v),
        AMQPValue::LongInt(v) => i64::from(*v),
        AMQPValue::LongUInt(v) => i64::from(*v),
        AMQPValue::LongLongInt(v) => *v,
        _ => return None,
    };
    u32::try_from(wide).ok()
}

/// A string header, long or short.
pub(crate) fn as_string(value: &AMQPValue) -> Option<String> {
    match value {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

/// The properties of every message: persistent (delivery mode 2), JSON.
pub(crate) fn properties(headers: FieldTable) -> BasicProperties {
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type(ShortString::from(CONTENT_TYPE_JSON))
        .with_headers(headers)
}

/// Adds the dead-letter reason to a message's headers.
pub(crate) fn mark_dead(table: &mut FieldTable, reason: &str, class: ErrorClass) {
    table.insert(
        ShortString::from(HEADER_ERROR),
        AMQPValue::LongString(LongString::from(reason)),
    );
    table.insert(
        ShortString::from(HEADER_ERROR_KIND),
        AMQPValue::LongString(LongString::from(class.as_str())),
    );
}

/// Where an outgoing message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// To a stage's queue, through `<p>.jobs`.
    Job(Stage),
    /// To `<p>.events` with key `take.<stage>.<outcome>`.
    Event { stage: Stage, outcome: String },
}

impl Route {
    /// Exchange and routing key under `topology`.
    pub fn address(&self, topology: &Topology) -> (String, String) {
        match self {
            Route::Job(stage) => (
                topology.jobs_exchange(),
                Topology::stage_routing_key(*stage).to_owned(),
            ),
            Route::Event { stage, outcome } => (
                topology.events_exchange(),
                Topology::event_routing_key(*stage, outcome),
            ),
        }
    }
}

/// A message to publish: what a handler returns on success, and what a
/// producer (ingest, the CLI) sends to start a take down the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub route: Route,
    pub headers: Headers,
    /// JSON.
    pub body: Vec<u8>,
}

impl Outgoing {
    /// A job for `stage` about `take_id`, its body `message` as JSON.
    pub fn job<T: Serialize + ?Sized>(
        stage: Stage,
        take_id: impl Into<String>,
        message: &T,
    ) -> Result<Self, BrokerError> {
        Ok(Outgoing {
            route: Route::Job(stage),
            headers: Headers::new(take_id),
            body: serde_json::to_vec(message)?,
        })
    }

    /// An event `take.<stage>.<outcome>` about `take_id`.
    pub fn event<T: Serialize + ?Sized>(
        stage: Stage,
        outcome: impl Into<String>,
        take_id: impl Into<String>,
        message: &T,
    ) -> Result<Self, BrokerError> {
        Ok(Outgoing {
            route: Route::Event {
                stage,
                outcome: outcome.into(),
            },
            headers: Headers::new(take_id),
            body: serde_json::to_vec(message)?,
        })
    }

    /// Carries the trace context on (the worker sets the job's own when the
    /// handler gave none).
    pub fn with_traceparent(mut self, traceparent: impl Into<String>) -> Self {
        self.headers.traceparent = Some(traceparent.into());
        self
    }
}

/// A job as the handler sees it.
#[derive(Debug, Clone)]
pub struct Job {
    pub stage: Stage,
    pub headers: Headers,
    /// The JSON body, as received.
    pub body: Vec<u8>,
    /// This run of the job: the fencing token of the lease it was accepted
    /// under, in decimal; unique to one acquisition and greater than every
    /// run's before it. A stage writes its outputs under a run
    /// prefix named by it, so two runs of one job never write the same keys.
    pub run: String,
    /// Fired when the worker gives the job up: shutdown past its deadline,
    /// or the job's lease was lost to another worker. A handler that runs
    /// for long should watch it and stop what it started (a pipeline, a
    /// blocking task): the worker waits 2 s for it to return, then drops
    /// its future. Its result is discarded either way.
    pub cancel: CancellationToken,
    /// How far the job has come, 0.0–1.0: the handler sets it as it goes
    /// (from any thread); the worker loop persists it with the lease.
    pub progress: Progress,
    /// The lease this run holds, for [`Job::confirm_lease`].
    pub lease: LeaseHandle,
}

/// A job's progress, shared between the handler (any thread) and the
/// worker loop. Cloning shares the same value.
#[derive(Debug, Clone, Default)]
pub struct Progress(std::sync::Arc<std::sync::atomic::AtomicU64>);

impl Progress {
    /// Records `fraction` (clamped to 0.0–1.0; NaN counts as 0).
    pub fn set(&self, fraction: f64) {
        let fraction = if fraction.is_nan() {
            0.0
        } else {
            fraction.clamp(0.0, 1.0)
        };
        self.0
            .store(fraction.to_bits(), std::sync::atomic::Ordering::Relaxed);
    }

    /// The last fraction set, 0.0 before any.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(std::sync::atomic::Ordering::Relaxed))
    }
}

impl Job {
    /// Confirms that this run still holds the job's lease: a stage calls it
    /// right before it writes its record, so a run that lost its job to
    /// another worker never publishes. It is one atomic check-and-renew in
    /// the lease store (recording the progress too): `Err(JobError::Transient)`
    /// when the lease is no longer held by this run, or the store cannot say.
    pub async fn confirm_lease(&self) -> Result<(), JobError> {
        let lost = || {
            JobError::Transient(format!(
                "run {} of the {} job for take {} lost its lease",
                self.run, self.stage, self.headers.take_id
            ))
        };
        if self.cancel.is_cancelled() {
            return Err(lost());
        }
        match self.lease.confirm(self.progress.get()).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(lost()),
            Err(error) => Err(JobError::Transient(format!(
                "run {} of the {} job for take {}: cannot confirm its lease: {error}",
                self.run, self.stage, self.headers.take_id
            ))),
        }
    }

    pub fn take_id(&self) -> &str {
        &self.headers.take_id
    }

    /// Retries so far (0 on the first run).
    pub fn attempt(&self) -> u32 {
        self.headers.attempt
    }

    /// Decodes the body. A body that does not fit the type is the sender's
    /// fault, hence [`JobError::Permanent`].
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, JobError> {
        serde_json::from_slice(&self.body).map_err(|error| {
            JobError::Permanent(format!(
                "malformed {} message for take {}: {error}",
                self.stage, self.headers.take_id
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip() {
        let headers = Headers::new("take-1")
            .with_attempt(2)
            .with_replay(true)
            .with_trace(TraceHeaders {
                traceparent: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
                tracestate: Some("moocpipe=1".into()),
            });
        let table = headers.to_table();
        assert_eq!(Headers::from_table(Some(&table)), Ok(headers));
    }

    #[test]
    fn headers_without_take_id_or_version_are_malformed() {
        let mut table = FieldTable::default();
        assert!(Headers::from_table(Some(&table)).is_err());
        table.insert(
            ShortString::from(HEADER_SCHEMA_VERSION),
            AMQPValue::LongInt(i32::try_from(SCHEMA_VERSION).unwrap_or(i32::MAX)),
        );
        let error = Headers::from_table(Some(&table)).unwrap_err();
        assert!(error.contains("take_id"), "{error}");
        table.insert(
            ShortString::from(HEADER_TAKE_ID),
            AMQPValue::LongString(LongString::from("t")),
        );
        table.insert(
            ShortString::from(HEADER_SCHEMA_VERSION),
            AMQPValue::LongInt(999),
        );
        let error = Headers::from_table(Some(&table)).unwrap_err();
        assert!(error.contains("999"), "{error}");
    }
}
