//! The course segment-length report.
