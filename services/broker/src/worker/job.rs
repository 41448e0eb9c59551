//! One accepted job from start to end: the handler, the lease renewed
//! meanwhile (with the job's progress), the outcome handed on, the lease
//! released with it — or the job abandoned or handed back.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use moocpipe_telemetry::propagation::record_trace_id;
use moocpipe_telemetry::TraceHeaders;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::sleep;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, info_span, warn, Instrument};

use super::outcome::{Addressed, Shared};
use super::{Handler, HAND_BACK_TIMEOUT, WIND_DOWN};
use crate::error::{ErrorClass, JobError};
use crate::health::WorkerHealth;
use crate::lease::{Finish, Lease, LeaseHandle, LeaseKey, LeaseStore};
use crate::message::{Job, Outgoing, Progress};
use crate::metrics::Outcome;

/// How a job's handler call ended.
enum Ran {
    Done(Result<Vec<Outgoing>, JobError>),
    /// The lease was lost: someone else owns the job now.
    Lost,
    /// Shutdown deadline: hand the job back.
    GiveUp,
}

/// Runs one accepted job to its outcome, renewing its lease meanwhile.
pub(super) async fn run_job<H: Handler, L: LeaseStore>(
    shared: Arc<Shared<H, L>>,
    lease: Lease,
    permit: OwnedSemaphorePermit,
    give_up: CancellationToken,
) {
    let stage = shared.stage();
    let span = info_span!(
        "job",
        %stage,
        take_id = %lease.headers.take_id,
        attempt = lease.headers.attempt,
        fence = lease.fence,
        trace_id = tracing::field::Empty,
    );
    // A child of the publish that sent the job, in whatever process; what
    // the job publishes (next jobs, its retry, its dead letter, a
    // hand-back) is sent from this span.
    let received = lease.headers.trace();
    received.parent(&span);
    record_trace_id(&span, &received);
    let mut lease = lease;
    let sent_from = TraceHeaders::of(&span);
    if !sent_from.is_empty() {
        lease.headers = lease.headers.with_trace(sent_from);
    }
    async move {
        let metrics = &shared.options.metrics;
        let started = Instant::now();
        metrics.job_started(stage);
        let health = &shared.options.health;
        let _running = RunningJob(health, health.job_started());
        info!("job started");

        let lost = CancellationToken::new();
        let progress = Progress::default();
        let stalled = stall_watch(progress.clone(), shared.options.stall_after);
        // Aborted when dropped, so a job that ends any way, a panic
        // included, stops renewing its lease.
        let renewer = AbortOnDrop(tokio::spawn(
            renew(
                Arc::clone(&shared),
                lease.key.clone(),
                lease.fence,
                progress.clone(),
                lost.clone(),
            )
            .in_current_span(),
        ));
        let cancel = CancellationToken::new();
        let job = Job {
            stage,
            headers: lease.headers.clone(),
            body: lease.body.clone(),
            run: lease.fence.to_string(),
            cancel: cancel.clone(),
            progress,
            lease: LeaseHandle::held(
                Arc::clone(&shared.options.leases),
                lease.key.clone(),
                lease.fence,
                shared.options.lease_ttl,
            ),
        };
        // A panicking handler is a bug, which a later release may fix:
        // transient, so it is retried and then dead-lettered with the panic.
        let mut handled = Box::pin(
            AssertUnwindSafe(shared.handler.handle(job))
                .catch_unwind()
                .map(|result| {
                    result.unwrap_or_else(|panic| Err(JobError::Transient(panic_message(&*panic))))
                }),
        );
        let (ran, stopped) = tokio::select! {
            result = &mut handled => (Ran::Done(result), false),
            () = lost.cancelled() => (Ran::Lost, true),
            () = give_up.cancelled() => (Ran::GiveUp, true),
            after = stalled => (
                Ran::Done(Err(JobError::Transient(format!(
                    "the job made no progress for {} s and was stopped (a stuck pipeline); it is retried",
                    after.as_secs()
                )))),
                true,
            ),
        };
        if stopped {
            // Let the handler see the cancellation and stop what it started
            // (a GStreamer pipeline, a blocking task) before it is dropped;
            // whatever it returns now is discarded.
            cancel.cancel();
            let _ = tokio::time::timeout(WIND_DOWN, &mut handled).await;
        }
        drop(handled);

        let headers = &lease.headers;
        let (messages, outcome, finish) = match ran {
            Ran::Done(Ok(outgoing)) => {
                let messages = outgoing
                    .into_iter()
                    .map(|mut message| {
                        if message.headers.traceparent.is_none() {
                            message.headers = message.headers.with_trace(headers.trace());
                        }
                        let (exchange, routing_key) = message.route.address(shared.topology());
                        Addressed {
                            exchange,
                            routing_key,
                            headers: message.headers.to_table(),
                            body: message.body,
                        }
                    })
                    .collect();
                (messages, Outcome::Succeeded, Finish::Succeeded)
            }
            Ran::Done(Err(failure)) => {
                let retry = headers.attempt.saturating_add(1);
                match (&failure, shared.topology().retry_delay(retry)) {
                    (JobError::Transient(reason), Some(delay)) => {
                        info!(%reason, ?delay, retry, "transient failure; retrying later");
                        (
                            vec![shared.retry(headers, &lease.body, delay)],
                            Outcome::Retried,
                            Finish::Retrying(reason.clone()),
                        )
                    }
                    _ => {
                        let class = failure.kind();
                        let reason = match class {
                            ErrorClass::Transient => {
                                format!("{} (gave up after {} attempts)", failure.message(), retry)
                            }
                            _ => failure.message().to_owned(),
                        };
                        warn!(%reason, kind = %class, "job failed; dead-lettering");
                        (
                            shared.dead_letter(headers, &lease.body, &reason, class),
                            Outcome::DeadLettered(class),
                            Finish::Dead(reason),
                        )
                    }
                }
            }
            Ran::Lost => {
                warn!("lease lost; abandoning the job to its new holder");
                drop(renewer);
                metrics.job_finished(stage, Outcome::Abandoned, started.elapsed());
                drop(permit);
                return;
            }
            Ran::GiveUp => {
                drop(renewer);
                hand_back(&shared, &lease).await;
                metrics.job_finished(stage, Outcome::HandedBack, started.elapsed());
                drop(permit);
                return;
            }
        };

        // The lease stays renewed while the outcome waits for the broker.
        let handed_on = shared.hand_on(&messages).await;
        drop(renewer);
        let outcome = if handed_on {
            match shared
                .options
                .leases
                .release(&lease.key, lease.fence, &finish)
                .await
            {
                Ok(true) => {}
                Ok(false) => warn!("the lease was taken over before its release"),
                Err(error) => {
                    warn!(%error, "releasing the lease failed; the sweeper will rerun the job")
                }
            }
            outcome
        } else {
            error!("could not hand the outcome on in time; the sweeper will rerun the job");
            Outcome::Abandoned
        };
        info!(
            outcome = outcome.as_str(),
            seconds = started.elapsed().as_secs_f64(),
            "job ended"
        );
        metrics.job_finished(stage, outcome, started.elapsed());
        drop(permit);
    }
    .instrument(span)
    .await;
}

