//! Restart from disk: what the engine stores beside the rows so that a node
//! restarts from it instead of reloading a full image.
//!
//! # What is stored, and when
//!
//! | meta key | written | holds |
//! |---|---|---|
//! | `horizon` | with every write-set batch (`LsmEngine::commit`) | the contiguous applied prefix `H` |
//! | `auto_inc/<id>` | with the batch whose rows raise it | AUTO_INCREMENT high-water of a table |
//! | `catalog` | by every DDL, in one batch with `horizon = its seqno` | databases, tables (definition, engine id, AUTO_INCREMENT at the DDL), views, users |
//! | `recovery` | every checkpoint interval, in one batch with `horizon = C`, then fsync (with `catalog` too after a whole state was installed) | the certification index and low-water map at seqno `C`, the state uuid |
//! | `layout` | with `recovery` | the version of this layout (`LAYOUT_VERSION`) |
//! | `transfer` | while a state transfer is copied in | a marker: the engine is incomplete |
//!
//! The periodic recovery point never writes the catalog: one captured at
//! `C` could overwrite the catalog of a DDL above `C` that landed meanwhile.
//!
//! Invariant: `C <= H`, and the catalog on disk is the catalog after exactly
//! the ordered events `1..=H` (a DDL writes it with `horizon` = its own
//! seqno; it runs alone, so every earlier seqno has landed). Row versions
//! above `H` may be on disk too (appliers commit out of order); they are
//! versions of write-sets above `H` and a replay writes the same bytes again.
//!
//! # Why the certification index is stored only every interval
//!
//! The certification index changes with every write-set; writing it each
//! time would cost more than the rows. It is a function of the ordered
//! stream only (DESIGN.md), so the node restores the index at `C` and
//! replays the log from `C + 1`: events up to `H` are certified (rebuilding
//! the index and the low-water map exactly as the other members hold them)
//! but not applied, since their effects are on disk; events above `H` are
//! certified and applied as usual. The log is purged only up to `C` (the
//! node asks gcs to purge up to the recovery point, as it did up to the
//! full checkpoint before), so `C + 1` is always still in it.
//!
//! # Why a DDL persists the whole catalog
//!
//! DDL is rare and the catalog small next to the rows; replaying a DDL is
//! not idempotent (`RENAME TABLE a TO b, b TO a`), so it must never run
//! twice: writing the catalog with `horizon` = the DDL's seqno makes it
//! land exactly once. A DDL that copies rows (ALTER, TRUNCATE) writes them
//! to a new table id first; a crash before the catalog lands leaves that
//! id unreferenced (disk space only; dropped-table rows are likewise left
//! until the compaction filter of a later phase).
//!
//! Decoding never panics: damaged bytes are `StorageError::Corrupt`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::engine::LsmEngine;
use super::keys;
use crate::catalog::{TableDef, UserDef, ViewDef};
use crate::codec;
use crate::collation::Collation;
use crate::error::{StorageError, StorageResult};
use crate::{Catalog, Database, Table};

/// Version of the meta layout above; an engine with another one is refused.
pub const LAYOUT_VERSION: u64 = 1;

const CATALOG_MAGIC: &[u8; 3] = b"TLC";
const CATALOG_VERSION: u8 = 1;
const RECOVERY_MAGIC: &[u8; 3] = b"TLR";
const RECOVERY_VERSION: u8 = 1;

#[derive(Serialize, Deserialize)]
struct StoredCatalog {
    databases: Vec<StoredDatabase>,
    users: Vec<(String, UserDef)>,
}

#[derive(Serialize, Deserialize)]
struct StoredDatabase {
    name: String,
    collation: Collation,
    tables: Vec<StoredTable>,
    views: Vec<ViewDef>,
}

#[derive(Serialize, Deserialize)]
struct StoredTable {
    def: TableDef,
    /// The engine's table id (`keys::table_prefix`).
    id: u64,
    /// The high-water when the catalog was written (CREATE TABLE ...
    /// AUTO_INCREMENT = n sets it without a row).
    auto_inc_max: u64,
}

