//! The on-disk MVCC row store, on fjall (an LSM tree; see `storage/ENGINE.md`
//! for why this engine).
//!
//! It keeps the in-memory store's model: each row version is its own key,
//! `(table id, primary key, seqno descending)`, so parallel appliers install
//! without coordinating and a reader at snapshot `s` takes, per row, the
//! first version at or below `s`. Index entries live in a second keyspace of
//! the same database, so one engine batch holds a write-set's versions, its
//! index entries and the applied horizon ([`LsmEngine::commit`]). The byte
//! layout is in [`keys`].
//!
//! Garbage collection follows the in-memory rules (keep, per row, the newest
//! version at or below the oldest live snapshot and everything newer; drop a
//! row that is only an old delete; drop index entries no kept version uses),
//! but visits only rows written since it last saw them, so a pass costs in
//! proportion to the writes, not to the table. Phase 2 moves this into a
//! compaction filter.
//!
//! What a restart reads back from the engine (the catalog, the horizon, the
//! certification state at a recovery point) is in [`recovery`]; the
//! consistent copy streamed to a joiner or a backup is in [`export`].
//!
//! Reads that hit a damaged file return [`crate::StorageError::Corrupt`];
//! engine failures [`crate::StorageError::Engine`]. Nothing here panics on
//! stored bytes.

pub mod engine;
pub mod export;
pub mod keys;
pub mod recovery;
pub mod rows;

pub use engine::{LsmBatch, LsmEngine};
pub use rows::{LsmTable, Prior};

#[cfg(test)]
mod tests;

#[cfg(test)]
mod recovery_tests;

#[cfg(test)]
mod export_tests;
