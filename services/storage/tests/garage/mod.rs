//! A real Garage node for one test: its own temporary folder, free ports on
//! 127.0.0.1, a random bucket and key, stopped (and its folder removed)
//! when the test ends, pass or fail.
//!
//! The binary is `$MOOCPIPE_GARAGE_BIN` or the one `scripts/garage.sh
//! install` builds; without it the test fails and says how to get it — a
//! storage suite that skips its store proves nothing.

use moocpipe_storage::{S3Config, S3Store, S3Timeouts};
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Garage checks signatures against this region (`s3_region`).
pub const REGION: &str = "garage";

pub struct Garage {
    child: Option<Child>,
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub s3_port: u16,
    pub bucket: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl Garage {
    /// Starts a node and waits until its S3 port answers (the key and the
    /// bucket exist by then: Garage creates them before it listens).
    pub fn start() -> Garage {
        let bin = binary();
        let dir = tempfile::tempdir().expect("temp dir");
        let (rpc_port, s3_port) = free_ports();
        let bucket = format!("moocpipe-test-{}", random_hex(6));
        let access_key_id = format!("GK{}", random_hex(12));
        let secret_access_key = random_hex(32);
        let root = dir.path().display();
        let config = format!(
            r#"metadata_dir = "{root}/meta"
data_dir = "{root}/data"
db_engine = "sqlite"
replication_factor = 1
metadata_fsync = false
data_fsync = false
rpc_bind_addr = "127.0.0.1:{rpc_port}"
rpc_public_addr = "127.0.0.1:{rpc_port}"
rpc_secret = "{rpc_secret}"

[s3_api]
s3_region = "{REGION}"
api_bind_addr = "127.0.0.1:{s3_port}"
root_domain = ".s3.garage.localhost"
"#,
            rpc_secret = random_hex(32),
        );
        std::fs::write(dir.path().join("garage.toml"), config).expect("write garage.toml");
        let mut garage = Garage {
            child: None,
            dir,
            bin,
            s3_port,
            bucket,
            access_key_id,
            secret_access_key,
        };
        garage.spawn();
        garage
    }

    /// Runs the node on this folder's config and data, and waits until its
    /// S3 port answers.
    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("garage.log"))
            .expect("log file");
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(self.dir.path().join("garage.toml"))
            .args(["server", "--single-node", "--default-bucket"])
            .env("GARAGE_DEFAULT_ACCESS_KEY", &self.access_key_id)
            .env("GARAGE_DEFAULT_SECRET_KEY", &self.secret_access_key)
            .env("GARAGE_DEFAULT_BUCKET", &self.bucket)
            .env("RUST_LOG", "garage=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.bin.display()));
        self.child = Some(child);
        self.wait_for_port();
    }

    fn wait_for_port(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.s3_port)).is_ok() {
                return;
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                panic!("Garage exited ({status}) before listening:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "Garage did not listen on {} within 30 s:\n{}",
            self.s3_port,
            self.log()
        );
    }

    /// The node's folder (its `garage.toml`, data and log), for
    /// `scripts/garage.sh` commands that act on a node.
    #[allow(dead_code)] // used by the upload tests, not the storage ones
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("garage.log")).unwrap_or_default()
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3_port)
    }

    /// Settings for the node's bucket with its default (read-write) key.
    pub fn config(&self) -> S3Config {
        S3Config {
            endpoint: Some(self.endpoint()),
            region: REGION.to_string(),
            bucket: self.bucket.clone(),
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
            path_style: true,
            timeouts: S3Timeouts::default(),
        }
    }

    pub fn store(&self) -> S3Store {
        S3Store::new(&self.config()).expect("S3 store")
    }

    /// Runs the admin CLI against this node (over RPC, with its config)
    /// and returns its standard output; a failure fails the test.
    pub fn admin(&self, args: &[&str]) -> String {
        let out = Command::new(&self.bin)
            .arg("-c")
            .arg(self.dir.path().join("garage.toml"))
            .args(args)
            .env("RUST_LOG", "garage=warn")
            .output()
            .expect("run the garage CLI");
        assert!(
            out.status.success(),
            "garage {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// A second key allowed only to read the bucket: what a deployment gives
    /// the pipeline for the raw bucket. Returns (key id, secret).
    pub fn read_only_key(&self) -> (String, String) {
        let (id, secret) = (format!("GK{}", random_hex(12)), random_hex(32));
        self.admin(&["key", "import", "--yes", "-n", "read-only", &id, &secret]);
        self.admin(&["bucket", "allow", "--read", "--key", &id, &self.bucket]);
        (id, secret)
    }

    /// Starts the node again after [`Garage::stop`], on the same ports and
    /// data: a store that comes back after an outage.
    #[allow(dead_code)] // used by the distributed tests, not the storage ones
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Freezes the node (SIGSTOP): its port still accepts connections (the
    /// kernel queues them) but nothing answers — the store that hangs,
    /// which only time-outs can catch. [`Garage::thaw`] resumes it.
    #[allow(dead_code)]
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Resumes a frozen node (SIGCONT).
    #[allow(dead_code)]
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("the node runs").id();
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} {pid}: {status}");
    }

    /// Kills the node and waits for it: from here on its port refuses
    /// connections, as a crashed or unreachable store does.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // A frozen node dies of SIGKILL too, but resume it first so
            // nothing waits on it.
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        self.stop();
    }
}

fn binary() -> PathBuf {
    let bin = match std::env::var_os("MOOCPIPE_GARAGE_BIN") {
        Some(bin) => PathBuf::from(bin),
        None => {
            let home = std::env::var_os("HOME").expect("HOME is set");
            PathBuf::from(home).join(".cache/moocpipe/garage-2.5.0/bin/garage")
        }
    };
    assert!(
        bin.is_file(),
        "Garage 2.5.0 is not installed at {}: run `scripts/garage.sh install` \
         (builds it once, 10-20 min) or point MOOCPIPE_GARAGE_BIN at a garage binary",
        bin.display()
    );
    bin
}

/// Two ports free now; both held until both are known, so they differ.
fn free_ports() -> (u16, u16) {
    let a = TcpListener::bind("127.0.0.1:0").expect("bind");
    let b = TcpListener::bind("127.0.0.1:0").expect("bind");
    let ports = (
        a.local_addr().expect("addr").port(),
        b.local_addr().expect("addr").port(),
    );
    drop((a, b));
    ports
}

pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("read /dev/urandom");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}
