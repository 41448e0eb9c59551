//! One distributed pipeline for a test: the real moocpipe binary as separate
//! worker processes (ingest, probe, transcode, caption, report), a real
//! RabbitMQ (127.0.0.1:5672, a random queue prefix per pipeline), a real
//! Garage node with two buckets and three keys (the studio's uploader, the
//! workers' read-only key for the raw bucket, their read-write key for the
//! media bucket), a PostgreSQL database of its own for the control plane,
//! and the SMTP and webhook servers that capture the author notices.
//!
//! The end-to-end tests (`tests/distributed.rs`) and the fault suite
//! ([`crate::faults`]) both drive it.

use crate::garage::{random_hex, Garage, REGION};
use crate::{cli::moocpipe_bin, media};
use lapin::options::BasicPublishOptions;
use lapin::types::FieldTable;
use lapin::BasicProperties;
use moocpipe_broker::{AmqpConfig, Topology, DEFAULT_AMQP_URL};
use moocpipe_notify::capture::{CaptureServer, CapturedMail, WebhookServer};
use moocpipe_proto::{PublishedRecord, TakeVerdict};
use moocpipe_storage::{ObjectMeta, ObjectStore, S3Config, S3Store};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const AUTHOR: &str = "lecturer@university.example";
/// Who [`Pipeline::spawn_dashboard`] logs in as, and every dashboard
/// user's password.
pub const DASHBOARD_USER: &str = "watcher";
pub const DASHBOARD_PASSWORD: &str = "dashboard password";
pub const KEY: &str = "physics-101/01-mechanics/02-newton/take-01.mov";

/// One pipeline: the store, the broker prefix, the capture server and the
/// worker processes (killed when the test ends).
pub struct Pipeline {
    pub garage: Garage,
    pub raw_bucket: String,
    /// The studio's key: writes the raw bucket.
    pub uploader: S3Store,
    /// Its id and secret (what `moocpipe serve` gets for browser uploads).
    pub uploader_key: (String, String),
    /// The workers' key for the media bucket (the node's default key).
    pub media: S3Store,
    /// The workers' key for the raw bucket: read only.
    pub raw_read_only: (String, String),
    pub prefix: String,
    pub smtp: CaptureServer,
    pub webhook: WebhookServer,
    pub work: tempfile::TempDir,
    pub workers: Vec<(String, Child)>,
    /// The control database (leases, job state) of this test alone.
    pub database: Database,
    /// Where the processes export their spans (`OTEL_EXPORTER_OTLP_ENDPOINT`);
    /// `None`: nowhere, as in production without a collector.
    pub otlp_endpoint: Option<String>,
    /// The link key every process gets (`MOOCPIPE_LINK_KEY`).
    pub link_key: String,
    /// Where `spawn_dashboard` listens: the address links carry
    /// (`MOOCPIPE_PUBLIC_URL`).
    pub public_url: String,
    /// More variables for every process this pipeline starts.
    pub extra_env: Vec<(String, String)>,
}

/// A database of one test's own on the test server
/// (`MOOCPIPE_TEST_DATABASE_URL`, default the machine's PostgreSQL; start
/// one with `scripts/postgres.sh ensure`), through `psql`; dropped with the
/// pipeline.
pub struct Database {
    pub admin_url: String,
    pub name: String,
    pub url: String,
}

