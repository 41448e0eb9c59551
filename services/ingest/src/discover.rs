//! Finding takes on the file system: walking course folders, placing single
//! take files, reading their sidecars and metadata.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, Metadata};
use std::io;
use std::path::{Component, Path, PathBuf};
use std::time::UNIX_EPOCH;

use moocpipe_proto::{Sidecar, TakeRef};

use crate::layout::{self, Placement};
use crate::material::{is_material_name, LocalMaterial};
use crate::sidecar::read_sidecar;
use crate::{has_take_extension, local_take_id, LayoutError};

/// What [`discover`] found.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Every take placed, with its absolute source path, sorted by key.
    pub takes: Vec<(TakeRef, PathBuf)>,
    /// One error per path that does not fit the convention, in the order met
    /// (paths in the order given; within a course folder, in name order).
    pub errors: Vec<LayoutError>,
    /// The course materials found in course folders (every file that is
    /// not a take, a companion, hidden or clutter: see
    /// [`is_material_name`](crate::is_material_name)), sorted by course
    /// and path.
    pub materials: Vec<LocalMaterial>,
    /// Files in course folders that are neither takes, sidecars nor
    /// materials (a `.json` or caption file beside no take, a FIFO, a
    /// broken link), and symlinked folders not followed because they were
    /// already walked (absolute paths, sorted). Hidden files are not listed.
    pub ignored: Vec<PathBuf>,
    /// Take files given alone outside any course folder and placed by a
    /// [`Loose`] placement instead: the path as given and where it went.
    pub placed_loose: Vec<(PathBuf, String)>,
}

/// Where a take file given alone goes when its folders do not name a
/// course, module and lesson (or always, when `explicit`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loose {
    /// The course id: one folder name (letters, digits, `-`, `_`, `.`).
    pub course: String,
    pub module: u32,
    pub lesson: u32,
    /// The user chose this placement: every take file given alone goes
    /// there, even one whose folders would place it.
    pub explicit: bool,
}

impl Loose {
    /// The course a loose take lands in when nobody says otherwise.
    pub const DEFAULT_COURSE: &'static str = "loose-takes";

    /// `loose-takes`, module 1, lesson 1, used only for takes that do not
    /// fit the layout.
    pub fn fallback() -> Loose {
        Loose {
            course: Loose::DEFAULT_COURSE.to_string(),
            module: 1,
            lesson: 1,
            explicit: false,
        }
    }

    /// Checks what a user typed: a course id usable as a folder and an S3
    /// key segment, module and lesson numbers of one or two digits.
    pub fn check(&self) -> Result<(), String> {
        let course_ok = !self.course.is_empty()
            && self.course.len() <= 100
            && !self.course.starts_with('.')
            && self
                .course
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !course_ok {
            return Err(format!(
                "course {:?}: use letters, digits, '-', '_' or '.' (one folder name, up to 100 characters)",
                self.course
            ));
        }
        for (what, n) in [("module", self.module), ("lesson", self.lesson)] {
            if n > 99 {
                return Err(format!("{what} {n}: use a number from 0 to 99"));
            }
        }
        Ok(())
    }

    /// Where a take named `file_name` goes, as shown in a summary:
    /// `<course>/<NN>/<NN>/<file name>`.
    pub fn key(&self, file_name: &str) -> String {
        format!(
            "{}/{:02}/{:02}/{file_name}",
            self.course, self.module, self.lesson
        )
    }
}

/// Finds every take under `paths`, each a take file or a course folder (see
/// the crate docs for the convention). Returns the takes found, sorted by
/// key; one error per path that does not fit; and the files ignored. Errors
/// name paths as given (joined with the names below a given folder); sources
/// and ignored paths are absolute.
pub fn discover(paths: &[PathBuf]) -> Discovery {
    discover_placing(paths, None)
}

/// [`discover`], placing take files given alone by `loose` when their
/// folders do not place them (or always, when `loose.explicit`). Course
/// folders are walked as usual.
pub fn discover_placing(paths: &[PathBuf], loose: Option<&Loose>) -> Discovery {
    let mut found = Discovery::default();
    for path in paths {
        match fs::metadata(path) {
            Err(err) => found.errors.push(LayoutError::from_io(path, &err)),
            Ok(meta) if meta.is_dir() => walk_course(path, &mut found),
            Ok(_) => {
                let placed = match loose {
                    Some(loose) if loose.explicit => place_loose(path, loose).map(|t| (t, true)),
                    Some(loose) => match place(path) {
                        Err(LayoutError::Misplaced { .. }) => {
                            place_loose(path, loose).map(|t| (t, true))
                        }
                        other => other.map(|t| (t, false)),
                    },
                    None => place(path).map(|t| (t, false)),
                };
                match placed {
                    Ok((take, by_loose)) => {
                        if by_loose {
                            found.placed_loose.push((path.clone(), take.0.key.clone()));
                        }
                        found.takes.push(take)
                    }
                    Err(err) => found.errors.push(err),
                }
            }
        }
    }
    settle(&mut found);
    found
}

