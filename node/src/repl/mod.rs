//! The commit pipeline (DESIGN.md, "the life of a write transaction").
//!
//! 1. A session's COMMIT turns its buffer into a write-set (`txn`) and calls
//!    [`Replicator::commit`], which passes the flow-control gate and submits
//!    the encoded event to the [`Orderer`].
//! 2. Every ordered event comes back through [`Replicator::deliver`], called
//!    on one task in seqno order, on every node. Certification runs there.
//! 3. A passed write-set becomes an apply job; [`appliers`] install it once
//!    everything up to its `depends_seqno` is applied, in parallel with
//!    independent ones. TOI events run alone, after everything before them.
//! 4. The horizon advances over the contiguous prefix of finished seqnos
//!    (applied, failed or skipped), and the origin's COMMIT returns once its
//!    seqno is inside the horizon (read-your-writes).
//!
//! Local and remote write-sets take exactly the same path: the only
//! difference is that the origin has a waiter to wake.
//!
//! Invariant (DESIGN.md, "rules that keep the cluster consistent"): the
//! verdict, purge position and TOI barriers are functions of the ordered
//! stream only, so two nodes that processed the same prefix hold identical
//! certification indexes and identical data.

pub mod appliers;
pub mod event;
pub mod orderer;
pub mod writeset;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::oneshot;
use tracing::{error, warn};
use trireme_certification::{
    codec as cert_codec, CertConfig, Certifier, KeyKind, Verdict, WriteSet,
};

pub use appliers::Appliers;
pub use event::Event;
pub use orderer::{Delivery, LocalOrderer, Orderer, SubmitError};
use trireme_sql::error::{SqlError, SqlResult};
use trireme_storage::lsm::recovery::RecoveryPoint;
use trireme_storage::txn::{row_key, Txn, TxnShared};
use trireme_storage::value::DateTime;
use trireme_storage::Store;

/// How an ordered event of this node ended.
#[derive(Debug)]
pub enum Outcome {
    Committed(u64),
    CertFailed,
    Toi(SqlResult<()>),
}

/// How replication applies an ordered schema change (TOI). The node
/// implements it with the SQL engine; replication never parses SQL itself.
/// It must be deterministic: every node applies the same statement at the
/// same seqno with the origin's clock and must reach the same catalog.
pub trait SchemaChange: Send + Sync + 'static {
    fn apply(
        &self,
        store: &Store,
        sql: &str,
        db: Option<&str>,
        seqno: u64,
        now: DateTime,
    ) -> SqlResult<()>;
}

/// Counters behind the wsrep_% status variables.
#[derive(Default)]
pub struct Stats {
    pub replicated: AtomicU64,
    pub replicated_bytes: AtomicU64,
    pub received: AtomicU64,
    pub received_bytes: AtomicU64,
    pub local_commits: AtomicU64,
    pub local_cert_failures: AtomicU64,
    pub local_bf_aborts: AtomicU64,
    pub last_committed: AtomicU64,
    pub commit_waits: AtomicU64,
    /// Where local COMMITs spend their time.
    pub latency: crate::latency::CommitLatency,
}

/// Seqnos after which a node's low-water report is ignored for purging (a
/// node that stopped reporting must not pin the index forever).
const LOW_WATER_WINDOW: u64 = 1_000_000;

pub struct Replicator {
    pub node_id: u64,
    store: Arc<Store>,
    orderer: Arc<dyn Orderer>,
    cert: Mutex<Certifier>,
    cert_cache: Mutex<(trireme_certification::CertStats, usize)>,
    waiters: Mutex<HashMap<u64, oneshot::Sender<Outcome>>>,
    /// Open transactions with writes, for BF aborts.
    active: Mutex<HashMap<u64, Arc<TxnShared>>>,
    low_water: Mutex<BTreeMap<u64, u64>>,
    appliers: Appliers,
    next_trx: AtomicU64,
    /// The last seqno handed to `deliver` (diagnostics, gap detection).
    last_delivered: AtomicU64,
    /// Ordered events received by gcs and not yet handed to `deliver` (the
    /// front of the receive queue; set by the event loop).
    event_backlog: Arc<std::sync::atomic::AtomicUsize>,
    /// The longest receive queue seen (wsrep_local_recv_queue_max).
    recv_queue_max: AtomicU64,
    pub stats: Arc<Stats>,
    commit_timeout: Duration,
    gate: Arc<dyn CommitGate>,
    /// After a restart from the storage engine: the engine's horizon `H`.
    /// Events up to it are replayed for certification only (their effects
    /// are on disk); see `trireme_storage::lsm::recovery`.
    apply_floor: AtomicU64,
    /// Where this node's state came from at start, and rows loaded from
    /// full images since (status).
    recovery: Mutex<RecoveryInfo>,
}

