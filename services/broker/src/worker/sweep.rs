//! The sweeper every worker runs: jobs whose lease expired (their worker
//! died or lost the broker) are claimed and republished.

use tracing::warn;

use super::outcome::Shared;
use super::Handler;
use crate::error::{BrokerError, ErrorClass};
use crate::lease::{Finish, LeaseStore};
use crate::publish::Publisher;

/// At most this many expired leases are claimed per sweep; the rest wait
/// for the next one (or another worker's).
const SWEEP_BATCH: usize = 32;

/// Claims the expired leases of this stage and republishes their jobs. A
/// lease that was being handed back keeps its attempt count; one that
/// simply expired counts as an attempt, so a job that kills its worker every
/// time ends in the dead-letter queue as `lost`. The claim is atomic: two
/// sweepers never republish the same job.
pub(super) async fn sweep_expired<H: Handler, L: LeaseStore>(
    shared: &Shared<H, L>,
    publisher: &Publisher,
) -> Result<(), BrokerError> {
    let stage = shared.stage();
    let claimed = match shared
        .options
        .leases
        .claim_expired(stage, shared.options.lease_ttl, SWEEP_BATCH)
        .await
    {
        Ok(claimed) => {
            shared.options.health.store_answered(true);
            claimed
        }
        Err(error) => {
            shared.options.health.store_answered(false);
            warn!(%error, "claiming expired leases failed");
            return Ok(());
        }
    };
    for lease in claimed {
        let headers = if lease.handed_back {
            lease.headers.clone()
        } else {
            lease
                .headers
                .clone()
                .with_attempt(lease.headers.attempt.saturating_add(1))
        };
        let (messages, finish) = if headers.attempt >= shared.topology().max_attempts() {
            let reason = format!(
                "its worker stopped renewing the lease {} times (crashed or lost its broker and store)",
                headers.attempt
            );
            let last = headers
                .clone()
                .with_attempt(headers.attempt.saturating_sub(1));
            (
                shared.dead_letter(&last, &lease.body, &reason, ErrorClass::Lost),
                Finish::Dead(reason),
            )
        } else {
            (
                vec![shared.job_to(stage, &headers, &lease.body)],
                Finish::Requeued,
            )
        };
        // A publish error ends the session (reconnect); the claimed lease
        // expires again and the next sweep republishes it.
        for message in &messages {
            publisher
                .publish(
                    &message.exchange,
                    &message.routing_key,
                    message.headers.clone(),
                    &message.body,
                )
                .await?;
        }
        warn!(take_id = %lease.key.take_id, attempt = headers.attempt, fence = lease.fence, "lease expired; job republished");
        shared.options.metrics.lease_swept(stage);
        if let Err(error) = shared
            .options
            .leases
            .release(&lease.key, lease.fence, &finish)
            .await
        {
            warn!(%error, "releasing a swept lease failed");
        }
    }
    Ok(())
}
