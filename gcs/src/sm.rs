//! The raft state machine of gcs: numbers payloads with dense seqnos,
//! delivers them to the node, and stages snapshots on disk.
//!
//! # Invariants
//!
//! - `last_seqno` after applying entry `E` equals the number of payloads in
//!   all entries up to `E`: it depends only on the committed log prefix, so
//!   every member numbers every payload identically.
//! - Payloads with seqno `<= skip_upto` are numbered but not delivered: they
//!   are already contained in the node's state (a snapshot it installs, or its
//!   durable state at restart). See [`crate::app`] for the whole scheme.
//! - `index` holds, for every applied entry since the current snapshot (and
//!   the snapshot's own entry as the base), its log id, the seqno of its last
//!   payload and the membership in force after it. It maps a node seqno `S` to
//!   the last entry wholly covered by `S`.
//! - The state machine itself is not persisted: at start it is the current
//!   snapshot's state (or empty) and raft re-applies committed entries after
//!   it. Events for already-applied payloads are suppressed by `skip_upto`.
//! - `dedup` is the at-most-once table ([`crate::dedup`]) after the last
//!   applied entry; `base_dedup` is the table after `index[0]`, and every
//!   later `IndexRec` lists the stamps its entry admitted, so the table after
//!   any indexed entry (the one a snapshot is labelled with) can be rebuilt
//!   and stored in that snapshot's header.
//!
//! # Snapshot files (`<data_dir>/snapshots/`)
//!
//! `snap-<id>.data` is exactly the byte stream sent to other members:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `TRSNAP01` |
//! | 8 | 4 | `h`: u32 LE length of the header |
//! | 12 | h | header, bincode of [`SnapHeader`] (`version`, `seqno_end`, `app_seqno`, `dedup`) |
//! | 12+h | rest | the node's snapshot bytes |
//!
//! `snap-<id>.meta` holds the bincode of openraft's `SnapshotMeta`, and the
//! file `current` names the id of the snapshot in force; both are replaced
//! atomically (temp file + rename) after the data file is complete and synced.

use std::collections::VecDeque;
use std::io::{self, SeekFrom};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use openraft::storage::{RaftStateMachine, Snapshot, SnapshotMeta};
use openraft::{EntryPayload, RaftSnapshotBuilder, StorageError, StorageIOError};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::io::{
    AsyncRead, AsyncReadExt, AsyncSeek, AsyncSeekExt, AsyncWrite, AsyncWriteExt, ReadBuf,
};

use crate::app::SnapshotApp;
use crate::codec;
use crate::dedup::{Dedup, Verdict};
use crate::events::Ctl;
use crate::types::{
    ApplyResult, Command, Entry, Event, LogId, MemberNode, NodeId, Seqno, Stamp, StoredMembership,
    TypeConfig,
};

const SNAP_MAGIC: &[u8; 8] = b"TRSNAP01";

/// Longest snapshot header accepted (the dedup table is in it).
const MAX_HEADER: usize = 64 << 20;

/// The gcs header inside every snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapHeader {
    /// Format version (2; 1 had no `dedup`).
    pub version: u32,
    /// Seqno of the last payload of the snapshot's raft entry `L`.
    pub seqno_end: Seqno,
    /// Seqno the node's state in this snapshot reflects (`>= seqno_end`).
    pub app_seqno: Seqno,
    /// The at-most-once table after entry `L`.
    pub dedup: Dedup,
}

/// Header of version 1 snapshots.
#[derive(Deserialize)]
struct SnapHeaderV1 {
    version: u32,
    seqno_end: Seqno,
    app_seqno: Seqno,
}

fn decode_header(b: &[u8]) -> Result<SnapHeader, codec::CodecError> {
    // bincode's varint puts a small version in the first byte.
    if b.first() == Some(&1) {
        let h: SnapHeaderV1 = codec::decode(b)?;
        return Ok(SnapHeader {
            version: h.version,
            seqno_end: h.seqno_end,
            app_seqno: h.app_seqno,
            dedup: Dedup::default(),
        });
    }
    codec::decode(b)
}

/// Snapshot data as openraft sees it: a file, read and written in chunks.
#[derive(Debug)]
pub struct SnapshotFile {
    file: tokio::fs::File,
    path: PathBuf,
}