/// Where the certification state was last saved, and what goes with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryPoint {
    /// The seqno `C` the index and the low-water map describe.
    pub seqno: u64,
    pub state_uuid: String,
    /// The certification index (certification codec).
    pub cert: Vec<u8>,
    pub low_water: Vec<(u64, u64)>,
}

/// What an engine holds, as found at open.
#[derive(Debug)]
pub enum Found {
    /// Nothing to restart from (a new engine, or one written before restart
    /// from disk existed): the node starts it empty.
    Nothing,
    /// A state transfer was being copied in when the node stopped.
    IncompleteTransfer,
    /// A usable state.
    Ready(Box<Recovered>),
}

/// A state read back from the engine.
#[derive(Debug)]
pub struct Recovered {
    pub point: RecoveryPoint,
    /// The persisted horizon `H >= point.seqno`.
    pub horizon: u64,
}

fn corrupt(what: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt(what.to_string())
}

/// The catalog as stored; every table must live in the engine.
pub fn encode_catalog(cat: &Catalog) -> StorageResult<Vec<u8>> {
    let mut databases = Vec::with_capacity(cat.databases.len());
    for (name, db) in &cat.databases {
        let mut tables = Vec::with_capacity(db.tables.len());
        for t in db.tables.values() {
            let id = t.lsm_id().ok_or_else(|| {
                StorageError::Engine(format!(
                    "table {} is not in the on-disk engine",
                    t.def.qualified()
                ))
            })?;
            tables.push(StoredTable {
                def: t.def.clone(),
                id,
                auto_inc_max: t.auto_inc_max(),
            });
        }
        databases.push(StoredDatabase {
            name: name.clone(),
            collation: db.collation,
            tables,
            views: db.views.values().cloned().collect(),
        });
    }
    let stored = StoredCatalog {
        databases,
        users: cat
            .users
            .iter()
            .map(|(k, u)| (k.clone(), u.clone()))
            .collect(),
    };
    codec::encode(CATALOG_MAGIC, CATALOG_VERSION, &stored)
        .map_err(|e| StorageError::Engine(format!("encoding the catalog: {e}")))
}

/// The stored catalog, its tables attached to `engine` with their
/// AUTO_INCREMENT high-waters restored.
pub fn decode_catalog(bytes: &[u8], engine: &Arc<LsmEngine>) -> StorageResult<Catalog> {
    let stored: StoredCatalog = codec::decode(CATALOG_MAGIC, CATALOG_VERSION, "catalog", bytes)
        .map_err(|e| corrupt(format!("the stored catalog: {e}")))?;
    let mut cat = Catalog::default();
    for d in stored.databases {
        let mut db = Database {
            name: d.name.clone(),
            tables: Default::default(),
            collation: d.collation,
            views: Default::default(),
        };
        for t in d.tables {
            if t.def.db != d.name {
                return Err(corrupt(format!(
                    "the stored catalog puts table {} in database {}",
                    t.def.qualified(),
                    d.name
                )));
            }
            let table = Table::attach(t.def, engine, t.id);
            table.bump_auto_inc(t.auto_inc_max.max(engine.stored_auto_inc(t.id)));
            db.tables.insert(table.def.name.clone(), Arc::new(table));
        }
        for v in d.views {
            db.views.insert(v.name.clone(), v);
        }
        cat.databases.insert(d.name, db);
    }
    cat.users = stored.users.into_iter().collect();
    Ok(cat)
}

pub fn encode_recovery(p: &RecoveryPoint) -> StorageResult<Vec<u8>> {
    codec::encode(RECOVERY_MAGIC, RECOVERY_VERSION, p)
        .map_err(|e| StorageError::Engine(format!("encoding the recovery point: {e}")))
}

pub fn decode_recovery(bytes: &[u8]) -> StorageResult<RecoveryPoint> {
    codec::decode(RECOVERY_MAGIC, RECOVERY_VERSION, "recovery point", bytes)
        .map_err(|e| corrupt(format!("the stored recovery point: {e}")))
}

