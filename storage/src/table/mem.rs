//! The in-memory row store: an ordered, lock-free map from encoded primary
//! key to a version chain, plus one ordered set per secondary index.
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

use std::ops::Bound;
use std::sync::Arc;

use crossbeam_skiplist::SkipMap;
use parking_lot::{Mutex, RwLock};

use super::Row;
use crate::catalog::TableDef;

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
    /// The chain's key is in `MemRows::dirty` (it holds something GC may
    /// reclaim once the oldest snapshot passes it).
    queued: bool,
}

impl ChainInner {
    /// Whether GC has anything to reclaim here, now or later: an older
    /// version under the newest, or a delete marker.
    fn reclaimable(&self) -> bool {
        self.versions.len() > 1 || self.versions.last().is_some_and(|v| v.row.is_none())
    }
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

pub struct MemRows {
    rows: SkipMap<Vec<u8>, Arc<Chain>>,
    /// One set per `def.indexes` entry: `index key ++ primary key`.
    indexes: Vec<SkipMap<Vec<u8>, ()>>,
    /// Keys of the chains GC may have work in (each once, see
    /// `ChainInner::queued`): a pass visits only these, so its cost follows
    /// the rows written since, not the size of the table.
    dirty: Mutex<Vec<Vec<u8>>>,
}

fn range(lo: Option<&[u8]>, hi: Option<&[u8]>) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    (
        lo.map_or(Bound::Unbounded, |l| Bound::Included(l.to_vec())),
        hi.map_or(Bound::Unbounded, |h| Bound::Excluded(h.to_vec())),
    )
}

impl MemRows {
    pub fn new(def: &TableDef) -> MemRows {
        MemRows {
            rows: SkipMap::new(),
            indexes: def.indexes.iter().map(|_| SkipMap::new()).collect(),
            dirty: Mutex::new(Vec::new()),
        }
    }

    /// Installs one version. Invariant 1 is the caller's.
    pub fn install(&self, def: &TableDef, pk: &[u8], seqno: u64, row: Option<Row>) {
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
                for (i, idx) in def.indexes.iter().enumerate() {
                    let mut key = def.index_key_of(idx, r);
                    key.extend_from_slice(pk);
                    self.indexes[i].insert(key, ());
                }
            }
            g.versions.push(Version { seqno, row });
            if !g.queued && g.reclaimable() {
                g.queued = true;
                self.dirty.lock().push(pk.to_vec());
            }
            return;
        }
    }

    pub fn chain(&self, pk: &[u8]) -> Option<Arc<Chain>> {
        self.rows.get(pk).map(|e| e.value().clone())
    }

    pub fn get(&self, pk: &[u8], snapshot: u64) -> Option<Row> {
        self.chain(pk).and_then(|c| c.visible(snapshot))
    }

    pub fn latest_seqno(&self, pk: &[u8]) -> u64 {
        self.chain(pk)
            .and_then(|c| c.latest())
            .map_or(0, |v| v.seqno)
    }

    pub fn scan(
        &self,
        lo: Option<&[u8]>,
        hi: Option<&[u8]>,
        snapshot: u64,
        mut on_entry: impl FnMut(),
        mut visit: impl FnMut(&[u8], Row) -> bool,
    ) {
        for e in self.rows.range(range(lo, hi)) {
            on_entry();
            if let Some(row) = e.value().visible(snapshot) {
                if !visit(e.key(), row) {
                    return;
                }
            }
        }
    }

    /// Raw index entries of index `index` in `[lo, hi)`; false stops.
    pub fn index_entries(
        &self,
        index: usize,
        lo: Option<&[u8]>,
        hi: Option<&[u8]>,
        mut each: impl FnMut(&[u8]) -> bool,
    ) {
        for e in self.indexes[index].range(range(lo, hi)) {
            if !each(e.key()) {
                return;
            }
        }
    }

    pub fn keys(&self) -> impl Iterator<Item = Vec<u8>> + '_ {
        self.rows.iter().map(|e| e.key().clone())
    }

    pub fn entry_count(&self) -> usize {
        self.rows.len()
    }

    pub fn collect_garbage(&self, def: &TableDef, oldest: u64) -> usize {
        let dirty = std::mem::take(&mut *self.dirty.lock());
        let mut again = Vec::new();
        let mut dropped = 0;
        for pk in dirty {
            let Some(e) = self.rows.get(&pk) else {
                continue;
            };
            let chain = e.value();
            let mut g = chain.inner.write();
            g.queued = false;
            let removed = match g.versions.iter().rposition(|v| v.seqno <= oldest) {
                None => Vec::new(),
                Some(keep_from) => {
                    let all_gone =
                        keep_from + 1 == g.versions.len() && g.versions[keep_from].row.is_none();
                    if all_gone {
                        g.dead = true;
                        std::mem::take(&mut g.versions)
                    } else {
                        g.versions.drain(..keep_from).collect()
                    }
                }
            };
            if !removed.is_empty() {
                dropped += removed.len();
                self.drop_index_entries(def, e.key(), &removed, &g.versions);
            }
            if g.dead {
                e.remove();
                continue;
            }
            // Still needed by a live snapshot: look again next pass.
            if g.reclaimable() {
                g.queued = true;
                again.push(pk);
            }
        }
        if !again.is_empty() {
            self.dirty.lock().append(&mut again);
        }
        dropped
    }

    /// Chains waiting for GC (tests, benchmarks).
    pub fn dirty_len(&self) -> usize {
        self.dirty.lock().len()
    }

    fn drop_index_entries(&self, def: &TableDef, pk: &[u8], removed: &[Version], kept: &[Version]) {
        for (i, idx) in def.indexes.iter().enumerate() {
            let kept_keys: Vec<Vec<u8>> = kept
                .iter()
                .filter_map(|v| v.row.as_ref())
                .map(|r| def.index_key_of(idx, r))
                .collect();
            for r in removed.iter().filter_map(|v| v.row.as_ref()) {
                let k = def.index_key_of(idx, r);
                if !kept_keys.contains(&k) {
                    let mut entry = k;
                    entry.extend_from_slice(pk);
                    self.indexes[i].remove(&entry);
                }
            }
        }
    }
}
