//! Counters beside the broker's job metrics: what a stage read from the raw
//! bucket and wrote to the media bucket, and how often a ranged read of the
//! raw take failed and was tried again within its job. Labels: the stage
//! only.

use moocpipe_broker::Stage;
use prometheus::{IntCounterVec, Opts, Registry};

#[derive(Clone)]
pub struct StageMetrics {
    stage: Stage,
    read: IntCounterVec,
    written: IntCounterVec,
    read_retries: IntCounterVec,
}

impl StageMetrics {
    pub fn register(registry: &Registry, stage: Stage) -> Result<Self, prometheus::Error> {
        let read = IntCounterVec::new(
            Opts::new(
                "moocpipe_bytes_read_total",
                "Bytes a stage read from storage",
            ),
            &["stage"],
        )?;
        let written = IntCounterVec::new(
            Opts::new(
                "moocpipe_bytes_written_total",
                "Bytes a stage wrote to storage",
            ),
            &["stage"],
        )?;
        let read_retries = IntCounterVec::new(
            Opts::new(
                "moocpipe_read_retries_total",
                "Ranged reads of a raw take that failed for a transient reason and were tried again within the job",
            ),
            &["stage"],
        )?;
        registry.register(Box::new(read.clone()))?;
        registry.register(Box::new(written.clone()))?;
        registry.register(Box::new(read_retries.clone()))?;
        // Present from the start, so a dashboard sees 0 rather than nothing.
        for counter in [&read, &written, &read_retries] {
            counter.with_label_values(&[stage.as_str()]);
        }
        Ok(StageMetrics {
            stage,
            read,
            written,
            read_retries,
        })
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
}
