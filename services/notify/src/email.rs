//! The e-mail channel: one plain-text message per notice over SMTP.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::SmtpConfig;
use crate::{Notice, NotifyError};

/// The longest one SMTP command may wait for its reply.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// The `Message-ID` of a take's notice: the same for every send, so a resend
/// after a crash is recognisable as a duplicate.
pub(crate) fn message_id(take_id: &str) -> String {
    format!("<take-{take_id}@moocpipe>")
}

pub(crate) struct EmailChannel {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// `host:port` of the relay, for messages.
    address: String,
}

impl EmailChannel {
    pub(crate) fn new(config: &SmtpConfig) -> Result<Self, NotifyError> {
        let target = config.target()?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&config.url)
            .map_err(|err| NotifyError::Config {
                variable: crate::ENV_SMTP_URL,
                reason: format!("SMTP server {}: {err}", target.address),
            })?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        Ok(EmailChannel {
            transport,
            from: target.from,
            address: target.address,
        })
    }

    /// The server's address, for messages.
    pub(crate) fn address(&self) -> &str {
        &self.address
    }

    /// Sends `notice` to `to` with copies to `cc` (to the first of `cc`
    /// when there is no `to`); `Ok` once the relay accepted it.
    pub(crate) async fn send(
        &self,
        notice: &Notice,
        to: Option<&str>,
        cc: &[&str],
    ) -> Result<(), NotifyError> {
        let (to, cc) = match (to, cc.split_first()) {
            (Some(to), _) => (to, cc),
            (None, Some((first, rest))) => (*first, rest),
            (None, None) => return Ok(()),
        };
        let message = self.message(notice, to, cc)?;
        match self.transport.send(message).await {
            Ok(response) => {
                tracing::debug!(
                    take_id = %notice.take_id,
                    server = %self.address,
                    code = %response.code(),
                    "notice e-mailed"
                );
                Ok(())
            }
            Err(source) => Err(NotifyError::Smtp {
                address: self.address.clone(),
                to: std::iter::once(to)
                    .chain(cc.iter().copied())
                    .collect::<Vec<_>>()
                    .join(", "),
                source,
            }),
        }
    }

    fn message(&self, notice: &Notice, to: &str, cc: &[&str]) -> Result<Message, NotifyError> {
        let invalid = |reason: String| NotifyError::InvalidNotice {
            take_id: notice.take_id.clone(),
            reason,
        };
        let mailbox = |address: &str| {
            address
                .parse::<Mailbox>()
                .map_err(|err| invalid(format!("{address:?} is not an e-mail address ({err})")))
        };
        let recipient = mailbox(to)?;
        let mut builder = Message::builder();
        for copy in cc {
            builder = builder.cc(mailbox(copy)?);
        }
        // A subject is one line; a stray line break from a title must not
        // end the header.
        let subject = notice.subject.replace(['\r', '\n'], " ");
        builder
            .from(self.from.clone())
            .to(recipient)
            .subject(subject)
            .message_id(Some(message_id(&notice.take_id)))
            .header(ContentType::TEXT_PLAIN)
            .body(notice.text.clone())
            .map_err(|err| invalid(format!("building the e-mail: {err}")))
    }
}
