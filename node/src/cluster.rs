//! A node as a member of a cluster: the commit pipeline ordered by `gcs`,
//! views, flow control, checkpoints and state transfer.
//!
//! # Start-up and recovery
//!
//! 1. With the lsm engine holding a recovery point: publish its catalog and
//!    horizon `H`, restore the certification index and low-water map of the
//!    recovery point `C <= H`; events up to `H` are then certified but not
//!    applied again (`trireme_storage::lsm::recovery`). Otherwise load
//!    `<data_dir>/checkpoint.bin` if present: rows, catalog and the
//!    certification index at its seqno `C`.
//! 2. Start gcs, telling it the node applied `C`. gcs replays its ordered
//!    log after `C` (or hands a snapshot from a donor when the log no longer
//!    reaches back), then goes on with new events. Nothing acknowledged is
//!    lost: a COMMIT returned OK only after its write-set was committed in
//!    the raft log of a majority, and every event after `C` comes back.
//! 3. The node is `Joined` until it has applied everything the cluster
//!    ordered before it asked (`sync_point`), then `Synced` and ready.
//!
//! # Events, in stream order
//!
//! `Deliver` goes to the pipeline (`Replicator::deliver`); `View` updates
//! readiness, auto-increment control and flow control; `Snapshot` replaces
//! the state (after every earlier event is applied); `Message` carries flow
//! control between members.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::BoxFuture;
use parking_lot::Mutex;
use tokio::sync::watch;
use tracing::{error, info, warn};
use trireme_flowctl::{FcMessage, FlowControl};
use trireme_gcs::identity::ClusterIdentity;
use trireme_gcs::{
    AppSnapshot, BroadcastError, Event, Gcs, GcsConfig, SnapshotApp, SyncError, TransportChoice,
};

use crate::config::Config;
use crate::members::{own_incoming, IncomingAddresses};
use crate::node::{ClusterView, FlowStatus, Node};
use crate::repl::{CommitGate, Delivery, Orderer, ReplConfig, Replicator, SubmitError};
use crate::state::{self, State, StateStore};
use trireme_sql::error::{SqlError, SqlResult};
use trireme_sql::NodeInfo;
use trireme_storage::checkpoint;
use trireme_storage::value::Value;
use trireme_storage::Engine;

/// Orders events through gcs.
struct GcsOrderer {
    gcs: Gcs,
}

impl Orderer for GcsOrderer {
    fn submit(&self, payload: Vec<u8>) -> BoxFuture<'_, Result<(), SubmitError>> {
        Box::pin(async move {
            match self.gcs.broadcast(Bytes::from(payload)).await {
                Ok(_) => Ok(()),
                Err(BroadcastError::NonPrimary) => Err(SubmitError::NotPrimary),
                Err(e @ BroadcastError::Unknown(_)) => Err(SubmitError::Unknown(e.to_string())),
                Err(e) => Err(SubmitError::NotOrdered(e.to_string())),
            }
        })
    }

    fn sync_point(&self) -> BoxFuture<'_, Result<u64, SubmitError>> {
        Box::pin(async move {
            self.gcs.sync_point().await.map_err(|e| match e {
                SyncError::NonPrimary => SubmitError::NotPrimary,
                other => SubmitError::Unknown(other.to_string()),
            })
        })
    }
}

/// The orderer before gcs is started (the replicator needs one to exist).
struct Deferred {
    inner: std::sync::OnceLock<GcsOrderer>,
}

impl Orderer for Deferred {
    fn submit(&self, payload: Vec<u8>) -> BoxFuture<'_, Result<(), SubmitError>> {
        match self.inner.get() {
            Some(o) => o.submit(payload),
            None => Box::pin(async { Err(SubmitError::NotPrimary) }),
        }
    }

    fn sync_point(&self) -> BoxFuture<'_, Result<u64, SubmitError>> {
        match self.inner.get() {
            Some(o) => o.sync_point(),
            None => Box::pin(async { Err(SubmitError::NotPrimary) }),
        }
    }
}

const FC_MAGIC: &[u8; 3] = b"TFC";

/// A flow-control message on the (unordered, best-effort) control channel.
/// `seq` grows per sender, so a message overtaken by a newer one is
/// dropped (a late STOP must never override the CONT that followed it);
/// `repeat` marks the periodic re-sends that repair lost messages.
#[derive(serde::Serialize, serde::Deserialize)]
struct FcWire {
    seq: u64,
    repeat: bool,
    msg: FcMessage,
}

/// Galera flow control between members, and the commit gate it closes.
///
/// Galera orders FC messages in the group; here they travel on gcs's
/// unordered control channel, which is cheaper but may reorder or drop
/// them. Two rules keep that safe: receivers drop a message older than the
/// last one seen from its sender, and every member repeats its current
/// state every `FC_REPEAT` so a lost CONT cannot pause the cluster forever
/// (and a lost STOP is restored).
pub struct Flow {
    fc: Mutex<FlowControl>,
    /// Messages to broadcast; sent by a task on the runtime, because queue
    /// changes are reported from applier threads.
    outbox: tokio::sync::mpsc::UnboundedSender<(FcMessage, bool)>,
    outbox_rx: Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<(FcMessage, bool)>>>,
    next_seq: AtomicU64,
    last_seen: Mutex<std::collections::HashMap<u64, u64>>,
    epoch: Instant,
    paused: watch::Sender<bool>,
    timeout: Duration,
}

