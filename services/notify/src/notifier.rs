//! Sending one notice over every configured channel.

use std::fmt;

use tracing::Instrument;

use crate::email::EmailChannel;
use crate::webhook::WebhookChannel;
use crate::{Notice, NotifyConfig, NotifyError, Sent};

/// Sends [`Notice`]s over the channels of a [`NotifyConfig`]. Cheap to share
/// behind an `Arc`; [`send`](Self::send) takes `&self`.
pub struct Notifier {
    email: Option<EmailChannel>,
    webhook: Option<WebhookChannel>,
}

impl Notifier {
    /// Checks `config` (errors name the variable at fault) and sets up its
    /// channels. No connection is made until [`send`](Self::send).
    pub fn new(config: NotifyConfig) -> Result<Self, NotifyError> {
        let email = config.smtp.as_ref().map(EmailChannel::new).transpose()?;
        let webhook = config
            .webhook
            .as_ref()
            .map(WebhookChannel::new)
            .transpose()?;
        Ok(Notifier { email, webhook })
    }

    /// Whether SMTP is configured.
    pub fn has_email(&self) -> bool {
        self.email.is_some()
    }

    /// Whether a webhook is configured.
    pub fn has_webhook(&self) -> bool {
        self.webhook.is_some()
    }

    /// Sends `notice` by e-mail (when it has a recipient and SMTP is
    /// configured) and to the webhook (when configured), both at once.
    ///
    /// `Ok` tells which channels delivered; nothing configured is `Ok` with
    /// neither. When a channel fails the error is returned even if the other
    /// delivered: a retry resends both, which the receivers recognise by the
    /// e-mail's `Message-ID` and the webhook's `Idempotency-Key`. When both
    /// fail, a transient error is returned before a permanent one, so that a
    /// retry still happens while it may help.
    pub async fn send(&self, notice: &Notice) -> Result<Sent, NotifyError> {
        self.send_each(notice).await.result()
    }

    /// Sends `notice` like [`send`](Self::send) and tells how each channel
    /// fared. The whole is one span (`notice`), each channel one inside it;
    /// the webhook's request carries its W3C `traceparent`.
    pub async fn send_each(&self, notice: &Notice) -> Deliveries {
        let span = tracing::info_span!(
            "notice",
            take_id = %notice.take_id,
            email = tracing::field::Empty,
            webhook = tracing::field::Empty,
        );
        let deliveries = self.deliver(notice).instrument(span.clone()).await;
        for (name, outcome) in [
            ("email", &deliveries.email),
            ("webhook", &deliveries.webhook),
        ] {
            if let Some(outcome) = outcome {
                span.record(name, Deliveries::outcome(outcome));
            }
        }
        deliveries
    }

    async fn deliver(&self, notice: &Notice) -> Deliveries {
        if let Err(error) = check_take_id(&notice.take_id) {
            return Deliveries {
                invalid: Some(error),
                ..Deliveries::default()
            };
        }
        let to = notice
            .to
            .as_deref()
            .map(str::trim)
            .filter(|to| !to.is_empty());
        let cc: Vec<&str> = notice
            .cc
            .iter()
            .map(|a| a.trim())
            .filter(|a| !a.is_empty() && Some(*a) != to)
            .collect();

        let email = async {
            match (&self.email, to.is_some() || !cc.is_empty()) {
                (Some(channel), true) => Some(
                    channel
                        .send(notice, to, &cc)
                        .instrument(tracing::info_span!("notice email"))
                        .await,
                ),
                _ => None,
            }
        };
        let webhook = async {
            match &self.webhook {
                Some(channel) => Some(
                    channel
                        .send(notice)
                        .instrument(tracing::info_span!("notice webhook"))
                        .await,
                ),
                None => None,
            }
        };
        let (email, webhook) = tokio::join!(email, webhook);
        if email.is_none() && webhook.is_none() {
            tracing::debug!(take_id = %notice.take_id, "no channel for this notice");
        }
        Deliveries {
            email,
            webhook,
            invalid: None,
        }
    }
}

/// How each channel fared with one notice: `None` for a channel not used
/// (not configured, or no recipient).
#[derive(Debug, Default)]
pub struct Deliveries {
    pub email: Option<Result<(), NotifyError>>,
    pub webhook: Option<Result<(), NotifyError>>,
    /// The notice itself was refused before any channel was tried.
    pub invalid: Option<NotifyError>,
}

impl Deliveries {
    /// `sent`, `transient` (a retry may deliver) or `permanent`: a label
    /// for metrics and spans.
    pub fn outcome(result: &Result<(), NotifyError>) -> &'static str {
        match result {
            Ok(()) => "sent",
            Err(error) if error.is_transient() => "transient",
            Err(_) => "permanent",
        }
    }

    /// `(channel, outcome)` of each channel used.
    pub fn outcomes(&self) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
        [("email", &self.email), ("webhook", &self.webhook)]
            .into_iter()
            .filter_map(|(channel, result)| Some((channel, Deliveries::outcome(result.as_ref()?))))
    }

    /// The whole as [`Notifier::send`] gives it.
    pub fn result(self) -> Result<Sent, NotifyError> {
        if let Some(invalid) = self.invalid {
            return Err(invalid);
        }
        let (used_email, used_webhook) = (self.email.is_some(), self.webhook.is_some());
        let email = self.email.unwrap_or(Ok(())).map(|()| used_email);
        let webhook = self.webhook.unwrap_or(Ok(())).map(|()| used_webhook);
        match (email, webhook) {
            (Ok(email), Ok(webhook)) => Ok(Sent { email, webhook }),
            (Err(err), Ok(_)) | (Ok(_), Err(err)) => Err(err),
            (Err(email), Err(webhook)) => {
                if !email.is_transient() && webhook.is_transient() {
                    tracing::warn!(error = %email, "e-mail failed too");
                    Err(webhook)
                } else {
                    tracing::warn!(error = %webhook, "webhook failed too");
                    Err(email)
                }
            }
        }
    }
}

impl fmt::Debug for Notifier {
    /// The channels' addresses only: never a password or a webhook's path.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier")
            .field("smtp", &self.email.as_ref().map(EmailChannel::address))
            .field(
                "webhook",
                &self.webhook.as_ref().map(WebhookChannel::address),
            )
            .finish()
    }
}

/// A take id names a `Message-ID` and an HTTP header: it must not smuggle in
/// anything else. Take ids are hex digests; this allows a little more.
fn check_take_id(take_id: &str) -> Result<(), NotifyError> {
    let fits = !take_id.is_empty()
        && take_id.len() <= 128
        && take_id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'));
    if fits {
        Ok(())
    } else {
        Err(NotifyError::InvalidNotice {
            take_id: take_id.to_owned(),
            reason: "a take id may hold only ASCII letters, digits, '-', '_' and '.' (1 to 128)"
                .to_owned(),
        })
    }
}
