//! `trireme backup --from HOST:PORT --to DIR`: receive a node's state
//! stream and write DIR as a data directory that seeds a new cluster.
//!
//! The copy is rebased (`ImportOptions::rebase`): the newest version of
//! each row at the donor's horizon `S`, restamped to seqno 0, with an empty
//! certification index at 0, so the new cluster's history starts at 1 as
//! after any bootstrap. DIR also gets `backup.toml` (`super::RestoredBackup`),
//! which makes `trireme start` refuse DIR unless it bootstraps a new cluster.

use std::io::{BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::{Duration, Instant};

use trireme_certification::codec as cert_codec;
use trireme_storage::lsm::export::{import_from, ImportOptions};
use trireme_storage::lsm::recovery::RecoveryPoint;
use trireme_storage::lsm::LsmEngine;

use super::{proto, RestoredBackup};
use crate::repl::Replicator;

/// Block cache of the engine written by a backup (it only writes).
const CACHE: u64 = 64 << 20;

/// What a backup received.
#[derive(Clone, Debug)]
pub struct Summary {
    pub seqno: u64,
    pub rows: u64,
    pub chunks: u64,
    pub bytes: u64,
    pub elapsed: Duration,
}

/// The recovery point of a copy that starts a new history: an empty
/// certification index at seqno 0, as a new node saves at its first start.
pub fn empty_point() -> anyhow::Result<RecoveryPoint> {
    let cert = cert_codec::encode_snapshot(&Replicator::default_certifier(0).snapshot())
        .map_err(|e| anyhow::anyhow!("an empty certification index: {e}"))?;
    Ok(RecoveryPoint {
        seqno: 0,
        state_uuid: String::new(),
        cert,
        low_water: Vec::new(),
    })
}

/// Counts the bytes read through it.
struct Counting<R> {
    inner: R,
    bytes: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Connects to `from`, authenticates with `password` (the node's root
/// password) and asks for the stream (of `kind`, at or above `min_seqno`).
pub fn request(
    from: &str,
    password: &str,
    kind: proto::Kind,
    min_seqno: u64,
    timeout: Duration,
) -> anyhow::Result<TcpStream> {
    let addr = from
        .to_socket_addrs()
        .map_err(|e| anyhow::anyhow!("{from}: {e}"))?
        .next()
        .ok_or_else(|| anyhow::anyhow!("{from}: no address"))?;
    let mut s = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| anyhow::anyhow!("connecting to {from}: {e}"))?;
    s.set_read_timeout(Some(timeout))?;
    let mut g = [0u8; proto::GREETING_LEN];
    s.read_exact(&mut g)
        .map_err(|e| anyhow::anyhow!("{from}: no backup greeting: {e}"))?;
    let salt = proto::parse_greeting(&g).map_err(|e| anyhow::anyhow!("{from}: {e}"))?;
    s.write_all(&proto::request(
        kind,
        &proto::scramble(password, &salt),
        min_seqno,
    ))?;
    let mut reply = [0u8; 1];
    s.read_exact(&mut reply)
        .map_err(|e| anyhow::anyhow!("{from}: no answer to the request: {e}"))?;
    match reply[0] {
        proto::ACCEPTED => Ok(s),
        proto::REFUSED => {
            let mut len = [0u8; 2];
            s.read_exact(&mut len)?;
            let mut msg = vec![0u8; u16::from_le_bytes(len) as usize];
            s.read_exact(&mut msg)?;
            anyhow::bail!("{from} refused: {}", String::from_utf8_lossy(&msg))
        }
        other => anyhow::bail!("{from}: unexpected answer byte {other}"),
    }
}

/// Takes a backup of the node at `from` into the new directory `to`.
pub fn take(from: &str, to: &Path, password: &str, timeout: Duration) -> anyhow::Result<Summary> {
    let existed = to.exists();
    if existed
        && std::fs::read_dir(to)
            .map_err(|e| anyhow::anyhow!("{}: {e}", to.display()))?
            .next()
            .is_some()
    {
        anyhow::bail!(
            "{} is not empty: a backup writes a new data directory",
            to.display()
        );
    }
    let started = Instant::now();
    let stream = request(from, password, proto::Kind::Backup, 0, timeout)?;
    let r = receive(from, to, stream, started);
    if r.is_err() {
        // Leave nothing that looks like a data directory behind.
        let _ = std::fs::remove_dir_all(to.join("lsm"));
        let _ = std::fs::remove_file(to.join(super::MARKER));
        if !existed {
            let _ = std::fs::remove_dir(to);
        }
    }
    r
}

fn receive(from: &str, to: &Path, stream: TcpStream, started: Instant) -> anyhow::Result<Summary> {
    std::fs::create_dir_all(to).map_err(|e| anyhow::anyhow!("{}: {e}", to.display()))?;
    let engine = LsmEngine::open(&to.join("lsm"), CACHE)
        .map_err(|e| anyhow::anyhow!("{}: {e}", to.join("lsm").display()))?;
    let opts = ImportOptions {
        rebase: true,
        point: Some(empty_point()?),
    };
    let mut input = Counting {
        inner: BufReader::with_capacity(256 << 10, stream),
        bytes: 0,
    };
    let got = import_from(&engine, opts, &mut input)
        .map_err(|e| anyhow::anyhow!("receiving the stream from {from}: {e}"))?;
    let marker = RestoredBackup {
        source: from.to_string(),
        source_seqno: got.source_horizon,
        rows: got.rows,
        taken_at_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    marker.save(to)?;
    Ok(Summary {
        seqno: got.source_horizon,
        rows: got.rows,
        chunks: got.chunks,
        bytes: input.bytes,
        elapsed: started.elapsed(),
    })
}
