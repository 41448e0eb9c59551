//! Local work folders for a job's outputs.
//!
//! Sources are not copied: every stage reads the raw take by ranges
//! ([`crate::remote`]). What a stage writes before uploading it —
//! renditions, HLS segments, captions, mp4mux's scratch — goes to a
//! folder under `MOOCPIPE_SCRATCH_DIR`, removed when the [`Scratch`] is
//! dropped: on success, on error, and when the job is given up.
//!
//! A worker killed outright (SIGKILL, a crash, the OOM killer) cannot
//! remove its folder, so every worker sweeps the folders of owners that
//! are gone when it starts ([`sweep_stale`]). Who is gone is told by a
//! lock, not a process id: workers in containers are all pid 1, and two
//! containers sharing a volume see each other's folders but not each
//! other's processes. Each folder is named with a random id and its owner
//! holds an exclusive `flock` on the folder itself for as long as the
//! [`Scratch`] lives; the kernel drops the lock when the owner dies,
//! however it dies. A sweeper removes a folder only while it holds that
//! lock itself, so a live folder is never removed (on one host, or on
//! NFS, where Linux maps `flock` to byte-range locks).
//!
//! A full scratch disk is told in words that name the folder
//! ([`Scratch::full_disk`]), not as a bare "No space left on device".

use crate::{storage_error, Context};
use moocpipe_broker::JobError;
use moocpipe_proto::TakeJob;
use moocpipe_storage::{ObjectStore, StorageError};
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Scratch folders are `moocpipe-<take id>-<random>` (before the locks
/// they were `moocpipe-<pid>-<take id>-<random>`; those are swept too).
const PREFIX: &str = "moocpipe-";

/// Tries at a new folder when a sweeper removed the last one between its
/// creation and its lock (a window of microseconds).
const CREATE_TRIES: usize = 5;

/// Removes the scratch folders under `root` whose owner is gone (its lock
/// is free: the process died, in this container or another one sharing the
/// volume). Returns how many it removed; folders it cannot read or remove
/// are logged and left. Safe to call while this or any other process has
/// live folders there: those stay locked, and are skipped.
pub fn sweep_stale(root: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(root) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let is_ours = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(PREFIX));
        if !is_ours || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let path = entry.path();
        let Ok(dir) = File::open(&path) else {
            continue; // removed meanwhile, or not ours to read
        };
        if dir.try_lock().is_err() {
            continue; // its owner lives
        }
        // Held until the folder is gone: an owner that created it a moment
        // ago cannot take it now, and will see it vanish (see `create`).
        match std::fs::remove_dir_all(&path) {
            Ok(()) => {
                tracing::info!(folder = %path.display(), "removed the scratch folder of a worker that is gone");
                removed += 1;
            }
            Err(error) => {
                tracing::warn!(folder = %path.display(), %error, "cannot remove a stale scratch folder")
            }
        }
        drop(dir);
    }
    removed
}

/// A job's work folder, locked by this process while it lives; removed on
/// drop.
#[derive(Debug)]
pub struct Scratch {
    path: PathBuf,
    /// The folder opened and `flock`ed: the lock is what tells a sweeper
    /// the owner still lives. Released (closed) after the folder is gone.
    lock: Option<File>,
}

impl Scratch {
    /// A new folder for the job of `take_id`.
    pub fn create(ctx: &Context, take_id: &str) -> Result<Scratch, JobError> {
        Scratch::create_in(&ctx.settings.scratch_dir, take_id)
    }

    /// A new folder under `root`, named with a random id, created and then
    /// locked. A sweeper may take the lock in the instant between the two
    /// and remove the folder; the lock is therefore proven to be on the
    /// folder that is still at `path` (same device and inode), else a new
    /// folder is made.
    pub fn create_in(root: &Path, take_id: &str) -> Result<Scratch, JobError> {
        std::fs::create_dir_all(root)
            .map_err(|e| dir_error(root, &e, "cannot create the scratch folder"))?;
        let mut last = None;
        for _ in 0..CREATE_TRIES {
            let path = tempfile::Builder::new()
                .prefix(&format!("{PREFIX}{take_id}-"))
                .tempdir_in(root)
                .map_err(|e| dir_error(root, &e, "cannot create a scratch folder in"))?
                .keep();
            let locked = File::open(&path).and_then(|dir| {
                dir.try_lock().map_err(std::io::Error::from)?;
                let held = dir.metadata()?;
                let there = std::fs::metadata(&path)?;
                if (held.dev(), held.ino()) == (there.dev(), there.ino()) {
                    Ok(dir)
                } else {
                    Err(std::io::Error::other("replaced while it was locked"))
                }
            });
            match locked {
                Ok(dir) => {
                    return Ok(Scratch {
                        path,
                        lock: Some(dir),
                    })
                }
                Err(e) => {
                    tracing::debug!(folder = %path.display(), error = %e, "a new scratch folder was swept before it was locked; making another");
                    last = Some(e);
                }
            }
        }
        Err(JobError::Transient(format!(
            "cannot lock a new scratch folder in {} ({CREATE_TRIES} tries): {}",
            root.display(),
            last.map(|e| e.to_string()).unwrap_or_default()
        )))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A sub-folder, created.
    pub fn work_dir(&self, name: &str) -> Result<PathBuf, JobError> {
        let dir = self.path.join(name);
        std::fs::create_dir_all(&dir)
            .map_err(|e| dir_error(&dir, &e, "cannot create scratch folder"))?;
        Ok(dir)
    }

    /// When `error` (an I/O error's or a GStreamer element's words, e.g.
    /// filesink's "No space left on the resource") says the disk is full,
    /// the job error that names this folder and what is left on its file
    /// system; `None` otherwise. Stages map their media and upload errors
    /// through this first. Transient: another worker, or this one once
    /// space is freed, can do the job.
    pub fn full_disk(&self, error: &dyn std::fmt::Display) -> Option<JobError> {
        let text = error.to_string();
        is_full_disk_message(&text).then(|| full_disk_error(&self.path, &text))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_dir_all(&self.path) {
            if error.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(folder = %self.path.display(), %error, "cannot remove a scratch folder; the next worker to start sweeps it");
            }
        }
        // Unlocked only now that the folder is gone.
        drop(self.lock.take());
    }
}

