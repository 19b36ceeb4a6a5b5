//! One table: its definition, its rows in one of two row stores, and the
//! counters (AUTO_INCREMENT, hidden row ids) that live beside the rows.
//!
//! The row store is chosen per store ([`Engine`]): in memory ([`mem`], lock-free
//! skip lists of version chains) or on disk ([`crate::lsm`], fjall). Both keep
//! the same model and answer every read identically (the proptest in
//! `tests/engines_agree.rs` checks it): versions stamped with seqnos, a reader
//! at snapshot `s` sees per row the newest version with seqno <= s, index
//! entries `index key ++ primary key` that may be stale and are re-checked
//! against the row.
//!
//! Reads return `StorageResult` because the on-disk store can fail; the
//! in-memory one never does.

pub mod mem;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::catalog::TableDef;
use crate::error::{StorageError, StorageResult};
use crate::keycode;
use crate::lsm::{LsmBatch, LsmEngine, LsmTable, Prior};
use crate::value::Value;
use mem::MemRows;
pub use mem::{Chain, Version};

/// A row's column values, immutable once installed.
pub type Row = Arc<[Value]>;

/// Process-wide read counters, reported as MySQL's `Handler_read_key`
/// (point lookups by key), `Handler_read_next` (rows read by key-range and
/// index scans) and `Handler_read_rnd_next` (rows read by full scans).
pub mod counters {
    use std::sync::atomic::AtomicU64;
    pub static READ_KEY: AtomicU64 = AtomicU64::new(0);
    pub static READ_NEXT: AtomicU64 = AtomicU64::new(0);
    pub static READ_RND_NEXT: AtomicU64 = AtomicU64::new(0);
}

/// Rows per engine batch when a DDL copies a table.
const REBUILD_BATCH: usize = 4096;

/// Where a store keeps the rows of the tables it creates.
#[derive(Clone, Default)]
pub enum Engine {
    #[default]
    Memory,
    Lsm(Arc<LsmEngine>),
}

enum Rows {
    Memory(Box<MemRows>),
    Lsm(LsmTable),
}

pub struct Table {
    pub def: TableDef,
    rows: Rows,
    /// The largest AUTO_INCREMENT value ever stored in this table.
    auto_inc_max: AtomicU64,
    /// Hidden row ids handed out by this node (tables without a primary key).
    hidden_next: AtomicU64,
    /// A session's TEMPORARY table: never in the catalog, never replicated.
    temporary: bool,
}

/// The row versions of one applied write-set, on their way to the engine.
/// In memory they are installed as they are added; on disk they land in one
/// atomic engine batch at [`ApplyBatch::commit`], with the horizon.
#[derive(Default)]
pub struct ApplyBatch {
    lsm: Option<(Arc<LsmEngine>, LsmBatch)>,
}

impl ApplyBatch {
    pub fn new() -> ApplyBatch {
        ApplyBatch::default()
    }

    /// Commits what was added; `horizon`, when given, is stored with it
    /// (moving forward only). A no-op for the in-memory engine.
    pub fn commit(self, horizon: Option<u64>) -> StorageResult<()> {
        match self.lsm {
            Some((engine, batch)) => engine.commit(batch, horizon),
            None => Ok(()),
        }
    }
}

impl Table {
    /// An empty in-memory table.
    pub fn new(def: TableDef) -> Table {
        let rows = Rows::Memory(Box::new(MemRows::new(&def)));
        Table::with_rows(def, rows)
    }

    /// An empty table in `engine`.
    pub fn create(def: TableDef, engine: &Engine) -> StorageResult<Table> {
        let rows = match engine {
            Engine::Memory => Rows::Memory(Box::new(MemRows::new(&def))),
            Engine::Lsm(e) => Rows::Lsm(LsmTable::create(e)?),
        };
        Ok(Table::with_rows(def, rows))
    }

    /// A table stored under `id` in an on-disk engine (after a reopen).
    pub fn attach(def: TableDef, engine: &Arc<LsmEngine>, id: u64) -> Table {
        Table::with_rows(def, Rows::Lsm(LsmTable::attach(engine, id)))
    }

