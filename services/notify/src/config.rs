//! Where notices go: the SMTP relay and the webhook, from the environment or
//! built by hand, and the checks both ways go through.
//!
//! A configured URL is never echoed in a message or in `Debug` output: an SMTP
//! URL may carry a password. Only its address (`host:port`, or
//! `scheme://host:port` for a webhook, whose path may be a secret token) is.

use std::fmt;
use std::time::Duration;

use lettre::message::Mailbox;
use url::Url;

use crate::NotifyError;

/// The SMTP relay: `smtp://host:port` (plain), `smtp://host:587?tls=required`
/// (STARTTLS), `smtps://host:465` (TLS from the start); `user:password@`
/// before the host logs in.
pub const ENV_SMTP_URL: &str = "MOOCPIPE_SMTP_URL";
/// The e-mail's sender, `address` or `Name <address>`; [`DEFAULT_SMTP_FROM`]
/// when unset.
pub const ENV_SMTP_FROM: &str = "MOOCPIPE_SMTP_FROM";
/// The webhook that receives each notice as a JSON `POST`.
pub const ENV_WEBHOOK_URL: &str = "MOOCPIPE_WEBHOOK_URL";
/// The studio's addresses, comma-separated: copied on every notice of a
/// take that failed the spec or could not be checked.
pub const ENV_STUDIO_EMAILS: &str = "MOOCPIPE_STUDIO_EMAILS";
/// The sender when [`ENV_SMTP_FROM`] is unset.
pub const DEFAULT_SMTP_FROM: &str = "moocpipe@localhost";

/// The channels a [`Notifier`](crate::Notifier) sends over; `None` turns a
/// channel off.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotifyConfig {
    /// E-mail to the take's author.
    pub smtp: Option<SmtpConfig>,
    /// A JSON `POST` per notice.
    pub webhook: Option<WebhookConfig>,
    /// The studio's addresses ([`ENV_STUDIO_EMAILS`]), copied on every spec
    /// failure.
    pub studio: Vec<String>,
}

/// The SMTP relay and the sender.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    /// `smtp://host:port`, `smtp://host:587?tls=required` or
    /// `smtps://host:465` (lettre's URL form; credentials as
    /// `user:password@host`). Plain `smtp://` is meant for tests and internal
    /// relays.
    pub url: String,
    /// The sender, `address` or `Name <address>`.
    pub from: String,
}

/// The webhook endpoint.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// `http://…` or `https://…`, without credentials.
    pub url: String,
    /// The longest a request may take, connecting and the answer's head
    /// included.
    pub timeout: Duration,
}

impl WebhookConfig {
    /// The time-out [`NotifyConfig::from_lookup`] gives the webhook.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
}

impl NotifyConfig {
    /// Reads [`ENV_SMTP_URL`], [`ENV_SMTP_FROM`] and [`ENV_WEBHOOK_URL`]
    /// through `lookup`; an unset or blank variable turns its channel off.
    /// A value that cannot work is an error naming the variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, NotifyError> {
        let get = |name: &str| {
            lookup(name)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        let smtp = get(ENV_SMTP_URL).map(|url| SmtpConfig {
            url,
            from: get(ENV_SMTP_FROM).unwrap_or_else(|| DEFAULT_SMTP_FROM.to_owned()),
        });
        let webhook = get(ENV_WEBHOOK_URL).map(|url| WebhookConfig {
            url,
            timeout: WebhookConfig::DEFAULT_TIMEOUT,
        });
        let studio = get(ENV_STUDIO_EMAILS)
            .map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let config = NotifyConfig {
            smtp,
            webhook,
            studio,
        };
        config.validate()?;
        Ok(config)
    }

    /// [`from_lookup`](Self::from_lookup) over the process environment.
    pub fn from_env() -> Result<Self, NotifyError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Checks every configured channel; the error names the variable that
    /// holds the faulty value.
    pub fn validate(&self) -> Result<(), NotifyError> {
        if let Some(smtp) = &self.smtp {
            smtp.target()?;
        }
        for address in &self.studio {
            address
                .parse::<Mailbox>()
                .map_err(|err| NotifyError::Config {
                    variable: ENV_STUDIO_EMAILS,
                    reason: format!("{address:?} is not an e-mail address ({err})"),
                })?;
        }
        if let Some(webhook) = &self.webhook {
            webhook.target()?;
        }
        Ok(())
    }
}

/// A checked [`SmtpConfig`].
pub(crate) struct SmtpTarget {
    /// `host:port`, for messages.
    pub address: String,
    pub from: Mailbox,
}

