//! RabbitMQ for the distributed mode: the topology ([`topology`]), a
//! publisher with confirms ([`publish`]), the consumer loop every stage's
//! worker runs ([`worker`]), dead-letter queue operations ([`dlq`]) and the
//! loop's metrics hooks ([`metrics`]).
//!
//! # The life of a job
//!
//! A job is a JSON message on `<p>.jobs` with the stage as routing key;
//! its headers carry `schema_version`, `take_id`, `attempt` (retries so far)
//! and the W3C `traceparent` / `tracestate` ([`message`]): each publish is
//! a span whose context the message carries, and the job's span is its
//! child, across processes and retries. A worker consumes its stage's
//! quorum queue with a prefetch of its free slots, and for each delivery:
//!
//! 1. a message that cannot be read (headers missing or of another schema
//!    version, body not JSON) goes to `<p>.<stage>.dead` with the reason in
//!    `x-moocpipe-error` and kind `malformed`, then is acked — one delivery,
//!    no retry;
//! 2. otherwise the worker records a **lease** for the job and acks the
//!    delivery (*ack on accept*, see below), then runs the handler;
//! 3. success: the handler's messages (next stages' jobs, events) are
//!    published with confirms, and only then is the lease released;
//!    a transient failure: the job is republished to the delay queue of the
//!    next back-off step with `attempt + 1` (RabbitMQ dead-letters it back to
//!    the stage queue when its TTL runs out), then the lease is released;
//!    after the last step, or at once for a permanent failure, it goes to the
//!    dead-letter queue with the reason, and a `take.<stage>.failed` event is
//!    published.
//!
//! Every publish is mandatory, persistent and confirmed; a nack or a
//! returned message is an error, and the job is not let go until its outcome
//! is confirmed.
//!
//! # consumer_timeout: ack on accept with a durable lease
//!
//! RabbitMQ closes a channel that keeps a delivery unacknowledged longer
//! than `consumer_timeout` (30 minutes by default, global in 3.10) and
//! redelivers the message. Holding the delivery for the whole job would let
//! a long encode be cut off and start a second time on another worker while
//! the first still runs. So a worker acks a delivery as soon as it has
//! recorded a lease in a [`lease::LeaseStore`] shared by the stage's
//! workers — the job, who runs it, and until when — and renews the lease
//! while it works. From then on the lease is the job's durable handle:
//!
//! - a worker that dies or loses the broker stops renewing; every worker
//!   sweeps its stage's expired leases and republishes those jobs (counting
//!   an attempt, so a job that kills its worker every time ends in the
//!   dead-letter queue as `lost`);
//! - a second copy of a job with a live lease is dropped as a duplicate;
//! - a worker that cannot renew before its lease would expire cancels the
//!   job and publishes nothing: the job never runs twice at once;
//! - while all of a worker's slots are busy it closes its consumer channel,
//!   which gives every prefetched delivery back at once: no delivery ever
//!   waits unacknowledged behind a long job.
//!
//! No delivery is held longer than it takes to write a lease, whatever the
//! job's length, so `consumer_timeout` never fires. The cost: the lease store
//! must be durable, shared and atomic, and it hands out **fencing tokens**
//! (strictly increasing per acquisition) on which every later change is
//! conditional; `moocpipe-control`'s `PgLeases` (PostgreSQL) is the real
//! one, [`lease::InMemoryLeases`] serves tests and single-process setups.
//! A job's `run` is its token; `Job::confirm_lease` checks it against the
//! store right before a stage writes its record.
//!
//! No message circles for ever: a lease-store failure sends the job through
//! the delay queues as an attempt, a deferred report trigger is
//! dead-lettered after `max_deferrals` deferrals in a row, and the stage
//! queues carry `x-delivery-limit` for consumers that die with a message in
//! hand. The loop's state for `/healthz` is in [`health`].
//!
//! # Reconnects and shutdown
//!
//! [`worker::run_worker`] connects, declares the topology, consumes, and
//! when the connection drops it reconnects with exponential back-off and
//! declares again (lapin does not recover connections by itself). Running
//! jobs carry on across a reconnect; their outcome waits for the new
//! connection. On shutdown the worker stops consuming, gives running jobs
//! a grace period, then cancels the rest and hands them back: the lease is
//! marked handed back and the job republished to its queue unchanged, so
//! another worker takes it at once. If even that fails, the lease expires
//! and a sweeper republishes the job — no path loses it.

pub mod connect;
pub mod consume;
pub mod dlq;
pub mod error;
pub mod health;
pub mod lease;
pub mod message;
pub mod metrics;
pub mod publish;
pub mod topology;
pub mod worker;

pub use connect::{redact_url, AmqpConfig, Backoff, DEFAULT_AMQP_URL};
pub use dlq::DeadLetter;
pub use error::{BrokerError, ErrorClass, JobError};
pub use health::{HealthReport, WorkerHealth};
pub use lease::{Acquire, Finish, InMemoryLeases, Lease, LeaseHandle, LeaseKey, LeaseStore};
pub use message::{Headers, Job, Outgoing, Progress, Route};
pub use metrics::{NoMetrics, Outcome, PrometheusMetrics, WorkerMetrics};
pub use publish::Publisher;
pub use topology::{Stage, Topology};
pub use worker::{run_worker, Handler, WorkerOptions};
