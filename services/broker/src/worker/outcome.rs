//! What a job's outcome becomes on the wire: the messages a worker
//! publishes (next stages' jobs, a retry through a delay queue, a dead
//! letter and its `take.<stage>.failed` event), and publishing them with
//! confirms across reconnects.

use std::time::Duration;

use lapin::types::FieldTable;
use serde::Serialize;
use tokio::sync::watch;
use tokio::time::timeout_at;
use tracing::warn;

use super::{Handler, WorkerOptions, EVENT_FAILED};
use crate::error::ErrorClass;
use crate::lease::LeaseStore;
use crate::message::{mark_dead, Headers};
use crate::publish::Publisher;
use crate::topology::{Stage, Topology};

/// A message to publish, already addressed.
#[derive(Debug, Clone)]
pub(super) struct Addressed {
    pub(super) exchange: String,
    pub(super) routing_key: String,
    pub(super) headers: FieldTable,
    pub(super) body: Vec<u8>,
}

/// The body of a `take.<stage>.failed` event.
#[derive(Debug, Serialize)]
struct FailedEvent<'a> {
    take_id: &'a str,
    stage: Stage,
    kind: &'static str,
    error: &'a str,
    attempts: u32,
}

/// What the loop and every job task share.
pub(super) struct Shared<H, L> {
    pub(super) options: WorkerOptions<L>,
    pub(super) handler: H,
    /// The current session's publisher; `None` while disconnected.
    pub(super) publisher: watch::Receiver<Option<Publisher>>,
    /// This worker as a lease holder (`host:pid`).
    pub(super) holder: String,
}

impl<H: Handler, L: LeaseStore> Shared<H, L> {
    pub(super) fn stage(&self) -> Stage {
        self.options.stage
    }

    pub(super) fn topology(&self) -> &Topology {
        &self.options.topology
    }

    pub(super) fn job_to(&self, stage: Stage, headers: &Headers, body: &[u8]) -> Addressed {
        Addressed {
            exchange: self.topology().jobs_exchange(),
            routing_key: Topology::stage_routing_key(stage).to_owned(),
            headers: headers.to_table(),
            body: body.to_vec(),
        }
    }

    pub(super) fn retry(&self, headers: &Headers, body: &[u8], delay: Duration) -> Addressed {
        let headers = headers
            .clone()
            .with_attempt(headers.attempt.saturating_add(1));
        Addressed {
            exchange: self.topology().retry_exchange(),
            routing_key: Topology::delay_routing_key(self.stage(), delay),
            headers: headers.to_table(),
            body: body.to_vec(),
        }
    }

    /// The dead letter and its `take.<stage>.failed` event.
    pub(super) fn dead_letter(
        &self,
        headers: &Headers,
        body: &[u8],
        reason: &str,
        class: ErrorClass,
    ) -> Vec<Addressed> {
        let mut table = headers.to_table();
        mark_dead(&mut table, reason, class);
        let mut messages = vec![Addressed {
            exchange: self.topology().dead_exchange(),
            routing_key: Topology::stage_routing_key(self.stage()).to_owned(),
            headers: table,
            body: body.to_vec(),
        }];
        let event = FailedEvent {
            take_id: &headers.take_id,
            stage: self.stage(),
            kind: class.as_str(),
            error: reason,
            attempts: headers.attempt.saturating_add(1),
        };
        match serde_json::to_vec(&event) {
            Ok(event_body) => messages.push(Addressed {
                exchange: self.topology().events_exchange(),
                routing_key: Topology::event_routing_key(self.stage(), EVENT_FAILED),
                headers: Headers::new(headers.take_id.clone())
                    .with_trace(headers.trace())
                    .to_table(),
                body: event_body,
            }),
            Err(error) => warn!(%error, "encoding the failed event"),
        }
        messages
    }

    /// Publishes `messages` in order with confirms, riding out reconnects
    /// for up to `handoff_timeout`. A message once confirmed is not sent
    /// again. False when the broker could not be reached in time.
    pub(super) async fn hand_on(&self, messages: &[Addressed]) -> bool {
        let deadline = tokio::time::Instant::now() + self.options.handoff_timeout;
        let mut publisher = self.publisher.clone();
        let mut next = 0;
        loop {
            let current = publisher.borrow_and_update().clone();
            if let Some(current) = current {
                while let Some(message) = messages.get(next) {
                    let sent = current
                        .publish(
                            &message.exchange,
                            &message.routing_key,
                            message.headers.clone(),
                            &message.body,
                        )
                        .await;
                    match sent {
                        Ok(()) => next += 1,
                        Err(error) => {
                            warn!(%error, exchange = %message.exchange, routing_key = %message.routing_key, "publish failed; waiting for the broker");
                            break;
                        }
                    }
                }
                if next == messages.len() {
                    return true;
                }
            }
            match timeout_at(deadline, publisher.changed()).await {
                Ok(Ok(())) => continue,
                _ => return false,
            }
        }
    }
}
