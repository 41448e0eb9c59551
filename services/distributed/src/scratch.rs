//! Local work folders for a job's outputs.
//!
//! Sources are not copied: every stage reads the raw take by ranges
//! ([`crate::remote`]). What a stage writes before uploading it —
//! renditions, HLS segments, captions, mp4mux's scratch — goes to a
//! temporary folder under `MOOCPIPE_SCRATCH_DIR`, removed when the
//! [`Scratch`] is dropped: on success, on error, and when the job is given
//! up. A worker killed outright (SIGKILL, a crash) cannot remove its
//! folder; the folder is named after its process id, and every worker
//! removes the folders of processes that are gone when it starts
//! ([`sweep_stale`]).

use crate::{storage_error, Context};
use moocpipe_broker::JobError;
use moocpipe_proto::TakeJob;
use moocpipe_storage::{ObjectStore, StorageError};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// Scratch folders are `moocpipe-<pid>-<take id>-<random>`.
const PREFIX: &str = "moocpipe-";

/// Removes the scratch folders under `root` left by processes that no
/// longer run (a worker killed mid-job). Returns how many it removed;
/// folders it cannot read or remove are logged and left.
pub fn sweep_stale(root: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(root) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        match std::fs::remove_dir_all(entry.path()) {
            Ok(()) => {
                tracing::info!(folder = %entry.path().display(), pid, "removed the scratch copy of a worker that is gone");
                removed += 1;
            }
            Err(error) => {
                tracing::warn!(folder = %entry.path().display(), %error, "cannot remove a stale scratch folder")
            }
        }
    }
    removed
}

/// A job's work folder; removed on drop.
#[derive(Debug)]
pub struct Scratch {
    dir: TempDir,
}

impl Scratch {
    /// A new folder for the job of `take_id`.
    pub fn create(ctx: &Context, take_id: &str) -> Result<Scratch, JobError> {
        let root = &ctx.settings.scratch_dir;
        std::fs::create_dir_all(root).map_err(|e| {
            JobError::Transient(format!(
                "cannot create scratch folder {}: {e}",
                root.display()
            ))
        })?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("{PREFIX}{}-{take_id}-", std::process::id()))
            .tempdir_in(root)
            .map_err(|e| {
                JobError::Transient(format!(
                    "cannot create a scratch folder in {}: {e}",
                    root.display()
                ))
            })?;
        Ok(Scratch { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A sub-folder, created.
    pub fn work_dir(&self, name: &str) -> Result<PathBuf, JobError> {
        let dir = self.dir.path().join(name);
        std::fs::create_dir_all(&dir).map_err(|e| {
            JobError::Transient(format!(
                "cannot create scratch folder {}: {e}",
                dir.display()
            ))
        })?;
        Ok(dir)
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
            Err(e) => return Err(storage_error(e)),
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_of_dead_processes_are_swept_and_live_ones_kept() {
        let root = tempfile::tempdir().expect("tempdir");
        let mine = root
            .path()
            .join(format!("{PREFIX}{}-take-abc", std::process::id()));
        // Pid 0 is never a process of ours; /proc/0 does not exist.
        let dead = root.path().join(format!("{PREFIX}0-take-abc-x1"));
        let other = root.path().join("someone-elses");
        for dir in [&mine, &dead, &other] {
            std::fs::create_dir_all(dir.join("renditions")).expect("mkdir");
        }
        assert_eq!(sweep_stale(root.path()), 1);
        assert!(mine.exists() && other.exists() && !dead.exists());
        assert_eq!(sweep_stale(&root.path().join("missing")), 0);
    }
}