impl SnapshotFile {
    /// Path of the underlying file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl AsyncRead for SnapshotFile {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.file).poll_read(cx, buf)
    }
}
impl AsyncWrite for SnapshotFile {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.file).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.file).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.file).poll_shutdown(cx)
    }
}
impl AsyncSeek for SnapshotFile {
    fn start_seek(mut self: Pin<&mut Self>, position: SeekFrom) -> io::Result<()> {
        Pin::new(&mut self.file).start_seek(position)
    }
    fn poll_complete(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        Pin::new(&mut self.file).poll_complete(cx)
    }
}

#[derive(Clone)]
struct IndexRec {
    log_id: Option<LogId>,
    seqno_end: Seqno,
    membership: Arc<StoredMembership>,
    /// Stamps this entry admitted, with their seqnos.
    admitted: Vec<(NodeId, Stamp, Seqno)>,
}

#[derive(Clone)]
struct SnapInfo {
    meta: SnapshotMeta<NodeId, MemberNode>,
    hdr: SnapHeader,
    id: String,
}

struct SmState {
    applied: Option<LogId>,
    membership: Arc<StoredMembership>,
    last_seqno: Seqno,
    skip_upto: Seqno,
    index: VecDeque<IndexRec>,
    dedup: Dedup,
    base_dedup: Dedup,
    current: Option<SnapInfo>,
    prepared: Option<SnapInfo>,
}

impl SmState {
    /// The dedup table after `index[upto]`.
    fn dedup_at(&self, upto: usize) -> Dedup {
        let mut d = self.base_dedup.clone();
        for r in self.index.iter().take(upto + 1).skip(1) {
            d.admit_all(&r.admitted);
        }
        d
    }
}

pub(crate) struct SmShared {
    st: Mutex<SmState>,
    app: Arc<dyn SnapshotApp>,
    ctl: Arc<Ctl>,
    dir: PathBuf,
    sync: bool,
}

/// The openraft state machine (and its snapshot builder).
#[derive(Clone)]
pub(crate) struct Sm {
    pub sh: Arc<SmShared>,
}

fn io_err(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

fn sm_err(e: impl std::error::Error + 'static) -> StorageError<NodeId> {
    StorageError::IO {
        source: StorageIOError::write_state_machine(&e),
    }
}

fn snap_read_err(e: impl std::error::Error + 'static) -> StorageError<NodeId> {
    StorageError::IO {
        source: StorageIOError::read_snapshot(None, &e),
    }
}

async fn write_atomic(dir: &Path, name: &str, data: &[u8], sync: bool) -> io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    let mut f = tokio::fs::File::create(&tmp).await?;
    f.write_all(data).await?;
    if sync {
        f.sync_all().await?;
    }
    drop(f);
    tokio::fs::rename(&tmp, dir.join(name)).await?;
    if sync {
        let d = dir.to_path_buf();
        tokio::task::spawn_blocking(move || std::fs::File::open(d)?.sync_all())
            .await
            .map_err(io_err)??;
    }
    Ok(())
}

/// Read magic + header from the start of a snapshot data file; returns the
/// header and the offset of the node's bytes.
async fn read_header(f: &mut tokio::fs::File) -> io::Result<(SnapHeader, u64)> {
    f.seek(SeekFrom::Start(0)).await?;
    let mut head = [0u8; 12];
    f.read_exact(&mut head).await?;
    if &head[0..8] != SNAP_MAGIC {
        return Err(io_err("snapshot data has a bad magic"));
    }
    let h = u32::from_le_bytes([head[8], head[9], head[10], head[11]]) as usize;
    if h > MAX_HEADER {
        return Err(io_err("snapshot header too long"));
    }
    let mut hb = vec![0u8; h];
    f.read_exact(&mut hb).await?;
    let hdr = decode_header(&hb).map_err(io_err)?;
    if !(1..=2).contains(&hdr.version) || hdr.app_seqno < hdr.seqno_end {
        return Err(io_err(format!("snapshot header not understood: {hdr:?}")));
    }
    Ok((hdr, 12 + h as u64))
}

