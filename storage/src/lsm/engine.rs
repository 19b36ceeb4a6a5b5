//! The fjall database behind the LSM row store: its keyspaces, the persisted
//! horizon, table ids, AUTO_INCREMENT high-waters, the meta records recovery
//! reads (`super::recovery`), and the atomic batch an applier fills.
//!
//! # What lands together
//!
//! Every commit goes through [`LsmEngine::commit`], under one lock, so the
//! stored horizon and the stored AUTO_INCREMENT high-waters only move
//! forward whatever order appliers commit in. A write-set's batch carries
//! its row versions, index entries, the horizon reached before it (every
//! seqno up to that one has already landed) and the high-waters its rows
//! raise: fjall writes a batch to its journal as one record, so after a
//! crash all of it is there or none.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use fjall::{Database, Keyspace, KeyspaceCreateOptions, OwnedWriteBatch, PersistMode};
use parking_lot::{Mutex, RwLock, RwLockWriteGuard};

use super::keys;
use crate::error::{StorageError, StorageResult};

/// Bytes of journal kept at most (see `LsmEngine::open`).
const JOURNAL_LIMIT: u64 = 64 << 20;

pub(crate) fn engine_err(e: fjall::Error) -> StorageError {
    StorageError::Engine(e.to_string())
}

/// One on-disk database: every table's rows and indexes, and the horizon.
pub struct LsmEngine {
    db: Database,
    pub(crate) rows: Keyspace,
    pub(crate) index: Keyspace,
    meta: Keyspace,
    /// Appliers commit under the read side. Garbage collection reads a row's
    /// versions, decides and deletes under the write side, so an index entry
    /// an applier writes can never fall between GC's read and its delete.
    fence: RwLock<()>,
    /// The horizon stored on disk; commits that carry a horizon serialize
    /// here so it only ever moves forward.
    horizon: Mutex<u64>,
    next_table: Mutex<u64>,
    /// AUTO_INCREMENT high-water per table id, as stored (written only
    /// when a batch raises it; read under the `horizon` lock).
    auto_inc: Mutex<HashMap<u64, u64>>,
}

impl LsmEngine {
    /// Opens (or creates) the database in `dir` with a block cache of
    /// `cache_size` bytes.
    pub fn open(dir: &Path, cache_size: u64) -> StorageResult<Arc<LsmEngine>> {
        // Journals are replayed into memtables at open, so their total
        // bounds the work of a restart: 64 MiB (fjall's minimum; its default
        // is 512 MiB) forces flushes of keyspaces that hold old journals
        // back (the small meta keyspace would otherwise keep every journal).
        let db = Database::builder(dir)
            .cache_size(cache_size)
            .max_journaling_size(JOURNAL_LIMIT)
            .open()
            .map_err(engine_err)?;
        // Memtables are memory outside the cache: a quarter of the cache
        // per keyspace, between fjall's recommended 8 and 64 MiB. (Applies
        // when a keyspace is created; fjall keeps it with the keyspace.)
        let memtable = (cache_size / 4).clamp(8 << 20, 64 << 20);
        let ks = |name: &str| {
            db.keyspace(name, || {
                KeyspaceCreateOptions::default().max_memtable_size(memtable)
            })
            .map_err(engine_err)
        };
        let (rows, index, meta) = (ks("rows")?, ks("index")?, ks("meta")?);
        let read_u64 = |key: &[u8]| -> StorageResult<u64> {
            match meta.get(key).map_err(engine_err)? {
                None => Ok(0),
                Some(v) => keys::decode_u64(&v).ok_or_else(|| {
                    StorageError::Corrupt(format!(
                        "meta key {} is not a u64",
                        String::from_utf8_lossy(key)
                    ))
                }),
            }
        };
        let horizon = read_u64(keys::HORIZON)?;
        let next_table = read_u64(keys::NEXT_TABLE)?.max(1);
        let mut auto_inc = HashMap::new();
        for g in meta.prefix(keys::AUTO_INC) {
            let (k, v) = g.into_inner().map_err(engine_err)?;
            match (keys::split_auto_inc_key(&k), keys::decode_u64(&v)) {
                (Some(id), Some(v)) => {
                    auto_inc.insert(id, v);
                }
                _ => {
                    return Err(StorageError::Corrupt(
                        "malformed AUTO_INCREMENT record in the meta keyspace".into(),
                    ))
                }
            }
        }
        Ok(Arc::new(LsmEngine {
            db,
            rows,
            index,
            meta,
            fence: RwLock::new(()),
            horizon: Mutex::new(horizon),
            next_table: Mutex::new(next_table),
            auto_inc: Mutex::new(auto_inc),
        }))
    }

