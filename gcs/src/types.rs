//! Types shared across gcs: the openraft type configuration, what a raft
//! entry carries, and the events delivered to the node.

use std::fmt;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Global sequence number of a delivered payload: dense, 1, 2, 3, ... over
/// every payload ordered in the cluster (not the raft log index). `0` means
/// "nothing yet".
pub type Seqno = u64;

/// Member id (the raft node id), from configuration.
pub type NodeId = u64;

/// What openraft stores about a member in the membership config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberNode {
    /// `node_name` of the member.
    pub name: String,
    /// Address (`host:port`) other members use to reach it.
    pub addr: String,
}

impl fmt::Display for MemberNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.addr)
    }
}

/// Identity of one broadcast, the same on every copy of it (see
/// [`crate::dedup`]): the state machine orders each stamp at most once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// Distinguishes runs of the origin process; grows across restarts.
    pub incarnation: u64,
    /// Per-incarnation counter of the origin's broadcasts.
    pub seq: u64,
    /// Smallest `seq` the origin still waited for when it sent this.
    pub floor: u64,
}

/// One broadcast payload inside a raft entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    /// Member that called `broadcast`.
    pub origin: NodeId,
    /// Identity of the broadcast, kept across retries.
    pub stamp: Stamp,
    /// The bytes, opaque to gcs.
    #[serde(with = "crate::codec::bytes_serde")]
    pub data: Bytes,
}

/// A payload as written before stamps existed; only read from old logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnstampedPayload {
    /// Member that called `broadcast`.
    pub origin: NodeId,
    /// The bytes, opaque to gcs.
    #[serde(with = "crate::codec::bytes_serde")]
    pub data: Bytes,
}

/// Application data of a raft entry.
///
/// Versioning: new variants are appended at the end; existing variants are
/// never changed or reused (the log and peers decode them by position).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Coalesced broadcasts of logs written before stamps: each payload gets
    /// the next seqno. No longer written.
    Batch(Vec<UnstampedPayload>),
    /// Coalesced broadcasts: each payload whose stamp is new gets the next
    /// seqno; copies of an already ordered stamp are dropped.
    Stamped(Vec<Payload>),
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Batch(v) => write!(f, "Batch({} payloads)", v.len()),
            Command::Stamped(v) => write!(f, "Stamped({} payloads)", v.len()),
        }
    }
}

/// Result of applying one raft entry: for each payload, the seqno it was
/// given (for a duplicate, the seqno of its first copy), or `None` when it
/// was dropped as stale.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyResult {
    /// One per payload of the entry, in order.
    pub seqnos: Vec<Option<Seqno>>,
}

openraft::declare_raft_types!(
    /// openraft type configuration of gcs.
    pub TypeConfig:
        D = Command,
        R = ApplyResult,
        NodeId = NodeId,
        Node = MemberNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = crate::sm::SnapshotFile,
        AsyncRuntime = openraft::TokioRuntime,
        Responder = openraft::impls::OneshotResponder<TypeConfig>,
);

/// A raft entry of gcs.
pub type Entry = openraft::Entry<TypeConfig>;
/// A raft log id of gcs.
pub type LogId = openraft::LogId<NodeId>;
/// A membership as stored in the log.
pub type StoredMembership = openraft::StoredMembership<NodeId, MemberNode>;

/// A member as seen in a [`View`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Member id.
    pub id: NodeId,
    /// Member name.
    pub name: String,
    /// Peer address.
    pub address: String,
}

/// A view of the group, like Galera's.
///
/// `view_id` is the raft log index of the membership configuration the view
/// describes, so all members agree on it; a change of `primary` alone is
/// reported as a new `View` event with the same `view_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// Identity of the membership configuration (its raft log index).
    pub view_id: u64,
    /// Voting members, sorted by id.
    pub members: Vec<Member>,
    /// Position of this member in `members`, `None` while it is not a voter
    /// (joining as a learner, evicted, or left).
    pub own_index: Option<usize>,
    /// True when this member is a voter in touch with a leader that is
    /// confirmed by a quorum: it may serve reads and accept writes.
    pub primary: bool,
    /// Current leader, when known.
    pub leader: Option<NodeId>,
    /// Seqno of the last payload delivered before this view in the stream.
    pub last_seqno: Seqno,
}

/// What the node receives from gcs, see [`crate::EventReceiver`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A payload in total order. Every member receives the same sequence;
    /// `seqno` increases by exactly one from one `Deliver` to the next, except
    /// across a [`Event::Snapshot`].
    Deliver {
        /// Dense global sequence number.
        seqno: Seqno,
        /// Member that broadcast it.
        origin: NodeId,
        /// The payload.
        payload: Bytes,
    },
    /// Membership or primary-component change (ordered relative to
    /// deliveries: a membership change appears at its position in the log).
    View(View),
    /// State transfer: replace the local state with `data`, which reflects
    /// exactly the payloads `1..=seqno`. The next `Deliver` has `seqno + 1`.
    /// Sent when this member is too far behind for the log (it was purged) or
    /// on restart when the node's [`crate::SnapshotApp::applied_seqno`] is older
    /// than what the log still holds.
    Snapshot {
        /// The snapshot covers payloads up to and including this seqno.
        seqno: Seqno,
        /// The node's own snapshot bytes, as produced by
        /// [`crate::SnapshotApp::build_snapshot`] on some member.
        data: Bytes,
    },
    /// Unordered, best-effort message from another member
    /// ([`crate::Gcs::send_to_all`]), e.g. flow control.
    Message {
        /// Sender.
        from: NodeId,
        /// The message.
        payload: Bytes,
    },
}
