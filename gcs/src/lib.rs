//! # trireme-gcs: totally ordered group communication
//!
//! Every member of a trireme cluster runs one [`Gcs`]. Together they give
//! each node the **same sequence** of payloads with a dense global seqno
//! ([`Event::Deliver`]), tell each node whether it is in the **primary
//! component** ([`Event::View`]), answer **read-index** queries
//! ([`Gcs::sync_point`]), keep a **persistent ordered log** (the gcache) and
//! carry **state transfer** ([`SnapshotApp`], [`Event::Snapshot`]).
//!
//! Total order and membership come from `openraft` 0.9.25 (raft log = order,
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
//! # Availability, and why openraft 0.9
//!
//! After a single-node fault, the leader included, the majority commits
//! again within about one election timeout, and a cut-off minority reports
//! non-primary within `suspect_ms` (see [`config`] for the timeouts and
//! what each trades). Three mechanisms, all on openraft 0.9's public API:
//!
//! - **pre-vote** ([`election`]): openraft's own election timer is off;
//!   gcs starts an election only after a majority of voters, none of which
//!   heard from a leader within `election_min_ms`, said they would vote.
//!   A follower that was starved of CPU, or a node coming back from a
//!   partition or an eviction, therefore never raises its term and never
//!   deposes a healthy leader; openraft's leader lease (equal to
//!   `election_min_ms`) refuses the real vote in the same window;
//! - **step-down by lease**: a leader that has not heard from a quorum for
//!   `suspect_ms` (< `election_min_ms`) reports non-primary, so it stops
//!   accepting writes and reads before the majority may elect a successor;
//! - **freezes are our own** ([`stall`]): time during which this process
//!   got no CPU is not held against a peer where that only delays a
//!   decision (elections, re-dials), and right after a freeze the replies
//!   that queued meanwhile are read before the primary state changes; a
//!   follower whose leader is silent asks the other voters whether they
//!   hear it ([`net::proto::Request::LeaderSilence`]), so a leader frozen
//!   for less than `election_min_ms` (minus one heartbeat) costs no view
//!   change anywhere;
//! - **leadership hand-over** on [`Gcs::shutdown`]: the leader stops
//!   proposing, waits until a voter has its whole log, and asks it to start
//!   an election at once (`TimeoutNow`); the old leader's own lease has long
//!   expired, so it grants that vote and the group is leaderless for about
//!   one round trip.
//!
//! openraft 0.10 (0.10.0-alpha.37 in the registry) has pre-vote, leader
//! lease and leadership transfer built in, but it is an alpha whose storage
//! and network traits changed (the gcache, the state machine and the
//! transport adapter would all be rewritten, and the crash-safety of the
//! gcache re-established) while its API still moves between alphas. raft-rs
//! (TiKV) has pre-vote, check-quorum and transfer too, but is a
//! message-passing core around which storage, snapshots and the
//! replication loop are hand-written: more of our own code on the path to
//! consensus, not less. The gate above only decides *when* openraft starts
//! an election; who wins and what commits stay openraft's, so safety is
//! unchanged. Revisit once openraft 0.10 is released: `enable_pre_vote` and
//! `trigger().transfer_leader()` would replace [`election`] and the
//! hand-over.
//!
//! Module map: [`config`] (configuration, timeouts and their defaults),
//! [`app`] (the state-transfer seam and the seqno/snapshot scheme),
//! [`gcache`] (log format and storage seam), [`net`] (transport seam, QUIC,
//! in-process router), [`tls`] (certificates), [`codec`] (the one encoder),
//! [`election`] (the pre-vote gate), [`stall`] (how long this process
//! itself was frozen, so that is not held against its peers).

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
pub mod stall;
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
