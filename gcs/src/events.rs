//! The event stream towards the node, and the view bookkeeping that keeps
//! views ordered with deliveries.
//!
//! Invariants:
//! - Ordered events (`Deliver`, `View`, `Snapshot`) go through one bounded
//!   queue in the order the state machine produces them. A full queue
//!   back-pressures the state machine (never the raft core).
//! - Views are built and sent under one lock, so a membership change (from
//!   the state machine) and a primary change (from the supervisor) can never
//!   be reported out of order.
//! - `Message` events are unordered and dropped (with a log line) when their
//!   queue is full: they are best effort by contract.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::dedup::Stamper;
use crate::types::{Event, Member, NodeId, StoredMembership, View};

/// Receives the events of one member. Drain it continuously from a task of
/// its own: deliveries wait for room in the queue, and so do `broadcast`
/// calls whose payloads are being applied.
pub struct EventReceiver {
    ordered: mpsc::Receiver<Event>,
    unordered: mpsc::Receiver<Event>,
    ordered_open: bool,
    unordered_open: bool,
}

impl EventReceiver {
    /// Ordered events waiting to be read: the part of the receive queue that
    /// the application has not taken yet (flow control counts it).
    pub fn backlog(&self) -> usize {
        self.ordered.len()
    }

    /// Next event; `None` once the member has shut down and all events were
    /// read. Unordered messages may overtake ordered events.
    pub async fn recv(&mut self) -> Option<Event> {
        loop {
            if !self.ordered_open && !self.unordered_open {
                return None;
            }
            tokio::select! {
                biased;
                m = self.unordered.recv(), if self.unordered_open => match m {
                    Some(e) => return Some(e),
                    None => self.unordered_open = false,
                },
                m = self.ordered.recv(), if self.ordered_open => match m {
                    Some(e) => return Some(e),
                    None => self.ordered_open = false,
                },
            }
        }
    }

    /// Like [`EventReceiver::recv`] without waiting.
    pub fn try_recv(&mut self) -> Option<Event> {
        if let Ok(e) = self.unordered.try_recv() {
            return Some(e);
        }
        self.ordered.try_recv().ok()
    }
}

struct ViewInner {
    membership: Arc<StoredMembership>,
    last: Option<View>,
}

/// Shared control block: event senders plus the current view state.
pub(crate) struct Ctl {
    pub id: NodeId,
    ordered: parking_lot::Mutex<Option<mpsc::Sender<Event>>>,
    unordered: parking_lot::Mutex<Option<mpsc::Sender<Event>>>,
    view: tokio::sync::Mutex<ViewInner>,
    /// This member's current primary state.
    pub primary: AtomicBool,
    /// Current leader id (0 = unknown).
    pub leader: AtomicU64,
    /// Highest seqno assigned by the local state machine.
    pub last_seqno: AtomicU64,
    /// Last view sent (for `Gcs::view`).
    pub current: parking_lot::Mutex<View>,
    /// Stamps of this member's broadcasts.
    pub stamper: Arc<Stamper>,
    /// Views sent since start (every change of primary state, membership
    /// or view id), and how many of them were non-primary.
    pub views_sent: AtomicU64,
    pub nonprimary_views_sent: AtomicU64,
    closed: AtomicBool,
}

impl Ctl {
    pub fn new(id: NodeId, queue: usize, stamper: Arc<Stamper>) -> (Arc<Ctl>, EventReceiver) {
        let (otx, orx) = mpsc::channel(queue);
        let (utx, urx) = mpsc::channel(4096);
        let empty = View {
            view_id: 0,
            members: vec![],
            own_index: None,
            primary: false,
            leader: None,
            last_seqno: 0,
        };
        let ctl = Arc::new(Ctl {
            id,
            ordered: parking_lot::Mutex::new(Some(otx)),
            unordered: parking_lot::Mutex::new(Some(utx)),
            view: tokio::sync::Mutex::new(ViewInner {
                membership: Arc::new(StoredMembership::default()),
                last: None,
            }),
            primary: AtomicBool::new(false),
            leader: AtomicU64::new(0),
            last_seqno: AtomicU64::new(0),
            current: parking_lot::Mutex::new(empty),
            stamper,
            views_sent: AtomicU64::new(0),
            nonprimary_views_sent: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        });
        (
            ctl,
            EventReceiver {
                ordered: orx,
                unordered: urx,
                ordered_open: true,
                unordered_open: true,
            },
        )
    }

