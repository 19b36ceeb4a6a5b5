//! The fjall database behind the LSM row store: its keyspaces, the persisted
//! horizon, table ids, and the atomic batch an applier fills.

use std::path::Path;
use std::sync::Arc;

use fjall::{Database, Keyspace, KeyspaceCreateOptions, OwnedWriteBatch, PersistMode};
use parking_lot::{Mutex, RwLock, RwLockWriteGuard};

use super::keys;
use crate::error::{StorageError, StorageResult};

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
}

impl LsmEngine {
    /// Opens (or creates) the database in `dir` with a block cache of
    /// `cache_size` bytes.
    pub fn open(dir: &Path, cache_size: u64) -> StorageResult<Arc<LsmEngine>> {
        let db = Database::builder(dir)
            .cache_size(cache_size)
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
        Ok(Arc::new(LsmEngine {
            db,
            rows,
            index,
            meta,
            fence: RwLock::new(()),
            horizon: Mutex::new(horizon),
            next_table: Mutex::new(next_table),
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
        batch.inner.commit().map_err(engine_err)?;
        if let Some(h) = advance {
            *stored = h;
        }
        // Only now may GC look at these rows: it must see the new versions.
        for (set, pk) in batch.touched {
            set.lock().insert(pk);
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

    /// Bytes in the block cache now.
    pub fn cache_bytes(&self) -> u64 {
        self.db.cache_size()
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
}

/// The primary keys of one table that may hold garbage.
pub(crate) type GcSet = Arc<Mutex<std::collections::HashSet<Vec<u8>>>>;

impl LsmBatch {
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }
}