impl Sm {
    /// Open the state machine: load the current snapshot and decide where the
    /// delivery stream resumes for a node that has applied `applied_seqno`.
    pub async fn open(
        dir: PathBuf,
        app: Arc<dyn SnapshotApp>,
        ctl: Arc<Ctl>,
        sync: bool,
    ) -> io::Result<Sm> {
        tokio::fs::create_dir_all(&dir).await?;
        let a = app.applied_seqno();
        let mut current = None;
        if let Ok(id) = tokio::fs::read_to_string(dir.join("current")).await {
            let id = id.trim().to_string();
            let meta_b = tokio::fs::read(dir.join(format!("snap-{id}.meta"))).await?;
            let meta: SnapshotMeta<NodeId, MemberNode> = codec::decode(&meta_b).map_err(io_err)?;
            let mut f = tokio::fs::File::open(dir.join(format!("snap-{id}.data"))).await?;
            let (hdr, _) = read_header(&mut f).await?;
            current = Some(SnapInfo { meta, hdr, id });
        }
        // Remove anything that is not the current snapshot (half-received or
        // superseded files).
        let mut rd = tokio::fs::read_dir(&dir).await?;
        while let Some(e) = rd.next_entry().await? {
            let name = e.file_name().to_string_lossy().to_string();
            let keep = name == "current"
                || current
                    .as_ref()
                    .is_some_and(|c: &SnapInfo| name.starts_with(&format!("snap-{}.", c.id)));
            if !keep {
                let _ = tokio::fs::remove_file(e.path()).await;
            }
        }
        let dedup = current
            .as_ref()
            .map(|c| c.hdr.dedup.clone())
            .unwrap_or_default();
        let (applied, membership, last_seqno, skip_upto, deliver) = match &current {
            Some(c) => {
                let m = Arc::new(c.meta.last_membership.clone());
                if a < c.hdr.seqno_end {
                    (
                        c.meta.last_log_id,
                        m,
                        c.hdr.seqno_end,
                        c.hdr.app_seqno,
                        true,
                    )
                } else {
                    (c.meta.last_log_id, m, c.hdr.seqno_end, a, false)
                }
            }
            None => (None, Arc::new(StoredMembership::default()), 0, a, false),
        };
        let mut index = VecDeque::new();
        index.push_back(IndexRec {
            log_id: applied,
            seqno_end: last_seqno,
            membership: membership.clone(),
            admitted: Vec::new(),
        });
        tracing::info!(node_applied = a, snapshot = ?current.as_ref().map(|c| (c.meta.last_log_id, c.hdr.seqno_end, c.hdr.app_seqno)),
            deliver_snapshot = deliver, resume_after = skip_upto, "state machine opened");
        ctl.last_seqno.store(last_seqno, Ordering::SeqCst);
        let sm = Sm {
            sh: Arc::new(SmShared {
                st: Mutex::new(SmState {
                    applied,
                    membership: membership.clone(),
                    last_seqno,
                    skip_upto,
                    index,
                    base_dedup: dedup.clone(),
                    dedup,
                    current: current.clone(),
                    prepared: None,
                }),
                app,
                ctl: ctl.clone(),
                dir,
                sync,
            }),
        };
        ctl.set_membership(membership).await;
        ctl.announce().await;
        if deliver {
            if let Some(c) = current {
                let data = sm.read_app_data(&c.id).await?;
                ctl.send(Event::Snapshot {
                    seqno: c.hdr.app_seqno,
                    data,
                })
                .await;
            }
        }
        Ok(sm)
    }

    fn data_path(&self, id: &str) -> PathBuf {
        self.sh.dir.join(format!("snap-{id}.data"))
    }

    async fn read_app_data(&self, id: &str) -> io::Result<Bytes> {
        let mut f = tokio::fs::File::open(self.data_path(id)).await?;
        let (_, off) = read_header(&mut f).await?;
        f.seek(SeekFrom::Start(off)).await?;
        let mut v = Vec::new();
        f.read_to_end(&mut v).await?;
        Ok(Bytes::from(v))
    }

    /// Log id of the current snapshot, if any.
    pub fn snapshot_log_id(&self) -> Option<LogId> {
        self.sh
            .st
            .lock()
            .current
            .as_ref()
            .and_then(|c| c.meta.last_log_id)
    }

    /// The last applied entry wholly covered by seqno `s` (for purging).
    pub fn entry_covered_by(&self, s: Seqno) -> Option<LogId> {
        let st = self.sh.st.lock();
        st.index
            .iter()
            .rev()
            .find(|r| r.seqno_end <= s)
            .and_then(|r| r.log_id)
    }

