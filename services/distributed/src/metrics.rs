//! Byte counters beside the broker's job metrics: what a stage read from
//! the raw bucket and wrote to the media bucket. Labels: the stage only.

use moocpipe_broker::Stage;
use prometheus::{IntCounterVec, Opts, Registry};

#[derive(Clone)]
pub struct StageMetrics {
    stage: Stage,
    read: IntCounterVec,
    written: IntCounterVec,
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
        registry.register(Box::new(read.clone()))?;
        registry.register(Box::new(written.clone()))?;
        // Present from the start, so a dashboard sees 0 rather than nothing.
        read.with_label_values(&[stage.as_str()]);
        written.with_label_values(&[stage.as_str()]);
        Ok(StageMetrics {
            stage,
            read,
            written,
        })
    }

    pub fn read(&self, bytes: u64) {
        self.read
            .with_label_values(&[self.stage.as_str()])
            .inc_by(bytes);
    }

    pub fn written(&self, bytes: u64) {
        self.written
            .with_label_values(&[self.stage.as_str()])
            .inc_by(bytes);
    }
}
