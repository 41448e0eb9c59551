//! One pipeline, two runners. The local runner (`moocpipe process`) and the
//! distributed workers decide alike because they decide here:
//!
//! - [`policy`]: pure functions from records to decisions — when a stage is
//!   skipped, whether a take goes on after the spec, what a failed record
//!   holds, the output names, when a take is ready to report and with which
//!   links, the notice's text;
//! - [`sequencer`]: the store side of every stage, generic over
//!   `ObjectStore` — outputs under a run prefix named by the run's fencing
//!   token, described with size and checksum, the record last, other runs
//!   removed; the report's readiness and its checked links;
//! - [`qc`]: the QC session a decode feeds (the transcode's, or its own);
//! - [`materials`]: a course material checked by its content, copied and
//!   recorded once per version of its file.

pub mod materials;
pub mod policy;
pub mod qc;
pub mod sequencer;

pub use policy::{AfterProbe, NoticeText, PolicyError, Readiness, Ready, TakeState, Wanted};
pub use sequencer::{FailureRecord, PipelineError, RunContext};
