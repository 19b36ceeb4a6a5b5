//! The gcache as openraft log storage: an in-memory copy of the unpurged log
//! for fast reads, backed by append-only segment files written by one writer
//! thread with group commit.
//!
//! # Invariants
//!
//! - The in-memory log is contiguous: indexes `first..=last` with no hole;
//!   `last_purged.index + 1 == first` whenever both exist.
//! - Every write (append, truncate, purge, vote) goes through one FIFO queue
//!   to one writer thread, so IO is serialized in call order, as openraft
//!   requires. A vote is durable (per [`FsyncPolicy`]) before `save_vote`
//!   returns; an append's callback fires only after its bytes are synced.
//! - After any write or sync error the gcache is *poisoned*: every later
//!   write fails, and openraft stops the member (a storage error is fatal).
//!   Restarting recovers from what is on disk.
//! - Segment files are deleted only as a prefix and only when every entry
//!   they ever held is purged, so replaying the remaining files yields the
//!   same log.

use std::collections::VecDeque;
use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::sync::mpsc;
use std::sync::Arc;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{LogState, RaftLogReader, StorageError, StorageIOError, Vote};
use parking_lot::{Mutex, RwLock};

use super::storage::{LogFile, Storage};
use super::wal::{self, FileKind, RecordKind};
use crate::codec;
use crate::config::FsyncPolicy;
use crate::types::{Entry, LogId, NodeId, TypeConfig};
use openraft::EntryPayload;

const VOTE_FILE: &str = "vote";

fn seg_name(seq: u64) -> String {
    format!("seg-{seq:016x}.wal")
}

fn parse_seg(name: &str) -> Option<u64> {
    let h = name.strip_prefix("seg-")?.strip_suffix(".wal")?;
    if h.len() != 16 {
        return None;
    }
    u64::from_str_radix(h, 16).ok()
}

/// Approximate in-memory/on-disk size of an entry, used for the gcache size
/// budget and for bounding replication messages.
pub(crate) fn entry_size(e: &Entry) -> u64 {
    match &e.payload {
        EntryPayload::Normal(c) => match c {
            crate::types::Command::Batch(v) => {
                48 + v.iter().map(|p| p.data.len() as u64 + 16).sum::<u64>()
            }
            crate::types::Command::Stamped(v) => {
                48 + v.iter().map(|p| p.data.len() as u64 + 40).sum::<u64>()
            }
        },
        EntryPayload::Membership(_) => 256,
        EntryPayload::Blank => 32,
    }
}

/// What recovery found when the gcache was opened. Logged at startup and
/// available from [`crate::Gcs::recovery`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Segment files read.
    pub segments: usize,
    /// Valid records replayed.
    pub records: usize,
    /// Entries present after recovery.
    pub entries: u64,
    /// Last purged log index, if any.
    pub last_purged: Option<u64>,
    /// Last log index, if any.
    pub last_index: Option<u64>,
    /// A torn or corrupt tail in the newest segment that was cut off.
    pub torn_tail: Option<TornTail>,
}

/// A cut-off tail of the newest segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// File name.
    pub file: String,
    /// Offset where valid data ended.
    pub offset: u64,
    /// Bytes dropped.
    pub dropped_bytes: u64,
    /// Why the first dropped record was rejected.
    pub reason: String,
}

/// Opening the gcache failed.
#[derive(Debug, thiserror::Error)]
pub enum GcacheError {
    /// Reading or writing the directory failed.
    #[error("gcache I/O error: {0}")]
    Io(#[from] io::Error),
    /// A file other than the newest segment is damaged; the log cannot be
    /// trusted. Move the data directory aside and let the member rejoin (it
    /// will receive a snapshot), or restore it from a backup.
    #[error("gcache corrupt: {0}; move the data directory aside and let this member rejoin to receive a fresh copy")]
    Corrupt(String),
}

#[derive(Default)]
struct MemLog {
    entries: VecDeque<(Entry, u64)>,
    /// Index of `entries[0]` (meaningful only when non-empty).
    first: u64,
    last_purged: Option<LogId>,
    bytes: u64,
}

impl MemLog {
    fn last_index(&self) -> Option<u64> {
        if self.entries.is_empty() {
            self.last_purged.map(|l| l.index)
        } else {
            Some(self.first + self.entries.len() as u64 - 1)
        }
    }

    fn last_log_id(&self) -> Option<LogId> {
        self.entries
            .back()
            .map(|(e, _)| e.log_id)
            .or(self.last_purged)
    }

