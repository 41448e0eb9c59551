//! Keeping the catalog up to date while the server runs.
//!
//! - Distributed: a durable queue `<p>.catalog`, bound to the events
//!   exchange with `take.#`, receives every event the pipeline publishes
//!   (ingested, each stage's outcome); each one syncs its take and course
//!   from the media bucket, then is acknowledged — a server that was down
//!   catches up from the queue, and a sync that fails is retried.
//!   A `take.ingest.material` event (a course material recorded) syncs its
//!   course, whose row lists the course's materials.
//! - Embedded: the data folder is scanned every few seconds and a take
//!   whose records changed (by modification time) is synced, and a course
//!   whose report, `course.json` or material records changed.

use lapin::options::{BasicAckOptions, BasicNackOptions};
use moocpipe_broker::{consume, topology, BrokerError, Headers};
use moocpipe_catalog::sync::{sync_course, sync_take_in_course};
use moocpipe_catalog::{Catalog, CatalogError};
use moocpipe_storage::layout::{self, Record};
use moocpipe_storage::{LocalStore, ObjectStore, S3Store};
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, SystemTime};
use tokio_util::sync::CancellationToken;

use crate::Broker;

/// The catalog's queue on the events exchange.
pub fn queue_name(topology: &moocpipe_broker::Topology) -> String {
    format!("{}.catalog", topology.prefix())
}

/// Syncs a take and its course.
async fn sync_one<S: ObjectStore>(
    catalog: &Catalog,
    store: &S,
    take_id: &str,
    probe_pending: bool,
) -> Result<(), CatalogError> {
    if let Some((_, course)) = sync_take_in_course(catalog, store, take_id, probe_pending).await? {
        sync_course(catalog, store, &course).await?;
    }
    Ok(())
}

/// Follows the pipeline's events until `shutdown`; reconnects after a
/// broker outage.
pub async fn follow_events(
    catalog: Catalog,
    store: S3Store,
    jobs: moocpipe_control::PgPool,
    broker: Broker,
    shutdown: CancellationToken,
) {
    let mut failures = 0u32;
    while !shutdown.is_cancelled() {
        match consume(&catalog, &store, &jobs, &broker, &shutdown).await {
            Ok(()) => break,
            Err(error) => {
                failures = failures.saturating_add(1);
                tracing::warn!(%error, "catalog follower lost the broker; reconnecting");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(broker.amqp.reconnect.delay(failures)) => {}
            () = shutdown.cancelled() => {}
        }
    }
}

async fn consume(
    catalog: &Catalog,
    store: &S3Store,
    jobs: &moocpipe_control::PgPool,
    broker: &Broker,
    shutdown: &CancellationToken,
) -> Result<(), BrokerError> {
    let connection = broker.amqp.connect().await?;
    let channel = connection.create_channel().await?;
    topology::declare(&channel, &broker.topology).await?;
    let queue = queue_name(&broker.topology);
    let events = broker.topology.events_exchange();
    let mut consumer = consume::durable_queue(
        &channel,
        &queue,
        &[(events.as_str(), "take.#")],
        8,
        "moocpipe-catalog",
    )
    .await?;
    tracing::info!(%queue, "catalog follows the pipeline's events");
    while let Some(delivery) = consume::next(
        &mut consumer,
        shutdown,
        "the broker cancelled the catalog consumer",
    )
    .await?
    {
        let material_event = topology::Topology::event_routing_key(
            moocpipe_broker::Stage::Ingest,
            moocpipe_proto::MATERIAL_EVENT,
        );
        if delivery.routing_key.as_str() == material_event {
            match serde_json::from_slice::<moocpipe_proto::MaterialRecord>(&delivery.data) {
                Ok(record) => match sync_course(catalog, store, &record.course).await {
                    Ok(()) => {
                        delivery.ack(BasicAckOptions::default()).await?;
                    }
                    Err(error) => {
                        tracing::warn!(course = %record.course, %error, "catalog sync of a course failed; retrying");
                        retry_later(&delivery).await?;
                    }
                },
                Err(error) => {
                    tracing::warn!(%error, "a material event that is not a material record; dropped");
                    delivery.ack(BasicAckOptions::default()).await?;
                }
            }
            continue;
        }
        let take_id = match Headers::from_table(delivery.properties.headers().as_ref()) {
            Ok(headers) => headers.take_id,
            Err(reason) => {
                tracing::warn!(%reason, "an event that is not a moocpipe message; dropped");
                delivery.ack(BasicAckOptions::default()).await?;
                continue;
            }
        };
        let pending = moocpipe_control::probe_pending(jobs, &take_id)
            .await
            .unwrap_or(false);
        match sync_one(catalog, store, &take_id, pending).await {
            Ok(()) => {
                tracing::debug!(%take_id, "catalog synced");
                delivery.ack(BasicAckOptions::default()).await?;
            }
            Err(error @ CatalogError::Record { .. }) => {
                // A record that does not parse will not parse next time
                // either: said once, not retried for ever.
                tracing::error!(%take_id, %error, "catalog could not read the take's records");
                delivery.ack(BasicAckOptions::default()).await?;
            }
            Err(error) => {
                tracing::warn!(%take_id, %error, "catalog sync failed; retrying");
                retry_later(&delivery).await?;
            }
        }
    }
    let _ = connection.close(200, "catalog follower stopped").await;
    Ok(())
}

/// Gives an event back to the queue after a pause: its sync failed for a
/// reason that may pass (the database, the store).
async fn retry_later(delivery: &lapin::message::Delivery) -> Result<(), BrokerError> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    delivery
        .nack(BasicNackOptions {
            requeue: true,
            ..Default::default()
        })
        .await?;
    Ok(())
}

