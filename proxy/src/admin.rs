//! The admin port: a tiny read-only HTTP/1.0 responder for humans, scripts
//! and load balancers in front of the proxy.
//!
//! | request | answer |
//! |---|---|
//! | `GET /` or `GET /status` | the text table of [`crate::ProxyStatus`] |
//! | `GET /status.json` | the same as JSON |
//! | `GET /health` | `200` when a session could be routed on the write port now (a writer, or any backend up), else `503` |
//! | `GET /metrics` | Prometheus metrics, text format (`metrics.rs` lists them) |
//! | a line that is not HTTP (`echo | nc host port`) | the text table, no headers |
//!
//! Invariants: a request is read for at most 5 s and 4 KiB; at most 16
//! admin connections are served at once (more are closed at once); the
//! port changes nothing, so it needs no authentication, but bind it to a
//! trusted address.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tracing::debug;

use crate::router::Shared;

const MAX_REQUEST: usize = 4096;
const MAX_CONCURRENT: usize = 16;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether a write-port session could be routed now.
pub(crate) fn healthy(shared: &Shared) -> bool {
    shared.backends.iter().any(|b| b.is_up())
}

fn respond(shared: &Shared, request: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(request);
    let line = text.lines().next().unwrap_or("");
    let mut parts = line.split_whitespace();
    let (method, path, http) = (parts.next(), parts.next(), parts.next());
    let is_http = http.is_some_and(|h| h.starts_with("HTTP/"));
    if !is_http {
        return shared.status().to_string().into_bytes();
    }
    let path = path.unwrap_or("/").split('?').next().unwrap_or("/");
    let (code, kind, body) = match (method, path) {
        (Some("GET" | "HEAD"), "/" | "/status") => (200, "text/plain", shared.status().to_string()),
        (Some("GET" | "HEAD"), "/metrics") => (
            200,
            crate::metrics::CONTENT_TYPE,
            crate::metrics::render(shared),
        ),
        (Some("GET" | "HEAD"), "/status.json") => (
            200,
            "application/json",
            serde_json::to_string_pretty(&shared.status()).unwrap_or_else(|e| e.to_string()),
        ),
        (Some("GET" | "HEAD"), "/health") => {
            if healthy(shared) {
                let w = shared
                    .writer()
                    .map(|i| shared.backends[i].addr.clone())
                    .unwrap_or_else(|| "any".into());
                (200, "text/plain", format!("OK: writer {w}\n"))
            } else {
                (503, "text/plain", "no healthy backend\n".to_string())
            }
        }
        (Some("GET" | "HEAD"), _) => (404, "text/plain", "not found\n".to_string()),
        _ => (405, "text/plain", "only GET\n".to_string()),
    };
    let reason = match code {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Service Unavailable",
    };
    let mut out = format!(
        "HTTP/1.0 {code} {reason}\r\nContent-Type: {kind}; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if method != Some("HEAD") {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

async fn serve_one(shared: Arc<Shared>, mut stream: TcpStream) {
    let mut buf = Vec::with_capacity(512);
    let read = async {
        let mut chunk = [0u8; 1024];
        loop {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            let done = buf.windows(4).any(|w| w == b"\r\n\r\n")
                || buf.windows(2).any(|w| w == b"\n\n")
                || (buf.contains(&b'\n') && !buf.starts_with(b"GET") && !buf.starts_with(b"HEAD"));
            if done || buf.len() >= MAX_REQUEST {
                break;
            }
        }
        Ok::<_, std::io::Error>(())
    };
    if tokio::time::timeout(REQUEST_TIMEOUT, read).await.is_err() {
        return;
    }
    let out = respond(&shared, &buf);
    let _ = tokio::time::timeout(REQUEST_TIMEOUT, stream.write_all(&out)).await;
    let _ = stream.shutdown().await;
}

/// Serves the admin port until `shutdown` turns true.
pub(crate) async fn run_admin(
    shared: Arc<Shared>,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONCURRENT));
    loop {
        tokio::select! {
            _ = crate::stopped(&mut shutdown) => return,
            r = listener.accept() => match r {
                Ok((stream, _)) => {
                    let Ok(permit) = slots.clone().try_acquire_owned() else {
                        continue;
                    };
                    let shared = shared.clone();
                    tokio::spawn(async move {
                        serve_one(shared, stream).await;
                        drop(permit);
                    });
                }
                Err(e) => {
                    debug!(error = %e, "admin accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}