    fn push(&mut self, e: Entry) -> Result<(), String> {
        let i = e.log_id.index;
        if self.entries.is_empty() {
            match self.last_purged {
                Some(p) if i <= p.index => return Ok(()),
                Some(p) if i != p.index + 1 => {
                    return Err(format!("hole in log: entry {i} after purged {}", p.index))
                }
                _ => {}
            }
            self.first = i;
        } else {
            let last = self.first + self.entries.len() as u64 - 1;
            if i < self.first {
                return Ok(());
            }
            if i <= last {
                self.truncate(i);
            } else if i != last + 1 {
                return Err(format!("hole in log: entry {i} after {last}"));
            }
        }
        let sz = entry_size(&e);
        self.bytes += sz;
        if self.entries.is_empty() {
            self.first = i;
        }
        self.entries.push_back((e, sz));
        Ok(())
    }

    fn truncate(&mut self, since: u64) {
        while let Some((e, sz)) = self.entries.back() {
            if e.log_id.index >= since {
                self.bytes -= *sz;
                self.entries.pop_back();
            } else {
                break;
            }
        }
    }

    fn purge(&mut self, upto: LogId) {
        if self.last_purged.is_some_and(|p| p.index >= upto.index) {
            return;
        }
        while let Some((e, sz)) = self.entries.front() {
            if e.log_id.index <= upto.index {
                self.bytes -= *sz;
                self.entries.pop_front();
                self.first += 1;
            } else {
                break;
            }
        }
        self.last_purged = Some(upto);
        if self.entries.is_empty() {
            self.first = upto.index + 1;
        }
    }