/// The newest modification time under a folder (one level) and how many
/// entries it holds: a cheap "did anything change".
fn signature(folder: &Path) -> Option<(SystemTime, usize)> {
    let entries = std::fs::read_dir(folder).ok()?;
    let mut newest = SystemTime::UNIX_EPOCH;
    let mut count = 0;
    for entry in entries.flatten() {
        count += 1;
        if let Ok(modified) = entry.metadata().and_then(|m| m.modified()) {
            newest = newest.max(modified);
        }
    }
    Some((newest, count))
}

/// One pass over the data folder: syncs every take whose records changed
/// since `seen`, and their courses, and every course whose report changed.
/// Returns how many takes it synced.
pub async fn scan_local(
    catalog: &Catalog,
    store: &LocalStore,
    seen: &mut HashMap<String, (SystemTime, usize)>,
) -> usize {
    let mut synced = 0;
    let mut courses = std::collections::BTreeSet::new();
    let takes_dir = store.path("takes");
    let ids: Vec<String> = std::fs::read_dir(&takes_dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                .filter(|name| !name.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    for id in ids {
        let folder = store.path(&format!("takes/{id}/records"));
        let Some(sig) = signature(&folder) else {
            continue;
        };
        if seen.get(&id) == Some(&sig) {
            continue;
        }
        if !store.exists(&layout::record(&id, Record::Ingest)) {
            continue;
        }
        match sync_take_in_course(catalog, store, &id, false).await {
            Ok(Some((_, course))) => {
                synced += 1;
                seen.insert(id.clone(), sig);
                courses.insert(course);
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(take_id = %id, %error, "catalog could not sync the take");
                seen.insert(id.clone(), sig);
            }
        }
    }
    let courses_dir = store.path("courses");
    if let Ok(entries) = std::fs::read_dir(&courses_dir) {
        for entry in entries.flatten() {
            let Some(course) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let key = format!("course:{course}");
            let report = signature(&store.path(&format!("courses/{course}/reports")));
            let info = std::fs::metadata(store.path(&layout::course_info(&course)))
                .and_then(|m| m.modified())
                .ok();
            let materials = signature(&store.path(&layout::material_records(&course)));
            let sig = [report, info.map(|t| (t, 0)), materials]
                .into_iter()
                .flatten()
                .fold((SystemTime::UNIX_EPOCH, 0), |(t, n), (t2, n2)| {
                    (t.max(t2), n + n2)
                });
            if seen.get(&key) != Some(&sig) || courses.contains(&course) {
                match sync_course(catalog, store, &course).await {
                    Ok(()) => {
                        seen.insert(key, sig);
                    }
                    Err(error) => {
                        tracing::warn!(%course, %error, "catalog could not sync the course");
                        seen.insert(key, sig);
                    }
                }
            }
        }
    }
    synced
}

/// Scans the data folder every `every` until `shutdown`, starting from
/// what `seen` already holds (a first [`scan_local`]).
pub async fn watch_local(
    catalog: Catalog,
    store: LocalStore,
    mut seen: HashMap<String, (SystemTime, usize)>,
    every: Duration,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = shutdown.cancelled() => break,
        }
        let synced = scan_local(&catalog, &store, &mut seen).await;
        if synced > 0 {
            tracing::info!(synced, "catalog synced from the data folder");
        }
    }
}