const FC_REPEAT: Duration = Duration::from_millis(1000);

impl Flow {
    fn new(cfg: &Config) -> anyhow::Result<Arc<Flow>> {
        let fc_cfg = trireme_flowctl::Config {
            fc_limit: cfg.gcs.fc_limit,
            fc_factor: cfg.gcs.fc_factor,
            fc_single_primary: cfg.gcs.fc_single_primary,
        };
        let mut fc = FlowControl::new(fc_cfg, cfg.node_id, &[cfg.node_id], 0)
            .map_err(|e| anyhow::anyhow!("gcs flow control options: {e}"))?;
        // Not synced yet: a node replaying its backlog or receiving state
        // must not throttle the cluster to its own speed.
        let _ = fc.set_enabled(false, 0);
        let (paused, _) = watch::channel(false);
        let (outbox, outbox_rx) = tokio::sync::mpsc::unbounded_channel();
        // Sequence numbers start from the wall clock so a restarted member's
        // messages are newer than its previous life's.
        let start = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as u64;
        Ok(Arc::new(Flow {
            fc: Mutex::new(fc),
            outbox,
            outbox_rx: Mutex::new(Some(outbox_rx)),
            next_seq: AtomicU64::new(start),
            last_seen: Mutex::new(Default::default()),
            epoch: Instant::now(),
            paused,
            timeout: Duration::from_millis(cfg.gcs.fc_timeout_ms),
        }))
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    fn send(&self, m: Option<FcMessage>) {
        if let Some(m) = m {
            info!(msg = ?m, "flow control: sending");
            let _ = self.outbox.send((m, false));
        }
    }

    /// Starts the task that broadcasts flow-control messages through gcs,
    /// and repeats this member's state periodically.
    fn start_sender(self: &Arc<Self>, gcs: Gcs) {
        let Some(mut rx) = self.outbox_rx.lock().take() else {
            return;
        };
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(FC_REPEAT);
            loop {
                let (msg, repeat) = tokio::select! {
                    m = rx.recv() => match m {
                        Some(m) => m,
                        None => return,
                    },
                    _ = tick.tick() => {
                        let Some(f) = weak.upgrade() else { return };
                        let stopped = f.fc.lock().stop_outstanding();
                        (if stopped { FcMessage::Stop } else { FcMessage::Cont }, true)
                    }
                };
                let Some(f) = weak.upgrade() else { return };
                let wire = FcWire {
                    seq: f.next_seq.fetch_add(1, Ordering::Relaxed),
                    repeat,
                    msg,
                };
                match trireme_storage::codec::encode(FC_MAGIC, 2, &wire) {
                    Ok(b) => gcs.send_to_all(Bytes::from(b)),
                    Err(e) => warn!(error = %e, "flow-control message not encoded"),
                }
            }
        });
    }

    fn publish(&self, fc: &FlowControl) {
        let p = fc.must_pause();
        self.paused.send_if_modified(|v| {
            let changed = *v != p;
            *v = p;
            changed
        });
    }

    /// Galera's rule: only a Synced member sends flow control. A joiner
    /// (replaying its log, installing a state transfer, catching up to the
    /// point the cluster had reached when it joined) applies as fast as it
    /// can without pausing the others; turning it off releases a STOP it
    /// had sent.
    fn set_enabled(&self, synced: bool) {
        let mut fc = self.fc.lock();
        let m = fc.set_enabled(synced, self.now());
        self.publish(&fc);
        drop(fc);
        if m.is_some() {
            info!(
                synced,
                "flow control: {}",
                if synced {
                    "enabled (synced)"
                } else {
                    "disabled (not synced)"
                }
            );
        }
        self.send(m);
    }

    fn queue_changed(&self, len: usize) {
        let mut fc = self.fc.lock();
        let m = fc.on_queue_len(len as u64, self.now());
        self.publish(&fc);
        drop(fc);
        self.send(m);
    }

    fn on_view(&self, members: &[u64]) {
        let mut fc = self.fc.lock();
        let mut m = fc.on_view(members, self.now());
        // A member that just joined never saw our outstanding STOP.
        if m.is_none() && fc.stop_outstanding() {
            m = Some(FcMessage::Stop);
        }
        self.publish(&fc);
        drop(fc);
        self.send(m);
    }

    fn on_message(&self, from: u64, payload: &[u8]) {
        let wire: FcWire =
            match trireme_storage::codec::decode(FC_MAGIC, 2, "flow-control message", payload) {
                Ok(m) => m,
                Err(e) => {
                    warn!(from, error = %e, "undecodable flow-control message ignored");
                    return;
                }
            };
        {
            let mut seen = self.last_seen.lock();
            let last = seen.entry(from).or_insert(0);
            if wire.seq <= *last {
                return;
            }
            *last = wire.seq;
        }
        let mut fc = self.fc.lock();
        let stopped = fc.paused_by().contains(&from);
        // A repeat that changes nothing is not a new message (statistics).
        let redundant = wire.repeat && (stopped == (wire.msg == FcMessage::Stop));
        if !redundant {
            let accepted = fc.on_message(from, wire.msg, self.now());
            info!(from, msg = ?wire.msg, repeat = wire.repeat, accepted, paused_by = ?fc.paused_by(), "flow control: received");
        }
        self.publish(&fc);
    }
}

