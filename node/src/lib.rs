//! `trireme-node`: the trireme database node.
//!
//! | module | what it owns |
//! |---|---|
//! | [`value`], [`types`], [`keycode`] | SQL values, column types, memcomparable keys |
//! | [`catalog`], [`storage`] | schemas; the in-memory MVCC row store and the horizon |
//! | [`txn`] | a session's transaction: snapshot + write buffer → write-set |
//! | [`sql`] | parsing, binding, planning and executing MySQL statements |
//! | [`repl`] | the commit pipeline: ordering, certification, parallel apply, TOI |
//! | [`session`] | one connection: transactions, autocommit, the wire `Handler` |
//! | [`node`], [`server`], [`config`] | a running node, its status, start-up |
//! | [`codec`] | the one place node records become bytes |

pub mod bootstrap;
pub mod catalog;
pub mod cluster;
pub mod codec;
pub mod config;
pub mod demo;
pub mod error;
pub mod keycode;
pub mod node;
pub mod repl;
pub mod server;
pub mod session;
pub mod sql;
pub mod state;
pub mod storage;
pub mod txn;
pub mod types;
pub mod value;

/// The version string clients see (`@@version`, the handshake). It reads as
/// a MariaDB 10.11 so MariaDB and Galera tooling accept it.
pub const SERVER_VERSION: &str = "10.11.99-MariaDB-trireme";
