//! What a worker loop tells `/healthz`: is its main loop turning, is it
//! connected to the broker, did its lease store answer lately, how many of
//! its slots are busy and since when. A *busy* worker (every slot running a
//! long job) keeps beating; a *stalled* one does not, or cannot reach what
//! it needs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Shared between a worker loop (which writes it) and the HTTP server
/// (which reads it). All methods are cheap and never block for long.
#[derive(Debug)]
pub struct WorkerHealth {
    start: Instant,
    /// Milliseconds since `start` of the loop's last turn.
    beat_ms: AtomicU64,
    connected: AtomicBool,
    /// Milliseconds since `start` of the lease store's last answer, and of
    /// its last failure (0: none).
    store_ok_ms: AtomicU64,
    store_failed_ms: AtomicU64,
    /// Running jobs: an id per job and when it started.
    running: Mutex<HashMap<u64, Instant>>,
    next_job: AtomicU64,
}

impl Default for WorkerHealth {
    fn default() -> Self {
        WorkerHealth {
            start: Instant::now(),
            beat_ms: AtomicU64::new(0),
            connected: AtomicBool::new(false),
            store_ok_ms: AtomicU64::new(0),
            store_failed_ms: AtomicU64::new(0),
            running: Mutex::new(HashMap::new()),
            next_job: AtomicU64::new(0),
        }
    }
}

/// A snapshot for `/healthz`.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthReport {
    /// Since the loop last turned.
    pub loop_idle: Duration,
    pub connected: bool,
    /// Since the lease store last answered; `None`: not yet.
    pub store_ok_age: Option<Duration>,
    /// The store's last call failed (and none succeeded since).
    pub store_failing: bool,
    pub running: usize,
    /// How long the oldest running job has run.
    pub oldest_job: Option<Duration>,
}

impl WorkerHealth {
    pub fn new() -> Self {
        WorkerHealth::default()
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The loop turned.
    pub fn beat(&self) {
        self.beat_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    pub fn set_connected(&self, connected: bool) {
        self.connected.store(connected, Ordering::Relaxed);
        self.beat();
    }

    /// The lease store answered (`true`) or failed.
    pub fn store_answered(&self, ok: bool) {
        let now = self.now_ms().max(1);
        if ok {
            self.store_ok_ms.store(now, Ordering::Relaxed);
        } else {
            self.store_failed_ms.store(now, Ordering::Relaxed);
        }
    }

    /// A job started; pass the id to [`WorkerHealth::job_ended`].
    pub fn job_started(&self) -> u64 {
        let id = self.next_job.fetch_add(1, Ordering::Relaxed);
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, Instant::now());
        id
    }

    pub fn job_ended(&self, id: u64) {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    pub fn report(&self) -> HealthReport {
        let now = self.now_ms();
        let ago = |ms: u64| Duration::from_millis(now.saturating_sub(ms));
        let ok = self.store_ok_ms.load(Ordering::Relaxed);
        let failed = self.store_failed_ms.load(Ordering::Relaxed);
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        HealthReport {
            loop_idle: ago(self.beat_ms.load(Ordering::Relaxed)),
            connected: self.connected.load(Ordering::Relaxed),
            store_ok_age: (ok > 0).then(|| ago(ok)),
            store_failing: failed > ok,
            running: running.len(),
            oldest_job: running.values().map(Instant::elapsed).max(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_follows_the_loop() {
        let health = WorkerHealth::new();
        let report = health.report();
        assert!(!report.connected);
        assert_eq!(report.store_ok_age, None);
        health.set_connected(true);
        health.store_answered(false);
        assert!(health.report().store_failing);
        health.store_answered(true);
        let id = health.job_started();
        let report = health.report();
        assert!(report.connected && !report.store_failing);
        assert_eq!(report.running, 1);
        assert!(report.oldest_job.is_some());
        health.job_ended(id);
        assert_eq!(health.report().running, 0);
    }
}
