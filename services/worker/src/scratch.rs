//! Sources on local disk while a stage reads them.
//!
//! The GStreamer stages read files, so a worker copies the raw object to a
//! scratch folder first (streamed, never held in memory). The copy is
//! bounded — a source larger than `MOOCPIPE_SCRATCH_MAX_BYTES` is refused
//! before a byte is fetched — and lives in a temporary folder that is
//! removed when the [`ScratchCopy`] is dropped: on success, on error, and
//! when the job is given up. A worker killed outright (SIGKILL, a crash)
//! cannot remove its copy; its folder is named after its process id, and
//! every worker removes the folders of processes that are gone when it
//! starts ([`sweep_stale`]). Author caption files (`<take>.vtt`/`.srt`) are
//! copied beside it, so the caption stage finds them as it does on disk.

use crate::{storage_error, Context};
use moocpipe_broker::JobError;
use moocpipe_proto::TakeJob;
use moocpipe_storage::ObjectStore;
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

/// A source copied to scratch; removed on drop.
#[derive(Debug)]
pub struct ScratchCopy {
    dir: TempDir,
    path: PathBuf,
}

impl ScratchCopy {
    /// The copy of the take.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A folder of the copy's own for outputs; removed with it.
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

/// Copies the raw take of `job` to scratch. The object must still be the
/// version the take id was made from (same ETag): a take replaced by a new
/// upload is a new take, and this job's is gone (permanent).
pub async fn fetch(
    ctx: &Context,
    job: &TakeJob,
    with_captions: bool,
) -> Result<ScratchCopy, JobError> {
    let raw = &ctx.stores.raw;
    let key = &job.take.key;
    let location = raw.location(key);
    let meta = raw
        .head(key)
        .await
        .map_err(storage_error)?
        .ok_or_else(|| JobError::Permanent(format!("{location}: the raw take is gone")))?;
    if meta.etag != job.etag {
        return Err(JobError::Permanent(format!(
            "{location}: replaced by a newer upload (ETag {} instead of {}); the newer one is another take",
            meta.etag, job.etag
        )));
    }
    let max = ctx.settings.scratch_max_bytes;
    if meta.size > max {
        return Err(JobError::Permanent(format!(
            "{location}: {} bytes is more than the scratch limit of {max} bytes (MOOCPIPE_SCRATCH_MAX_BYTES)",
            meta.size
        )));
    }
    let root = &ctx.settings.scratch_dir;
    std::fs::create_dir_all(root).map_err(|e| {
        JobError::Transient(format!(
            "cannot create scratch folder {}: {e}",
            root.display()
        ))
    })?;
    let dir = tempfile::Builder::new()
        .prefix(&format!(
            "{PREFIX}{}-{}-",
            std::process::id(),
            job.take.take_id
        ))
        .tempdir_in(root)
        .map_err(|e| {
            JobError::Transient(format!(
                "cannot create a scratch folder in {}: {e}",
                root.display()
            ))
        })?;
    let name = key.rsplit('/').next().unwrap_or(key.as_str());
    let path = dir.path().join(name);
    let bytes = raw.download_to(key, &path).await.map_err(storage_error)?;
    ctx.metrics.read(bytes);
    if with_captions {
        if let Some((stem, _)) = key.rsplit_once('.') {
            for ext in ["vtt", "srt"] {
                let sub_key = format!("{stem}.{ext}");
                let sub_name = sub_key.rsplit('/').next().unwrap_or(sub_key.as_str());
                match raw.download_to(&sub_key, &dir.path().join(sub_name)).await {
                    Ok(bytes) => ctx.metrics.read(bytes),
                    Err(moocpipe_storage::StorageError::NotFound { .. }) => {}
                    Err(e) => return Err(storage_error(e)),
                }
            }
        }
    }
    tracing::debug!(%location, bytes, scratch = %path.display(), "source copied to scratch");
    Ok(ScratchCopy { dir, path })
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
