//! Why a path is not a take of a course. Every variant names the path it is
//! about (the take, the sidecar or the path given) as the caller gave it, and
//! says what was expected.

use std::path::{Path, PathBuf};

use moocpipe_proto::TakeKind;

use crate::TAKE_EXTENSIONS;

/// Where takes go, as said in every [`LayoutError::Misplaced`].
pub const EXPECTED_LAYOUT: &str = "<course>/<NN-module>/<NN-lesson>/<take>.<ext> \
     (or <course>/promo/<take>.<ext>, <course>/closing/<take>.<ext>)";

#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum LayoutError {
    /// The path does not exist (or is a broken symlink).
    #[error("{}: no such file or folder", path.display())]
    NotFound { path: PathBuf },

    /// The path exists but could not be read (permissions, a symlink loop, I/O).
    #[error("{}: cannot be read: {message}", path.display())]
    Unreadable { path: PathBuf, message: String },

    /// A file given (or met in a course folder) that cannot be a take.
    #[error("{}: not a take ({found}); expected a file ending in {}", path.display(), extension_list())]
    NotATake { path: PathBuf, found: String },

    /// Keys and sources are strings: a path that is not UTF-8 cannot become one.
    #[error("{}: the path is not valid UTF-8, so it cannot become a take key", path.display())]
    NotUtf8 { path: PathBuf },

    /// A take that is not where the convention puts takes; `reason` says which
    /// part of its path does not fit.
    #[error("{}: expected {EXPECTED_LAYOUT}; {reason}", path.display())]
    Misplaced { path: PathBuf, reason: String },

    /// The sidecar is not well-formed JSON.
    #[error("{}: the sidecar is not valid JSON: {message} at line {line}, column {column}", path.display())]
    SidecarSyntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    /// The sidecar has a field the convention does not know.
    #[error(
        "{}: unknown sidecar field `{field}` at line {line}, column {column}; \
         a sidecar may only have title, author_email, language and kind",
        path.display()
    )]
    SidecarUnknownField {
        path: PathBuf,
        field: String,
        line: usize,
        column: usize,
    },

    /// Well-formed JSON of the wrong shape: not an object, a field of the wrong
    /// type, an unknown `kind`.
    #[error("{}: invalid sidecar: {message} at line {line}, column {column}", path.display())]
    SidecarInvalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    /// A sidecar field with a value the convention does not allow
    /// (a `language` other than kk, ru, en; a blank `title`).
    #[error("{}: sidecar field `{field}` {problem}", path.display())]
    SidecarValue {
        path: PathBuf,
        field: &'static str,
        problem: String,
    },

    /// The sidecar's `kind` contradicts the folder the take is in.
    #[error(
        "{}: the sidecar says kind \"{}\", but its take is in {}, which makes it a {} take; \
         move the take or change the sidecar's kind",
        path.display(), kind_name(*sidecar), folder_of(*folder), kind_name(*folder)
    )]
    SidecarKindMismatch {
        path: PathBuf,
        sidecar: TakeKind,
        folder: TakeKind,
    },

    /// Another take in the same folder has the same stem.
    #[error(
        "{}: {} in the same folder has the same name '{stem}'; a take's name \
         (its file stem) names it and its sidecar, so it must be unique in its folder",
        path.display(), other.display()
    )]
    DuplicateStem {
        path: PathBuf,
        stem: String,
        other: PathBuf,
    },

    /// Two different files were placed at the same key (e.g. two course
    /// folders with the same name were given). Neither is returned.
    #[error(
        "{}: has the key {key}, as does {}; course folder names must be unique",
        path.display(), other.display()
    )]
    DuplicateKey {
        path: PathBuf,
        key: String,
        other: PathBuf,
    },
}

impl LayoutError {
    /// The path the error is about.
    pub fn path(&self) -> &Path {
        match self {
            LayoutError::NotFound { path }
            | LayoutError::Unreadable { path, .. }
            | LayoutError::NotATake { path, .. }
            | LayoutError::NotUtf8 { path }
            | LayoutError::Misplaced { path, .. }
            | LayoutError::SidecarSyntax { path, .. }
            | LayoutError::SidecarUnknownField { path, .. }
            | LayoutError::SidecarInvalid { path, .. }
            | LayoutError::SidecarValue { path, .. }
            | LayoutError::SidecarKindMismatch { path, .. }
            | LayoutError::DuplicateStem { path, .. }
            | LayoutError::DuplicateKey { path, .. } => path,
        }
    }

    /// Classifies an I/O error met on `path`.
    pub(crate) fn from_io(path: &Path, err: &std::io::Error) -> Self {
        let path = path.to_path_buf();
        match err.kind() {
            std::io::ErrorKind::NotFound => LayoutError::NotFound { path },
            _ => LayoutError::Unreadable {
                path,
                message: err.to_string(),
            },
        }
    }
}

/// The wire name of a kind, as in sidecars and records.
pub(crate) fn kind_name(kind: TakeKind) -> &'static str {
    match kind {
        TakeKind::Lecture => "lecture",
        TakeKind::Promo => "promo",
        TakeKind::Closing => "closing",
    }
}

fn folder_of(kind: TakeKind) -> &'static str {
    match kind {
        TakeKind::Lecture => "a lesson folder",
        TakeKind::Promo => "the promo folder",
        TakeKind::Closing => "the closing folder",
    }
}

/// ".mov, .mp4, .m4v, .mxf, .mkv or .avi"
fn extension_list() -> String {
    let dotted: Vec<String> = TAKE_EXTENSIONS.iter().map(|e| format!(".{e}")).collect();
    match dotted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_a_take_lists_every_take_extension() {
        let err = LayoutError::NotATake {
            path: PathBuf::from("c/notes.txt"),
            found: "extension '.txt'".into(),
        };
        assert_eq!(
            err.to_string(),
            "c/notes.txt: not a take (extension '.txt'); expected a file ending in \
             .mov, .mp4, .m4v, .mxf, .mkv or .avi"
        );
        assert_eq!(err.path(), Path::new("c/notes.txt"));
    }

    #[test]
    fn kind_mismatch_says_both_kinds_and_the_folder() {
        let err = LayoutError::SidecarKindMismatch {
            path: PathBuf::from("c/01-a/01-b/t.json"),
            sidecar: TakeKind::Promo,
            folder: TakeKind::Lecture,
        };
        assert_eq!(
            err.to_string(),
            "c/01-a/01-b/t.json: the sidecar says kind \"promo\", but its take is in a lesson \
             folder, which makes it a lecture take; move the take or change the sidecar's kind"
        );
    }
}