impl SmtpConfig {
    pub(crate) fn target(&self) -> Result<SmtpTarget, NotifyError> {
        let address = smtp_address(&self.url).map_err(|reason| config(ENV_SMTP_URL, reason))?;
        let from = self.from.parse::<Mailbox>().map_err(|err| {
            config(
                ENV_SMTP_FROM,
                format!("{:?} is not an e-mail address ({err})", self.from),
            )
        })?;
        Ok(SmtpTarget { address, from })
    }
}

/// A checked [`WebhookConfig`].
pub(crate) struct WebhookTarget {
    pub uri: hyper::Uri,
    /// `scheme://host:port`, for messages.
    pub address: String,
    pub https: bool,
}

impl WebhookConfig {
    pub(crate) fn target(&self) -> Result<WebhookTarget, NotifyError> {
        let fail = |reason: String| config(ENV_WEBHOOK_URL, reason);
        let url = Url::parse(&self.url).map_err(|err| fail(format!("not a URL ({err})")))?;
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            other => {
                return Err(fail(format!(
                    "the scheme must be http or https, not {other:?}"
                )))
            }
        };
        let address = origin(&url).ok_or_else(|| fail("the URL names no host".to_owned()))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(fail(format!(
                "credentials in the URL of {address} are not supported"
            )));
        }
        if self.timeout.is_zero() {
            return Err(fail(format!("the time-out for {address} is zero")));
        }
        let uri = url
            .as_str()
            .parse::<hyper::Uri>()
            .map_err(|err| fail(format!("not an HTTP URI ({err})")))?;
        Ok(WebhookTarget {
            uri,
            address,
            https,
        })
    }
}

fn config(variable: &'static str, reason: String) -> NotifyError {
    NotifyError::Config { variable, reason }
}

/// `host:port` of an SMTP URL, with lettre's default ports, or why lettre
/// could not use it.
fn smtp_address(url: &str) -> Result<String, String> {
    let url = Url::parse(url).map_err(|err| format!("not a URL ({err})"))?;
    let tls = url
        .query_pairs()
        .find(|(key, _)| key == "tls")
        .map(|(_, value)| value.into_owned());
    let default_port = match (url.scheme(), tls.as_deref()) {
        ("smtp", None) => 25,
        ("smtp", Some("required" | "opportunistic")) => 587,
        ("smtp", Some(other)) => {
            return Err(format!(
                "tls={other:?}: expected tls=required or tls=opportunistic"
            ))
        }
        ("smtps", _) => 465,
        (other, _) => return Err(format!("the scheme must be smtp or smtps, not {other:?}")),
    };
    let host = url
        .host_str()
        .filter(|host| !host.is_empty())
        .ok_or_else(|| "the URL names no host".to_owned())?;
    Ok(format!("{host}:{}", url.port().unwrap_or(default_port)))
}

/// `scheme://host:port` of a URL with a host.
fn origin(url: &Url) -> Option<String> {
    let host = url.host_str().filter(|host| !host.is_empty())?;
    let port = url.port_or_known_default()?;
    Some(format!("{}://{host}:{port}", url.scheme()))
}

/// What a URL can safely show: its address, never credentials or a path.
fn redacted(url: &str, address: impl Fn(&str) -> Option<String>) -> String {
    address(url).unwrap_or_else(|| "<invalid URL>".to_owned())
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("url", &redacted(&self.url, |url| smtp_address(url).ok()))
            .field("from", &self.from)
            .finish()
    }
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let address = |url: &str| Url::parse(url).ok().as_ref().and_then(origin);
        f.debug_struct("WebhookConfig")
            .field("url", &redacted(&self.url, address))
            .field("timeout", &self.timeout)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_addresses_take_lettres_default_ports() {
        assert_eq!(smtp_address("smtp://relay").as_deref(), Ok("relay:25"));
        assert_eq!(
            smtp_address("smtp://relay?tls=required").as_deref(),
            Ok("relay:587")
        );
        assert_eq!(
            smtp_address("smtps://u:secret@relay").as_deref(),
            Ok("relay:465")
        );
        assert_eq!(
            smtp_address("smtp://127.0.0.1:2525").as_deref(),
            Ok("127.0.0.1:2525")
        );
    }

    #[test]
    fn debug_output_hides_credentials_and_paths() {
        let smtp = SmtpConfig {
            url: "smtps://user:hunter2@relay.example.org".into(),
            from: DEFAULT_SMTP_FROM.into(),
        };
        let webhook = WebhookConfig {
            url: "https://hooks.example.org/services/T0/SECRET".into(),
            timeout: WebhookConfig::DEFAULT_TIMEOUT,
        };
        let shown = format!("{smtp:?} {webhook:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("relay.example.org:465"), "{shown}");
        assert!(shown.contains("https://hooks.example.org:443"), "{shown}");
    }
}
