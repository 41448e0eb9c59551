//! Counters beside the broker's job metrics: what a stage read from the raw
//! bucket and wrote to the media bucket, and how often a ranged read of the
//! raw take failed and was tried again within its job; and the figures
//! about takes that users read (issue 14): upload → notice latency per
//! verdict, spec failures by rule, QC's suggested scores, notices by
//! channel and outcome, and how much of a take each stage read; and the
//! course materials ingest checked, by verdict.
//!
//! Labels are low-cardinality: stage, verdict, rule id, criterion, channel,
//! outcome — never a take id or a key. Every worker registers them all; a
//! stage fills those it sees (the probe the rule failures, the transcode
//! the QC scores, the report the notices).

use std::time::{Duration, SystemTime};

use moocpipe_broker::Stage;
use moocpipe_notify::Deliveries;
use moocpipe_proto::{ProbeRecord, PublishedRecord, QcRecord, TakeVerdict, Verdict};
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

/// Upload → notice: minutes for a short take, hours for a long lecture or
/// a queue that backed up; the SLO's threshold (1 h) is a bucket bound.
const LATENCY_BUCKETS: [f64; 12] = [
    30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0,
];
/// Bytes read ÷ the take's size: the probe aims at 0.1 % (its index and
/// first frames), a transcode or caption pass at about 1 (once through).
const READ_RATIO_BUCKETS: [f64; 12] = [
    0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 0.9, 1.0, 1.1, 1.5, 2.0,
];
/// F-10 scores are 0 to 3.
const SCORE_BUCKETS: [f64; 4] = [0.0, 1.0, 2.0, 3.0];

#[derive(Clone)]
pub struct StageMetrics {
    stage: Stage,
    read: IntCounterVec,
    written: IntCounterVec,
    read_retries: IntCounterVec,
    read_ratio: HistogramVec,
    notice_latency: HistogramVec,
    spec_failures: IntCounterVec,
    qc_scores: HistogramVec,
    notices: IntCounterVec,
    materials: IntCounterVec,
}

