//! One table's rows and indexes inside an `LsmEngine`, with the semantics of
//! the in-memory table (`crate::table`): versions stamped with seqnos, reads
//! filtered by snapshot, index entries that may be stale and are re-checked.
//!
//! Unlike the in-memory chains, the engine keeps a row's versions sorted by
//! key, so versions of one row may arrive in any order (a replay after a
//! restart re-installs versions that are already there: same key, same
//! bytes, no change).

use std::ops::Bound;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::engine::{engine_err, GcSet, LsmBatch, LsmEngine};
use super::keys;
use crate::catalog::TableDef;
use crate::error::{StorageError, StorageResult};
use crate::keycode;
use crate::value::Value;

/// A row read back from the engine.
pub type Row = Arc<[Value]>;

/// Whether a version being installed may have older versions of its row
/// under it (garbage once no snapshot needs them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prior {
    /// An update, a delete, or a version whose history is not known.
    Maybe,
    /// A row no version of which exists: an INSERT that certified (a row
    /// deleted earlier keeps its tombstone in GC's set until collected),
    /// or a row of a state-transfer copy.
    Absent,
}

/// Primary keys GC examines per hold of the fence: short holds keep
/// appliers moving while a pass runs.
const GC_CHUNK: usize = 256;

pub struct LsmTable {
    engine: Arc<LsmEngine>,
    id: u64,
    /// Rows written since GC last saw them. GC visits only these, so a pass
    /// costs in proportion to the writes, not to the table (which may be
    /// much larger than memory).
    gc_pending: GcSet,
    /// Set for a table attached after a reopen, whose earlier writes are not
    /// in `gc_pending`: its first GC pass scans everything once.
    gc_scan_all: AtomicBool,
}

fn corrupt(what: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt(what.to_string())
}

fn decode(table: u64, value: &[u8]) -> StorageResult<Option<Row>> {
    keys::decode_version(value)
        .map(|r| r.map(Row::from))
        .map_err(|e| corrupt(format!("table {table}: {e}")))
}

/// One version as stored: its seqno and its (undecoded) value.
struct StoredVersion {
    seqno: u64,
    value: fjall::Slice,
}

impl LsmTable {
    /// A new, empty table with a fresh id.
    pub fn create(engine: &Arc<LsmEngine>) -> StorageResult<LsmTable> {
        let id = engine.allocate_table_id()?;
        let t = LsmTable::attach(engine, id);
        t.gc_scan_all.store(false, Ordering::Relaxed);
        Ok(t)
    }