/// Whether an I/O error is a full disk or an exhausted quota.
pub fn is_full_disk(error: &std::io::Error) -> bool {
    error.kind() == std::io::ErrorKind::StorageFull
        || error.kind() == std::io::ErrorKind::QuotaExceeded
        || is_full_disk_message(&error.to_string())
}

/// Whether an error's words say the disk is full: the OS's ("No space
/// left on device", "Disk quota exceeded") or GStreamer's
/// (`GST_RESOURCE_ERROR_NO_SPACE_LEFT`: "No space left on the resource").
pub fn is_full_disk_message(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    text.contains("no space left") || text.contains("disk quota exceeded")
}

/// "scratch folder X is full" with what its file system has left.
fn full_disk_error(folder: &Path, detail: &str) -> JobError {
    JobError::Transient(format!(
        "the scratch disk is full: {} (MOOCPIPE_SCRATCH_DIR) has no room left for this job's outputs; free space there or give it a larger volume: {detail}",
        folder.display()
    ))
}

/// A folder that cannot be made: a full disk in words that say so.
fn dir_error(dir: &Path, error: &std::io::Error, what: &str) -> JobError {
    if is_full_disk(error) {
        full_disk_error(dir, &error.to_string())
    } else {
        JobError::Transient(format!("{what} {}: {error}", dir.display()))
    }
}

/// The author's caption file for the take of `job` — `<take>.vtt`, else
/// `<take>.srt`, beside it in the raw bucket — downloaded into `scratch`.
pub async fn author_captions(
    ctx: &Context,
    job: &TakeJob,
    scratch: &Scratch,
) -> Result<Option<PathBuf>, JobError> {
    let raw = &ctx.stores.raw;
    let Some((stem, _)) = job.take.key.rsplit_once('.') else {
        return Ok(None);
    };
    for ext in ["vtt", "srt"] {
        let key = format!("{stem}.{ext}");
        let name = key.rsplit('/').next().unwrap_or(key.as_str());
        let path = scratch.path().join(name);
        match raw.download_to(&key, &path).await {
            Ok(bytes) => {
                ctx.metrics.read(bytes);
                return Ok(Some(path));
            }
            Err(StorageError::NotFound { .. }) => {}
            Err(e) => return Err(scratch.full_disk(&e).unwrap_or_else(|| storage_error(e))),
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_whose_lock_is_free_are_swept_and_locked_ones_kept() {
        let root = tempfile::tempdir().expect("tempdir");
        let live = Scratch::create_in(root.path(), "take-abc").expect("scratch");
        std::fs::write(
            live.work_dir("renditions").expect("dir").join("a.mp4"),
            b"x",
        )
        .expect("write");
        // A folder whose owner died: nobody holds its lock.
        let dead = root.path().join(format!("{PREFIX}take-abc-x1"));
        // The pid-named folders of before: swept the same way.
        let old = root.path().join(format!("{PREFIX}1-take-abc-x2"));
        let other = root.path().join("someone-elses");
        for dir in [&dead, &old, &other] {
            std::fs::create_dir_all(dir.join("renditions")).expect("mkdir");
        }
        assert_eq!(sweep_stale(root.path()), 2);
        assert!(live.path().join("renditions/a.mp4").exists());
        assert!(other.exists() && !dead.exists() && !old.exists());
        assert_eq!(sweep_stale(&root.path().join("missing")), 0);

        let path = live.path().to_path_buf();
        drop(live);
        assert!(!path.exists(), "removed on drop");
    }

    #[test]
    fn folders_are_named_by_a_random_id_not_the_process() {
        let root = tempfile::tempdir().expect("tempdir");
        let a = Scratch::create_in(root.path(), "t").expect("a");
        let b = Scratch::create_in(root.path(), "t").expect("b");
        assert_ne!(a.path(), b.path());
        let name = a.path().file_name().and_then(|n| n.to_str()).expect("name");
        assert!(
            !name.contains(&std::process::id().to_string()),
            "{name} must not rest on a pid"
        );
    }

    #[test]
    fn full_disk_words_are_recognised_and_name_the_folder() {
        let root = tempfile::tempdir().expect("tempdir");
        let scratch = Scratch::create_in(root.path(), "t").expect("scratch");
        // /dev/full answers every write with ENOSPC.
        let err = std::fs::write("/dev/full", b"x").expect_err("ENOSPC");
        assert!(is_full_disk(&err), "{err:?}");
        let job = scratch.full_disk(&err).expect("recognised");
        let text = job.to_string();
        assert!(
            text.contains(&scratch.path().display().to_string()),
            "{text}"
        );
        assert!(matches!(job, JobError::Transient(_)));
        let gst = "Error writing to file: No space left on the resource.";
        assert!(scratch.full_disk(&gst).is_some());
        assert!(scratch.full_disk(&"permission denied").is_none());
    }
}
