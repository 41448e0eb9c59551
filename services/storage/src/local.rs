//! The local-folder store: the layout under one folder on disk.

use crate::StorageError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Folder under the root where work in progress is written before it is
/// published; hidden so nothing in it looks finished.
const STAGING: &str = ".staging";

/// A store rooted at a folder.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// Opens (and creates) the store, proving it writable before any work
    /// starts, and removes work left behind by processes that are gone.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StorageError> {
        let root = root.into();
        let not_writable = |e: &std::io::Error| StorageError::NotWritable {
            path: root.clone(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(root.join(STAGING)).map_err(|e| not_writable(&e))?;
        let probe = root
            .join(STAGING)
            .join(format!("write-test-{}", std::process::id()));
        std::fs::write(&probe, b"moocpipe").map_err(|e| not_writable(&e))?;
        std::fs::remove_file(&probe).map_err(|e| not_writable(&e))?;
        let store = LocalStore { root };
        store.clean_abandoned_staging();
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file system path of a key.
    pub fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    pub fn exists(&self, key: &str) -> bool {
        self.path(key).exists()
    }

    /// The names directly under a key (sorted); empty when there is nothing.
    pub fn list(&self, key: &str) -> Result<Vec<String>, StorageError> {
        let path = self.path(key);
        let entries = match std::fs::read_dir(&path) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StorageError::io(path, &e)),
        };
        let mut names: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Reads a JSON record; `None` when there is none.
    pub fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StorageError> {
        let path = self.path(key);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StorageError::io(path, &e)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StorageError::BadRecord {
                path,
                message: e.to_string(),
            })
    }

    /// Writes a JSON record atomically (pretty-printed, trailing newline).
    pub fn put_json<T: Serialize>(&self, key: &str, value: &T) -> Result<(), StorageError> {
        let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| StorageError::BadRecord {
            path: self.path(key),
            message: e.to_string(),
        })?;
        bytes.push(b'\n');
        self.put_bytes(key, &bytes)
    }

    /// Writes bytes atomically: to a temporary name beside the target, synced, then renamed.
    pub fn put_bytes(&self, key: &str, bytes: &[u8]) -> Result<(), StorageError> {
        let path = self.path(key);
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| StorageError::io(&dir, &e))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            StorageError::io(&path, &e)
        })
    }

    /// A fresh folder for work in progress, removed when dropped unless published.
    pub fn staging(&self, label: &str) -> Result<Staging, StorageError> {
        let dir =
            self.root
                .join(STAGING)
                .join(format!("{label}-{}-{}", std::process::id(), unique()));
        std::fs::create_dir_all(&dir).map_err(|e| StorageError::io(&dir, &e))?;
        Ok(Staging { dir })
    }

    /// Moves a finished folder from staging to `key`, replacing what was there.
    pub fn publish_dir(&self, staged: &Path, key: &str) -> Result<(), StorageError> {
        let target = self.path(key);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| StorageError::io(parent, &e))?;
        }
        if target.exists() {
            // Move the old one aside first so the rename below cannot fail on
            // a non-empty folder, then drop it.
            let old = self.root.join(STAGING).join(format!(
                "replaced-{}-{}",
                std::process::id(),
                unique()
            ));
            std::fs::rename(&target, &old).map_err(|e| StorageError::io(&target, &e))?;
            let _ = std::fs::remove_dir_all(&old);
        }
        std::fs::rename(staged, &target).map_err(|e| StorageError::io(&target, &e))
    }

    /// Removes staging folders whose process is no longer running.
    fn clean_abandoned_staging(&self) {
        let Ok(entries) = std::fs::read_dir(self.root.join(STAGING)) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            let pid = name
                .split('-')
                .rev()
                .nth(1)
                .and_then(|p| p.parse::<u32>().ok());
            if let Some(pid) = pid {
                if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
    }
}

fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

/// A folder of work in progress; removed on drop unless [`Staging::keep`] was called.
#[derive(Debug)]
pub struct Staging {
    dir: PathBuf,
}

impl Staging {
    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_missing_is_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalStore::open(dir.path()).expect("open");
        assert_eq!(
            store
                .get_json::<Vec<u32>>("takes/x/records/probe.json")
                .expect("get"),
            None
        );
        store
            .put_json("takes/x/records/probe.json", &vec![1u32, 2])
            .expect("put");
        assert_eq!(
            store
                .get_json::<Vec<u32>>("takes/x/records/probe.json")
                .expect("get"),
            Some(vec![1, 2])
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("takes/x/records"))
            .expect("ls")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn a_published_folder_replaces_the_old_one_and_staging_is_cleaned() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalStore::open(dir.path()).expect("open");
        for content in ["first", "second"] {
            let staging = store.staging("t").expect("staging");
            let out = staging.path().join("out");
            std::fs::create_dir(&out).expect("mkdir");
            std::fs::write(out.join("a.txt"), content).expect("write");
            store
                .publish_dir(&out, "takes/t/renditions")
                .expect("publish");
        }
        let text =
            std::fs::read_to_string(dir.path().join("takes/t/renditions/a.txt")).expect("read");
        assert_eq!(text, "second");
        let staged: Vec<_> = std::fs::read_dir(dir.path().join(STAGING))
            .expect("ls")
            .collect();
        assert!(staged.is_empty(), "staging folders are removed on drop");
    }

    #[test]
    fn an_unwritable_root_is_refused_at_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("a-file");
        std::fs::write(&file, b"x").expect("write");
        let err =
            LocalStore::open(file.join("store")).expect_err("cannot create a store inside a file");
        assert!(matches!(err, StorageError::NotWritable { .. }), "{err}");
    }
}
