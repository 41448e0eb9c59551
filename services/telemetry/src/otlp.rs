//! The OTLP trace exporter, configured by the standard environment
//! variables, and the HTTP client it posts with.

use std::time::Duration;

use bytes::Bytes;
use opentelemetry_http::{HttpClient, HttpError};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;

/// Where traces go; either turns them on.
const ENDPOINT_VARS: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
];
/// The OTLP default, when neither timeout variable is set.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// Whether the environment asks for traces: an endpoint is set and neither
/// `OTEL_SDK_DISABLED=true` nor `OTEL_TRACES_EXPORTER=none` says no.
pub(crate) fn wanted() -> bool {
    let endpoint = ENDPOINT_VARS.iter().any(|name| env(name).is_some());
    let disabled = env("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let no_exporter = env("OTEL_TRACES_EXPORTER").is_some_and(|v| v.eq_ignore_ascii_case("none"));
    endpoint && !disabled && !no_exporter
}

/// The tracer provider the environment asks for: `Ok(None)` when it asks
/// for none; `Err` (in words) when it asks for one this build cannot make.
pub(crate) fn provider_from_env(service: &str) -> Result<Option<SdkTracerProvider>, String> {
    if !wanted() {
        return Ok(None);
    }
    for name in [
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ] {
        if let Some(protocol) = env(name) {
            if protocol != "http/protobuf" {
                return Err(format!(
                    "{name}={protocol}: moocpipe exports OTLP as http/protobuf only"
                ));
            }
            break;
        }
    }
    let timeout = [
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
    ]
    .iter()
    .find_map(|name| env(name)?.parse::<u64>().ok())
    .map_or(DEFAULT_TIMEOUT, Duration::from_millis);
    let agent = ureq::Agent::config_builder()
        // The exporter reads the status itself.
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .user_agent(concat!("moocpipe/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent();
    // The endpoint, headers and timeout variables are read by the builder.
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_timeout(timeout)
        .with_http_client(UreqClient(agent))
        .build()
        .map_err(|error| format!("the OTLP exporter: {error}"))?;
    let service = env("OTEL_SERVICE_NAME").unwrap_or_else(|| service.to_owned());
    // The sampler (OTEL_TRACES_SAMPLER, _ARG) and the batch settings
    // (OTEL_BSP_*) are read by the SDK's defaults.
    Ok(Some(
        SdkTracerProvider::builder()
            .with_resource(Resource::builder().with_service_name(service).build())
            .with_batch_exporter(exporter)
            .build(),
    ))
}

/// OTLP/HTTP posts with ureq, from the batch processor's own thread.
#[derive(Debug)]
struct UreqClient(ureq::Agent);

#[async_trait::async_trait]
impl HttpClient for UreqClient {
    async fn send_bytes(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, HttpError> {
        let mut response = self.0.run(request.map(|body| body.to_vec()))?;
        let status = response.status();
        let body = response.body_mut().read_to_vec()?;
        Ok(http::Response::builder()
            .status(status)
            .body(Bytes::from(body))?)
    }
}
