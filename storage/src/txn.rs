//! A session's transaction: a snapshot plus a private write buffer.
//!
//! Nothing a transaction writes touches the shared store before commit. Reads
//! see the snapshot overlaid with the transaction's own buffer
//! (read-your-writes). At COMMIT the buffer becomes a write-set: one row
//! operation per changed row with its full after-image, an EXCLUSIVE key per
//! written row and per changed unique value, a SHARED table-level key per
//! written table (so DDL conflicts with it), and the keys of rows read with
//! FOR UPDATE (EXCLUSIVE) or FOR SHARE (SHARED).
//!
//! Savepoints copy the buffer; transactions are small enough that a copy is
//! cheaper than an undo log and cannot be wrong.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::{StorageError, StorageResult};
use crate::{Row, SnapshotGuard, Table};

/// A pending change to one row.
#[derive(Clone, Debug)]
pub struct Pending {
    /// The row as the snapshot saw it when the transaction first touched it.
    pub before: Option<Row>,
    /// The row as the transaction leaves it (None: deleted).
    pub after: Option<Row>,
}

#[derive(Clone)]
pub struct TableWrites {
    pub table: Arc<Table>,
    pub rows: BTreeMap<Vec<u8>, Pending>,
}

/// State shared with the certifier so a conflicting remote write-set can
/// doom this transaction (BF abort). Keys are [`RowKey`]s of the rows
/// written or locked.
#[derive(Default)]
pub struct TxnShared {
    pub doomed: AtomicBool,
    keys: parking_lot::Mutex<std::collections::HashSet<Vec<u8>>>,
    /// One bit per key ([`RowKey::bit`]): most open transactions share no
    /// bit with a certified write-set, and the certification thread passes
    /// them with one load instead of a lock and a hash lookup per key.
    bits: AtomicU64,
}

/// A row as (qualified table, primary key) in one byte string, with its
/// filter bit: the certification thread builds it once per key of a
/// write-set and checks every open transaction against it.
pub struct RowKey {
    bytes: Vec<u8>,
    bit: u64,
}

pub fn row_key(table: &str, pk: &[u8]) -> RowKey {
    use std::hash::{Hash, Hasher};
    let mut bytes = Vec::with_capacity(4 + table.len() + pk.len());
    bytes.extend_from_slice(&(table.len() as u32).to_le_bytes());
    bytes.extend_from_slice(table.as_bytes());
    bytes.extend_from_slice(pk);
    // Any fixed hash will do: the bit is only a filter in this process.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    RowKey {
        bit: 1 << (h.finish() % 64),
        bytes,
    }
}

impl TxnShared {
    /// Whether this transaction wrote or locked the row of `key`.
    pub fn touches(&self, key: &RowKey) -> bool {
        self.bits.load(Ordering::Acquire) & key.bit != 0 && self.keys.lock().contains(&key.bytes)
    }

    pub fn has_keys(&self) -> bool {
        !self.keys.lock().is_empty()
    }

    /// Records a row this transaction wrote or locked.
    pub fn add(&self, table: &str, pk: &[u8]) {
        let k = row_key(table, pk);
        let mut keys = self.keys.lock();
        self.bits.fetch_or(k.bit, Ordering::AcqRel);
        keys.insert(k.bytes);
    }

