//! W3C trace context in message headers: what a publisher writes
//! (`traceparent`, `tracestate`) so that the consumer's span is its child,
//! in another process, after a retry, days later.
//!
//! Without an exporter (no OTLP endpoint) spans have no OpenTelemetry
//! context: [`TraceHeaders::of`] is empty, [`TraceHeaders::parent`] does
//! nothing, and a caller passes the headers it received on unchanged.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Header: `00-<trace id>-<parent span id>-<flags>`.
pub const TRACEPARENT: &str = "traceparent";
/// Header: vendors' trace state, carried along with `traceparent`.
pub const TRACESTATE: &str = "tracestate";

/// The W3C trace context of a message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceHeaders {
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
}

impl TraceHeaders {
    /// The context of `span`: empty unless spans are exported.
    pub fn of(span: &tracing::Span) -> TraceHeaders {
        let mut headers = TraceHeaders::default();
        let context = span.context();
        if context.span().span_context().is_valid() {
            TraceContextPropagator::new().inject_context(&context, &mut headers);
        }
        headers
    }

    /// The context of the current span.
    pub fn current() -> TraceHeaders {
        TraceHeaders::of(&tracing::Span::current())
    }

    pub fn is_empty(&self) -> bool {
        self.traceparent.is_none()
    }

    /// Makes `span` (not entered yet) a child of the span these headers
    /// name. Nothing happens when they name none or spans are not exported.
    pub fn parent(&self, span: &tracing::Span) {
        if self.traceparent.is_none() {
            return;
        }
        let context = TraceContextPropagator::new().extract(self);
        if context.span().span_context().is_valid() {
            set_parent(span, context);
        }
    }

    /// The trace id `traceparent` names (32 lowercase hex digits), if it
    /// is well formed.
    pub fn trace_id(&self) -> Option<&str> {
        let mut parts = self.traceparent.as_deref()?.split('-');
        let (_version, id) = (parts.next()?, parts.next()?);
        let hex = id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        (hex && id.bytes().any(|b| b != b'0')).then_some(id)
    }

    /// `(name, value)` of each header present, to write into a request.
    pub fn pairs(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            (TRACEPARENT, self.traceparent.as_deref()),
            (TRACESTATE, self.tracestate.as_deref()),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
    }
}

fn set_parent(span: &tracing::Span, context: opentelemetry::Context) {
    // An error only says the span had started already; its parent stays.
    let _ = span.set_parent(context);
}

/// The trace id of `span` as exported (32 hex digits); `None` when spans
/// are not exported.
pub fn trace_id(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// Records the trace id in `span`'s `trace_id` field (declared
/// `tracing::field::Empty`), so every log line inside it shows the trace:
/// the exported one, else the one `received` names (passed on unexported).
pub fn record_trace_id(span: &tracing::Span, received: &TraceHeaders) {
    // Displayed, so the id is bare (no quotes) in the log line.
    match trace_id(span) {
        Some(id) => {
            span.record("trace_id", tracing::field::display(id));
        }
        None => {
            if let Some(id) = received.trace_id() {
                span.record("trace_id", tracing::field::display(id));
            }
        }
    }
}

impl Injector for TraceHeaders {
    fn set(&mut self, key: &str, value: String) {
        match key {
            TRACEPARENT => self.traceparent = Some(value),
            TRACESTATE => self.tracestate = Some(value).filter(|v| !v.is_empty()),
            _ => {}
        }
    }
}

impl Extractor for TraceHeaders {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            TRACEPARENT => self.traceparent.as_deref(),
            TRACESTATE => self.tracestate.as_deref(),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        self.pairs().map(|(name, _)| name).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_names_its_trace() {
        let headers = TraceHeaders {
            traceparent: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
            tracestate: None,
        };
        assert_eq!(headers.trace_id(), Some("0af7651916cd43dd8448eb211c80319c"));
        let zero = TraceHeaders {
            traceparent: Some(format!("00-{}-b7ad6b7169203331-01", "0".repeat(32))),
            tracestate: None,
        };
        assert_eq!(zero.trace_id(), None);
        assert_eq!(TraceHeaders::default().trace_id(), None);
    }

    #[test]
    fn without_an_exporter_a_span_has_no_context_to_send() {
        let span = tracing::info_span!("job");
        assert!(TraceHeaders::of(&span).is_empty());
        assert_eq!(trace_id(&span), None);
    }
}