/// How the node got its state (`trireme_storage_recovered_from`,
/// `trireme_storage_rows_loaded`).
#[derive(Clone, Debug)]
pub struct RecoveryInfo {
    /// `empty`, `checkpoint`, `engine` or `state_transfer`.
    pub from: &'static str,
    /// Rows loaded from full images (checkpoint or state transfer).
    pub rows_loaded: u64,
}

impl Drop for Replicator {
    fn drop(&mut self) {
        self.appliers.shutdown();
    }
}

/// Flow control seen from the commit path: wait while the cluster is paused.
pub trait CommitGate: Send + Sync + 'static {
    fn wait(&self) -> futures::future::BoxFuture<'_, SqlResult<()>>;
}

/// The gate of a single node: never closed.
pub struct OpenGate;

impl CommitGate for OpenGate {
    fn wait(&self) -> futures::future::BoxFuture<'_, SqlResult<()>> {
        Box::pin(async { Ok(()) })
    }
}

/// Settings of the pipeline.
#[derive(Clone, Debug)]
pub struct ReplConfig {
    pub node_id: u64,
    pub applier_threads: usize,
    /// How long a COMMIT waits for its ordering outcome before answering
    /// "outcome unknown".
    pub commit_timeout: Duration,
    /// Artificial delay per applied write-set (tests of flow control).
    pub apply_delay: Duration,
}

impl ReplConfig {
    pub fn from_config(c: &crate::config::Config) -> ReplConfig {
        ReplConfig {
            node_id: c.node_id,
            applier_threads: c.applier_threads,
            commit_timeout: Duration::from_millis(c.commit_timeout_ms),
            apply_delay: Duration::from_millis(c.debug.apply_delay_ms),
        }
    }
}

impl Replicator {
    pub fn new(
        cfg: ReplConfig,
        store: Arc<Store>,
        orderer: Arc<dyn Orderer>,
        certifier: Certifier,
        gate: Arc<dyn CommitGate>,
        schema: Arc<dyn SchemaChange>,
    ) -> Arc<Replicator> {
        let start_trx = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros() as u64;
        Arc::new_cyclic(|weak| Replicator {
            node_id: cfg.node_id,
            appliers: Appliers::start(
                cfg.applier_threads,
                store.clone(),
                weak.clone(),
                cfg.apply_delay,
                schema,
            ),
            store,
            orderer,
            cert: Mutex::new(certifier),
            cert_cache: Mutex::new(Default::default()),
            waiters: Mutex::new(HashMap::new()),
            active: Mutex::new(HashMap::new()),
            low_water: Mutex::new(BTreeMap::new()),
            // Trx ids never repeat across restarts, so a write-set ordered
            // before a crash can never wake a waiter of after it.
            next_trx: AtomicU64::new(start_trx),
            last_delivered: AtomicU64::new(0),
            event_backlog: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            recv_queue_max: AtomicU64::new(0),
            stats: Arc::new(Stats::default()),
            commit_timeout: cfg.commit_timeout,
            gate,
            apply_floor: AtomicU64::new(0),
            recovery: Mutex::new(RecoveryInfo {
                from: "empty",
                rows_loaded: 0,
            }),
        })
    }

