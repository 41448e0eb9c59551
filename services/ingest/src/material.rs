//! Which files of a course folder are course materials, on names alone:
//! every regular file at any depth below the course folder that is not
//! a take, not hidden, not a take's companion and not operating-system
//! clutter. The same rule places a file found by a walk on disk and an
//! object of the raw bucket.

use std::path::PathBuf;

use crate::has_take_extension;
use crate::take_id::take_id;

/// Extensions of the files that go with takes or with the course, never
/// materials: sidecars and `course.json` (`json`), author captions (`vtt`,
/// `srt`). One beside no take is listed as ignored, as before.
pub const COMPANION_EXTENSIONS: &[&str] = &["json", "vtt", "srt"];

/// File names operating systems leave in folders (matched in any case);
/// hidden names (`.DS_Store`, `._take.mov`) are skipped before.
const SYSTEM_FILES: &[&str] = &["thumbs.db", "desktop.ini"];

/// Whether a file named `name`, in a course folder, is a material.
pub fn is_material_name(name: &str) -> bool {
    if name.is_empty() || name.starts_with('.') {
        return false;
    }
    let path = std::path::Path::new(name);
    if has_take_extension(path) {
        return false;
    }
    let companion = path
        .extension()
        .and_then(|ext| ext.to_str())
        .is_some_and(|ext| {
            COMPANION_EXTENSIONS
                .iter()
                .any(|known| ext.eq_ignore_ascii_case(known))
        });
    let system = SYSTEM_FILES
        .iter()
        .any(|known| name.eq_ignore_ascii_case(known));
    !companion && !system
}

/// A material's id: the first 16 hex digits of SHA-256 over
/// `material\0<course>/<path>\0` — its record's name in the store, the
/// same for every version of the file.
pub fn material_id(course: &str, path: &str) -> String {
    take_id("material", &format!("{course}/{path}"), "")
}

/// A material found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMaterial {
    /// The course folder's name.
    pub course: String,
    /// Its path below the course folder, `/`-separated.
    pub path: String,
    /// The file, absolute (symlinks not resolved).
    pub source: PathBuf,
    /// The file as the caller named it (a given folder joined with the
    /// names below it): what messages show.
    pub shown: PathBuf,
    pub size_bytes: u64,
    /// Size and modification time (nanoseconds): a new version of the
    /// file has a new one.
    pub version: String,
}

/// The course and the path below it of a raw object that is a material
/// (`<course>/…/<file>`); `None` for a take, a companion, a hidden or
/// system file, or a key directly at the top of the bucket.
pub fn material_object(key: &str) -> Option<(&str, &str)> {
    let (course, path) = key.split_once('/')?;
    let segments_ok = key
        .split('/')
        .all(|segment| !segment.is_empty() && !segment.starts_with('.'));
    let name = path.rsplit('/').next()?;
    (segments_ok && is_material_name(name)).then_some((course, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn materials_are_the_files_that_are_not_takes_companions_hidden_or_clutter() {
        for name in [
            "syllabus.pdf",
            "slides.PPTX",
            "README",
            "notes.txt",
            "talk.key",
            "archive.tar.gz",
        ] {
            assert!(is_material_name(name), "{name}");
        }
        for name in [
            "take-01.mov",
            "take-01.MP4",
            "take-01.json",
            "course.json",
            "take-01.vtt",
            "take-01.SRT",
            ".DS_Store",
            "._syllabus.pdf",
            "Thumbs.db",
            "desktop.ini",
            "",
        ] {
            assert!(!is_material_name(name), "{name}");
        }
    }

    #[test]
    fn a_raw_key_is_a_material_of_its_first_folder() {
        assert_eq!(
            material_object("physics-101/syllabus.pdf"),
            Some(("physics-101", "syllabus.pdf"))
        );
        assert_eq!(
            material_object("physics-101/01-mechanics/materials/lab.zip"),
            Some(("physics-101", "01-mechanics/materials/lab.zip"))
        );
        for key in [
            "syllabus.pdf",
            "physics-101/01-a/01-b/take.mov",
            "physics-101/course.json",
            "physics-101/.git/config.txt",
            "physics-101//x.pdf",
            "physics-101/",
        ] {
            assert_eq!(material_object(key), None, "{key}");
        }
    }

    #[test]
    fn a_material_id_is_short_stable_and_per_course_and_path() {
        let id = material_id("physics-101", "syllabus.pdf");
        assert_eq!(id.len(), 16);
        assert_eq!(id, material_id("physics-101", "syllabus.pdf"));
        assert_ne!(id, material_id("physics-102", "syllabus.pdf"));
        assert_ne!(id, material_id("physics-101", "01/syllabus.pdf"));
    }
}