    fn range(&self, start: u64, end: u64, max_bytes: Option<u64>) -> Vec<Entry> {
        let mut out = Vec::new();
        if self.entries.is_empty() || end <= start {
            return out;
        }
        let lo = start.max(self.first);
        let hi = end.min(self.first + self.entries.len() as u64);
        let mut bytes = 0;
        for i in lo..hi {
            let (e, sz) = &self.entries[(i - self.first) as usize];
            if let Some(m) = max_bytes {
                if !out.is_empty() && bytes + sz > m {
                    break;
                }
            }
            bytes += sz;
            out.push(e.clone());
        }
        out
    }
}

enum Cmd {
    /// Entries to write; the callback (openraft's) once they are durable.
    Append(Vec<Entry>, Option<LogFlushed<TypeConfig>>),
    Truncate(u64),
    Purge(LogId),
    Vote(Vote<NodeId>, tokio::sync::oneshot::Sender<io::Result<()>>),
    Barrier(tokio::sync::oneshot::Sender<io::Result<()>>),
    Stop,
}

struct Shared {
    mem: RwLock<MemLog>,
    tx: Mutex<Option<mpsc::Sender<Cmd>>>,
    vote: Mutex<Option<Vote<NodeId>>>,
    report: RecoveryReport,
    max_read_bytes: u64,
    join: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// The gcache: openraft [`RaftLogStorage`] over a [`Storage`].
#[derive(Clone)]
pub struct Gcache {
    sh: Arc<Shared>,
}

/// A reader handle for replication tasks.
#[derive(Clone)]
pub struct GcacheReader {
    sh: Arc<Shared>,
}

/// Options of [`Gcache::open`].
#[derive(Debug, Clone)]
pub struct GcacheOptions {
    /// fsync policy.
    pub fsync: FsyncPolicy,
    /// Rotate segments beyond this size.
    pub segment_bytes: u64,
    /// Cap (approximate bytes) of one replication read.
    pub max_read_bytes: u64,
}

impl Default for GcacheOptions {
    fn default() -> Self {
        GcacheOptions {
            fsync: FsyncPolicy::Always,
            segment_bytes: 64 << 20,
            max_read_bytes: 4 << 20,
        }
    }
}

fn sto_err(e: impl std::error::Error + 'static) -> StorageError<NodeId> {
    StorageError::IO {
        source: StorageIOError::write_logs(&e),
    }
}

impl Gcache {
    /// Recover the gcache from `storage` and start its writer thread.
    pub fn open(storage: Arc<dyn Storage>, opts: GcacheOptions) -> Result<Gcache, GcacheError> {
        let mut mem = MemLog::default();
        let mut report = RecoveryReport::default();
        let mut segs: Vec<(u64, String)> = storage
            .list()?
            .into_iter()
            .filter_map(|n| parse_seg(&n).map(|s| (s, n)))
            .collect();
        segs.sort();
        let mut seg_info = Vec::new();
        let nsegs = segs.len();
        for (k, (seq, name)) in segs.iter().enumerate() {
            let bytes = storage.read(name)?;
            let scan = wal::scan(&bytes, FileKind::Segment)
                .map_err(|e| GcacheError::Corrupt(format!("{name}: {e}")))?;
            report.segments += 1;
            let mut max_index = None;
            for r in &scan.records {
                report.records += 1;
                match r.kind {
                    RecordKind::Entry => {
                        let e: Entry = codec::decode(r.payload).map_err(|e| {
                            GcacheError::Corrupt(format!(
                                "{name} offset {}: entry does not decode: {e}",
                                r.offset
                            ))
                        })?;
                        max_index = Some(e.log_id.index);
                        mem.push(e).map_err(|e| {
                            GcacheError::Corrupt(format!("{name} offset {}: {e}", r.offset))
                        })?;
                    }
                    RecordKind::Truncate => {
                        let since: u64 = codec::decode(r.payload).map_err(|e| {
                            GcacheError::Corrupt(format!("{name} offset {}: {e}", r.offset))
                        })?;
                        mem.truncate(since);
                    }
                    RecordKind::Purge => {
                        let upto: LogId = codec::decode(r.payload).map_err(|e| {
                            GcacheError::Corrupt(format!("{name} offset {}: {e}", r.offset))
                        })?;
                        mem.purge(upto);
                    }
                    RecordKind::Vote => {
                        return Err(GcacheError::Corrupt(format!(
                            "{name} offset {}: vote record in a segment",
                            r.offset
                        )))
                    }
                }
            }
            if let Some(bad) = scan.bad {
                if k + 1 == nsegs {
                    let t = TornTail {
                        file: name.clone(),
                        offset: bad.offset as u64,
                        dropped_bytes: (bytes.len() - bad.offset) as u64,
                        reason: bad.reason,
                    };
                    tracing::warn!(file = %t.file, offset = t.offset, dropped = t.dropped_bytes, reason = %t.reason,
                        "gcache: torn tail in newest segment cut off (an interrupted write; entries before it are intact)");
                    if bad.offset < wal::HEADER_LEN {
                        storage.remove(name)?;
                    } else {
                        storage.truncate(name, bad.offset as u64)?;
                    }
                    report.torn_tail = Some(t);
                } else {
                    return Err(GcacheError::Corrupt(format!(
                        "{name} offset {}: {} (not the newest segment, so this is not a torn write)",
                        bad.offset, bad.reason
                    )));
                }
            }
            seg_info.push(SegInfo {
                seq: *seq,
                name: name.clone(),
                max_index,
            });
        }
        // Vote.
        let mut vote = None;
        if storage.list()?.iter().any(|n| n == VOTE_FILE) {
            let bytes = storage.read(VOTE_FILE)?;
            let scan = wal::scan(&bytes, FileKind::Vote)
                .map_err(|e| GcacheError::Corrupt(format!("vote: {e}")))?;
            if let Some(bad) = scan.bad {
                return Err(GcacheError::Corrupt(format!(
                    "vote file at {}: {}",
                    bad.offset, bad.reason
                )));
            }
            for r in scan.records {
                vote = Some(
                    codec::decode::<Vote<NodeId>>(r.payload)
                        .map_err(|e| GcacheError::Corrupt(format!("vote: {e}")))?,
                );
            }
        }
        report.entries = mem.entries.len() as u64;
        report.last_purged = mem.last_purged.map(|l| l.index);
        report.last_index = mem.last_index();
        tracing::info!(?report, "gcache recovered");

        let next_seq = seg_info.last().map(|s| s.seq + 1).unwrap_or(1);
        let mut writer = Writer {
            storage: storage.clone(),
            opts: opts.clone(),
            segs: seg_info
                .into_iter()
                .filter(|s| storage.list().map(|l| l.contains(&s.name)).unwrap_or(true))
                .collect(),
            cur: None,
            cur_len: 0,
            next_seq,
            buf: Vec::with_capacity(1 << 20),
            pending: Vec::new(),
            poisoned: None,
            last_purged: mem.last_purged,
            dirty: false,
            purge_pending: None,
        };
        writer.rotate().map_err(GcacheError::Io)?;
        let (tx, rx) = mpsc::channel();
        let join = std::thread::Builder::new()
            .name("gcache-writer".into())
            .spawn(move || writer.run(rx))?;
        Ok(Gcache {
            sh: Arc::new(Shared {
                mem: RwLock::new(mem),
                tx: Mutex::new(Some(tx)),
                vote: Mutex::new(vote),
                report,
                max_read_bytes: opts.max_read_bytes,
                join: Mutex::new(Some(join)),
            }),
        })
    }

