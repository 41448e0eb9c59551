//! An SMTP server that keeps every message it is given (RFC 5321, the part
//! a client without AUTH or STARTTLS needs).

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use super::{read_line, wait_for};

/// A command line is at most 512 bytes (RFC 5321 4.5.3.1.4); some room.
const COMMAND_LIMIT: usize = 4096;
/// A text line is at most 1000 bytes; lettre keeps to it, others may not.
const DATA_LINE_LIMIT: usize = 64 * 1024;
/// The largest message kept; advertised as `SIZE`.
const MESSAGE_LIMIT: usize = 16 * 1024 * 1024;

/// One message as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedMail {
    /// The envelope sender (`MAIL FROM`), without angle brackets.
    pub from: String,
    /// The envelope recipients (`RCPT TO`), without angle brackets.
    pub to: Vec<String>,
    /// The message as sent after `DATA`, headers and body, dot-unstuffed and
    /// without the final `.` line; line ends are `\r\n`.
    pub data: String,
}

impl CapturedMail {
    /// The first header called `name` (any case), unfolded and trimmed.
    pub fn header(&self, name: &str) -> Option<String> {
        let mut lines = self.head().split("\r\n").peekable();
        while let Some(line) = lines.next() {
            let Some((field, value)) = line.split_once(':') else {
                continue;
            };
            if line.starts_with([' ', '\t']) || !field.trim().eq_ignore_ascii_case(name) {
                continue;
            }
            let mut value = value.trim().to_owned();
            while let Some(next) = lines.next_if(|next| next.starts_with([' ', '\t'])) {
                value.push(' ');
                value.push_str(next.trim());
            }
            return Some(value);
        }
        None
    }

    /// The part after the first empty line: the body as encoded.
    pub fn body(&self) -> &str {
        self.data
            .split_once("\r\n\r\n")
            .map_or("", |(_, body)| body)
    }

    fn head(&self) -> &str {
        self.data
            .split_once("\r\n\r\n")
            .map_or(self.data.as_str(), |(head, _)| head)
    }
}

/// An SMTP server on `127.0.0.1` that accepts and keeps every message, for
/// tests. Stops when dropped.
pub struct CaptureServer {
    addr: SocketAddr,
    mails: watch::Receiver<Vec<CapturedMail>>,
    task: JoinHandle<()>,
}

impl CaptureServer {
    /// Starts a server that accepts every message.
    pub async fn start() -> io::Result<Self> {
        Self::spawn(None).await
    }

    /// Starts a server that answers every `RCPT TO` with `code` (400 to 599):
    /// 4xx for a relay that asks to try later, 5xx for one that refuses.
    pub async fn start_rejecting_recipients(code: u16) -> io::Result<Self> {
        if !(400..=599).contains(&code) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("an SMTP rejection is 4xx or 5xx, not {code}"),
            ));
        }
        Self::spawn(Some(code)).await
    }

    async fn spawn(reject_recipients: Option<u16>) -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let (sender, mails) = watch::channel(Vec::new());
        let sender = Arc::new(sender);
        let task = tokio::spawn(async move {
            // Dropping the set (when the server is dropped) ends every session.
            let mut sessions = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => {
                            let sender = Arc::clone(&sender);
                            sessions.spawn(async move {
                                if let Err(err) = session(stream, reject_recipients, &sender).await {
                                    tracing::debug!(error = %err, "capture SMTP session ended");
                                }
                            });
                        }
                        Err(err) => {
                            tracing::debug!(error = %err, "capture SMTP accept failed");
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    },
                    Some(_) = sessions.join_next() => {}
                }
            }
        });
        Ok(CaptureServer { addr, mails, task })
    }

    /// `smtp://127.0.0.1:PORT`: plain SMTP, for `MOOCPIPE_SMTP_URL`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<CapturedMail> {
        self.mails.borrow().clone()
    }

    /// Waits until at least `n` messages have arrived or `timeout` has passed,
    /// then returns all received (fewer than `n` after a time-out).
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<CapturedMail> {
        wait_for(&self.mails, n, timeout).await
    }
}

