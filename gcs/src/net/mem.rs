//! In-process [`Transport`]: members in one process call each other's
//! handlers directly (after a codec round trip, so encoding bugs still show).
//! Fault switches of both ends are honoured. Used by fast tests; the QUIC
//! transport is exercised by the cluster tests.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use parking_lot::Mutex;

use super::proto::{Request, Response};
use super::transport::{Faults, Handler, NetError, Peer, Transport};
use crate::codec;
use crate::types::NodeId;

struct Slot {
    id: NodeId,
    handler: Weak<dyn Handler>,
    faults: Arc<Faults>,
}

/// A registry of in-process members, keyed by address string.
#[derive(Clone, Default)]
pub struct MemRouter {
    slots: Arc<Mutex<HashMap<String, Slot>>>,
}

impl MemRouter {
    /// Empty router.
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn register(
        &self,
        addr: &str,
        id: NodeId,
        handler: Weak<dyn Handler>,
        faults: Arc<Faults>,
    ) {
        self.slots.lock().insert(
            addr.to_string(),
            Slot {
                id,
                handler,
                faults,
            },
        );
    }

    pub(crate) fn unregister(&self, addr: &str) {
        self.slots.lock().remove(addr);
    }

    /// A transport for the member `id` at `addr`.
    pub(crate) fn endpoint(&self, id: NodeId, addr: &str, faults: Arc<Faults>) -> MemTransport {
        MemTransport {
            router: self.clone(),
            id,
            addr: addr.to_string(),
            faults,
        }
    }
}

/// One member's view of a [`MemRouter`].
pub struct MemTransport {
    router: MemRouter,
    id: NodeId,
    addr: String,
    faults: Arc<Faults>,
}

impl Transport for MemTransport {
    fn call<'a>(
        &'a self,
        peer: &'a Peer,
        req: &'a Request,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Response, NetError>> {
        async move {
            if !self.faults.allows(peer.id) {
                return Err(NetError::Unreachable("fault injection: link is cut".into()));
            }
            let (h, f, pid) = {
                let s = self.router.slots.lock();
                match s.get(&peer.addr) {
                    Some(sl) => (sl.handler.upgrade(), sl.faults.clone(), sl.id),
                    None => {
                        return Err(NetError::Unreachable(format!("no member at {}", peer.addr)))
                    }
                }
            };
            let Some(h) = h else {
                return Err(NetError::Unreachable("member stopped".into()));
            };
            if peer.id.is_some_and(|i| i != pid) {
                return Err(NetError::Refused(format!(
                    "{} is member {pid}, not {:?}",
                    peer.addr, peer.id
                )));
            }
            let bytes = codec::encode(req).map_err(|e| NetError::Unreachable(e.to_string()))?;
            if !f.allows(Some(self.id)) {
                // Delivered to a member that drops it: the caller sees a timeout.
                tokio::time::sleep(timeout).await;
                return Err(NetError::Timeout);
            }
            let req2: Request = codec::decode(&bytes).map_err(|e| NetError::Io(e.to_string()))?;
            let from = self.id;
            match tokio::time::timeout(timeout, h.handle(from, req2)).await {
                Ok(resp) => {
                    let b = codec::encode(&resp).map_err(|e| NetError::Io(e.to_string()))?;
                    codec::decode(&b).map_err(|e| NetError::Io(e.to_string()))
                }
                Err(_) => Err(NetError::Timeout),
            }
        }
        .boxed()
    }

    fn notify(&self, peer: &Peer, req: Request) {
        if !self.faults.allows(peer.id) {
            return;
        }
        let slot = {
            let s = self.router.slots.lock();
            s.get(&peer.addr)
                .map(|sl| (sl.handler.upgrade(), sl.faults.clone()))
        };
        if let Some((Some(h), f)) = slot {
            if f.allows(Some(self.id)) {
                let from = self.id;
                tokio::spawn(async move {
                    let _ = h.handle(from, req).await;
                });
            }
        }
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        self.router.unregister(&self.addr);
        async {}.boxed()
    }
}
