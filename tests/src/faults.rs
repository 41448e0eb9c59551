//! The fault suite (issue 11): the real binaries — ingest, every stage, two
//! transcode workers — on RabbitMQ, Garage and PostgreSQL ([`Pipeline`]),
//! a batch of takes (compliant with speech, compliant without speech,
//! non-compliant, corrupt), one fault injected while the batch runs, and
//! one [`Row`] of figures per fault: takes, lost, duplicate notices,
//! outputs inconsistent with their record, deliveries per job, seconds to
//! recover.
//!
//! `scripts/faults.sh` runs every fault and prints the table (the figures in
//! docs/RELIABILITY.md come from it); `tests/tests/faults.rs` runs a fast
//! subset in the test suite. Faults that act on the machine's shared
//! services (the broker, PostgreSQL) need those to be restartable by this
//! user: `scripts/rabbitmq.sh restart|pid` and `scripts/postgres.sh
//! restart`, which need root (or sudo) like the rest of the set-up.

use crate::garage::random_hex;
use crate::media;
use crate::pipeline::{sidecar, spoken_take, Pipeline, AUTHOR};
use moocpipe_broker::{AmqpConfig, Headers, Outgoing, Publisher, Route, Stage, DEFAULT_AMQP_URL};
use moocpipe_proto::run::StoredObject;
use moocpipe_proto::{CaptionRun, PublishedRecord, TakeVerdict, TranscodeRecord};
use moocpipe_storage::{ObjectMeta, ObjectStore};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Every worker's lease: short, so a dead or cut-off worker is noticed in
/// seconds.
const LEASE_SECS: u64 = 4;
/// How long a batch may take, fault included, before its missing takes
/// count as lost.
const BATCH_DEADLINE: Duration = Duration::from_secs(480);
/// How long to wait for a running job to inject a fault into.
const TRIGGER_DEADLINE: Duration = Duration::from_secs(180);

/// One fault of the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// No fault: the batch's figures without one, for comparison.
    None,
    /// RabbitMQ restarted (its application stopped and started) while a
    /// transcode runs.
    BrokerRestartMidJob,
    /// RabbitMQ restarted the moment the first probe record is written,
    /// while the probe worker publishes the take's next jobs.
    BrokerRestartMidPublish,
    /// RabbitMQ frozen (SIGSTOP) for 30 s while a transcode runs.
    BrokerFrozen,
    /// Garage down (killed, port refusing) for 30 s while a transcode runs.
    StoreDown,
    /// Garage frozen (SIGSTOP: connections hang) for longer than the lease.
    StoreFrozen,
    /// PostgreSQL restarted while a transcode runs.
    PostgresRestart,
    /// The worker of a stage killed with SIGKILL while it holds a job; a
    /// new one is started a second later, as a supervisor would.
    Kill(Stage),
    /// A copy of a running transcode job published again to its queue.
    DuplicateDelivery,
    /// The running transcode worker hands its job back (SIGTERM) while a
    /// copy of the job reaches the other transcode worker.
    HandBackRace,
    /// The transcode workers' scratch disk (a 256 KiB tmpfs) full, until
    /// an operator gives it room after the first failure.
    ScratchFull,
    /// The raw take replaced by another file while its transcode runs.
    RawReplaced,
    /// A transcode worker cut off from the network (its own network
    /// namespace, link down) for longer than its lease, then back.
    WorkerCutOff,
}

impl Fault {
    /// Every fault, in the table's order.
    pub const ALL: [Fault; 17] = [
        Fault::None,
        Fault::BrokerRestartMidJob,
        Fault::BrokerRestartMidPublish,
        Fault::BrokerFrozen,
        Fault::StoreDown,
        Fault::StoreFrozen,
        Fault::PostgresRestart,
        Fault::Kill(Stage::Ingest),
        Fault::Kill(Stage::Probe),
        Fault::Kill(Stage::Transcode),
        Fault::Kill(Stage::Caption),
        Fault::Kill(Stage::Report),
        Fault::DuplicateDelivery,
        Fault::HandBackRace,
        Fault::ScratchFull,
        Fault::RawReplaced,
        Fault::WorkerCutOff,
    ];

