//! Scratch folders on real file systems: a full disk (a 256 KiB tmpfs,
//! mounted by the test — it runs as root here) is told in words that name
//! the folder, for a write of ours and for GStreamer's filesink; and a
//! folder is swept only once its owner's lock is free, whatever process
//! or pid namespace (a container's pid 1) the owner runs in.

use moocpipe_distributed::scratch::{is_full_disk, sweep_stale, Scratch};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A tmpfs mounted for one test, unmounted when it ends.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "this test mounts a small tmpfs and needs root (CAP_SYS_ADMIN): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn a_full_scratch_disk_is_an_error_naming_the_folder() {
    let disk = Tmpfs::mount("256k");
    let scratch = Scratch::create_in(disk.path(), "take-full").expect("scratch");
    let out = scratch.work_dir("renditions").expect("work dir");

    // Our own write: ENOSPC.
    let mut file = std::fs::File::create(out.join("a.bin")).expect("create");
    let chunk = vec![0u8; 64 * 1024];
    let error = (0..100)
        .find_map(|_| file.write_all(&chunk).err())
        .expect("a 256 KiB disk fills up");
    drop(file);
    assert!(is_full_disk(&error), "{error:?}");
    let job = scratch.full_disk(&error).expect("a full disk");
    let text = job.to_string();
    eprintln!("{text}");
    assert!(
        text.contains(&scratch.path().display().to_string()),
        "{text}"
    );
    assert!(text.contains("full"), "{text}");
    std::fs::remove_file(out.join("a.bin")).expect("free the disk");

    // GStreamer's filesink on the same disk: its words are recognised too.
    let gst = Command::new("gst-launch-1.0")
        .args([
            "-q",
            "videotestsrc",
            "num-buffers=30",
            "!",
            "video/x-raw,width=320,height=240",
            "!",
            "filesink",
        ])
        .arg(format!("location={}", out.join("b.raw").display()))
        .output()
        .expect("run gst-launch-1.0");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&gst.stdout),
        String::from_utf8_lossy(&gst.stderr)
    );
    eprintln!("gst-launch said: {said}");
    assert!(!gst.status.success() || said.contains("ERROR"), "{said}");
    let job = scratch.full_disk(&said).expect("filesink's full disk");
    assert!(job
        .to_string()
        .contains(&scratch.path().display().to_string()));
}

/// `flock -x <dir> sleep 600` as pid 1 of a new pid namespace: a worker in
/// another container holding its folder's lock.
fn hold_lock_in_another_pid_namespace(dir: &Path) -> Child {
    Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child", "flock", "-x"])
        .arg(dir)
        .args(["sleep", "600"])
        .stdin(Stdio::null())
        .spawn()
        .expect("run unshare")
}

fn locked(dir: &Path) -> bool {
    std::fs::File::open(dir)
        .map(|f| f.try_lock().is_err())
        .unwrap_or(false)
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_folder_locked_by_pid_1_of_another_namespace_is_kept_until_its_owner_dies() {
    let root = tempfile::tempdir().expect("tempdir");
    let theirs: PathBuf = root.path().join("moocpipe-take-abc-3kq9z");
    std::fs::create_dir_all(theirs.join("renditions")).expect("mkdir");
    let mut owner = hold_lock_in_another_pid_namespace(&theirs);
    wait_until("the other namespace holds the lock", || locked(&theirs));
    let mine = Scratch::create_in(root.path(), "take-abc").expect("scratch");

    assert_eq!(sweep_stale(root.path()), 0, "both owners live");
    assert!(theirs.exists() && mine.path().exists());

    // The owner dies without cleaning up (SIGKILL): the kernel frees the
    // lock, and the next sweep takes the folder; ours stays.
    owner.kill().expect("kill");
    owner.wait().expect("wait");
    wait_until("the lock is free", || !locked(&theirs));
    assert_eq!(sweep_stale(root.path()), 1);
    assert!(!theirs.exists());
    assert!(mine.path().exists());
}
