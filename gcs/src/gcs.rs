//! The member: [`Gcs`] ties the gcache, the state machine, openraft and the
//! transport together and runs three background tasks:
//!
//! - the **submitter** coalesces concurrent broadcasts into raft entries (on
//!   the leader) or forwards them in batches to the leader (elsewhere), with
//!   at most `max_inflight_batches` batches in flight; while that many are in
//!   flight, new payloads queue up and go out together in the next batch;
//! - the **supervisor** decides every half heartbeat whether this member is
//!   primary, emits view changes, and — on the primary leader — promotes
//!   caught-up learners and evicts members silent for `evict_ms`; on a member
//!   outside the membership it keeps asking to join;
//! - the **purger** turns [`Gcs::purge`] into an openraft snapshot plus log
//!   purge while keeping `gcache_size` bytes for catch-up.
//!
//! # Primary component
//!
//! - The leader is primary while a majority of every voter configuration
//!   answered one of its RPCs within `suspect_ms` (itself included).
//! - Any other member is primary while it is a voter and received, within
//!   `suspect_ms`, an AppendEntries from the current leader saying that the
//!   leader is primary; or, for at most `election_min_ms` of the leader's
//!   silence, while a majority of voters (itself included) answer a
//!   [`Request::LeaderSilence`] round saying they have not heard from that
//!   leader since about when it last did (the leader is frozen or dead:
//!   it can commit nothing without one of them, and none of them votes
//!   for a successor yet).
//! - Right after a freeze of this process ([`crate::stall`]), the state
//!   reported before it is kept for at most one heartbeat round while the
//!   messages that queued meanwhile are read: on the leader only while its
//!   lease holds in wall time (a majority accepted, as leader, a request
//!   it sent less than `election_min_ms` ago), on a follower only when its
//!   leader's silence is all our own freeze.
//!
//! So a member cut off from the majority reports non-primary within
//! `suspect_ms` (plus one supervisor tick; plus at most one heartbeat
//! round right after its own freeze), the majority side stays primary
//! through a leader change that completes within `suspect_ms`, and a
//! leader frozen for less than `election_min_ms` minus one heartbeat (its
//! last heartbeat before the freeze starts the followers' lease) costs no
//! view change.
//!
//! # Broadcast outcomes
//!
//! A payload is delivered at most once: every copy carries the payload's
//! stamp and the state machine admits each stamp once ([`crate::dedup`]).
//! Within the `rpc_ms` deadline, and while the caller still waits, a
//! payload is routed again under the same stamp after any failure that
//! leaves it unordered so far: not the leader, no leader, connection
//! refused, entry truncated by a new leader, and also a copy sent to a
//! leader that never answered (lost connection, reset, timeout) or a wait
//! for a primary leader after a leader was lost; so a COMMIT in flight to
//! a leader that dies or is cut off commits through its successor. What
//! fails after a copy went out is [`BroadcastError::Unknown`] (the copy
//! may still be ordered); what fails before is definite.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::FutureExt;
use openraft::error::{ClientWriteError, RaftError};
use openraft::{ChangeMembers, Raft, ServerState};
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot, watch, Semaphore};
use tokio::task::JoinHandle;

use crate::app::SnapshotApp;
use crate::config::{FsyncPolicy, GcsConfig, Timeouts};
use crate::dedup::{next_incarnation, Stamper};
use crate::error::{BroadcastError, LeaveError, StartError, SyncError};
use crate::events::{Ctl, EventReceiver};
use crate::gcache::storage::Storage;
use crate::gcache::{Gcache, GcacheOptions, OsStorage, RecoveryReport};
use crate::identity::ClusterIdentity;
use crate::net::mem::MemRouter;
use crate::net::proto::{FwdError, Request, Response};
use crate::net::quic::{QuicSettings, QuicTransport};
use crate::net::raft_net::{NetCtx, NetFactory};
use crate::net::{Faults, Handler, Peer, Transport};
use crate::sm::Sm;
use crate::stall::StallClock;
use crate::tls::TlsMaterial;
use crate::types::{Command, MemberNode, NodeId, Payload, Seqno, TypeConfig, View};

/// File in the gcache directory holding the last incarnation used.
const INCARNATION_FILE: &str = "incarnation";

/// Pick and record this run's incarnation (see [`crate::dedup`]).
fn new_incarnation(storage: &OsStorage, sync: bool) -> std::io::Result<u64> {
    let prev = match storage.read(INCARNATION_FILE) {
        Ok(b) => std::str::from_utf8(&b)
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    let inc = next_incarnation(prev, now_us);
    storage.write_atomic(INCARNATION_FILE, inc.to_string().as_bytes(), sync)?;
    Ok(inc)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum SubErr {
    /// Definitely not appended; may be retried elsewhere.
    Retry(String),
    NonPrimary,
    /// Definitely not ordered, final.
    Final(String),
    Unknown(String),
}

struct Sub {
    payload: Payload,
    deadline: Instant,
    tx: oneshot::Sender<Result<Seqno, SubErr>>,
    /// Came from another member: order here or fail, never forward.
    local_only: bool,
    /// A copy went to raft or to a leader: it may still be ordered, so a
    /// later failure is "unknown", never "not ordered" (the caller would
    /// retry under a new stamp, which dedup cannot tell from a new
    /// broadcast).
    sent: bool,
}

impl Sub {
    /// Answers with `e`; an origin's broadcast a copy of which went out is
    /// answered "unknown" instead, since that copy may still be ordered
    /// and the caller must not retry it as a new broadcast. (A forwarded
    /// copy at the leader keeps the precise error: its origin decides.)
    fn fail(self, e: SubErr) {
        let e = match e {
            SubErr::Retry(m) | SubErr::Final(m) if self.sent && !self.local_only => {
                SubErr::Unknown(format!("{m}; an earlier copy may still be ordered"))
            }
            SubErr::NonPrimary if self.sent && !self.local_only => SubErr::Unknown(
                "not in the primary component; an earlier copy may still be ordered".into(),
            ),
            e => e,
        };
        let _ = self.tx.send(Err(e));
    }
}

#[derive(Debug, Clone, Copy)]
struct Contact {
    leader: NodeId,
    term: u64,
    at: Instant,
    primary: bool,
}

/// A leader-silence round that succeeded: started at `at`, about `leader`
/// in `term`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SilenceOk {
    leader: NodeId,
    term: u64,
    at: Instant,
}

/// Which transport a member uses.
pub enum TransportChoice {
    /// QUIC with mutual TLS (production).
    Quic,
    /// In-process router (tests).
    InProcess(MemRouter),
}

pub(crate) struct Inner {
    cfg: GcsConfig,
    id: NodeId,
    me: MemberNode,
    seeds: Vec<String>,
    raft: Raft<TypeConfig>,
    transport: Arc<dyn Transport>,
    net: Arc<NetCtx>,
    ctl: Arc<Ctl>,
    sm: Sm,
    gcache: Gcache,
    faults: Arc<Faults>,
    submit_tx: mpsc::UnboundedSender<Sub>,
    contact: Mutex<Option<Contact>>,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    purge_target: watch::Sender<Seqno>,
    local_addr: SocketAddr,
    stopped: AtomicBool,
    membership_busy: Arc<AtomicBool>,
    joining: Arc<AtomicBool>,
    leader_since: Mutex<Option<(u64, Instant)>>,
    nonprimary_since: Mutex<Option<Instant>>,
    /// Last time this member heard from a leader or granted a vote (see
    /// [`crate::election`]).
    election_reset: Mutex<Instant>,
    /// This silence period's randomized election timeout.
    election_timeout: Mutex<Duration>,
    /// Earliest time of this member's next pre-vote round (back-off after
    /// a round, kept apart from `election_reset` so that a member's own
    /// attempts never make it refuse another candidate).
    next_prevote: Mutex<Instant>,
    /// A pre-vote round is in flight.
    prevote_busy: Arc<AtomicBool>,
    /// Leadership is being handed over (shutdown): propose nothing more.
    handing_over: AtomicBool,
    /// This process's freezes (see [`crate::stall`]).
    stall: StallClock,
    /// The newest leader-silence round that found a majority of voters
    /// without news from our leader either (see `supervisor`).
    silence_ok: Mutex<Option<SilenceOk>>,
    /// A leader-silence round is in flight.
    silence_busy: Arc<AtomicBool>,
    router: Option<MemRouter>,
    me_weak: Weak<Inner>,
}

/// A running member. Cheap to clone; all clones drive the same member.
#[derive(Clone)]
pub struct Gcs {
    inner: Arc<Inner>,
}

/// What [`Gcs::force_sole_member`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForcedReport {
    /// The last entry of the log kept (everything up to it will commit).
    pub last_log_index: u64,
    /// Its term.
    pub last_log_term: u64,
    /// The term the member starts in, alone.
    pub new_term: u64,
}