    /// Its name on the command line (`scripts/faults.sh kill-transcode`).
    pub fn slug(self) -> String {
        match self {
            Fault::None => "none".into(),
            Fault::BrokerRestartMidJob => "broker-restart".into(),
            Fault::BrokerRestartMidPublish => "broker-restart-publish".into(),
            Fault::BrokerFrozen => "broker-frozen".into(),
            Fault::StoreDown => "s3-down".into(),
            Fault::StoreFrozen => "s3-frozen".into(),
            Fault::PostgresRestart => "postgres-restart".into(),
            Fault::Kill(stage) => format!("kill-{stage}"),
            Fault::DuplicateDelivery => "duplicate".into(),
            Fault::HandBackRace => "hand-back-race".into(),
            Fault::ScratchFull => "scratch-full".into(),
            Fault::RawReplaced => "raw-replaced".into(),
            Fault::WorkerCutOff => "worker-cut-off".into(),
        }
    }

    pub fn from_slug(slug: &str) -> Option<Fault> {
        Fault::ALL.into_iter().find(|f| f.slug() == slug)
    }

    /// What the row says.
    pub fn describe(self) -> String {
        match self {
            Fault::None => "no fault".into(),
            Fault::BrokerRestartMidJob => "broker restart mid-job".into(),
            Fault::BrokerRestartMidPublish => "broker restart mid-publish".into(),
            Fault::BrokerFrozen => "broker frozen (SIGSTOP) 30 s".into(),
            Fault::StoreDown => "S3 down 30 s".into(),
            Fault::StoreFrozen => {
                format!("S3 frozen {} s (lease {LEASE_SECS} s)", frozen().as_secs())
            }
            Fault::PostgresRestart => "PostgreSQL restart".into(),
            Fault::Kill(stage) => format!("kill -9 {stage} worker mid-job"),
            Fault::DuplicateDelivery => "same job delivered twice while it runs".into(),
            Fault::HandBackRace => "lease handed back while another worker acquires".into(),
            Fault::ScratchFull => "scratch disk full (256 KiB tmpfs)".into(),
            Fault::RawReplaced => "raw take replaced mid-job".into(),
            Fault::WorkerCutOff => {
                format!("worker cut off (netns link down) {} s", frozen().as_secs())
            }
        }
    }
}

/// How long the store is frozen and a worker cut off: well past the lease.
fn frozen() -> Duration {
    Duration::from_secs(LEASE_SECS * 4)
}

/// The figures of one fault.
#[derive(Debug, Clone)]
pub struct Row {
    pub fault: Fault,
    /// Takes whose outcome the batch waited for (a replaced take counts
    /// both its versions).
    pub takes: usize,
    /// Takes with no published record by the deadline, or one without what
    /// the take must have (renditions for a compliant take, captions for
    /// speech, the spec's verdict).
    pub lost: usize,
    /// Author notices beyond one per take, e-mails and webhook calls.
    pub duplicate_notices: usize,
    /// Objects a record names that are missing or differ in size or ETag,
    /// and links to objects no record names.
    pub inconsistent: usize,
    /// Run folders no record names, left in the store.
    pub stray_runs: usize,
    /// Acquisitions per job (`job_runs` per stage and take): mean and most.
    pub deliveries_mean: f64,
    pub deliveries_max: u64,
    /// From the fault's end to the end of the job it hit (`None` when the
    /// fault hit no job, or the job never ended).
    pub recover_secs: Option<f64>,
    /// From the upload to the last take's published record.
    pub batch_secs: f64,
    /// How each run of the job the fault hit ended, in order (`job_runs`:
    /// `succeeded`, `lost`, `taken_over`, `handed_back`, `retrying`…;
    /// `running` for one that never ended).
    pub hit_runs: Vec<String>,
    /// What happened, in words: which job the fault hit, how it ended.
    pub notes: Vec<String>,
}

impl Row {
    /// 0 lost, 0 duplicate notices, 0 inconsistent outputs.
    pub fn is_clean(&self) -> bool {
        self.lost == 0 && self.duplicate_notices == 0 && self.inconsistent == 0
    }
}

