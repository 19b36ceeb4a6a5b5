//! One table's rows: an ordered, lock-free map from encoded primary key to a
//! version chain, plus one ordered set per secondary index.
//!
//! # Invariants
//!
//! 1. A chain's versions are in ascending seqno order. Appliers keep this
//!    because two write-sets that touch the same row are ordered by
//!    `depends_seqno`, so they never install versions of one row concurrently
//!    and the later one always installs last.
//! 2. A reader at snapshot `s` sees the newest version with seqno <= s. Since
//!    `s` is at most the horizon, every version it can see is complete.
//! 3. Every version's index keys have an entry `index key ++ primary key` in
//!    that index. Entries may be stale (the row moved on); readers re-check a
//!    candidate row against the index key, so a stale entry is harmless.
//!    GC removes an entry only when no retained version still has that key.
//! 4. A chain is removed from the map only by GC, under its write lock, after
//!    marking it dead; an applier that finds a dead chain retries with a
//!    fresh one. So no installed version is ever lost to GC.
//!
//! # Example
//!
//! Row `k` inserted at seqno 5, updated at 9, deleted at 12:
//!
//! ```text
//!   chain(k) = [ (5, r1), (9, r2), (12, deleted) ]
//!   snapshot 4 -> absent, 5..=8 -> r1, 9..=11 -> r2, >= 12 -> absent
//! ```
//!
//! With the oldest live snapshot at 10, GC keeps `(9, r2)` and `(12, -)`.
//! Once the oldest snapshot passes 12, the chain is removed entirely.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam_skiplist::SkipMap;
use parking_lot::RwLock;

use crate::catalog::TableDef;
use crate::keycode;
use crate::value::Value;

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

#[derive(Clone, Debug)]
pub struct Version {
    pub seqno: u64,
    /// None marks a delete.
    pub row: Option<Row>,
}

#[derive(Default)]
struct ChainInner {
    versions: Vec<Version>,
    dead: bool,
}

/// The versions of one row.
#[derive(Default)]
pub struct Chain {
    inner: RwLock<ChainInner>,
}

impl Chain {
    /// The newest version visible at `snapshot`.
    pub fn visible(&self, snapshot: u64) -> Option<Row> {
        let g = self.inner.read();
        g.versions
            .iter()
            .rev()
            .find(|v| v.seqno <= snapshot)
            .and_then(|v| v.row.clone())
    }

    /// The newest installed version, whatever its seqno.
    pub fn latest(&self) -> Option<Version> {
        self.inner.read().versions.last().cloned()
    }
}

pub struct Table {
    pub def: TableDef,
    rows: SkipMap<Vec<u8>, Arc<Chain>>,
    /// One set per `def.indexes` entry: `index key ++ primary key`.
    indexes: Vec<SkipMap<Vec<u8>, ()>>,
    /// The largest AUTO_INCREMENT value ever stored in this table.
    auto_inc_max: AtomicU64,
    /// Hidden row ids handed out by this node (tables without a primary key).
    hidden_next: AtomicU64,
}

impl Table {
    pub fn new(def: TableDef) -> Table {
        let indexes = def.indexes.iter().map(|_| SkipMap::new()).collect();
        Table {
            def,
            rows: SkipMap::new(),
            indexes,
            auto_inc_max: AtomicU64::new(0),
            hidden_next: AtomicU64::new(1),
        }
    }

    /// Installs one row version (the applier's operation). `row` None is a
    /// delete. Invariant 1 is the caller's: versions of one row arrive in
    /// seqno order.
    pub fn install(&self, pk: &[u8], seqno: u64, row: Option<Row>) {
        loop {
            let entry = self
                .rows
                .get_or_insert_with(pk.to_vec(), || Arc::new(Chain::default()));
            let chain = entry.value().clone();
            let mut g = chain.inner.write();
            if g.dead {
                // GC is removing this chain; wait for it to go and retry.
                drop(g);
                std::thread::yield_now();
                continue;
            }
            if let Some(r) = &row {
                for (i, idx) in self.def.indexes.iter().enumerate() {
                    let mut key = self.def.index_key_of(idx, r);
                    key.extend_from_slice(pk);
                    self.indexes[i].insert(key, ());
                }
                self.note_auto_inc(r);
            }
            g.versions.push(Version { seqno, row });
            return;
        }
    }

