//! The one error type of the crate.
//!
//! Every variant names what failed (a URL, a file) and why, so a log line is
//! enough to act on it; [`ModelError::is_transient`] tells a caller whether
//! trying again later can help.

use std::path::{Path, PathBuf};

/// Why a model could not be fetched, converted or read.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The network failed: connection, TLS, HTTP status, or a body cut short.
    #[error("download of {url} failed: {message}")]
    Download { url: String, message: String },

    /// A download arrived whole but is not the pinned artifact.
    #[error(
        "download of {url} does not match its pinned sha256: expected {expected}, got {actual}"
    )]
    Digest {
        url: String,
        expected: String,
        actual: String,
    },

    /// A file (an archive, a CTranslate2 model, an asset) is not what the
    /// converter expects.
    #[error("{}: {message}", file.display())]
    Format { file: PathBuf, message: String },

    /// An archive lacks a member the model needs.
    #[error("{}: no member {member}", archive.display())]
    MissingMember { archive: PathBuf, member: String },

    /// The converted ggml file differs from the one this converter is pinned
    /// to produce: the converter or an input changed.
    #[error("{}: converted model does not match its pinned sha256: expected {expected}, got {actual}", file.display())]
    Conversion {
        file: PathBuf,
        expected: String,
        actual: String,
    },

    /// Reading or writing the local cache failed.
    #[error("{}: {message}", path.display())]
    Io { path: PathBuf, message: String },
}

impl ModelError {
    /// Whether trying again later may succeed (network and disk trouble) or
    /// not (the inputs or the converter are wrong).
    pub fn is_transient(&self) -> bool {
        matches!(self, ModelError::Download { .. } | ModelError::Io { .. })
    }

    pub(crate) fn io(path: &Path, err: std::io::Error) -> Self {
        ModelError::Io {
            path: path.to_path_buf(),
            message: err.to_string(),
        }
    }

    pub(crate) fn format(file: &Path, message: impl Into<String>) -> Self {
        ModelError::Format {
            file: file.to_path_buf(),
            message: message.into(),
        }
    }
}
