//! Accepting a delivery: read it, take the job's lease, ack, start the job
//! — or dead-letter, defer or drop it. No path gives a delivery back to its
//! queue to be redelivered at once, so nothing here can loop forever.

use std::sync::Arc;
use std::time::Duration;

use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::types::{AMQPValue, ShortString};
use tokio::time::sleep;
use tracing::{info, warn};

use super::job::run_job;
use super::outcome::{Addressed, Shared};
use super::{Handler, LoopState};
use crate::error::{BrokerError, ErrorClass};
use crate::lease::{Acquire, LeaseKey, LeaseStore};
use crate::message::{as_u32, mark_dead, Headers, HEADER_DEFERRALS};
use crate::publish::Publisher;
use crate::topology::Topology;

/// Pause after the lease store failed, so a broken store does not turn the
/// queue into a hot loop through the delay queues.
const LEASE_STORE_PAUSE: Duration = Duration::from_secs(1);

/// Checks a delivery and, when it is a job, takes its lease, acks it and
/// starts the job. Returns an error only when the broker failed.
pub(super) async fn accept<H: Handler, L: LeaseStore>(
    shared: &Arc<Shared<H, L>>,
    publisher: &Publisher,
    delivery: Delivery,
    state: &mut LoopState,
) -> Result<(), BrokerError> {
    let stage = shared.stage();
    let raw_headers = delivery.properties.headers().clone();
    let headers = Headers::from_table(raw_headers.as_ref()).and_then(|headers| {
        serde_json::from_slice::<serde::de::IgnoredAny>(&delivery.data)
            .map(|_| headers)
            .map_err(|error| format!("the body is not JSON: {error}"))
    });
    let headers = match headers {
        Ok(headers) => headers,
        Err(reason) => {
            // Malformed: no retry can fix it. Dead-letter it with what it
            // had, then ack, at once.
            let reason = format!("malformed message: {reason}");
            warn!(%reason, redelivered = delivery.redelivered, "dead-lettering a malformed message");
            let mut table = raw_headers.unwrap_or_default();
            mark_dead(&mut table, &reason, ErrorClass::Malformed);
            publisher
                .publish(
                    &shared.topology().dead_exchange(),
                    Topology::stage_routing_key(stage),
                    table,
                    &delivery.data,
                )
                .await?;
            delivery.ack(BasicAckOptions::default()).await?;
            shared
                .options
                .metrics
                .rejected(stage, ErrorClass::Malformed);
            return Ok(());
        }
    };

    let Ok(permit) = state.slots.clone().try_acquire_owned() else {
        // Cannot happen (the consumer closes when the slots are full), but
        // if it did the delivery goes back rather than waiting here; the
        // queue's delivery limit bounds how often.
        delivery
            .nack(BasicNackOptions {
                requeue: true,
                ..BasicNackOptions::default()
            })
            .await?;
        return Ok(());
    };

    let key = LeaseKey {
        stage,
        take_id: headers.take_id.clone(),
    };
    let acquired = shared
        .options
        .leases
        .acquire(
            &key,
            &headers,
            &delivery.data,
            &shared.holder,
            shared.options.lease_ttl,
        )
        .await;
    shared.options.health.store_answered(acquired.is_ok());
    match acquired {
        Ok(Acquire::Acquired(lease)) => {
            // The lease holds the job from here; the delivery can go.
            // Should the ack fail, the job still runs (we hold the lease)
            // and the redelivered copy will be dropped as a duplicate.
            let acked = delivery.ack(BasicAckOptions::default()).await;
            let job = run_job(Arc::clone(shared), lease, permit, state.give_up.clone());
            state.jobs.spawn(job);
            acked?;
        }
        Ok(Acquire::Busy { fence, expires_at }) if shared.options.defer_busy => {
            let deferrals = raw_headers
                .as_ref()
                .and_then(|table| table.inner().get(HEADER_DEFERRALS))
                .and_then(as_u32)
                .unwrap_or(0)
                .saturating_add(1);
            let max = shared.options.max_deferrals;
            let messages = if deferrals > max {
                let reason = format!(
                    "deferred {max} times: another worker held the take's {stage} job all along"
                );
                warn!(take_id = %key.take_id, %reason, "dead-lettering a job deferred too often");
                shared.dead_letter(&headers, &delivery.data, &reason, ErrorClass::Transient)
            } else {
                let delay = shared
                    .topology()
                    .retry_delays()
                    .first()
                    .copied()
                    .unwrap_or(Duration::from_secs(1));
                info!(take_id = %key.take_id, fence, ?expires_at, ?delay, deferrals, "another worker holds this take; deferred");
                let mut table = headers.to_table();
                table.insert(
                    ShortString::from(HEADER_DEFERRALS),
                    AMQPValue::LongLongInt(i64::from(deferrals)),
                );
                vec![Addressed {
                    exchange: shared.topology().retry_exchange(),
                    routing_key: Topology::delay_routing_key(stage, delay),
                    headers: table,
                    body: delivery.data.clone(),
                }]
            };
            publish_all(publisher, &messages).await?;
            delivery.ack(BasicAckOptions::default()).await?;
        }
        Ok(Acquire::Busy { fence, expires_at }) => {
            info!(take_id = %key.take_id, fence, ?expires_at, "duplicate of a job another worker holds; dropped");
            shared.options.metrics.duplicate(stage);
            delivery.ack(BasicAckOptions::default()).await?;
        }
        Err(error) => {
            // The job cannot be accepted now. It goes through the delay
            // queues like a transient failure (an attempt counted), so a
            // store that stays down ends in the dead-letter queue instead
            // of circling for ever.
            let retry = headers.attempt.saturating_add(1);
            let reason = format!("the lease store failed: {error}");
            let messages = match shared.topology().retry_delay(retry) {
                Some(delay) => {
                    warn!(%reason, ?delay, retry, "cannot take the lease; retrying later");
                    vec![shared.retry(&headers, &delivery.data, delay)]
                }
                None => {
                    let reason = format!("{reason} (gave up after {retry} attempts)");
                    warn!(%reason, "cannot take the lease; dead-lettering");
                    shared.dead_letter(&headers, &delivery.data, &reason, ErrorClass::Transient)
                }
            };
            drop(permit);
            sleep(LEASE_STORE_PAUSE).await;
            publish_all(publisher, &messages).await?;
            delivery.ack(BasicAckOptions::default()).await?;
        }
    }
    Ok(())
}

async fn publish_all(publisher: &Publisher, messages: &[Addressed]) -> Result<(), BrokerError> {
    for message in messages {
        publisher
            .publish(
                &message.exchange,
                &message.routing_key,
                message.headers.clone(),
                &message.body,
            )
            .await?;
    }
    Ok(())
}