impl CommitGate for Flow {
    fn wait(&self) -> BoxFuture<'_, SqlResult<()>> {
        Box::pin(async move {
            let mut rx = self.paused.subscribe();
            if !*rx.borrow() {
                return Ok(());
            }
            let unpaused = async { rx.wait_for(|p| !*p).await.map(|_| ()) };
            match tokio::time::timeout(self.timeout, unpaused).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(_)) => Err(SqlError::internal("shutting down")),
                Err(_) => Err(SqlError::lock_wait_timeout(format!(
                    "flow control paused the cluster for more than {:?}; the transaction was not replicated",
                    self.timeout
                ))),
            }
        })
    }
}

impl FlowStatus for Flow {
    fn figures(&self) -> Vec<(String, Value)> {
        let fc = self.fc.lock();
        let st = fc.stats(self.now());
        let lim = fc.limits();
        vec![
            (
                "wsrep_flow_control_active".into(),
                Value::Str(if st.active { "true" } else { "false" }.into()),
            ),
            ("wsrep_flow_control_paused".into(), Value::Double(st.paused)),
            (
                "wsrep_flow_control_paused_ns".into(),
                Value::UInt(st.paused_ns),
            ),
            ("wsrep_flow_control_recv".into(), Value::UInt(st.recv)),
            (
                "wsrep_flow_control_requested".into(),
                Value::Str(if st.requested { "true" } else { "false" }.into()),
            ),
            ("wsrep_flow_control_sent".into(), Value::UInt(st.sent)),
            (
                "wsrep_flow_control_upper_limit".into(),
                Value::UInt(lim.upper),
            ),
            (
                "wsrep_flow_control_lower_limit".into(),
                Value::UInt(lim.lower),
            ),
        ]
    }
}

/// The node as gcs's state-transfer application.
struct App {
    repl: std::sync::OnceLock<Arc<Replicator>>,
    state: Arc<StateStore>,
    data_dir: std::path::PathBuf,
    applied: AtomicU64,
    /// This node's backup listener, when it has one and the lsm engine:
    /// its snapshots for gcs are then SST descriptors naming it, not full
    /// images (`crate::sst`).
    sst_listen: Option<String>,
    /// The members' announced listeners, named in descriptors (set once
    /// the announcements are set up).
    listeners: std::sync::OnceLock<Arc<IncomingAddresses>>,
}

impl App {
    /// Captures the state at the current seqno and makes it durable: the
    /// memory engine writes a full checkpoint file; the lsm engine only a
    /// recovery point in the engine (its rows are on disk already). With
    /// `image`, also returns the full image (a snapshot for gcs: state
    /// transfer, log purge behind it). Returns the seqno after which the
    /// ordered log is still needed.
    fn checkpoint(&self, image: bool) -> anyhow::Result<(u64, Option<Bytes>)> {
        let repl = self
            .repl
            .get()
            .ok_or_else(|| anyhow::anyhow!("node not started"))?;
        let cap = repl
            .capture(&view_uuid(&self.state))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let seqno = cap.seqno;
        let bytes = match repl.store().engine() {
            Engine::Memory => {
                let bytes = checkpoint::encode(&cap)?;
                checkpoint::write_file(&self.data_dir, &bytes)?;
                Some(bytes)
            }
            Engine::Lsm(_) => {
                let point = Replicator::recovery_point(&cap);
                repl.store().persist_recovery_point(&point)?;
                match (image, &self.sst_listen) {
                    (false, _) => None,
                    // A joiner pulls the rows from a donor's listener.
                    (true, Some(donor)) => Some(
                        crate::sst::Descriptor {
                            point,
                            donor: donor.clone(),
                            members: self
                                .listeners
                                .get()
                                .map(|l| l.sst_listeners())
                                .unwrap_or_default(),
                        }
                        .encode()?,
                    ),
                    (true, None) => Some(checkpoint::encode(&cap)?),
                }
            }
        };
        drop(cap);
        self.state.update(|s| s.seqno = seqno)?;
        self.applied.fetch_max(seqno, Ordering::AcqRel);
        Ok((seqno, bytes.map(Bytes::from)))
    }
}

/// The address other members reach this node's backup listener at: the
/// listen address, with the host of `cluster.advertise` in place of an
/// unspecified IP (as for the client address, `members::own_incoming`).
fn sst_address(config: &Config, listen: std::net::SocketAddr) -> String {
    own_incoming(None, listen, config.cluster.advertise.as_deref())
}

/// gcs's handle on the application.
struct AppHandle(Arc<App>);