    pub fn default_certifier(position: u64) -> Certifier {
        Certifier::starting_at(CertConfig::default(), position)
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn orderer(&self) -> &Arc<dyn Orderer> {
        &self.orderer
    }

    pub fn appliers(&self) -> &Appliers {
        &self.appliers
    }

    /// The whole receive queue, Galera's wsrep_local_recv_queue: ordered
    /// events not yet certified plus certified ones not yet applied. Flow
    /// control watches this, so a node slow to certify (or to take events
    /// at all) pauses the cluster just as a node slow to apply does.
    pub fn recv_queue_len(&self) -> usize {
        self.appliers.queue_len() + self.event_backlog.load(Ordering::Relaxed)
    }

    /// Where the event loop reports the events still waiting in gcs.
    pub fn event_backlog(&self) -> Arc<std::sync::atomic::AtomicUsize> {
        self.event_backlog.clone()
    }

    /// Records a receive-queue length; returns it.
    pub fn note_recv_queue(&self, len: usize) -> usize {
        self.recv_queue_max.fetch_max(len as u64, Ordering::Relaxed);
        len
    }

    /// The longest receive queue recorded.
    pub fn recv_queue_max(&self) -> u64 {
        self.recv_queue_max.load(Ordering::Relaxed)
    }

    pub fn next_trx_id(&self) -> u64 {
        self.next_trx.fetch_add(1, Ordering::Relaxed)
    }

    /// Certification statistics as of the last processed event (status
    /// queries never wait for certification).
    pub fn cert_stats(&self) -> trireme_certification::CertStats {
        self.cert_cache.lock().0
    }

    pub fn cert_index_size(&self) -> usize {
        self.cert_cache.lock().1
    }

    fn cache_cert_stats(&self, cert: &Certifier) {
        *self.cert_cache.lock() = (cert.stats(), cert.index_size());
    }

    /// Snapshot of the certification index (checkpoints, state transfer).
    pub fn cert_snapshot(&self) -> trireme_certification::CertSnapshot {
        self.cert.lock().snapshot()
    }

    pub fn replace_certifier(&self, c: Certifier) {
        *self.cert.lock() = c;
    }

    /// Captures the state after exactly the events delivered so far: waits
    /// for the appliers to finish them (deliveries pause meanwhile, since
    /// certification is held), then copies the certification index and pins
    /// a store snapshot at that seqno. Blocking: call from a blocking thread.
    pub fn capture(&self, state_uuid: &str) -> SqlResult<trireme_storage::checkpoint::Capture> {
        let cert = self.cert.lock();
        let pos = cert.position();
        let floor = self.apply_floor.load(Ordering::Acquire);
        if pos < floor {
            // The rows on disk are already past `pos`: no consistent image
            // (or recovery point) at `pos` exists until the replay catches up.
            return Err(SqlError::internal(format!(
                "still replaying the ordered log up to the storage engine's horizon ({pos} of {floor})"
            )));
        }
        self.appliers.wait_horizon(pos);
        let bytes = cert_codec::encode_snapshot(&cert.snapshot())
            .map_err(|e| SqlError::internal(format!("certification snapshot: {e}")))?;
        let guard = self.store.snapshot();
        debug_assert_eq!(guard.seqno, pos);
        let low_water = self
            .low_water
            .lock()
            .iter()
            .map(|(k, v)| (*k, *v))
            .collect();
        Ok(trireme_storage::checkpoint::Capture {
            seqno: pos,
            state_uuid: state_uuid.to_string(),
            catalog: self.store.catalog(),
            cert: bytes,
            low_water,
            guard: Some(guard),
        })
    }

    /// Replaces the whole state with a checkpoint (recovery, or a state
    /// transfer arriving in stream order). Blocking.
    pub fn install(&self, loaded: &trireme_storage::checkpoint::Loaded) -> SqlResult<()> {
        let mut cert = self.cert.lock();
        self.appliers.wait_horizon(cert.position());
        let snap = cert_codec::decode_snapshot(&loaded.cert)
            .map_err(|e| SqlError::internal(format!("certification snapshot: {e}")))?;
        let restored = Certifier::restore(&snap, CertConfig::default())
            .map_err(|e| SqlError::internal(format!("certification snapshot: {e}")))?;
        if restored.position() != loaded.seqno {
            return Err(SqlError::internal(format!(
                "checkpoint at {} holds a certification index at {}",
                loaded.seqno,
                restored.position()
            )));
        }
        trireme_storage::checkpoint::install(&self.store, loaded)
            .map_err(|e| SqlError::internal(format!("installing the checkpoint: {e}")))?;
        for t in self.store.catalog().all_tables() {
            t.reseed_hidden(self.node_id)?;
        }
        // On disk, the state is complete only once its recovery point lands.
        self.store
            .persist_installed(&RecoveryPoint {
                seqno: loaded.seqno,
                state_uuid: loaded.state_uuid.clone(),
                cert: loaded.cert.clone(),
                low_water: loaded.low_water.clone(),
            })
            .map_err(|e| SqlError::internal(format!("saving the installed state: {e}")))?;
        self.appliers.reset(loaded.seqno);
        self.set_delivered(loaded.seqno);
        self.apply_floor.store(0, Ordering::Release);
        *cert = restored;
        *self.low_water.lock() = loaded.low_water.iter().copied().collect();
        let mut info = self.recovery.lock();
        info.rows_loaded += loaded.rows;
        Ok(())
    }

    /// Installs a state streamed into the lsm engine (`crate::sst`): with
    /// the certification lock held and every applier idle, `import` fills
    /// the engine (a copy at `H >= point.seqno`, with `point` as its
    /// recovery point); then the node resumes as a restart from disk does:
    /// the index at `point.seqno`, events up to `H` certified only.
    pub fn install_streamed(
        &self,
        point: &RecoveryPoint,
        import: impl FnOnce() -> anyhow::Result<trireme_storage::lsm::export::Imported>,
    ) -> anyhow::Result<u64> {
        let mut cert = self.cert.lock();
        self.appliers.wait_horizon(cert.position());
        let restored = restore_certifier(point)?;
        if restored.position() != point.seqno {
            anyhow::bail!(
                "descriptor at {} holds a certification index at {}",
                point.seqno,
                restored.position()
            );
        }
        let got = import()?;
        let rec = self
            .store
            .recover_from_engine()
            .map_err(|e| anyhow::anyhow!("reading the copied engine: {e}"))?
            .ok_or_else(|| anyhow::anyhow!("the copied engine holds no recovery point"))?;
        for t in self.store.catalog().all_tables() {
            t.reseed_hidden(self.node_id)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        self.appliers.reset(rec.horizon);
        self.set_delivered(point.seqno);
        self.apply_floor.store(rec.horizon, Ordering::Release);
        *cert = restored;
        *self.low_water.lock() = point.low_water.iter().copied().collect();
        self.cache_cert_stats(&cert);
        self.recovery.lock().rows_loaded += got.rows;
        Ok(rec.horizon)
    }

    /// Takes a descriptor at `point.seqno` when this node already holds a
    /// complete state at a horizon `H >= point.seqno` (gcs may send a second
    /// snapshot while the first transfer ran, its log having moved on): the
    /// rows stay, only the certification state at `point` is adopted, and
    /// events up to `H` are certified only, as after a restart from disk.
    /// Returns `H`.
    pub fn adopt_point(&self, point: &RecoveryPoint) -> anyhow::Result<u64> {
        let mut cert = self.cert.lock();
        self.appliers.wait_horizon(cert.position());
        let restored = restore_certifier(point)?;
        let horizon = self.store.horizon();
        if restored.position() != point.seqno || horizon < point.seqno {
            anyhow::bail!(
                "descriptor at {} (index at {}) is above this node's horizon {horizon}",
                point.seqno,
                restored.position()
            );
        }
        self.store
            .persist_recovery_point(point)
            .map_err(|e| anyhow::anyhow!("saving the recovery point: {e}"))?;
        self.appliers.reset(horizon);
        self.set_delivered(point.seqno);
        self.apply_floor.fetch_max(horizon, Ordering::AcqRel);
        *cert = restored;
        *self.low_water.lock() = point.low_water.iter().copied().collect();
        self.cache_cert_stats(&cert);
        Ok(horizon)
    }

    /// Restarts from the state the storage engine holds (its catalog and
    /// horizon are already published in the store): the certification
    /// index and low-water map of the recovery point at `C`, deliveries
    /// resuming at `C + 1`, and applies skipped up to the engine's horizon
    /// `H` (see `trireme_storage::lsm::recovery`).
    pub fn resume(&self, point: &RecoveryPoint, horizon: u64) -> SqlResult<()> {
        let mut cert = self.cert.lock();
        let snap = cert_codec::decode_snapshot(&point.cert)
            .map_err(|e| SqlError::internal(format!("stored certification index: {e}")))?;
        let restored = Certifier::restore(&snap, CertConfig::default())
            .map_err(|e| SqlError::internal(format!("stored certification index: {e}")))?;
        if restored.position() != point.seqno {
            return Err(SqlError::internal(format!(
                "recovery point at {} holds a certification index at {}",
                point.seqno,
                restored.position()
            )));
        }
        for t in self.store.catalog().all_tables() {
            if t.def.primary.is_none() {
                t.reseed_hidden(self.node_id)?;
            }
        }
        self.appliers.reset(horizon);
        self.set_delivered(point.seqno);
        self.apply_floor.store(horizon, Ordering::Release);
        *cert = restored;
        *self.low_water.lock() = point.low_water.iter().copied().collect();
        self.cache_cert_stats(&cert);
        Ok(())
    }

    /// The recovery point of the state captured in `cap` (the certification
    /// state a restart from the engine resumes with).
    pub fn recovery_point(cap: &trireme_storage::checkpoint::Capture) -> RecoveryPoint {
        RecoveryPoint {
            seqno: cap.seqno,
            state_uuid: cap.state_uuid.clone(),
            cert: cap.cert.clone(),
            low_water: cap.low_water.clone(),
        }
    }

    /// Records how the node got its state (status).
    pub fn set_recovered_from(&self, from: &'static str) {
        self.recovery.lock().from = from;
    }

    pub fn recovery_info(&self) -> RecoveryInfo {
        self.recovery.lock().clone()
    }

    /// Whether an ordered event at `seqno` was applied before a restart
    /// from the engine (it is certified, not applied again).
    fn already_applied(&self, seqno: u64) -> bool {
        seqno <= self.apply_floor.load(Ordering::Acquire)
    }

    /// The last seqno delivered to this node.
    pub fn last_delivered(&self) -> u64 {
        self.last_delivered.load(Ordering::Acquire)
    }

    /// Notes where the delivery stream resumes (recovery, state transfer).
    pub fn set_delivered(&self, seqno: u64) {
        self.last_delivered.store(seqno, Ordering::Release);
    }

    /// The last seqno certification has seen.
    pub fn position(&self) -> u64 {
        self.cert.lock().position()
    }

    /// Tracks an open transaction's keys so a conflicting certified
    /// write-set can doom it.
    pub fn track(&self, txn: &Txn) {
        self.active.lock().insert(txn.id, txn.shared.clone());
    }

    pub fn untrack(&self, txn_id: u64) {
        self.active.lock().remove(&txn_id);
    }

    /// Waits until the horizon reaches `seqno`.
    pub async fn wait_applied(&self, seqno: u64) -> SqlResult<()> {
        let Some(rx) = self.store.horizon_reached(seqno) else {
            return Ok(());
        };
        match tokio::time::timeout(self.commit_timeout, rx).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(SqlError::internal("node is shutting down")),
            Err(_) => Err(SqlError::lock_wait_timeout(format!(
                "seqno {seqno} not applied within {:?}",
                self.commit_timeout
            ))),
        }
    }

    /// Waits until this node has applied `seqno`, a write-set that passed
    /// certification. Its outcome is decided (it commits on every node), so
    /// no timeout may turn it into an error a driver would read as a
    /// rollback (1205) and retry: it waits as long as the apply takes, and
    /// only a node that stops answers 1180 "outcome unknown".
    async fn wait_committed_applied(&self, seqno: u64) -> SqlResult<()> {
        let Some(mut rx) = self.store.horizon_reached(seqno) else {
            return Ok(());
        };
        let mut waited = Duration::ZERO;
        loop {
            match tokio::time::timeout(self.commit_timeout, &mut rx).await {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(_)) => {
                    return Err(SqlError::commit_unknown(format!(
                        "seqno {seqno} was certified but the node stopped before applying it"
                    )))
                }
                Err(_) => {
                    waited += self.commit_timeout;
                    warn!(
                        seqno,
                        waited_s = waited.as_secs(),
                        horizon = self.store.horizon(),
                        queue = self.appliers.queue_len(),
                        "a certified commit is still waiting for its apply"
                    );
                }
            }
        }
    }