    /// The highest horizon a committed batch carried (0 for a new database).
    pub fn persisted_horizon(&self) -> u64 {
        *self.horizon.lock()
    }

    /// A fresh table id, never handed out before in this database.
    pub fn allocate_table_id(&self) -> StorageResult<u64> {
        let mut next = self.next_table.lock();
        let id = *next;
        self.meta
            .insert(keys::NEXT_TABLE, (id + 1).to_be_bytes())
            .map_err(engine_err)?;
        *next = id + 1;
        Ok(id)
    }

    /// An empty batch; fill it with `LsmTable::install_into`.
    pub fn batch(&self) -> LsmBatch {
        LsmBatch {
            inner: self.db.batch(),
            touched: Vec::new(),
            auto_inc: Vec::new(),
            meta: Vec::new(),
        }
    }

    /// Commits `batch` atomically; with `horizon`, the stored horizon moves
    /// to it in the same batch (if it is ahead), so rows and horizon land or
    /// are lost together.
    pub fn commit(&self, mut batch: LsmBatch, horizon: Option<u64>) -> StorageResult<()> {
        let _fence = self.fence.read();
        let mut stored = self.horizon.lock();
        let advance = horizon.filter(|h| *h > *stored);
        if let Some(h) = advance {
            batch
                .inner
                .insert(&self.meta, keys::HORIZON, h.to_be_bytes());
        }
        let mut raised: Vec<(u64, u64)> = Vec::new();
        {
            let stored_ai = self.auto_inc.lock();
            for (id, v) in std::mem::take(&mut batch.auto_inc) {
                let known = raised
                    .iter()
                    .find(|(t, _)| *t == id)
                    .map(|(_, v)| *v)
                    .or_else(|| stored_ai.get(&id).copied())
                    .unwrap_or(0);
                if v > known {
                    raised.retain(|(t, _)| *t != id);
                    raised.push((id, v));
                }
            }
        }
        for (id, v) in &raised {
            batch
                .inner
                .insert(&self.meta, keys::auto_inc_key(*id), v.to_be_bytes());
        }
        for (k, v) in std::mem::take(&mut batch.meta) {
            match v {
                Some(v) => batch.inner.insert(&self.meta, k, v),
                None => batch.inner.remove(&self.meta, k),
            }
        }
        batch.inner.commit().map_err(engine_err)?;
        if let Some(h) = advance {
            *stored = h;
        }
        if !raised.is_empty() {
            let mut stored_ai = self.auto_inc.lock();
            for (id, v) in raised {
                let e = stored_ai.entry(id).or_insert(0);
                *e = (*e).max(v);
            }
        }
        // Only now may GC look at these rows: it must see the new versions.
        for (set, pk) in batch.touched {
            set.lock().insert(pk);
        }
        Ok(())
    }

    /// The AUTO_INCREMENT high-water stored for table `id` (0 if none).
    pub fn stored_auto_inc(&self, id: u64) -> u64 {
        self.auto_inc.lock().get(&id).copied().unwrap_or(0)
    }

    /// Reads one meta record.
    pub fn meta_get(&self, key: &[u8]) -> StorageResult<Option<Vec<u8>>> {
        Ok(self.meta.get(key).map_err(engine_err)?.map(|v| v.to_vec()))
    }

    /// Empties the engine: every row, index entry and meta record but the
    /// table-id counter (ids are never reused). With `marker`, that record
    /// is left in the meta keyspace (durably, before anything is removed),
    /// so that a crash before the caller's next recovery point lands is
    /// seen at the next open. Takes the GC fence, so no collection runs
    /// across it.
    pub fn clear(&self, marker: Option<&[u8]>) -> StorageResult<()> {
        let _fence = self.fence.write();
        let mut stored = self.horizon.lock();
        if let Some(m) = marker {
            self.meta.insert(m, [1u8]).map_err(engine_err)?;
            self.persist()?;
        }
        self.rows.clear().map_err(engine_err)?;
        self.index.clear().map_err(engine_err)?;
        let mut doomed = Vec::new();
        for g in self.meta.iter() {
            let k = g.key().map_err(engine_err)?;
            if &*k != keys::NEXT_TABLE && Some(&*k) != marker {
                doomed.push(k.to_vec());
            }
        }
        let mut b = self.db.batch();
        for k in doomed {
            b.remove(&self.meta, k);
        }
        b.commit().map_err(engine_err)?;
        *stored = 0;
        self.auto_inc.lock().clear();
        self.persist()
    }