    /// Ask the node for a snapshot and stage it, so the next openraft
    /// snapshot build can use it. Returns the raft log id it covers, or `None`
    /// when the node's state is not newer than the current snapshot.
    pub async fn prepare_snapshot(&self) -> anyhow::Result<Option<LogId>> {
        let s = self.sh.app.build_snapshot().await?;
        let (rec, last_seqno) = {
            let st = self.sh.st.lock();
            let pos = st.index.iter().rposition(|r| r.seqno_end <= s.seqno);
            (
                pos.map(|p| (st.index[p].clone(), st.dedup_at(p))),
                st.last_seqno,
            )
        };
        if s.seqno > last_seqno {
            tracing::warn!(
                app_seqno = s.seqno,
                last_seqno,
                "node snapshot is ahead of the ordered log; using the newest entry"
            );
        }
        let Some((rec, dedup)) = rec else {
            return Ok(None);
        };
        let Some(l) = rec.log_id else { return Ok(None) };
        {
            let st = self.sh.st.lock();
            let newest = st
                .prepared
                .as_ref()
                .or(st.current.as_ref())
                .and_then(|c| c.meta.last_log_id);
            if newest.is_some_and(|n| n.index >= l.index) {
                return Ok(None);
            }
        }
        let id = format!(
            "{}-{}-{}-{:08x}",
            l.leader_id.term,
            l.index,
            s.seqno,
            rand::random::<u32>()
        );
        let hdr = SnapHeader {
            version: 2,
            seqno_end: rec.seqno_end,
            app_seqno: s.seqno,
            dedup,
        };
        let meta = SnapshotMeta {
            last_log_id: Some(l),
            last_membership: (*rec.membership).clone(),
            snapshot_id: id.clone(),
        };
        let hb = codec::encode(&hdr)?;
        let mut f = tokio::fs::File::create(self.data_path(&id)).await?;
        f.write_all(SNAP_MAGIC).await?;
        f.write_all(&(hb.len() as u32).to_le_bytes()).await?;
        f.write_all(&hb).await?;
        f.write_all(&s.data).await?;
        f.flush().await?;
        if self.sh.sync {
            f.sync_all().await?;
        }
        drop(f);
        write_atomic(
            &self.sh.dir,
            &format!("snap-{id}.meta"),
            &codec::encode(&meta)?,
            self.sh.sync,
        )
        .await?;
        let old = self
            .sh
            .st
            .lock()
            .prepared
            .replace(SnapInfo { meta, hdr, id });
        if let Some(o) = old {
            self.remove_files(&o.id).await;
        }
        Ok(Some(l))
    }

    async fn remove_files(&self, id: &str) {
        let _ = tokio::fs::remove_file(self.data_path(id)).await;
        let _ = tokio::fs::remove_file(self.sh.dir.join(format!("snap-{id}.meta"))).await;
    }

    async fn open_snapshot(&self, info: &SnapInfo) -> io::Result<Snapshot<TypeConfig>> {
        let path = self.data_path(&info.id);
        let file = tokio::fs::File::open(&path).await?;
        Ok(Snapshot {
            meta: info.meta.clone(),
            snapshot: Box::new(SnapshotFile { file, path }),
        })
    }

    /// Make `info` the current snapshot and prune the seqno index.
    async fn make_current(&self, info: SnapInfo) -> io::Result<()> {
        write_atomic(&self.sh.dir, "current", info.id.as_bytes(), self.sh.sync).await?;
        let old = {
            let mut st = self.sh.st.lock();
            if let Some(l) = info.meta.last_log_id {
                while st.index.len() > 1 && st.index[1].log_id.is_some_and(|x| x.index <= l.index) {
                    st.index.pop_front();
                    let admitted = std::mem::take(&mut st.index[0].admitted);
                    st.base_dedup.admit_all(&admitted);
                }
            }
            st.current.replace(info)
        };
        if let Some(o) = old {
            self.remove_files(&o.id).await;
        }
        Ok(())
    }
}