/// A snapshot of a member's state, for status output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// This member.
    pub id: NodeId,
    /// Current view.
    pub view: View,
    /// Raft server state (Leader, Follower, Candidate, Learner).
    pub raft_state: String,
    /// Current raft term.
    pub term: u64,
    /// The raft leader this member knows of.
    pub leader: Option<NodeId>,
    /// Highest seqno assigned by the local state machine.
    pub last_seqno: Seqno,
    /// Last raft log index.
    pub last_log_index: Option<u64>,
    /// Last applied raft log index.
    pub last_applied_index: Option<u64>,
    /// Last purged raft log index.
    pub purged_index: Option<u64>,
    /// Raft index of the current snapshot.
    pub snapshot_index: Option<u64>,
    /// Bytes of ordered log kept (the gcache), for other members' catch-up.
    pub gcache_bytes: u64,
    /// Views this member reported since it started (each change of primary
    /// state, membership or view id counts once).
    pub view_changes: u64,
    /// How many of those views were non-primary.
    pub nonprimary_views: u64,
    /// Freezes of this process the stall clock saw (see [`crate::stall`]).
    pub freezes: u64,
    /// Their total length, ms.
    pub frozen_ms: u64,
}

fn d(ms: u64) -> Duration {
    Timeouts::d(ms)
}

fn quic_settings(cfg: &GcsConfig, identity: Arc<ClusterIdentity>) -> QuicSettings {
    let t = &cfg.timeouts;
    QuicSettings {
        id: cfg.node_id,
        name: cfg.node_name.clone(),
        cluster: cfg.cluster_name.clone(),
        max_frame: cfg.max_frame_bytes,
        connect_timeout: d(t.connect_ms),
        idle_timeout: d(t.idle_ms),
        keep_alive: d(t.heartbeat_ms.min(t.idle_ms / 3).max(1)),
        identity,
    }
}

impl Gcs {
    /// Start a member with the QUIC transport. Returns the handle and the
    /// event stream; drain the stream continuously.
    pub async fn start(
        cfg: GcsConfig,
        app: Arc<dyn SnapshotApp>,
    ) -> Result<(Gcs, EventReceiver), StartError> {
        Self::start_with(cfg, app, TransportChoice::Quic).await
    }

    /// Start a member with an explicit transport, accepting peers of any
    /// cluster uuid (tests of gcs alone).
    pub async fn start_with(
        cfg: GcsConfig,
        app: Arc<dyn SnapshotApp>,
        choice: TransportChoice,
    ) -> Result<(Gcs, EventReceiver), StartError> {
        Self::start_member(cfg, app, choice, Arc::new(ClusterIdentity::any())).await
    }

    /// Asks every member listed in `cluster_address` (except this one) which
    /// cluster it belongs to, within `timeouts.connect_ms` each; returns the
    /// address and the answer (`Ok(None)`: a member with no history yet;
    /// `Err`: nobody answered). Used before bootstrapping, which must never
    /// form a second cluster beside a running one.
    pub async fn probe_members(
        cfg: &GcsConfig,
    ) -> Result<Vec<(String, Result<Option<String>, String>)>, StartError> {
        let seeds = cfg.validate()?;
        let m = TlsMaterial::load(&cfg.tls_paths()).map_err(|e| StartError::Tls(e.to_string()))?;
        let t = &cfg.timeouts;
        let qs = quic_settings(cfg, Arc::new(ClusterIdentity::any()));
        let own = [
            cfg.listen.to_string(),
            cfg.advertise.clone().unwrap_or_default(),
        ];
        let bind = SocketAddr::new(cfg.listen.ip(), 0);
        let q = QuicTransport::bind(bind, &m, qs, Arc::new(Faults::default()))
            .map_err(StartError::Io)?;
        let mut out = Vec::new();
        for addr in seeds.into_iter().filter(|a| !own.contains(a)) {
            let r = tokio::time::timeout(d(t.connect_ms), q.probe(&addr)).await;
            let r = match r {
                Ok(Ok(u)) => Ok(u),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("no answer in time".to_string()),
            };
            out.push((addr, r));
        }
        q.shutdown().await;
        Ok(out)
    }

    /// Makes this member the only voter of its group, keeping its whole log:
    /// the operator's last resort when a majority is gone for good
    /// (Galera's `pc.bootstrap`). Raft cannot change its membership without
    /// a quorum, so this writes, outside raft, a vote for a new term and a
    /// membership entry naming only this member after the last entry of
    /// the log. When the member then starts, it is the sole voter, elects
    /// itself and commits everything its log holds, including entries the
    /// old majority may never have committed; whatever the old majority
    /// committed that this log lacks is lost. Call it before
    /// [`Gcs::start_member`], with the member stopped.
    pub async fn force_sole_member(cfg: &GcsConfig) -> Result<ForcedReport, StartError> {
        use openraft::storage::RaftLogStorage;
        let addr = cfg
            .advertise
            .clone()
            .unwrap_or_else(|| cfg.listen.to_string());
        let me = MemberNode {
            name: cfg.node_name.clone(),
            addr,
        };
        let gdir = cfg.data_dir.join("gcache");
        let storage = OsStorage::new(&gdir)
            .map_err(|e| StartError::Io(format!("{}: {e}", gdir.display())))?;
        let opts = GcacheOptions {
            fsync: FsyncPolicy::Always,
            segment_bytes: cfg.segment_bytes,
            max_read_bytes: (cfg.max_frame_bytes as u64 / 4).max(1 << 20),
        };
        let mut g = tokio::task::spawn_blocking(move || Gcache::open(Arc::new(storage), opts))
            .await
            .map_err(|e| StartError::Io(e.to_string()))??;
        let io = |e: &dyn std::fmt::Display| StartError::Io(format!("forced bootstrap: {e}"));
        let state = g.get_log_state().await.map_err(|e| io(&e))?;
        let vote = g.read_vote().await.map_err(|e| io(&e))?;
        let Some(last) = state.last_log_id.or(state.last_purged_log_id) else {
            g.close();
            return Err(StartError::Config(crate::config::ConfigError(
                "forced bootstrap: this member's log is empty; there is nothing to bootstrap from"
                    .into(),
            )));
        };
        let term = vote
            .map_or(0, |v| v.leader_id().get_term())
            .max(last.leader_id.term)
            + 1;
        let mut nodes = BTreeMap::new();
        nodes.insert(cfg.node_id, me);
        let voters: BTreeSet<NodeId> = [cfg.node_id].into_iter().collect();
        let entry = openraft::Entry::<TypeConfig> {
            log_id: openraft::LogId::new(
                openraft::CommittedLeaderId::new(term, cfg.node_id),
                last.index + 1,
            ),
            payload: openraft::EntryPayload::Membership(openraft::Membership::new(
                vec![voters],
                nodes,
            )),
        };
        g.save_vote(&openraft::Vote::new_committed(term, cfg.node_id))
            .await
            .map_err(|e| io(&e))?;
        g.append_offline(vec![entry]).await.map_err(|e| io(&e))?;
        g.close();
        tracing::warn!(
            term,
            index = last.index + 1,
            "forced bootstrap: this member is now the only voter"
        );
        Ok(ForcedReport {
            last_log_index: last.index,
            last_log_term: last.leader_id.term,
            new_term: term,
        })
    }