/// A job counted as running in the worker's health until dropped.
struct RunningJob<'a>(&'a WorkerHealth, u64);

impl Drop for RunningJob<'_> {
    fn drop(&mut self) {
        self.0.job_ended(self.1);
    }
}

/// A task aborted when this is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned());
    format!("the handler panicked: {detail}")
}

/// Resolves when `progress` has not moved for `after` (never when `None`),
/// with how long that was. A job at progress 1 is past its media work and
/// not watched: uploading the outputs has the store's own time-outs, and
/// a large take's renditions may well take longer than `after` to upload.
async fn stall_watch(progress: Progress, after: Option<Duration>) -> Duration {
    let Some(after) = after else {
        return std::future::pending().await;
    };
    let look = (after / 10).clamp(Duration::from_millis(50), Duration::from_secs(10));
    let mut last = progress.get().to_bits();
    let mut since = Instant::now();
    loop {
        sleep(look).await;
        let now = progress.get();
        if now.to_bits() != last || now >= 1.0 {
            last = now.to_bits();
            since = Instant::now();
        } else if since.elapsed() >= after {
            warn!(
                ?after,
                progress = now,
                "the job made no progress; stopping it, to be retried"
            );
            return after;
        }
    }
}

/// Renews a lease every third of its time-to-live, recording the job's
/// progress each time (no other writes). Fires `lost` when the
/// lease was taken over, or when renewals failed until it expired.
async fn renew<H: Handler, L: LeaseStore>(
    shared: Arc<Shared<H, L>>,
    key: LeaseKey,
    fence: u64,
    progress: Progress,
    lost: CancellationToken,
) {
    let ttl = shared.options.lease_ttl;
    let mut valid_until = Instant::now() + ttl;
    loop {
        sleep(ttl / 3).await;
        let now = Instant::now();
        match shared
            .options
            .leases
            .renew(&key, fence, ttl, progress.get())
            .await
        {
            Ok(true) => {
                shared.options.health.store_answered(true);
                valid_until = now + ttl;
            }
            Ok(false) => {
                shared.options.health.store_answered(true);
                lost.cancel();
                return;
            }
            Err(error) => {
                shared.options.health.store_answered(false);
                warn!(%error, "renewing the lease failed");
                if Instant::now() >= valid_until {
                    lost.cancel();
                    return;
                }
            }
        }
    }
}

/// Gives a job back to its queue unfinished: mark the lease handed back
/// (so the copy may be taken at once), republish the job as it came, then
/// release the lease. If the broker is gone, the lease is left for a
/// sweeper; the job is not lost either way.
async fn hand_back<H: Handler, L: LeaseStore>(shared: &Shared<H, L>, lease: &Lease) {
    let fence = match shared
        .options
        .leases
        .hand_back(&lease.key, lease.fence, shared.options.lease_ttl)
        .await
    {
        Ok(Some(fence)) => fence,
        Ok(None) => {
            warn!("lease already taken over; nothing to hand back");
            return;
        }
        Err(error) => {
            warn!(%error, "lease store failed; leaving the job to the sweeper");
            return;
        }
    };
    let message = shared.job_to(shared.stage(), &lease.headers, &lease.body);
    let sent = tokio::time::timeout(HAND_BACK_TIMEOUT, shared.hand_on(&[message])).await;
    if matches!(sent, Ok(true)) {
        info!("job handed back to the queue");
        if let Err(error) = shared
            .options
            .leases
            .release(&lease.key, fence, &Finish::Requeued)
            .await
        {
            warn!(%error, "releasing a handed-back lease failed");
        }
    } else {
        warn!("could not hand the job back; its lease is left for the sweeper");
    }
}