impl RaftSnapshotBuilder<TypeConfig> for Sm {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        let (prepared, current) = {
            let mut st = self.sh.st.lock();
            let cur_idx = st
                .current
                .as_ref()
                .and_then(|c| c.meta.last_log_id)
                .map(|l| l.index);
            let p = st.prepared.take();
            let newer = p.filter(|p| p.meta.last_log_id.map(|l| l.index) > cur_idx);
            (newer, st.current.clone())
        };
        if let Some(p) = prepared {
            self.make_current(p.clone()).await.map_err(sm_err)?;
            return self.open_snapshot(&p).await.map_err(snap_read_err);
        }
        if let Some(c) = current {
            return self.open_snapshot(&c).await.map_err(snap_read_err);
        }
        // No staged snapshot: ask the node now (only happens when openraft
        // needs one at start-up).
        match self.prepare_snapshot().await {
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "node could not build a snapshot");
                return Err(sm_err(io_err(e)));
            }
        }
        let p = self.sh.st.lock().prepared.take();
        match p {
            Some(p) => {
                self.make_current(p.clone()).await.map_err(sm_err)?;
                self.open_snapshot(&p).await.map_err(snap_read_err)
            }
            None => Err(sm_err(io_err(
                "no snapshot can be built: the node has applied nothing yet",
            ))),
        }
    }
}

