//! The gcache: gcs's persistent, CRC-checked, ordered log.
//!
#![doc = include_str!("../../docs/gcache-format.md")]

pub mod storage;
pub(crate) mod store;
pub(crate) mod wal;

pub use storage::{LogFile, MemStorage, OsStorage, Storage};
pub use store::{Gcache, GcacheError, GcacheOptions, GcacheReader, RecoveryReport, TornTail};

#[cfg(test)]
mod tests;
