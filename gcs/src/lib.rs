//! # trireme-gcs: totally ordered group communication
//!
//! Every member of a trireme cluster runs one [`Gcs`]. Together they give
//! each node the **same sequence** of payloads with a dense global seqno
//! ([`Event::Deliver`]), tell each node whether it is in the **primary
//! component** ([`Event::View`]), answer **read-index** queries
//! ([`Gcs::sync_point`]), keep a **persistent ordered log** (the gcache) and
//! carry **state transfer** ([`SnapshotApp`], [`Event::Snapshot`]).
//!
//! Total order and membership come from `openraft` 0.9 (raft log = order,
//! raft membership = group). gcs adds: coalescing of concurrent broadcasts
//! into one raft entry, dense seqnos over payloads, primary-component views,
//! eviction and joining, the gcache with CRC records and group commit, and
//! QUIC transport with mutual TLS.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use trireme_gcs::*;
//! # struct App;
//! # impl SnapshotApp for App {
//! #   fn build_snapshot(&self) -> futures::future::BoxFuture<'_, anyhow::Result<AppSnapshot>> { unimplemented!() }
//! #   fn applied_seqno(&self) -> Seqno { 0 }
//! # }
//! # async fn demo() -> anyhow::Result<()> {
//! let dir = std::path::Path::new("/tmp/n1");
//! let cfg = GcsConfig {
//!     node_id: 1,
//!     node_name: "n1".into(),
//!     listen: "127.0.0.1:4567".parse()?,
//!     cluster_address: "gcomm://".into(),
//!     bootstrap: true,
//!     data_dir: dir.into(),
//!     tls: Some(tls::ensure_dev_certs(&dir.join("certs"), "trireme", "n1")?),
//!     ..Default::default()
//! };
//! let (gcs, mut events) = Gcs::start(cfg, Arc::new(App)).await?;
//! tokio::spawn(async move {
//!     while let Some(ev) = events.recv().await {
//!         match ev {
//!             Event::Deliver { seqno, origin, payload } => { /* certify + apply */ }
//!             Event::View(v) => { /* wsrep_cluster_status = if v.primary { Primary } ... */ }
//!             Event::Snapshot { seqno, data } => { /* replace state, horizon = seqno */ }
//!             Event::Message { from, payload } => { /* flow control */ }
//!         }
//!     }
//! });
//! let seqno = gcs.broadcast(bytes::Bytes::from_static(b"write-set")).await?;
//! let read_index = gcs.sync_point().await?;
//! assert!(read_index >= seqno);
//! gcs.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Module map: [`config`] (configuration, timeouts and their defaults),
//! [`app`] (the state-transfer seam and the seqno/snapshot scheme),
//! [`gcache`] (log format and storage seam), [`net`] (transport seam, QUIC,
//! in-process router), [`tls`] (certificates), [`codec`] (the one encoder).

#![warn(missing_docs)]

pub mod app;
pub mod codec;
pub mod config;
pub mod dedup;
pub mod election;
pub mod error;
mod events;
pub mod gcache;
mod gcs;
pub mod identity;
pub mod net;
pub(crate) mod sm;
pub mod tls;
pub mod types;

/// `tracing` filter directives a binary embedding gcs should add to its
/// default filter: openraft logs every failed replication RPC (several
/// WARN and ERROR lines a second per dead peer); gcs reports a peer that
/// is down once, then at most every 10 s ([`net`]'s peer health).
pub const LOG_DIRECTIVES: &str = "openraft::replication=off";

pub use app::{AppSnapshot, SnapshotApp};
pub use config::{parse_cluster_address, FsyncPolicy, GcsConfig, Timeouts, TlsPaths};
pub use error::{BroadcastError, LeaveError, StartError, SyncError};
pub use events::EventReceiver;
pub use gcs::{ForcedReport, Gcs, Status, TransportChoice};
pub use net::mem::MemRouter;
pub use sm::{SnapHeader, SnapshotFile};
pub use types::{Event, Member, MemberNode, NodeId, Seqno, View};
