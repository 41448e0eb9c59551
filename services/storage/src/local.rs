//! The local-folder store: the layout under one folder on disk. Its
//! synchronous methods serve the embedded mode; its [`ObjectStore`]
//! implementation (further down) gives workers the same interface as S3,
//! running the file-system calls on tokio's blocking pool.

use crate::object::{check_expiry, check_key, check_prefix, ObjectMeta, ObjectStore};
use crate::{ObjectReader, StorageError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncWriteExt as _;

/// Folder under the root where work in progress is written before it is
/// published; hidden so nothing in it looks finished.
const STAGING: &str = ".staging";

/// A store rooted at a folder.
///
/// Its inherent `list`, `get_json`, `put_json` and `put_bytes` are the
/// synchronous ones the embedded mode calls; they shadow the
/// [`ObjectStore`] methods of the same names, which code generic over
/// `S: ObjectStore` reaches (or `ObjectStore::list(&store, …)`). Note that
/// the inherent `list` gives the names directly under a key while
/// `ObjectStore::list` gives every key under a prefix, as S3 does.
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
        self.write_atomically(key, bytes)
            .map_err(|(path, e)| StorageError::io(path, &e))
    }

    /// [`LocalStore::put_bytes`] keeping the `io::Error` (and the path it
    /// concerns) so the object-store methods can tell permission apart.
    fn write_atomically(&self, key: &str, bytes: &[u8]) -> Result<(), (PathBuf, std::io::Error)> {
        let path = self.path(key);
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| (dir.clone(), e))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        // Unique per call: two threads writing the same key must not share
        // a temporary file.
        let tmp = dir.join(format!(".{name}.{}.{}.tmp", std::process::id(), unique()));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            (path.clone(), e)
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

/// A number no other call in this process gets: the clock, and a counter
/// for calls within the same clock tick.
pub(crate) fn unique() -> u128 {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let count = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    (nanos << 16) | u128::from(count & 0xffff)
}

/// Runs file-system work on tokio's blocking pool so it never stalls a
/// worker thread; a panic in it is passed on as a panic.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StorageError> + Send + 'static,
) -> Result<T, StorageError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(StorageError::Transient {
            message: format!("the local store's task was cancelled: {e}"),
        }),
    }
}

/// The local backend of the object-store interface. Keys are checked first,
/// so none can leave the root. The file system keeps no media type:
/// `content_type` arguments are accepted for the interface and `head`
/// answers with the type guessed from the extension.
impl ObjectStore for LocalStore {
    fn location(&self, key: &str) -> String {
        self.path(key).display().to_string()
    }

    async fn put_bytes(
        &self,
        key: &str,
        bytes: Vec<u8>,
        _content_type: &str,
    ) -> Result<(), StorageError> {
        check_key(key)?;
        let (store, key) = (self.clone(), key.to_string());
        blocking(move || {
            store
                .write_atomically(&key, &bytes)
                .map_err(|(path, e)| store.write_error(&key, &path, &e))
        })
        .await
    }

    async fn put_file(
        &self,
        key: &str,
        path: &Path,
        _content_type: &str,
    ) -> Result<(), StorageError> {
        check_key(key)?;
        let (store, key, source) = (self.clone(), key.to_string(), path.to_path_buf());
        blocking(move || store.copy_in(&key, &source)).await
    }

    async fn get_bytes(&self, key: &str) -> Result<Vec<u8>, StorageError> {
        check_key(key)?;
        let (store, key) = (self.clone(), key.to_string());
        blocking(move || std::fs::read(store.path(&key)).map_err(|e| store.read_error(&key, e)))
            .await
    }

    async fn get_range(&self, key: &str, start: u64, len: u64) -> Result<Vec<u8>, StorageError> {
        check_key(key)?;
        let (store, key) = (self.clone(), key.to_string());
        blocking(move || store.read_range(&key, start, len, None)).await
    }

    async fn get_range_if_match(
        &self,
        key: &str,
        start: u64,
        len: u64,
        etag: &str,
    ) -> Result<Vec<u8>, StorageError> {
        check_key(key)?;
        let (store, key, etag) = (self.clone(), key.to_string(), etag.to_string());
        blocking(move || store.read_range(&key, start, len, Some(&etag))).await
    }

    async fn download_to(&self, key: &str, path: &Path) -> Result<u64, StorageError> {
        check_key(key)?;
        let (store, key, target) = (self.clone(), key.to_string(), path.to_path_buf());
        blocking(move || store.copy_out(&key, &target)).await
    }