    fn with_rows(def: TableDef, rows: Rows) -> Table {
        Table {
            def,
            rows,
            auto_inc_max: AtomicU64::new(0),
            hidden_next: AtomicU64::new(1),
            temporary: false,
        }
    }

    /// An empty TEMPORARY table: in memory, owned by one session.
    pub fn new_temporary(def: TableDef) -> Table {
        Table {
            temporary: true,
            ..Table::new(def)
        }
    }

    pub fn is_temporary(&self) -> bool {
        self.temporary
    }

    /// The name a transaction's buffer knows this table by: a TEMPORARY
    /// table may shadow a table of the same name, and must not share its
    /// pending rows.
    pub fn txn_key(&self) -> String {
        if self.temporary {
            format!("#temporary#{}", self.def.qualified())
        } else {
            self.def.qualified()
        }
    }

    /// The engine this table's rows live in.
    pub fn engine(&self) -> Engine {
        match &self.rows {
            Rows::Memory(_) => Engine::Memory,
            Rows::Lsm(t) => Engine::Lsm(t.engine().clone()),
        }
    }

    /// The on-disk table id, if the rows are on disk.
    pub fn lsm_id(&self) -> Option<u64> {
        match &self.rows {
            Rows::Memory(_) => None,
            Rows::Lsm(t) => Some(t.id()),
        }
    }

    /// An empty table with definition `def` in the same engine as this one
    /// (TRUNCATE, table copies).
    pub fn empty_like(&self, def: TableDef) -> StorageResult<Table> {
        Table::create(def, &self.engine())
    }

    /// Installs one row version on its own (DDL copies, loads). `row` None
    /// is a delete.
    pub fn install(&self, pk: &[u8], seqno: u64, row: Option<Row>) -> StorageResult<()> {
        let mut b = ApplyBatch::new();
        self.install_into(&mut b, pk, seqno, row);
        b.commit(None)
    }

    /// Adds one row version to `batch` (the applier's operation). In memory,
    /// versions of one row must arrive in seqno order (the appliers'
    /// dependency order guarantees it); on disk any order is fine.
    pub fn install_into(&self, batch: &mut ApplyBatch, pk: &[u8], seqno: u64, row: Option<Row>) {
        self.install_with(batch, pk, seqno, row, Prior::Maybe)
    }

    /// [`Table::install_into`] for a row that has no version yet (an
    /// INSERT that certified): on disk, nothing for garbage collection.
    pub fn install_new_into(&self, batch: &mut ApplyBatch, pk: &[u8], seqno: u64, row: Row) {
        self.install_with(batch, pk, seqno, Some(row), Prior::Absent)
    }

    fn install_with(
        &self,
        batch: &mut ApplyBatch,
        pk: &[u8],
        seqno: u64,
        row: Option<Row>,
        prior: Prior,
    ) {
        let auto = row.as_deref().map_or(0, |r| self.auto_inc_value(r));
        self.auto_inc_max.fetch_max(auto, Ordering::Relaxed);
        match &self.rows {
            Rows::Memory(m) => m.install(&self.def, pk, seqno, row),
            Rows::Lsm(t) => {
                let (_, b) = batch
                    .lsm
                    .get_or_insert_with(|| (t.engine().clone(), t.engine().batch()));
                // The high-water lands with the row, so a restart from the
                // engine never hands out a value a stored row already has.
                if auto > 0 {
                    b.note_auto_inc(t.id(), auto);
                }
                t.install_into(&self.def, b, pk, seqno, row.as_deref(), prior);
            }
        }
    }

    /// The AUTO_INCREMENT value a row carries (0 if none or not positive).
    fn auto_inc_value(&self, row: &[Value]) -> u64 {
        match self.def.auto_increment_column().and_then(|c| row.get(c)) {
            Some(Value::Int(i)) if *i > 0 => *i as u64,
            Some(Value::UInt(u)) => *u,
            _ => 0,
        }
    }