/// Places one take file by `loose`, whatever its folders: a lecture of
/// module `loose.module`, lesson `loose.lesson` of course `loose.course`,
/// titled by its sidecar, else by its file name.
pub fn place_loose(file: &Path, loose: &Loose) -> Result<(TakeRef, PathBuf), LayoutError> {
    loose.check().map_err(|reason| LayoutError::Misplaced {
        path: file.to_path_buf(),
        reason,
    })?;
    let abs = absolute(file).map_err(|err| LayoutError::from_io(file, &err))?;
    let meta = fs::metadata(&abs).map_err(|err| LayoutError::from_io(file, &err))?;
    check_take_file(file, &abs, &meta)?;
    let name = abs
        .file_name()
        .and_then(OsStr::to_str)
        .ok_or_else(|| LayoutError::NotUtf8 {
            path: file.to_path_buf(),
        })?;
    let module = format!("{:02}", loose.module);
    let lesson = format!("{:02}", loose.lesson);
    place_at(file, &abs, &meta, &loose.course, &[&module, &lesson, name])
}

/// Places one take file in its course, from its own path: its parent is the
/// lesson folder, the grandparent the module and the great-grandparent the
/// course; or, when the parent is `promo` or `closing`, the grandparent is the
/// course. Returns the take and its absolute path.
pub fn place(file: &Path) -> Result<(TakeRef, PathBuf), LayoutError> {
    let abs = absolute(file).map_err(|err| LayoutError::from_io(file, &err))?;
    let meta = fs::metadata(&abs).map_err(|err| LayoutError::from_io(file, &err))?;
    check_take_file(file, &abs, &meta)?;
    let names = normal_names(&abs).ok_or_else(|| LayoutError::NotUtf8 {
        path: file.to_path_buf(),
    })?;
    // names: every folder from the root down, then the file name.
    let n = names.len();
    let below_course = match n.checked_sub(2).and_then(|i| names.get(i)) {
        Some(parent) if layout::special_folder(parent).is_some() => 2,
        _ => 3,
    };
    let Some(course_index) = n.checked_sub(below_course + 1) else {
        return Err(LayoutError::Misplaced {
            path: file.to_path_buf(),
            reason: "there are too few folders above the take to name its course".to_string(),
        });
    };
    let course = names[course_index];
    let rel = &names[course_index + 1..];
    place_at(file, &abs, &meta, course, rel).map_err(|err| match err {
        LayoutError::Misplaced { path, reason } => LayoutError::Misplaced {
            path,
            reason: format!("{reason} ({SINGLE_FILE_RULE})"),
        },
        other => other,
    })
}

/// How a single take file is placed, added to its layout errors.
const SINGLE_FILE_RULE: &str = "a take given alone is placed by its folders: parent = lesson, \
     grandparent = module, great-grandparent = course; or parent = promo or closing, \
     grandparent = course";

/// The file checks shared by [`place`] and the walk: a regular file (after
/// symlinks) with a take extension.
fn check_take_file(shown: &Path, abs: &Path, meta: &Metadata) -> Result<(), LayoutError> {
    let not_a_take = |found: String| LayoutError::NotATake {
        path: shown.to_path_buf(),
        found,
    };
    if !meta.is_file() {
        return Err(not_a_take(describe_non_file(meta)));
    }
    if !has_take_extension(abs) {
        let found = match abs.extension() {
            Some(ext) => format!("extension '.{}'", ext.to_string_lossy()),
            None => "no extension".to_string(),
        };
        return Err(not_a_take(found));
    }
    Ok(())
}