    /// Start a member with an explicit transport and identity (cluster
    /// uuid and application format, checked at every handshake).
    pub async fn start_member(
        cfg: GcsConfig,
        app: Arc<dyn SnapshotApp>,
        choice: TransportChoice,
        identity: Arc<ClusterIdentity>,
    ) -> Result<(Gcs, EventReceiver), StartError> {
        let seeds = cfg.validate()?;
        let t = &cfg.timeouts;
        let faults = Arc::new(Faults::default());
        let (transport, quic, local_addr, addr, router): (Arc<dyn Transport>, _, _, String, _) =
            match choice {
                TransportChoice::Quic => {
                    let m = TlsMaterial::load(&cfg.tls_paths()).map_err(|e| {
                    StartError::Tls(format!(
                        "{e}; create the member certificate with trireme_gcs::tls::ensure_dev_certs (development) or from the cluster CA"
                    ))
                })?;
                    let qs = quic_settings(&cfg, identity.clone());
                    let q = QuicTransport::bind(cfg.listen, &m, qs, faults.clone())
                        .map_err(StartError::Io)?;
                    let la = q.local_addr();
                    let addr = match &cfg.advertise {
                    Some(a) => a.clone(),
                    None if la.ip().is_unspecified() => {
                        return Err(StartError::Config(crate::config::ConfigError(format!(
                            "listen address {la} is unspecified; set advertise = \"host:port\" so other members can reach this one"
                        ))))
                    }
                    None => la.to_string(),
                };
                    (q.clone() as Arc<dyn Transport>, Some(q), la, addr, None)
                }
                TransportChoice::InProcess(r) => {
                    let addr = cfg
                        .advertise
                        .clone()
                        .unwrap_or_else(|| cfg.listen.to_string());
                    let tr = Arc::new(r.endpoint(cfg.node_id, &addr, faults.clone()));
                    (tr as Arc<dyn Transport>, None, cfg.listen, addr, Some(r))
                }
            };
        let me = MemberNode {
            name: cfg.node_name.clone(),
            addr: addr.clone(),
        };
        let gdir = cfg.data_dir.join("gcache");
        let storage = OsStorage::new(&gdir)
            .map_err(|e| StartError::Io(format!("{}: {e}", gdir.display())))?;
        let incarnation = new_incarnation(&storage, cfg.fsync == FsyncPolicy::Always)
            .map_err(|e| StartError::Io(format!("{}/{INCARNATION_FILE}: {e}", gdir.display())))?;
        let (ctl, rx) = Ctl::new(cfg.node_id, cfg.event_queue, Stamper::new(incarnation));
        let opts = GcacheOptions {
            fsync: cfg.fsync,
            segment_bytes: cfg.segment_bytes,
            max_read_bytes: (cfg.max_frame_bytes as u64 / 4).max(1 << 20),
        };
        let gcache = tokio::task::spawn_blocking(move || Gcache::open(Arc::new(storage), opts))
            .await
            .map_err(|e| StartError::Io(e.to_string()))??;
        let sm = Sm::open(
            cfg.data_dir.join("snapshots"),
            app,
            ctl.clone(),
            cfg.fsync == FsyncPolicy::Always,
        )
        .await
        .map_err(|e| StartError::Io(format!("snapshots: {e}")))?;

        let stall = StallClock::start(d(t.stall_ms), d(t.stall_max_ms))
            .map_err(|e| StartError::Io(format!("stall clock thread: {e}")))?;
        if let Some(q) = &quic {
            q.set_stall_clock(stall.clone());
        }
        let net = Arc::new(NetCtx {
            acks: Mutex::new(Default::default()),
            lease: Mutex::new(Default::default()),
            ctl: ctl.clone(),
            retry: d(t.heartbeat_ms.max(50)),
            health: Default::default(),
        });
        let rcfg = openraft::Config {
            cluster_name: cfg.cluster_name.clone(),
            heartbeat_interval: t.heartbeat_ms,
            // gcs starts elections itself after a pre-vote (see
            // crate::election); openraft's timer stays off, and its leader
            // lease (= election_timeout_max) matches the pre-vote's.
            enable_elect: false,
            election_timeout_min: t.election_min_ms,
            election_timeout_max: t.election_min_ms + 1,
            install_snapshot_timeout: t.rpc_ms,
            max_payload_entries: 256,
            snapshot_policy: openraft::SnapshotPolicy::Never,
            snapshot_max_chunk_size: cfg.snapshot_chunk_bytes,
            max_in_snapshot_log_to_keep: u64::MAX,
            purge_batch_size: 1,
            ..Default::default()
        }
        .validate()
        .map_err(|e| StartError::Config(crate::config::ConfigError(e.to_string())))?;
        let factory = NetFactory {
            transport: transport.clone(),
            ctx: net.clone(),
        };
        let raft = Raft::new(
            cfg.node_id,
            Arc::new(rcfg),
            factory,
            gcache.clone(),
            sm.clone(),
        )
        .await
        .map_err(|e| StartError::Raft(e.to_string()))?;

        let (submit_tx, submit_rx) = mpsc::unbounded_channel();
        let (stop, _) = watch::channel(false);
        let (purge_target, _) = watch::channel(0);
        let first_timeout =
            crate::election::election_timeout(t.election_min_ms, t.election_max_ms, rand::random());
        let inner = Arc::new_cyclic(|w: &Weak<Inner>| Inner {
            id: cfg.node_id,
            me: me.clone(),
            seeds,
            raft: raft.clone(),
            transport,
            net,
            ctl,
            sm,
            gcache,
            faults: faults.clone(),
            submit_tx,
            contact: Mutex::new(None),
            stop,
            tasks: Mutex::new(Vec::new()),
            purge_target,
            local_addr,
            stopped: AtomicBool::new(false),
            membership_busy: Arc::new(AtomicBool::new(false)),
            joining: Arc::new(AtomicBool::new(false)),
            leader_since: Mutex::new(None),
            nonprimary_since: Mutex::new(Some(Instant::now())),
            election_reset: Mutex::new(Instant::now()),
            election_timeout: Mutex::new(first_timeout),
            next_prevote: Mutex::new(Instant::now()),
            prevote_busy: Arc::new(AtomicBool::new(false)),
            handing_over: AtomicBool::new(false),
            stall,
            silence_ok: Mutex::new(None),
            silence_busy: Arc::new(AtomicBool::new(false)),
            router: router.clone(),
            me_weak: w.clone(),
            cfg,
        });
        let h: Weak<dyn Handler> = Arc::downgrade(&(inner.clone() as Arc<dyn Handler>));
        if let Some(q) = &quic {
            q.set_handler(h.clone());
        }
        if let Some(r) = &router {
            r.register(&addr, inner.id, h, faults);
        }
        if inner.cfg.bootstrap {
            let init = raft
                .is_initialized()
                .await
                .map_err(|e| StartError::Raft(e.to_string()))?;
            if !init {
                tracing::info!(id = inner.id, "bootstrapping a new cluster");
                let mut m = BTreeMap::new();
                m.insert(inner.id, me.clone());
                raft.initialize(m)
                    .await
                    .map_err(|e| StartError::Raft(e.to_string()))?;
            }
        }
        let tasks = vec![
            tokio::spawn(submitter(inner.clone(), submit_rx)),
            tokio::spawn(supervisor(inner.clone())),
            tokio::spawn(purger(inner.clone())),
        ];
        *inner.tasks.lock() = tasks;
        tracing::info!(id = inner.id, name = %inner.cfg.node_name, %addr, "gcs member started");
        Ok((Gcs { inner }, rx))
    }

    /// This member's id.
    pub fn id(&self) -> NodeId {
        self.inner.id
    }

    /// Bound peer address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// Address advertised to other members.
    pub fn advertised_addr(&self) -> &str {
        &self.inner.me.addr
    }

    /// What gcache recovery found at start.
    pub fn recovery(&self) -> &RecoveryReport {
        self.inner.gcache.recovery()
    }

    /// Fault-injection switches of this member's transport (tests, demos).
    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// The latest view.
    pub fn view(&self) -> View {
        self.inner.ctl.current.lock().clone()
    }

    /// Current status.
    pub fn status(&self) -> Status {
        let m = self.inner.raft.metrics().borrow().clone();
        Status {
            id: self.inner.id,
            view: self.view(),
            raft_state: format!("{:?}", m.state),
            term: m.current_term,
            leader: m.current_leader,
            last_seqno: self.inner.ctl.last_seqno.load(Ordering::SeqCst),
            last_log_index: m.last_log_index,
            last_applied_index: m.last_applied.map(|l| l.index),
            purged_index: m.purged.map(|l| l.index),
            snapshot_index: m.snapshot.map(|l| l.index),
            gcache_bytes: self.inner.gcache.bytes(),
            view_changes: self.inner.ctl.views_sent.load(Ordering::Relaxed),
            nonprimary_views: self.inner.ctl.nonprimary_views_sent.load(Ordering::Relaxed),
            freezes: self.inner.stall.count(),
            frozen_ms: self.inner.stall.total_ms(),
        }
    }