/// The rows as a Markdown table.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| fault | takes | lost | duplicate notices | inconsistent outputs | stray runs | deliveries/job (mean, max) | s to recover | batch s |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {:.2}, {} | {} | {:.0} |\n",
            r.fault.describe(),
            r.takes,
            r.lost,
            r.duplicate_notices,
            r.inconsistent,
            r.stray_runs,
            r.deliveries_mean,
            r.deliveries_max,
            r.recover_secs.map_or("–".to_owned(), |s| format!("{s:.1}")),
            r.batch_secs,
        ));
    }
    out
}

/// The notes of every row, a list per fault.
pub fn notes(rows: &[Row]) -> String {
    rows.iter()
        .map(|r| {
            format!(
                "- **{}**: {}\n",
                r.fault.describe(),
                if r.notes.is_empty() {
                    "–".to_owned()
                } else {
                    r.notes.join("; ")
                }
            )
        })
        .collect()
}

/// What a take of the batch must end as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Passes the spec; renditions and captions with cues.
    Speech,
    /// Passes the spec; renditions, captions without cues.
    NoSpeech,
    /// Fails the spec: published with its failures, no renditions.
    NonCompliant,
    /// Not a video: published with the probe's error.
    Corrupt,
    /// A version replaced while it was processed: published either way
    /// (done before the replacement reached it, or failed because of it).
    Replaced,
}

#[derive(Debug, Clone)]
struct Take {
    key: String,
    kind: Kind,
    take_id: String,
}

/// The worker processes of the batch, by name, so a killed one can be
/// started again the same way.
#[derive(Clone)]
struct WorkerSpec {
    name: String,
    args: Vec<String>,
    wrapper: Vec<String>,
    env: Vec<(String, String)>,
}

impl WorkerSpec {
    fn new(name: &str, args: &[&str]) -> WorkerSpec {
        WorkerSpec {
            name: name.to_owned(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            wrapper: Vec::new(),
            env: Vec::new(),
        }
    }

    fn start(&self, p: &mut Pipeline) {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let wrapper: Vec<&str> = self.wrapper.iter().map(String::as_str).collect();
        let env = self.env.clone();
        p.spawn_with(&self.name, &wrapper, &args, move |command| {
            for (k, v) in env {
                command.env(k, v);
            }
        });
    }
}

fn roster() -> Vec<WorkerSpec> {
    let lease = LEASE_SECS.to_string();
    let stage = |name: &str, stage: &str| {
        WorkerSpec::new(
            name,
            &[
                "worker",
                stage,
                "--lease-secs",
                &lease,
                "--shutdown-grace-secs",
                "2",
                // A stuck media pipeline is stopped and retried within a
                // minute, not after the production default of ten.
                "--stall-secs",
                "60",
            ],
        )
    };
    vec![
        WorkerSpec::new(
            "ingest",
            &[
                "ingest",
                "--scan-interval-secs",
                "1",
                "--lease-secs",
                &lease,
            ],
        ),
        stage("probe", "probe"),
        stage("transcode-1", "transcode"),
        stage("transcode-2", "transcode"),
        stage("caption", "caption"),
        stage("report", "report"),
    ]
}

/// A job the fault hit: its stage and take, and the worker holding it.
#[derive(Debug, Clone)]
struct Hit {
    stage: Stage,
    take_id: String,
    pid: u32,
}

/// The repository's root (scripts live there).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Runs `bash scripts/<script> <args>`; a failure fails the fault.
fn script(script: &str, args: &[&str]) -> String {
    let out = Command::new("bash")
        .arg(root().join("scripts").join(script))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run scripts/{script}: {e}"));
    assert!(
        out.status.success(),
        "scripts/{script} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {signal} {pid}: {status}");
}

/// Resumes a process stopped with SIGSTOP when dropped, whatever happens
/// in between: a frozen broker must not outlive the fault.
struct Thaw(u32);

impl Drop for Thaw {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-CONT", &self.0.to_string()])
            .status();
    }
}

/// The database's clock, in seconds since the epoch: the job tables' times
/// are the database's.
fn db_now(p: &Pipeline) -> f64 {
    p.database
        .query("SELECT extract(epoch FROM clock_timestamp())")
        .parse()
        .unwrap_or(0.0)
}

