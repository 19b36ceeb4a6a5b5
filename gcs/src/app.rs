//! The state-transfer seam the node implements.
//!
//! # The snapshot/seqno scheme
//!
//! The node consumes [`crate::Event::Deliver`] asynchronously, so its state
//! usually lags what gcs's raft state machine has applied, and one raft entry
//! may hold several coalesced payloads. gcs therefore never assumes the node's
//! state matches a raft entry boundary:
//!
//! 1. To snapshot, gcs asks the node: [`SnapshotApp::build_snapshot`] returns
//!    `(S, bytes)`, the node's state after payloads `1..=S`.
//! 2. gcs labels the openraft snapshot with the log id `L` of the **last entry
//!    wholly covered** by `S` (every payload of `L` has seqno `<= S`), and
//!    stores `S` and `seqno_end(L)` (the seqno of `L`'s last payload) in the
//!    snapshot header. `seqno_end(L) <= S < seqno_end(L + 1)`.
//! 3. A member installing the snapshot sets its raft state to `L`, numbers the
//!    payloads of entries after `L` from `seqno_end(L) + 1` (so numbering stays
//!    identical on every member), and **skips delivery** of those with seqno
//!    `<= S`. It emits [`crate::Event::Snapshot`] `{ seqno: S, data }`; the
//!    next `Deliver` has seqno `S + 1`.
//! 4. On restart gcs asks [`SnapshotApp::applied_seqno`] = `A` (what the node
//!    has durably applied). If the local snapshot has `seqno_end(L) > A`, the
//!    log may no longer hold payload `A + 1`, so gcs emits the snapshot first
//!    and skips up to its `S`; otherwise it replays the log after `L`, skipping
//!    seqnos `<= A`. Either way the stream continues exactly after the node's
//!    state.

use bytes::Bytes;
use futures::future::BoxFuture;

use crate::types::Seqno;

/// A snapshot of the node's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSnapshot {
    /// The state reflects exactly payloads `1..=seqno`.
    pub seqno: Seqno,
    /// Opaque bytes, handed to other members' nodes in
    /// [`crate::Event::Snapshot`]. Transferred in chunks of
    /// `snapshot_chunk_bytes` and staged in files on both ends.
    pub data: Bytes,
}

/// Implemented by the node: builds snapshots of its state and says what it
/// has applied. Installing happens in stream order through
/// [`crate::Event::Snapshot`], because only the node knows when it has
/// finished with earlier events.
pub trait SnapshotApp: Send + Sync + 'static {
    /// Build a consistent snapshot of the current state. Called when the node
    /// allowed purging ([`crate::Gcs::purge`]) and gcs needs a snapshot to purge
    /// behind. May run concurrently with deliveries. An error postpones the
    /// purge; it never stops the member.
    fn build_snapshot(&self) -> BoxFuture<'_, anyhow::Result<AppSnapshot>>;

    /// Highest seqno the node has durably applied (its checkpoint plus
    /// whatever it rolled forward), read once at [`crate::Gcs::start`] to
    /// decide where the delivery stream resumes. `0` for an empty node.
    fn applied_seqno(&self) -> Seqno;
}