    /// What recovery found.
    pub fn recovery(&self) -> &RecoveryReport {
        &self.sh.report
    }

    fn send(&self, c: Cmd) -> io::Result<()> {
        match &*self.sh.tx.lock() {
            Some(tx) => tx.send(c).map_err(|_| {
                io::Error::other("gcache writer stopped (after an earlier I/O error or shutdown)")
            }),
            None => Err(io::Error::other("gcache is closed")),
        }
    }

    /// Wait until everything queued so far is written (and synced per policy).
    pub async fn flush(&self) -> io::Result<()> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Cmd::Barrier(tx))?;
        rx.await
            .map_err(|_| io::Error::other("gcache writer stopped"))?
    }

    /// Appends entries outside raft and waits until they are durable. Only
    /// for an operator's forced recovery, before raft starts on this log.
    pub async fn append_offline(&self, entries: Vec<Entry>) -> io::Result<()> {
        {
            let mut m = self.sh.mem.write();
            for e in &entries {
                m.push(e.clone()).map_err(io::Error::other)?;
            }
        }
        self.send(Cmd::Append(entries, None))?;
        self.flush().await
    }

    /// Stop the writer thread after flushing. Idempotent.
    pub fn close(&self) {
        if let Some(tx) = self.sh.tx.lock().take() {
            let _ = tx.send(Cmd::Stop);
        }
        if let Some(j) = self.sh.join.lock().take() {
            let _ = j.join();
        }
    }

    /// `(first_index, last_index)` of entries present, if any.
    pub fn bounds(&self) -> Option<(u64, u64)> {
        let m = self.sh.mem.read();
        m.last_index()
            .filter(|_| !m.entries.is_empty())
            .map(|l| (m.first, l))
    }

    /// Approximate bytes of entries present.
    pub fn bytes(&self) -> u64 {
        self.sh.mem.read().bytes
    }

    /// The highest index `p` such that the entries after `p` still hold at
    /// least `keep_bytes`: purging up to `p` keeps `keep_bytes` for catch-up.
    pub fn purge_limit_for(&self, keep_bytes: u64) -> Option<u64> {
        let m = self.sh.mem.read();
        let mut acc = 0;
        for (e, sz) in m.entries.iter().rev() {
            if acc >= keep_bytes {
                return Some(e.log_id.index);
            }
            acc += sz;
        }
        None
    }

    /// Log id of the entry at `index`, if present.
    pub fn log_id_at(&self, index: u64) -> Option<LogId> {
        let m = self.sh.mem.read();
        if m.entries.is_empty() || index < m.first {
            return None;
        }
        m.entries
            .get((index - m.first) as usize)
            .map(|(e, _)| e.log_id)
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(tx) = self.tx.get_mut().take() {
            let _ = tx.send(Cmd::Stop);
        }
    }
}

fn range_to(r: &impl RangeBounds<u64>) -> (u64, u64) {
    let s = match r.start_bound() {
        Bound::Included(x) => *x,
        Bound::Excluded(x) => x + 1,
        Bound::Unbounded => 0,
    };
    let e = match r.end_bound() {
        Bound::Included(x) => x + 1,
        Bound::Excluded(x) => *x,
        Bound::Unbounded => u64::MAX,
    };
    (s, e)
}

impl RaftLogReader<TypeConfig> for GcacheReader {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError<NodeId>> {
        let (s, e) = range_to(&range);
        Ok(self.sh.mem.read().range(s, e, None))
    }

    async fn limited_get_log_entries(
        &mut self,
        start: u64,
        end: u64,
    ) -> Result<Vec<Entry>, StorageError<NodeId>> {
        Ok(self
            .sh
            .mem
            .read()
            .range(start, end, Some(self.sh.max_read_bytes)))
    }
}

impl RaftLogReader<TypeConfig> for Gcache {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError<NodeId>> {
        let (s, e) = range_to(&range);
        Ok(self.sh.mem.read().range(s, e, None))
    }
}

