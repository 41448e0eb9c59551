//! One module per subcommand.

pub mod check;
pub mod process;
pub mod qc;
