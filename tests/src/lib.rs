//! Test support: media made at test time, and the moocpipe binary.