/// Places a take whose path below its course folder `course` is `rel` (folder
/// names, then the file name). `shown` is its path as the caller gave it,
/// `abs` its absolute path; `meta` its metadata (symlinks followed).
fn place_at(
    shown: &Path,
    abs: &Path,
    meta: &Metadata,
    course: &str,
    rel: &[&str],
) -> Result<(TakeRef, PathBuf), LayoutError> {
    let placement = layout::classify(rel).map_err(|reason| LayoutError::Misplaced {
        path: shown.to_path_buf(),
        reason,
    })?;
    let source = abs.to_str().ok_or_else(|| LayoutError::NotUtf8 {
        path: shown.to_path_buf(),
    })?;
    let stem = abs
        .file_stem()
        .and_then(OsStr::to_str)
        .ok_or_else(|| LayoutError::NotUtf8 {
            path: shown.to_path_buf(),
        })?;
    // Readable by us, not only listed: the probe stage will open it.
    File::open(abs).map_err(|err| LayoutError::from_io(shown, &err))?;
    check_unique_stem(shown, abs, stem)?;

    let sidecar_name = format!("{stem}.json");
    let sidecar_shown = shown.with_file_name(&sidecar_name);
    let sidecar = read_sidecar(&sidecar_shown, &abs.with_file_name(&sidecar_name))?;
    let sidecar = sidecar.unwrap_or_default();
    check_kind(&sidecar_shown, &sidecar, &placement)?;

    let key = format!("{course}/{}", rel.join("/"));
    let mtime_ns = mtime_ns(meta).map_err(|err| LayoutError::from_io(shown, &err))?;
    let size_bytes = meta.len();
    let title = layout::title(&sidecar, &placement, stem);
    let Placement {
        kind,
        module,
        module_name,
        lesson,
        lesson_name,
    } = placement;
    let take = TakeRef {
        take_id: local_take_id(&key, size_bytes, mtime_ns),
        source: source.to_string(),
        key,
        course: course.to_string(),
        kind,
        module,
        module_name,
        lesson,
        lesson_name,
        take: stem.to_string(),
        title,
        sidecar,
        size_bytes,
    };
    Ok((take, abs.to_path_buf()))
}

/// A sidecar's `kind`, when present, confirms the folder; it never moves a take.
fn check_kind(
    sidecar_path: &Path,
    sidecar: &Sidecar,
    placement: &Placement,
) -> Result<(), LayoutError> {
    match sidecar.kind {
        Some(kind) if kind != placement.kind => Err(LayoutError::SidecarKindMismatch {
            path: sidecar_path.to_path_buf(),
            sidecar: kind,
            folder: placement.kind,
        }),
        _ => Ok(()),
    }
}

/// No other take file in the same folder may have the same stem: the stem
/// names the take and its sidecar.
fn check_unique_stem(shown: &Path, abs: &Path, stem: &str) -> Result<(), LayoutError> {
    let folder = abs.parent().unwrap_or(Path::new("/"));
    let entries = fs::read_dir(folder)
        .map_err(|err| LayoutError::from_io(shown.parent().unwrap_or(Path::new(".")), &err))?;
    let mut others: Vec<OsString> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.file_name())
        .filter(|name| Some(name.as_os_str()) != abs.file_name())
        .filter(|name| {
            let path = Path::new(name);
            has_take_extension(path)
                && path.file_stem() == Some(OsStr::new(stem))
                && fs::metadata(folder.join(name)).is_ok_and(|m| m.is_file())
        })
        .collect();
    others.sort();
    match others.first() {
        None => Ok(()),
        Some(other) => Err(LayoutError::DuplicateStem {
            path: shown.to_path_buf(),
            stem: stem.to_string(),
            other: shown.with_file_name(other),
        }),
    }
}

/// One course folder being walked.
struct CourseWalk<'a> {
    /// The course folder as given.
    shown_root: &'a Path,
    /// The course folder, absolute.
    abs_root: PathBuf,
    /// Folders walked so far, canonical: none is walked twice.
    walked: HashSet<PathBuf>,
    found: &'a mut Discovery,
}

fn walk_course(given: &Path, found: &mut Discovery) {
    let abs_root = match absolute(given) {
        Ok(abs) => abs,
        Err(err) => return found.errors.push(LayoutError::from_io(given, &err)),
    };
    let mut walk = CourseWalk {
        shown_root: given,
        abs_root,
        walked: HashSet::new(),
        found,
    };
    let root = walk.abs_root.clone();
    walk.folder(&root, &mut Vec::new());
}

/// An entry of a folder, symlinks followed.
enum Entry {
    Folder,
    File(Metadata),
    /// A FIFO, socket or device.
    Other(Metadata),
    /// A symlink that leads nowhere or cannot be followed.
    Broken(io::Error),
}