    async fn read_object(
        &self,
        key: &str,
        etag: Option<&str>,
    ) -> Result<ObjectReader, StorageError> {
        check_key(key)?;
        let path = self.path(key);
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| self.read_error(key, e))?;
        let meta = file
            .metadata()
            .await
            .map_err(|e| StorageError::io(&path, &e))?;
        if meta.is_dir() {
            return Err(self.read_error(key, std::io::ErrorKind::IsADirectory.into()));
        }
        self.check_version(key, &meta, etag)?;
        Ok(ObjectReader::file(file, self.location(key)))
    }

    async fn put_reader(
        &self,
        key: &str,
        mut reader: ObjectReader,
        size: u64,
        _content_type: &str,
    ) -> Result<(), StorageError> {
        check_key(key)?;
        let target = self.path(key);
        let tmp = temporary_beside(&target)?;
        let written = async {
            let mut file = tokio::fs::File::create(&tmp)
                .await
                .map_err(|e| self.write_error(key, &tmp, &e))?;
            while let Some(chunk) = reader.next_chunk().await? {
                file.write_all(&chunk)
                    .await
                    .map_err(|e| self.write_error(key, &tmp, &e))?;
            }
            file.sync_all()
                .await
                .map_err(|e| self.write_error(key, &tmp, &e))?;
            if reader.bytes_read() != size {
                return Err(StorageError::Io {
                    path: tmp.clone(),
                    message: format!(
                        "{} gave {} bytes, {size} expected",
                        reader.location(),
                        reader.bytes_read()
                    ),
                });
            }
            tokio::fs::rename(&tmp, &target)
                .await
                .map_err(|e| self.write_error(key, &target, &e))
        }
        .await;
        if written.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        written
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StorageError> {
        check_key(key)?;
        let (store, key) = (self.clone(), key.to_string());
        blocking(move || store.meta(&key)).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        check_prefix(prefix)?;
        let (store, prefix) = (self.clone(), prefix.to_string());
        blocking(move || store.keys_under(&prefix)).await
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        check_key(key)?;
        let (store, key) = (self.clone(), key.to_string());
        blocking(move || {
            let path = store.path(&key);
            match std::fs::remove_file(&path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                // A folder is not an object: as on S3, nothing to delete.
                Err(_) if path.is_dir() => Ok(()),
                Err(e) => Err(store.write_error(&key, &path, &e)),
            }
        })
        .await
    }

    async fn presign_get(&self, key: &str, expiry: Duration) -> Result<String, StorageError> {
        check_expiry(expiry)?;
        check_key(key)?;
        let path = std::path::absolute(self.path(key))
            .map_err(|e| StorageError::io(self.path(key), &e))?;
        Ok(file_url(&path))
    }
}