    fn note_auto_inc(&self, row: &[Value]) {
        if let Some(c) = self.def.auto_increment_column() {
            let v = match &row[c] {
                Value::Int(i) if *i > 0 => *i as u64,
                Value::UInt(u) => *u,
                _ => 0,
            };
            self.auto_inc_max.fetch_max(v, Ordering::Relaxed);
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
    pub fn reseed_hidden(&self, node_id: u64) {
        let mut max = 0u64;
        for e in self.rows.iter() {
            if let Some(bytes) = e.key().get(1..9) {
                let mut b = [0u8; 8];
                b.copy_from_slice(bytes);
                let id = u64::from_be_bytes(b);
                if id >> 48 == node_id {
                    max = max.max(id & ((1 << 48) - 1));
                }
            }
        }
        self.hidden_next.fetch_max(max + 1, Ordering::Relaxed);
    }

    pub fn chain(&self, pk: &[u8]) -> Option<Arc<Chain>> {
        self.rows.get(pk).map(|e| e.value().clone())
    }

    /// The row visible at `snapshot`.
    pub fn get(&self, pk: &[u8], snapshot: u64) -> Option<Row> {
        counters::READ_KEY.fetch_add(1, Ordering::Relaxed);
        self.chain(pk).and_then(|c| c.visible(snapshot))
    }

    /// Seqno of the newest installed version of a row (0 if none).
    pub fn latest_seqno(&self, pk: &[u8]) -> u64 {
        self.chain(pk)
            .and_then(|c| c.latest())
            .map_or(0, |v| v.seqno)
    }

    /// Visits rows visible at `snapshot` with primary key in `[lo, hi)` in key
    /// order; `visit` returns false to stop.
    pub fn scan(
        &self,
        lo: Option<&[u8]>,
        hi: Option<&[u8]>,
        snapshot: u64,
        mut visit: impl FnMut(&[u8], Row) -> bool,
    ) {
        use std::ops::Bound;
        let counter = if lo.is_none() && hi.is_none() {
            &counters::READ_RND_NEXT
        } else {
            &counters::READ_NEXT
        };
        let lo_b = lo.map_or(Bound::Unbounded, |l| Bound::Included(l.to_vec()));
        let hi_b = hi.map_or(Bound::Unbounded, |h| Bound::Excluded(h.to_vec()));
        for e in self.rows.range((lo_b, hi_b)) {
            counter.fetch_add(1, Ordering::Relaxed);
            if let Some(row) = e.value().visible(snapshot) {
                if !visit(e.key(), row) {
                    return;
                }
            }
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
    ) {
        use std::ops::Bound;
        let def = &self.def.indexes[index];
        let widths = self.def.index_widths(def);
        let lo_b = lo.map_or(Bound::Unbounded, |l| Bound::Included(l.to_vec()));
        let hi_b = hi.map_or(Bound::Unbounded, |h| Bound::Excluded(h.to_vec()));
        for e in self.indexes[index].range((lo_b, hi_b)) {
            counters::READ_NEXT.fetch_add(1, Ordering::Relaxed);
            let entry = e.key();
            let Some(split) = keycode::components_len(entry, def.columns.len(), &widths) else {
                continue;
            };
            let (ikey, pk) = entry.split_at(split);
            let Some(row) = self.get(pk, snapshot) else {
                continue;
            };
            // Invariant 3: skip entries left behind by an older version.
            if self.def.index_key_of(def, &row) != ikey {
                continue;
            }
            if !visit(pk, row) {
                return;
            }
        }
    }

    /// Primary keys of rows whose index key equals `ikey` in the newest
    /// installed version or at `snapshot` (for unique checks).
    pub fn index_candidates(&self, index: usize, ikey: &[u8]) -> Vec<Vec<u8>> {
        let hi = keycode::prefix_successor(ikey);
        let def = &self.def.indexes[index];
        let widths = self.def.index_widths(def);
        use std::ops::Bound;
        let hi_b = hi.map_or(Bound::Unbounded, Bound::Excluded);
        let mut out = Vec::new();
        for e in self.indexes[index].range((Bound::Included(ikey.to_vec()), hi_b)) {
            let entry = e.key();
            if let Some(split) = keycode::components_len(entry, def.columns.len(), &widths) {
                if &entry[..split] == ikey {
                    out.push(entry[split..].to_vec());
                }
            }
        }
        out
    }

    /// Number of row entries (including ones deleted but not yet collected).
    pub fn entry_count(&self) -> usize {
        self.rows.len()
    }

    /// Drops versions no snapshot at or above `oldest` can see, removes chains
    /// that are only an old delete, and index entries no retained version
    /// uses. Returns the number of versions dropped.
    pub fn collect_garbage(&self, oldest: u64) -> usize {
        let mut dropped = 0;
        for e in self.rows.iter() {
            let chain = e.value();
            {
                let g = chain.inner.read();
                if g.versions.len() == 1 && g.versions[0].row.is_some() {
                    continue;
                }
            }
            let mut g = chain.inner.write();
            let Some(keep_from) = g.versions.iter().rposition(|v| v.seqno <= oldest) else {
                continue;
            };
            let all_gone = keep_from + 1 == g.versions.len() && g.versions[keep_from].row.is_none();
            let removed: Vec<Version> = if all_gone {
                g.dead = true;
                std::mem::take(&mut g.versions)
            } else {
                g.versions.drain(..keep_from).collect()
            };
            if removed.is_empty() {
                continue;
            }
            dropped += removed.len();
            self.drop_index_entries(e.key(), &removed, &g.versions);
            if all_gone {
                e.remove();
            }
        }
        dropped
    }

    fn drop_index_entries(&self, pk: &[u8], removed: &[Version], kept: &[Version]) {
        for (i, idx) in self.def.indexes.iter().enumerate() {
            let kept_keys: Vec<Vec<u8>> = kept
                .iter()
                .filter_map(|v| v.row.as_ref())
                .map(|r| self.def.index_key_of(idx, r))
                .collect();
            for r in removed.iter().filter_map(|v| v.row.as_ref()) {
                let k = self.def.index_key_of(idx, r);
                if !kept_keys.contains(&k) {
                    let mut entry = k;
                    entry.extend_from_slice(pk);
                    self.indexes[i].remove(&entry);
                }
            }
        }
    }

    /// Copies the rows visible at `snapshot` into a new table with
    /// definition `def`, converting each row with `convert`, stamped with
    /// `seqno` (DDL that rewrites a table).
    pub fn rebuild<E>(
        &self,
        def: TableDef,
        snapshot: u64,
        seqno: u64,
        mut convert: impl FnMut(&[Value]) -> Result<Vec<Value>, E>,
    ) -> Result<Table, E> {
        let t = Table::new(def);
        let mut err = None;
        let hidden = t.def.primary.is_none();
        self.scan(None, None, snapshot, |pk, row| match convert(&row) {
            Ok(new_row) => {
                let key = if hidden {
                    pk.to_vec()
                } else {
                    t.def.pk_of(&new_row).unwrap_or_else(|| pk.to_vec())
                };
                t.install(&key, seqno, Some(new_row.into()));
                true
            }
            Err(e) => {
                err = Some(e);
                false
            }
        });
        if let Some(e) = err {
            return Err(e);
        }
        t.auto_inc_max
            .fetch_max(self.auto_inc_max(), Ordering::Relaxed);
        t.hidden_next
            .fetch_max(self.hidden_next.load(Ordering::Relaxed), Ordering::Relaxed);
        Ok(t)
    }

    /// Rows visible at `snapshot`, with their keys (checkpoints).
    pub fn rows_at(&self, snapshot: u64) -> Vec<(Vec<u8>, Row)> {
        let mut out = Vec::new();
        self.scan(None, None, snapshot, |pk, row| {
            out.push((pk.to_vec(), row));
            true
        });
        out
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
        });
        out
    }

    #[test]
    fn snapshots_see_their_versions() {
        let t = Table::new(def());
        t.install(&pk(1), 5, Some(row(1, 10)));
        t.install(&pk(1), 9, Some(row(1, 20)));
        t.install(&pk(1), 12, None);
        assert!(t.get(&pk(1), 4).is_none());
        assert_eq!(t.get(&pk(1), 8).unwrap()[1].to_i64(), Some(10));
        assert_eq!(t.get(&pk(1), 11).unwrap()[1].to_i64(), Some(20));
        assert!(t.get(&pk(1), 12).is_none());
        // The index follows the snapshot, ignoring stale entries.
        assert_eq!(index_rows(&t, 10, 8), vec![1]);
        assert_eq!(index_rows(&t, 10, 10), Vec::<i64>::new());
        assert_eq!(index_rows(&t, 20, 10), vec![1]);
    }

    #[test]
    fn gc_keeps_what_snapshots_need() {
        let t = Table::new(def());
        t.install(&pk(1), 5, Some(row(1, 10)));
        t.install(&pk(1), 9, Some(row(1, 20)));
        t.install(&pk(1), 12, None);
        t.install(&pk(2), 6, Some(row(2, 30)));
        assert_eq!(t.collect_garbage(10), 1);
        assert_eq!(t.get(&pk(1), 10).unwrap()[1].to_i64(), Some(20));
        assert_eq!(index_rows(&t, 10, 100), Vec::<i64>::new());
        assert_eq!(t.collect_garbage(12), 2);
        assert!(t.chain(&pk(1)).is_none());
        assert_eq!(t.entry_count(), 1);
        assert_eq!(index_rows(&t, 20, 100), Vec::<i64>::new());
        // A row re-inserted after collection gets a fresh chain.
        t.install(&pk(1), 20, Some(row(1, 40)));
        assert_eq!(index_rows(&t, 40, 20), vec![1]);
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