    /// Order `payload` cluster-wide. Returns its seqno once it is committed
    /// (the payload also appears in every member's delivery stream). See
    /// [`BroadcastError`] for which failures are ambiguous.
    pub async fn broadcast(&self, payload: Bytes) -> Result<Seqno, BroadcastError> {
        let i = &self.inner;
        if i.stopped.load(Ordering::SeqCst) {
            return Err(BroadcastError::Shutdown);
        }
        if payload.len() > i.cfg.max_payload_bytes {
            return Err(BroadcastError::TooLarge {
                size: payload.len(),
                max: i.cfg.max_payload_bytes,
            });
        }
        if !i.ctl.primary.load(Ordering::SeqCst) {
            return Err(BroadcastError::NonPrimary);
        }
        let (tx, rx) = oneshot::channel();
        // Held until we answer: while it is open, no later broadcast of ours
        // lets the state machine forget this stamp.
        let issued = i.ctl.stamper.issue();
        let sub = Sub {
            payload: Payload {
                origin: i.id,
                stamp: issued.stamp,
                data: payload,
            },
            deadline: Instant::now() + d(i.cfg.timeouts.rpc_ms),
            tx,
            local_only: false,
            sent: false,
        };
        if i.submit_tx.send(sub).is_err() {
            return Err(BroadcastError::Shutdown);
        }
        let answer = rx.await;
        drop(issued);
        match answer {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(SubErr::NonPrimary)) => Err(BroadcastError::NonPrimary),
            Ok(Err(SubErr::Retry(m))) | Ok(Err(SubErr::Final(m))) => {
                Err(BroadcastError::NotOrdered(m))
            }
            Ok(Err(SubErr::Unknown(m))) => Err(BroadcastError::Unknown(m)),
            Err(_) => Err(BroadcastError::Unknown(
                "member stopped while the broadcast was in flight".into(),
            )),
        }
    }

    /// Highest seqno ordered in the primary component, confirmed by a quorum
    /// (a linearizable read index): every broadcast that returned before this
    /// call started has a seqno `<=` the result.
    pub async fn sync_point(&self) -> Result<Seqno, SyncError> {
        let i = &self.inner;
        if i.stopped.load(Ordering::SeqCst) {
            return Err(SyncError::Shutdown);
        }
        if !i.ctl.primary.load(Ordering::SeqCst) {
            return Err(SyncError::NonPrimary);
        }
        let deadline = Instant::now() + d(i.cfg.timeouts.rpc_ms);
        let mut last_err = String::from("no leader");
        while Instant::now() < deadline {
            if i.stopped.load(Ordering::SeqCst) {
                return Err(SyncError::Shutdown);
            }
            let leader = i.raft.metrics().borrow().current_leader;
            match leader {
                Some(l) if l == i.id => match i.read_index(deadline).await {
                    Ok(s) => return Ok(s),
                    Err(e) => last_err = format!("{e:?}"),
                },
                Some(l) => {
                    if let Some(peer) = i.peer_of(l) {
                        let left = deadline.saturating_duration_since(Instant::now());
                        match i.transport.call(&peer, &Request::ReadIndex, left).await {
                            Ok(Response::ReadIndex(Ok(s))) => return Ok(s),
                            Ok(Response::ReadIndex(Err(e))) => last_err = format!("{e:?}"),
                            Ok(other) => last_err = format!("unexpected answer {other:?}"),
                            Err(e) => last_err = e.to_string(),
                        }
                    }
                }
                None => {}
            }
            i.wait_metrics_change(
                d(i.cfg.timeouts.heartbeat_ms)
                    .min(deadline.saturating_duration_since(Instant::now())),
            )
            .await;
        }
        Err(SyncError::Timeout(last_err))
    }

    /// Send `payload` to every other current member, unordered and best
    /// effort; they receive [`crate::Event::Message`].
    pub fn send_to_all(&self, payload: Bytes) {
        let i = &self.inner;
        let mem = i.raft.metrics().borrow().membership_config.clone();
        for (id, node) in mem.membership().nodes() {
            if *id != i.id {
                i.transport.notify(
                    &Peer {
                        id: Some(*id),
                        addr: node.addr.clone(),
                    },
                    Request::Message(payload.clone()),
                );
            }
        }
    }

    /// The node no longer needs payloads `<= upto` (its checkpoint). gcs may
    /// then snapshot and purge its log behind that point, keeping
    /// `gcache_size` bytes for catch-up of other members. Asynchronous.
    pub fn purge(&self, upto: Seqno) {
        self.inner.purge_target.send_if_modified(|v| {
            if upto > *v {
                *v = upto;
                true
            } else {
                false
            }
        });
    }

    /// Leave the cluster gracefully: ask the leader to remove this member,
    /// wait until the removal is committed, then shut down.
    pub async fn leave(&self) -> Result<(), LeaveError> {
        let i = &self.inner;
        if i.stopped.load(Ordering::SeqCst) {
            return Err(LeaveError::Shutdown);
        }
        let deadline = Instant::now() + d(i.cfg.timeouts.rpc_ms);
        let mut last = String::from("no leader");
        while Instant::now() < deadline {
            let leader = i.raft.metrics().borrow().current_leader;
            match leader {
                Some(l) if l == i.id => match i.remove_member(i.id).await {
                    Ok(()) => {
                        self.shutdown().await;
                        return Ok(());
                    }
                    Err(e) => last = format!("{e:?}"),
                },
                Some(l) => {
                    if let Some(peer) = i.peer_of(l) {
                        let left = deadline.saturating_duration_since(Instant::now());
                        match i
                            .transport
                            .call(&peer, &Request::Leave { id: i.id }, left)
                            .await
                        {
                            Ok(Response::Done(Ok(()))) => {
                                self.shutdown().await;
                                return Ok(());
                            }
                            Ok(r) => last = format!("{r:?}"),
                            Err(e) => last = e.to_string(),
                        }
                    }
                }
                None => {}
            }
            i.wait_metrics_change(d(i.cfg.timeouts.heartbeat_ms)).await;
        }
        Err(LeaveError::Failed(last))
    }

    /// Stop the member: stop tasks, raft and the transport, flush the gcache.
    /// The event stream ends. Idempotent.
    pub async fn shutdown(&self) {
        let i = &self.inner;
        if i.stopped.load(Ordering::SeqCst) {
            return;
        }
        i.hand_over().await;
        if i.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        tracing::info!(id = i.id, "gcs member shutting down");
        let _ = i.stop.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(1), i.ctl.set_status(false, None)).await;
        i.ctl.close();
        let tasks: Vec<_> = std::mem::take(&mut *i.tasks.lock());
        for t in &tasks {
            t.abort();
        }
        let t0 = Instant::now();
        if tokio::time::timeout(Duration::from_secs(10), i.raft.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("raft did not stop within 10 s");
        }
        tracing::debug!(elapsed = ?t0.elapsed(), "raft stopped");
        i.transport.shutdown().await;
        i.stall.stop();
        tracing::debug!(elapsed = ?t0.elapsed(), "transport stopped");
        if let Some(r) = &i.router {
            r.unregister(&i.me.addr);
        }
        let _ = i.gcache.flush().await;
        let g = i.gcache.clone();
        let _ = tokio::task::spawn_blocking(move || g.close()).await;
    }

    /// The underlying openraft handle (diagnostics, tests).
    pub fn raft(&self) -> &Raft<TypeConfig> {
        &self.inner.raft
    }
}

impl Inner {
    fn arc(&self) -> Option<Arc<Inner>> {
        self.me_weak.upgrade()
    }

    fn peer_of(&self, id: NodeId) -> Option<Peer> {
        let m = self.raft.metrics().borrow().membership_config.clone();
        m.membership().get_node(&id).map(|n| Peer {
            id: Some(id),
            addr: n.addr.clone(),
        })
    }

    fn leader_hint(&self) -> Option<(NodeId, String)> {
        let l = self.raft.metrics().borrow().current_leader?;
        self.peer_of(l).map(|p| (l, p.addr))
    }

    async fn wait_metrics_change(&self, max: Duration) {
        let mut rx = self.raft.metrics();
        // A fresh receiver counts the current value as unseen; mark it
        // seen, or `changed()` returns at once and callers spin.
        rx.borrow_and_update();
        let _ = tokio::time::timeout(max.max(Duration::from_millis(5)), rx.changed()).await;
    }

    fn is_leader(&self) -> bool {
        let m = self.raft.metrics();
        let m = m.borrow();
        m.state == ServerState::Leader && m.current_leader == Some(self.id)
    }

    async fn read_index(&self, deadline: Instant) -> Result<Seqno, FwdError> {
        if !self.is_leader() {
            return Err(FwdError::NotLeader(self.leader_hint()));
        }
        if !self.ctl.primary.load(Ordering::SeqCst) {
            return Err(FwdError::NonPrimary);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, self.raft.ensure_linearizable()).await {
            Ok(Ok(_)) => Ok(self.ctl.last_seqno.load(Ordering::SeqCst)),
            Ok(Err(RaftError::APIError(openraft::error::CheckIsLeaderError::ForwardToLeader(
                f,
            )))) => Err(FwdError::NotLeader(
                f.leader_id
                    .and_then(|id| f.leader_node.clone().map(|n| (id, n.addr))),
            )),
            Ok(Err(RaftError::APIError(e))) => Err(FwdError::Unknown(e.to_string())),
            Ok(Err(e)) => Err(FwdError::Unknown(e.to_string())),
            Err(_) => Err(FwdError::Unknown("read index not confirmed in time".into())),
        }
    }

