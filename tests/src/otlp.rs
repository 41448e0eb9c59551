//! An OTLP/HTTP trace receiver for tests: the webhook capture server
//! answering 200 to `POST /v1/traces`, each body decoded as an
//! `ExportTraceServiceRequest` with the OpenTelemetry protocol types.
//! Point a process at it with `OTEL_EXPORTER_OTLP_ENDPOINT`.

use moocpipe_notify::capture::WebhookServer;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use prost::Message;
use std::collections::BTreeMap;

/// One span as received, ids in lowercase hex.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    /// The resource's `service.name`: which process sent it.
    pub service: String,
    pub name: String,
    pub trace_id: String,
    pub span_id: String,
    /// `None` for a root span.
    pub parent: Option<String>,
    /// Every attribute, its value as text.
    pub attributes: BTreeMap<String, String>,
}

impl ReceivedSpan {
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).map(String::as_str)
    }
}

pub struct OtlpReceiver {
    server: WebhookServer,
}

impl OtlpReceiver {
    pub async fn start() -> OtlpReceiver {
        OtlpReceiver {
            server: WebhookServer::start_with_status(200)
                .await
                .expect("start the OTLP receiver"),
        }
    }

    /// The value for `OTEL_EXPORTER_OTLP_ENDPOINT` (the exporter adds
    /// `/v1/traces`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// How many export requests arrived.
    pub fn requests(&self) -> usize {
        self.server.requests().len()
    }

    /// Every span received so far. A request that is not an OTLP trace
    /// export fails the test.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        let mut spans = Vec::new();
        for request in self.server.requests() {
            assert_eq!(
                (request.method.as_str(), request.path.as_str()),
                ("POST", "/v1/traces"),
                "not an OTLP trace export"
            );
            assert_eq!(
                request.header("content-type"),
                Some("application/x-protobuf")
            );
            let export = ExportTraceServiceRequest::decode(request.body.as_slice())
                .expect("an OTLP ExportTraceServiceRequest");
            for resource in export.resource_spans {
                let service = resource
                    .resource
                    .as_ref()
                    .and_then(|r| attributes(&r.attributes).remove("service.name"))
                    .unwrap_or_default();
                for scope in resource.scope_spans {
                    for span in scope.spans {
                        spans.push(ReceivedSpan {
                            service: service.clone(),
                            name: span.name,
                            trace_id: hex(&span.trace_id),
                            span_id: hex(&span.span_id),
                            parent: (!span.parent_span_id.is_empty())
                                .then(|| hex(&span.parent_span_id)),
                            attributes: attributes(&span.attributes),
                        });
                    }
                }
            }
        }
        spans
    }
}

fn attributes(list: &[KeyValue]) -> BTreeMap<String, String> {
    list.iter()
        .map(|kv| {
            (
                kv.key.clone(),
                kv.value.as_ref().map(text).unwrap_or_default(),
            )
        })
        .collect()
}

fn text(value: &AnyValue) -> String {
    match &value.value {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
