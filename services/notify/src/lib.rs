//! Telling a take's author that their take was processed.
//!
//! One [`Notice`] goes out over up to two channels with the same content: an
//! e-mail over SMTP (when the take's sidecar names the author and SMTP is
//! configured) and a JSON `POST` to a webhook (when one is configured). The
//! caller — the report worker — decides *when* to send, once per take
//! version; this crate only sends and says what went wrong, as a
//! [`NotifyError`] that is either transient (retry later) or permanent.
//!
//! A resend after a crash is recognisable as a duplicate: the e-mail's
//! `Message-ID` and the webhook's `Idempotency-Key` header are both derived
//! from the take id alone.
//!
//! ```no_run
//! # async fn demo() -> Result<(), moocpipe_notify::NotifyError> {
//! use moocpipe_notify::{Notice, Notifier, NotifyConfig};
//!
//! let notifier = Notifier::new(NotifyConfig::from_env()?)?;
//! let notice = Notice {
//!     take_id: "3f1c…".into(),
//!     to: Some("author@example.org".into()),
//!     cc: Vec::new(),
//!     subject: "Your take is processed".into(),
//!     text: "All checks passed.\n".into(),
//!     payload: serde_json::json!({ "take_id": "3f1c…", "outcome": "pass" }),
//! };
//! let sent = notifier.send(&notice).await?;
//! println!("e-mail: {}, webhook: {}", sent.email, sent.webhook);
//! # Ok(())
//! # }
//! ```
//!
//! [`capture`] holds small real SMTP and HTTP servers for tests.

pub mod capture;
mod config;
mod email;
mod error;
mod notifier;
mod webhook;

pub use config::{
    NotifyConfig, SmtpConfig, WebhookConfig, DEFAULT_SMTP_FROM, ENV_SMTP_FROM, ENV_SMTP_URL,
    ENV_STUDIO_EMAILS, ENV_WEBHOOK_URL,
};
pub use error::NotifyError;
pub use notifier::{Deliveries, Notifier};

/// What to tell the author of one take.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// The take's id. It names the e-mail's `Message-ID`
    /// (`<take-{take_id}@moocpipe>`) and is the webhook's `Idempotency-Key`,
    /// so it may hold only ASCII letters, digits, `-`, `_` and `.`.
    pub take_id: String,
    /// The author's e-mail address from the take's sidecar; `None` sends no
    /// e-mail.
    pub to: Option<String>,
    /// Copies of the e-mail (the studio's addresses on a spec failure); they
    /// get it even when there is no author address.
    pub cc: Vec<String>,
    /// The e-mail's subject.
    pub subject: String,
    /// The e-mail's plain-text body.
    pub text: String,
    /// The same content as JSON: the webhook's request body.
    pub payload: serde_json::Value,
}

/// Which channels delivered a [`Notice`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sent {
    /// The SMTP server accepted the e-mail.
    pub email: bool,
    /// The webhook answered 2xx.
    pub webhook: bool,
}