    async fn remove_member(&self, id: NodeId) -> Result<(), FwdError> {
        let mut s = BTreeSet::new();
        s.insert(id);
        let m = self.raft.metrics().borrow().membership_config.clone();
        let is_voter = m.membership().voter_ids().any(|v| v == id);
        let change = if is_voter {
            ChangeMembers::RemoveVoters(s)
        } else {
            ChangeMembers::RemoveNodes(s)
        };
        if !is_voter && m.membership().get_node(&id).is_none() {
            return Ok(());
        }
        match self.raft.change_membership(change, false).await {
            Ok(_) => Ok(()),
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_))) => {
                Err(FwdError::NotLeader(self.leader_hint()))
            }
            Err(e) => Err(FwdError::Unknown(e.to_string())),
        }
    }

    /// Order a batch on this (leader) member.
    async fn propose(&self, mut subs: Vec<Sub>) {
        for s in &mut subs {
            s.sent = true;
        }
        let payloads: Vec<Payload> = subs.iter().map(|s| s.payload.clone()).collect();
        let deadline = subs
            .iter()
            .map(|s| s.deadline)
            .max()
            .unwrap_or_else(Instant::now);
        let res: Result<Vec<Option<Seqno>>, SubErr> =
            match self.raft.client_write_ff(Command::Stamped(payloads)).await {
                Err(e) => Err(SubErr::Final(format!("raft stopped: {e}"))),
                Ok(rx) => match tokio::time::timeout(
                    deadline.saturating_duration_since(Instant::now()),
                    rx,
                )
                .await
                {
                    Err(_) => Err(SubErr::Unknown("not committed within rpc_ms".into())),
                    Ok(Err(_)) => Err(SubErr::Unknown(
                        "raft stopped while the entry was in flight".into(),
                    )),
                    Ok(Ok(Ok(resp))) => Ok(resp.data.seqnos),
                    // openraft 0.9 answers ForwardToLeader for an appended
                    // entry when its log is truncated from that index
                    // (DeleteConflictLog): a newer leader's log differs
                    // there, so the entry should never commit. Should a copy
                    // commit after all, the state machine drops the second
                    // one by its stamp, so a retry is safe either way.
                    Ok(Ok(Err(ClientWriteError::ForwardToLeader(_)))) => Err(SubErr::Retry(
                        "leadership moved before the entry was committed".into(),
                    )),
                    Ok(Ok(Err(e))) => Err(SubErr::Unknown(e.to_string())),
                },
            };
        match res {
            Ok(seqnos) => {
                for (s, q) in subs.into_iter().zip(seqnos) {
                    let _ = s.tx.send(match q {
                        Some(q) => Ok(q),
                        None => Err(SubErr::Final(
                            "dropped as stale: the origin restarted or gave up on it".into(),
                        )),
                    });
                }
            }
            Err(e) => self.requeue_or_fail(subs, e),
        }
    }

    /// In a non-primary state: a broadcast nothing of which went out fails
    /// at once (1047 to the client, as Galera answers); one a copy of which
    /// reached a leader is kept and routed again under the same stamp.
    /// Failing it here would only turn it into "unknown", for which the
    /// origin waits until its COMMIT deadline anyway; kept, it reaches the
    /// successor as soon as one is elected (a leader cut off with the copy
    /// can no longer commit it, and if it did, the state machine drops the
    /// second copy by its stamp). This is what keeps a majority's commit
    /// gap at one election when every client of it had a COMMIT in flight
    /// to the lost leader.
    async fn fail_unsent_hold_sent(&self, subs: Vec<Sub>) {
        let (sent, unsent): (Vec<Sub>, Vec<Sub>) = subs.into_iter().partition(|s| s.sent);
        for s in unsent {
            s.fail(SubErr::NonPrimary);
        }
        if !sent.is_empty() {
            self.retry_after_change(sent, "waiting for a primary leader")
                .await;
        }
    }

    /// Routes `subs` again after the next change of raft metrics (a new
    /// leader, a new term) or one heartbeat, whichever comes first, so a
    /// retry waiting for the cluster to move does not spin.
    async fn retry_after_change(&self, subs: Vec<Sub>, why: &str) {
        self.wait_metrics_change(d(self.cfg.timeouts.heartbeat_ms))
            .await;
        self.requeue_or_fail(subs, SubErr::Retry(why.into()));
    }

    /// Retry definite failures (if time is left and the caller still
    /// waits); fail the rest.
    fn requeue_or_fail(&self, subs: Vec<Sub>, e: SubErr) {
        for s in subs {
            if s.tx.is_closed() {
                // The caller gave up (its COMMIT deadline passed and the
                // client was told the outcome is unknown): no new copy.
                continue;
            }
            match &e {
                SubErr::Retry(_) if !s.local_only && Instant::now() < s.deadline => {
                    if let Err(mpsc::error::SendError(s)) = self.submit_tx.send(s) {
                        let _ =
                            s.tx.send(Err(SubErr::Final("member is shutting down".into())));
                    }
                }
                _ => s.fail(e.clone()),
            }
        }
    }

    /// Send a batch to the leader.
    async fn forward(&self, mut subs: Vec<Sub>, peer: Peer) {
        // Marks the batch as possibly appended by `peer`: every answer but
        // "not delivered" and "unavailable" (shutting down, nothing taken)
        // leaves that possible, a NotLeader included (the peer may have
        // appended it and then lost leadership).
        fn reached(subs: &mut [Sub]) {
            for s in subs {
                s.sent = true;
            }
        }
        if self.faults.duplicate_forwards() {
            reached(&mut subs);
        }
        let payloads: Vec<Payload> = subs.iter().map(|s| s.payload.clone()).collect();
        let deadline = subs
            .iter()
            .map(|s| s.deadline)
            .max()
            .unwrap_or_else(Instant::now);
        let n = subs.len();
        if self.faults.duplicate_forwards() {
            let left = deadline.saturating_duration_since(Instant::now());
            let first = self
                .transport
                .call(&peer, &Request::Forward(payloads.clone()), left)
                .await;
            tracing::debug!(?first, "fault: first copy of a duplicated forward");
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let req = Request::Forward(payloads);
        let call = self.transport.call(&peer, &req, left);
        // A leader that is cut off or dead answers late or never; once
        // another leader is known, send the batch there instead. Safe even
        // if the first copy is ordered after all: the state machine admits
        // each stamp once and answers the duplicate with the first seqno
        // (see crate::dedup).
        let moved = async {
            let mut rx = self.raft.metrics();
            for _ in 0..1_000_000 {
                let l = rx.borrow_and_update().current_leader;
                if l.is_some() && l != peer.id {
                    return;
                }
                if rx.changed().await.is_err() {
                    break;
                }
            }
            std::future::pending::<()>().await
        };
        let answer = tokio::select! {
            r = call => r,
            _ = moved => {
                tracing::debug!(old = ?peer.id, "leader changed while forwarding; re-routing");
                reached(&mut subs);
                self.requeue_or_fail(subs, SubErr::Retry("the leader changed".into()));
                return;
            }
        };
        let nothing_taken = matches!(&answer, Ok(Response::Unavailable(_)))
            || matches!(&answer, Err(e) if e.not_delivered());
        if !nothing_taken {
            reached(&mut subs);
        }
        match answer {
            Ok(Response::Forward(rs)) if rs.len() == n => {
                for (s, r) in subs.into_iter().zip(rs) {
                    match r {
                        Ok(q) => {
                            let _ = s.tx.send(Ok(q));
                        }
                        Err(FwdError::NotLeader(_)) => {
                            self.requeue_or_fail(vec![s], SubErr::Retry("leader moved".into()))
                        }
                        Err(FwdError::NonPrimary) => self.requeue_or_fail(
                            vec![s],
                            SubErr::Retry("leader is not primary".into()),
                        ),
                        Err(FwdError::Refused(m)) => {
                            let _ = s.tx.send(Err(SubErr::Final(m)));
                        }
                        Err(FwdError::Unknown(m)) => {
                            let _ = s.tx.send(Err(SubErr::Unknown(m)));
                        }
                    }
                }
            }
            Ok(Response::Unavailable(m)) => self.requeue_or_fail(subs, SubErr::Retry(m)),
            Ok(other) => self.requeue_or_fail(
                subs,
                SubErr::Unknown(format!("unexpected answer from leader: {other:?}")),
            ),
            Err(e) if e.not_delivered() => self.requeue_or_fail(subs, SubErr::Retry(e.to_string())),
            Err(e) => {
                // Sent, no answer (lost connection, reset, timeout): the
                // leader may have appended it. Same stamp, next leader.
                tracing::debug!(error = %e, "forwarded batch unanswered; routing it again");
                self.retry_after_change(subs, "the leader did not answer")
                    .await
            }
        }
    }

    /// Handle one batch: order it here, forward it, or wait for a leader.
    async fn route(&self, subs: Vec<Sub>) {
        let now = Instant::now();
        let (live, expired): (Vec<Sub>, Vec<Sub>) =
            subs.into_iter().partition(|s| s.deadline > now);
        for s in expired {
            s.fail(SubErr::Final("no leader ordered it within rpc_ms".into()));
        }
        if live.is_empty() {
            return;
        }
        let (leader, state) = {
            let m = self.raft.metrics();
            let m = m.borrow();
            (m.current_leader, m.state)
        };
        match leader {
            Some(l) if l == self.id && state == ServerState::Leader => {
                if self.handing_over.load(Ordering::SeqCst) {
                    // The successor orders it once elected.
                    self.retry_after_change(live, "leadership being handed over")
                        .await;
                    return;
                }
                if !self.ctl.primary.load(Ordering::SeqCst) {
                    // Elected but not yet confirmed primary, or a leader
                    // cut off from its quorum.
                    self.fail_unsent_hold_sent(live).await;
                    return;
                }
                self.propose(live).await
            }
            _ if live.iter().all(|s| s.local_only) => {
                let hint = self.leader_hint();
                for s in live {
                    let _ = s.tx.send(Err(SubErr::Retry(format!(
                        "not the leader (leader: {hint:?})"
                    ))));
                }
            }
            Some(l) => {
                let (remote, local): (Vec<Sub>, Vec<Sub>) =
                    live.into_iter().partition(|s| !s.local_only);
                for s in local {
                    s.fail(SubErr::Retry("not the leader".into()));
                }
                if !self.ctl.primary.load(Ordering::SeqCst)
                    && self.nonprimary_for() > d(self.cfg.timeouts.suspect_ms)
                {
                    self.fail_unsent_hold_sent(remote).await;
                    return;
                }
                match self.peer_of(l) {
                    Some(p) => self.forward(remote, p).await,
                    None => {
                        self.retry_after_change(remote, "leader address unknown")
                            .await;
                    }
                }
            }
            None => {
                // No leader yet: wait for one, then retry.
                self.retry_after_change(live, "no leader").await;
            }
        }
    }

    /// This member's last log position as (term, index).
    async fn last_log_pos(&self) -> crate::election::LogPos {
        use openraft::storage::RaftLogStorage;
        let mut g = self.gcache.clone();
        g.get_log_state()
            .await
            .ok()
            .and_then(|st| st.last_log_id)
            .map(|l| (l.leader_id.term, l.index))
    }

    /// Starts a pre-vote round when this voter has heard from no leader
    /// for its election timeout (see [`crate::election`]).
    fn maybe_prevote(&self, configs: Vec<Vec<NodeId>>) {
        let now = Instant::now();
        // Running time: while this process was frozen the leader's
        // heartbeats queued up unread; only delays an election.
        let silent = self.stall.running_since(*self.election_reset.lock());
        if silent < *self.election_timeout.lock()
            || now < *self.next_prevote.lock()
            || self.handing_over.load(Ordering::SeqCst)
            || self.prevote_busy.swap(true, Ordering::SeqCst)
        {
            return;
        }
        // Split votes and refused rounds back off for a random while.
        let t = &self.cfg.timeouts;
        *self.next_prevote.lock() = now
            + crate::election::election_timeout(
                t.election_min_ms / 2,
                t.election_max_ms / 2,
                rand::random(),
            );
        let Some(me) = self.arc() else {
            self.prevote_busy.store(false, Ordering::SeqCst);
            return;
        };
        tokio::spawn(async move {
            me.prevote(configs).await;
            me.prevote_busy.store(false, Ordering::SeqCst);
        });
    }

    async fn prevote(&self, configs: Vec<Vec<NodeId>>) {
        let last_log = self.last_log_pos().await;
        let req = Request::PreVote {
            candidate: self.id,
            last_log,
        };
        let peers: BTreeSet<NodeId> = configs
            .iter()
            .flatten()
            .copied()
            .filter(|v| *v != self.id)
            .collect();
        let timeout = d(self.cfg.timeouts.heartbeat_ms * 2);
        let asks = peers.iter().filter_map(|id| self.peer_of(*id)).map(|p| {
            let req = &req;
            async move {
                // Bounded here too: a peer we have no connection to must
                // not hold the round for a whole connect timeout.
                let ok = matches!(
                    tokio::time::timeout(timeout, self.transport.call(&p, req, timeout)).await,
                    Ok(Ok(Response::PreVote(true)))
                );
                (p.id, ok)
            }
        });
        let answers = futures::future::join_all(asks).await;
        let granted = agreeing(answers, self.id);
        if !quorum_ok(&configs, &|id| granted.contains(&id)) {
            tracing::debug!(?granted, "pre-vote lost; no election");
            return;
        }
        // A leader may have appeared while we asked.
        if self
            .contact
            .lock()
            .is_some_and(|c| self.stall.running_since(c.at) < d(self.cfg.timeouts.election_min_ms))
        {
            return;
        }
        tracing::info!(?granted, ?last_log, "pre-vote won; starting an election");
        if let Err(e) = self.raft.trigger().elect().await {
            tracing::warn!(error = %e, "could not start an election");
        }
    }

    /// Graceful stop of the leader: let the most up-to-date voter take over
    /// first, so the group is without a leader for about one round trip
    /// instead of an election timeout. Bounded; best effort.
    async fn hand_over(&self) {
        if !self.is_leader() {
            return;
        }
        let t0 = Instant::now();
        let t = &self.cfg.timeouts;
        let deadline = t0 + d(t.election_min_ms.max(1_000) + t.heartbeat_ms * 4);
        self.handing_over.store(true, Ordering::SeqCst);
        let m = self.raft.metrics().borrow().clone();
        let voters: Vec<NodeId> = m
            .membership_config
            .membership()
            .voter_ids()
            .filter(|v| *v != self.id)
            .collect();
        if voters.is_empty() {
            return;
        }
        // Wait until one voter has everything we have (nothing new is
        // proposed now), preferring the one furthest ahead.
        let mut target = None;
        for _ in 0..1_000 {
            let m = self.raft.metrics().borrow().clone();
            let last = m.last_log_index;
            let best = voters
                .iter()
                .map(|v| {
                    let matched = m
                        .replication
                        .as_ref()
                        .and_then(|r| r.get(v).cloned())
                        .flatten()
                        .map(|l| l.index);
                    (matched, *v)
                })
                .max();
            if let Some((matched, v)) = best {
                if matched.is_some() && matched == last {
                    target = Some(v);
                    break;
                }
            }
            if Instant::now() >= deadline {
                break;
            }
            let _ = self.raft.trigger().heartbeat().await;
            self.wait_metrics_change(Duration::from_millis(50)).await;
        }
        let Some(target) = target.and_then(|v| self.peer_of(v)) else {
            tracing::warn!(
                "no up-to-date voter to hand leadership to; stopping without a transfer"
            );
            return;
        };
        let left = deadline.saturating_duration_since(Instant::now());
        match self
            .transport
            .call(&target, &Request::TimeoutNow, left)
            .await
        {
            Ok(Response::Done(Ok(()))) => {}
            other => {
                tracing::warn!(to = ?target.id, answer = ?other, "leadership transfer refused");
                return;
            }
        }
        for _ in 0..1_000 {
            if !self.is_leader() || Instant::now() >= deadline {
                break;
            }
            self.wait_metrics_change(Duration::from_millis(50)).await;
        }
        tracing::info!(
            to = ?target.id,
            handed_over = !self.is_leader(),
            elapsed_ms = t0.elapsed().as_millis() as u64,
            "leadership transfer on shutdown"
        );
    }

    /// Whether a leader-silence round about `c`'s leader and term started
    /// less than one heartbeat ago found a majority without news from it.
    fn silence_confirmed(&self, c: Contact, now: Instant) -> bool {
        self.silence_ok.lock().is_some_and(|s| {
            s.leader == c.leader
                && s.term == c.term
                && now.duration_since(s.at) < d(self.cfg.timeouts.heartbeat_ms)
        })
    }

    /// Starts a leader-silence round (one at a time): our leader has been
    /// silent for `silent`; ask the other voters (not the leader) how long
    /// it has been silent to them.
    ///
    /// A follower cannot tell "the leader is frozen or dead" from "I am cut
    /// off from a leader that still commits with the others" by itself, so
    /// without this it reports non-primary after `suspect_ms` of silence,
    /// and a leader frozen a little longer takes every node through a
    /// non-primary view. A voter that has also heard nothing from the
    /// leader since about when we last did (within half a heartbeat) proves
    /// the second case false for the two of us: anything the leader commits
    /// needs a majority, which includes us or one of the voters that
    /// answered, so if a majority (us included) agrees, we miss at most
    /// what was sent in that half heartbeat. Until `election_min_ms` of
    /// silence, no successor can be elected either (no voter of that
    /// majority grants a pre-vote). A round is valid for one heartbeat.
    fn probe_silence(&self, configs: Vec<Vec<NodeId>>, c: Contact, silent: Duration) {
        if self.silence_busy.swap(true, Ordering::SeqCst) {
            return;
        }
        let Some(me) = self.arc() else {
            self.silence_busy.store(false, Ordering::SeqCst);
            return;
        };
        tokio::spawn(async move {
            let started = Instant::now();
            let t = &me.cfg.timeouts;
            let timeout = d(t.heartbeat_ms);
            let slack = d(t.heartbeat_ms / 2);
            let peers: BTreeSet<NodeId> = configs
                .iter()
                .flatten()
                .copied()
                .filter(|v| *v != me.id && *v != c.leader)
                .collect();
            let req = Request::LeaderSilence {
                leader: c.leader,
                term: c.term,
            };
            let asks = peers.iter().filter_map(|id| me.peer_of(*id)).map(|p| {
                let req = &req;
                let me = &me;
                async move {
                    let r =
                        tokio::time::timeout(timeout, me.transport.call(&p, req, timeout)).await;
                    let agrees = matches!(
                        r,
                        Ok(Ok(Response::LeaderSilence(Some(ms))))
                            if Duration::from_millis(ms) + slack >= silent
                    );
                    (p.id, agrees)
                }
            });
            let answers = futures::future::join_all(asks).await;
            let agreed = agreeing(answers, me.id);
            if quorum_ok(&configs, &|id| agreed.contains(&id)) {
                let mut g = me.silence_ok.lock();
                if g.is_none_or(|s| s.at < started) {
                    *g = Some(SilenceOk {
                        leader: c.leader,
                        term: c.term,
                        at: started,
                    });
                }
            } else {
                tracing::debug!(?agreed, "leader-silence round: no majority without news");
            }
            me.silence_busy.store(false, Ordering::SeqCst);
        });
    }

    fn nonprimary_for(&self) -> Duration {
        self.nonprimary_since
            .lock()
            .map(|t| t.elapsed())
            .unwrap_or_default()
    }

    fn record_contact(&self, leader: Option<NodeId>, term: u64, primary: Option<bool>) {
        let Some(leader) = leader else { return };
        *self.election_reset.lock() = Instant::now();
        let mut c = self.contact.lock();
        let p = primary.unwrap_or_else(|| c.is_some_and(|c| c.primary && c.leader == leader));
        *c = Some(Contact {
            leader,
            term,
            at: Instant::now(),
            primary: p,
        });
    }

    async fn handle_req(self: Arc<Self>, from: NodeId, req: Request) -> Response {
        if self.stopped.load(Ordering::SeqCst) {
            return Response::Unavailable("member is shutting down".into());
        }
        match req {
            Request::AppendEntries {
                req,
                leader_primary,
            } => {
                let leader = req.vote.leader_id().voted_for();
                let term = req.vote.leader_id().get_term();
                let r = self.raft.append_entries(req).await;
                if let Ok(resp) = &r {
                    if !matches!(resp, openraft::raft::AppendEntriesResponse::HigherVote(_)) {
                        self.record_contact(leader, term, Some(leader_primary));
                    }
                }
                Response::AppendEntries(r)
            }
            Request::Vote(v) => {
                let r = self.raft.vote(v).await;
                if r.as_ref().is_ok_and(|v| v.vote_granted) {
                    *self.election_reset.lock() = Instant::now();
                }
                Response::Vote(r)
            }
            Request::PreVote {
                candidate,
                last_log,
            } => {
                let mine = self.last_log_pos().await;
                let leader = self.is_leader();
                // Running time: our own freezes make us refuse longer
                // (delays an election, never hastens one).
                let heard = self.stall.running_since(*self.election_reset.lock());
                let grant = crate::election::grant_prevote(
                    leader && self.ctl.primary.load(Ordering::SeqCst),
                    leader,
                    heard,
                    d(self.cfg.timeouts.election_min_ms),
                    mine,
                    last_log,
                );
                if grant {
                    // Like a granted vote: let that candidate go first.
                    let t = &self.cfg.timeouts;
                    let hold = Instant::now()
                        + crate::election::election_timeout(
                            t.election_min_ms / 2,
                            t.election_max_ms / 2,
                            rand::random(),
                        );
                    let mut next = self.next_prevote.lock();
                    *next = (*next).max(hold);
                }
                tracing::debug!(candidate, grant, ?last_log, ?mine, "pre-vote request");
                Response::PreVote(grant)
            }
            Request::TimeoutNow => {
                let m = self.raft.metrics().borrow().clone();
                let voter = m
                    .membership_config
                    .membership()
                    .voter_ids()
                    .any(|v| v == self.id);
                if !voter || self.is_leader() {
                    return Response::Done(Err(FwdError::Refused("not a follower voter".into())));
                }
                tracing::info!(from, "leader hands over: starting an election now");
                match self.raft.trigger().elect().await {
                    Ok(()) => Response::Done(Ok(())),
                    Err(e) => Response::Done(Err(FwdError::Unknown(e.to_string()))),
                }
            }
            Request::InstallSnapshot(s) => {
                let leader = s.vote.leader_id().voted_for();
                let term = s.vote.leader_id().get_term();
                let r = self.raft.install_snapshot(s).await;
                if r.is_ok() {
                    self.record_contact(leader, term, None);
                }
                Response::InstallSnapshot(r)
            }
            Request::Forward(payloads) => {
                let deadline = Instant::now() + d(self.cfg.timeouts.rpc_ms);
                let mut rxs = Vec::with_capacity(payloads.len());
                for p in payloads {
                    if p.data.len() > self.cfg.max_payload_bytes {
                        let (tx, rx) = oneshot::channel();
                        let _ = tx.send(Err(SubErr::Final(format!(
                            "payload of {} bytes exceeds max_payload_bytes",
                            p.data.len()
                        ))));
                        rxs.push(rx);
                        continue;
                    }
                    let (tx, rx) = oneshot::channel();
                    let _ = self.submit_tx.send(Sub {
                        payload: p,
                        deadline,
                        tx,
                        local_only: true,
                        sent: false,
                    });
                    rxs.push(rx);
                }
                let mut out = Vec::with_capacity(rxs.len());
                for rx in rxs {
                    out.push(match rx.await {
                        Ok(Ok(s)) => Ok(s),
                        Ok(Err(SubErr::Retry(_))) => Err(FwdError::NotLeader(self.leader_hint())),
                        Ok(Err(SubErr::NonPrimary)) => Err(FwdError::NonPrimary),
                        Ok(Err(SubErr::Final(m))) => Err(FwdError::Refused(m)),
                        Ok(Err(SubErr::Unknown(m))) => Err(FwdError::Unknown(m)),
                        Err(_) => Err(FwdError::Unknown("leader stopped".into())),
                    });
                }
                Response::Forward(out)
            }
            Request::ReadIndex => Response::ReadIndex(
                self.read_index(Instant::now() + d(self.cfg.timeouts.rpc_ms))
                    .await,
            ),
            Request::Join { id, node } => {
                if !self.is_leader() {
                    return Response::Done(Err(FwdError::NotLeader(self.leader_hint())));
                }
                if !self.ctl.primary.load(Ordering::SeqCst) {
                    return Response::Done(Err(FwdError::NonPrimary));
                }
                if id == 0 || id == self.id && node.addr != self.me.addr {
                    return Response::Done(Err(FwdError::Refused(format!(
                        "member id {id} is already taken"
                    ))));
                }
                let m = self.raft.metrics().borrow().membership_config.clone();
                if let Some(old) = m.membership().get_node(&id) {
                    if *old == node {
                        return Response::Done(Ok(()));
                    }
                    // Known member at a new address (restarted elsewhere).
                    tracing::info!(id, old = %old, new = %node, "member address changed");
                    let change = ChangeMembers::SetNodes([(id, node)].into_iter().collect());
                    return match self.raft.change_membership(change, true).await {
                        Ok(_) => Response::Done(Ok(())),
                        Err(e) => Response::Done(Err(FwdError::Unknown(e.to_string()))),
                    };
                }
                tracing::info!(id, %node, "adding joiner as learner");
                match self.raft.add_learner(id, node, false).await {
                    Ok(_) => Response::Done(Ok(())),
                    Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_))) => {
                        Response::Done(Err(FwdError::NotLeader(self.leader_hint())))
                    }
                    Err(e) => Response::Done(Err(FwdError::Unknown(e.to_string()))),
                }
            }
            Request::Leave { id } => {
                if !self.is_leader() {
                    return Response::Done(Err(FwdError::NotLeader(self.leader_hint())));
                }
                tracing::info!(id, "member leaves");
                Response::Done(self.remove_member(id).await)
            }
            Request::Message(p) => {
                self.ctl.message(from, p);
                Response::Done(Ok(()))
            }
            Request::LeaderSilence { leader, term } => {
                let c = *self.contact.lock();
                let m_term = self.raft.metrics().borrow().current_term;
                let ms = c
                    .filter(|c| {
                        c.leader == leader && c.term == term && m_term == term && !self.is_leader()
                    })
                    .map(|c| c.at.elapsed().as_millis() as u64);
                Response::LeaderSilence(ms)
            }
        }
    }
}