/// Decides what `engine` holds. `Err` when it holds something unreadable or
/// of another layout: the caller refuses to start and says how to recover.
pub fn inspect(engine: &Arc<LsmEngine>) -> StorageResult<Found> {
    if engine.meta_get(keys::TRANSFER)?.is_some() {
        return Ok(Found::IncompleteTransfer);
    }
    let Some(rp) = engine.meta_get(keys::RECOVERY)? else {
        return Ok(Found::Nothing);
    };
    match engine.meta_get(keys::LAYOUT)? {
        Some(v) if keys::decode_u64(&v) == Some(LAYOUT_VERSION) => {}
        Some(v) => {
            return Err(StorageError::Engine(format!(
                "the engine's layout is version {:?}; this build reads version {LAYOUT_VERSION}",
                keys::decode_u64(&v)
            )))
        }
        None => return Err(corrupt("recovery point without a layout version")),
    }
    let point = decode_recovery(&rp)?;
    let horizon = engine.persisted_horizon();
    if point.seqno > horizon {
        return Err(corrupt(format!(
            "recovery point at {} is above the stored horizon {horizon}",
            point.seqno
        )));
    }
    Ok(Found::Ready(Box::new(Recovered { point, horizon })))
}

/// The stored catalog of an engine that `inspect` found ready (empty when
/// no DDL ever ran: nothing wrote one).
pub fn load_catalog(engine: &Arc<LsmEngine>) -> StorageResult<Catalog> {
    match engine.meta_get(keys::CATALOG)? {
        Some(bytes) => decode_catalog(&bytes, engine),
        None => Ok(Catalog::default()),
    }
}

/// Meta records that make the catalog durable with `horizon`.
pub(crate) fn catalog_batch(
    engine: &Arc<LsmEngine>,
    cat: &Catalog,
) -> StorageResult<super::LsmBatch> {
    let mut b = engine.batch();
    b.put_meta(keys::CATALOG, encode_catalog(cat)?);
    Ok(b)
}

/// Meta records of a recovery point (with the catalog when given),
/// clearing a state transfer's marker: the engine is complete again.
pub(crate) fn recovery_batch(
    engine: &Arc<LsmEngine>,
    cat: Option<&Catalog>,
    p: &RecoveryPoint,
) -> StorageResult<super::LsmBatch> {
    let mut b = match cat {
        Some(c) => catalog_batch(engine, c)?,
        None => engine.batch(),
    };
    b.put_meta(keys::RECOVERY, encode_recovery(p)?);
    b.put_meta(keys::LAYOUT, LAYOUT_VERSION.to_be_bytes().to_vec());
    b.remove_meta(keys::TRANSFER);
    Ok(b)
}

/// The tables a stored catalog names, by engine table id (state transfer
/// copies exactly these tables' rows: `super::export`).
pub(crate) fn catalog_tables(bytes: &[u8]) -> StorageResult<Vec<(u64, TableDef)>> {
    let stored: StoredCatalog = codec::decode(CATALOG_MAGIC, CATALOG_VERSION, "catalog", bytes)
        .map_err(|e| corrupt(format!("the catalog: {e}")))?;
    Ok(stored
        .databases
        .into_iter()
        .flat_map(|d| d.tables.into_iter().map(|t| (t.id, t.def)))
        .collect())
}

/// A stored catalog with every table's definition version set back to 0:
/// a copy restamped to seqno 0 (a backup seeding a new cluster) must not
/// keep DDL seqnos of the old history, or every snapshot of the new one
/// would be older than its tables (`StorageError::TableDefChanged`).
pub(crate) fn rebase_catalog(bytes: &[u8]) -> StorageResult<Vec<u8>> {
    let mut stored: StoredCatalog = codec::decode(CATALOG_MAGIC, CATALOG_VERSION, "catalog", bytes)
        .map_err(|e| corrupt(format!("the catalog: {e}")))?;
    for d in &mut stored.databases {
        for t in &mut d.tables {
            t.def.version = 0;
        }
    }
    codec::encode(CATALOG_MAGIC, CATALOG_VERSION, &stored)
        .map_err(|e| StorageError::Engine(format!("encoding the catalog: {e}")))
}
