//! Where a take is in the pipeline, told from its records alone.

use moocpipe_proto::{TakeVerdict, TranscodeRecord};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A take's state, as the dashboard counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TakeState {
    /// Ingested; its probe has not started.
    Uploaded,
    /// Its probe job is running.
    Probing,
    /// The take fails the raw-footage spec (it is not transcoded).
    FailedSpec,
    /// The take could not be checked (corrupt, truncated, not media), or
    /// its renditions failed their verification.
    Error,
    /// Passed the spec; renditions not recorded yet.
    Transcoding,
    /// Renditions recorded; captions not yet.
    Captioning,
    /// Renditions (and captions) recorded and, in the distributed mode,
    /// the author told.
    Published,
    /// A stage gave up on the take after its retries (dead-lettered).
    DeadLettered,
}

/// Every state, in the pipeline's order (the overview's columns).
pub const ALL: [TakeState; 8] = [
    TakeState::Uploaded,
    TakeState::Probing,
    TakeState::FailedSpec,
    TakeState::Error,
    TakeState::Transcoding,
    TakeState::Captioning,
    TakeState::Published,
    TakeState::DeadLettered,
];

impl TakeState {
    pub fn as_str(self) -> &'static str {
        match self {
            TakeState::Uploaded => "uploaded",
            TakeState::Probing => "probing",
            TakeState::FailedSpec => "failed_spec",
            TakeState::Error => "error",
            TakeState::Transcoding => "transcoding",
            TakeState::Captioning => "captioning",
            TakeState::Published => "published",
            TakeState::DeadLettered => "dead_lettered",
        }
    }

    /// For people: "failed spec".
    pub fn label(self) -> &'static str {
        match self {
            TakeState::FailedSpec => "failed spec",
            TakeState::DeadLettered => "dead-lettered",
            other => other.as_str(),
        }
    }

    pub fn parse(text: &str) -> Option<TakeState> {
        ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl fmt::Display for TakeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What [`derive`] looks at.
#[derive(Debug, Clone, Copy, Default)]
pub struct Facts<'a> {
    pub spec: Option<TakeVerdict>,
    /// Whether the spec verdict lets the take go on (pass, or allowed).
    pub spec_passes: bool,
    pub transcode: Option<&'a TranscodeRecord>,
    pub caption_recorded: bool,
    pub published: bool,
    /// A stage of the take was dead-lettered.
    pub dead_lettered: bool,
    /// Its probe job runs now (only the distributed mode knows).
    pub probe_running: bool,
}

/// The state a take's records put it in.
pub fn derive(facts: &Facts<'_>) -> TakeState {
    if facts.dead_lettered {
        return TakeState::DeadLettered;
    }
    let Some(spec) = facts.spec else {
        return if facts.probe_running {
            TakeState::Probing
        } else {
            TakeState::Uploaded
        };
    };
    if spec == TakeVerdict::Error {
        return TakeState::Error;
    }
    if !facts.spec_passes {
        return TakeState::FailedSpec;
    }
    match facts.transcode {
        None => TakeState::Transcoding,
        Some(t) if t.verdict != TakeVerdict::Pass => TakeState::Error,
        Some(_) if facts.published || facts.caption_recorded => TakeState::Published,
        Some(_) => TakeState::Captioning,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_reads_back_from_its_name() {
        for state in ALL {
            assert_eq!(TakeState::parse(state.as_str()), Some(state));
        }
        assert_eq!(TakeState::parse("nonsense"), None);
    }

    #[test]
    fn states_follow_the_records() {
        let mut facts = Facts::default();
        assert_eq!(derive(&facts), TakeState::Uploaded);
        facts.probe_running = true;
        assert_eq!(derive(&facts), TakeState::Probing);
        facts.spec = Some(TakeVerdict::Fail);
        assert_eq!(derive(&facts), TakeState::FailedSpec);
        facts.spec = Some(TakeVerdict::Error);
        assert_eq!(derive(&facts), TakeState::Error);
        facts.spec = Some(TakeVerdict::Pass);
        facts.spec_passes = true;
        assert_eq!(derive(&facts), TakeState::Transcoding);
        facts.dead_lettered = true;
        assert_eq!(derive(&facts), TakeState::DeadLettered);
    }
}