/// The helpers of the [`ObjectStore`] implementation; each runs on the
/// blocking pool.
impl LocalStore {
    /// `NotFound` and `AccessDenied` where a caller can act on them, else `Io`.
    fn read_error(&self, key: &str, err: std::io::Error) -> StorageError {
        match err.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::IsADirectory => {
                StorageError::NotFound {
                    store: self.root.display().to_string(),
                    key: key.to_string(),
                }
            }
            std::io::ErrorKind::PermissionDenied => self.denied(key, &err),
            _ => StorageError::io(self.path(key), &err),
        }
    }

    /// A write error: permission problems are `AccessDenied` (permanent:
    /// the deployment must change), the rest `Io` (transient).
    fn write_error(&self, key: &str, path: &Path, err: &std::io::Error) -> StorageError {
        match err.kind() {
            std::io::ErrorKind::PermissionDenied => self.denied(key, err),
            _ => StorageError::io(path, err),
        }
    }

    fn denied(&self, key: &str, err: &std::io::Error) -> StorageError {
        StorageError::AccessDenied {
            bucket: self.root.display().to_string(),
            key: key.to_string(),
            reason: err.to_string(),
        }
    }

    /// Copies a file in under a temporary name beside the target, synced,
    /// then renamed: the object is the old one or the whole new one.
    fn copy_in(&self, key: &str, source: &Path) -> Result<(), StorageError> {
        let target = self.path(key);
        let tmp = temporary_beside(&target)?;
        let copy = || -> std::io::Result<()> {
            std::fs::copy(source, &tmp)?;
            std::fs::File::open(&tmp)?.sync_all()?;
            std::fs::rename(&tmp, &target)
        };
        copy().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            match e.kind() {
                std::io::ErrorKind::PermissionDenied => self.denied(key, &e),
                _ => StorageError::Io {
                    path: source.to_path_buf(),
                    message: format!("cannot store it as {}: {e}", target.display()),
                },
            }
        })
    }

    /// Copies an object out to `target` the same way (temporary, renamed).
    fn copy_out(&self, key: &str, target: &Path) -> Result<u64, StorageError> {
        let source = self.path(key);
        if source.is_dir() {
            return Err(self.read_error(key, std::io::ErrorKind::IsADirectory.into()));
        }
        let mut reader = std::fs::File::open(&source).map_err(|e| self.read_error(key, e))?;
        let tmp = temporary_beside(target)?;
        let mut copy = || -> std::io::Result<u64> {
            let mut writer = std::fs::File::create(&tmp)?;
            let n = std::io::copy(&mut reader, &mut writer)?;
            writer.sync_all()?;
            std::fs::rename(&tmp, target)?;
            Ok(n)
        };
        copy().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            StorageError::io(target, &e)
        })
    }

    /// [`StorageError::Changed`] unless the opened file is the version
    /// `etag` (when one is asked for).
    fn check_version(
        &self,
        key: &str,
        meta: &std::fs::Metadata,
        etag: Option<&str>,
    ) -> Result<(), StorageError> {
        match etag {
            Some(expected) if etag_of(meta) != expected => Err(StorageError::Changed {
                location: self.location(key),
                expected_etag: expected.to_string(),
                found_etag: Some(etag_of(meta)),
            }),
            _ => Ok(()),
        }
    }

    /// `len` bytes from `start`; with `etag`, only from that version of
    /// the file (checked on the opened file, so a replacement renamed in
    /// place is caught).
    fn read_range(
        &self,
        key: &str,
        start: u64,
        len: u64,
        etag: Option<&str>,
    ) -> Result<Vec<u8>, StorageError> {
        let path = self.path(key);
        let mut file = std::fs::File::open(&path).map_err(|e| self.read_error(key, e))?;
        let meta = file.metadata().map_err(|e| StorageError::io(&path, &e))?;
        if meta.is_dir() {
            return Err(self.read_error(key, std::io::ErrorKind::IsADirectory.into()));
        }
        self.check_version(key, &meta, etag)?;
        let size = meta.len();
        if len == 0 {
            return Ok(Vec::new());
        }
        if start >= size {
            return Err(StorageError::InvalidRange {
                key: key.to_string(),
                start,
            });
        }
        let available = len.min(size - start);
        let mut bytes = Vec::with_capacity(usize::try_from(available).unwrap_or(0));
        file.seek(SeekFrom::Start(start))
            .and_then(|_| file.take(available).read_to_end(&mut bytes))
            .map_err(|e| StorageError::io(&path, &e))?;
        Ok(bytes)
    }

    fn meta(&self, key: &str) -> Result<Option<ObjectMeta>, StorageError> {
        let path = self.path(key);
        let meta = match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => m,
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.read_error(key, e)),
        };
        Ok(Some(ObjectMeta {
            size: meta.len(),
            etag: etag_of(&meta),
            content_type: Some(crate::content_type::for_key(key).to_string()),
            modified: meta.modified().ok(),
        }))
    }

    /// Every file under the root whose key starts with `prefix`, walking
    /// only the folder the prefix names; hidden names are skipped.
    fn keys_under(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let folder = match prefix.rsplit_once('/') {
            Some((folder, _)) => folder,
            None => "",
        };
        let mut keys = Vec::new();
        let mut pending = vec![folder.to_string()];
        while let Some(dir_key) = pending.pop() {
            let dir = if dir_key.is_empty() {
                self.root.clone()
            } else {
                self.path(&dir_key)
            };
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => continue,
                Err(e) => return Err(StorageError::io(&dir, &e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| StorageError::io(&dir, &e))?;
                let name = entry.file_name().to_string_lossy().to_string();
                if name.starts_with('.') {
                    continue;
                }
                let key = if dir_key.is_empty() {
                    name
                } else {
                    format!("{dir_key}/{name}")
                };
                // `file_type` does not follow links, so a linked folder
                // cannot loop the walk; a linked file is still an object.
                let file_type = entry.file_type().map_err(|e| StorageError::io(&dir, &e))?;
                if file_type.is_dir() {
                    if key.starts_with(prefix) || prefix.starts_with(&format!("{key}/")) {
                        pending.push(key);
                    }
                } else if key.starts_with(prefix) && entry.path().is_file() {
                    keys.push(key);
                }
            }
        }
        keys.sort();
        Ok(keys)
    }
}

