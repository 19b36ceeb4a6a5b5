//! `trireme-storage`: the MVCC store and the datum layer the SQL engine and
//! replication share.
//!
//! | module | what it owns |
//! |---|---|
//! | [`value`], [`types`], [`keycode`] | SQL values, column types, memcomparable keys |
//! | [`collation`] | character sets, collations and their sort keys |
//! | [`catalog`], [`store`], [`table`] | schemas; tables, their MVCC rows and the horizon |
//! | [`lsm`] | the on-disk row store on fjall (engine choice: `storage/ENGINE.md`) |
//! | [`txn`] | a session's transaction: snapshot + private write buffer |
//! | [`checkpoint`] | durable images of the store |
//! | [`codec`] | the one place storage records become bytes |
//!
//! Errors are meanings ([`StorageError`]); MySQL codes are chosen by the SQL
//! layer.

pub mod catalog;
pub mod checkpoint;
pub mod codec;
pub mod collation;
pub mod error;
pub mod keycode;
pub mod lsm;
pub mod store;
pub mod table;
pub mod txn;
pub mod types;
pub mod value;

pub use error::{StorageError, StorageResult};
pub use store::*;
