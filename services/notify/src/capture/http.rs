//! An HTTP/1.1 server that keeps every request it is sent and answers a
//! status of the test's choosing: one request per connection, bodies by
//! `Content-Length` only.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use super::{read_line, wait_for};

/// The request line and headers together.
const HEAD_LIMIT: usize = 64 * 1024;
/// The largest body kept.
const BODY_LIMIT: usize = 16 * 1024 * 1024;

/// One request as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedRequest {
    /// `POST`, `GET`, …
    pub method: String,
    /// The request target, `/webhook?x=1`.
    pub path: String,
    /// Every header in order; names in lower case, values trimmed.
    pub headers: Vec<(String, String)>,
    /// The body, `Content-Length` bytes of it.
    pub body: Vec<u8>,
}

impl CapturedRequest {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> serde_json::Result<serde_json::Value> {
        serde_json::from_slice(&self.body)
    }
}

/// An HTTP server on `127.0.0.1` that keeps every request and answers each
/// with the same status (204 unless told otherwise), for tests. Stops when
/// dropped.
pub struct WebhookServer {
    addr: SocketAddr,
    status: Arc<AtomicU16>,
    requests: watch::Receiver<Vec<CapturedRequest>>,
    task: JoinHandle<()>,
}

impl WebhookServer {
    /// Starts a server that answers `204 No Content`.
    pub async fn start() -> io::Result<Self> {
        Self::start_with_status(204).await
    }

    /// Starts a server that answers `status` (200 to 599).
    pub async fn start_with_status(status: u16) -> io::Result<Self> {
        check_status(status)?;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let status = Arc::new(AtomicU16::new(status));
        let (sender, requests) = watch::channel(Vec::new());
        let sender = Arc::new(sender);
        let answer = Arc::clone(&status);
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => {
                            let sender = Arc::clone(&sender);
                            let answer = Arc::clone(&answer);
                            connections.spawn(async move {
                                if let Err(err) = exchange(stream, &answer, &sender).await {
                                    tracing::debug!(error = %err, "capture HTTP connection ended");
                                }
                            });
                        }
                        Err(err) => {
                            tracing::debug!(error = %err, "capture HTTP accept failed");
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    },
                    Some(_) = connections.join_next() => {}
                }
            }
        });
        Ok(WebhookServer {
            addr,
            status,
            requests,
            task,
        })
    }

    /// Answers `status` (200 to 599) from now on.
    pub fn set_status(&self, status: u16) -> io::Result<()> {
        check_status(status)?;
        self.status.store(status, Ordering::SeqCst);
        Ok(())
    }

    /// `http://127.0.0.1:PORT/webhook`; any other path is served the same.
    pub fn url(&self) -> String {
        format!("http://{}/webhook", self.addr)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<CapturedRequest> {
        self.requests.borrow().clone()
    }

    /// Waits until at least `n` requests have arrived or `timeout` has
    /// passed, then returns all received (fewer than `n` after a time-out).
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<CapturedRequest> {
        wait_for(&self.requests, n, timeout).await
    }
}

impl Drop for WebhookServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn check_status(status: u16) -> io::Result<()> {
    if (200..=599).contains(&status) {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the capture server answers 200 to 599, not {status}"),
        ))
    }
}

/// One request and its answer, then the connection closes.
async fn exchange(
    stream: TcpStream,
    status: &AtomicU16,
    requests: &watch::Sender<Vec<CapturedRequest>>,
) -> io::Result<()> {
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let answer = match read_request(&mut reader).await? {
        Some(Ok(request)) => {
            requests.send_modify(|requests| requests.push(request));
            status.load(Ordering::SeqCst)
        }
        Some(Err(refusal)) => refusal,
        None => return Ok(()),
    };
    // A 204 or 304 has no body and must not say how long it is.
    let length = if matches!(answer, 204 | 304) {
        ""
    } else {
        "content-length: 0\r\n"
    };
    let head = format!(
        "HTTP/1.1 {answer} {}\r\n{length}connection: close\r\n\r\n",
        reason(answer)
    );
    writer.write_all(head.as_bytes()).await?;
    writer.shutdown().await
}

/// The request, or the status refusing it (400, 413), or `None` when the
/// client sent nothing.
async fn read_request<R>(reader: &mut R) -> io::Result<Option<Result<CapturedRequest, u16>>>
where
    R: tokio::io::AsyncBufRead + Unpin,
{
    let mut line = Vec::new();
    if !read_line(reader, &mut line, HEAD_LIMIT).await? {
        return Ok(None);
    }
    let request_line = String::from_utf8_lossy(&line).trim_end().to_owned();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(path), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Ok(Some(Err(400)));
    };
    if !version.starts_with("HTTP/1.") {
        return Ok(Some(Err(400)));
    }

    let mut headers = Vec::new();
    let mut head_size = line.len();
    loop {
        if !read_line(reader, &mut line, HEAD_LIMIT).await? {
            return Ok(None);
        }
        head_size += line.len();
        if head_size > HEAD_LIMIT {
            return Ok(Some(Err(431)));
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            break;
        }
        let Some((name, value)) = text.split_once(':') else {
            return Ok(Some(Err(400)));
        };
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }

    let length = match headers.iter().find(|(name, _)| name == "content-length") {
        None => 0,
        Some((_, value)) => match value.parse::<usize>() {
            Ok(length) if length <= BODY_LIMIT => length,
            Ok(_) => return Ok(Some(Err(413))),
            Err(_) => return Ok(Some(Err(400))),
        },
    };
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await?;
    Ok(Some(Ok(CapturedRequest {
        method: method.to_owned(),
        path: path.to_owned(),
        headers,
        body,
    })))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Content Too Large",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}