/// The local ETag: size and modification time, which change whenever
/// the content does (an atomic replacement is a new file).
fn etag_of(meta: &std::fs::Metadata) -> String {
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{:x}-{modified:x}", meta.len())
}

/// A hidden temporary name beside `target` (same file system, so the final
/// rename is atomic), its folder created.
fn temporary_beside(target: &Path) -> Result<PathBuf, StorageError> {
    let dir = target.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, &e))?;
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    Ok(dir.join(format!(".{name}.{}.{}.tmp", std::process::id(), unique())))
}

/// A `file://` URL for an absolute path, bytes outside RFC 3986's
/// unreserved set (and `/`) percent-encoded.
fn file_url(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut url = String::from("file://");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            url.push(char::from(b));
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
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

    /// The object-store interface of the local backend, called the way a
    /// worker calls it: through a generic function on a spawned task (which
    /// also proves the futures are `Send`).
    async fn exercise<S: ObjectStore + 'static>(store: std::sync::Arc<S>) {
        let key = "takes/t1/records/probe.json";
        tokio::spawn({
            let store = store.clone();
            async move { store.put_json(key, &vec![1u32, 2, 3]).await }
        })
        .await
        .expect("task")
        .expect("put_json");
        let back: Option<Vec<u32>> = store.get_json(key).await.expect("get_json");
        assert_eq!(back, Some(vec![1, 2, 3]));
        let missing: Option<Vec<u32>> = store
            .get_json("takes/t1/records/qc.json")
            .await
            .expect("get_json");
        assert_eq!(missing, None);
    }

    #[tokio::test]
    async fn the_object_interface_round_trips_json_from_a_generic_task() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalStore::open(dir.path()).expect("open");
        exercise(std::sync::Arc::new(store.clone())).await;
        // The synchronous API reads what the async one wrote.
        assert_eq!(
            store
                .get_json::<Vec<u32>>("takes/t1/records/probe.json")
                .expect("get"),
            Some(vec![1, 2, 3])
        );
    }

    #[tokio::test]
    async fn bytes_ranges_and_head() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalStore::open(dir.path()).expect("open");
        let key = "takes/t/renditions/a-1080p.mp4";
        let bytes: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        ObjectStore::put_bytes(&store, key, bytes.clone(), "video/mp4")
            .await
            .expect("put");
        assert_eq!(store.get_bytes(key).await.expect("get"), bytes);
        assert_eq!(
            store.get_range(key, 10, 20).await.expect("range"),
            &bytes[10..30]
        );
        assert_eq!(
            store
                .get_range(key, 990, 100)
                .await
                .expect("range at the end"),
            &bytes[990..],
            "a range past the end stops at the end"
        );
        assert!(store.get_range(key, 0, 0).await.expect("empty").is_empty());
        let err = store
            .get_range(key, 1000, 1)
            .await
            .expect_err("past the end");
        assert!(
            matches!(err, StorageError::InvalidRange { start: 1000, .. }),
            "{err}"
        );

        let meta = store.head(key).await.expect("head").expect("exists");
        assert_eq!(meta.size, 1000);
        assert_eq!(meta.content_type.as_deref(), Some("video/mp4"));
        assert!(!meta.etag.is_empty());
        ObjectStore::put_bytes(&store, key, vec![0; 10], "video/mp4")
            .await
            .expect("overwrite");
        let changed = store.head(key).await.expect("head").expect("exists");
        assert_ne!(changed.etag, meta.etag, "new content, new ETag");
        // A read pinned to the old version fails; to the new one, reads.
        let err = store
            .get_range_if_match(key, 0, 5, &meta.etag)
            .await
            .expect_err("replaced");
        assert!(
            matches!(err, StorageError::Changed { ref found_etag, .. } if found_etag.as_deref() == Some(changed.etag.as_str())),
            "{err}"
        );
        assert!(!err.is_transient());
        assert_eq!(
            store
                .get_range_if_match(key, 0, 5, &changed.etag)
                .await
                .expect("current version"),
            vec![0; 5]
        );

        assert_eq!(store.head("takes/t/none.json").await.expect("head"), None);
        assert_eq!(store.head("takes/t").await.expect("a folder"), None);
        let err = store
            .get_bytes("takes/t/none.json")
            .await
            .expect_err("missing");
        assert!(matches!(err, StorageError::NotFound { .. }), "{err}");
        assert!(!err.is_transient());
        let err = store.get_bytes("takes/t").await.expect_err("a folder");
        assert!(matches!(err, StorageError::NotFound { .. }), "{err}");
    }

    #[tokio::test]
    async fn listing_pages_follow_each_other_with_the_etags_of_head() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalStore::open(dir.path()).expect("open");
        let count = crate::LIST_PAGE_SIZE + 5;
        for i in 0..count {
            ObjectStore::put_bytes(&store, &format!("c/t{i:04}.mov"), vec![1], "video/mp4")
                .await
                .expect("put");
        }
        let first = store.list_page("c/", None).await.expect("page 1");
        assert_eq!(first.objects.len(), crate::LIST_PAGE_SIZE);
        let second = store
            .list_page("c/", first.next.clone())
            .await
            .expect("page 2");
        assert_eq!(second.objects.len(), 5);
        assert_eq!(second.next, None);
        assert_eq!(
            second.objects[0].key,
            format!("c/t{:04}.mov", crate::LIST_PAGE_SIZE)
        );
        let head = store
            .head("c/t0000.mov")
            .await
            .expect("head")
            .expect("exists");
        assert_eq!(first.objects[0].etag, head.etag);
    }

    #[tokio::test]
    async fn files_stream_in_and_out_and_list_and_delete_follow_s3() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalStore::open(dir.path().join("store")).expect("open");
        let source = dir.path().join("source.bin");
        let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&source, &content).expect("write");
        for key in [
            "takes/t/renditions/b.mp4",
            "takes/t/renditions/hls/720p/index.m3u8",
            "takes/t/records/probe.json",
            "takes/u/records/probe.json",
        ] {
            store
                .put_file(key, &source, "application/octet-stream")
                .await
                .expect("put_file");
        }
        // Work in progress is never an object.
        let _staging = store.staging("t").expect("staging");

        let target = dir.path().join("out/nested/b.mp4");
        let n = store
            .download_to("takes/t/renditions/b.mp4", &target)
            .await
            .expect("download");
        assert_eq!(n, content.len() as u64);
        assert_eq!(std::fs::read(&target).expect("read"), content);
        let leftovers: Vec<_> = std::fs::read_dir(target.parent().expect("parent"))
            .expect("ls")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "no temporary files left");
        let err = store
            .download_to("takes/t/none.mp4", &dir.path().join("none"))
            .await
            .expect_err("missing");
        assert!(matches!(err, StorageError::NotFound { .. }), "{err}");

        assert_eq!(
            ObjectStore::list(&store, "takes/t/").await.expect("list"),
            vec![
                "takes/t/records/probe.json",
                "takes/t/renditions/b.mp4",
                "takes/t/renditions/hls/720p/index.m3u8",
            ]
        );
        assert_eq!(
            ObjectStore::list(&store, "takes/t/renditions/h")
                .await
                .expect("list"),
            vec!["takes/t/renditions/hls/720p/index.m3u8"]
        );
        assert_eq!(ObjectStore::list(&store, "").await.expect("list").len(), 4);
        assert!(ObjectStore::list(&store, "courses/")
            .await
            .expect("list")
            .is_empty());

        store
            .delete("takes/t/renditions/b.mp4")
            .await
            .expect("delete");
        store
            .delete("takes/t/renditions/b.mp4")
            .await
            .expect("deleting again is fine");
        assert_eq!(
            store.head("takes/t/renditions/b.mp4").await.expect("head"),
            None
        );
    }

    #[tokio::test]
    async fn presigned_urls_are_file_urls_and_bad_input_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalStore::open(dir.path()).expect("open");
        let url = store
            .presign_get("courses/c/reports/segments 1.html", Duration::from_secs(60))
            .await
            .expect("presign");
        assert!(url.starts_with("file:///"), "{url}");
        assert!(
            url.ends_with("/courses/c/reports/segments%201.html"),
            "{url}"
        );
        let err = store
            .presign_get("courses/c/x.html", crate::MAX_PRESIGN_EXPIRY * 2)
            .await
            .expect_err("too long");
        assert!(matches!(err, StorageError::ExpiryTooLong { .. }), "{err}");
        let err = ObjectStore::put_bytes(&store, "../outside", vec![1], "text/plain")
            .await
            .expect_err("escapes the root");
        assert!(matches!(err, StorageError::BadKey { .. }), "{err}");
        assert!(!dir
            .path()
            .parent()
            .expect("parent")
            .join("outside")
            .exists());
    }
}