impl SnapshotApp for AppHandle {
    fn build_snapshot(&self) -> BoxFuture<'_, anyhow::Result<AppSnapshot>> {
        let me = self.0.clone();
        Box::pin(async move {
            let (seqno, data) = tokio::task::spawn_blocking(move || me.checkpoint(true)).await??;
            let data = data.ok_or_else(|| anyhow::anyhow!("no image captured"))?;
            Ok(AppSnapshot { seqno, data })
        })
    }

    fn applied_seqno(&self) -> u64 {
        self.0.applied.load(Ordering::Acquire)
    }
}

/// wsrep_cluster_state_uuid: the cluster's uuid, zeros until this node has
/// joined one (as Galera shows before joining).
fn view_uuid(state: &StateStore) -> String {
    state
        .get()
        .cluster_uuid
        .unwrap_or_else(|| "00000000-0000-0000-0000-000000000000".into())
}

/// The uuid nodes reported before state files existed (a hash of the
/// cluster name): a data directory written then belongs to it.
fn legacy_state_uuid(cluster_name: &str) -> String {
    use sha1::{Digest, Sha1};
    let d = Sha1::digest(format!("trireme-cluster:{cluster_name}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    crate::bootstrap::format_uuid(&b)
}

fn gcs_config(cfg: &Config) -> anyhow::Result<GcsConfig> {
    let gdir = cfg.data_dir.join("gcs");
    std::fs::create_dir_all(&gdir)?;
    let tls = match &cfg.cluster.tls {
        Some(p) => Some(p.clone()),
        None => {
            let dir = cfg
                .cluster
                .certs_dir
                .clone()
                .unwrap_or_else(|| cfg.data_dir.join("tls"));
            if !cfg.cluster.dev_certs {
                anyhow::bail!(
                    "no [cluster.tls] configured and dev_certs = false: create a cluster CA and member certificates with `trireme certs` and configure them"
                );
            }
            Some(
                trireme_gcs::tls::ensure_dev_certs(&dir, &cfg.cluster.cluster_name, &cfg.node_name)
                    .map_err(|e| anyhow::anyhow!("TLS: {e}"))?,
            )
        }
    };
    Ok(GcsConfig {
        node_id: cfg.node_id,
        node_name: cfg.node_name.clone(),
        listen: cfg.cluster.listen,
        advertise: cfg.cluster.advertise.clone(),
        cluster_address: cfg.cluster.cluster_address.clone(),
        cluster_name: cfg.cluster.cluster_name.clone(),
        data_dir: gdir,
        bootstrap: cfg.bootstrap,
        timeouts: cfg.cluster.timeouts.clone(),
        fsync: cfg.cluster.fsync,
        gcache_size: cfg.cluster.gcache_size,
        tls,
        ..GcsConfig::default()
    })
}

/// Starts a cluster member (a bootstrapped member with no peers is a
/// one-node cluster) and serves clients.
pub async fn start(mut config: Config) -> anyhow::Result<crate::server::Running> {
    std::fs::create_dir_all(&config.data_dir)?;
    // 0. Which cluster, and whether to form one (see `state`).
    let prior = State::load(&config.data_dir)?;
    let has_data = state::has_data(&config.data_dir);
    let mut gcfg = gcs_config(&config)?;
    if !has_data && config.bootstrap_if_empty && !config.bootstrap {
        let wait = std::time::Duration::from_millis(config.bootstrap_wait_ms);
        config.bootstrap = crate::bootstrap::seed_should_bootstrap(&gcfg, wait).await?;
    }
    let members = if !has_data && config.bootstrap {
        let m = Gcs::probe_members(&gcfg)
            .await
            .map_err(|e| anyhow::anyhow!("asking the listed members before bootstrapping: {e}"))?;
        for (addr, r) in &m {
            info!(%addr, answer = ?r, "bootstrap probe");
        }
        m
    } else {
        Vec::new()
    };
    let plan = state::plan(
        prior.as_ref(),
        has_data,
        config.bootstrap,
        &members,
        &legacy_state_uuid(&config.cluster.cluster_name),
        crate::bootstrap::new_uuid,
    )
    .map_err(|e| anyhow::anyhow!("{}: {e}", config.data_dir.display()))?;
    // A directory written by `trireme backup` seeds a new cluster only.
    let restored = crate::backup::RestoredBackup::load(&config.data_dir)?;
    if let Some(why) = restored.as_ref().and_then(|r| {
        r.refusal(
            matches!(plan, state::Plan::Bootstrap { .. }),
            config.storage.engine == crate::storage::EngineKind::Lsm,
        )
    }) {
        anyhow::bail!("{}: {why}", config.data_dir.display());
    }
    let no_peers = trireme_gcs::parse_cluster_address(&config.cluster.cluster_address)
        .map(|p| p.is_empty())
        .unwrap_or(false);
    let (mut uuid, form_cluster) = match plan {
        state::Plan::Bootstrap { uuid } => {
            info!(%uuid, "bootstrapping a new cluster");
            (Some(uuid), true)
        }
        // A node with state never forms a cluster again, unless it is a
        // one-node cluster by configuration (nobody to diverge from).
        state::Plan::Restart { uuid } => {
            if config.bootstrap && !no_peers {
                info!("bootstrap ignored: the data directory holds cluster state; restarting as a member");
            }
            (uuid, no_peers)
        }
        state::Plan::Join => (None, false),
    };
    gcfg.bootstrap = form_cluster;
    let mut safe = form_cluster || prior.as_ref().is_some_and(|p| p.safe_to_bootstrap);
    if config.force_bootstrap {
        if !has_data {
            anyhow::bail!(
                "--force-bootstrap: {} is empty; there is nothing to bootstrap from (use bootstrap for a new cluster)",
                config.data_dir.display()
            );
        }
        let r = Gcs::force_sole_member(&gcfg)
            .await
            .map_err(|e| anyhow::anyhow!("--force-bootstrap: {e}"))?;
        let new = crate::bootstrap::new_uuid();
        warn!(
            old_uuid = ?uuid,
            new_uuid = %new,
            last_log_index = r.last_log_index,
            checkpoint_seqno = prior.as_ref().map_or(0, |p| p.seqno),
            "FORCED BOOTSTRAP: this node becomes a cluster of its own with the data it has. Every transaction in its log up to index {} is kept, including ones whose clients got no answer; transactions the other members committed after that are LOST. The new cluster uuid refuses the old members: empty their data directories to rejoin by state transfer",
            r.last_log_index
        );
        uuid = Some(new);
        safe = true;
    }
    let state_store = StateStore::open(
        &config.data_dir,
        State {
            cluster_uuid: uuid.clone(),
            safe_to_bootstrap: safe,
            ..prior.clone().unwrap_or_default()
        },
    )?;
    let store = crate::storage::open_store(&config.storage, &config.data_dir)?;
    crate::bootstrap::init_catalog(&store);
    let deferred = Arc::new(Deferred {
        inner: std::sync::OnceLock::new(),
    });
    let flow = Flow::new(&config)?;
    let repl = Replicator::new(
        ReplConfig::from_config(&config),
        store.clone(),
        deferred.clone(),
        Replicator::default_certifier(0),
        flow.clone(),
        Arc::new(crate::schema::SqlSchema),
    );
    // An lsm member always serves state transfers: without a listener its
    // snapshots for gcs would be full images built in memory, which a
    // node with more data than memory cannot afford. Unless configured,
    // it listens on the cluster address's IP, on a free port (joiners
    // learn it from the snapshot's descriptor).
    let backup_listener = match (store.engine(), config.storage.backup_listen) {
        (Engine::Lsm(_), configured) => {
            let addr = configured
                .unwrap_or_else(|| std::net::SocketAddr::new(config.cluster.listen.ip(), 0));
            Some(crate::backup::serve::bind(addr).await?)
        }
        (Engine::Memory, Some(_)) => {
            warn!("[storage] backup_listen is set but the engine is memory: backups need engine = \"lsm\"; not listening");
            None
        }
        (Engine::Memory, None) => None,
    };
    let sst_own = match &backup_listener {
        Some(l) => Some(sst_address(&config, l.local_addr()?)),
        None => None,
    };
    let sst_listen_status = sst_own.clone();
    // 1. Recover the last checkpoint.
    let app = Arc::new(App {
        repl: std::sync::OnceLock::new(),
        state: state_store.clone(),
        data_dir: config.data_dir.clone(),
        applied: AtomicU64::new(0),
        sst_listen: sst_own.clone(),
        listeners: std::sync::OnceLock::new(),
    });
    let _ = app.repl.set(repl.clone());
    let from_engine = store
        .recover_from_engine()
        .map_err(|e| anyhow::anyhow!("reading the storage engine: {e}; move {} away to rebuild this node from its log or its peers", config.data_dir.join("lsm").display()))?;
    match (from_engine, checkpoint::read_file(&config.data_dir)) {
        (Some(r), _) => {
            repl.resume(&r.point, r.horizon)
                .map_err(|e| anyhow::anyhow!("restarting from the storage engine: {e}"))?;
            app.applied.store(r.point.seqno, Ordering::Release);
            repl.set_recovered_from("engine");
            info!(
                recovery_point = r.point.seqno,
                horizon = r.horizon,
                tables = store.catalog().all_tables().count(),
                "restarted from the storage engine: replaying the ordered log after the recovery point, applying after the horizon"
            );
        }
        (None, Ok(Some(loaded))) => {
            info!(
                seqno = loaded.seqno,
                rows = loaded.rows,
                "recovered checkpoint"
            );
            repl.install(&loaded)
                .map_err(|e| anyhow::anyhow!("installing the checkpoint: {e}"))?;
            app.applied.store(loaded.seqno, Ordering::Release);
            repl.set_recovered_from("checkpoint");
        }
        (None, Ok(None)) => {
            info!("no checkpoint: starting empty");
            // An lsm engine can be restarted from as soon as it has a
            // recovery point: save the empty one (seqno 0) now rather than
            // at the first checkpoint interval.
            if let Engine::Lsm(_) = store.engine() {
                let cap = repl
                    .capture(&view_uuid(&state_store))
                    .map_err(|e| anyhow::anyhow!("capturing the empty state: {e}"))?;
                store
                    .persist_installed(&Replicator::recovery_point(&cap))
                    .map_err(|e| {
                        anyhow::anyhow!("saving the empty state in the storage engine: {e}")
                    })?;
            }
        }
        (None, Err(e)) => anyhow::bail!(
            "{}: {e}; move it away to rebuild this node from its peers",
            config.data_dir.join("checkpoint.bin").display()
        ),
    }
    if let Some(r) = &restored {
        // The new cluster is formed on the backup's data: from now on it
        // is an ordinary data directory (restarts find the state file).
        crate::backup::RestoredBackup::remove(&config.data_dir)?;
        info!(
            source = %r.source,
            source_seqno = r.source_seqno,
            rows = r.rows,
            "bootstrapped a new cluster from a backup"
        );
    }
    {
        let f = flow.clone();
        let backlog = repl.event_backlog();
        repl.appliers().on_queue_change(Box::new(move |len| {
            f.queue_changed(len + backlog.load(Ordering::Relaxed))
        }));
    }
    let info = NodeInfo {
        node_id: config.node_id,
        auto_increment_increment: 1,
        auto_increment_offset: 1,
    };
    let mut initial = ClusterView::single(&view_uuid(&state_store), &config.listen.to_string());
    initial.primary = false;
    initial.size = 0;
    initial.local_state = 1;
    let node = Node::new(
        store,
        repl.clone(),
        crate::server::globals_for(&config),
        info,
        initial,
    );
    node.set_flow_status(flow.clone());
    let incoming = Arc::new(IncomingAddresses::new(
        config.node_id,
        own_incoming(
            config.incoming_address.as_deref(),
            config.listen,
            config.cluster.advertise.as_deref(),
        ),
        config.node_name.clone(),
        sst_own.clone(),
    ));
    let _ = app.listeners.set(incoming.clone());
    node.set_incoming(incoming.clone());
    node.globals.set_server(
        "wsrep_node_incoming_address",
        Value::Str(incoming.own().to_string()),
    );
    node.globals.set_server(
        "wsrep_cluster_address",
        Value::Str(config.cluster.cluster_address.clone()),
    );
    node.globals.set_server(
        "wsrep_cluster_name",
        Value::Str(config.cluster.cluster_name.clone()),
    );

    // 2. Start gcs and the event loop. A joiner records the cluster's uuid
    // before its first handshake completes.
    let adopt_store = state_store.clone();
    let identity = Arc::new(ClusterIdentity::new(
        uuid,
        u32::from(crate::repl::event::FORMAT_VERSION),
        Box::new(move |u| {
            adopt_store
                .update(|s| s.cluster_uuid = Some(u.to_string()))
                .map_err(|e| e.to_string())
        }),
    ));
    let (gcs, mut events) = Gcs::start_member(
        gcfg,
        Arc::new(AppHandle(app.clone())),
        TransportChoice::Quic,
        identity,
    )
    .await
    .map_err(|e| anyhow::anyhow!("starting group communication: {e}"))?;
    let _ = deferred.inner.set(GcsOrderer { gcs: gcs.clone() });
    flow.start_sender(gcs.clone());
    let announce = Arc::new(tokio::sync::Notify::new());
    spawn_announcer(gcs.clone(), incoming.clone(), announce.clone());
    let loop_incoming = incoming.clone();
    let loop_node = node.clone();
    let loop_flow = flow.clone();
    let loop_state = state_store.clone();
    let sst_donor = config.storage.sst_donor.clone();
    let sst_password = config.root_password.clone();
    // The event loop runs on its own thread: processing an event may wait
    // (certification is held while a checkpoint is captured), and that must
    // never take a runtime worker away from client connections.
    let rt = tokio::runtime::Handle::current();
    let rt_inner = rt.clone();
    let events_thread = std::thread::Builder::new().name("ordered-events".into());
    let _ = events_thread.spawn(move || rt_inner.block_on(async move {
        let mut catch_up: Option<tokio::task::JoinHandle<()>> = None;
        let backlog = loop_node.repl.event_backlog();
        while let Some(ev) = events.recv().await {
            backlog.store(events.backlog(), Ordering::Relaxed);
            match ev {
                Event::Deliver {
                    seqno,
                    origin,
                    payload,
                } => {
                    let d = Delivery {
                        seqno,
                        origin,
                        payload: payload.to_vec(),
                    };
                    // The ordered stream is the node's lifeline: if
                    // processing an event panics, stop the node rather than
                    // hang every later commit.
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| loop_node.repl.deliver(d)));
                    if r.is_err() {
                        crate::state::diverged(seqno, "processing an ordered event panicked");
                    }
                    let q = loop_node.repl.note_recv_queue(loop_node.repl.recv_queue_len());
                    loop_flow.queue_changed(q);
                }
                Event::View(v) => {
                    let ids: Vec<u64> = v.members.iter().map(|m| m.id).collect();
                    loop_flow.on_view(&ids);
                    let was_primary = loop_node.view().primary;
                    let mut cv = loop_node.view();
                    cv.state_uuid = view_uuid(&loop_state);
                    if v.primary {
                        // Galera's rule: only the last member of the
                        // primary component may bootstrap from its data.
                        let alone = v.members.len() == 1;
                        if let Err(e) = loop_state.update(|s| s.safe_to_bootstrap = alone) {
                            warn!(error = %e, "state file not updated");
                        }
                    }
                    cv.conf_id = v.view_id;
                    cv.size = v.members.len() as u64;
                    cv.primary = v.primary;
                    cv.local_index = v.own_index.unwrap_or(0) as u64;
                    cv.members = v.members.iter().map(|m| (m.id, m.name.clone())).collect();
                    // New members have not heard this one yet.
                    announce.notify_one();
                    let start_catch_up = if !v.primary {
                        // Outside the primary component: not synced until
                        // caught up again after it comes back.
                        cv.local_state = 1;
                        false
                    } else if !was_primary || cv.local_state != 4 {
                        cv.local_state = 3;
                        true
                    } else {
                        false
                    };
                    info!(
                        view = v.view_id,
                        members = v.members.len(),
                        primary = v.primary,
                        "view"
                    );
                    if cv.local_state != 4 {
                        loop_flow.set_enabled(false);
                    }
                    // Publish the view first: the catch-up task checks it.
                    let gen = loop_node.set_view(cv);
                    if !v.primary || start_catch_up {
                        if let Some(h) = catch_up.take() {
                            h.abort();
                        }
                    }
                    if start_catch_up {
                        let n = loop_node.clone();
                        let f = loop_flow.clone();
                        catch_up = Some(tokio::spawn(async move { catch_up_then_sync(n, f, gen).await }));
                    }
                }
                Event::Snapshot { seqno, data } => {
                    info!(seqno, bytes = data.len(), "installing state transfer");
                    let n = loop_node.clone();
                    let (donor_pref, own, password) = (sst_donor.clone(), sst_own.clone(), sst_password.clone());
                    let heard = loop_incoming.sst_listeners();
                    let r = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                        if let Some(d) = crate::sst::Descriptor::decode(&data) {
                            let d = d?;
                            if d.point.seqno != seqno {
                                anyhow::bail!("snapshot labelled {seqno} describes state at {}", d.point.seqno);
                            }
                            let Engine::Lsm(engine) = n.store.engine() else {
                                anyhow::bail!("the cluster sends streamed state transfers (lsm members with backup_listen); this node's engine is memory: set [storage] engine = \"lsm\"");
                            };
                            if n.store.horizon() >= d.point.seqno {
                                let h = n.repl.adopt_point(&d.point)?;
                                info!(seqno, horizon = h, "state transfer not needed: this node holds the state at {h}; certification state adopted");
                                return Ok(());
                            }
                            // The builder's list first: this node may not have heard the others yet.
                            let listeners: Vec<_> = d.members.iter().cloned().chain(heard).collect();
                            let donors = crate::sst::donor_order(&donor_pref, &d.donor, own.as_deref(), &listeners);
                            let engine = engine.clone();
                            let stats = n.sst.clone();
                            let horizon = n.repl.install_streamed(&d.point, || {
                                crate::sst::receive(&donors, &d.point, &engine, &password, &stats)
                            })?;
                            info!(seqno, copy_seqno = horizon, "streamed state transfer installed; replaying the log after it");
                            return Ok(());
                        }
                        let loaded = checkpoint::decode(&data)?;
                        if loaded.seqno != seqno {
                            anyhow::bail!(
                                "snapshot labelled {seqno} holds state at {}",
                                loaded.seqno
                            );
                        }
                        n.repl
                            .install(&loaded)
                            .map_err(|e| anyhow::anyhow!("{e}"))?;
                        Ok(())
                    })
                    .await;
                    match r {
                        Ok(Ok(())) => {
                            loop_node.repl.set_recovered_from("state_transfer");
                            info!(seqno, "state transfer installed")
                        }
                        Ok(Err(e)) => {
                            error!(seqno, error = %e, "state transfer failed; this node cannot continue");
                            std::process::exit(70);
                        }
                        Err(e) => {
                            error!(seqno, error = %e, "state transfer task failed");
                            std::process::exit(70);
                        }
                    }
                }
                Event::Message { from, payload } => {
                    if IncomingAddresses::is_announcement(&payload) {
                        if loop_incoming.on_message(from, &payload) {
                            info!(from, incoming = ?loop_incoming.list(&loop_node.view().members), "member client addresses");
                        }
                    } else {
                        loop_flow.on_message(from, &payload)
                    }
                }
            }
        }
        info!("group communication stopped");
    }))?;
    let _ = rt;

    crate::server::spawn_background(&node, &config);
    spawn_checkpoints(&config, app, gcs.clone());
    if let (Some(listener), Engine::Lsm(e)) = (backup_listener, node.store.engine()) {
        let donor = crate::backup::serve::Donor {
            store: node.store.clone(),
            stats: node.sst.clone(),
            pacer: crate::sst::Pacer {
                rate: config.storage.transfer_max_rate,
            },
        };
        crate::backup::serve::serve(listener, e.clone(), &config.root_password, donor)?;
        *node.sst.address.lock() = sst_listen_status;
    }
    let running = crate::server::serve(node.clone(), &config).await?;
    *node.gcs_handle.lock() = Some(gcs);
    Ok(running)
}

