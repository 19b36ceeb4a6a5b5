//! openraft's network traits over a [`Transport`].
//!
//! Besides carrying raft RPCs, this layer records when each peer last
//! answered (any answer proves reachability); the supervisor uses these
//! timestamps to decide whether the leader sees a quorum (primary) and whom
//! to evict. AppendEntries carries the leader's primary state to followers.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{Backoff, RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use parking_lot::Mutex;

use super::peer_health::PeerHealth;
use super::proto::{Request, Response};
use super::transport::{NetError, Peer, Transport};
use crate::events::Ctl;
use crate::types::{MemberNode, NodeId, TypeConfig};

/// Shared bookkeeping of the network layer.
pub(crate) struct NetCtx {
    /// Last time each peer answered an RPC of ours.
    pub acks: Mutex<HashMap<NodeId, Instant>>,
    /// When we *sent* the newest request each peer answered: the peer heard
    /// from us at or after that instant, so it refuses to vote for another
    /// candidate until at least `election_min_ms` after it (the lease the
    /// supervisor checks before it trusts a leader's primary state right
    /// after a freeze of its own process).
    pub lease: Mutex<HashMap<NodeId, Instant>>,
    pub ctl: Arc<Ctl>,
    pub retry: Duration,
    /// Which peers are down, for logging on change only.
    pub health: PeerHealth,
}

impl NetCtx {
    fn ack(&self, id: NodeId) {
        let now = Instant::now();
        self.acks.lock().insert(id, now);
        PeerHealth::log(id, self.health.answered(id, now), &"");
    }

    /// Peer `id` accepted us as its leader in answer to a request sent at
    /// `sent` (an AppendEntries or snapshot chunk it did not refuse for a
    /// higher vote).
    fn leader_heard(&self, id: NodeId, sent: Instant) {
        let mut l = self.lease.lock();
        let e = l.entry(id).or_insert(sent);
        *e = (*e).max(sent);
    }

    fn failed(&self, id: NodeId, e: &NetError) {
        PeerHealth::log(id, self.health.failed(id, Instant::now()), e);
    }
}

#[derive(Clone)]
pub(crate) struct NetFactory {
    pub transport: Arc<dyn Transport>,
    pub ctx: Arc<NetCtx>,
}

pub(crate) struct PeerClient {
    transport: Arc<dyn Transport>,
    ctx: Arc<NetCtx>,
    target: NodeId,
    peer: Peer,
}

impl RaftNetworkFactory<TypeConfig> for NetFactory {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &MemberNode) -> PeerClient {
        PeerClient {
            transport: self.transport.clone(),
            ctx: self.ctx.clone(),
            target,
            peer: Peer {
                id: Some(target),
                addr: node.addr.clone(),
            },
        }
    }
}

fn map_err<E: std::error::Error>(e: NetError) -> RPCError<NodeId, MemberNode, E> {
    match e {
        NetError::Unreachable(_) | NetError::Refused(_) => {
            RPCError::Unreachable(Unreachable::new(&e))
        }
        NetError::Timeout | NetError::Io(_) => RPCError::Network(NetworkError::new(&e)),
    }
}

fn unexpected<E: std::error::Error>(r: &Response) -> RPCError<NodeId, MemberNode, E> {
    let msg = match r {
        Response::Unavailable(m) => format!("peer unavailable: {m}"),
        _ => "unexpected response type".to_string(),
    };
    RPCError::Unreachable(Unreachable::new(&std::io::Error::other(msg)))
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, MemberNode, RaftError<NodeId>>>
    {
        let req = Request::AppendEntries {
            req: rpc,
            leader_primary: self.ctx.ctl.primary.load(Ordering::SeqCst),
        };
        let sent = Instant::now();
        let answer = self
            .transport
            .call(&self.peer, &req, option.hard_ttl())
            .await
            .inspect_err(|e| self.ctx.failed(self.target, e));
        match answer.map_err(map_err)? {
            Response::AppendEntries(r) => {
                self.ctx.ack(self.target);
                if matches!(&r, Ok(a) if !matches!(a, AppendEntriesResponse::HigherVote(_))) {
                    self.ctx.leader_heard(self.target, sent);
                }
                r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            other => Err(unexpected(&other)),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, MemberNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        let req = Request::InstallSnapshot(rpc);
        let sent = Instant::now();
        match self
            .transport
            .call(&self.peer, &req, option.hard_ttl())
            .await
            .map_err(map_err)?
        {
            Response::InstallSnapshot(r) => {
                self.ctx.ack(self.target);
                if r.is_ok() {
                    self.ctx.leader_heard(self.target, sent);
                }
                r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            other => Err(unexpected(&other)),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, MemberNode, RaftError<NodeId>>> {
        let req = Request::Vote(rpc);
        match self
            .transport
            .call(&self.peer, &req, option.hard_ttl())
            .await
            .map_err(map_err)?
        {
            Response::Vote(r) => {
                self.ctx.ack(self.target);
                r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            other => Err(unexpected(&other)),
        }
    }

    fn backoff(&self) -> Backoff {
        Backoff::new(std::iter::repeat(self.ctx.retry))
    }
}
