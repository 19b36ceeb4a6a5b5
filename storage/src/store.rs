//! The MVCC store: the catalog of databases and tables, the
//! horizon, and the registry of live snapshots that bounds garbage
//! collection.
//!
//! # The horizon
//!
//! `horizon` is the highest seqno such that every ordered event <= it has
//! been applied on this node. It never moves back. A new snapshot is the
//! horizon at the time it is taken, so a reader never sees a hole: every
//! write-set it could see is completely installed.
//!
//! # Schema changes
//!
//! The catalog is copy-on-write: a DDL builds a new catalog and swaps it in,
//! at its seqno, while no applier runs (TOI). Tables rewritten by a DDL carry
//! the DDL's seqno as `TableDef::version`; a transaction whose snapshot is
//! older than that gets ER_TABLE_DEF_CHANGED instead of mixing shapes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use tokio::sync::oneshot;

use crate::catalog::{UserDef, ViewDef};
use crate::collation::Collation;
use crate::lsm::recovery::{self, Found, Recovered, RecoveryPoint};
pub use crate::table::{ApplyBatch, Engine, Row, Table};

/// A database and its tables.
#[derive(Clone, Default)]
pub struct Database {
    pub name: String,
    pub tables: BTreeMap<String, Arc<Table>>,
    /// The default collation of tables created in it.
    pub collation: Collation,
    pub views: BTreeMap<String, ViewDef>,
}

/// The schema: immutable once published; DDL publishes a new one.
#[derive(Clone, Default)]
pub struct Catalog {
    pub databases: BTreeMap<String, Database>,
    pub users: BTreeMap<String, UserDef>,
}

impl Catalog {
    pub fn table(&self, db: &str, name: &str) -> Option<&Arc<Table>> {
        self.databases.get(db)?.tables.get(name)
    }

    pub fn view(&self, db: &str, name: &str) -> Option<&ViewDef> {
        self.databases.get(db)?.views.get(name)
    }

    pub fn all_tables(&self) -> impl Iterator<Item = &Arc<Table>> {
        self.databases.values().flat_map(|d| d.tables.values())
    }
}

pub struct Store {
    /// Where tables created in this store keep their rows.
    engine: Engine,
    catalog: RwLock<Arc<Catalog>>,
    horizon: AtomicU64,
    /// COMMITs waiting for their seqno to be applied, by seqno: a horizon
    /// step wakes only those it reaches (a broadcast would wake every
    /// committing session on every step).
    horizon_waiters: Mutex<BTreeMap<u64, Vec<oneshot::Sender<()>>>>,
    snapshots: Mutex<BTreeMap<u64, usize>>,
}

/// A registered snapshot; dropping it lets GC reclaim what only it needed.
pub struct SnapshotGuard {
    store: Arc<Store>,
    pub seqno: u64,
}

impl Drop for SnapshotGuard {
    fn drop(&mut self) {
        let mut s = self.store.snapshots.lock();
        if let Some(n) = s.get_mut(&self.seqno) {
            *n -= 1;
            if *n == 0 {
                s.remove(&self.seqno);
            }
        }
    }
}

impl Store {
    /// A store whose tables live in memory.
    pub fn new() -> Arc<Store> {
        Store::with_engine(Engine::Memory)
    }