    /// wsrep_sync_wait: waits until everything ordered before now is
    /// applied here.
    pub async fn sync_wait(&self) -> SqlResult<()> {
        let point = self.orderer.sync_point().await.map_err(|e| match e {
            SubmitError::NotPrimary => SqlError::not_primary(),
            SubmitError::NotOrdered(m) | SubmitError::Unknown(m) => {
                SqlError::lock_wait_timeout(format!("sync wait: {m}"))
            }
        })?;
        self.wait_applied(point).await
    }

    /// Replicates a transaction's write-set and waits for the verdict.
    /// Returns the commit seqno, or None for a transaction with nothing to
    /// replicate.
    pub async fn commit(&self, txn: &Txn) -> SqlResult<Option<u64>> {
        txn.check_doomed()?;
        let Some(ws) = writeset::write_set(txn, self.node_id) else {
            self.untrack(txn.id);
            return Ok(None);
        };
        let started = std::time::Instant::now();
        let deadline = tokio::time::Instant::now() + self.commit_timeout;
        self.pass_gate(deadline).await?;
        let lat = &self.stats.latency;
        lat.fc_gate.record(started.elapsed());
        txn.check_doomed()?;
        let bytes = cert_codec::encode_write_set(&ws)
            .map_err(|e| SqlError::internal(format!("write-set encoding: {e}")))?;
        let payload = Event::WriteSet(bytes)
            .encode()
            .map_err(|e| SqlError::internal(e.to_string()))?;
        let len = payload.len() as u64;
        // From here certification decides; a BF abort would only race it.
        self.untrack(txn.id);
        txn.detach();
        let submitted = std::time::Instant::now();
        let outcome = self.order_and_wait(txn.id, payload, deadline).await?;
        let verdict = std::time::Instant::now();
        lat.order.record(verdict - submitted);
        match outcome {
            Outcome::Committed(s) => {
                self.stats.replicated.fetch_add(1, Ordering::Relaxed);
                self.stats
                    .replicated_bytes
                    .fetch_add(len, Ordering::Relaxed);
                self.stats.local_commits.fetch_add(1, Ordering::Relaxed);
                self.wait_committed_applied(s).await?;
                lat.apply_wait.record(verdict.elapsed());
                lat.total.record(started.elapsed());
                Ok(Some(s))
            }
            Outcome::CertFailed => {
                self.stats
                    .local_cert_failures
                    .fetch_add(1, Ordering::Relaxed);
                Err(SqlError::deadlock())
            }
            Outcome::Toi(_) => Err(SqlError::internal("unexpected TOI outcome for a write-set")),
        }
    }