    /// The table stored under `id` (after a reopen).
    pub fn attach(engine: &Arc<LsmEngine>, id: u64) -> LsmTable {
        LsmTable {
            engine: engine.clone(),
            id,
            gc_pending: GcSet::default(),
            gc_scan_all: AtomicBool::new(true),
        }
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn engine(&self) -> &Arc<LsmEngine> {
        &self.engine
    }

    /// Adds one version (and its index entries) to `batch`. With
    /// [`Prior::Absent`] the row is not handed to garbage collection: it
    /// has no older version (GC of a bulk load would otherwise read every
    /// row back and hold every key meanwhile).
    pub fn install_into(
        &self,
        def: &TableDef,
        batch: &mut LsmBatch,
        pk: &[u8],
        seqno: u64,
        row: Option<&[Value]>,
        prior: Prior,
    ) {
        let e = &self.engine;
        if let Some(r) = row {
            for (i, idx) in def.indexes.iter().enumerate() {
                let ikey = def.index_key_of(idx, r);
                let entry = keys::index_entry(self.id, i as u32, &ikey, pk);
                batch.inner.insert(&e.index, entry, []);
            }
        }
        batch.inner.insert(
            &e.rows,
            keys::row_key(self.id, pk, seqno),
            keys::encode_version(row),
        );
        if prior == Prior::Maybe {
            batch.touched.push((self.gc_pending.clone(), pk.to_vec()));
        }
    }

    /// The row visible at `snapshot`.
    pub fn get(&self, pk: &[u8], snapshot: u64) -> StorageResult<Option<Row>> {
        let lo = keys::row_key(self.id, pk, snapshot);
        let hi = keys::row_key(self.id, pk, 0);
        match self.engine.rows.range(lo..=hi).next() {
            None => Ok(None),
            Some(g) => {
                let (_, v) = g.into_inner().map_err(engine_err)?;
                decode(self.id, &v)
            }
        }
    }

    /// Seqno of the newest version of a row (0 if none).
    pub fn latest_seqno(&self, pk: &[u8]) -> StorageResult<u64> {
        let lo = keys::row_key(self.id, pk, u64::MAX);
        let hi = keys::row_key(self.id, pk, 0);
        match self.engine.rows.range(lo..=hi).next() {
            None => Ok(0),
            Some(g) => {
                let k = g.key().map_err(engine_err)?;
                keys::split_row_key(&k)
                    .map(|(_, s)| s)
                    .ok_or_else(|| corrupt(format!("table {}: malformed row key", self.id)))
            }
        }
    }

    fn row_range(&self, lo: Option<&[u8]>, hi: Option<&[u8]>) -> (Vec<u8>, Bound<Vec<u8>>) {
        let start = match lo {
            Some(l) => keys::row_bound(self.id, l),
            None => keys::table_prefix(self.id),
        };
        let end = match hi {
            Some(h) => Bound::Excluded(keys::row_bound(self.id, h)),
            None => keycode::prefix_successor(&keys::table_prefix(self.id))
                .map_or(Bound::Unbounded, Bound::Excluded),
        };
        (start, end)
    }

    /// Walks every version with primary key in `[lo, hi)`, grouped by row,
    /// newest first: `each(pk, versions)` for every row; false stops.
    fn for_each_row(
        &self,
        lo: Option<&[u8]>,
        hi: Option<&[u8]>,
        mut each: impl FnMut(&[u8], &[StoredVersion]) -> StorageResult<bool>,
    ) -> StorageResult<()> {
        let (start, end) = self.row_range(lo, hi);
        let mut cur: Option<Vec<u8>> = None;
        let mut versions: Vec<StoredVersion> = Vec::new();
        for g in self.engine.rows.range((Bound::Included(start), end)) {
            let (k, value) = g.into_inner().map_err(engine_err)?;
            let (pk, seqno) = keys::split_row_key(&k)
                .ok_or_else(|| corrupt(format!("table {}: malformed row key", self.id)))?;
            if cur.as_deref() != Some(&pk[..]) {
                if let Some(prev) = cur.take() {
                    if !each(&prev, &versions)? {
                        return Ok(());
                    }
                }
                versions.clear();
                cur = Some(pk);
            }
            versions.push(StoredVersion { seqno, value });
        }
        if let Some(prev) = cur {
            each(&prev, &versions)?;
        }
        Ok(())
    }

    /// Visits rows visible at `snapshot` with primary key in `[lo, hi)` in
    /// key order; `visit` returns false to stop. `on_entry` counts each row
    /// examined (the handler counters).
    pub fn scan(
        &self,
        lo: Option<&[u8]>,
        hi: Option<&[u8]>,
        snapshot: u64,
        mut on_entry: impl FnMut(),
        mut visit: impl FnMut(&[u8], Row) -> bool,
    ) -> StorageResult<()> {
        self.for_each_row(lo, hi, |pk, versions| {
            on_entry();
            match versions.iter().find(|v| v.seqno <= snapshot) {
                Some(v) => match decode(self.id, &v.value)? {
                    Some(row) => Ok(visit(pk, row)),
                    None => Ok(true),
                },
                None => Ok(true),
            }
        })
    }

    /// Raw index entries (index key ++ primary key) of index `index` in
    /// `[lo, hi)` on the entry bytes; `each` returns false to stop.
    pub fn index_entries(
        &self,
        index: usize,
        lo: Option<&[u8]>,
        hi: Option<&[u8]>,
        mut each: impl FnMut(&[u8]) -> StorageResult<bool>,
    ) -> StorageResult<()> {
        let prefix = keys::index_prefix(self.id, index as u32);
        let mut start = prefix.clone();
        start.extend_from_slice(lo.unwrap_or_default());
        let end = match hi {
            Some(h) => {
                let mut e = prefix.clone();
                e.extend_from_slice(h);
                Bound::Excluded(e)
            }
            None => keycode::prefix_successor(&prefix).map_or(Bound::Unbounded, Bound::Excluded),
        };
        for g in self.engine.index.range((Bound::Included(start), end)) {
            let k = g.key().map_err(engine_err)?;
            let entry = k
                .get(keys::INDEX_PREFIX_LEN..)
                .ok_or_else(|| corrupt(format!("table {}: short index entry", self.id)))?;
            if !each(entry)? {
                break;
            }
        }
        Ok(())
    }

    /// Number of rows with any version (deleted ones not yet collected
    /// included, as the in-memory table counts them). A full scan.
    pub fn entry_count(&self) -> StorageResult<usize> {
        let mut n = 0;
        self.for_each_row(None, None, |_, _| {
            n += 1;
            Ok(true)
        })?;
        Ok(n)
    }

    /// Every primary key with any version, in key order.
    pub fn for_each_key(&self, mut each: impl FnMut(&[u8])) -> StorageResult<()> {
        self.for_each_row(None, None, |pk, _| {
            each(pk);
            Ok(true)
        })
    }

    /// Rows waiting for garbage collection to look at them.
    pub(crate) fn gc_backlog(&self) -> usize {
        self.gc_pending.lock().len()
    }

    /// Drops versions no snapshot at or above `oldest` can see, rows that
    /// are only an old delete, and index entries no retained version uses
    /// (the in-memory rules). Returns the number of versions dropped.
    pub fn collect_garbage(&self, def: &TableDef, oldest: u64) -> StorageResult<usize> {
        let mut candidates: Vec<Vec<u8>> = std::mem::take(&mut *self.gc_pending.lock())
            .into_iter()
            .collect();
        if self.gc_scan_all.swap(false, Ordering::Relaxed) {
            candidates.clear();
            let scanned = self.for_each_row(None, None, |pk, versions| {
                let single_live = versions.len() == 1 && versions[0].value.first() == Some(&1);
                if !single_live {
                    candidates.push(pk.to_vec());
                }
                Ok(true)
            });
            if let Err(e) = scanned {
                self.gc_scan_all.store(true, Ordering::Relaxed);
                return Err(e);
            }
        }
        // Each row is decided under the fence from a fresh read.
        let mut dropped = 0;
        let mut chunks = candidates.chunks(GC_CHUNK);
        while let Some(chunk) = chunks.next() {
            let done = self.collect_chunk(def, chunk, oldest);
            match done {
                Ok(n) => dropped += n,
                Err(e) => {
                    // Give the rows not yet decided back for the next pass.
                    let mut p = self.gc_pending.lock();
                    p.extend(chunk.iter().cloned());
                    chunks.for_each(|c| p.extend(c.iter().cloned()));
                    return Err(e);
                }
            }
        }
        Ok(dropped)
    }

    fn collect_chunk(
        &self,
        def: &TableDef,
        chunk: &[Vec<u8>],
        oldest: u64,
    ) -> StorageResult<usize> {
        let _fence = self.engine.gc_fence();
        let mut batch = self.engine.raw_batch();
        let mut dropped = 0;
        let mut again = Vec::new();
        for pk in chunk {
            let (n, more) = self.collect_row(def, pk, oldest, &mut batch)?;
            dropped += n;
            if more {
                again.push(pk.clone());
            }
        }
        batch.commit().map_err(engine_err)?;
        self.gc_pending.lock().extend(again);
        Ok(dropped)
    }

    fn collect_row(
        &self,
        def: &TableDef,
        pk: &[u8],
        oldest: u64,
        batch: &mut fjall::OwnedWriteBatch,
    ) -> StorageResult<(usize, bool)> {
        let lo = keys::row_key(self.id, pk, u64::MAX);
        let hi = keys::row_key(self.id, pk, 0);
        let mut versions: Vec<(u64, Option<Row>)> = Vec::new();
        for g in self.engine.rows.range(lo..=hi) {
            let (k, v) = g.into_inner().map_err(engine_err)?;
            let (_, seqno) = keys::split_row_key(&k)
                .ok_or_else(|| corrupt(format!("table {}: malformed row key", self.id)))?;
            versions.push((seqno, decode(self.id, &v)?));
        }
        // Newest first: keep everything newer than `oldest` and the newest
        // version at or below it, unless that one is a delete with nothing
        // newer (then the row is gone for every snapshot).
        let Some(keep) = versions.iter().position(|(s, _)| *s <= oldest) else {
            // Every version is newer than the oldest snapshot: look again
            // once it has moved (unless the row is one live version).
            let single_live = versions.len() == 1 && versions[0].1.is_some();
            return Ok((0, !versions.is_empty() && !single_live));
        };
        let keep_to = if keep == 0 && versions[0].1.is_none() {
            0
        } else {
            keep + 1
        };
        let (kept, removed) = versions.split_at(keep_to);
        for (seqno, _) in removed {
            batch.remove(&self.engine.rows, keys::row_key(self.id, pk, *seqno));
        }
        for (i, idx) in def.indexes.iter().enumerate() {
            let kept_keys: Vec<Vec<u8>> = kept
                .iter()
                .filter_map(|(_, r)| r.as_ref())
                .map(|r| def.index_key_of(idx, r))
                .collect();
            for r in removed.iter().filter_map(|(_, r)| r.as_ref()) {
                let ikey = def.index_key_of(idx, r);
                if !kept_keys.contains(&ikey) {
                    batch.remove(
                        &self.engine.index,
                        keys::index_entry(self.id, i as u32, &ikey, pk),
                    );
                }
            }
        }
        // Left: versions newer than `oldest` (or a delete) that a later
        // pass may collect.
        let more = kept.len() > 1 || kept.first().is_some_and(|(_, r)| r.is_none());
        Ok((removed.len(), more))
    }
}
