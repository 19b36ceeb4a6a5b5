//! `trireme-node`: the trireme database node.
//!
//! | module | what it owns |
//! |---|---|
//! | [`repl`] | the commit pipeline: write-sets, ordering, certification, parallel apply, TOI |
//! | [`session`] | one connection: transactions, autocommit, the wire `Handler` |
//! | [`node`], [`server`], [`config`] | a running node, its status, start-up |
//! | [`health`], [`metrics`] | `trireme status` for operators and health checks; the Prometheus endpoint |
//! | [`state`], [`bootstrap`] | the state file, bootstrap safety, a new node's catalog |
//! | [`cluster`], [`demo`] | joining the group; the local demo cluster |
//! | [`backup`], [`sst`] | `trireme backup`, the listener that serves it, streamed state transfer |
//!
//! The SQL engine is `trireme_sql`, the store `trireme_storage`; replication
//! reaches SQL only through [`repl::SchemaChange`].

pub mod backup;
pub mod bootstrap;
pub mod cluster;
pub mod config;
pub mod demo;
pub mod health;
pub mod latency;
pub mod members;
pub mod metrics;
pub mod node;
pub mod repl;
pub mod schema;
pub mod server;
pub mod session;
pub mod sst;
pub mod state;
pub mod storage;

pub use trireme_sql::SERVER_VERSION;
