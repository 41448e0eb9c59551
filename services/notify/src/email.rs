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

    /// Sends `notice` to `to`; `Ok` once the relay accepted it.
    pub(crate) async fn send(&self, notice: &Notice, to: &str) -> Result<(), NotifyError> {
        let message = self.message(notice, to)?;
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
                to: to.to_owned(),
                source,
            }),
        }
    }

    fn message(&self, notice: &Notice, to: &str) -> Result<Message, NotifyError> {
        let invalid = |reason: String| NotifyError::InvalidNotice {
            take_id: notice.take_id.clone(),
            reason,
        };
        let recipient = to
            .parse::<Mailbox>()
            .map_err(|err| invalid(format!("{to:?} is not an e-mail address ({err})")))?;
        // A subject is one line; a stray line break from a title must not
        // end the header.
        let subject = notice.subject.replace(['\r', '\n'], " ");
        Message::builder()
            .from(self.from.clone())
            .to(recipient)
            .subject(subject)
            .message_id(Some(message_id(&notice.take_id)))
            .header(ContentType::TEXT_PLAIN)
            .body(notice.text.clone())
            .map_err(|err| invalid(format!("building the e-mail: {err}")))
    }
}
