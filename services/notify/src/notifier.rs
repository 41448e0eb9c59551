//! Sending one notice over every configured channel.

use std::fmt;

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
        check_take_id(&notice.take_id)?;
        let to = notice
            .to
            .as_deref()
            .map(str::trim)
            .filter(|to| !to.is_empty());

        let email = async {
            match (&self.email, to) {
                (Some(channel), Some(to)) => channel.send(notice, to).await.map(|()| true),
                _ => Ok(false),
            }
        };
        let webhook = async {
            match &self.webhook {
                Some(channel) => channel.send(notice).await.map(|()| true),
                None => Ok(false),
            }
        };
        let (email, webhook) = tokio::join!(email, webhook);

        match (email, webhook) {
            (Ok(email), Ok(webhook)) => {
                if !email && !webhook {
                    tracing::debug!(take_id = %notice.take_id, "no channel for this notice");
                }
                Ok(Sent { email, webhook })
            }
            (Err(err), Ok(_)) | (Ok(_), Err(err)) => Err(err),
            (Err(email), Err(webhook)) => {
                if !email.is_transient() && webhook.is_transient() {
                    tracing::warn!(take_id = %notice.take_id, error = %email, "e-mail failed too");
                    Err(webhook)
                } else {
                    tracing::warn!(take_id = %notice.take_id, error = %webhook, "webhook failed too");
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