impl StageMetrics {
    pub fn register(registry: &Registry, stage: Stage) -> Result<Self, prometheus::Error> {
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let counter = IntCounterVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(counter.clone()))?;
            Ok::<_, prometheus::Error>(counter)
        };
        let histogram = |name: &str, help: &str, labels: &[&str], buckets: &[f64]| {
            let histogram = HistogramVec::new(
                HistogramOpts::new(name, help).buckets(buckets.to_vec()),
                labels,
            )?;
            registry.register(Box::new(histogram.clone()))?;
            Ok::<_, prometheus::Error>(histogram)
        };
        let metrics = StageMetrics {
            stage,
            read: counter(
                "moocpipe_bytes_read_total",
                "Bytes a stage read from storage",
                &["stage"],
            )?,
            written: counter(
                "moocpipe_bytes_written_total",
                "Bytes a stage wrote to storage",
                &["stage"],
            )?,
            read_retries: counter(
                "moocpipe_read_retries_total",
                "Ranged reads of a raw take that failed for a transient reason and were tried again within the job",
                &["stage"],
            )?,
            read_ratio: histogram(
                "moocpipe_take_read_ratio",
                "Bytes of the raw take one job read, divided by the take's size",
                &["stage"],
                &READ_RATIO_BUCKETS,
            )?,
            notice_latency: histogram(
                "moocpipe_notice_latency_seconds",
                "From the raw take's upload (its Last-Modified) to the author's notice, by the take's verdict",
                &["verdict"],
                &LATENCY_BUCKETS,
            )?,
            spec_failures: counter(
                "moocpipe_spec_failures_total",
                "Raw-footage rules failed by probed takes, by rule id",
                &["rule"],
            )?,
            qc_scores: histogram(
                "moocpipe_qc_suggested_score",
                "Suggested F-10 scores (0-3) of transcoded takes, by criterion (sound, image)",
                &["criterion"],
                &SCORE_BUCKETS,
            )?,
            notices: counter(
                "moocpipe_notices_total",
                "Notices to authors, by channel (email, webhook) and outcome (sent, transient, permanent)",
                &["channel", "outcome"],
            )?,
            materials: counter(
                "moocpipe_materials_total",
                "Course materials ingest handled, by verdict (ok: published; error: not what its name claims, empty or of a type not accepted; unchanged: recorded earlier for this version)",
                &["verdict"],
            )?,
        };
        // Present from the start, so a dashboard sees 0 rather than nothing.
        for counter in [&metrics.read, &metrics.written, &metrics.read_retries] {
            counter.with_label_values(&[stage.as_str()]);
        }
        Ok(metrics)
    }

    pub fn read(&self, bytes: u64) {
        self.read
            .with_label_values(&[self.stage.as_str()])
            .inc_by(bytes);
    }

    /// A ranged read failed for a transient reason and is tried again.
    pub fn read_retried(&self) {
        self.read_retries
            .with_label_values(&[self.stage.as_str()])
            .inc();
    }

    pub fn written(&self, bytes: u64) {
        self.written
            .with_label_values(&[self.stage.as_str()])
            .inc_by(bytes);
    }

    /// A job is done with its raw take, having read `ratio` of its size.
    pub fn take_read(&self, ratio: f64) {
        self.read_ratio
            .with_label_values(&[self.stage.as_str()])
            .observe(ratio);
    }

    /// A course material was handled: `ok`, `error` or `unchanged`.
    pub fn material(&self, verdict: &str) {
        self.materials.with_label_values(&[verdict]).inc();
    }

    /// A take was probed: each rule it failed counts once.
    pub fn probed(&self, record: &ProbeRecord) {
        for rule in record.rules.iter().filter(|r| r.verdict == Verdict::Fail) {
            self.spec_failures
                .with_label_values(&[rule.id.as_str()])
                .inc();
        }
    }

    /// QC measured a take: its suggested scores.
    pub fn qc_scored(&self, record: &QcRecord) {
        for (criterion, score) in [
            ("sound", &record.sound_score),
            ("image", &record.image_score),
        ] {
            self.qc_scores
                .with_label_values(&[criterion])
                .observe(f64::from(score.score));
        }
    }

    /// A notice went out (or tried to): each channel's outcome.
    pub fn notices(&self, deliveries: &Deliveries) {
        for (channel, outcome) in deliveries.outcomes() {
            self.notices.with_label_values(&[channel, outcome]).inc();
        }
    }

    /// The author was told about `record`, whose raw take was uploaded at
    /// `uploaded` (unknown: not observed).
    pub fn noticed(&self, record: &PublishedRecord, uploaded: Option<SystemTime>) {
        let Some(uploaded) = uploaded else {
            return;
        };
        let latency = SystemTime::now()
            .duration_since(uploaded)
            .unwrap_or(Duration::ZERO);
        self.notice_latency
            .with_label_values(&[verdict(record).as_str()])
            .observe(latency.as_secs_f64());
    }
}

/// The take's verdict as the author hears it: the spec's, and when the
/// spec passed, the transcode's (none recorded: the transcode failed).
pub fn verdict(record: &PublishedRecord) -> TakeVerdict {
    match (record.spec, record.transcode) {
        (TakeVerdict::Pass, Some(transcode)) => transcode,
        (TakeVerdict::Pass, None) => TakeVerdict::Error,
        (spec, _) => spec,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(registry: &Registry) -> String {
        let mut text = String::new();
        prometheus::TextEncoder::new()
            .encode_utf8(&registry.gather(), &mut text)
            .expect("encode");
        text
    }

    #[test]
    fn take_figures_have_low_cardinality_labels() {
        let registry = Registry::new();
        let metrics = StageMetrics::register(&registry, Stage::Report).expect("register");
        metrics.take_read(0.001);
        let deliveries = Deliveries {
            email: Some(Ok(())),
            webhook: Some(Err(moocpipe_notify::NotifyError::WebhookStatus {
                address: "http://127.0.0.1:9".into(),
                status: 503,
            })),
            ..Deliveries::default()
        };
        metrics.notices(&deliveries);
        metrics.material("error");
        let text = text(&registry);
        assert!(
            text.contains(r#"moocpipe_materials_total{verdict="error"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"moocpipe_notices_total{channel="webhook",outcome="transient"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"moocpipe_notices_total{channel="email",outcome="sent"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"moocpipe_take_read_ratio_bucket{stage="report",le="0.001"} 1"#),
            "{text}"
        );
    }
}