/// Sends this member's client address to the others at every view change
/// (`now` is notified) and every `ANNOUNCE_EVERY` (see `members`).
fn spawn_announcer(gcs: Gcs, incoming: Arc<IncomingAddresses>, now: Arc<tokio::sync::Notify>) {
    let bytes = Bytes::from(incoming.announcement());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(crate::members::ANNOUNCE_EVERY);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = now.notified() => {}
            }
            gcs.send_to_all(bytes.clone());
        }
    });
}

/// Waits until this node has applied everything the primary component had
/// ordered, then declares it Synced (ready for clients).
async fn catch_up_then_sync(node: Arc<Node>, flow: Arc<Flow>, gen: u64) {
    for attempt in 0u32.. {
        let point =
            tokio::time::timeout(Duration::from_secs(5), node.repl.orderer().sync_point()).await;
        let point = match point {
            Ok(p) => p,
            Err(_) => {
                warn!(attempt, "sync point not answered within 5 s; retrying");
                continue;
            }
        };
        match point {
            Ok(point) => {
                let r = node.repl.wait_applied(point).await;
                if let Err(e) = &r {
                    warn!(
                        point,
                        horizon = node.store.horizon(),
                        delivered = node.repl.last_delivered(),
                        error = %e,
                        "not caught up with the primary component yet"
                    );
                }
                if r.is_ok() {
                    if node.mark_synced(gen) {
                        info!(seqno = point, "synced");
                        flow.set_enabled(true);
                    }
                    return;
                }
            }
            Err(e) => {
                if attempt % 10 == 0 {
                    warn!(error = %e, "waiting for the primary component to sync");
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn spawn_checkpoints(config: &Config, app: Arc<App>, gcs: Gcs) {
    if config.checkpoint_interval_ms == 0 {
        return;
    }
    let every = Duration::from_millis(config.checkpoint_interval_ms);
    let store_progress = app.clone();
    let step = log_growth_step(config.cluster.gcache_size);
    let config_lsm = config.storage.engine == crate::storage::EngineKind::Lsm;
    tokio::spawn(async move {
        // An lsm recovery point is cheap (no image), and the ordered log is
        // held in memory until a purge behind one: so besides the interval,
        // an lsm node takes one whenever the log has grown by `step` since
        // the last purge. This bounds a node's memory during a bulk load to
        // about gcache_size + step of log, whatever the data size.
        let lsm = config_lsm;
        let tick = if lsm {
            every.min(Duration::from_secs(1))
        } else {
            every
        };
        let mut last = tokio::time::Instant::now();
        // The log's smallest size since the last recovery point: the purge
        // behind it runs asynchronously and lands some ticks later.
        let mut base: Option<u64> = None;
        loop {
            tokio::time::sleep(tick).await;
            let Some(repl) = store_progress.repl.get().cloned() else {
                return;
            };
            let log = gcs.status().gcache_bytes;
            let base_now = base.map_or(log, |b| b.min(log));
            base = Some(base_now);
            let due = last.elapsed() >= every || (lsm && log >= base_now.saturating_add(step));
            if !due {
                continue;
            }
            last = tokio::time::Instant::now();
            base = None;
            if repl.store().horizon() <= store_progress.applied.load(Ordering::Acquire) {
                continue;
            }
            let a = store_progress.clone();
            // Never a full image for the lsm engine: a recovery point only.
            match tokio::task::spawn_blocking(move || a.checkpoint(false)).await {
                Ok(Ok((seqno, bytes))) => {
                    match bytes {
                        Some(b) => info!(seqno, bytes = b.len(), "checkpoint written"),
                        None => info!(seqno, "recovery point saved in the storage engine"),
                    }
                    gcs.purge(seqno);
                }
                Ok(Err(e)) => warn!(error = %e, "checkpoint failed"),
                Err(e) => warn!(error = %e, "checkpoint task failed"),
            }
        }
    });
}

/// Growth of the in-memory ordered log that makes an lsm node take a
/// recovery point (and purge) before its interval: half the gcache, at
/// least 16 MiB so that small gcaches do not flush memtables constantly.
fn log_growth_step(gcache_size: u64) -> u64 {
    (gcache_size / 2).max(16 << 20)
}

#[cfg(test)]
mod tests {
    #[test]
    fn log_growth_step_is_half_the_gcache_with_a_floor() {
        assert_eq!(super::log_growth_step(128 << 20), 64 << 20);
        assert_eq!(super::log_growth_step(1 << 20), 16 << 20);
    }

    #[test]
    fn state_uuid_is_stable_and_formatted() {
        let a = super::legacy_state_uuid("c1");
        assert_eq!(a, super::legacy_state_uuid("c1"));
        assert_ne!(a, super::legacy_state_uuid("c2"));
        assert_eq!(a.len(), 36);
    }
}