impl Handler for Inner {
    fn handle(&self, from: NodeId, req: Request) -> BoxFuture<'static, Response> {
        match self.arc() {
            Some(me) => me.handle_req(from, req).boxed(),
            None => async { Response::Unavailable("member stopped".into()) }.boxed(),
        }
    }
}

/// Coalesce submissions into batches and route them.
async fn submitter(inner: Arc<Inner>, mut rx: mpsc::UnboundedReceiver<Sub>) {
    let sem = Arc::new(Semaphore::new(inner.cfg.max_inflight_batches));
    let mut q: VecDeque<Sub> = VecDeque::new();
    let max_n = inner.cfg.batch_max_payloads;
    let max_b = inner.cfg.batch_max_bytes;
    loop {
        if q.is_empty() {
            match rx.recv().await {
                Some(s) => q.push_back(s),
                None => return,
            }
        }
        let Ok(permit) = sem.clone().acquire_owned().await else {
            return;
        };
        while let Ok(s) = rx.try_recv() {
            q.push_back(s);
        }
        let mut batch = Vec::new();
        let mut bytes = 0;
        while let Some(s) = q.front() {
            let sz = s.payload.data.len();
            if !batch.is_empty() && (batch.len() >= max_n || bytes + sz > max_b) {
                break;
            }
            bytes += sz;
            if let Some(s) = q.pop_front() {
                batch.push(s);
            }
        }
        let me = inner.clone();
        tokio::spawn(async move {
            me.route(batch).await;
            drop(permit);
        });
    }
}

