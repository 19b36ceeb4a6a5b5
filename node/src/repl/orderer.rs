//! The seam between the commit pipeline and the total order.
//!
//! An `Orderer` takes encoded events and makes them come back, in one total
//! order with dense seqnos, through the delivery stream the node's pipeline
//! consumes (`Replicator::deliver`). In a single node the `LocalOrderer`
//! assigns seqnos in process; in a cluster `gcs` does (see `cluster`).
//!
//! Contract: `submit` returning `Ok` means the event is ordered (it will be
//! delivered on every member). `Err(NotPrimary)` means it was definitely not
//! ordered; `Err(Unknown)` means it may or may not be.

use futures::future::BoxFuture;
use parking_lot::Mutex;
use tokio::sync::mpsc;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    #[error("not in the primary component")]
    NotPrimary,
    /// Definitely not ordered (no leader in time, too large, shut down).
    #[error("not ordered: {0}")]
    NotOrdered(String),
    #[error("outcome unknown: {0}")]
    Unknown(String),
}

pub trait Orderer: Send + Sync + 'static {
    fn submit(&self, payload: Vec<u8>) -> BoxFuture<'_, Result<(), SubmitError>>;
    /// The highest seqno ordered so far, confirmed as a linearizable read
    /// (wsrep_sync_wait).
    fn sync_point(&self) -> BoxFuture<'_, Result<u64, SubmitError>>;
}

/// One delivered event.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub seqno: u64,
    pub origin: u64,
    pub payload: Vec<u8>,
}

/// Orders events of a single node in process.
pub struct LocalOrderer {
    node_id: u64,
    state: Mutex<(u64, mpsc::UnboundedSender<Delivery>)>,
}

impl LocalOrderer {
    /// `last` is the last seqno already delivered (after recovery).
    pub fn new(node_id: u64, last: u64) -> (LocalOrderer, mpsc::UnboundedReceiver<Delivery>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            LocalOrderer {
                node_id,
                state: Mutex::new((last, tx)),
            },
            rx,
        )
    }
}

impl Orderer for LocalOrderer {
    fn submit(&self, payload: Vec<u8>) -> BoxFuture<'_, Result<(), SubmitError>> {
        // Seqno assignment and the send happen under one lock, so the
        // channel order is the seqno order.
        let r = {
            let mut g = self.state.lock();
            g.0 += 1;
            let d = Delivery {
                seqno: g.0,
                origin: self.node_id,
                payload,
            };
            g.1.send(d).map_err(|_| SubmitError::NotPrimary)
        };
        Box::pin(async move { r })
    }

    fn sync_point(&self) -> BoxFuture<'_, Result<u64, SubmitError>> {
        let s = self.state.lock().0;
        Box::pin(async move { Ok(s) })
    }
}