    /// Stop sending events (after shutdown): drops the senders, so the
    /// receiver ends once it has read what is queued.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.ordered.lock().take();
        self.unordered.lock().take();
    }

    /// Send an ordered event, waiting for room.
    pub async fn send(&self, ev: Event) {
        let tx = self.ordered.lock().clone();
        let Some(tx) = tx else { return };
        if self.closed.load(Ordering::SeqCst) {
            return;
        }
        if tx.send(ev).await.is_err() {
            tracing::debug!("event receiver dropped; event discarded");
        }
    }

    /// Queue an unordered message; dropped when the queue is full.
    pub fn message(&self, from: NodeId, payload: Bytes) {
        let tx = self.unordered.lock().clone();
        let Some(tx) = tx else { return };
        if let Err(e) = tx.try_send(Event::Message { from, payload }) {
            tracing::warn!(from, error = %e, "control message dropped: the node is not draining events");
        }
    }

    fn build(&self, m: &StoredMembership, primary: bool, leader: Option<NodeId>) -> View {
        let mem = m.membership();
        let mut members: Vec<Member> = mem
            .voter_ids()
            .map(|id| {
                let n = mem.get_node(&id).cloned().unwrap_or_default();
                Member {
                    id,
                    name: n.name,
                    address: n.addr,
                }
            })
            .collect();
        members.sort_by_key(|m| m.id);
        let own_index = members.iter().position(|m| m.id == self.id);
        View {
            view_id: m.log_id().map(|l| l.index).unwrap_or(0),
            primary: primary && own_index.is_some(),
            own_index,
            members,
            leader,
            last_seqno: self.last_seqno.load(Ordering::SeqCst),
        }
    }

    async fn emit(&self, g: &mut ViewInner, force: bool) {
        let leader = match self.leader.load(Ordering::SeqCst) {
            0 => None,
            l => Some(l),
        };
        let v = self.build(&g.membership, self.primary.load(Ordering::SeqCst), leader);
        let changed = match &g.last {
            None => true,
            Some(l) => l.view_id != v.view_id || l.primary != v.primary || l.members != v.members,
        };
        if changed || force {
            g.last = Some(v.clone());
            *self.current.lock() = v.clone();
            self.views_sent.fetch_add(1, Ordering::Relaxed);
            if !v.primary {
                self.nonprimary_views_sent.fetch_add(1, Ordering::Relaxed);
            }
            if v.primary {
                tracing::info!(
                    view_id = v.view_id,
                    members = v.members.len(),
                    "view: primary"
                );
            } else {
                tracing::warn!(
                    view_id = v.view_id,
                    members = v.members.len(),
                    "view: NON-PRIMARY"
                );
            }
            self.send(Event::View(v)).await;
        } else {
            *self.current.lock() = v;
        }
    }

    /// The applied membership changed (called by the state machine, in order).
    pub async fn set_membership(&self, m: Arc<StoredMembership>) {
        let mut g = self.view.lock().await;
        g.membership = m;
        self.emit(&mut g, false).await;
    }

    /// Primary state or leader changed (called by the supervisor).
    pub async fn set_status(&self, primary: bool, leader: Option<NodeId>) {
        let mut g = self.view.lock().await;
        self.primary.store(primary, Ordering::SeqCst);
        self.leader.store(leader.unwrap_or(0), Ordering::SeqCst);
        self.emit(&mut g, false).await;
    }

    /// Emit the current view unconditionally (start-up).
    pub async fn announce(&self) {
        let mut g = self.view.lock().await;
        self.emit(&mut g, true).await;
    }
}