fn quorum_ok(configs: &[Vec<NodeId>], alive: &dyn Fn(NodeId) -> bool) -> bool {
    configs.iter().all(|c| {
        let n = c.iter().filter(|id| alive(**id)).count();
        n * 2 > c.len()
    })
}

/// Primary detection, views, membership management, joining.
async fn supervisor(inner: Arc<Inner>) {
    let t = inner.cfg.timeouts.clone();
    let tick = d((t.heartbeat_ms / 2).clamp(10, 500));
    let suspect = d(t.suspect_ms);
    let evict = d(t.evict_ms);
    let mut stop = inner.stop.subscribe();
    let mut last_join = Instant::now() - Duration::from_secs(3600);
    let join_every = d((t.heartbeat_ms * 10).clamp(200, 5_000));
    // One heartbeat round: after a freeze of this process, the time to
    // read what queued meanwhile and to hear answers to fresh heartbeats.
    let grace = d(t.heartbeat_ms * 2);
    let lease = d(t.election_min_ms);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = stop.changed() => return,
        }
        let m = inner.raft.metrics().borrow().clone();
        let mem = m.membership_config.membership().clone();
        let configs: Vec<Vec<NodeId>> = mem
            .get_joint_config()
            .iter()
            .map(|c| c.iter().copied().collect())
            .collect();
        let is_voter = mem.voter_ids().any(|v| v == inner.id);
        let in_membership = mem.get_node(&inner.id).is_some();
        let leader = m.state == ServerState::Leader && m.current_leader == Some(inner.id);
        let now = Instant::now();
        let was_primary = inner.ctl.primary.load(Ordering::SeqCst);
        // Just woke from a freeze of this process (see crate::stall).
        let woke = inner.stall.woke_within(grace, now);
        let primary = if leader {
            let since = {
                let mut ls = inner.leader_since.lock();
                if ls.is_none_or(|(term, _)| term != m.current_term) {
                    *ls = Some((m.current_term, now));
                }
                ls.map(|(_, t)| t).unwrap_or(now)
            };
            let acks = inner.net.acks.lock().clone();
            let alive = |id: NodeId| {
                id == inner.id
                    || acks
                        .get(&id)
                        .is_some_and(|t| now.duration_since(*t) < suspect)
            };
            let confirmed = is_voter && quorum_ok(&configs, &alive);
            if confirmed || !was_primary || !woke || !is_voter {
                confirmed
            } else {
                // Frozen past suspect_ms: our acks are stale only because
                // we could not run. Keep the primary state for at most one
                // heartbeat round after waking, so the answers queued
                // meanwhile and those to the heartbeats openraft sends on
                // waking are counted first, but only while the lease holds
                // in wall time: a majority accepted us as leader in answer
                // to a request sent less than election_min_ms ago, so each
                // of them refuses pre-votes and votes until after now and
                // no successor can exist yet. A leader frozen so long that
                // a successor may exist steps down at once, as before.
                let leases = inner.net.lease.lock().clone();
                let held = |id: NodeId| {
                    id == inner.id
                        || leases
                            .get(&id)
                            .is_some_and(|s| *s >= since && now.duration_since(*s) < lease)
                };
                let holds = quorum_ok(&configs, &held);
                if holds {
                    tracing::debug!("woke from a freeze: confirming the quorum before judging");
                }
                holds
            }
        } else {
            *inner.leader_since.lock() = None;
            let c = (*inner.contact.lock()).filter(|c| {
                is_voter
                    && c.primary
                    && m.current_leader == Some(c.leader)
                    && c.term == m.current_term
            });
            match c {
                None => false,
                Some(c) => {
                    let silent = now.duration_since(c.at);
                    // Ask ahead of suspect_ms (two heartbeats), so a
                    // fresh round is at hand when it passes.
                    if silent + tick * 4 >= suspect && silent < lease {
                        inner.probe_silence(configs.clone(), c, silent);
                    }
                    if silent < suspect {
                        true
                    } else if silent < lease && inner.silence_confirmed(c, now) {
                        // The leader is silent to a majority of voters, us
                        // included: it can commit nothing we miss, and no
                        // successor can exist before election_min_ms.
                        true
                    } else {
                        // Just woke, and the leader's silence is all our
                        // own freeze: read the heartbeats queued meanwhile
                        // before judging (at most one heartbeat round).
                        was_primary && woke && inner.stall.running_since(c.at) < suspect
                    }
                }
            }
        };
        {
            let mut np = inner.nonprimary_since.lock();
            if primary {
                *np = None;
            } else if np.is_none() {
                *np = Some(now);
            }
        }
        inner.ctl.set_status(primary, m.current_leader).await;

        if !leader && is_voter {
            inner.maybe_prevote(configs.clone());
        }

        if leader && primary && !inner.membership_busy.load(Ordering::SeqCst) {
            let acks = inner.net.acks.lock().clone();
            let since = inner.leader_since.lock().map(|(_, t)| t).unwrap_or(now);
            let silent = |id: NodeId| {
                let last = acks.get(&id).copied().unwrap_or(since).max(since);
                now.duration_since(last) > evict
            };
            let mut change = None;
            // Promote caught-up learners.
            for l in mem.learner_ids() {
                let matched = m
                    .replication
                    .as_ref()
                    .and_then(|r| r.get(&l).cloned())
                    .flatten();
                let caught_up =
                    matched.map(|x| x.index) >= m.last_applied.map(|x| x.index.saturating_sub(16));
                if silent(l) {
                    tracing::warn!(id = l, "removing learner silent for longer than evict_ms");
                    change = Some(ChangeMembers::RemoveNodes([l].into_iter().collect()));
                    break;
                }
                if caught_up && matched.is_some() {
                    tracing::info!(id = l, "promoting caught-up learner to voter");
                    change = Some(ChangeMembers::AddVoterIds([l].into_iter().collect()));
                    break;
                }
            }
            // Evict silent voters.
            if change.is_none() {
                for v in mem.voter_ids() {
                    if v != inner.id && silent(v) {
                        tracing::warn!(
                            id = v,
                            evict_ms = t.evict_ms,
                            "evicting member unreachable for longer than evict_ms"
                        );
                        change = Some(ChangeMembers::RemoveVoters([v].into_iter().collect()));
                        break;
                    }
                }
            }
            if let Some(c) = change {
                inner.membership_busy.store(true, Ordering::SeqCst);
                let me = inner.clone();
                tokio::spawn(async move {
                    let r = tokio::time::timeout(
                        d(me.cfg.timeouts.rpc_ms),
                        me.raft.change_membership(c, false),
                    )
                    .await;
                    if let Ok(Err(e)) | Err(e) = r
                        .map_err(|_| "timed out".to_string())
                        .map(|r| r.map_err(|e| e.to_string()))
                    {
                        tracing::warn!(error = %e, "membership change failed");
                    }
                    me.membership_busy.store(false, Ordering::SeqCst);
                });
            }
        }

        // Join (or re-join after eviction) when outside the membership or cut
        // off for a long time.
        let want_join =
            !leader && (!in_membership || (!primary && inner.nonprimary_for() > suspect));
        if want_join
            && now.duration_since(last_join) > join_every
            && !inner.joining.load(Ordering::SeqCst)
        {
            last_join = now;
            inner.joining.store(true, Ordering::SeqCst);
            let me = inner.clone();
            let mut targets: Vec<String> = inner.seeds.clone();
            for (_, n) in mem.nodes() {
                if !targets.contains(&n.addr) {
                    targets.push(n.addr.clone());
                }
            }
            targets.retain(|a| *a != inner.me.addr);
            tokio::spawn(async move {
                me.try_join(targets).await;
                me.joining.store(false, Ordering::SeqCst);
            });
        }
    }
}

