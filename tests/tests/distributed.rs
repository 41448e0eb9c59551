//! The distributed mode end to end: the real moocpipe binary as separate
//! worker processes (ingest, probe, transcode, caption, report), a real
//! RabbitMQ (127.0.0.1:5672, a random queue prefix per test), a real Garage
//! node per test with two buckets and three keys (the studio's uploader,
//! the workers' read-only key for the raw bucket, their read-write key for
//! the media bucket), and an SMTP server that captures the author notices.

#[path = "../../services/broker/tests/support/consumer_timeout.rs"]
mod consumer_timeout;
#[path = "../../services/storage/tests/garage/mod.rs"]
#[allow(dead_code)] // the storage tests use all of it, these tests part
mod garage;

use garage::{random_hex, Garage, REGION};
use lapin::options::BasicPublishOptions;
use lapin::types::FieldTable;
use lapin::BasicProperties;
use moocpipe_broker::{AmqpConfig, Stage, Topology, DEFAULT_AMQP_URL};
use moocpipe_notify::capture::{CaptureServer, CapturedMail, WebhookServer};
use moocpipe_proto::{ProbeRecord, PublishedRecord, TakeVerdict, TranscodeRecord};
use moocpipe_storage::{ObjectMeta, ObjectStore, S3Config, S3Store, StorageError};
use moocpipe_tests::{cli::moocpipe_bin, media};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const AUTHOR: &str = "lecturer@university.example";
const KEY: &str = "physics-101/01-mechanics/02-newton/take-01.mov";

/// One pipeline: the store, the broker prefix, the capture server and the
/// worker processes (killed when the test ends).
struct Pipeline {
    garage: Garage,
    raw_bucket: String,
    /// The studio's key: writes the raw bucket.
    uploader: S3Store,
    /// The workers' key for the media bucket (the node's default key).
    media: S3Store,
    /// The workers' key for the raw bucket: read only.
    raw_read_only: (String, String),
    prefix: String,
    smtp: CaptureServer,
    webhook: WebhookServer,
    work: tempfile::TempDir,
    workers: Vec<(String, Child)>,
    /// The control database (leases, job state) of this test alone.
    database: Database,
}

/// A database of one test's own on the test server
/// (`MOOCPIPE_TEST_DATABASE_URL`, default the machine's PostgreSQL; start
/// one with `scripts/postgres.sh ensure`), through `psql`; dropped with the
/// pipeline.
struct Database {
    admin_url: String,
    name: String,
    url: String,
}

