//! The stages of the pipeline: one queue and one kind of worker each in the
//! distributed runner, one step each in the local runner.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A stage of the pipeline.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Ingest,
    Probe,
    Transcode,
    Caption,
    Report,
}

impl Stage {
    /// Every stage, in pipeline order.
    pub const ALL: [Stage; 5] = [
        Stage::Ingest,
        Stage::Probe,
        Stage::Transcode,
        Stage::Caption,
        Stage::Report,
    ];

    /// The stage's name in queue names, routing keys, record names and
    /// metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Ingest => "ingest",
            Stage::Probe => "probe",
            Stage::Transcode => "transcode",
            Stage::Caption => "caption",
            Stage::Report => "report",
        }
    }

    /// Stages whose jobs run for minutes and hold a whole core: one job at a
    /// time per worker (prefetch 1).
    pub fn is_heavy(self) -> bool {
        matches!(self, Stage::Transcode | Stage::Caption)
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is no stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownStage(pub String);

impl fmt::Display for UnknownStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown stage {:?} (ingest, probe, transcode, caption or report)",
            self.0
        )
    }
}

impl std::error::Error for UnknownStage {}

impl FromStr for Stage {
    type Err = UnknownStage;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Stage::ALL
            .into_iter()
            .find(|stage| stage.as_str() == s)
            .ok_or_else(|| UnknownStage(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_refused() {
        for stage in Stage::ALL {
            assert_eq!(stage.as_str().parse::<Stage>(), Ok(stage));
            assert_eq!(
                serde_json::to_string(&stage).expect("json"),
                format!("\"{stage}\"")
            );
        }
        let err = "encode".parse::<Stage>().expect_err("no such stage");
        assert!(err.to_string().contains("encode"), "{err}");
    }
}
