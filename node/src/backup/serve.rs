//! The node side of `[storage] backup_listen`: authenticate the client,
//! then stream a copy of the engine at its horizon from an fjall snapshot
//! (`trireme_storage::lsm::export`). The node keeps serving meanwhile: the
//! export holds no lock, only the snapshot, and runs on a blocking thread so
//! no runtime worker waits on the socket.

use std::io::{BufWriter, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tracing::{info, warn};
use trireme_storage::lsm::export::{ExportStats, Exporter};
use trireme_storage::lsm::LsmEngine;
use trireme_wire::auth::{new_salt, AuthPlugin, Credentials};

use super::proto;

/// Streams served at once; more are refused (each holds a snapshot, which
/// keeps fjall from dropping data it would otherwise compact away).
const MAX_ACTIVE: usize = 2;
/// How long a client may take to answer the greeting.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one write may block on a client that stopped reading.
const WRITE_TIMEOUT: Duration = Duration::from_secs(120);

/// Binds `addr` and serves backups until the process ends. Returns the
/// bound address.
pub async fn serve(
    addr: SocketAddr,
    engine: Arc<LsmEngine>,
    root_password: &str,
) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("[storage] backup_listen {addr}: {e}"))?;
    let bound = listener.local_addr()?;
    let root = Credentials::from_password(root_password);
    let active = Arc::new(AtomicUsize::new(0));
    info!(%bound, "serving backups (stream not encrypted)");
    tokio::spawn(async move {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    warn!(error = %e, "backup listener: accept");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let stream = match stream.into_std() {
                Ok(s) => s,
                Err(e) => {
                    warn!(%peer, error = %e, "backup listener: socket");
                    continue;
                }
            };
            let (engine, root, active) = (engine.clone(), root.clone(), active.clone());
            tokio::task::spawn_blocking(move || {
                let started = Instant::now();
                match serve_one(stream, &engine, &root, &active) {
                    Ok(s) => info!(
                        %peer,
                        seqno = s.horizon,
                        rows = s.rows,
                        bytes = s.bytes,
                        secs = started.elapsed().as_secs_f64(),
                        "backup sent"
                    ),
                    Err(e) => warn!(%peer, error = %e, "backup not sent"),
                }
            });
        }
    });
    Ok(bound)
}

/// Decrements the active count when a stream ends, however it ends.
struct Slot<'a>(&'a AtomicUsize);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn serve_one(
    mut stream: TcpStream,
    engine: &Arc<LsmEngine>,
    root: &Credentials,
    active: &AtomicUsize,
) -> Result<ExportStats, String> {
    let io = |e: std::io::Error| e.to_string();
    stream.set_nonblocking(false).map_err(io)?;
    stream
        .set_read_timeout(Some(HANDSHAKE_TIMEOUT))
        .map_err(io)?;
    stream.set_write_timeout(Some(WRITE_TIMEOUT)).map_err(io)?;
    let _ = stream.set_nodelay(true);
    let salt = new_salt();
    stream.write_all(&proto::greeting(&salt)).map_err(io)?;
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).map_err(io)?;
    let refuse = |mut s: &TcpStream, why: String| -> String {
        let _ = s.write_all(&proto::refusal(&why));
        why
    };
    let (_kind, n) = match proto::parse_request_head(head) {
        Ok(r) => r,
        Err(e) => return Err(refuse(&stream, e)),
    };
    let mut response = vec![0u8; n];
    stream.read_exact(&mut response).map_err(io)?;
    if !root.verify(AuthPlugin::NativePassword, &salt, &response) {
        return Err(refuse(
            &stream,
            "access denied: the response does not match the node's root password".into(),
        ));
    }
    if active.fetch_add(1, Ordering::AcqRel) >= MAX_ACTIVE {
        active.fetch_sub(1, Ordering::AcqRel);
        return Err(refuse(
            &stream,
            format!("busy: {MAX_ACTIVE} backups are being sent already; try again later"),
        ));
    }
    let _slot = Slot(active);
    let exporter = match Exporter::new(engine) {
        Ok(e) => e,
        Err(e) => return Err(refuse(&stream, e.to_string())),
    };
    stream.write_all(&[proto::ACCEPTED]).map_err(io)?;
    let mut w = BufWriter::with_capacity(256 << 10, &stream);
    exporter.write_all(&mut w).map_err(|e| e.to_string())
}
