//! The transport seam.
//!
//! # Contract of [`Transport`]
//!
//! - [`Transport::call`] delivers one [`Request`] to the member at
//!   `peer.addr` and returns its [`Response`], within `timeout`.
//! - Errors say whether the request may have reached the peer:
//!   [`NetError::Unreachable`] and [`NetError::Refused`] guarantee it was
//!   **not** delivered (no connection, or the handshake was refused);
//!   [`NetError::Timeout`] and [`NetError::Io`] mean it **may** have been
//!   delivered and processed. Callers that must not duplicate work
//!   (forwarded broadcasts) rely on this distinction.
//! - [`Transport::notify`] sends a [`Request::Message`]-style request
//!   one-way, best effort, without waiting.
//! - Incoming requests are handed to the registered [`Handler`] with the
//!   authenticated sender id.
//! - [`Faults`] switches are honoured on both directions: an isolated member
//!   sends nothing (`Unreachable`) and drops everything it receives; a blocked
//!   peer is treated the same way for that peer only.
//!
//! Implementations: [`super::quic::QuicTransport`] (real) and
//! [`super::mem::MemRouter`] (in-process, tests).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use parking_lot::Mutex;

use super::proto::{Request, Response};
use crate::types::NodeId;

/// Where to send.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Peer {
    /// Member id if known (unknown for seed addresses from `cluster_address`).
    pub id: Option<NodeId>,
    /// `host:port`.
    pub addr: String,
}

/// Transport failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    /// Could not reach the peer; the request was not delivered.
    #[error("peer unreachable: {0}")]
    Unreachable(String),
    /// The peer refused us (TLS or hello); the request was not delivered.
    #[error("refused by peer: {0}")]
    Refused(String),
    /// No answer in time; the request may have been processed.
    #[error("timed out")]
    Timeout,
    /// The connection failed after sending; the request may have been processed.
    #[error("connection failed: {0}")]
    Io(String),
}

impl NetError {
    /// True when the request was certainly not delivered.
    pub fn not_delivered(&self) -> bool {
        matches!(self, NetError::Unreachable(_) | NetError::Refused(_))
    }
}

/// Receives requests from other members.
pub trait Handler: Send + Sync + 'static {
    /// Handle one request from the authenticated member `from`.
    fn handle(&self, from: NodeId, req: Request) -> BoxFuture<'static, Response>;
}

/// See the module docs for the contract.
pub trait Transport: Send + Sync + 'static {
    /// Request/response call.
    fn call<'a>(
        &'a self,
        peer: &'a Peer,
        req: &'a Request,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Response, NetError>>;
    /// One-way best-effort send.
    fn notify(&self, peer: &Peer, req: Request);
    /// Stop accepting and close connections.
    fn shutdown(&self) -> BoxFuture<'_, ()>;
}

/// Fault-injection switches (tests, demos). All off by default.
#[derive(Debug, Default)]
pub struct Faults {
    isolated: AtomicBool,
    blocked: Mutex<HashSet<NodeId>>,
    duplicate_forwards: AtomicBool,
}

impl Faults {
    /// Cut this member off from everyone (both directions) or heal it.
    pub fn set_isolated(&self, on: bool) {
        self.isolated.store(on, Ordering::SeqCst);
    }

    /// Whether this member is isolated.
    pub fn isolated(&self) -> bool {
        self.isolated.load(Ordering::SeqCst)
    }

    /// Send every batch forwarded to the leader twice, as a retry would if
    /// the first copy was ordered after all (the state machine must order
    /// it once).
    pub fn set_duplicate_forwards(&self, on: bool) {
        self.duplicate_forwards.store(on, Ordering::SeqCst);
    }

    /// Whether forwarded batches are sent twice.
    pub fn duplicate_forwards(&self) -> bool {
        self.duplicate_forwards.load(Ordering::SeqCst)
    }

    /// Drop all traffic to and from `peer` (or restore it).
    pub fn set_blocked(&self, peer: NodeId, on: bool) {
        let mut b = self.blocked.lock();
        if on {
            b.insert(peer);
        } else {
            b.remove(&peer);
        }
    }

    /// Whether traffic with `peer` (if known) is allowed.
    pub fn allows(&self, peer: Option<NodeId>) -> bool {
        if self.isolated() {
            return false;
        }
        match peer {
            Some(p) => !self.blocked.lock().contains(&p),
            None => true,
        }
    }
}