impl CourseWalk<'_> {
    fn shown(&self, rel: &[OsString]) -> PathBuf {
        let mut shown = self.shown_root.to_path_buf();
        shown.extend(rel);
        shown
    }

    /// Walks `abs` (the folder at `rel` below the course), unless it was walked.
    fn folder(&mut self, abs: &Path, rel: &mut Vec<OsString>) {
        match fs::canonicalize(abs) {
            Ok(canonical) => {
                if !self.walked.insert(canonical) {
                    self.found.ignored.push(abs.to_path_buf());
                    return;
                }
            }
            Err(err) => {
                let shown = self.shown(rel);
                return self.found.errors.push(LayoutError::from_io(&shown, &err));
            }
        }
        let mut names = match read_names(abs) {
            Ok(names) => names,
            Err(err) => {
                let shown = self.shown(rel);
                return self.found.errors.push(LayoutError::from_io(&shown, &err));
            }
        };
        names.retain(|name| !name.as_encoded_bytes().starts_with(b"."));
        names.sort();

        let entries: Vec<(OsString, Entry)> = names
            .into_iter()
            .map(|name| {
                let entry = match fs::metadata(abs.join(&name)) {
                    Ok(meta) if meta.is_dir() => Entry::Folder,
                    Ok(meta) if meta.is_file() => Entry::File(meta),
                    Ok(meta) => Entry::Other(meta),
                    Err(err) => Entry::Broken(err),
                };
                (name, entry)
            })
            .collect();
        // Stems of the take files here: `<stem>.json` beside one is its sidecar.
        let take_stems: HashSet<&OsStr> = entries
            .iter()
            .filter(|(name, entry)| {
                matches!(entry, Entry::File(_)) && has_take_extension(Path::new(name))
            })
            .filter_map(|(name, _)| Path::new(name).file_stem())
            .collect();
        let sidecars: HashSet<OsString> = entries
            .iter()
            .map(|(name, _)| name)
            .filter(|name| {
                let path = Path::new(name);
                path.extension() == Some(OsStr::new("json"))
                    && path
                        .file_stem()
                        .is_some_and(|stem| take_stems.contains(stem))
            })
            .cloned()
            .collect();

        for (name, entry) in entries {
            let path = abs.join(&name);
            let is_take = has_take_extension(Path::new(&name));
            // Read (and reported on) with its take, whatever it turns out to be.
            let is_sidecar = sidecars.contains(&name);
            rel.push(name);
            match entry {
                Entry::Folder => self.folder(&path, rel),
                Entry::File(meta) if is_take => self.take(&path, &meta, rel),
                _ if is_sidecar => {}
                Entry::Other(meta) if is_take => {
                    let err = LayoutError::NotATake {
                        path: self.shown(rel),
                        found: describe_non_file(&meta),
                    };
                    self.found.errors.push(err);
                }
                Entry::Broken(err) if is_take => {
                    let err = LayoutError::from_io(&self.shown(rel), &err);
                    self.found.errors.push(err);
                }
                Entry::File(meta) if is_material(rel) => self.material(&path, &meta, rel),
                Entry::File(_) | Entry::Other(_) | Entry::Broken(_) => {
                    self.found.ignored.push(path)
                }
            }
            rel.pop();
        }
    }

    /// A material at `rel` below the course (its names all UTF-8).
    fn material(&mut self, abs: &Path, meta: &Metadata, rel: &[OsString]) {
        let shown = self.shown(rel);
        let names: Option<Vec<&str>> = rel.iter().map(|name| name.to_str()).collect();
        let course = self.abs_root.file_name().and_then(OsStr::to_str);
        let (Some(names), Some(course)) = (names, course) else {
            return self.found.ignored.push(abs.to_path_buf());
        };
        match mtime_ns(meta) {
            Ok(mtime) => self.found.materials.push(LocalMaterial {
                course: course.to_owned(),
                path: names.join("/"),
                source: abs.to_path_buf(),
                shown,
                size_bytes: meta.len(),
                version: format!("{}-{mtime}", meta.len()),
            }),
            Err(err) => self.found.errors.push(LayoutError::from_io(&shown, &err)),
        }
    }

    /// A take file at `rel` below the course.
    fn take(&mut self, abs: &Path, meta: &Metadata, rel: &[OsString]) {
        let shown = self.shown(rel);
        let course = self.abs_root.file_name().and_then(OsStr::to_str);
        let rel_str: Option<Vec<&str>> = rel.iter().map(|name| name.to_str()).collect();
        let placed = match (course, rel_str) {
            (Some(course), Some(rel_str)) => place_at(&shown, abs, meta, course, &rel_str),
            _ => Err(LayoutError::NotUtf8 { path: shown }),
        };
        match placed {
            Ok(take) => self.found.takes.push(take),
            Err(err) => self.found.errors.push(err),
        }
    }
}

/// Whether the file at `rel` (below its course) is a material: a
/// material's name, UTF-8 all along (a key is a string).
fn is_material(rel: &[OsString]) -> bool {
    rel.last()
        .and_then(|name| name.to_str())
        .is_some_and(is_material_name)
        && rel.iter().all(|name| name.to_str().is_some())
}

