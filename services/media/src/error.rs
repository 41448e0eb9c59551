//! Errors of media measurement. Every variant names the file; [`MediaError::kind`]
//! maps it onto the wire-level [`ErrorKind`], whose `is_transient` tells a
//! caller whether retrying can help.

use moocpipe_proto::ErrorKind;

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("{file}: no such file")]
    NotFound { file: String },
    #[error("{file}: not a regular file ({what})")]
    NotAFile { file: String, what: &'static str },
    #[error("{file}: permission denied")]
    PermissionDenied { file: String },
    #[error("{file}: the file is empty (0 bytes)")]
    Empty { file: String },
    #[error("{file}: read error: {message}")]
    Io { file: String, message: String },
    #[error("{file}: not a media container moocpipe can read ({message})")]
    UnrecognizedFormat { file: String, message: String },
    #[error("{file}: the file is truncated or its index is missing ({message})")]
    Truncated { file: String, message: String },
    #[error("{file}: the container is damaged ({message})")]
    Corrupt { file: String, message: String },
    #[error("{file}: no video stream ({found})")]
    NoVideoStream { file: String, found: String },
    #[error("{file}: a GStreamer plugin is missing ({message})")]
    MissingPlugin { file: String, message: String },
    #[error("{file}: not finished within {seconds} s (raise the time bound with --timeout)")]
    Timeout { file: String, seconds: u64 },
    #[error("{file}: internal error: {message}")]
    Internal { file: String, message: String },
    #[error("{file}: stopped before it finished")]
    Cancelled { file: String },
}

impl MediaError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            MediaError::NotFound { .. } => ErrorKind::NotFound,
            MediaError::NotAFile { .. } => ErrorKind::NotAFile,
            MediaError::PermissionDenied { .. } => ErrorKind::PermissionDenied,
            MediaError::Empty { .. } => ErrorKind::Empty,
            MediaError::Io { .. } => ErrorKind::Io,
            MediaError::UnrecognizedFormat { .. } => ErrorKind::UnrecognizedFormat,
            MediaError::Truncated { .. } => ErrorKind::Truncated,
            MediaError::Corrupt { .. } => ErrorKind::Corrupt,
            MediaError::NoVideoStream { .. } => ErrorKind::NoVideoStream,
            MediaError::MissingPlugin { .. } => ErrorKind::MissingPlugin,
            MediaError::Timeout { .. } => ErrorKind::Timeout,
            MediaError::Internal { .. } => ErrorKind::Internal,
            MediaError::Cancelled { .. } => ErrorKind::Cancelled,
        }
    }

    /// Classifies an I/O error met while opening `file`.
    pub fn from_io(file: &str, err: &std::io::Error) -> Self {
        let file = file.to_string();
        match err.kind() {
            std::io::ErrorKind::NotFound => MediaError::NotFound { file },
            std::io::ErrorKind::PermissionDenied => MediaError::PermissionDenied { file },
            _ => MediaError::Io {
                file,
                message: err.to_string(),
            },
        }
    }

    /// Classifies an error message posted by a GStreamer element.
    pub(crate) fn from_gst(file: &str, err: &gstreamer::glib::Error, debug: Option<&str>) -> Self {
        use gstreamer::{CoreError, ResourceError, StreamError};
        let file = file.to_string();
        let message = match debug {
            // The debug string's last line is the element's own explanation.
            Some(d) if !d.is_empty() => format!("{}; {}", err.message(), last_line(d)),
            _ => err.message().to_string(),
        };
        let lower = message.to_lowercase();
        if err.matches(StreamError::TypeNotFound) || err.matches(StreamError::WrongType) {
            MediaError::UnrecognizedFormat { file, message }
        } else if err.matches(StreamError::CodecNotFound) || err.matches(CoreError::MissingPlugin) {
            MediaError::MissingPlugin { file, message }
        } else if lower.contains("incomplete")
            || lower.contains("no playable streams")
            || lower.contains("no known streams")
            || lower.contains("moov")
            || lower.contains("truncated")
            || lower.contains("end of file")
            || lower.contains("eos")
        {
            MediaError::Truncated { file, message }
        } else if err.matches(ResourceError::NotFound) {
            MediaError::NotFound { file }
        } else if err.matches(ResourceError::OpenRead) || err.matches(ResourceError::Read) {
            MediaError::Io { file, message }
        } else if err.matches(StreamError::Demux)
            || err.matches(StreamError::Format)
            || err.matches(StreamError::Decode)
            || err.matches(StreamError::Failed)
        {
            MediaError::Corrupt { file, message }
        } else {
            MediaError::Internal { file, message }
        }
    }
}

fn last_line(s: &str) -> &str {
    s.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(s)
        .trim()
}