    /// Starts flushing every keyspace's memtable to tables (in the
    /// background). Called after a recovery point lands: the journals
    /// written before it can then be dropped, so a restart replays only
    /// the journal written since (the memtables would otherwise keep
    /// journals until they fill, and the meta keyspace rarely fills).
    /// Uses fjall's `rotate_memtable`, public but hidden from its docs.
    pub fn seal_memtables(&self) -> StorageResult<()> {
        for ks in [&self.rows, &self.index, &self.meta] {
            ks.rotate_memtable().map_err(engine_err)?;
        }
        Ok(())
    }

    /// Makes everything committed so far durable (fsync).
    pub fn persist(&self) -> StorageResult<()> {
        self.db.persist(PersistMode::SyncAll).map_err(engine_err)
    }

    /// Bytes the database occupies on disk.
    pub fn disk_space(&self) -> u64 {
        self.db.disk_space().unwrap_or(0)
    }

    /// Bytes of memory outside the block cache that the engine holds for
    /// writes: active and sealed (not yet flushed) memtables.
    pub fn write_buffer_bytes(&self) -> u64 {
        self.db.write_buffer_size()
    }

    /// Bytes in the block cache now.
    pub fn cache_bytes(&self) -> u64 {
        self.db.cache_size()
    }

    /// A point-in-time view of every keyspace (state transfer and backup
    /// read from it while appliers go on committing: `super::export`).
    pub(crate) fn snapshot(&self) -> fjall::Snapshot {
        self.db.snapshot()
    }

    pub(crate) fn meta_keyspace(&self) -> &Keyspace {
        &self.meta
    }

    /// Raises the table-id counter to at least `next` (a copied-in state
    /// brings its own table ids; no id it uses may be handed out again).
    pub(crate) fn raise_next_table(&self, next: u64) -> StorageResult<()> {
        let mut stored = self.next_table.lock();
        if next > *stored {
            self.meta
                .insert(keys::NEXT_TABLE, next.to_be_bytes())
                .map_err(engine_err)?;
            *stored = next;
        }
        Ok(())
    }

    pub(crate) fn gc_fence(&self) -> RwLockWriteGuard<'_, ()> {
        self.fence.write()
    }

    pub(crate) fn raw_batch(&self) -> OwnedWriteBatch {
        self.db.batch()
    }
}

/// Row versions and index entries on their way to the engine, committed all
/// at once by `LsmEngine::commit`.
pub struct LsmBatch {
    pub(crate) inner: OwnedWriteBatch,
    /// Rows to hand to their table's garbage collector once committed.
    pub(crate) touched: Vec<(GcSet, Vec<u8>)>,
    /// AUTO_INCREMENT values the batch's rows carry, per table id.
    pub(crate) auto_inc: Vec<(u64, u64)>,
    /// Meta records to put (Some) or remove (None) with the batch.
    pub(crate) meta: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

/// The primary keys of one table that may hold garbage.
pub(crate) type GcSet = Arc<Mutex<std::collections::HashSet<Vec<u8>>>>;

impl LsmBatch {
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty() && self.meta.is_empty()
    }

    /// Puts a meta record with the batch.
    pub fn put_meta(&mut self, key: &[u8], value: Vec<u8>) {
        self.meta.push((key.to_vec(), Some(value)));
    }

    /// Removes a meta record with the batch.
    pub fn remove_meta(&mut self, key: &[u8]) {
        self.meta.push((key.to_vec(), None));
    }

    /// Notes that a row of table `id` carries AUTO_INCREMENT value `v`.
    pub fn note_auto_inc(&mut self, id: u64, v: u64) {
        self.auto_inc.push((id, v));
    }
}