/// Waits until some worker holds a `stage` job (of `take_id`, if given)
/// that is less than half done (stages that report no progress stay at 0),
/// looking at the jobs table every 5 ms on one connection: an ingest job
/// lasts about 20 ms, a probe or report job well under a second.
async fn running(p: &Pipeline, stage: Stage, take_id: Option<&str>) -> Hit {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&p.database.url)
        .await
        .expect("connect to the control database");
    let deadline = Instant::now() + TRIGGER_DEADLINE;
    loop {
        let row: Result<Option<(String, Option<String>)>, sqlx::Error> = sqlx::query_as(
            "SELECT take_id, holder FROM jobs WHERE stage = $1 AND state = 'running' \
             AND lease_expires > now() AND ($2::text IS NULL OR take_id = $2) \
             AND progress < 0.5 ORDER BY started_at DESC LIMIT 1",
        )
        .bind(stage.as_str())
        .bind(take_id)
        .fetch_optional(&pool)
        .await;
        if let Ok(Some((take, Some(holder)))) = row {
            if let Some(pid) = holder.rsplit(':').next().and_then(|p| p.parse().ok()) {
                pool.close().await;
                return Hit {
                    stage,
                    take_id: take,
                    pid,
                };
            }
        }
        assert!(
            Instant::now() < deadline,
            "no {stage} job ran within {TRIGGER_DEADLINE:?}\n{}",
            p.logs()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The worker name of a pid.
fn worker_of(p: &Pipeline, pid: u32) -> Option<String> {
    p.workers
        .iter()
        .find(|(_, child)| child.id() == pid)
        .map(|(name, _)| name.clone())
}

/// Waits for worker `name` to exit (it was killed or told to stop) and
/// starts it again as the roster says, as a supervisor would.
fn start_again(p: &mut Pipeline, workers: &[WorkerSpec], name: &str) {
    let mut child = p.take_worker(name);
    let _ = child.wait();
    workers
        .iter()
        .find(|w| w.name == name)
        .expect("every worker has its spec")
        .start(p);
}

/// Publishes the job the jobs table holds for `hit` again, byte for byte,
/// as a second delivery of the same message.
async fn deliver_again(p: &Pipeline, hit: &Hit) {
    // The body is the job's JSON, as received.
    let body = p
        .database
        .query(&format!(
            "SELECT convert_from(body, 'UTF8') FROM jobs WHERE stage = '{}' AND take_id = '{}'",
            hit.stage, hit.take_id
        ))
        .into_bytes();
    let message = Outgoing {
        route: Route::Job(hit.stage),
        headers: Headers::new(hit.take_id.clone()),
        body,
    };
    let connection = AmqpConfig::new(DEFAULT_AMQP_URL)
        .connect()
        .await
        .expect("connect to RabbitMQ");
    let publisher = Publisher::open(&connection).await.expect("channel");
    publisher
        .send(&p.topology(), &message)
        .await
        .expect("publish the copy");
    let _ = connection.close(200, "done").await;
}

/// A tmpfs mounted for the scratch-disk fault, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).expect("mount point");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "the scratch-disk fault mounts a small tmpfs and needs root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(dir.to_path_buf())
    }

    fn grow(&self, size: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "remount: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// The batch's files: four takes, made (or found in the test-media
/// cache) before the clock starts.
fn batch_files(p: &Pipeline) -> Vec<(Kind, &'static str, PathBuf)> {
    let dir = p.work.path().join("batch");
    std::fs::create_dir_all(&dir).expect("batch folder");
    let corrupt = dir.join("corrupt.mov");
    std::fs::write(
        &corrupt,
        b"this is not a QuickTime file, only its name says so",
    )
    .expect("write the corrupt take");
    vec![
        (Kind::Speech, "01-speech", spoken_take()),
        (Kind::NoSpeech, "02-tone", tone_take()),
        (Kind::NonCompliant, "03-small", media::prores_720p()),
        (Kind::Corrupt, "04-corrupt", corrupt),
    ]
}

/// Uploads the batch under one course, each take with its sidecar.
async fn upload_batch(p: &Pipeline, files: Vec<(Kind, &'static str, PathBuf)>) -> Vec<Take> {
    let mut takes = Vec::new();
    for (kind, lesson, file) in files {
        let key = format!("physics-101/01-mechanics/{lesson}/take-01.mov");
        p.uploader
            .put_bytes(&key.replace(".mov", ".json"), sidecar(), "application/json")
            .await
            .expect("upload the sidecar");
        let (meta, _) = p.upload(&key, &file).await;
        takes.push(Take {
            take_id: moocpipe_ingest::take_id(&p.raw_bucket, &key, &meta.etag),
            key,
            kind,
        });
    }
    takes
}

fn tone_take() -> PathBuf {
    media::prores_take_with_sound("e2e-tone-take", &media::tone_wav())
}

/// What an injection did: the job it hit and when the fault ended (the
/// database's clock), in words too.
struct Injected {
    hit: Option<Hit>,
    end: Option<f64>,
    notes: Vec<String>,
}

/// Injects `fault` into the running batch, waiting for its trigger first;
/// a replaced take adds its new version to `takes`.
async fn inject(
    fault: Fault,
    p: &mut Pipeline,
    workers: &[WorkerSpec],
    takes: &mut Vec<Take>,
    small_scratch: Option<&Tmpfs>,
    island: Option<&crate::netns::Island>,
) -> Injected {
    let mut notes = Vec::new();
    let mut hit: Option<Hit> = None;
    let mut fault_end: Option<f64> = None;

    match fault {
        Fault::None => {}
        Fault::BrokerRestartMidJob => {
            hit = Some(running(p, Stage::Transcode, None).await);
            script("rabbitmq.sh", &["restart"]);
            fault_end = Some(db_now(p));
        }
        Fault::BrokerRestartMidPublish => {
            let speech = takes[0].take_id.clone();
            let _: moocpipe_proto::ProbeRecord = p.record(&speech, "probe", TRIGGER_DEADLINE).await;
            script("rabbitmq.sh", &["restart"]);
            fault_end = Some(db_now(p));
            notes.push("restarted as the speech take's probe record appeared".into());
        }
        Fault::BrokerFrozen => {
            hit = Some(running(p, Stage::Transcode, None).await);
            let pid: u32 = script("rabbitmq.sh", &["pid"])
                .parse()
                .expect("the broker's pid");
            let thaw = Thaw(pid);
            signal(pid, "-STOP");
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(thaw);
            fault_end = Some(db_now(p));
        }
        Fault::StoreDown => {
            hit = Some(running(p, Stage::Transcode, None).await);
            p.garage.stop();
            tokio::time::sleep(Duration::from_secs(30)).await;
            p.garage.restart();
            fault_end = Some(db_now(p));
        }
        Fault::StoreFrozen => {
            hit = Some(running(p, Stage::Transcode, None).await);
            p.garage.freeze();
            tokio::time::sleep(frozen()).await;
            p.garage.thaw();
            fault_end = Some(db_now(p));
        }
        Fault::PostgresRestart => {
            hit = Some(running(p, Stage::Transcode, None).await);
            script("postgres.sh", &["restart"]);
            fault_end = Some(db_now(p));
        }
        Fault::Kill(stage) => {
            let h = running(p, stage, None).await;
            signal(h.pid, "-KILL");
            fault_end = Some(db_now(p));
            let name = worker_of(p, h.pid).expect("the holder is one of ours");
            tokio::time::sleep(Duration::from_secs(1)).await;
            start_again(p, workers, &name);
            notes.push(format!("killed {name} holding {}", short(&h.take_id)));
            hit = Some(h);
        }
        Fault::DuplicateDelivery => {
            let h = running(p, Stage::Transcode, None).await;
            deliver_again(p, &h).await;
            fault_end = Some(db_now(p));
            hit = Some(h);
        }
        Fault::HandBackRace => {
            let h = running(p, Stage::Transcode, None).await;
            let name = worker_of(p, h.pid).expect("the holder is one of ours");
            // Both at once: the holder hands the job back while the copy
            // reaches the idle transcode worker, which tries to acquire it.
            signal(h.pid, "-TERM");
            deliver_again(p, &h).await;
            fault_end = Some(db_now(p));
            start_again(p, workers, &name);
            notes.push(format!("{name} handed back {}", short(&h.take_id)));
            hit = Some(h);
        }
        Fault::ScratchFull => {
            let deadline = Instant::now() + TRIGGER_DEADLINE;
            loop {
                let failed = p.database.query(
                    "SELECT count(*) FROM job_runs WHERE error LIKE '%scratch disk is full%'",
                );
                if failed.parse::<u64>().unwrap_or(0) > 0 {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "no job failed for the full disk\n{}",
                    p.logs()
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let error = p.database.query(
                "SELECT error FROM job_runs WHERE error LIKE '%scratch disk is full%' LIMIT 1",
            );
            notes.push(format!("the failure said: {}", first_words(&error, 24)));
            if let Some(tmpfs) = small_scratch {
                tmpfs.grow("2g");
            }
            fault_end = Some(db_now(p));
            let take = p.database.query(
                "SELECT take_id FROM job_runs WHERE error LIKE '%scratch disk is full%' LIMIT 1",
            );
            hit = Some(Hit {
                stage: Stage::Transcode,
                take_id: take,
                pid: 0,
            });
        }
        Fault::RawReplaced => {
            let speech = takes[0].clone();
            let h = running(p, Stage::Transcode, Some(&speech.take_id)).await;
            let (meta, _) = p.upload(&speech.key, &tone_take()).await;
            fault_end = Some(db_now(p));
            takes[0].kind = Kind::Replaced;
            takes.push(Take {
                take_id: moocpipe_ingest::take_id(&p.raw_bucket, &speech.key, &meta.etag),
                key: speech.key.clone(),
                kind: Kind::NoSpeech,
            });
            hit = Some(h);
        }
        Fault::WorkerCutOff => {
            let net = island.expect("the island");
            let h = running(p, Stage::Transcode, None).await;
            let name = worker_of(p, h.pid);
            notes.push(format!(
                "{} held {} when its link went down",
                name.as_deref().unwrap_or("?"),
                short(&h.take_id)
            ));
            workers
                .iter()
                .find(|w| w.name == "transcode-1")
                .expect("transcode-1")
                .start(p);
            net.link(false);
            tokio::time::sleep(frozen()).await;
            net.link(true);
            fault_end = Some(db_now(p));
            hit = Some(h);
        }
    }
    Injected {
        hit,
        end: fault_end,
        notes,
    }
}

/// Runs the batch with `fault` injected on a pipeline of its own and
/// measures what came out.
pub async fn run(fault: Fault) -> Row {
    let mut p = Pipeline::start().await;
    let mut workers = roster();
    let small_scratch = if fault == Fault::ScratchFull {
        let mount = p.work.path().join("scratch-small");
        let tmpfs = Tmpfs::mount(&mount, "256k");
        for w in workers
            .iter_mut()
            .filter(|w| w.name.starts_with("transcode"))
        {
            w.env.push((
                "MOOCPIPE_SCRATCH_DIR".into(),
                mount.join(&w.name).display().to_string(),
            ));
        }
        Some(tmpfs)
    } else {
        None
    };
    let cut_off = if fault == Fault::WorkerCutOff {
        let net = crate::netns::Island::create(&p).await;
        let w = workers
            .iter_mut()
            .find(|w| w.name == "transcode-2")
            .expect("transcode-2");
        w.wrapper = net.wrapper();
        w.env = net.env(&p);
        Some(net)
    } else {
        None
    };
    for w in &workers {
        // The cut-off worker starts alone, so it is the one that takes the
        // first transcode; its peer starts once it has.
        if cut_off.is_some() && w.name == "transcode-1" {
            continue;
        }
        w.start(&mut p);
    }

    let files = batch_files(&p);
    let started = Instant::now();
    let mut takes = upload_batch(&p, files).await;
    let Injected {
        hit,
        end: fault_end,
        mut notes,
    } = inject(
        fault,
        &mut p,
        &workers,
        &mut takes,
        small_scratch.as_ref(),
        cut_off.as_ref(),
    )
    .await;

    // Every take's outcome, or the deadline.
    let deadline = started + BATCH_DEADLINE;
    let mut published: BTreeMap<String, PublishedRecord> = BTreeMap::new();
    while published.len() < takes.len() && Instant::now() < deadline {
        for take in &takes {
            if published.contains_key(&take.take_id) {
                continue;
            }
            let key = format!("takes/{}/records/published.json", take.take_id);
            if let Ok(Some(record)) = p.media.get_json::<PublishedRecord>(&key).await {
                published.insert(take.take_id.clone(), record);
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let batch_secs = started.elapsed().as_secs_f64();
    // Late duplicates (a redelivered report job) would come now.
    tokio::time::sleep(Duration::from_secs(5)).await;

    let mut lost = 0;
    for take in &takes {
        match published.get(&take.take_id) {
            None => {
                lost += 1;
                notes.push(format!(
                    "{} ({:?}) not published",
                    short(&take.take_id),
                    take.kind
                ));
            }
            Some(record) => {
                if let Some(why) = wrong_outcome(&p, take, record).await {
                    lost += 1;
                    notes.push(format!("{} ({:?}): {why}", short(&take.take_id), take.kind));
                }
                if take.kind == Kind::Replaced {
                    notes.push(format!(
                        "the replaced version ended {:?}/{:?}{}",
                        record.spec,
                        record.transcode,
                        record
                            .failures
                            .first()
                            .map_or(String::new(), |f| format!(": {}", first_words(f, 16)))
                    ));
                }
            }
        }
    }

    let mails = p.smtp.messages();
    let hooks = p.webhook.requests();
    let mut duplicate_notices = 0;
    for take in &takes {
        let marker = format!("take-{}@moocpipe", take.take_id);
        let sent = mails.iter().filter(|m| m.data.contains(&marker)).count();
        let called = hooks
            .iter()
            .filter(|h| h.header("idempotency-key") == Some(take.take_id.as_str()))
            .count();
        duplicate_notices += sent.saturating_sub(1) + called.saturating_sub(1);
    }
    let to_author = mails
        .iter()
        .filter(|m| m.to.iter().any(|t| t.contains(AUTHOR)))
        .count();
    if to_author != published.len() {
        notes.push(format!(
            "{to_author} e-mails for {} published takes",
            published.len()
        ));
    }

    let (inconsistent, stray_runs, why) = consistency(&p, &takes).await;
    notes.extend(why);

    let runs = p.database.query(
        "SELECT count(*) || ' ' || coalesce(max(n), 0) || ' ' || coalesce(sum(n), 0) \
         FROM (SELECT count(*) AS n FROM job_runs GROUP BY stage, take_id) AS per_job",
    );
    let figures: Vec<f64> = runs
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    let (jobs, most, all) = match figures[..] {
        [jobs, most, all] => (jobs, most, all),
        _ => (0.0, 0.0, 0.0),
    };
    let repeated = p.database.query(
        "SELECT stage || ' of ' || left(take_id, 8) || ': ' || \
                string_agg(coalesce(outcome, 'running'), ' → ' ORDER BY fence) \
         FROM job_runs GROUP BY stage, take_id HAVING count(*) > 1",
    );
    for line in repeated.lines() {
        notes.push(format!("runs of {line}"));
    }
    let mut hit_runs = Vec::new();
    let recover_secs = match (&hit, fault_end) {
        (Some(h), Some(end)) => {
            let done: Option<f64> = p
                .database
                .query(&format!(
                    "SELECT extract(epoch FROM finished_at) FROM jobs WHERE stage = '{}' \
                     AND take_id = '{}' AND state IN ('succeeded', 'dead')",
                    h.stage, h.take_id
                ))
                .parse()
                .ok();
            hit_runs = p
                .database
                .query(&format!(
                    "SELECT coalesce(outcome, 'running') FROM job_runs \
                     WHERE stage = '{}' AND take_id = '{}' ORDER BY fence",
                    h.stage, h.take_id
                ))
                .lines()
                .map(str::to_owned)
                .collect();
            notes.push(format!(
                "hit: {} of {}, its runs: {}",
                h.stage,
                short(&h.take_id),
                hit_runs.join(" → ")
            ));
            done.map(|d| (d - end).max(0.0))
        }
        _ => None,
    };
    if let Some(net) = cut_off {
        net.remove();
    }
    Row {
        fault,
        takes: takes.len(),
        lost,
        duplicate_notices,
        inconsistent,
        stray_runs,
        deliveries_mean: if jobs > 0.0 { all / jobs } else { 0.0 },
        deliveries_max: most as u64,
        recover_secs,
        batch_secs,
        hit_runs,
        notes,
    }
}

/// Why a published record is not what the take must end as, if it is not.
async fn wrong_outcome(p: &Pipeline, take: &Take, record: &PublishedRecord) -> Option<String> {
    let names: BTreeSet<&str> = record.links.iter().map(|l| l.name.as_str()).collect();
    match take.kind {
        Kind::Speech | Kind::NoSpeech => {
            if record.spec != TakeVerdict::Pass || record.transcode != Some(TakeVerdict::Pass) {
                return Some(format!(
                    "spec {:?}, transcode {:?}: {:?}",
                    record.spec, record.transcode, record.failures
                ));
            }
            if !names.contains("1080p") || !names.contains("captions.vtt") {
                return Some(format!("links {names:?}"));
            }
            let caption: Option<CaptionRun> = p
                .media
                .get_json(&format!("takes/{}/records/caption.json", take.take_id))
                .await
                .ok()
                .flatten();
            let cues = caption.map_or(0, |c| c.caption.cues);
            match (take.kind, cues) {
                (Kind::Speech, 0) => Some("no cues for speech".into()),
                (Kind::NoSpeech, n) if n > 0 => Some(format!("{n} cues for a tone")),
                _ => None,
            }
        }
        Kind::NonCompliant => (record.spec != TakeVerdict::Fail || !record.links.is_empty())
            .then(|| format!("spec {:?}, {} links", record.spec, record.links.len())),
        Kind::Corrupt => (record.spec != TakeVerdict::Error)
            .then(|| format!("spec {:?} for a corrupt file", record.spec)),
        // Finished before the new upload reached it, or failed saying why.
        Kind::Replaced => (record.transcode != Some(TakeVerdict::Pass)
            && !record
                .failures
                .iter()
                .any(|f| f.contains("the take changed while it was processed")))
        .then(|| {
            format!(
                "failed without saying the take changed: {:?}",
                record.failures
            )
        }),
    }
}

/// Objects that disagree with their record (missing, another size or
/// ETag), links to objects no record names, and run folders no record
/// names.
async fn consistency(p: &Pipeline, takes: &[Take]) -> (usize, usize, Vec<String>) {
    let (mut inconsistent, mut stray) = (0, 0);
    let mut why = Vec::new();
    for take in takes {
        let id = &take.take_id;
        let transcode: Option<TranscodeRecord> = p
            .media
            .get_json(&format!("takes/{id}/records/transcode.json"))
            .await
            .ok()
            .flatten();
        let caption: Option<CaptionRun> = p
            .media
            .get_json(&format!("takes/{id}/records/caption.json"))
            .await
            .ok()
            .flatten();
        let mut named: Vec<StoredObject> = Vec::new();
        let mut runs = BTreeSet::new();
        if let Some(t) = &transcode {
            named.extend(t.objects.iter().cloned());
            runs.extend(t.run.clone());
        }
        if let Some(c) = &caption {
            named.extend(c.objects.iter().cloned());
            runs.insert(c.run.clone());
        }
        for object in &named {
            match p.media.head(&object.key).await {
                Ok(Some(ObjectMeta { size, etag, .. }))
                    if size == object.size_bytes && etag == object.etag => {}
                other => {
                    inconsistent += 1;
                    why.push(format!("{}: recorded, found {other:?}", object.key));
                }
            }
        }
        let published: Option<PublishedRecord> = p
            .media
            .get_json(&format!("takes/{id}/records/published.json"))
            .await
            .ok()
            .flatten();
        for link in published.iter().flat_map(|r| r.links.iter()) {
            if !named
                .iter()
                .any(|o| o.key == link.key && o.size_bytes == link.size_bytes)
            {
                inconsistent += 1;
                why.push(format!("link {} is named by no record", link.key));
            }
        }
        let listed = p
            .media
            .list(&format!("takes/{id}/runs/"))
            .await
            .unwrap_or_default();
        let folders: BTreeSet<String> = listed
            .iter()
            .filter_map(|k| k.split('/').nth(3).map(str::to_owned))
            .collect();
        for folder in folders.difference(&runs) {
            stray += 1;
            why.push(format!("stray run {folder} of {}", short(id)));
        }
    }
    (inconsistent, stray, why)
}

fn short(take_id: &str) -> &str {
    take_id.get(..8).unwrap_or(take_id)
}

fn first_words(text: &str, n: usize) -> String {
    text.split_whitespace()
        .take(n)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A fresh name for a network namespace or link.
pub(crate) fn fresh_name(prefix: &str) -> String {
    format!("{prefix}{}", random_hex(3))
}