    /// Replicates a DDL / account statement and waits until every node
    /// would have applied it (it has been applied here).
    pub async fn toi(&self, db: Option<&str>, sql: &str, tables: Vec<String>) -> SqlResult<()> {
        let deadline = tokio::time::Instant::now() + self.commit_timeout;
        self.pass_gate(deadline).await?;
        let trx_id = self.next_trx_id();
        let time_us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as i64);
        let payload = Event::Toi {
            source: self.node_id,
            trx_id,
            db: db.map(str::to_string),
            sql: sql.to_string(),
            tables,
            time_us,
        }
        .encode()
        .map_err(|e| SqlError::internal(e.to_string()))?;
        match self.order_and_wait(trx_id, payload, deadline).await? {
            Outcome::Toi(r) => r,
            other => Err(SqlError::internal(format!("unexpected outcome {other:?}"))),
        }
    }

    /// Waits for the flow-control gate until `deadline`; past it the
    /// write-set was never sent, so the answer is a definite "not
    /// committed" (1047), like any other failure to replicate.
    async fn pass_gate(&self, deadline: tokio::time::Instant) -> SqlResult<()> {
        match tokio::time::timeout_at(deadline, self.gate.wait()).await {
            Ok(r) => r,
            Err(_) => Err(SqlError::new(
                trireme_sql::error::codes::UNKNOWN_COM_ERROR,
                "08S01",
                format!(
                    "WSREP could not replicate the transaction (paused by flow control for commit_timeout_ms, {:?}); it was not committed",
                    self.commit_timeout
                ),
            )),
        }
    }

    /// Orders `payload` and waits for its outcome, all before `deadline`
    /// (the COMMIT deadline, `commit_timeout_ms` from the COMMIT): a submit
    /// still waiting for a leader (or on a crashed one) when it expires
    /// answers 1180 "outcome unknown", never later.
    async fn order_and_wait(
        &self,
        trx_id: u64,
        payload: Vec<u8>,
        deadline: tokio::time::Instant,
    ) -> SqlResult<Outcome> {
        let (tx, rx) = oneshot::channel();
        self.waiters.lock().insert(trx_id, tx);
        let submitted = tokio::time::timeout_at(deadline, self.orderer.submit(payload))
            .await
            .unwrap_or_else(|_| {
                Err(SubmitError::Unknown(format!(
                    "not ordered within commit_timeout_ms ({:?})",
                    self.commit_timeout
                )))
            });
        match submitted {
            Ok(()) => {}
            Err(SubmitError::NotPrimary) => {
                self.waiters.lock().remove(&trx_id);
                return Err(SqlError::not_primary());
            }
            Err(SubmitError::NotOrdered(m)) => {
                self.waiters.lock().remove(&trx_id);
                return Err(SqlError::new(
                    trireme_sql::error::codes::UNKNOWN_COM_ERROR,
                    "08S01",
                    format!(
                        "WSREP could not replicate the transaction ({m}); it was not committed"
                    ),
                ));
            }
            Err(SubmitError::Unknown(m)) => {
                warn!(trx_id, error = %m, "submit outcome unknown; waiting for delivery");
            }
        }
        match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(o)) => Ok(o),
            Ok(Err(_)) => Err(SqlError::commit_unknown("node shutting down")),
            Err(_) => {
                self.waiters.lock().remove(&trx_id);
                warn!(
                    trx_id,
                    delivered = self.last_delivered(),
                    horizon = self.store.horizon(),
                    queue = self.appliers.queue_len(),
                    "no outcome for an ordered event in time"
                );
                Err(SqlError::commit_unknown(format!(
                    "not ordered within {:?}",
                    self.commit_timeout
                )))
            }
        }
    }

    fn notify(&self, origin: u64, trx_id: u64, outcome: Outcome) {
        if origin != self.node_id {
            return;
        }
        if let Some(tx) = self.waiters.lock().remove(&trx_id) {
            let _ = tx.send(outcome);
        }
    }

    /// Reports this node's oldest snapshot in use, so every node can purge
    /// the certification index at the same position.
    pub async fn report_low_water(&self) -> Result<(), SubmitError> {
        let seqno = self.store.oldest_snapshot();
        let payload = Event::LowWater {
            node: self.node_id,
            seqno,
        }
        .encode()
        .map_err(|e| SubmitError::Unknown(e.to_string()))?;
        self.orderer.submit(payload).await
    }

    /// Processes one ordered event. Must be called in seqno order, on one
    /// task, by every node for every seqno.
    pub fn deliver(&self, d: Delivery) {
        let seqno = d.seqno;
        let prev = self.last_delivered.swap(seqno, Ordering::AcqRel);
        if prev != 0 && seqno != prev + 1 {
            // The order must be dense: a gap means this node missed events
            // its peers applied, so its state can no longer match theirs.
            crate::state::diverged(
                seqno,
                &format!("ordered events are not contiguous (previous was {prev})"),
            );
        }
        if d.origin != self.node_id {
            self.stats.received.fetch_add(1, Ordering::Relaxed);
            self.stats
                .received_bytes
                .fetch_add(d.payload.len() as u64, Ordering::Relaxed);
        }
        let event = match Event::decode(&d.payload) {
            Ok(e) => e,
            Err(e @ event::DecodeError::TooNew(_)) => {
                // Peers that can read it will apply it: skipping would
                // diverge. (The handshake keeps newer members out; this is
                // the last line.)
                crate::state::diverged(seqno, &format!("{e}; upgrade this node"));
            }
            Err(e @ event::DecodeError::Malformed(_)) => {
                // Not an event of any version: every node reads the same
                // bytes the same way (the handshake guarantees one format),
                // so every node skips this seqno.
                error!(seqno, origin = d.origin, error = %e, "undecodable ordered event skipped");
                self.cert.lock().skip(seqno);
                self.appliers.finish(seqno);
                return;
            }
        };
        match event {
            Event::WriteSet(bytes) => match cert_codec::decode_write_set(&bytes) {
                Ok(ws) => self.deliver_write_set(seqno, d.origin, ws),
                Err(e) => {
                    error!(seqno, origin = d.origin, error = %e, "undecodable write-set skipped");
                    self.cert.lock().skip(seqno);
                    self.appliers.finish(seqno);
                }
            },
            Event::Toi {
                source,
                trx_id,
                db,
                sql,
                tables,
                time_us,
            } => {
                let v = self.cert.lock().certify_toi(&tables, seqno);
                debug_assert!(v.is_pass());
                if self.already_applied(seqno) {
                    self.appliers.finish(seqno);
                    return;
                }
                self.appliers.submit(appliers::Job::Toi {
                    seqno,
                    origin: source,
                    trx_id,
                    db,
                    sql,
                    time_us,
                });
            }
            Event::LowWater { node, seqno: low } => {
                let mut cert = self.cert.lock();
                cert.skip(seqno);
                let upto = {
                    let mut lw = self.low_water.lock();
                    lw.insert(node, low);
                    let floor = seqno.saturating_sub(LOW_WATER_WINDOW);
                    lw.retain(|_, v| *v >= floor);
                    lw.values().copied().min().unwrap_or(0)
                };
                if upto > cert.horizon() {
                    cert.purge(upto);
                }
                drop(cert);
                self.appliers.finish(seqno);
            }
        }
    }

    fn deliver_write_set(&self, seqno: u64, origin: u64, ws: WriteSet) {
        let verdict = {
            let mut cert = self.cert.lock();
            let started = std::time::Instant::now();
            let v = cert.certify(&ws, seqno);
            self.stats.latency.certify.record(started.elapsed());
            self.cache_cert_stats(&cert);
            v
        };
        match verdict {
            Verdict::Pass { depends_seqno } => {
                self.bf_abort(&ws, origin);
                let trx_id = ws.trx_id;
                if self.already_applied(seqno) {
                    self.notify(origin, trx_id, Outcome::Committed(seqno));
                    self.appliers.finish(seqno);
                    return;
                }
                // Inline only when nothing else waits to be certified: a
                // burst of events goes to the appliers, in parallel.
                let burst = self.event_backlog.load(Ordering::Relaxed) > 0;
                let queued = if burst {
                    Some(ws)
                } else {
                    self.appliers.apply_if_idle(seqno, depends_seqno, ws).err()
                };
                if queued.is_none() {
                    self.job_done(origin, trx_id, Outcome::Committed(seqno));
                }
                // The verdict is final: the origin's COMMIT learns it now
                // (after an inline apply, with its write-set visible) and
                // otherwise waits for the apply (read-your-writes) on its own.
                self.notify(origin, trx_id, Outcome::Committed(seqno));
                if let Some(ws) = queued {
                    self.appliers.submit(appliers::Job::WriteSet {
                        seqno,
                        depends: depends_seqno,
                        origin,
                        ws,
                    });
                }
            }
            Verdict::Fail(reason) => {
                tracing::debug!(seqno, ?reason, "certification failed");
                self.appliers.finish(seqno);
                self.notify(origin, ws.trx_id, Outcome::CertFailed);
            }
        }
    }

    /// Dooms open local transactions that wrote a key this certified
    /// write-set writes: they would fail certification anyway.
    fn bf_abort(&self, ws: &WriteSet, origin: u64) {
        let active = self.active.lock();
        if active.is_empty() {
            return;
        }
        let keys: Vec<trireme_storage::txn::RowKey> = ws
            .keys
            .iter()
            .filter(|k| k.kind == KeyKind::Exclusive)
            .filter_map(|k| writeset::row_pk(&k.pk).map(|pk| row_key(&k.table, pk)))
            .collect();
        for (id, shared) in active.iter() {
            if origin == self.node_id && *id == ws.trx_id {
                continue;
            }
            if shared.doomed.load(Ordering::Acquire) {
                continue;
            }
            if keys.iter().any(|k| shared.touches(k)) {
                shared.doomed.store(true, Ordering::Release);
                self.stats.local_bf_aborts.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Called by appliers when a job is done. A write-set's origin already
    /// learned its verdict at certification; a TOI's learns it here.
    fn job_done(&self, origin: u64, trx_id: u64, outcome: Outcome) {
        match outcome {
            Outcome::Committed(s) => {
                self.stats.last_committed.fetch_max(s, Ordering::Relaxed);
            }
            other => self.notify(origin, trx_id, other),
        }
    }
}

/// The certification state a state-transfer descriptor carries.
fn restore_certifier(point: &RecoveryPoint) -> anyhow::Result<Certifier> {
    let snap = cert_codec::decode_snapshot(&point.cert)
        .map_err(|e| anyhow::anyhow!("certification snapshot: {e}"))?;
    Certifier::restore(&snap, CertConfig::default())
        .map_err(|e| anyhow::anyhow!("certification snapshot: {e}"))
}