    pub fn auto_inc_max(&self) -> u64 {
        self.auto_inc_max.load(Ordering::Relaxed)
    }

    /// Reserves the next AUTO_INCREMENT value congruent to `offset` modulo
    /// `increment` (Galera's auto_increment_control), above every value seen.
    pub fn next_auto_inc(&self, increment: u64, offset: u64) -> u64 {
        let increment = increment.max(1);
        let offset = offset.clamp(1, increment);
        let mut cur = self.auto_inc_max.load(Ordering::Relaxed);
        loop {
            // Smallest v > cur with v % increment == offset % increment.
            let base = cur / increment * increment + offset;
            let v = if base > cur { base } else { base + increment };
            match self
                .auto_inc_max
                .compare_exchange(cur, v, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return v,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Makes sure later automatic values are above `v` (an explicit insert).
    pub fn bump_auto_inc(&self, v: u64) {
        self.auto_inc_max.fetch_max(v, Ordering::Relaxed);
    }

    /// A fresh hidden row key for a table without a primary key: the node id
    /// in the high bits keeps keys from different nodes apart.
    pub fn next_hidden_key(&self, node_id: u64) -> Vec<u8> {
        let n = self.hidden_next.fetch_add(1, Ordering::Relaxed);
        let id = (node_id << 48) | (n & ((1 << 48) - 1));
        keycode::encode_key([&Value::UInt(id)])
    }

    /// Raises the hidden-id counter past keys already present (after a load).
    pub fn reseed_hidden(&self, node_id: u64) -> StorageResult<()> {
        let mut max = 0u64;
        let mut note = |key: &[u8]| {
            if let Some(bytes) = key.get(1..9) {
                let mut b = [0u8; 8];
                b.copy_from_slice(bytes);
                let id = u64::from_be_bytes(b);
                if id >> 48 == node_id {
                    max = max.max(id & ((1 << 48) - 1));
                }
            }
        };
        match &self.rows {
            Rows::Memory(m) => m.keys().for_each(|k| note(&k)),
            Rows::Lsm(t) => t.for_each_key(note)?,
        }
        self.hidden_next.fetch_max(max + 1, Ordering::Relaxed);
        Ok(())
    }

    /// The row visible at `snapshot`.
    pub fn get(&self, pk: &[u8], snapshot: u64) -> StorageResult<Option<Row>> {
        counters::READ_KEY.fetch_add(1, Ordering::Relaxed);
        match &self.rows {
            Rows::Memory(m) => Ok(m.get(pk, snapshot)),
            Rows::Lsm(t) => t.get(pk, snapshot),
        }
    }

    /// Seqno of the newest installed version of a row (0 if none).
    pub fn latest_seqno(&self, pk: &[u8]) -> StorageResult<u64> {
        match &self.rows {
            Rows::Memory(m) => Ok(m.latest_seqno(pk)),
            Rows::Lsm(t) => t.latest_seqno(pk),
        }
    }

    /// Visits rows visible at `snapshot` with primary key in `[lo, hi)` in key
    /// order; `visit` returns false to stop.
    pub fn scan(
        &self,
        lo: Option<&[u8]>,
        hi: Option<&[u8]>,
        snapshot: u64,
        visit: impl FnMut(&[u8], Row) -> bool,
    ) -> StorageResult<()> {
        let counter = if lo.is_none() && hi.is_none() {
            &counters::READ_RND_NEXT
        } else {
            &counters::READ_NEXT
        };
        let on_entry = || {
            counter.fetch_add(1, Ordering::Relaxed);
        };
        match &self.rows {
            Rows::Memory(m) => {
                m.scan(lo, hi, snapshot, on_entry, visit);
                Ok(())
            }
            Rows::Lsm(t) => t.scan(lo, hi, snapshot, on_entry, visit),
        }
    }

    /// Raw index entries in `[lo, hi)`, in order; `each` returns false to stop.
    fn index_entries(
        &self,
        index: usize,
        lo: Option<&[u8]>,
        hi: Option<&[u8]>,
        mut each: impl FnMut(&[u8]) -> StorageResult<bool>,
    ) -> StorageResult<()> {
        match &self.rows {
            Rows::Memory(m) => {
                let mut err = None;
                m.index_entries(index, lo, hi, |e| match each(e) {
                    Ok(go) => go,
                    Err(x) => {
                        err = Some(x);
                        false
                    }
                });
                err.map_or(Ok(()), Err)
            }
            Rows::Lsm(t) => t.index_entries(index, lo, hi, each),
        }
    }

    /// Visits rows visible at `snapshot` whose index `index` key lies in
    /// `[lo, hi)` (bounds on the index part), in index order.
    pub fn index_scan(
        &self,
        index: usize,
        lo: Option<&[u8]>,
        hi: Option<&[u8]>,
        snapshot: u64,
        mut visit: impl FnMut(&[u8], Row) -> bool,
    ) -> StorageResult<()> {
        let def = &self.def.indexes[index];
        let widths = self.def.index_widths(def);
        self.index_entries(index, lo, hi, |entry| {
            counters::READ_NEXT.fetch_add(1, Ordering::Relaxed);
            let Some(split) = keycode::components_len(entry, def.columns.len(), &widths) else {
                return Ok(true);
            };
            let (ikey, pk) = entry.split_at(split);
            let Some(row) = self.get(pk, snapshot)? else {
                return Ok(true);
            };
            // Skip entries left behind by an older version.
            if self.def.index_key_of(def, &row) != ikey {
                return Ok(true);
            }
            Ok(visit(pk, row))
        })
    }

    /// Primary keys of rows whose index key equals `ikey` in the newest
    /// installed version or at `snapshot` (for unique checks).
    pub fn index_candidates(&self, index: usize, ikey: &[u8]) -> StorageResult<Vec<Vec<u8>>> {
        let hi = keycode::prefix_successor(ikey);
        let def = &self.def.indexes[index];
        let widths = self.def.index_widths(def);
        let mut out = Vec::new();
        self.index_entries(index, Some(ikey), hi.as_deref(), |entry| {
            if let Some(split) = keycode::components_len(entry, def.columns.len(), &widths) {
                if &entry[..split] == ikey {
                    out.push(entry[split..].to_vec());
                }
            }
            Ok(true)
        })?;
        Ok(out)
    }

    /// Number of row entries (including ones deleted but not yet collected).
    /// On disk this is a full scan, and a read error counts as empty (it is
    /// a statistic; the next read of the rows reports the error).
    pub fn entry_count(&self) -> usize {
        match &self.rows {
            Rows::Memory(m) => m.entry_count(),
            Rows::Lsm(t) => t.entry_count().unwrap_or_else(|e| {
                tracing::warn!(table = %self.def.qualified(), error = %e, "counting rows");
                0
            }),
        }
    }

    /// Rows waiting for a GC pass.
    pub fn gc_backlog(&self) -> usize {
        match &self.rows {
            Rows::Memory(m) => m.dirty_len(),
            Rows::Lsm(t) => t.gc_backlog(),
        }
    }

    /// Drops versions no snapshot at or above `oldest` can see, removes rows
    /// that are only an old delete, and index entries no retained version
    /// uses. Returns the number of versions dropped.
    pub fn collect_garbage(&self, oldest: u64) -> StorageResult<usize> {
        match &self.rows {
            Rows::Memory(m) => Ok(m.collect_garbage(&self.def, oldest)),
            Rows::Lsm(t) => t.collect_garbage(&self.def, oldest),
        }
    }

    /// Copies the rows visible at `snapshot` into a new table (same engine)
    /// with definition `def`, converting each row with `convert`, stamped
    /// with `seqno` (DDL that rewrites a table).
    pub fn rebuild<E: From<StorageError>>(
        &self,
        def: TableDef,
        snapshot: u64,
        seqno: u64,
        convert: impl FnMut(&[Value]) -> Result<Vec<Value>, E>,
    ) -> Result<Table, E> {
        self.rebuild_in(&self.engine(), def, snapshot, seqno, convert)
    }

    /// A copy of the rows visible at `snapshot` in `engine`, stamped with
    /// `seqno` (a checkpoint loaded into an on-disk store).
    pub fn copy_to(&self, engine: &Engine, snapshot: u64, seqno: u64) -> StorageResult<Table> {
        self.rebuild_in(engine, self.def.clone(), snapshot, seqno, |r| {
            Ok::<_, StorageError>(r.to_vec())
        })
    }

    fn rebuild_in<E: From<StorageError>>(
        &self,
        engine: &Engine,
        def: TableDef,
        snapshot: u64,
        seqno: u64,
        mut convert: impl FnMut(&[Value]) -> Result<Vec<Value>, E>,
    ) -> Result<Table, E> {
        let t = Table::create(def, engine)?;
        let mut err = None;
        let hidden = t.def.primary.is_none();
        let mut batch = ApplyBatch::new();
        let mut pending = 0;
        self.scan(None, None, snapshot, |pk, row| match convert(&row) {
            Ok(new_row) => {
                let key = if hidden {
                    pk.to_vec()
                } else {
                    t.def.pk_of(&new_row).unwrap_or_else(|| pk.to_vec())
                };
                t.install_into(&mut batch, &key, seqno, Some(new_row.into()));
                pending += 1;
                // Bounded batches: a copy of a large table must not sit in
                // memory whole. Nothing reads the new table until the DDL
                // publishes it, so the copy needs no single atomic batch.
                if pending == REBUILD_BATCH {
                    pending = 0;
                    if let Err(e) = std::mem::take(&mut batch).commit(None) {
                        err = Some(e.into());
                        return false;
                    }
                }
                true
            }
            Err(e) => {
                err = Some(e);
                false
            }
        })?;
        if let Some(e) = err {
            return Err(e);
        }
        batch.commit(None)?;
        t.auto_inc_max
            .fetch_max(self.auto_inc_max(), Ordering::Relaxed);
        t.hidden_next
            .fetch_max(self.hidden_next.load(Ordering::Relaxed), Ordering::Relaxed);
        Ok(t)
    }

    /// Rows visible at `snapshot`, with their keys (checkpoints).
    pub fn rows_at(&self, snapshot: u64) -> StorageResult<Vec<(Vec<u8>, Row)>> {
        let mut out = Vec::new();
        self.scan(None, None, snapshot, |pk, row| {
            out.push((pk.to_vec(), row));
            true
        })?;
        Ok(out)
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{ColumnDef, IndexDef};
    use crate::types::{IntWidth, SqlType};

    fn def() -> TableDef {
        let int = SqlType::Int {
            width: IntWidth::Int,
            unsigned: false,
        };
        TableDef {
            db: "d".into(),
            name: "t".into(),
            columns: vec![ColumnDef::new("id", int.clone()), ColumnDef::new("k", int)],
            primary: Some(vec![0]),
            indexes: vec![IndexDef {
                name: "k".into(),
                columns: vec![1],
                unique: false,
                id: 1,
            }],
            next_index_id: 2,
            engine: "InnoDB".into(),
            collation: crate::collation::Collation::default(),
            comment: String::new(),
            version: 0,
            foreign_keys: Vec::new(),
            checks: Vec::new(),
        }
    }

    fn row(id: i64, k: i64) -> Row {
        vec![Value::Int(id), Value::Int(k)].into()
    }

    fn pk(id: i64) -> Vec<u8> {
        keycode::encode_key([&Value::Int(id)])
    }

    fn index_rows(t: &Table, k: i64, snap: u64) -> Vec<i64> {
        let ik = keycode::encode_key([&Value::Int(k)]);
        let hi = keycode::prefix_successor(&ik);
        let mut out = vec![];
        t.index_scan(0, Some(&ik), hi.as_deref(), snap, |_, r| {
            out.push(r[0].to_i64().unwrap());
            true
        })
        .unwrap();
        out
    }

    #[test]
    fn snapshots_see_their_versions() {
        let t = Table::new(def());
        t.install(&pk(1), 5, Some(row(1, 10))).unwrap();
        t.install(&pk(1), 9, Some(row(1, 20))).unwrap();
        t.install(&pk(1), 12, None).unwrap();
        assert!(t.get(&pk(1), 4).unwrap().is_none());
        assert_eq!(t.get(&pk(1), 8).unwrap().unwrap()[1].to_i64(), Some(10));
        assert_eq!(t.get(&pk(1), 11).unwrap().unwrap()[1].to_i64(), Some(20));
        assert!(t.get(&pk(1), 12).unwrap().is_none());
        // The index follows the snapshot, ignoring stale entries.
        assert_eq!(index_rows(&t, 10, 8), vec![1]);
        assert_eq!(index_rows(&t, 10, 10), Vec::<i64>::new());
        assert_eq!(index_rows(&t, 20, 10), vec![1]);
    }

    #[test]
    fn gc_keeps_what_snapshots_need() {
        let t = Table::new(def());
        t.install(&pk(1), 5, Some(row(1, 10))).unwrap();
        t.install(&pk(1), 9, Some(row(1, 20))).unwrap();
        t.install(&pk(1), 12, None).unwrap();
        t.install(&pk(2), 6, Some(row(2, 30))).unwrap();
        assert_eq!(t.collect_garbage(10).unwrap(), 1);
        assert_eq!(t.get(&pk(1), 10).unwrap().unwrap()[1].to_i64(), Some(20));
        assert_eq!(index_rows(&t, 10, 100), Vec::<i64>::new());
        assert_eq!(t.collect_garbage(12).unwrap(), 2);
        assert_eq!(t.latest_seqno(&pk(1)).unwrap(), 0);
        assert_eq!(t.entry_count(), 1);
        assert_eq!(index_rows(&t, 20, 100), Vec::<i64>::new());
        // A row re-inserted after collection gets a fresh chain.
        t.install(&pk(1), 20, Some(row(1, 40))).unwrap();
        assert_eq!(index_rows(&t, 40, 20), vec![1]);
    }

    #[test]
    fn gc_visits_only_rows_written_since() {
        let t = Table::new(def());
        for id in 0..100 {
            t.install(&pk(id), 1, Some(row(id, id))).unwrap();
        }
        // One live version each: nothing for GC to look at.
        assert_eq!(t.gc_backlog(), 0);
        assert_eq!(t.collect_garbage(1).unwrap(), 0);
        t.install(&pk(7), 5, Some(row(7, 70))).unwrap();
        t.install(&pk(7), 6, Some(row(7, 71))).unwrap();
        assert_eq!(t.gc_backlog(), 1, "a row is queued once");
        // A snapshot at 5 still reads version 5: it stays, and so does the
        // row's place in the queue.
        assert_eq!(t.collect_garbage(5).unwrap(), 1);
        assert_eq!(t.gc_backlog(), 1);
        assert_eq!(t.get(&pk(7), 5).unwrap().unwrap()[1].to_i64(), Some(70));
        assert_eq!(t.collect_garbage(6).unwrap(), 1);
        assert_eq!(t.gc_backlog(), 0);
        assert_eq!(t.get(&pk(7), 6).unwrap().unwrap()[1].to_i64(), Some(71));
        // A delete queues the row until its marker can go.
        t.install(&pk(8), 7, None).unwrap();
        assert_eq!(t.gc_backlog(), 1);
        assert_eq!(t.collect_garbage(6).unwrap(), 0);
        assert_eq!(t.collect_garbage(7).unwrap(), 2);
        assert_eq!(t.entry_count(), 99);
        assert_eq!(t.gc_backlog(), 0);
    }

    #[test]
    fn auto_increment_respects_offset_and_increment() {
        let t = Table::new(def());
        assert_eq!(t.next_auto_inc(3, 2), 2);
        assert_eq!(t.next_auto_inc(3, 2), 5);
        t.bump_auto_inc(10);
        assert_eq!(t.next_auto_inc(3, 2), 11);
        assert_eq!(t.next_auto_inc(1, 1), 12);
    }
}
