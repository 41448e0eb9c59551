//! What the worker loop reports, as a trait the caller implements (or
//! [`PrometheusMetrics`], registered in the caller's registry). Labels are
//! low-cardinality: stage, outcome, error kind — never a take id.

use std::time::Duration;

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};

use crate::error::ErrorClass;
use crate::topology::Stage;

/// How a job the handler ran (or a message the loop refused) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Its downstream messages were confirmed.
    Succeeded,
    /// Failed transiently; a retry was scheduled.
    Retried,
    /// Landed in the dead-letter queue.
    DeadLettered(ErrorClass),
    /// Given back to the queue unfinished (shutdown past its deadline).
    HandedBack,
    /// Stopped without an outcome: its lease was lost or the broker went
    /// away before the outcome was confirmed. The lease sweeper
    /// republishes it.
    Abandoned,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Retried => "retried",
            Outcome::DeadLettered(_) => "dead_lettered",
            Outcome::HandedBack => "handed_back",
            Outcome::Abandoned => "abandoned",
        }
    }
}

/// Hooks of the worker loop. Every method has an empty default, so an
/// implementation picks what it needs. Called inline: keep them cheap.
pub trait WorkerMetrics: Send + Sync + 'static {
    /// The handler was called for a job.
    fn job_started(&self, _stage: Stage) {}
    /// A job the handler was called for ended (`duration` from the call).
    fn job_finished(&self, _stage: Stage, _outcome: Outcome, _duration: Duration) {}
    /// A message was dead-lettered without reaching the handler.
    fn rejected(&self, _stage: Stage, _class: ErrorClass) {}
    /// A copy of a job another worker holds a live lease on was dropped.
    fn duplicate(&self, _stage: Stage) {}
    /// The sweeper republished a job whose lease expired.
    fn lease_swept(&self, _stage: Stage) {}
    /// The loop connected (again) after losing the broker.
    fn reconnected(&self, _stage: Stage) {}
}

/// Metrics that go nowhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMetrics;

impl WorkerMetrics for NoMetrics {}

/// The worker loop's metrics as Prometheus collectors.
#[derive(Debug, Clone)]
pub struct PrometheusMetrics {
    started: IntCounterVec,
    finished: IntCounterVec,
    failed: IntCounterVec,
    in_flight: IntGaugeVec,
    duration: HistogramVec,
    duplicates: IntCounterVec,
    swept: IntCounterVec,
    reconnects: IntCounterVec,
}

impl PrometheusMetrics {
    /// Creates the collectors and registers them in `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let metrics = PrometheusMetrics {
            started: IntCounterVec::new(
                Opts::new("moocpipe_jobs_started_total", "Jobs handed to a stage's handler"),
                &["stage"],
            )?,
            finished: IntCounterVec::new(
                Opts::new("moocpipe_jobs_finished_total", "Jobs ended, by outcome"),
                &["stage", "outcome"],
            )?,
            failed: IntCounterVec::new(
                Opts::new(
                    "moocpipe_jobs_failed_total",
                    "Failed jobs and refused messages, by error kind (transient, permanent, malformed, lost)",
                ),
                &["stage", "kind"],
            )?,
            in_flight: IntGaugeVec::new(
                Opts::new("moocpipe_jobs_in_flight", "Jobs running now"),
                &["stage"],
            )?,
            duration: HistogramVec::new(
                HistogramOpts::new("moocpipe_job_duration_seconds", "Time in the handler")
                    .buckets(vec![
                        0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0,
                    ]),
                &["stage", "outcome"],
            )?,
            duplicates: IntCounterVec::new(
                Opts::new(
                    "moocpipe_jobs_duplicate_total",
                    "Copies of jobs already leased by another worker, dropped",
                ),
                &["stage"],
            )?,
            swept: IntCounterVec::new(
                Opts::new(
                    "moocpipe_leases_swept_total",
                    "Jobs republished because their worker's lease expired",
                ),
                &["stage"],
            )?,
            reconnects: IntCounterVec::new(
                Opts::new("moocpipe_broker_reconnects_total", "Reconnections to RabbitMQ"),
                &["stage"],
            )?,
        };
        registry.register(Box::new(metrics.started.clone()))?;
        registry.register(Box::new(metrics.finished.clone()))?;
        registry.register(Box::new(metrics.failed.clone()))?;
        registry.register(Box::new(metrics.in_flight.clone()))?;
        registry.register(Box::new(metrics.duration.clone()))?;
        registry.register(Box::new(metrics.duplicates.clone()))?;
        registry.register(Box::new(metrics.swept.clone()))?;
        registry.register(Box::new(metrics.reconnects.clone()))?;
        Ok(metrics)
    }
}

impl WorkerMetrics for PrometheusMetrics {
    fn job_started(&self, stage: Stage) {
        self.started.with_label_values(&[stage.as_str()]).inc();
        self.in_flight.with_label_values(&[stage.as_str()]).inc();
    }

    fn job_finished(&self, stage: Stage, outcome: Outcome, duration: Duration) {
        let labels = [stage.as_str(), outcome.as_str()];
        self.in_flight.with_label_values(&[stage.as_str()]).dec();
        self.finished.with_label_values(&labels).inc();
        self.duration
            .with_label_values(&labels)
            .observe(duration.as_secs_f64());
        match outcome {
            Outcome::Retried => self
                .failed
                .with_label_values(&[stage.as_str(), "transient"]),
            Outcome::DeadLettered(class) => self
                .failed
                .with_label_values(&[stage.as_str(), class.as_str()]),
            _ => return,
        }
        .inc();
    }

    fn rejected(&self, stage: Stage, class: ErrorClass) {
        self.failed
            .with_label_values(&[stage.as_str(), class.as_str()])
            .inc();
    }

    fn duplicate(&self, stage: Stage) {
        self.duplicates.with_label_values(&[stage.as_str()]).inc();
    }

    fn lease_swept(&self, stage: Stage) {
        self.swept.with_label_values(&[stage.as_str()]).inc();
    }

    fn reconnected(&self, stage: Stage) {
        self.reconnects.with_label_values(&[stage.as_str()]).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_metrics_register_and_count() {
        let registry = Registry::new();
        let metrics = PrometheusMetrics::register(&registry).expect("register");
        metrics.job_started(Stage::Probe);
        metrics.job_finished(
            Stage::Probe,
            Outcome::DeadLettered(ErrorClass::Permanent),
            Duration::from_millis(20),
        );
        let mut text = String::new();
        prometheus::TextEncoder::new()
            .encode_utf8(&registry.gather(), &mut text)
            .expect("encode");
        assert!(
            text.contains(r#"moocpipe_jobs_failed_total{kind="permanent",stage="probe"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"moocpipe_jobs_in_flight{stage="probe"} 0"#),
            "{text}"
        );
    }
}