impl Drop for CaptureServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One connection: commands until `QUIT` or the client goes away.
async fn session(
    stream: TcpStream,
    reject_recipients: Option<u16>,
    mails: &watch::Sender<Vec<CapturedMail>>,
) -> io::Result<()> {
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    let mut from: Option<String> = None;
    let mut to: Vec<String> = Vec::new();

    writer
        .write_all(b"220 moocpipe-capture ESMTP ready\r\n")
        .await?;
    loop {
        if !read_line(&mut reader, &mut line, COMMAND_LIMIT).await? {
            return Ok(());
        }
        let command = String::from_utf8_lossy(&line);
        let command = command.trim_end_matches(['\r', '\n']);
        let (verb, argument) = command.split_once(' ').unwrap_or((command, ""));
        let reply: String = match verb.to_ascii_uppercase().as_str() {
            "EHLO" => format!(
                "250-moocpipe-capture greets {}\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE {MESSAGE_LIMIT}\r\n",
                argument.trim()
            ),
            "HELO" => format!("250 moocpipe-capture greets {}\r\n", argument.trim()),
            "MAIL" => match path_after(argument, "FROM:") {
                Some(path) => {
                    from = Some(path);
                    to.clear();
                    "250 2.1.0 OK\r\n".to_owned()
                }
                None => "501 5.5.4 expected MAIL FROM:<address>\r\n".to_owned(),
            },
            "RCPT" => match (&from, path_after(argument, "TO:"), reject_recipients) {
                (None, _, _) => "503 5.5.1 MAIL first\r\n".to_owned(),
                (Some(_), None, _) => "501 5.5.4 expected RCPT TO:<address>\r\n".to_owned(),
                (Some(_), Some(_), Some(code)) => {
                    format!("{code} {}.0.0 recipient refused by the capture server\r\n", code / 100)
                }
                (Some(_), Some(path), None) => {
                    to.push(path);
                    "250 2.1.5 OK\r\n".to_owned()
                }
            },
            "DATA" => match from.take() {
                Some(sender) if !to.is_empty() => {
                    writer
                        .write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")
                        .await?;
                    let Some(data) = read_data(&mut reader, &mut line).await? else {
                        return Ok(());
                    };
                    let mail = CapturedMail {
                        from: sender,
                        to: std::mem::take(&mut to),
                        data,
                    };
                    mails.send_modify(|mails| mails.push(mail));
                    "250 2.0.0 OK queued\r\n".to_owned()
                }
                sender => {
                    from = sender;
                    "503 5.5.1 MAIL and RCPT first\r\n".to_owned()
                }
            },
            "RSET" => {
                from = None;
                to.clear();
                "250 2.0.0 OK\r\n".to_owned()
            }
            "NOOP" => "250 2.0.0 OK\r\n".to_owned(),
            "QUIT" => {
                writer.write_all(b"221 2.0.0 bye\r\n").await?;
                writer.shutdown().await?;
                return Ok(());
            }
            _ => "502 5.5.2 command not implemented\r\n".to_owned(),
        };
        writer.write_all(reply.as_bytes()).await?;
    }
}

/// The lines after `DATA` up to the lone `.`, dot-unstuffed; `None` when the
/// client went away first.
async fn read_data<R>(reader: &mut R, line: &mut Vec<u8>) -> io::Result<Option<String>>
where
    R: tokio::io::AsyncBufRead + Unpin,
{
    let mut data = Vec::new();
    loop {
        if !read_line(reader, line, DATA_LINE_LIMIT).await? {
            return Ok(None);
        }
        if line.as_slice() == b".\r\n" || line.as_slice() == b".\n" {
            return Ok(Some(String::from_utf8_lossy(&data).into_owned()));
        }
        let text = line.strip_prefix(b".").unwrap_or(line.as_slice());
        if data.len() + text.len() > MESSAGE_LIMIT {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "message larger than the advertised SIZE",
            ));
        }
        data.extend_from_slice(text);
    }
}

/// The address in `FROM:<a@b> PARAM=…` after `keyword` (any case), without
/// the angle brackets; `<>` gives an empty address.
fn path_after(argument: &str, keyword: &str) -> Option<String> {
    let argument = argument.trim_start();
    let head = argument.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = argument[keyword.len()..].trim_start();
    if let Some(inner) = rest.strip_prefix('<') {
        let end = inner.find('>')?;
        Some(inner[..end].to_owned())
    } else {
        rest.split_whitespace().next().map(str::to_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_lose_brackets_and_parameters() {
        assert_eq!(
            path_after("FROM:<a@b.org> BODY=8BITMIME", "FROM:").as_deref(),
            Some("a@b.org")
        );
        assert_eq!(path_after("to: <c@d>", "TO:").as_deref(), Some("c@d"));
        assert_eq!(path_after("FROM:<>", "FROM:").as_deref(), Some(""));
        assert_eq!(path_after("FROM:<broken", "FROM:"), None);
        assert_eq!(path_after("TO:<x@y>", "FROM:"), None);
    }

    #[test]
    fn headers_unfold() {
        let mail = CapturedMail {
            from: String::new(),
            to: Vec::new(),
            data: "Subject: a long\r\n subject\r\nTo: x@y\r\n\r\nbody\r\n".into(),
        };
        assert_eq!(mail.header("subject").as_deref(), Some("a long subject"));
        assert_eq!(mail.header("To").as_deref(), Some("x@y"));
        assert_eq!(mail.header("From"), None);
        assert_eq!(mail.body(), "body\r\n");
    }
}