    /// A store whose new tables live in `engine`.
    pub fn with_engine(engine: Engine) -> Arc<Store> {
        Arc::new(Store {
            engine,
            catalog: RwLock::new(Arc::new(Catalog::default())),
            horizon: AtomicU64::new(0),
            horizon_waiters: Mutex::new(BTreeMap::new()),
            snapshots: Mutex::new(BTreeMap::new()),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// An empty table in this store's engine.
    pub fn new_table(&self, def: crate::catalog::TableDef) -> crate::StorageResult<Table> {
        Table::create(def, &self.engine)
    }

    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.read().clone()
    }

    /// Publishes a new catalog (DDL, recovery).
    pub fn set_catalog(&self, c: Catalog) {
        *self.catalog.write() = Arc::new(c);
    }

    pub fn horizon(&self) -> u64 {
        self.horizon.load(Ordering::Acquire)
    }

    /// Moves the horizon forward (never back) and wakes waiters.
    pub fn advance_horizon(&self, to: u64) {
        let prev = self.horizon.fetch_max(to, Ordering::AcqRel);
        if to > prev {
            self.wake_reached();
        }
    }

    /// Sets the horizon after a restore (checkpoint load or state transfer).
    pub fn reset_horizon(&self, to: u64) {
        self.horizon.store(to, Ordering::Release);
        self.wake_reached();
    }

    /// A receiver that completes once the horizon reaches `seqno`, or None
    /// when it already has. It fails (the sender is dropped) only when the
    /// store goes away.
    pub fn horizon_reached(&self, seqno: u64) -> Option<oneshot::Receiver<()>> {
        let mut w = self.horizon_waiters.lock();
        // Checked under the lock that `wake_reached` takes after moving the
        // horizon, so a step between this check and the insert cannot be
        // missed.
        if self.horizon() >= seqno {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        w.entry(seqno).or_default().push(tx);
        Some(rx)
    }

    fn wake_reached(&self) {
        let mut w = self.horizon_waiters.lock();
        let h = self.horizon();
        if w.first_key_value().is_none_or(|(s, _)| *s > h) {
            return;
        }
        let later = w.split_off(&h.saturating_add(1));
        let reached = std::mem::replace(&mut *w, later);
        drop(w);
        for tx in reached.into_values().flatten() {
            let _ = tx.send(());
        }
    }

    /// Takes a snapshot at the current horizon and registers it.
    pub fn snapshot(self: &Arc<Self>) -> SnapshotGuard {
        let mut s = self.snapshots.lock();
        // Read the horizon under the lock so GC, which also takes it, never
        // computes an oldest snapshot above one being registered.
        let seqno = self.horizon();
        *s.entry(seqno).or_insert(0) += 1;
        SnapshotGuard {
            store: self.clone(),
            seqno,
        }
    }

    /// The oldest seqno any live snapshot reads at (or the horizon).
    pub fn oldest_snapshot(&self) -> u64 {
        let s = self.snapshots.lock();
        s.keys().next().copied().unwrap_or_else(|| self.horizon())
    }

    /// Makes the current catalog durable together with `seqno` as the
    /// applied horizon (a DDL at `seqno`, which runs alone: every earlier
    /// seqno has landed). Nothing to do in memory. See `lsm::recovery`.
    pub fn persist_catalog(&self, seqno: u64) -> crate::StorageResult<()> {
        let Engine::Lsm(e) = &self.engine else {
            return Ok(());
        };
        let b = recovery::catalog_batch(e, &self.catalog())?;
        e.commit(b, Some(seqno))
    }

    /// Saves a recovery point at `p.seqno` (every event up to it applied)
    /// and makes the engine durable: the ordered log may then be purged up
    /// to `p.seqno`. The catalog is not written here: DDL writes it with its
    /// own seqno, and a catalog captured at `p.seqno` could overwrite a newer
    /// one. Nothing to do in memory.
    pub fn persist_recovery_point(&self, p: &RecoveryPoint) -> crate::StorageResult<()> {
        let Engine::Lsm(e) = &self.engine else {
            return Ok(());
        };
        let b = recovery::recovery_batch(e, None, p)?;
        e.commit(b, Some(p.seqno))?;
        e.persist()?;
        e.seal_memtables()
    }

    /// After a whole state was installed at `p.seqno` (a checkpoint or a
    /// state transfer, with nothing else running): the catalog and the
    /// recovery point together, then fsync. Nothing to do in memory.
    pub fn persist_installed(&self, p: &RecoveryPoint) -> crate::StorageResult<()> {
        let Engine::Lsm(e) = &self.engine else {
            return Ok(());
        };
        let b = recovery::recovery_batch(e, Some(&self.catalog()), p)?;
        e.commit(b, Some(p.seqno))?;
        e.persist()
    }

    /// Publishes the catalog and horizon stored in the engine (restart from
    /// disk). Returns the recovery point, or None when the engine holds
    /// nothing to restart from.
    pub fn recover_from_engine(&self) -> crate::StorageResult<Option<Recovered>> {
        let Engine::Lsm(e) = &self.engine else {
            return Ok(None);
        };
        let recovered = match recovery::inspect(e)? {
            Found::Ready(r) => *r,
            Found::Nothing | Found::IncompleteTransfer => return Ok(None),
        };
        let cat = recovery::load_catalog(e)?;
        self.set_catalog(cat);
        self.reset_horizon(recovered.horizon);
        Ok(Some(recovered))
    }

    /// Empties the engine before a state transfer is copied in; until the
    /// transfer's recovery point lands, a restart sees it as incomplete.
    pub fn begin_transfer(&self) -> crate::StorageResult<()> {
        match &self.engine {
            Engine::Lsm(e) => e.clear(Some(crate::lsm::keys::TRANSFER)),
            Engine::Memory => Ok(()),
        }
    }

    /// One pass of garbage collection over every table. A table whose pass
    /// fails is skipped (and logged); the next pass tries again.
    pub fn collect_garbage(&self) -> usize {
        let oldest = self.oldest_snapshot();
        let cat = self.catalog();
        cat.all_tables()
            .map(|t| {
                t.collect_garbage(oldest).unwrap_or_else(|e| {
                    tracing::error!(table = %t.def.qualified(), error = %e, "garbage collection");
                    0
                })
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_horizon_step_wakes_only_the_waiters_it_reaches() {
        let store = Store::new();
        assert!(store.horizon_reached(0).is_none());
        let mut w3 = store.horizon_reached(3).expect("not reached yet");
        let mut w5 = store.horizon_reached(5).expect("not reached yet");
        store.advance_horizon(2);
        assert!(w3.try_recv().is_err());
        store.advance_horizon(4);
        assert!(w3.try_recv().is_ok());
        assert!(w5.try_recv().is_err(), "5 is not reached at 4");
        // Never back: a lower value changes nothing.
        store.advance_horizon(1);
        assert_eq!(store.horizon(), 4);
        assert!(store.horizon_reached(4).is_none());
        store.reset_horizon(9);
        assert!(w5.try_recv().is_ok());
    }

    #[test]
    fn a_waiter_fails_when_the_store_goes_away() {
        let store = Store::new();
        let mut w = store.horizon_reached(1).expect("not reached yet");
        drop(store);
        assert!(matches!(
            w.try_recv(),
            Err(oneshot::error::TryRecvError::Closed)
        ));
    }
}
