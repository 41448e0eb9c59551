//! Finding raw takes and placing them in their course.
//!
//! [`discover`] walks course folders (or takes one take file at a time) and
//! turns every take it finds into a [`TakeRef`](moocpipe_proto::TakeRef);
//! [`place`] does the same for one file. Anything that does not fit the
//! convention below is a [`LayoutError`] naming the path and saying what was
//! expected — a take is never placed by guessing.
//!
//! A take file given alone outside any course folder (a newcomer's
//! `moocpipe process take.mov`) can instead be placed by a [`Loose`]
//! placement with [`discover_placing`]: a course, module and lesson the user
//! chose, or the named default `loose-takes/01/01/`. Such placements are
//! listed in [`Discovery::placed_loose`] so the summary can say so.
//!
//! # The course layout convention
//!
//! ```text
//! physics-101/                 a course; its folder name is the course id
//! ├── 01-mechanics/            module 1, named "mechanics"
//! │   ├── 01-kinematics/       lesson 1, named "kinematics"
//! │   │   ├── take-01.mov      a lecture take
//! │   │   ├── take-01.json     its optional sidecar
//! │   │   └── slides.pdf       a course material (published with a stable link)
//! │   └── 2_newton/            lesson 2, named "newton"
//! ├── 02/                      module 2, no name
//! │   └── 03/                  lesson 3, no name
//! ├── promo/                   the course promo
//! │   └── trailer.mp4
//! ├── closing/                 the closing message
//! │   └── goodbye.mov
//! ├── course.json              the course's title and launch date (optional)
//! └── syllabus.pdf             a course material
//! ```
//!
//! - **Course.** A course is a folder. Its name is the course id
//!   (`physics-101`).
//! - **Takes.** A take is a file whose extension is one of
//!   [`TAKE_EXTENSIONS`] — `mov`, `mp4`, `m4v`, `mxf`, `mkv`, `avi` — in any
//!   letter case. Its file stem (the name without the last extension) is the
//!   take name, e.g. `take-01`. It must be a regular file (after symlinks)
//!   that can be opened for reading: a FIFO, device or broken symlink with a
//!   take's name is an error.
//! - **Lecture takes** sit exactly at
//!   `<course>/<NN-module>/<NN-lesson>/<take>.<ext>`.
//! - **Numbered folders.** A module or lesson folder's name is `NN`, then one
//!   separator (`-`, `_` or a space), then a name: `01-mechanics`,
//!   `2_newton`, `03 Energy and work`; or the number alone: `03`. `NN` is one
//!   or two ASCII digits; the module (lesson) number is `NN` as an integer
//!   (`01` → 1, `00` → 0). The module (lesson) name is the rest, with every
//!   `-` and `_` turned into a space, runs of spaces collapsed and the ends
//!   trimmed (`01-newtons_laws` → `newtons laws`); its letter case is kept.
//!   A folder that is only a number has no name. A folder that does not start
//!   with a digit, starts with three or more digits, has any other character
//!   after its number (`01.intro`) or nothing after its separator (`01-`) does
//!   not fit.
//! - **Promo and closing.** The course promo sits at
//!   `<course>/promo/<take>.<ext>`, the closing video message at
//!   `<course>/closing/<take>.<ext>`. These two folder names are matched in any
//!   letter case (`Promo/`, `CLOSING/`). Their takes have kind `promo` or
//!   `closing` and no module or lesson.
//! - **Sidecar.** A take may have a sidecar next to it: a file named
//!   `<take>.json` (same stem, extension exactly `json`). It is a JSON object
//!   with any of the fields `title`, `author_email`, `language` and `kind`, and
//!   no others. `title` and `author_email` are non-blank strings; `language`,
//!   the spoken language, is exactly `"kk"`, `"ru"` or `"en"`; `kind`
//!   (`"lecture"`, `"promo"` or `"closing"`) must agree with the folder the
//!   take is in — it confirms the folder, it never moves a take.
//! - **Title.** The sidecar's `title`; else the lesson name with its first
//!   letter capitalised (`newton` → `Newton`); else `Promo` for a promo,
//!   `Closing message` for a closing message; else (a lesson folder that is
//!   only a number) the take name.
//! - **Key.** The take's path relative to the course folder's parent, with `/`
//!   separators: `physics-101/01-mechanics/2_newton/take-03.mov`. Paths must
//!   be valid UTF-8.
//! - **Uniqueness.** Two takes in one folder may not share a stem
//!   (`take-01.mov` and `take-01.mp4`): the stem names the take and its
//!   sidecar, so each of them is an error. Two different files may not share
//!   a key (two course folders with the same name given together): neither
//!   is returned, and the second is an error naming the first.
//!
//! - **Materials.** Every other regular file at any depth below the course
//!   folder (its root, a module, a lesson, a `materials/` folder) is a
//!   course material — a syllabus, F-01 attachments, slides, images,
//!   archives — except hidden files (`.DS_Store`, `._*`), the companions
//!   of takes and of the course ([`COMPANION_EXTENSIONS`]: a sidecar or
//!   `course.json`, author captions `.vtt`/`.srt`, wherever they lie) and
//!   `Thumbs.db`/`desktop.ini` ([`is_material_name`]). Its type is
//!   checked by its content ([`filetype::check`]): the extension says what
//!   it claims to be, its first bytes what it is.
//!
//! # Finding takes
//!
//! [`discover`] takes paths, each a take file or a course folder:
//!
//! - **A course folder** is walked recursively, in name order. Files and
//!   folders whose name starts with `.` are skipped silently. A take file is
//!   placed by its path below the course folder; a take at any other depth
//!   than the convention's is an error naming it. `<take>.json` next to a take
//!   is that take's sidecar. Every material is listed in
//!   [`Discovery::materials`] with its path below the course; what is left
//!   (a `.json` or `.vtt` with no take of its stem beside it, a FIFO) is
//!   listed in [`Discovery::ignored`]; folders are never errors, only take
//!   files are.
//! - **A take file** given directly is placed from its own path: its parent is
//!   the lesson folder, the grandparent the module folder and the
//!   great-grandparent the course; or, when its parent is `promo` or
//!   `closing`, the grandparent is the course. A file given directly that is
//!   not a take (`notes.txt`, a sidecar) is an error.
//! - **Symlinks** are followed, to files and to folders. A folder is walked at
//!   most once per course: a symlink back into a folder already walked (a
//!   loop, or a second link to the same folder) is not followed and is listed
//!   in `ignored`. A take reached through a symlink keeps the symlink's path
//!   as its key and source.
//! - **Errors** never stop the walk: every path that does not fit gets one
//!   [`LayoutError`], and everything that fits is returned. A path that does
//!   not exist is one error naming it. A take whose sidecar is wrong (not
//!   JSON, an unknown field, a bad `language`, a `kind` that contradicts the
//!   folder) is an error, not a take without its sidecar. The same file found
//!   twice (a course given twice, or a course and one of its takes) is
//!   returned once.
//! - **Paths.** Errors name paths as the caller gave them (a given folder
//!   joined with the names below it); sources and ignored paths are absolute
//!   (made absolute without resolving symlinks; a `..` is resolved by the
//!   file system).
//!
//! # Take ids
//!
//! A take's id is the first 16 hex digits of SHA-256 over
//! `local\0<key>\0<size in bytes>\0<mtime in ns since the Unix epoch>`
//! ([`local_take_id`]): the same upload always gets the same id, and a
//! re-export with new bytes or a new modification time gets a new one. The
//! general form, [`take_id`], hashes `<origin>\0<key>\0<version>`, so an S3
//! ingest can call it with (bucket, key, ETag).