    fn clear(&self) {
        let mut keys = self.keys.lock();
        keys.clear();
        self.bits.store(0, Ordering::Release);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LockKind {
    Share,
    /// A child row's reference to its parent row (foreign keys): conflicts
    /// with a concurrent delete or key change of the parent.
    Reference,
    Update,
}

type Buffer = BTreeMap<String, TableWrites>;
/// (qualified table, primary key) of a locking read.
pub type LockKey = (String, Vec<u8>);
type Locks = BTreeMap<LockKey, LockKind>;

pub struct Txn {
    pub id: u64,
    pub snapshot: SnapshotGuard,
    pub read_only: bool,
    /// Started by BEGIN (as opposed to an autocommit statement).
    pub explicit: bool,
    writes: Buffer,
    locks: Locks,
    savepoints: Vec<(String, Buffer, Locks)>,
    pub shared: Arc<TxnShared>,
    /// While a statement runs: each row it touched with the pending state it
    /// had before, and the locks it added, so a failing statement is undone
    /// without touching the rest of the transaction.
    stmt_undo: Option<StmtUndo>,
}

#[derive(Default)]
struct StmtUndo {
    seen: std::collections::HashSet<(String, Vec<u8>)>,
    rows: Vec<(String, Vec<u8>, Option<Pending>)>,
    locks: Vec<(LockKey, Option<LockKind>)>,
}

impl Txn {
    pub fn new(id: u64, snapshot: SnapshotGuard, explicit: bool, read_only: bool) -> Txn {
        Txn {
            id,
            snapshot,
            read_only,
            explicit,
            writes: BTreeMap::new(),
            locks: BTreeMap::new(),
            savepoints: Vec::new(),
            shared: Arc::new(TxnShared::default()),
            stmt_undo: None,
        }
    }

    /// Marks the start of a statement (statements are atomic).
    pub fn begin_statement(&mut self) {
        self.stmt_undo = Some(StmtUndo::default());
    }

    /// Keeps what the statement did.
    pub fn end_statement(&mut self) {
        self.stmt_undo = None;
    }

    /// Undoes everything the current statement did.
    pub fn rollback_statement(&mut self) {
        let Some(undo) = self.stmt_undo.take() else {
            return;
        };
        for (table, pk, prev) in undo.rows.into_iter().rev() {
            if let Some(tw) = self.writes.get_mut(&table) {
                match prev {
                    Some(p) => {
                        tw.rows.insert(pk, p);
                    }
                    None => {
                        tw.rows.remove(&pk);
                    }
                }
            }
        }
        for (key, prev) in undo.locks.into_iter().rev() {
            match prev {
                Some(k) => {
                    self.locks.insert(key, k);
                }
                None => {
                    self.locks.remove(&key);
                }
            }
        }
    }

    pub fn snapshot_seqno(&self) -> u64 {
        self.snapshot.seqno
    }

    /// Fails with ER_LOCK_DEADLOCK once a conflicting write-set was certified
    /// while this transaction was open.
    pub fn check_doomed(&self) -> StorageResult<()> {
        if self.shared.doomed.load(Ordering::Acquire) {
            return Err(StorageError::Conflict);
        }
        Ok(())
    }

    pub fn has_writes(&self) -> bool {
        self.writes.values().any(|t| !t.rows.is_empty()) || !self.locks.is_empty()
    }

    /// Refuses to read a table whose definition changed after the snapshot.
    pub fn check_table_version(&self, table: &Table) -> StorageResult<()> {
        if table.def.version > self.snapshot.seqno {
            return Err(StorageError::TableDefChanged);
        }
        Ok(())
    }

    /// The row with primary key `pk` as this transaction sees it.
    pub fn get(&self, table: &Table, pk: &[u8]) -> StorageResult<Option<Row>> {
        if let Some(p) = self
            .writes
            .get(&table.txn_key())
            .and_then(|t| t.rows.get(pk))
        {
            return Ok(p.after.clone());
        }
        table.get(pk, self.snapshot.seqno)
    }

    /// Rows this transaction has written in `table` (for overlaying scans).
    pub fn pending(&self, table: &Table) -> Option<&BTreeMap<Vec<u8>, Pending>> {
        self.writes.get(&table.txn_key()).map(|t| &t.rows)
    }

    /// Records a write of row `pk`: `after` None deletes it.
    pub fn put(
        &mut self,
        table: &Arc<Table>,
        pk: Vec<u8>,
        after: Option<Row>,
    ) -> StorageResult<()> {
        let name = table.txn_key();
        // Nobody else can write a TEMPORARY table: nothing to abort for.
        if !table.is_temporary() {
            self.shared.add(&name, &pk);
        }
        let snapshot = self.snapshot.seqno;
        let tw = self
            .writes
            .entry(name.clone())
            .or_insert_with(|| TableWrites {
                table: table.clone(),
                rows: BTreeMap::new(),
            });
        if let Some(undo) = &mut self.stmt_undo {
            if undo.seen.insert((name.clone(), pk.clone())) {
                undo.rows
                    .push((name, pk.clone(), tw.rows.get(&pk).cloned()));
            }
        }
        match tw.rows.get_mut(&pk) {
            Some(p) => p.after = after,
            None => {
                let before = table.get(&pk, snapshot)?;
                tw.rows.insert(pk, Pending { before, after });
            }
        }
        Ok(())
    }

    /// Records a locking read (FOR SHARE / FOR UPDATE) of row `pk`.
    pub fn lock(&mut self, table: &Table, pk: &[u8], kind: LockKind) {
        if table.is_temporary() {
            return;
        }
        let name = table.def.qualified();
        if kind == LockKind::Update {
            self.shared.add(&name, pk);
        }
        let key = (name, pk.to_vec());
        if let Some(undo) = &mut self.stmt_undo {
            undo.locks
                .push((key.clone(), self.locks.get(&key).copied()));
        }
        let e = self.locks.entry(key).or_insert(kind);
        *e = (*e).max(kind);
    }

    pub fn savepoint(&mut self, name: &str) {
        self.savepoints
            .retain(|(n, _, _)| !n.eq_ignore_ascii_case(name));
        self.savepoints
            .push((name.to_string(), self.writes.clone(), self.locks.clone()));
    }

    pub fn rollback_to(&mut self, name: &str) -> StorageResult<()> {
        let pos = self
            .savepoints
            .iter()
            .rposition(|(n, _, _)| n.eq_ignore_ascii_case(name))
            .ok_or_else(|| StorageError::NoSuchSavepoint(name.to_string()))?;
        self.savepoints.truncate(pos + 1);
        let (_, w, l) = self.savepoints[pos].clone();
        self.writes = w;
        self.locks = l;
        // Keys registered for BF abort stay registered: a transaction that
        // rolled a write back may still be doomed by it, which only costs a
        // retry, never correctness.
        Ok(())
    }

    pub fn release_savepoint(&mut self, name: &str) -> StorageResult<()> {
        let pos = self
            .savepoints
            .iter()
            .rposition(|(n, _, _)| n.eq_ignore_ascii_case(name))
            .ok_or_else(|| StorageError::NoSuchSavepoint(name.to_string()))?;
        self.savepoints.truncate(pos);
        Ok(())
    }

    /// Stops BF-abort tracking (the write-set is about to be ordered and
    /// certification decides from here on).
    pub fn detach(&self) {
        self.shared.clear();
    }

    /// The rows this transaction changed, by qualified table name.
    pub fn writes(&self) -> impl Iterator<Item = (&String, &TableWrites)> {
        self.writes.iter()
    }

    /// The rows it read with FOR UPDATE / FOR SHARE: (qualified table,
    /// primary key) and the lock taken.
    pub fn locks(&self) -> impl Iterator<Item = (&LockKey, &LockKind)> {
        self.locks.iter()
    }
}
