//! Technical-quality analysis.