impl Inner {
    async fn try_join(&self, mut targets: Vec<String>) {
        let req = Request::Join {
            id: self.id,
            node: self.me.clone(),
        };
        let timeout = d(self.cfg.timeouts.connect_ms * 2);
        let mut tried = 0;
        while let Some(addr) = targets.first().cloned() {
            targets.remove(0);
            tried += 1;
            if tried > 16 {
                break;
            }
            match self
                .transport
                .call(
                    &Peer {
                        id: None,
                        addr: addr.clone(),
                    },
                    &req,
                    timeout,
                )
                .await
            {
                Ok(Response::Done(Ok(()))) => {
                    tracing::info!(%addr, "join request accepted");
                    return;
                }
                Ok(Response::Done(Err(FwdError::NotLeader(Some((_, laddr)))))) => {
                    if laddr != self.me.addr && !targets.contains(&laddr) {
                        targets.insert(0, laddr);
                    }
                }
                Ok(r) => tracing::debug!(%addr, answer = ?r, "join not accepted"),
                Err(e) => tracing::debug!(%addr, error = %e, "join attempt failed"),
            }
        }
    }
}

/// Turn purge requests into snapshots and log purges.
async fn purger(inner: Arc<Inner>) {
    let mut rx = inner.purge_target.subscribe();
    let mut stop = inner.stop.subscribe();
    loop {
        tokio::select! {
            r = rx.changed() => if r.is_err() { return },
            _ = stop.changed() => return,
        }
        let upto = *rx.borrow_and_update();
        if let Err(e) = inner.purge_once(upto).await {
            tracing::warn!(error = %e, upto, "purge postponed");
        }
    }
}

impl Inner {
    async fn purge_once(&self, upto: Seqno) -> Result<(), String> {
        let Some(by_node) = self.sm.entry_covered_by(upto) else {
            return Ok(());
        };
        let Some(by_size) = self.gcache.purge_limit_for(self.cfg.gcache_size) else {
            return Ok(());
        };
        let mut p = by_node.index.min(by_size);
        let purged = self.raft.metrics().borrow().purged.map(|l| l.index);
        if purged.is_some_and(|x| x >= p) {
            return Ok(());
        }
        if self.sm.snapshot_log_id().is_none_or(|s| s.index < p) {
            let staged = self
                .sm
                .prepare_snapshot()
                .await
                .map_err(|e| format!("node could not build a snapshot: {e}"))?;
            if let Some(l) = staged {
                self.raft
                    .trigger()
                    .snapshot()
                    .await
                    .map_err(|e| e.to_string())?;
                let want = l.index;
                let deadline = Instant::now() + d(self.cfg.timeouts.rpc_ms);
                // Wait until raft itself knows the snapshot (it refuses to
                // purge behind a snapshot it has not registered yet).
                while self
                    .raft
                    .metrics()
                    .borrow()
                    .snapshot
                    .is_none_or(|s| s.index < want)
                {
                    if Instant::now() > deadline {
                        return Err("snapshot was not taken in time".into());
                    }
                    self.wait_metrics_change(Duration::from_millis(100)).await;
                }
            }
        }
        let Some(s) = self.raft.metrics().borrow().snapshot else {
            return Ok(());
        };
        p = p.min(s.index);
        tracing::info!(upto_index = p, "purging gcache");
        self.raft
            .trigger()
            .purge_log(p)
            .await
            .map_err(|e| e.to_string())
    }
}

/// The members whose answer to a round (pre-vote, leader silence) was yes,
/// with `me`, who always agrees with itself.
fn agreeing(answers: Vec<(Option<NodeId>, bool)>, me: NodeId) -> BTreeSet<NodeId> {
    answers
        .into_iter()
        .filter_map(|(id, ok)| if ok { id } else { None })
        .chain([me])
        .collect()
}
