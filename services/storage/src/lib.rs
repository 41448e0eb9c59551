//! Where records and outputs live. One layout (see [`layout`]) for every
//! backend; today the local-folder store ([`LocalStore`]), the embedded
//! default. Writes are atomic: a reader sees the old object or the new one,
//! never half of one.

pub mod layout;
mod local;

pub use local::{LocalStore, Staging};

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{path}: cannot write the store here: {message}")]
    NotWritable { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("{path}: not a valid record: {message}")]
    BadRecord { path: PathBuf, message: String },
}

impl StorageError {
    pub(crate) fn io(path: impl Into<PathBuf>, err: &std::io::Error) -> Self {
        StorageError::Io {
            path: path.into(),
            message: err.to_string(),
        }
    }
}