impl Database {
    fn create() -> Database {
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
    fn psql(url: &str, sql: &str) -> String {
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

    fn query(&self, sql: &str) -> String {
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
    async fn start() -> Pipeline {
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
            media,
            raw_read_only: (ro_id, ro_secret),
            prefix: format!("e2e-{}", random_hex(4)),
            smtp,
            webhook,
            work,
            workers: Vec::new(),
            database,
        }
    }

    fn env(&self, command: &mut Command) {
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
            .env("MOOCPIPE_LOG", "info");
    }

    /// Starts `moocpipe <args>` in the background, its log in the work folder.
    fn spawn(&mut self, name: &str, args: &[&str]) {
        let log = std::fs::File::create(self.log_path(name)).expect("log");
        let mut command = Command::new(moocpipe_bin());
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        self.env(&mut command);
        let child = command.spawn().expect("start a moocpipe worker");
        self.workers.push((name.to_string(), child));
    }

    fn log_path(&self, name: &str) -> PathBuf {
        self.work.path().join(format!("{name}.log"))
    }

    /// Every worker, each with a short lease so a killed one is noticed
    /// soon. Returns where the probe and the caption workers serve /metrics.
    fn spawn_all(&mut self) -> (String, String) {
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
    fn run(&self, args: &[&str]) -> std::process::Output {
        let mut command = Command::new(moocpipe_bin());
        command.args(args);
        self.env(&mut command);
        command.output().expect("run moocpipe")
    }

    fn logs(&self) -> String {
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
    async fn upload(&self, key: &str, file: &Path) -> (ObjectMeta, PathBuf) {
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
    async fn wait_for<T: serde::de::DeserializeOwned>(&self, key: &str, within: Duration) -> T {
        let deadline = Instant::now() + within;
        loop {
            match self.media.get_json::<T>(key).await {
                Ok(Some(value)) => return value,
                Ok(None) | Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(500)).await
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
    async fn record<T: serde::de::DeserializeOwned>(
        &self,
        take_id: &str,
        name: &str,
        within: Duration,
    ) -> T {
        self.wait_for(&format!("takes/{take_id}/records/{name}.json"), within)
            .await
    }

    /// The raw object is the uploaded one, ETag and bytes.
    async fn assert_raw_unchanged(&self, key: &str, uploaded: &ObjectMeta, source: &Path) {
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
    fn assert_scratch_empty(&self) {
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

    fn topology(&self) -> Topology {
        Topology::new(self.prefix.clone())
    }

    /// The dead letters of `stage`, as `moocpipe dlq list` prints them.
    fn dead_letters(&self, stage: &str) -> Vec<String> {
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
    fn take_worker(&mut self, name: &str) -> Child {
        let index = self
            .workers
            .iter()
            .position(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no worker {name}"));
        self.workers.remove(index).1
    }

    /// Waits until a worker holds the lease named `key`
    /// (`leases/<stage>/<take id>.json`, as the leases were once named in
    /// the bucket) — running, live — under a fencing token other than
    /// `other`, and returns the token. The leases live in the control
    /// database's `jobs` table.
    async fn lease_holder(&self, key: &str, other: Option<&str>) -> String {
        let (stage, take_id) = key
            .strip_prefix("leases/")
            .and_then(|rest| rest.strip_suffix(".json"))
            .and_then(|rest| rest.split_once('/'))
            .unwrap_or_else(|| panic!("not a lease name: {key}"));
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
                "nobody took the job ({key})\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn worker_alive(&mut self, name: &str) -> bool {
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
fn spoken_take() -> PathBuf {
    let wav = media::spoken(
        "e2e-greeting",
        "en-us",
        "Welcome to the course. Today we talk about Newton's laws of motion.",
    );
    media::prores_take_with_sound("e2e-greeting-take", &wav)
}

fn sidecar() -> Vec<u8> {
    format!(r#"{{"title": "Newton's laws", "author_email": "{AUTHOR}", "language": "en"}}"#)
        .into_bytes()
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// The body of a GET with curl, a plain HTTP client; fails the test on
/// any error or non-2xx answer.
fn curl(url: &str) -> Vec<u8> {
    let out = Command::new("curl")
        .args(["-sS", "--fail", url])
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `curl URL` as text.
fn http_get(url: &str) -> String {
    String::from_utf8_lossy(&curl(url)).into_owned()
}

/// The sum of every sample of `/metrics` text whose series starts with
/// `prefix` (a name, or a name with its first labels); `None` when none does.
fn metric(text: &str, prefix: &str) -> Option<f64> {
    let values: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

/// Downloads a presigned link with curl.
fn download(url: &str, to: &Path) {
    std::fs::write(to, curl(url)).expect("write the download");
}

fn notices_to(mails: &[CapturedMail], to: &str) -> usize {
    mails
        .iter()
        .filter(|m| m.to.iter().any(|t| t.contains(to)))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_seen_three_ways_becomes_one_published_take_with_working_links_and_one_notice() {
    let mut p = Pipeline::start().await;
    let (metrics, caption_metrics) = p.spawn_all();
    let take = spoken_take();
    let sidecar_key = KEY.replace(".mov", ".json");
    p.uploader
        .put_bytes(&sidecar_key, sidecar(), "application/json")
        .await
        .expect("upload the sidecar");
    let (uploaded, sent) = p.upload(KEY, &take).await;
    let take_id = moocpipe_ingest::take_id(&p.raw_bucket, KEY, &uploaded.etag);

    // Way 2: `moocpipe submit`. Way 3: an S3 event (the scan is way 1).
    let uri = format!("s3://{}/{KEY}", p.raw_bucket);
    let out = p.run(&["submit", &uri]);
    assert!(
        out.status.success(),
        "submit: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&take_id));
    let events_queue = format!("{}.s3-events", p.prefix);
    p.spawn(
        "ingest-events",
        &[
            "ingest",
            "--scan-interval-secs",
            "0",
            "--events-queue",
            &events_queue,
        ],
    );
    let event = serde_json::json!({"Records": [{
        "eventName": "ObjectCreated:CompleteMultipartUpload",
        "s3": {"bucket": {"name": p.raw_bucket}, "object": {"key": KEY, "eTag": uploaded.etag, "size": uploaded.size}}
    }]});
    publish_raw(
        &events_queue,
        serde_json::to_vec(&event).expect("json"),
        true,
    )
    .await;

    let published: PublishedRecord = p
        .record(&take_id, "published", Duration::from_secs(600))
        .await;
    assert_eq!(published.spec, TakeVerdict::Pass, "{published:?}");
    assert_eq!(
        published.transcode,
        Some(TakeVerdict::Pass),
        "{published:?}"
    );
    assert_eq!(published.captions_missing, None, "{published:?}");
    let transcode: TranscodeRecord = p
        .record(&take_id, "transcode", Duration::from_secs(1))
        .await;
    let names: Vec<&str> = published.links.iter().map(|l| l.name.as_str()).collect();
    for rendition in &transcode.renditions {
        assert!(names.contains(&rendition.name.as_str()), "{names:?}");
    }
    assert!(
        names.contains(&"captions.vtt") && names.contains(&"captions.srt"),
        "{names:?}"
    );

    // Every link downloads with a plain HTTP client and matches the object.
    let dir = tempfile::tempdir().expect("tempdir");
    for link in &published.links {
        let file = dir.path().join(&link.name);
        download(&link.url, &file);
        let got = std::fs::read(&file).expect("downloaded");
        assert_eq!(got.len() as u64, link.size_bytes, "{}", link.name);
        let stored = p.media.get_bytes(&link.key).await.expect("stored object");
        assert!(
            got == stored,
            "{}: downloaded bytes differ from the stored object",
            link.name
        );
    }
    let vtt = std::fs::read_to_string(dir.path().join("captions.vtt")).expect("vtt");
    assert!(vtt.starts_with("WEBVTT"), "{vtt}");
    assert!(vtt.to_lowercase().contains("newton"), "{vtt}");

    // Exactly one notice, to the sidecar's author, with the links; the
    // webhook got the same content once, keyed by the take id.
    p.smtp.wait_for(1, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mails = p.smtp.messages();
    assert_eq!(notices_to(&mails, AUTHOR), 1, "{mails:#?}");
    let body = &mails[0].data;
    assert!(body.contains(&format!("take-{take_id}@moocpipe")), "{body}");
    let subject = mails[0].header("subject").unwrap_or_default();
    assert!(subject.contains("is ready: Newton's laws"), "{subject}");
    let hooks = p.webhook.requests();
    assert_eq!(hooks.len(), 1, "{hooks:#?}");
    assert_eq!(hooks[0].header("idempotency-key"), Some(take_id.as_str()));
    let payload: PublishedRecord =
        serde_json::from_value(hooks[0].json().expect("JSON")).expect("a published record");
    assert_eq!(payload.links, published.links);

    // One take, one set of outputs: the three ways made one take id.
    let takes: std::collections::BTreeSet<String> = p
        .media
        .list("takes/")
        .await
        .expect("list")
        .iter()
        .filter_map(|k| k.split('/').nth(1).map(str::to_owned))
        .collect();
    assert_eq!(takes.into_iter().collect::<Vec<_>>(), vec![take_id.clone()]);
    let report = p
        .media
        .get_bytes("courses/physics-101/reports/segments.json")
        .await
        .expect("the course report");
    let report: moocpipe_proto::SegmentReport =
        serde_json::from_slice(&report).expect("report JSON");
    let counted: Vec<&str> = report
        .modules
        .iter()
        .flat_map(|m| m.lessons.iter())
        .flat_map(|l| l.takes.iter())
        .map(|t| t.take_id.as_str())
        .collect();
    assert_eq!(counted, vec![take_id.as_str()], "{report:?}");

    // The workers could not have written the raw bucket, and did not.
    let (ro_id, ro_secret) = &p.raw_read_only;
    let read_only = S3Store::new(&S3Config {
        bucket: p.raw_bucket.clone(),
        access_key_id: ro_id.clone(),
        secret_access_key: ro_secret.clone(),
        ..p.garage.config()
    })
    .expect("read-only store");
    let denied = read_only
        .put_bytes("physics-101/x.json", b"{}".to_vec(), "application/json")
        .await;
    assert!(
        matches!(denied, Err(StorageError::AccessDenied { .. })),
        "{denied:?}"
    );
    p.assert_raw_unchanged(KEY, &uploaded, &sent).await;
    for name in ["probe", "transcode", "caption", "report"] {
        assert!(p.worker_alive(name), "the {name} worker died\n{}", p.logs());
    }
    p.assert_scratch_empty();

    // The probe worker's metrics saw its jobs: one probe (the duplicates
    // were dropped at ingest), bytes read from the raw bucket.
    let health: serde_json::Value =
        serde_json::from_str(&http_get(&format!("http://{metrics}/healthz"))).expect("JSON");
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["failing"], serde_json::json!([]), "{health}");
    let text = http_get(&format!("http://{metrics}/metrics"));
    let value = |name: &str| {
        metric(&text, name).unwrap_or_else(|| panic!("{name} missing from /metrics:\n{text}"))
    };
    assert_eq!(
        value("moocpipe_jobs_started_total{stage=\"probe\"}"),
        1.0,
        "{text}"
    );
    // The probe reads the MOV's index and first frames, at most the take
    // once (issue 15), never a copy.
    let probe_read = value("moocpipe_bytes_read_total{stage=\"probe\"}");
    assert!(
        probe_read > 0.0 && probe_read <= uploaded.size as f64,
        "read {probe_read} of {}\n{text}",
        uploaded.size
    );
    assert!(
        text.contains("moocpipe_job_duration_seconds_bucket"),
        "{text}"
    );
    // The caption stage read the take by ranges, about once (no copy, no
    // second pass), besides the author's caption files it looked for.
    let captions = http_get(&format!("http://{caption_metrics}/metrics"));
    let read = metric(&captions, "moocpipe_bytes_read_total{stage=\"caption\"}").unwrap_or(0.0);
    assert!(
        read >= uploaded.size as f64 && read < uploaded.size as f64 * 1.2,
        "the caption stage read {read} of {} bytes",
        uploaded.size
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_a_killed_transcode_worker_and_a_store_outage_lose_no_job_and_show_no_partial_output(
) {
    let mut p = Pipeline::start().await;
    p.spawn(
        "ingest",
        &["ingest", "--scan-interval-secs", "1", "--lease-secs", "4"],
    );
    for stage in ["probe", "report"] {
        p.spawn(
            stage,
            &["worker", stage, "--no-captions", "--lease-secs", "4"],
        );
    }
    p.spawn(
        "transcode",
        &[
            "worker",
            "transcode",
            "--no-qc",
            "--lease-secs",
            "4",
            "--shutdown-grace-secs",
            "1",
        ],
    );
    let take = media::compliant_prores_10s();
    let key = KEY.replace("take-01", "take-03");
    p.uploader
        .put_bytes(&key.replace(".mov", ".json"), sidecar(), "application/json")
        .await
        .expect("sidecar");
    let (uploaded, sent) = p.upload(&key, &take).await;
    let take_id = moocpipe_ingest::take_id(&p.raw_bucket, &key, &uploaded.etag);
    let transcode_key = format!("takes/{take_id}/records/transcode.json");

    let _: ProbeRecord = p.record(&take_id, "probe", Duration::from_secs(120)).await;
    let lease = format!("leases/transcode/{take_id}.json");

    // SIGTERM while it works: the worker gives the job back within its
    // grace and exits cleanly; nothing looks finished.
    let first = p.lease_holder(&lease, None).await;
    let mut worker = p.take_worker("transcode");
    let term = Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .expect("run kill");
    assert!(term.success());
    let stopped = Instant::now();
    let status = loop {
        if let Some(status) = worker.try_wait().expect("wait") {
            break status;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(30),
            "SIGTERM did not stop the worker\n{}",
            p.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status:?}\n{}", p.logs());
    assert!(p.media.head(&transcode_key).await.expect("head").is_none());

    // The handed-back job is taken at once by the next worker; SIGKILL it
    // mid-job: no hand-back, no record.
    p.spawn(
        "transcode-2",
        &["worker", "transcode", "--no-qc", "--lease-secs", "4"],
    );
    p.lease_holder(&lease, Some(&first)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut victim = p.take_worker("transcode-2");
    victim.kill().expect("SIGKILL the transcode worker");
    let _ = victim.wait();
    assert!(
        p.media.head(&transcode_key).await.expect("head").is_none(),
        "a killed transcode must not look finished"
    );

    // A third worker takes the job over once the dead one's lease expires;
    // the store goes away for 10 s while it works.
    p.spawn(
        "transcode-3",
        &["worker", "transcode", "--no-qc", "--lease-secs", "4"],
    );
    tokio::time::sleep(Duration::from_secs(6)).await;
    p.garage.stop();
    tokio::time::sleep(Duration::from_secs(10)).await;
    p.garage.restart();

    let transcode: TranscodeRecord = p.wait_for(&transcode_key, Duration::from_secs(600)).await;
    assert_eq!(transcode.verdict, TakeVerdict::Pass, "{transcode:?}");
    for rendition in &transcode.renditions {
        let meta = p
            .media
            .head(&format!(
                "takes/{take_id}/runs/{}/{}",
                transcode.run.as_deref().expect("the record names its run"),
                rendition.file
            ))
            .await
            .expect("head")
            .expect("every rendition of the record is there");
        assert_eq!(meta.size, rendition.size_bytes, "{}", rendition.file);
    }
    let published: PublishedRecord = p
        .record(&take_id, "published", Duration::from_secs(120))
        .await;
    assert_eq!(published.transcode, Some(TakeVerdict::Pass));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(notices_to(&p.smtp.messages(), AUTHOR), 1);
    assert!(p.dead_letters("transcode").is_empty(), "{}", p.logs());
    p.assert_raw_unchanged(&key, &uploaded, &sent).await;
    // transcode-2's copy, left by the SIGKILL, was swept when transcode-3 started.
    p.assert_scratch_empty();
}

/// Publishes `body` to a queue through the default exchange, optionally
/// with no headers at all (not a moocpipe message).
async fn publish_raw(queue: &str, body: Vec<u8>, declare: bool) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_message_and_a_corrupt_take_are_dead_lettered_at_once_and_the_author_is_told() {
    let mut p = Pipeline::start().await;
    p.spawn("ingest", &["ingest", "--scan-interval-secs", "1"]);
    p.spawn("probe", &["worker", "probe"]);
    p.spawn("report", &["worker", "report"]);
    // `dlq list` declares the topology, so the queue exists to publish into.
    assert!(p.dead_letters("probe").is_empty());
    let probe_queue = p.topology().stage_queue(Stage::Probe);
    publish_raw(&probe_queue, b"{not json".to_vec(), false).await;

    // A take that is not a video at all, with a take's name.
    let dir = tempfile::tempdir().expect("tempdir");
    let corrupt = dir.path().join("take-02.mov");
    std::fs::write(
        &corrupt,
        b"this is not a QuickTime file, only its name says so",
    )
    .expect("write");
    let key = KEY.replace("take-01", "take-02");
    p.uploader
        .put_bytes(&key.replace(".mov", ".json"), sidecar(), "application/json")
        .await
        .expect("sidecar");
    let (uploaded, sent) = p.upload(&key, &corrupt).await;
    let take_id = moocpipe_ingest::take_id(&p.raw_bucket, &key, &uploaded.etag);

    let probe: ProbeRecord = p.record(&take_id, "probe", Duration::from_secs(120)).await;
    assert_eq!(probe.verdict, TakeVerdict::Error, "{probe:?}");
    let published: PublishedRecord = p
        .record(&take_id, "published", Duration::from_secs(120))
        .await;
    assert!(published.links.is_empty());
    assert!(
        published
            .failures
            .iter()
            .any(|f| f.contains("could not be checked")),
        "{published:?}"
    );
    let mails = p.smtp.wait_for(1, Duration::from_secs(30)).await;
    assert_eq!(notices_to(&mails, AUTHOR), 1, "{mails:#?}");
    assert!(
        mails[0].data.contains("needs attention"),
        "{}",
        mails[0].data
    );

    // Two dead letters on the probe queue: the malformed message (one
    // delivery) and the corrupt take (permanent, one attempt).
    let letters = p.dead_letters("probe");
    assert_eq!(letters.len(), 2, "{letters:?}\n{}", p.logs());
    assert!(
        letters.iter().any(|l| l.contains("malformed")),
        "{letters:?}"
    );
    let corrupt_letter = letters
        .iter()
        .find(|l| l.starts_with(&take_id))
        .expect("the corrupt take's letter");
    assert!(
        corrupt_letter.contains("permanent") && corrupt_letter.contains("attempts 1"),
        "{corrupt_letter}"
    );
    assert!(
        p.worker_alive("probe"),
        "the probe worker died\n{}",
        p.logs()
    );

    // The operator's view: replay sends both back (they fail again, the
    // same way: one delivery each, no notice twice), purge empties it.
    let out = p.run(&["dlq", "replay", "probe"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("2 sent back"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while p.dead_letters("probe").len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the replayed letters did not come back\n{}",
            p.logs()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let out = p.run(&["dlq", "purge", "probe"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("2 deleted"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(p.dead_letters("probe").is_empty());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        notices_to(&p.smtp.messages(), AUTHOR),
        1,
        "a replay must not notify twice"
    );
    p.assert_raw_unchanged(&key, &uploaded, &sent).await;
    p.assert_scratch_empty();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transcode_longer_than_consumer_timeout_runs_once_and_completes() {
    let mut p = Pipeline::start().await;
    let low = consumer_timeout::LowConsumerTimeout::set();

    // Control: a plain consumer holding a delivery past 5 s loses its
    // channel, so the broker really enforces the lowered timeout.
    let connection = AmqpConfig::new(DEFAULT_AMQP_URL)
        .connect()
        .await
        .expect("connect");
    let control = connection.create_channel().await.expect("channel");
    let scratch = format!("{}.control", p.prefix);
    publish_raw(&scratch, b"{}".to_vec(), true).await;
    let mut consumer = control
        .basic_consume(
            &scratch,
            "control",
            Default::default(),
            FieldTable::default(),
        )
        .await
        .expect("consume");
    let _held = futures_util::StreamExt::next(&mut consumer)
        .await
        .expect("a delivery")
        .expect("delivery");

    p.spawn("ingest", &["ingest", "--scan-interval-secs", "1"]);
    for stage in ["probe", "report"] {
        p.spawn(stage, &["worker", stage, "--no-captions"]);
    }
    let metrics = format!("127.0.0.1:{}", free_port());
    p.spawn(
        "transcode",
        &[
            "worker",
            "transcode",
            "--no-qc",
            "--lease-secs",
            "3",
            "--metrics-addr",
            &metrics,
        ],
    );
    let take = media::compliant_prores_10s();
    let key = KEY.replace("take-01", "take-04");
    let (uploaded, sent) = p.upload(&key, &take).await;
    let take_id = moocpipe_ingest::take_id(&p.raw_bucket, &key, &uploaded.etag);
    let transcode: TranscodeRecord = p
        .record(&take_id, "transcode", Duration::from_secs(600))
        .await;
    let control_closed = !control.status().connected();
    let text = http_get(&format!("http://{metrics}/metrics"));
    drop(low);
    if let Ok(channel) = connection.create_channel().await {
        let _ = channel.queue_delete(&scratch, Default::default()).await;
    }
    let _ = connection.close(200, "done").await;

    assert!(
        control_closed,
        "a held delivery outlived consumer_timeout: the test proves nothing"
    );
    assert_eq!(transcode.verdict, TakeVerdict::Pass, "{transcode:?}");
    let seconds = metric(&text, "moocpipe_job_duration_seconds_sum").unwrap_or(0.0);
    assert!(
        seconds > 7.0,
        "the transcode took {seconds} s, not longer than the 5 s timeout: the test proves nothing"
    );
    assert_eq!(
        metric(&text, "moocpipe_jobs_started_total{stage=\"transcode\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric(&text, "moocpipe_broker_reconnects_total").unwrap_or(0.0),
        0.0,
        "{text}"
    );
    assert_eq!(
        metric(&text, "moocpipe_jobs_duplicate_total").unwrap_or(0.0),
        0.0,
        "{text}"
    );
    assert!(p.dead_letters("transcode").is_empty());
    p.assert_raw_unchanged(&key, &uploaded, &sent).await;
}

/// Issue 11: a compliant take whose sound is a line-up tone, no speech. Its
/// captions have no cues and its SRT is 0 bytes; the caption record says
/// so, and the report links what the record names: published, the author
/// told once, nothing dead-lettered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compliant_take_without_speech_is_published_and_the_author_told() {
    let mut p = Pipeline::start().await;
    p.spawn_all();
    let take = media::prores_take_with_sound("e2e-tone-take", &media::tone_wav());
    let key = KEY.replace("take-01", "take-05");
    p.uploader
        .put_bytes(&key.replace(".mov", ".json"), sidecar(), "application/json")
        .await
        .expect("upload the sidecar");
    let (uploaded, sent) = p.upload(&key, &take).await;
    let take_id = moocpipe_ingest::take_id(&p.raw_bucket, &key, &uploaded.etag);

    let published: PublishedRecord = p
        .record(&take_id, "published", Duration::from_secs(600))
        .await;
    assert_eq!(published.spec, TakeVerdict::Pass, "{published:?}");
    assert_eq!(
        published.transcode,
        Some(TakeVerdict::Pass),
        "{published:?}"
    );
    assert_eq!(published.captions_missing, None, "{published:?}");
    let caption: moocpipe_proto::CaptionRun =
        p.record(&take_id, "caption", Duration::from_secs(1)).await;
    assert_eq!(caption.caption.cues, 0, "a tone is not speech");
    let srt = published
        .links
        .iter()
        .find(|l| l.name == "captions.srt")
        .unwrap_or_else(|| panic!("the SRT is linked: {published:?}"));
    assert_eq!(srt.size_bytes, 0, "{srt:?}");
    let recorded = caption
        .objects
        .iter()
        .find(|o| o.key == srt.key)
        .expect("the link is an object the caption record names");
    assert_eq!(recorded.size_bytes, 0);
    assert!(
        srt.key
            .starts_with(&format!("takes/{take_id}/runs/{}/captions/", caption.run)),
        "{}",
        srt.key
    );
    // Every link is an object a record names, and downloads as recorded.
    let transcode: TranscodeRecord = p
        .record(&take_id, "transcode", Duration::from_secs(1))
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    for link in &published.links {
        let named = transcode
            .objects
            .iter()
            .chain(caption.objects.iter())
            .find(|o| o.key == link.key)
            .unwrap_or_else(|| panic!("{} is named by no record", link.key));
        assert_eq!(named.size_bytes, link.size_bytes, "{}", link.key);
        let file = dir.path().join(&link.name);
        download(&link.url, &file);
        assert_eq!(
            std::fs::metadata(&file).expect("downloaded").len(),
            link.size_bytes,
            "{}",
            link.name
        );
    }

    let mails = p.smtp.wait_for(1, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mails_now = p.smtp.messages();
    assert_eq!(notices_to(&mails_now, AUTHOR), 1, "{mails:#?}");
    let subject = mails_now[0].header("subject").unwrap_or_default();
    assert!(subject.contains("is ready: Newton's laws"), "{subject}");
    assert_eq!(p.webhook.requests().len(), 1);
    for stage in ["probe", "transcode", "caption", "report"] {
        assert!(
            p.dead_letters(stage).is_empty(),
            "{stage}: {:?}\n{}",
            p.dead_letters(stage),
            p.logs()
        );
    }
    // Only the runs the records name are left.
    let runs: std::collections::BTreeSet<String> = p
        .media
        .list(&format!("takes/{take_id}/runs/"))
        .await
        .expect("list")
        .iter()
        .filter_map(|k| k.split('/').nth(3).map(str::to_owned))
        .collect();
    let named: std::collections::BTreeSet<String> = [transcode.run.clone(), Some(caption.run)]
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(runs, named);
    p.assert_raw_unchanged(&key, &uploaded, &sent).await;
    p.assert_scratch_empty();
}