mod discover;
mod error;
pub mod filetype;
mod layout;
mod material;
mod object;
mod sidecar;
mod take_id;

pub use discover::{discover, discover_placing, place, place_loose, Discovery, Loose};
pub use error::{LayoutError, EXPECTED_LAYOUT};
pub use filetype::MaterialError;
pub use material::{
    is_material_name, material_id, material_object, LocalMaterial, COMPANION_EXTENSIONS,
};
/// The slug rule lives in `moocpipe-proto` (shared with the transcode's
/// signed names); re-exported for ingest's callers.
pub use moocpipe_proto::{slug, SLUG_MAX_LEN};
pub use object::{place_object, RawObject};
pub use sidecar::{parse_sidecar, LANGUAGES};
pub use take_id::{ingest_key_id, local_take_id, take_id, LOCAL_ORIGIN};

use std::path::Path;

/// Media file extensions recognised as takes (lowercase; matched in any case).
pub const TAKE_EXTENSIONS: &[&str] = &["mov", "mp4", "m4v", "mxf", "mkv", "avi"];

/// Whether `path`'s extension is one of [`TAKE_EXTENSIONS`], in any letter case.
/// Looks only at the name, not at the file.
pub fn has_take_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|ext| ext.to_str())
        .is_some_and(|ext| {
            TAKE_EXTENSIONS
                .iter()
                .any(|known| ext.eq_ignore_ascii_case(known))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_extensions_match_in_any_case_and_only_as_the_last_extension() {
        for name in [
            "a.mov", "a.MOV", "a.Mp4", "b.m4v", "c.mxf", "d.mkv", "e.AVI",
        ] {
            assert!(has_take_extension(Path::new(name)), "{name}");
        }
        for name in ["a.json", "a.mov.txt", "mov", "a.movie", "a", ".mov"] {
            assert!(!has_take_extension(Path::new(name)), "{name}");
        }
    }
}
