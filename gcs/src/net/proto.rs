//! Messages between members. Encoded with [`crate::codec`] inside
//! [`super::frame`]s. Every request gets exactly one response on the same
//! stream, except [`Request::Message`], which is sent one-way.
//!
//! Versioning: [`PROTOCOL_VERSION`] is exchanged in the [`Hello`]; variants
//! are only ever appended. Version 2 added the incarnations to [`Hello`] and
//! [`HelloReply::Welcome`]; a version-1 hello is recognised and refused with
//! a message naming both versions. Version 3 added the cluster uuid and the
//! application's event format to both (see [`crate::identity`]), and probe
//! hellos; version-2 hellos are refused by name the same way.

use bytes::Bytes;
use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::{Deserialize, Serialize};

use crate::types::{MemberNode, NodeId, Payload, Seqno, TypeConfig};

/// Version of this message set.
pub const PROTOCOL_VERSION: u32 = 3;

/// First message on every connection, from the connecting member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// [`PROTOCOL_VERSION`] of the sender.
    pub protocol: u32,
    /// Cluster name of the sender.
    pub cluster: String,
    /// Sender's member id.
    pub id: NodeId,
    /// Sender's name.
    pub name: String,
    /// Drawn at random each time the sender's transport starts: tells a
    /// restarted member (same id, same address) from its previous
    /// incarnation, whose connections are then known to be dead.
    pub incarnation: u64,
    /// The sender's cluster uuid; `None` for a member with no history yet.
    pub cluster_uuid: Option<String>,
    /// The newest ordered-event format the sender's application reads.
    pub app_version: u32,
    /// Only asks who answers (bootstrap safety): the receiver replies and
    /// closes, records nothing, and adopts nothing.
    pub probe: bool,
}

/// The hello of protocol version 2, decoded only to refuse such a peer by
/// name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelloV2 {
    /// 2.
    pub protocol: u32,
    /// Cluster name of the sender.
    pub cluster: String,
    /// Sender's member id.
    pub id: NodeId,
    /// Sender's name.
    pub name: String,
    /// Sender's incarnation.
    pub incarnation: u64,
}

/// The hello of protocol version 1 (no incarnation), decoded only to refuse
/// such a peer with a clear message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelloV1 {
    /// 1.
    pub protocol: u32,
    /// Cluster name of the sender.
    pub cluster: String,
    /// Sender's member id.
    pub id: NodeId,
    /// Sender's name.
    pub name: String,
}

/// Answer to a [`Hello`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HelloReply {
    /// Accepted; the receiver's id and incarnation.
    Welcome {
        /// The receiver's member id.
        id: NodeId,
        /// The receiver's incarnation (see [`Hello::incarnation`]).
        incarnation: u64,
        /// The receiver's cluster uuid (see [`Hello::cluster_uuid`]).
        cluster_uuid: Option<String>,
        /// The receiver's application format (see [`Hello::app_version`]).
        app_version: u32,
    },
    /// Refused, with the reason (the connection is then closed).
    Refused(String),
}

/// Why a forwarded operation did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FwdError {
    /// The receiver is not the leader; it was not ordered. Leader hint if known.
    NotLeader(Option<(NodeId, String)>),
    /// The receiver (leader) is not in the primary component; not ordered.
    NonPrimary,
    /// Refused for a reason that will not go away by retrying (e.g. too large).
    Refused(String),
    /// The outcome is unknown (e.g. leadership lost after appending).
    Unknown(String),
}

/// A request from one member to another.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[allow(clippy::large_enum_variant)]
pub enum Request {
    /// Raft replication / heartbeat, with the leader's primary state.
    AppendEntries {
        /// The raft request.
        req: AppendEntriesRequest<TypeConfig>,
        /// Whether the sending leader currently sees a quorum.
        leader_primary: bool,
    },
    /// Raft vote.
    Vote(VoteRequest<NodeId>),
    /// One chunk of a snapshot.
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
    /// Payloads to order, sent by a non-leader to the leader.
    Forward(Vec<Payload>),
    /// Ask the leader for a linearizable read index (as a seqno).
    ReadIndex,
    /// Ask to be added as a learner (and later promoted to voter).
    Join {
        /// Joiner id.
        id: NodeId,
        /// Joiner name and address.
        node: MemberNode,
    },
    /// Ask to be removed from the membership.
    Leave {
        /// Member id.
        id: NodeId,
    },
    /// Unordered best-effort message.
    Message(#[serde(with = "crate::codec::bytes_serde")] Bytes),
    /// Pre-vote (see [`crate::election`]): would the receiver vote for
    /// `candidate`, whose last log entry is `last_log` (term, index)? Asks
    /// without changing any term.
    PreVote {
        /// Candidate id.
        candidate: NodeId,
        /// The candidate's last log entry as (term, index).
        last_log: Option<(u64, u64)>,
    },
    /// Leadership transfer: the leader, stopping, asks an up-to-date voter
    /// to start an election at once.
    TimeoutNow,
    /// From a follower whose leader went silent: how long has the receiver
    /// not heard from `leader` in `term`? (see `supervisor` in `gcs.rs`).
    LeaderSilence {
        /// The leader the asking follower follows.
        leader: NodeId,
        /// In this term.
        term: u64,
    },
}

/// The answer to a [`Request`].
#[derive(Debug, Serialize, Deserialize)]
pub enum Response {
    /// To [`Request::AppendEntries`].
    AppendEntries(Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>),
    /// To [`Request::Vote`].
    Vote(Result<VoteResponse<NodeId>, RaftError<NodeId>>),
    /// To [`Request::InstallSnapshot`].
    InstallSnapshot(
        Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>,
    ),
    /// To [`Request::Forward`]: one result per payload, in order.
    Forward(Vec<Result<Seqno, FwdError>>),
    /// To [`Request::ReadIndex`].
    ReadIndex(Result<Seqno, FwdError>),
    /// To [`Request::Join`] and [`Request::Leave`].
    Done(Result<(), FwdError>),
    /// The member cannot serve requests (shutting down).
    Unavailable(String),
    /// To [`Request::PreVote`]: granted or not.
    PreVote(bool),
    /// Milliseconds since the receiver last heard from the leader asked
    /// about; `None` when that is not its leader in that term (or it leads).
    LeaderSilence(Option<u64>),
}
