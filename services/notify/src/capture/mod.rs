//! Small real servers that capture what a [`Notifier`](crate::Notifier)
//! sends, **for tests**: an SMTP server ([`CaptureServer`]) and an HTTP
//! server for webhooks ([`WebhookServer`]).
//!
//! Both bind `127.0.0.1` on a free port, serve every connection on the tokio
//! runtime they were started on, keep what they received in memory, and stop
//! when dropped. They speak just enough of their protocol for this crate's
//! clients and are no model of a production server: no TLS, no
//! authentication, no pipelining, no chunked bodies.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use std::time::Duration;
//! use moocpipe_notify::capture::CaptureServer;
//!
//! let smtp = CaptureServer::start().await?;
//! // … point MOOCPIPE_SMTP_URL at smtp.url() and send …
//! let mails = smtp.wait_for(1, Duration::from_secs(5)).await;
//! assert_eq!(mails[0].header("Subject").as_deref(), Some("Processed"));
//! # Ok(())
//! # }
//! ```

mod http;
mod smtp;

use std::time::Duration;

use tokio::sync::watch;

pub use http::{CapturedRequest, WebhookServer};
pub use smtp::{CaptureServer, CapturedMail};

/// Waits until `items` holds at least `n` entries or `timeout` has passed,
/// then returns what it holds.
async fn wait_for<T: Clone>(
    items: &watch::Receiver<Vec<T>>,
    n: usize,
    timeout: Duration,
) -> Vec<T> {
    let mut items = items.clone();
    // A closed channel (the server's task ended) or a time-out both end the
    // wait; the caller checks the count.
    let _ = tokio::time::timeout(timeout, async {
        let _ = items.wait_for(|items| items.len() >= n).await;
    })
    .await;
    let snapshot = items.borrow().clone();
    snapshot
}

/// Reads one line (up to and including `\n`) into `line`, at most `limit`
/// bytes. `Ok(false)` at the end of the stream; a longer line is an error.
async fn read_line<R>(reader: &mut R, line: &mut Vec<u8>, limit: usize) -> std::io::Result<bool>
where
    R: tokio::io::AsyncBufRead + Unpin,
{
    use tokio::io::{AsyncBufReadExt, AsyncReadExt};

    line.clear();
    let read = (&mut *reader)
        .take(limit as u64)
        .read_until(b'\n', line)
        .await?;
    if read == 0 {
        return Ok(false);
    }
    if line.last() != Some(&b'\n') {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "line too long or cut short",
        ));
    }
    Ok(true)
}
