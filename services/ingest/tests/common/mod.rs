//! Building course trees in a temporary folder.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::fs;
use std::path::{Path, PathBuf};

use moocpipe_ingest::{Discovery, LayoutError};
use moocpipe_proto::TakeRef;

/// Writes `bytes` to `root/rel`, making the folders on the way.
pub fn write(root: &Path, rel: &str, bytes: &[u8]) -> PathBuf {
    let path = root.join(rel);
    let parent = path.parent().expect("a path below root has a parent");
    fs::create_dir_all(parent).expect("create folders");
    fs::write(&path, bytes).expect("write file");
    path
}

/// A fake take: the layout never reads a take's bytes, only its size.
pub fn take(root: &Path, rel: &str) -> PathBuf {
    write(root, rel, format!("fake media for {rel}").as_bytes())
}

pub fn symlink(target: impl AsRef<Path>, link: &Path) {
    std::os::unix::fs::symlink(target, link).expect("create symlink");
}

/// The keys of the takes found, in order.
pub fn keys(found: &Discovery) -> Vec<&str> {
    found.takes.iter().map(|(t, _)| t.key.as_str()).collect()
}

pub fn take_with_key<'a>(found: &'a Discovery, key: &str) -> &'a TakeRef {
    found
        .takes
        .iter()
        .map(|(t, _)| t)
        .find(|t| t.key == key)
        .unwrap_or_else(|| panic!("no take {key} in {:?}", keys(found)))
}

/// The one error about `path`.
pub fn error_for<'a>(found: &'a Discovery, path: &Path) -> &'a LayoutError {
    let matching: Vec<&LayoutError> = found.errors.iter().filter(|e| e.path() == path).collect();
    match matching.as_slice() {
        [one] => one,
        _ => panic!(
            "expected one error for {}, got {matching:?}; all errors: {:#?}",
            path.display(),
            found.errors
        ),
    }
}
