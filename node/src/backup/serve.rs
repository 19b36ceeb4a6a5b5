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
use trireme_storage::Store;
use trireme_wire::auth::{new_salt, AuthPlugin, Credentials};

use super::proto;
use crate::sst::{Pacer, SstStats};

/// What a donor needs besides its engine.
#[derive(Clone)]
pub struct Donor {
    pub store: Arc<Store>,
    pub stats: Arc<SstStats>,
    pub pacer: Pacer,
}

/// How long a donor waits to have applied the seqno a joiner needs.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(60);

/// Streams served at once; more are refused (each holds a snapshot, which
/// keeps fjall from dropping data it would otherwise compact away).
const MAX_ACTIVE: usize = 2;
/// How long a client may take to answer the greeting.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one write may block on a client that stopped reading.
const WRITE_TIMEOUT: Duration = Duration::from_secs(120);

/// Binds the backup listener (port 0: any free port), before the node
/// says where it serves: the bound address goes into SST descriptors.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("[storage] backup_listen {addr}: {e}"))
}

/// Serves backups and state transfers on `listener` until the process
/// ends. Returns the bound address.
pub fn serve(
    listener: TcpListener,
    engine: Arc<LsmEngine>,
    root_password: &str,
    donor: Donor,
) -> anyhow::Result<SocketAddr> {
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
            let donor = donor.clone();
            tokio::task::spawn_blocking(move || {
                let started = Instant::now();
                match serve_one(stream, &engine, &root, &active, &donor) {
                    Ok(s) => info!(
                        %peer,
                        seqno = s.horizon,
                        rows = s.rows,
                        bytes = s.bytes,
                        secs = started.elapsed().as_secs_f64(),
                        "copy of the engine sent"
                    ),
                    Err(e) => warn!(%peer, error = %e, "copy of the engine not sent"),
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
    donor: &Donor,
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
    let (kind, n) = match proto::parse_request_head(head) {
        Ok(r) => r,
        Err(e) => return Err(refuse(&stream, e)),
    };
    let mut response = vec![0u8; n];
    stream.read_exact(&mut response).map_err(io)?;
    let mut min = [0u8; 8];
    stream.read_exact(&mut min).map_err(io)?;
    let min_seqno = u64::from_le_bytes(min);
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
    if let Err(e) = catch_up(&donor.store, engine, min_seqno) {
        return Err(refuse(&stream, e));
    }
    let exporter = match Exporter::new(engine) {
        Ok(e) => e,
        Err(e) => return Err(refuse(&stream, e.to_string())),
    };
    stream.write_all(&[proto::ACCEPTED]).map_err(io)?;
    let (bytes, _phase) = match kind {
        proto::Kind::Sst => {
            donor.stats.donations.fetch_add(1, Ordering::Relaxed);
            let (b, g) = donor.stats.donating();
            (Some(b), Some(g))
        }
        proto::Kind::Backup => (None, None),
    };
    let mut w = BufWriter::with_capacity(256 << 10, &stream);
    send(exporter, &mut w, donor, kind, bytes.as_deref())
}

/// Waits (bounded) until this node has applied `min_seqno`, then stores
/// its in-memory horizon in the engine, so the copy is at the newest seqno
/// it can be: the stored horizon lags the applied one until the next batch
/// lands (every batch up to the in-memory horizon has landed, so storing it
/// keeps `recovery`'s invariant).
fn catch_up(store: &Store, engine: &LsmEngine, min_seqno: u64) -> Result<(), String> {
    let deadline = Instant::now() + CATCH_UP_TIMEOUT;
    while store.horizon() < min_seqno {
        if Instant::now() > deadline {
            return Err(format!(
                "this node has applied up to {} and the joiner needs {min_seqno}; ask another donor",
                store.horizon()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    engine
        .commit(engine.batch(), Some(store.horizon()))
        .map_err(|e| e.to_string())
}

/// Writes the stream, paced to `[storage] transfer_max_rate` for a joiner
/// (a backup is not paced: it is run by an operator who chose the time).
fn send(
    mut exporter: Exporter,
    w: &mut impl Write,
    donor: &Donor,
    kind: proto::Kind,
    bytes: Option<&std::sync::atomic::AtomicU64>,
) -> Result<ExportStats, String> {
    let started = Instant::now();
    let mut sent = 0u64;
    while let Some(f) = exporter.next_frame().map_err(|e| e.to_string())? {
        w.write_all(&f).map_err(|e| e.to_string())?;
        sent += f.len() as u64;
        if kind == proto::Kind::Sst {
            donor
                .stats
                .bytes_sent
                .fetch_add(f.len() as u64, Ordering::Relaxed);
            if let Some(b) = bytes {
                b.store(sent, Ordering::Relaxed);
            }
            let wait = donor.pacer.delay(sent, started.elapsed());
            if !wait.is_zero() {
                w.flush().map_err(|e| e.to_string())?;
                std::thread::sleep(wait);
            }
        }
    }
    w.flush().map_err(|e| e.to_string())?;
    Ok(exporter.stats())
}
