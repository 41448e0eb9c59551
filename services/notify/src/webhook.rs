//! The webhook channel: one JSON `POST` per notice, keyed by the take id.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE, USER_AGENT};
use hyper::{Method, Request};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::config::WebhookConfig;
use crate::{Notice, NotifyError};

/// The header that lets the receiver drop a resent notice.
pub(crate) const IDEMPOTENCY_KEY: &str = "idempotency-key";

pub(crate) struct WebhookChannel {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    uri: hyper::Uri,
    /// `scheme://host:port`, for messages.
    address: String,
    timeout: Duration,
}

impl WebhookChannel {
    pub(crate) fn new(config: &WebhookConfig) -> Result<Self, NotifyError> {
        let target = config.target()?;
        // rustls on ring, named here so that an aws-lc-rs elsewhere in a
        // build cannot make the process-wide default ambiguous.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        let builder = if target.https {
            builder
                .with_provider_and_native_roots(provider)
                .map_err(|err| NotifyError::Config {
                    variable: crate::ENV_WEBHOOK_URL,
                    reason: format!("TLS for {}: {err}", target.address),
                })?
        } else {
            // Plain HTTP never reaches TLS; an empty trust store is enough
            // and needs no system certificates.
            let tls = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|err| NotifyError::Config {
                    variable: crate::ENV_WEBHOOK_URL,
                    reason: format!("TLS for {}: {err}", target.address),
                })?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
            builder.with_tls_config(tls)
        };
        let connector = builder.https_or_http().enable_http1().build();
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(WebhookChannel {
            client,
            uri: target.uri,
            address: target.address,
            timeout: config.timeout,
        })
    }

    /// The server's address, for messages.
    pub(crate) fn address(&self) -> &str {
        &self.address
    }

    /// Posts the notice's payload; `Ok` once the webhook answered 2xx.
    pub(crate) async fn send(&self, notice: &Notice) -> Result<(), NotifyError> {
        let key =
            HeaderValue::from_str(&notice.take_id).map_err(|_| NotifyError::InvalidNotice {
                take_id: notice.take_id.clone(),
                reason: "the take id is not a valid header value".to_owned(),
            })?;
        let body =
            serde_json::to_vec(&notice.payload).map_err(|err| NotifyError::InvalidNotice {
                take_id: notice.take_id.clone(),
                reason: format!("encoding the payload: {err}"),
            })?;
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(self.uri.clone());
        // The receiver's span can be a child of this one (W3C trace
        // context); nothing is added when traces are not exported.
        for (name, value) in moocpipe_telemetry::TraceHeaders::current().pairs() {
            request = request.header(name, value);
        }
        let request = request
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(IDEMPOTENCY_KEY, key)
            .header(
                USER_AGENT,
                HeaderValue::from_static(concat!("moocpipe-notify/", env!("CARGO_PKG_VERSION"))),
            )
            .body(Full::new(Bytes::from(body)))
            .map_err(|err| NotifyError::InvalidNotice {
                take_id: notice.take_id.clone(),
                reason: format!("building the request: {err}"),
            })?;

        // The answer's body is not read: the status is all that counts.
        let response = tokio::time::timeout(self.timeout, self.client.request(request))
            .await
            .map_err(|_| NotifyError::WebhookTimeout {
                address: self.address.clone(),
                timeout: self.timeout,
            })?
            .map_err(|err| NotifyError::Webhook {
                address: self.address.clone(),
                reason: chain(&err),
            })?;
        let status = response.status();
        if !status.is_success() {
            return Err(NotifyError::WebhookStatus {
                address: self.address.clone(),
                status: status.as_u16(),
            });
        }
        tracing::debug!(
            take_id = %notice.take_id,
            webhook = %self.address,
            status = status.as_u16(),
            "notice posted"
        );
        Ok(())
    }
}

/// An error and its sources on one line: hyper-util's own message
/// ("client error (Connect)") says little without them.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