fn read_names(folder: &Path) -> io::Result<Vec<OsString>> {
    fs::read_dir(folder)?
        .map(|entry| entry.map(|entry| entry.file_name()))
        .collect()
}

/// Sorts takes by key, drops the same file found twice, refuses two files at
/// one key, and sorts and dedups what was ignored.
fn settle(found: &mut Discovery) {
    let mut takes = std::mem::take(&mut found.takes);
    takes.sort_by(|(a, a_path), (b, b_path)| a.key.cmp(&b.key).then(a_path.cmp(b_path)));
    let mut kept: Vec<(TakeRef, PathBuf)> = Vec::with_capacity(takes.len());
    let mut clashing_key: Option<String> = None;
    for (take, path) in takes {
        match kept.last() {
            Some((last, last_path)) if last.key == take.key => {
                if !same_file(last_path, &path) {
                    found.errors.push(LayoutError::DuplicateKey {
                        path: path.clone(),
                        key: take.key.clone(),
                        other: last_path.clone(),
                    });
                    clashing_key = Some(take.key.clone());
                }
            }
            _ => {
                if clashing_key.take().is_some() {
                    kept.pop();
                }
                kept.push((take, path));
            }
        }
    }
    if clashing_key.is_some() {
        kept.pop();
    }
    found.takes = kept;
    settle_materials(found);

    found.ignored.sort();
    found.ignored.dedup();

    let mut seen = HashSet::new();
    found.errors.retain(|err| seen.insert(err.clone()));
}

/// Sorts materials by course and path, drops the same file found twice,
/// and refuses two files at one path of one course (two course folders of
/// the same name given together), as for takes.
fn settle_materials(found: &mut Discovery) {
    let mut materials = std::mem::take(&mut found.materials);
    materials.sort_by(|a, b| (&a.course, &a.path, &a.source).cmp(&(&b.course, &b.path, &b.source)));
    let mut kept: Vec<LocalMaterial> = Vec::with_capacity(materials.len());
    let mut clash = false;
    for material in materials {
        match kept.last() {
            Some(last) if last.course == material.course && last.path == material.path => {
                if !same_file(&last.source, &material.source) {
                    found.errors.push(LayoutError::DuplicateKey {
                        path: material.shown.clone(),
                        key: format!("{}/{}", material.course, material.path),
                        other: last.shown.clone(),
                    });
                    clash = true;
                }
            }
            _ => {
                if std::mem::take(&mut clash) {
                    kept.pop();
                }
                kept.push(material);
            }
        }
    }
    if clash {
        kept.pop();
    }
    found.materials = kept;
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b
        || match (fs::canonicalize(a), fs::canonicalize(b)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
}

/// `path` made absolute without resolving symlinks, so a take keeps the names
/// it was found under. A `..` can only be resolved by the file system: the
/// part up to the last `..` is canonicalised.
fn absolute(path: &Path) -> io::Result<PathBuf> {
    let abs = std::path::absolute(path)?;
    let components: Vec<Component> = abs.components().collect();
    match components
        .iter()
        .rposition(|c| matches!(c, Component::ParentDir))
    {
        None => Ok(abs),
        Some(last_parent) => {
            let head: PathBuf = components[..=last_parent].iter().collect();
            let mut resolved = fs::canonicalize(head)?;
            resolved.extend(&components[last_parent + 1..]);
            Ok(resolved)
        }
    }
}

/// The names along an absolute path (no root, `.` or `..`), if all are UTF-8.
fn normal_names(abs: &Path) -> Option<Vec<&str>> {
    abs.components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.to_str()),
            _ => None,
        })
        .collect()
}

fn mtime_ns(meta: &Metadata) -> io::Result<i128> {
    let modified = meta.modified()?;
    Ok(match modified.duration_since(UNIX_EPOCH) {
        Ok(after) => i128::try_from(after.as_nanos()).unwrap_or(i128::MAX),
        Err(before) => -i128::try_from(before.duration().as_nanos()).unwrap_or(i128::MAX),
    })
}

fn describe_non_file(meta: &Metadata) -> String {
    let file_type = meta.file_type();
    if file_type.is_dir() {
        return "a folder; give a course folder to discover, not to place".to_string();
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO (named pipe), not a regular file".to_string();
        }
        if file_type.is_socket() {
            return "a socket, not a regular file".to_string();
        }
        if file_type.is_block_device() || file_type.is_char_device() {
            return "a device, not a regular file".to_string();
        }
    }
    "not a regular file".to_string()
}
