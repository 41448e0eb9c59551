//! Where records and outputs live.
