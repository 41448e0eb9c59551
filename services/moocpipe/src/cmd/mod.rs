//! One module per subcommand.

pub mod caption;
pub mod check;
pub mod config;
pub mod models;
pub mod process;
pub mod qc;
