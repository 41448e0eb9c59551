//! Process plumbing shared by every moocpipe role.

pub mod telemetry;
