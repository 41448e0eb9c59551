//! Telemetry shared by every moocpipe role, set up by one call at the start
//! of a process ([`init`]): logs to stderr and, when an OTLP endpoint is
//! configured, OpenTelemetry traces exported over OTLP (HTTP, protobuf).
//!
//! Traces follow the standard OpenTelemetry variables:
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`)
//! turns them on, `OTEL_SERVICE_NAME` names the process (default: the
//! role, `moocpipe-probe` …), `OTEL_TRACES_SAMPLER` / `_ARG` sample,
//! `OTEL_EXPORTER_OTLP_HEADERS` / `_TIMEOUT` and `OTEL_BSP_*` tune the
//! export; `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` turn
//! them off. Without an endpoint no exporter, thread or OpenTelemetry layer
//! exists: the subscriber is the log formatter alone.
//!
//! [`propagation`] carries W3C trace context (`traceparent`,
//! `tracestate`) in and out of AMQP and HTTP headers.

mod otlp;
pub mod propagation;

pub use propagation::{trace_id, TraceHeaders};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// What [`init`] set up. Dropping it flushes the spans not yet exported and
/// stops the exporter: keep it alive until the process ends.
#[must_use = "dropping the guard stops the trace exporter"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are exported (an OTLP endpoint is configured).
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports every finished span now. A no-op without an endpoint.
    pub fn flush(&self) {
        if let Some(provider) = &self.provider {
            if let Err(error) = provider.force_flush() {
                eprintln!("moocpipe: flushing traces: {error}");
            }
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            // Waits for the batch exporter's last export (its own thread, so
            // this is safe outside and inside a runtime alike).
            if let Err(error) = provider.shutdown() {
                eprintln!("moocpipe: exporting the last traces: {error}");
            }
        }
    }
}

/// Installs the global tracing subscriber. Logs go to stderr so that stdout
/// stays clean for reports and JSON; their level comes from `MOOCPIPE_LOG`
/// (`RUST_LOG` syntax), else `default_level`. With an OTLP endpoint in the
/// environment, moocpipe's own spans (info and above) are exported too,
/// whatever the log level, as `service` unless `OTEL_SERVICE_NAME` says
/// otherwise. Log lines inside a job or a take show its `trace_id`.
pub fn init(default_level: &str, service: &str) -> Telemetry {
    let filter =
        EnvFilter::try_from_env("MOOCPIPE_LOG").unwrap_or_else(|_| EnvFilter::new(default_level));
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_filter(filter);
    let (provider, problem) = match otlp::provider_from_env(service) {
        Ok(provider) => (provider, None),
        Err(problem) => (None, Some(problem)),
    };
    let traces = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("moocpipe"))
            // moocpipe's spans only: the AWS SDK's, hyper's and sqlx's
            // would multiply a take's spans by ten and say little.
            .with_filter(Targets::new().with_target("moocpipe", tracing::Level::INFO))
    });
    // A second call (e.g. from a test) keeps the first subscriber, and the
    // provider it would have fed is dropped.
    let installed = tracing_subscriber::registry()
        .with(logs)
        .with(traces)
        .try_init()
        .is_ok();
    if let Some(problem) = problem {
        tracing::warn!(%problem, "traces are not exported");
    }
    Telemetry {
        provider: provider.filter(|_| installed),
    }
}
