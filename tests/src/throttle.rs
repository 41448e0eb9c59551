//! A slow link between a browser and the store: a TCP proxy that passes
//! what clients send at a set rate (a studio's uplink, shared by all its
//! connections), and notes the part number of every multipart part PUT
//! that goes through it. The browser-upload test points the presigned
//! URLs at it, so it has time to reload the page in the middle of an
//! upload, and sees exactly which parts the page sent.
//!
//! It reads HTTP/1.1 requests only as far as it must: the request line and
//! `Content-Length` of each, to know where the next one starts on a
//! kept-alive connection. Responses pass untouched and at full speed.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Shared between the proxy's connections.
struct Shared {
    upstream: SocketAddr,
    /// Bytes a second from clients to the store, over all connections; 0:
    /// no limit.
    rate: AtomicU64,
    /// When the link is next free.
    gate: Mutex<Instant>,
    parts: Mutex<Vec<u32>>,
    /// Bumped by [`Throttle::cut`]: a connection older than the last cut
    /// closes at its next chunk.
    cuts: AtomicU64,
    /// Until then, new connections are closed at once (the link is down).
    down_until: Mutex<Option<Instant>>,
}

/// The running proxy; stopped when dropped.
pub struct Throttle {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Throttle {
    /// Listens on 127.0.0.1 (a free port) and forwards to `upstream`,
    /// clients' bytes at `bytes_per_second` (0: no limit).
    pub async fn start(upstream: SocketAddr, bytes_per_second: u64) -> Throttle {
        // A small receive buffer, inherited by every accepted socket, so a
        // client's bytes wait on its side of the link, not in ours.
        let socket = TcpSocket::new_v4().expect("a socket");
        socket
            .set_recv_buffer_size(256 * 1024)
            .expect("receive buffer");
        socket
            .bind("127.0.0.1:0".parse().expect("address"))
            .expect("bind the throttle");
        let listener = socket.listen(64).expect("listen");
        let addr = listener.local_addr().expect("throttle address");
        let shared = Arc::new(Shared {
            upstream,
            rate: AtomicU64::new(bytes_per_second),
            gate: Mutex::new(Instant::now()),
            parts: Mutex::new(Vec::new()),
            cuts: AtomicU64::new(0),
            down_until: Mutex::new(None),
        });
        let accepting = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(connection(client, accepting.clone()));
            }
        });
        Throttle { addr, shared, task }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_rate(&self, bytes_per_second: u64) {
        self.shared.rate.store(bytes_per_second, Ordering::Relaxed);
    }

    /// Drops every connection open now, in the middle of whatever it was
    /// sending, and closes new ones for `down` (a lost connection: a
    /// browser's own quick retry on a fresh connection fails too); later
    /// ones pass again.
    pub fn cut(&self, down: Duration) {
        if let Ok(mut until) = self.shared.down_until.lock() {
            *until = Some(Instant::now() + down);
        }
        self.shared.cuts.fetch_add(1, Ordering::Relaxed);
    }

    /// The part numbers of the part PUTs seen so far, in the order their
    /// requests began.
    pub fn parts(&self) -> Vec<u32> {
        self.shared
            .parts
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default()
    }
}

impl Drop for Throttle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn connection(client: TcpStream, shared: Arc<Shared>) {
    let down = shared
        .down_until
        .lock()
        .map(|until| until.is_some_and(|t| Instant::now() < t))
        .unwrap_or(false);
    if down {
        return;
    }
    let born = shared.cuts.load(Ordering::Relaxed);
    let Ok(server) = TcpStream::connect(shared.upstream).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let down = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    });
    let mut requests = Requests::default();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = match client_read.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if shared.cuts.load(Ordering::Relaxed) != born {
            // Cut: nothing more goes through, and no answer comes back.
            down.abort();
            return;
        }
        let chunk = &buffer[..n];
        for part in requests.feed(chunk) {
            if let Ok(mut parts) = shared.parts.lock() {
                parts.push(part);
            }
        }
        let rate = shared.rate.load(Ordering::Relaxed);
        if rate > 0 {
            let needs = Duration::from_secs_f64(n as f64 / rate as f64);
            let until = match shared.gate.lock() {
                Ok(mut gate) => {
                    let start = (*gate).max(Instant::now());
                    *gate = start + needs;
                    *gate
                }
                Err(_) => Instant::now(),
            };
            tokio::time::sleep_until(until.into()).await;
        }
        if server_write.write_all(chunk).await.is_err() {
            break;
        }
    }
    let _ = server_write.shutdown().await;
    let _ = down.await;
}

/// Where a client's byte stream is: in a request's head, or in its body
/// with this many bytes to go.
#[derive(Debug)]
enum Requests {
    Head(Vec<u8>),
    Body(u64),
    /// Something this reader does not follow (chunked bodies): stop looking.
    Lost,
}

impl Default for Requests {
    fn default() -> Self {
        Requests::Head(Vec::new())
    }
}

impl Requests {
    /// Reads the next bytes; returns the part numbers of part PUTs whose
    /// heads they complete.
    fn feed(&mut self, mut data: &[u8]) -> Vec<u32> {
        let mut parts = Vec::new();
        while !data.is_empty() {
            match self {
                Requests::Lost => break,
                Requests::Body(left) => {
                    let take = usize::try_from(*left).unwrap_or(usize::MAX).min(data.len());
                    *left -= take as u64;
                    data = &data[take..];
                    if *left == 0 {
                        *self = Requests::Head(Vec::new());
                    }
                }
                Requests::Head(head) => {
                    let before = head.len();
                    head.extend_from_slice(data);
                    let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
                        if head.len() > 64 * 1024 {
                            *self = Requests::Lost;
                        }
                        break;
                    };
                    let text = String::from_utf8_lossy(&head[..end]).into_owned();
                    data = &data[end + 4 - before..];
                    if let Some(part) = part_number(&text) {
                        parts.push(part);
                    }
                    let lower = text.to_ascii_lowercase();
                    if lower.contains("transfer-encoding: chunked") {
                        *self = Requests::Lost;
                        break;
                    }
                    let length = lower
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .unwrap_or(0);
                    *self = if length > 0 {
                        Requests::Body(length)
                    } else {
                        Requests::Head(Vec::new())
                    };
                }
            }
        }
        parts
    }
}

/// `PUT /bucket/key?partNumber=3&uploadId=… HTTP/1.1` → 3.
fn part_number(head: &str) -> Option<u32> {
    let line = head.lines().next()?;
    let target = line.strip_prefix("PUT ")?;
    let query = target.split_once('?')?.1;
    let query = query.split(' ').next()?;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("partNumber="))?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_puts_are_found_across_chunks_and_bodies() {
        let mut stream = Vec::new();
        stream.extend_from_slice(
            b"PUT /raw/c/01/01/t.mov?partNumber=2&uploadId=abc&X-Amz-Signature=s HTTP/1.1\r\nHost: x\r\nContent-Length: 13\r\n\r\n",
        );
        stream.extend_from_slice(b"PUT /raw/\r\n\r\n"); // body bytes that look like a head
        stream.extend_from_slice(
            b"PUT /raw/c/01/01/t.mov?uploadId=abc&partNumber=7 HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
        );
        stream.extend_from_slice(b"GET /raw?uploads HTTP/1.1\r\n\r\n");
        let mut requests = Requests::default();
        let mut seen = Vec::new();
        for chunk in stream.chunks(7) {
            seen.extend(requests.feed(chunk));
        }
        assert_eq!(seen, vec![2, 7]);
    }
}