impl RaftLogStorage<TypeConfig> for Gcache {
    type LogReader = GcacheReader;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<NodeId>> {
        let m = self.sh.mem.read();
        Ok(LogState {
            last_purged_log_id: m.last_purged,
            last_log_id: m.last_log_id(),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        GcacheReader {
            sh: self.sh.clone(),
        }
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError<NodeId>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Cmd::Vote(*vote, tx))
            .map_err(|e| StorageError::IO {
                source: StorageIOError::write_vote(&e),
            })?;
        let r = rx
            .await
            .map_err(|_| io::Error::other("gcache writer stopped"));
        match r.and_then(|x| x) {
            Ok(()) => {
                *self.sh.vote.lock() = Some(*vote);
                Ok(())
            }
            Err(e) => Err(StorageError::IO {
                source: StorageIOError::write_vote(&e),
            }),
        }
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
        Ok(*self.sh.vote.lock())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        {
            let mut m = self.sh.mem.write();
            for e in &entries {
                m.push(e.clone())
                    .map_err(|s| sto_err(io::Error::other(s)))?;
            }
        }
        self.send(Cmd::Append(entries, Some(callback)))
            .map_err(sto_err)?;
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError<NodeId>> {
        self.sh.mem.write().truncate(log_id.index);
        self.send(Cmd::Truncate(log_id.index)).map_err(sto_err)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError<NodeId>> {
        self.sh.mem.write().purge(log_id);
        self.send(Cmd::Purge(log_id)).map_err(sto_err)
    }
}

struct SegInfo {
    seq: u64,
    name: String,
    max_index: Option<u64>,
}

struct Writer {
    storage: Arc<dyn Storage>,
    opts: GcacheOptions,
    segs: Vec<SegInfo>,
    cur: Option<Box<dyn LogFile>>,
    cur_len: u64,
    next_seq: u64,
    buf: Vec<u8>,
    pending: Vec<LogFlushed<TypeConfig>>,
    poisoned: Option<String>,
    last_purged: Option<LogId>,
    /// Bytes written since the last sync.
    dirty: bool,
    /// A purge whose record must be durable before old segments go.
    purge_pending: Option<LogId>,
}

impl Writer {
    fn rotate(&mut self) -> io::Result<()> {
        if let Some(mut f) = self.cur.take() {
            if self.opts.fsync == FsyncPolicy::Always {
                f.sync()?;
            }
        }
        self.dirty = false;
        let seq = self.next_seq;
        self.next_seq += 1;
        let name = seg_name(seq);
        let mut f = self.storage.create(&name)?;
        let mut head = wal::file_header(FileKind::Segment).to_vec();
        // Every segment starts self-describing: it repeats the purge point.
        if let Some(p) = self.last_purged {
            wal::put_record(
                &mut head,
                RecordKind::Purge,
                &codec::encode(&p).map_err(io::Error::other)?,
            );
        }
        f.write_all(&head)?;
        if self.opts.fsync == FsyncPolicy::Always {
            f.sync()?;
            self.storage.sync_dir()?;
        }
        self.cur_len = head.len() as u64;
        self.cur = Some(f);
        self.segs.push(SegInfo {
            seq,
            name,
            max_index: None,
        });
        Ok(())
    }

    fn write_buf(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let f = self
            .cur
            .as_mut()
            .ok_or_else(|| io::Error::other("no open segment"))?;
        f.write_all(&self.buf)?;
        self.cur_len += self.buf.len() as u64;
        self.buf.clear();
        self.dirty = true;
        Ok(())
    }

    /// Write buffered records, sync per policy, then complete callbacks.
    fn commit(&mut self) -> io::Result<()> {
        let r = self.write_buf().and_then(|_| {
            if self.opts.fsync == FsyncPolicy::Always && self.dirty {
                self.dirty = false;
                self.cur.as_mut().map(|f| f.sync()).unwrap_or(Ok(()))
            } else {
                Ok(())
            }
        });
        match r {
            Ok(()) => {
                for cb in self.pending.drain(..) {
                    cb.log_io_completed(Ok(()));
                }
                if let Some(p) = self.purge_pending.take() {
                    self.delete_purged_segments(p);
                }
                Ok(())
            }
            Err(e) => {
                self.poison(&e);
                Err(e)
            }
        }
    }

    fn poison(&mut self, e: &io::Error) {
        tracing::error!(error = %e, "gcache write failed; refusing further writes (restart the member to recover)");
        self.poisoned = Some(e.to_string());
        for cb in self.pending.drain(..) {
            cb.log_io_completed(Err(io::Error::other(format!("gcache write failed: {e}"))));
        }
    }

    fn poisoned_err(&self) -> io::Error {
        io::Error::other(format!(
            "gcache refuses writes after an earlier I/O error: {}",
            self.poisoned.as_deref().unwrap_or("")
        ))
    }

    fn encode_into_buf(&mut self, kind: RecordKind, v: &impl serde::Serialize) -> io::Result<()> {
        let p = codec::encode(v).map_err(io::Error::other)?;
        wal::put_record(&mut self.buf, kind, &p);
        Ok(())
    }

    fn handle(&mut self, c: Cmd) -> bool {
        if self.poisoned.is_some() {
            match c {
                Cmd::Append(_, Some(cb)) => cb.log_io_completed(Err(self.poisoned_err())),
                Cmd::Vote(_, tx) | Cmd::Barrier(tx) => {
                    let _ = tx.send(Err(self.poisoned_err()));
                }
                Cmd::Stop => return false,
                _ => {}
            }
            return true;
        }
        let r: io::Result<()> = (|| match c {
            Cmd::Append(entries, cb) => {
                let cur = self.segs.len() - 1;
                for e in &entries {
                    self.encode_into_buf(RecordKind::Entry, e)?;
                    let m = &mut self.segs[cur].max_index;
                    *m = Some(m.map_or(e.log_id.index, |x| x.max(e.log_id.index)));
                }
                if let Some(cb) = cb {
                    self.pending.push(cb);
                }
                if self.buf.len() > (4 << 20) {
                    self.write_buf()?;
                }
                Ok(())
            }
            Cmd::Truncate(since) => self.encode_into_buf(RecordKind::Truncate, &since),
            Cmd::Purge(upto) => {
                self.encode_into_buf(RecordKind::Purge, &upto)?;
                if self.last_purged.is_none_or(|p| p.index < upto.index) {
                    self.last_purged = Some(upto);
                }
                self.purge_pending = self.last_purged;
                Ok(())
            }
            Cmd::Vote(v, tx) => {
                let r = self.commit().and_then(|_| {
                    let mut b = wal::file_header(FileKind::Vote).to_vec();
                    wal::put_record(
                        &mut b,
                        RecordKind::Vote,
                        &codec::encode(&v).map_err(io::Error::other)?,
                    );
                    self.storage
                        .write_atomic(VOTE_FILE, &b, self.opts.fsync == FsyncPolicy::Always)
                });
                if let Err(e) = &r {
                    self.poison(e);
                }
                let _ = tx.send(r.map_err(|e| io::Error::new(e.kind(), e.to_string())));
                Ok(())
            }
            Cmd::Barrier(tx) => {
                let r = self.commit();
                let _ = tx.send(r.map_err(|e| io::Error::new(e.kind(), e.to_string())));
                Ok(())
            }
            Cmd::Stop => Err(io::Error::new(io::ErrorKind::Interrupted, "stop")),
        })();
        match r {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                let _ = self.commit();
                if let Some(f) = self.cur.as_mut() {
                    let _ = f.sync();
                }
                false
            }
            Err(e) => {
                self.poison(&e);
                true
            }
        }
    }

    fn delete_purged_segments(&mut self, upto: LogId) {
        // Delete a prefix of non-current segments whose entries are all purged.
        let mut n = 0;
        let mut max_so_far: Option<u64> = None;
        for s in self.segs.iter().take(self.segs.len().saturating_sub(1)) {
            max_so_far = match (max_so_far, s.max_index) {
                (a, None) => a,
                (None, b) => b,
                (Some(a), Some(b)) => Some(a.max(b)),
            };
            if max_so_far.is_none_or(|m| m <= upto.index) {
                n += 1;
            } else {
                break;
            }
        }
        for s in self.segs.drain(..n) {
            if let Err(e) = self.storage.remove(&s.name) {
                tracing::warn!(file = %s.name, error = %e, "gcache: could not delete purged segment");
            }
        }
    }

    fn run(mut self, rx: mpsc::Receiver<Cmd>) {
        loop {
            let Ok(first) = rx.recv() else {
                let _ = self.commit();
                return;
            };
            let mut go_on = self.handle(first);
            let mut n = 0;
            while go_on && n < 8192 {
                match rx.try_recv() {
                    Ok(c) => {
                        go_on = self.handle(c);
                        n += 1;
                    }
                    Err(_) => break,
                }
            }
            if self.poisoned.is_none() {
                let _ = self.commit();
            }
            if !go_on {
                return;
            }
            if self.poisoned.is_none() && self.cur_len >= self.opts.segment_bytes {
                if let Err(e) = self.rotate() {
                    self.poison(&e);
                }
            }
        }
    }
}