impl Database {
    pub fn create() -> Database {
        let admin_url = std::env::var("MOOCPIPE_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let name = format!("moocpipe_e2e_{}", random_hex(6));
        Database::psql(&admin_url, &format!("CREATE DATABASE {name}"));
        let (base, query) = match admin_url.split_once('?') {
            Some((base, query)) => (base, format!("?{query}")),
            None => (admin_url.as_str(), String::new()),
        };
        let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
        let url = format!("{server}/{name}{query}");
        Database {
            admin_url,
            name,
            url,
        }
    }

    /// Runs `sql` with psql; its unaligned output.
    pub fn psql(url: &str, sql: &str) -> String {
        let out = Command::new("psql")
            .args([
                url,
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ])
            .output()
            .expect("run psql (Debian's postgresql-client)");
        assert!(
            out.status.success(),
            "psql {sql:?}: {}\nIs PostgreSQL running? `scripts/postgres.sh ensure`",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    pub fn query(&self, sql: &str) -> String {
        Database::psql(&self.url, sql)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                &self.admin_url,
                "-X",
                "-q",
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

impl Pipeline {
    pub async fn start() -> Pipeline {
        let database = Database::create();
        let garage = Garage::start();
        let raw_bucket = format!("raw-{}", random_hex(4));
        garage.admin(&["bucket", "create", &raw_bucket]);
        let (up_id, up_secret) = (format!("GK{}", random_hex(12)), random_hex(32));
        garage.admin(&[
            "key", "import", "--yes", "-n", "uploader", &up_id, &up_secret,
        ]);
        garage.admin(&[
            "bucket",
            "allow",
            "--read",
            "--write",
            "--key",
            &up_id,
            &raw_bucket,
        ]);
        let (ro_id, ro_secret) = (format!("GK{}", random_hex(12)), random_hex(32));
        garage.admin(&[
            "key",
            "import",
            "--yes",
            "-n",
            "workers-raw",
            &ro_id,
            &ro_secret,
        ]);
        garage.admin(&["bucket", "allow", "--read", "--key", &ro_id, &raw_bucket]);
        let bucket_config = |bucket: &str, id: &str, secret: &str| S3Config {
            bucket: bucket.to_string(),
            access_key_id: id.to_string(),
            secret_access_key: secret.to_string(),
            ..garage.config()
        };
        let uploader =
            S3Store::new(&bucket_config(&raw_bucket, &up_id, &up_secret)).expect("uploader");
        let media = garage.store();
        let smtp = CaptureServer::start().await.expect("SMTP capture server");
        let webhook = WebhookServer::start()
            .await
            .expect("webhook capture server");
        let work = tempfile::tempdir().expect("tempdir");
        // tiny.en keeps the caption stage quick; `moocpipe models fetch` (the
        // test script) put it in the cache.
        std::fs::write(
            work.path().join("moocpipe.toml"),
            "[caption]\nmodel = \"tiny.en\"\n",
        )
        .expect("config");
        Pipeline {
            garage,
            raw_bucket,
            uploader,
            uploader_key: (up_id, up_secret),
            media,
            raw_read_only: (ro_id, ro_secret),
            prefix: format!("e2e-{}", random_hex(4)),
            smtp,
            webhook,
            work,
            workers: Vec::new(),
            database,
            otlp_endpoint: None,
            link_key: random_hex(32),
            public_url: format!("http://127.0.0.1:{}", free_port()),
            extra_env: Vec::new(),
        }
    }

    pub fn env(&self, command: &mut Command) {
        let (ro_id, ro_secret) = &self.raw_read_only;
        command
            .env("MOOCPIPE_CONFIG", self.work.path().join("moocpipe.toml"))
            .env("MOOCPIPE_S3_ENDPOINT", self.garage.endpoint())
            .env("MOOCPIPE_S3_REGION", REGION)
            .env("MOOCPIPE_S3_BUCKET", &self.garage.bucket)
            .env("MOOCPIPE_S3_ACCESS_KEY_ID", &self.garage.access_key_id)
            .env(
                "MOOCPIPE_S3_SECRET_ACCESS_KEY",
                &self.garage.secret_access_key,
            )
            .env("MOOCPIPE_RAW_S3_BUCKET", &self.raw_bucket)
            .env("MOOCPIPE_RAW_S3_ACCESS_KEY_ID", ro_id)
            .env("MOOCPIPE_RAW_S3_SECRET_ACCESS_KEY", ro_secret)
            .env("MOOCPIPE_AMQP_URL", DEFAULT_AMQP_URL)
            .env("MOOCPIPE_QUEUE_PREFIX", &self.prefix)
            .env("MOOCPIPE_DATABASE_URL", &self.database.url)
            .env("MOOCPIPE_SMTP_URL", self.smtp.url())
            .env("MOOCPIPE_WEBHOOK_URL", self.webhook.url())
            .env("MOOCPIPE_SCRATCH_DIR", self.work.path().join("scratch"))
            .env("MOOCPIPE_LINK_KEY", &self.link_key)
            .env("MOOCPIPE_PUBLIC_URL", &self.public_url)
            .env("MOOCPIPE_LOG", "info")
            .envs(self.extra_env.iter().map(|(k, v)| (k, v)));
        if let Some(endpoint) = &self.otlp_endpoint {
            // Each process names itself (moocpipe-<role>); spans are sent
            // every 200 ms rather than every 5 s, so a test need not wait.
            command
                .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
                .env("OTEL_BSP_SCHEDULE_DELAY", "200");
        }
    }

    /// Starts `moocpipe <args>` in the background, its log in the work folder.
    pub fn spawn(&mut self, name: &str, args: &[&str]) {
        self.spawn_with(name, &[], args, |_| {});
    }

    /// Starts `<wrapper…> moocpipe <args>` in the background (a wrapper
    /// such as `ip netns exec NS` runs it elsewhere), with this pipeline's
    /// environment changed by `adjust`; its log goes to the work folder
    /// (appended, so a worker restarted under the same name keeps one log).
    pub fn spawn_with(
        &mut self,
        name: &str,
        wrapper: &[&str],
        args: &[&str],
        adjust: impl FnOnce(&mut Command),
    ) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(name))
            .expect("log");
        let mut command = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut command = Command::new(program);
                command.args(rest).arg(moocpipe_bin());
                command
            }
            None => Command::new(moocpipe_bin()),
        };
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        self.env(&mut command);
        adjust(&mut command);
        let child = command.spawn().expect("start a moocpipe worker");
        self.workers.push((name.to_string(), child));
    }

    /// `moocpipe serve` over this pipeline (catalog in its database, media
    /// from its bucket, dead letters from its broker), with a user of
    /// `role` logged in through the API. Returns the logged-in client.
    pub fn spawn_dashboard(&mut self, role: &str) -> ApiClient {
        self.spawn_dashboard_with(role, |_| {})
    }

    /// [`Pipeline::spawn_dashboard`] with the server's environment changed
    /// by `adjust`. The user is [`DASHBOARD_USER`] with
    /// [`DASHBOARD_PASSWORD`].
    pub fn spawn_dashboard_with(
        &mut self,
        role: &str,
        adjust: impl FnOnce(&mut Command),
    ) -> ApiClient {
        self.add_user(DASHBOARD_USER, role);
        let listen = self.public_url.trim_start_matches("http://").to_owned();
        self.spawn_with("serve", &[], &["serve", "--listen", &listen], adjust);
        let client = ApiClient::new(&format!("http://{listen}"), self.work.path());
        client.log_in(DASHBOARD_USER, DASHBOARD_PASSWORD);
        client
    }

    /// A user of the dashboard's catalog, with [`DASHBOARD_PASSWORD`].
    pub fn add_user(&self, name: &str, role: &str) {
        crate::browser::add_user_with(&[], name, role, DASHBOARD_PASSWORD, |c| self.env(c));
    }

    pub fn log_path(&self, name: &str) -> PathBuf {
        self.work.path().join(format!("{name}.log"))
    }

    /// Every worker, each with a short lease so a killed one is noticed
    /// soon. Returns where the probe and the caption workers serve /metrics.
    pub fn spawn_all(&mut self) -> (String, String) {
        self.spawn(
            "ingest",
            &["ingest", "--scan-interval-secs", "1", "--lease-secs", "4"],
        );
        let metrics = format!("127.0.0.1:{}", free_port());
        let caption_metrics = format!("127.0.0.1:{}", free_port());
        for stage in ["probe", "transcode", "caption", "report"] {
            let mut args = vec![
                "worker",
                stage,
                "--lease-secs",
                "4",
                "--shutdown-grace-secs",
                "2",
            ];
            if stage == "probe" {
                args.extend(["--metrics-addr", &metrics]);
            }
            if stage == "caption" {
                args.extend(["--metrics-addr", &caption_metrics]);
            }
            self.spawn(stage, &args);
        }
        (metrics, caption_metrics)
    }

    /// `moocpipe <args>` to its end, with this pipeline's environment.
    pub fn run(&self, args: &[&str]) -> std::process::Output {
        let mut command = Command::new(moocpipe_bin());
        command.args(args);
        self.env(&mut command);
        command.output().expect("run moocpipe")
    }

    pub fn logs(&self) -> String {
        self.workers
            .iter()
            .map(|(name, _)| {
                let text = std::fs::read_to_string(self.log_path(name)).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(40).collect();
                format!(
                    "--- {name} (last lines)\n{}\n",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect()
    }

    /// Uploads a private copy of `file` (a cached test medium another test
    /// may be regenerating with other header bytes) and returns the object's
    /// metadata and the copy, which [`Pipeline::assert_raw_unchanged`]
    /// compares the object with at the end.
    pub async fn upload(&self, key: &str, file: &Path) -> (ObjectMeta, PathBuf) {
        let dir = self.work.path().join("uploads");
        std::fs::create_dir_all(&dir).expect("uploads folder");
        let copy = dir.join(key.replace('/', "_"));
        std::fs::copy(file, &copy).expect("copy the take");
        self.uploader
            .put_file(key, &copy, "video/quicktime")
            .await
            .expect("upload the take");
        let meta = self
            .uploader
            .head(key)
            .await
            .expect("head")
            .expect("uploaded");
        (meta, copy)
    }

    /// Waits for a JSON record in the media bucket.
    pub async fn wait_for<T: serde::de::DeserializeOwned>(&self, key: &str, within: Duration) -> T {
        let deadline = Instant::now() + within;
        loop {
            match self.media.get_json::<T>(key).await {
                Ok(Some(value)) => return value,
                Ok(None) | Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await
                }
                other => panic!(
                    "{key} did not appear within {within:?} ({:?})\n{}",
                    other.err(),
                    self.logs()
                ),
            }
        }
    }

    /// Waits for `takes/<take_id>/records/<name>.json`.
    pub async fn record<T: serde::de::DeserializeOwned>(
        &self,
        take_id: &str,
        name: &str,
        within: Duration,
    ) -> T {
        self.wait_for(&format!("takes/{take_id}/records/{name}.json"), within)
            .await
    }

    /// Waits for the published record of a compliant take and checks it
    /// is complete: the spec and the renditions passed, captions present.
    pub async fn published_in_full(&self, take_id: &str) -> PublishedRecord {
        let published: PublishedRecord = self
            .record(take_id, "published", Duration::from_secs(600))
            .await;
        assert_eq!(published.spec, TakeVerdict::Pass, "{published:?}");
        assert_eq!(
            published.transcode,
            Some(TakeVerdict::Pass),
            "{published:?}"
        );
        assert_eq!(published.captions_missing, None, "{published:?}");
        published
    }

    /// The raw object is the uploaded one, ETag and bytes.
    pub async fn assert_raw_unchanged(&self, key: &str, uploaded: &ObjectMeta, source: &Path) {
        let after = self
            .uploader
            .head(key)
            .await
            .expect("head")
            .expect("still there");
        assert_eq!(after.etag, uploaded.etag, "the raw take's ETag changed");
        let bytes = self.uploader.get_bytes(key).await.expect("raw bytes");
        assert!(
            bytes == std::fs::read(source).expect("source"),
            "the raw take changed"
        );
    }

    /// No scratch copy is left once the jobs are done, whatever happened to
    /// the workers that made them.
    pub fn assert_scratch_empty(&self) {
        let dir = self.work.path().join("scratch");
        let left: Vec<String> = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            left.is_empty(),
            "scratch copies left in {}: {left:?}",
            dir.display()
        );
    }

    pub fn topology(&self) -> Topology {
        Topology::new(self.prefix.clone())
    }

    /// The dead letters of `stage`, as `moocpipe dlq list` prints them.
    pub fn dead_letters(&self, stage: &str) -> Vec<String> {
        let out = self.run(&["dlq", "list", stage]);
        assert!(
            out.status.success(),
            "dlq list: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.contains("no dead letters"))
            .map(str::to_owned)
            .collect()
    }

    /// Removes a worker from the pipeline to stop it by hand.
    pub fn take_worker(&mut self, name: &str) -> Child {
        let index = self
            .workers
            .iter()
            .position(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no worker {name}"));
        self.workers.remove(index).1
    }

    /// Waits until a worker holds the `stage` job of `take_id` — running,
    /// its lease live — under a fencing token other than `other`, and
    /// returns the token. The leases live in the control database's `jobs`
    /// table.
    pub async fn lease_holder(&self, stage: &str, take_id: &str, other: Option<&str>) -> String {
        let sql = format!(
            "SELECT fence FROM jobs WHERE stage = '{stage}' AND take_id = '{take_id}' \
             AND state = 'running' AND lease_expires > now()"
        );
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let token = self.database.query(&sql);
            if !token.is_empty() && Some(token.as_str()) != other {
                return token;
            }
            assert!(
                Instant::now() < deadline,
                "nobody took the {stage} job of {take_id}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn worker_alive(&mut self, name: &str) -> bool {
        self.workers
            .iter_mut()
            .find(|(n, _)| n == name)
            .is_some_and(|(_, child)| child.try_wait().ok().flatten().is_none())
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        for (_, child) in &mut self.workers {
            let _ = child.kill();
            let _ = child.wait();
        }
        // The topology of this test's prefix goes with it.
        let topology = self.topology();
        let _ = tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async {
                let connection = AmqpConfig::new(DEFAULT_AMQP_URL).connect().await?;
                let channel = connection.create_channel().await?;
                moocpipe_broker::topology::delete(&channel, &topology).await
            })
        });
    }
}

/// A take of known speech, with the author's sidecar.
pub fn spoken_take() -> PathBuf {
    let wav = media::spoken(
        "e2e-greeting",
        "en-us",
        "Welcome to the course. Today we talk about Newton's laws of motion.",
    );
    media::prores_take_with_sound("e2e-greeting-take", &wav)
}

pub fn sidecar() -> Vec<u8> {
    format!(r#"{{"title": "Newton's laws", "author_email": "{AUTHOR}", "language": "en"}}"#)
        .into_bytes()
}

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// The body of a GET with curl, a plain HTTP client, redirects followed
/// (a stable link answers 302); fails the test on
/// any error or non-2xx answer.
pub fn curl(url: &str) -> Vec<u8> {
    let out = Command::new("curl")
        .args(["-sSL", "--fail", url])
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A JSON API client with a session (curl and a cookie jar).
pub struct ApiClient {
    pub base: String,
    jar: PathBuf,
    /// The session's CSRF token, from the login's answer.
    csrf: std::sync::Mutex<String>,
}

impl ApiClient {
    pub fn new(base: &str, dir: &Path) -> ApiClient {
        ApiClient {
            base: base.to_owned(),
            jar: dir.join(format!("cookies-{}.txt", free_port())),
            csrf: std::sync::Mutex::new(String::new()),
        }
    }

    /// Logs in, waiting up to 60 s for the server to answer.
    pub fn log_in(&self, name: &str, password: &str) {
        let body = serde_json::json!({"name": name, "password": password}).to_string();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let out = Command::new("curl")
                .args(["-sS", "--fail", "-c"])
                .arg(&self.jar)
                .args(["-H", "content-type: application/json", "-d", &body])
                .arg(format!("{}/api/v1/session", self.base))
                .output()
                .expect("run curl");
            if out.status.success() {
                let session: serde_json::Value =
                    serde_json::from_slice(&out.stdout).unwrap_or_default();
                if let (Some(token), Ok(mut csrf)) =
                    (session["csrf_token"].as_str(), self.csrf.lock())
                {
                    *csrf = token.to_owned();
                }
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "log in to {}: {}",
                self.base,
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `method path` with a JSON body (if any) and the session's CSRF
    /// token: the HTTP status and the answer (`Null` when it is not JSON).
    pub fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let csrf = self
            .get("/api/v1/me")
            .and_then(|me| me["csrf_token"].as_str().map(str::to_owned))
            .unwrap_or_default();
        self.send_raw(
            method,
            path,
            body.map(|b| b.to_string()).as_deref(),
            Some(&csrf),
        )
    }

    /// `method path` with `body` sent as is (JSON or not) and `csrf` in
    /// `x-csrf-token`: the HTTP status and the answer.
    pub fn send_raw(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        csrf: Option<&str>,
    ) -> (u16, serde_json::Value) {
        let mut command = Command::new("curl");
        command
            .args(["-sS", "-X", method, "-b"])
            .arg(&self.jar)
            .args(["-w", "\n%{http_code}"]);
        if let Some(csrf) = csrf {
            command.args(["-H", &format!("x-csrf-token: {csrf}")]);
        }
        if let Some(body) = body {
            command.args([
                "-H",
                "content-type: application/json",
                "--data-binary",
                body,
            ]);
        }
        let out = command
            .arg(format!("{}{path}", self.base))
            .output()
            .expect("run curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (answer, status) = text.rsplit_once('\n').unwrap_or(("", &text));
        (
            status.trim().parse().unwrap_or(0),
            serde_json::from_str(answer).unwrap_or(serde_json::Value::Null),
        )
    }

    /// GET `path` as JSON; `None` on a non-2xx answer.
    pub fn get(&self, path: &str) -> Option<serde_json::Value> {
        let out = Command::new("curl")
            .args(["-sS", "--fail", "-b"])
            .arg(&self.jar)
            .arg(format!("{}{path}", self.base))
            .output()
            .expect("run curl");
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }
}

impl ApiClient {
    /// POST `path` (no body) with the session's CSRF token: the status and
    /// the JSON answer.
    pub fn post(&self, path: &str) -> (u16, serde_json::Value) {
        let csrf = self.csrf.lock().map(|c| c.clone()).unwrap_or_default();
        let out = Command::new("curl")
            .args(["-sS", "-X", "POST", "-w", "\n%{http_code}", "-b"])
            .arg(&self.jar)
            .args(["-H", &format!("x-csrf-token: {csrf}")])
            .arg(format!("{}{path}", self.base))
            .output()
            .expect("run curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, status) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (
            status.trim().parse().unwrap_or(0),
            serde_json::from_str(body).unwrap_or_default(),
        )
    }
}

/// The stable link the webhook got for `take_id` (the notice's `page`).
pub fn stable_link(p: &Pipeline, take_id: &str) -> String {
    let hooks = p.webhook.requests();
    let hook = hooks
        .iter()
        .find(|h| h.header("idempotency-key") == Some(take_id))
        .unwrap_or_else(|| panic!("no notice of {take_id}: {hooks:#?}"));
    let payload = hook.json().expect("JSON");
    payload["page"]
        .as_str()
        .unwrap_or_else(|| panic!("the notice names the take's page: {payload}"))
        .to_owned()
}

/// An HTTP answer as curl saw it, redirects not followed.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub status: u16,
    /// The `Location` header, of a redirect.
    pub location: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// GET `url` without following redirects.
pub fn fetch(url: &str) -> Fetched {
    let dir = tempfile::tempdir().expect("tempdir");
    let headers = dir.path().join("headers");
    let body = dir.path().join("body");
    let out = Command::new("curl")
        .args(["-sS", "-o"])
        .arg(&body)
        .arg("-D")
        .arg(&headers)
        .args(["-w", "%{http_code}", url])
        .output()
        .expect("run curl");
    let status = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    let headers = std::fs::read_to_string(&headers).unwrap_or_default();
    let header = |name: &str| {
        headers.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    };
    Fetched {
        status,
        location: header("location"),
        content_type: header("content-type"),
        body: std::fs::read(&body).unwrap_or_default(),
    }
}

/// `curl URL` as text.
pub fn http_get(url: &str) -> String {
    String::from_utf8_lossy(&curl(url)).into_owned()
}

/// The sum of every sample of `/metrics` text whose series starts with
/// `prefix` (a name, or a name with its first labels); `None` when none does.
pub fn metric(text: &str, prefix: &str) -> Option<f64> {
    let values: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

/// Downloads a presigned link with curl.
pub fn download(url: &str, to: &Path) {
    std::fs::write(to, curl(url)).expect("write the download");
}

pub fn notices_to(mails: &[CapturedMail], to: &str) -> usize {
    mails
        .iter()
        .filter(|m| m.to.iter().any(|t| t.contains(to)))
        .count()
}

/// Publishes `body` to a queue through the default exchange, optionally
/// with no headers at all (not a moocpipe message).
pub async fn publish_raw(queue: &str, body: Vec<u8>, declare: bool) {
    let connection = AmqpConfig::new(DEFAULT_AMQP_URL)
        .connect()
        .await
        .expect("connect");
    let channel = connection.create_channel().await.expect("channel");
    if declare {
        channel
            .queue_declare(
                queue,
                lapin::options::QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("declare");
    }
    channel
        .confirm_select(Default::default())
        .await
        .expect("confirms");
    channel
        .basic_publish(
            "",
            queue,
            BasicPublishOptions::default(),
            &body,
            BasicProperties::default(),
        )
        .await
        .expect("publish")
        .await
        .expect("confirmed");
    let _ = connection.close(200, "done").await;
}