impl RaftStateMachine<TypeConfig> for Sm {
    type SnapshotBuilder = Sm;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId>, StoredMembership), StorageError<NodeId>> {
        let st = self.sh.st.lock();
        Ok((st.applied, (*st.membership).clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<ApplyResult>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut results = Vec::new();
        let mut evs = Vec::new();
        for e in entries {
            let mut mchange = None;
            {
                let mut st = self.sh.st.lock();
                st.applied = Some(e.log_id);
                let mut seqnos = Vec::new();
                let mut admitted = Vec::new();
                // Unstamped payloads (old logs) are all new.
                let ps: Vec<(NodeId, Option<Stamp>, Bytes)> = match e.payload {
                    EntryPayload::Normal(Command::Batch(ps)) => {
                        ps.into_iter().map(|p| (p.origin, None, p.data)).collect()
                    }
                    EntryPayload::Normal(Command::Stamped(ps)) => ps
                        .into_iter()
                        .map(|p| (p.origin, Some(p.stamp), p.data))
                        .collect(),
                    EntryPayload::Blank => Vec::new(),
                    EntryPayload::Membership(m) => {
                        let sm = Arc::new(StoredMembership::new(Some(e.log_id), m));
                        st.membership = sm.clone();
                        mchange = Some(sm);
                        Vec::new()
                    }
                };
                for (origin, stamp, data) in ps {
                    let verdict = stamp.map_or(Verdict::New, |s| st.dedup.check(origin, &s));
                    match verdict {
                        Verdict::New => {
                            st.last_seqno += 1;
                            let q = st.last_seqno;
                            if let Some(s) = stamp {
                                st.dedup.admit(origin, &s, q);
                                admitted.push((origin, s, q));
                            }
                            seqnos.push(Some(q));
                            if q > st.skip_upto {
                                evs.push(Event::Deliver {
                                    seqno: q,
                                    origin,
                                    payload: data,
                                });
                            }
                        }
                        Verdict::Duplicate(q) => {
                            tracing::warn!(
                                origin,
                                ?stamp,
                                first_seqno = q,
                                "dropped a second copy of an ordered broadcast"
                            );
                            seqnos.push(Some(q));
                        }
                        Verdict::Stale => {
                            tracing::warn!(origin, ?stamp,
                                "dropped a broadcast from an older incarnation or below its origin's floor");
                            if origin == self.sh.ctl.id {
                                if let Some(i) = st.dedup.incarnation(origin) {
                                    self.sh.ctl.stamper.move_past(i);
                                }
                            }
                            seqnos.push(None);
                        }
                    }
                }
                let rec = IndexRec {
                    log_id: Some(e.log_id),
                    seqno_end: st.last_seqno,
                    membership: st.membership.clone(),
                    admitted,
                };
                st.index.push_back(rec);
                self.sh
                    .ctl
                    .last_seqno
                    .store(st.last_seqno, Ordering::SeqCst);
                results.push(ApplyResult { seqnos });
            }
            for ev in evs.drain(..) {
                self.sh.ctl.send(ev).await;
            }
            if let Some(m) = mchange {
                self.sh.ctl.set_membership(m).await;
            }
        }
        Ok(results)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<SnapshotFile>, StorageError<NodeId>> {
        let path = self
            .sh
            .dir
            .join(format!("recv-{:016x}.part", rand::random::<u64>()));
        let file = tokio::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .await
            .map_err(sm_err)?;
        Ok(Box::new(SnapshotFile { file, path }))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, MemberNode>,
        mut snapshot: Box<SnapshotFile>,
    ) -> Result<(), StorageError<NodeId>> {
        let res: io::Result<(SnapInfo, Bytes)> = async {
            snapshot.file.flush().await?;
            if self.sh.sync {
                snapshot.file.sync_all().await?;
            }
            let (hdr, off) = read_header(&mut snapshot.file).await?;
            snapshot.file.seek(SeekFrom::Start(off)).await?;
            let mut v = Vec::new();
            snapshot.file.read_to_end(&mut v).await?;
            let id = meta.snapshot_id.clone();
            let SnapshotFile { path, .. } = *snapshot;
            tokio::fs::rename(&path, self.data_path(&id)).await?;
            write_atomic(
                &self.sh.dir,
                &format!("snap-{id}.meta"),
                &codec::encode(meta).map_err(io_err)?,
                self.sh.sync,
            )
            .await?;
            Ok((
                SnapInfo {
                    meta: meta.clone(),
                    hdr,
                    id,
                },
                Bytes::from(v),
            ))
        }
        .await;
        let (info, data) = match res {
            Ok(x) => x,
            Err(e) => {
                tracing::error!(error = %e, "received snapshot is unusable");
                return Err(sm_err(e));
            }
        };
        let membership = Arc::new(meta.last_membership.clone());
        {
            let mut st = self.sh.st.lock();
            st.applied = meta.last_log_id;
            st.membership = membership.clone();
            st.last_seqno = info.hdr.seqno_end;
            st.skip_upto = info.hdr.app_seqno;
            st.dedup = info.hdr.dedup.clone();
            st.base_dedup = info.hdr.dedup.clone();
            st.index.clear();
            st.index.push_back(IndexRec {
                log_id: meta.last_log_id,
                seqno_end: info.hdr.seqno_end,
                membership: membership.clone(),
                admitted: Vec::new(),
            });
            self.sh
                .ctl
                .last_seqno
                .store(info.hdr.seqno_end, Ordering::SeqCst);
        }
        tracing::info!(last_log_id = ?meta.last_log_id, app_seqno = info.hdr.app_seqno, "installed snapshot from leader");
        let app_seqno = info.hdr.app_seqno;
        self.make_current(info).await.map_err(sm_err)?;
        self.sh
            .ctl
            .send(Event::Snapshot {
                seqno: app_seqno,
                data,
            })
            .await;
        self.sh.ctl.set_membership(membership).await;
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        let cur = self.sh.st.lock().current.clone();
        match cur {
            Some(c) => Ok(Some(self.open_snapshot(&c).await.map_err(snap_read_err)?)),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::AppSnapshot;
    use crate::dedup::Stamper;
    use crate::events::EventReceiver;
    use crate::types::Payload;
    use futures::future::BoxFuture;
    use openraft::CommittedLeaderId;

    /// A node that has applied everything delivered so far.
    struct App(std::sync::atomic::AtomicU64);

    impl SnapshotApp for App {
        fn build_snapshot(&self) -> BoxFuture<'_, anyhow::Result<AppSnapshot>> {
            let seqno = self.0.load(Ordering::SeqCst);
            Box::pin(async move {
                Ok(AppSnapshot {
                    seqno,
                    data: Bytes::from_static(b"state"),
                })
            })
        }
        fn applied_seqno(&self) -> Seqno {
            0
        }
    }

    async fn open(dir: &Path) -> (Sm, EventReceiver, Arc<App>) {
        let app = Arc::new(App(Default::default()));
        let (ctl, rx) = Ctl::new(9, 1024, Stamper::new(1));
        let sm = Sm::open(dir.to_path_buf(), app.clone(), ctl, false)
            .await
            .unwrap();
        (sm, rx, app)
    }

    fn entry(index: u64, ps: &[(NodeId, u64, u64)]) -> Entry {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Normal(Command::Stamped(
                ps.iter()
                    .map(|&(origin, seq, floor)| Payload {
                        origin,
                        stamp: Stamp {
                            incarnation: 5,
                            seq,
                            floor,
                        },
                        data: Bytes::from(format!("{origin}/{seq}")),
                    })
                    .collect(),
            )),
        }
    }

    fn delivered(rx: &mut EventReceiver) -> Vec<(Seqno, String)> {
        let mut v = Vec::new();
        while let Some(e) = rx.try_recv() {
            if let Event::Deliver { seqno, payload, .. } = e {
                v.push((seqno, String::from_utf8_lossy(&payload).into_owned()));
            }
        }
        v
    }

    #[tokio::test]
    async fn a_second_copy_of_a_broadcast_is_numbered_and_delivered_once() {
        let d = tempfile::tempdir().unwrap();
        let (mut sm, mut rx, _) = open(d.path()).await;
        let r = sm
            .apply(vec![
                entry(1, &[(1, 0, 0), (2, 0, 0)]),
                entry(2, &[(1, 1, 0)]),
                entry(3, &[(2, 1, 0), (1, 0, 0)]),
            ])
            .await
            .unwrap();
        let seqnos: Vec<_> = r.into_iter().map(|a| a.seqnos).collect();
        assert_eq!(
            seqnos,
            vec![
                vec![Some(1), Some(2)],
                vec![Some(3)],
                vec![Some(4), Some(1)]
            ]
        );
        assert_eq!(
            delivered(&mut rx),
            vec![
                (1, "1/0".into()),
                (2, "2/0".into()),
                (3, "1/1".into()),
                (4, "2/1".into())
            ]
        );
    }

    #[tokio::test]
    async fn a_member_installing_a_snapshot_drops_the_same_copies() {
        let d = tempfile::tempdir().unwrap();
        let (mut sm, mut rx, app) = open(&d.path().join("a")).await;
        sm.apply(vec![entry(1, &[(1, 0, 0)]), entry(2, &[(1, 1, 0)])])
            .await
            .unwrap();
        assert_eq!(delivered(&mut rx).len(), 2);
        app.0.store(1, Ordering::SeqCst);
        assert!(sm.prepare_snapshot().await.unwrap().is_some());
        let mut snap = sm.build_snapshot().await.unwrap();
        assert_eq!(snap.meta.last_log_id.map(|l| l.index), Some(1));
        let mut bytes = Vec::new();
        snap.snapshot.read_to_end(&mut bytes).await.unwrap();

        let (mut other, mut orx, _) = open(&d.path().join("b")).await;
        let mut f = other.begin_receiving_snapshot().await.unwrap();
        f.write_all(&bytes).await.unwrap();
        other.install_snapshot(&snap.meta, f).await.unwrap();
        // Entry 2 replays after the snapshot's entry 1; then a late copy of
        // 1/0 (admitted inside the snapshot) and of 1/1 (after it) arrive.
        let r = other
            .apply(vec![
                entry(2, &[(1, 1, 0)]),
                entry(3, &[(1, 0, 0), (1, 1, 0)]),
            ])
            .await
            .unwrap();
        assert_eq!(r[1].seqnos, vec![Some(1), Some(2)]);
        assert_eq!(delivered(&mut orx), vec![(2, "1/1".into())]);
        // And after a restart from that snapshot the table is still there.
        drop(other);
        let (mut again, mut arx, _) = open(&d.path().join("b")).await;
        let r = again
            .apply(vec![entry(2, &[(1, 1, 0)]), entry(3, &[(1, 0, 0)])])
            .await
            .unwrap();
        assert_eq!(r[1].seqnos, vec![Some(1)]);
        assert!(
            delivered(&mut arx).iter().all(|(_, p)| p != "1/0"),
            "1/0 delivered twice"
        );
    }

    #[test]
    fn version_1_headers_still_decode() {
        #[derive(Serialize)]
        struct V1 {
            version: u32,
            seqno_end: Seqno,
            app_seqno: Seqno,
        }
        let b = codec::encode(&V1 {
            version: 1,
            seqno_end: 7,
            app_seqno: 9,
        })
        .unwrap();
        let h = decode_header(&b).unwrap();
        assert_eq!((h.version, h.seqno_end, h.app_seqno), (1, 7, 9));
        assert!(h.dedup.is_empty());
    }
}
