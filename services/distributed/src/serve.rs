//! `/metrics` (Prometheus text format) and `/healthz` for one worker
//! process, on the address given with `--metrics-addr`.
//!
//! `/healthz` tells a *stalled* worker from a *busy* one. Busy — every slot
//! running a long encode — is healthy: 200 with `"status": "busy"`. Stalled
//! is 503 with what is wrong in `failing`: the worker loop has not turned
//! for [`LOOP_STALL`], it has no broker connection, or the control database
//! or the media store did not answer within [`CHECK_TIMEOUT`].

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use moocpipe_broker::{Stage, WorkerHealth};
use moocpipe_control::PgPool;
use moocpipe_storage::{ObjectStore, S3Store};
use prometheus::{Encoder, GaugeVec, Opts, Registry, TextEncoder};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A worker loop that has not turned for this long is stalled (it turns at
/// least every second while connected; reconnect back-off is at most 30 s).
pub const LOOP_STALL: Duration = Duration::from_secs(45);
/// How long each dependency may take to answer a health check.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// What `/healthz` checks.
#[derive(Clone)]
pub struct Health {
    pub stage: Stage,
    pub worker: Arc<WorkerHealth>,
    pub database: PgPool,
    pub store: S3Store,
}

#[derive(Clone)]
struct App {
    registry: Registry,
    health: Option<Health>,
    oldest_job: Option<GaugeVec>,
}

/// Serves until `shutdown` fires. Binding errors are returned at once (a
/// taken port is a start-up error, not something to retry). Without
/// `health`, `/healthz` only says the process answers.
pub async fn serve(
    addr: SocketAddr,
    registry: Registry,
    health: Option<Health>,
    shutdown: CancellationToken,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let oldest_job = match &health {
        Some(_) => {
            let gauge = GaugeVec::new(
                Opts::new(
                    "moocpipe_job_oldest_running_seconds",
                    "How long the longest-running job of this worker has run (0: none)",
                ),
                &["stage"],
            )
            .map_err(std::io::Error::other)?;
            registry
                .register(Box::new(gauge.clone()))
                .map_err(std::io::Error::other)?;
            Some(gauge)
        }
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(App {
            registry,
            health,
            oldest_job,
        });
    tracing::info!(addr = %listener.local_addr()?, "serving /metrics and /healthz");
    Ok(tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(error) = served {
            tracing::warn!(%error, "the metrics server stopped");
        }
    }))
}

async fn metrics(State(app): State<App>) -> impl IntoResponse {
    if let (Some(health), Some(gauge)) = (&app.health, &app.oldest_job) {
        let oldest = health.worker.report().oldest_job.unwrap_or_default();
        gauge
            .with_label_values(&[health.stage.as_str()])
            .set(oldest.as_secs_f64());
    }
    let mut body = Vec::new();
    match TextEncoder::new().encode(&app.registry.gather(), &mut body) {
        Ok(()) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            body,
        ),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain")],
            e.to_string().into_bytes(),
        ),
    }
}

async fn healthz(State(app): State<App>) -> impl IntoResponse {
    let json = [(header::CONTENT_TYPE, "application/json")];
    let Some(health) = app.health else {
        return (StatusCode::OK, json, "{\"status\":\"ok\"}\n".to_owned());
    };
    let report = health.worker.report();
    let mut failing = Vec::new();
    if report.loop_idle > LOOP_STALL {
        failing.push(format!(
            "worker loop: no turn for {} s",
            report.loop_idle.as_secs()
        ));
    }
    if !report.connected {
        failing.push("broker: not connected".to_owned());
    }
    let (database, store) = tokio::join!(
        tokio::time::timeout(CHECK_TIMEOUT, moocpipe_control::ping(&health.database)),
        tokio::time::timeout(CHECK_TIMEOUT, health.store.head(".moocpipe-healthz")),
    );
    match database {
        Ok(Ok(())) => {}
        Ok(Err(error)) => failing.push(format!("database: {error}")),
        Err(_) => failing.push(format!(
            "database: no answer in {} s",
            CHECK_TIMEOUT.as_secs()
        )),
    }
    match store {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => failing.push(format!("store: {error}")),
        Err(_) => failing.push(format!("store: no answer in {} s", CHECK_TIMEOUT.as_secs())),
    }
    let status = if !failing.is_empty() {
        "stalled"
    } else if report.running > 0 {
        "busy"
    } else {
        "ok"
    };
    let body = serde_json::json!({
        "status": status,
        "stage": health.stage.as_str(),
        "running": report.running,
        "oldest_job_seconds": report.oldest_job.map(|d| d.as_secs()),
        "loop_idle_ms": u64::try_from(report.loop_idle.as_millis()).unwrap_or(u64::MAX),
        "failing": failing,
    });
    let code = if status == "stalled" {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, json, format!("{body}\n"))
}
