//! A running node: the store, the commit pipeline, node-wide variables, the
//! session registry, and the status it reports (Galera's wsrep_% names).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Mutex, RwLock};

use crate::repl::Replicator;
use trireme_sql::show::NodeStatus;
use trireme_sql::vars::GlobalVars;
use trireme_sql::NodeInfo;
use trireme_storage::value::Value;
use trireme_storage::Store;

/// What the node knows of its cluster (updated on view changes).
#[derive(Clone, Debug)]
pub struct ClusterView {
    pub state_uuid: String,
    pub conf_id: u64,
    pub size: u64,
    pub primary: bool,
    pub local_index: u64,
    pub incoming_addresses: Vec<String>,
    /// Members (id, name) in view order; empty for a single node.
    pub members: Vec<(u64, String)>,
    /// wsrep_local_state: 1 Joining, 2 Donor/Desynced, 3 Joined, 4 Synced.
    pub local_state: u8,
}

impl ClusterView {
    pub fn single(uuid: &str, address: &str) -> ClusterView {
        ClusterView {
            state_uuid: uuid.to_string(),
            conf_id: 1,
            size: 1,
            primary: true,
            local_index: 0,
            incoming_addresses: vec![address.to_string()],
            members: Vec::new(),
            local_state: 4,
        }
    }
}

/// Flow-control figures for status (filled by the cluster layer).
pub trait FlowStatus: Send + Sync {
    fn figures(&self) -> Vec<(String, Value)>;
}

struct SessionEntry {
    user: String,
    host: String,
    since: Instant,
    query: Option<(String, Instant)>,
}

pub struct Node {
    pub store: Arc<Store>,
    pub repl: Arc<Replicator>,
    pub globals: Arc<GlobalVars>,
    info: RwLock<NodeInfo>,
    view: RwLock<ClusterView>,
    view_gen: AtomicU64,
    ready: AtomicBool,
    sessions: Mutex<BTreeMap<u32, SessionEntry>>,
    started: Instant,
    questions: AtomicU64,
    flow: RwLock<Option<Arc<dyn FlowStatus>>>,
    /// Other members' client addresses, in cluster mode.
    incoming: RwLock<Option<Arc<crate::members::IncomingAddresses>>>,
    recv_queue_max: AtomicU64,
    recv_queue_samples: Mutex<(f64, u64)>,
    /// The group-communication member, in cluster mode (shutdown).
    pub gcs_handle: Mutex<Option<trireme_gcs::Gcs>>,
    /// Streamed state transfers, given and taken (`crate::sst`).
    pub sst: Arc<crate::sst::SstStats>,
}

impl Node {
    pub fn new(
        store: Arc<Store>,
        repl: Arc<Replicator>,
        globals: Arc<GlobalVars>,
        info: NodeInfo,
        view: ClusterView,
    ) -> Arc<Node> {
        let ready = view.primary;
        Arc::new(Node {
            store,
            repl,
            globals,
            info: RwLock::new(info),
            view: RwLock::new(view),
            view_gen: AtomicU64::new(0),
            ready: AtomicBool::new(ready),
            sessions: Mutex::new(BTreeMap::new()),
            started: Instant::now(),
            questions: AtomicU64::new(0),
            flow: RwLock::new(None),
            incoming: RwLock::new(None),
            recv_queue_max: AtomicU64::new(0),
            recv_queue_samples: Mutex::new((0.0, 0)),
            gcs_handle: Mutex::new(None),
            sst: Arc::default(),
        })
    }

    pub fn info(&self) -> NodeInfo {
        self.info.read().clone()
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    pub fn view(&self) -> ClusterView {
        self.view.read().clone()
    }

    /// A new view: readiness, auto-increment control, status. Returns the
    /// view's generation (for `mark_synced`).
    pub fn set_view(&self, view: ClusterView) -> u64 {
        {
            let mut info = self.info.write();
            info.auto_increment_increment = view.size.max(1);
            info.auto_increment_offset = view.local_index + 1;
        }
        self.globals.set_server(
            "auto_increment_increment",
            Value::Int(view.size.max(1) as i64),
        );
        self.globals.set_server(
            "auto_increment_offset",
            Value::Int(view.local_index as i64 + 1),
        );
        let mut v = self.view.write();
        self.ready
            .store(view.primary && view.local_state == 4, Ordering::Release);
        *v = view;
        self.view_gen.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Declares the node Synced, unless the view changed since generation
    /// `gen` (a catch-up that raced a newer view must not win).
    pub fn mark_synced(&self, gen: u64) -> bool {
        let mut v = self.view.write();
        if self.view_gen.load(Ordering::Acquire) != gen || !v.primary {
            return false;
        }
        v.local_state = 4;
        self.ready.store(true, Ordering::Release);
        true
    }

    pub fn set_flow_status(&self, f: Arc<dyn FlowStatus>) {
        *self.flow.write() = Some(f);
    }

    pub fn set_incoming(&self, a: Arc<crate::members::IncomingAddresses>) {
        *self.incoming.write() = Some(a);
    }

    /// wsrep_incoming_addresses: as last heard, not only as at the view
    /// change (announcements arrive after it).
    fn incoming_addresses(&self, view: &ClusterView) -> String {
        match self.incoming.read().as_ref() {
            Some(a) if !view.members.is_empty() => a.list(&view.members).join(","),
            _ => view.incoming_addresses.join(","),
        }
    }

    /// Samples the receive queue (for wsrep_local_recv_queue_avg/_max).
    pub fn sample_recv_queue(&self) {
        let q = self.repl.recv_queue_len() as u64;
        self.recv_queue_max.fetch_max(q, Ordering::Relaxed);
        let mut s = self.recv_queue_samples.lock();
        s.0 += q as f64;
        s.1 += 1;
    }

    pub fn register_session(&self, id: u32, user: &str, host: &str) {
        self.sessions.lock().insert(
            id,
            SessionEntry {
                user: user.to_string(),
                host: host.to_string(),
                since: Instant::now(),
                query: None,
            },
        );
    }

    pub fn unregister_session(&self, id: u32) {
        self.sessions.lock().remove(&id);
    }

    pub fn note_query(&self, id: u32, text: &str) {
        self.questions.fetch_add(1, Ordering::Relaxed);
        if let Some(s) = self.sessions.lock().get_mut(&id) {
            let mut t: String = text.chars().take(256).collect();
            if t.len() < text.len() {
                t.push_str("...");
            }
            s.query = Some((t, Instant::now()));
        }
    }

    pub fn note_query_done(&self, id: u32) {
        if let Some(s) = self.sessions.lock().get_mut(&id) {
            s.query = None;
        }
    }

    /// Stops group communication (the member stays in the membership, so a
    /// restart rejoins as the same member).
    pub async fn shutdown(&self) {
        let g = self.gcs_handle.lock().take();
        if let Some(g) = g {
            g.shutdown().await;
        }
    }

    pub fn statistics_line(&self) -> String {
        let up = self.started.elapsed().as_secs().max(1);
        let q = self.questions.load(Ordering::Relaxed);
        format!(
            "Uptime: {up}  Threads: {}  Questions: {q}  Slow queries: 0  Opens: 0  Open tables: {}  Queries per second avg: {:.3}",
            self.sessions.lock().len(),
            self.store.catalog().all_tables().count(),
            q as f64 / up as f64
        )
    }
}

impl NodeStatus for Node {
    fn status(&self) -> Vec<(String, Value)> {
        let st = &self.repl.stats;
        let cert = self.repl.cert_stats();
        let view = self.view();
        let s = |v: &str| Value::Str(v.to_string());
        let u = |a: &AtomicU64| Value::UInt(a.load(Ordering::Relaxed));
        let on = |b: bool| s(if b { "ON" } else { "OFF" });
        let (avg, _) = {
            let g = self.recv_queue_samples.lock();
            (if g.1 == 0 { 0.0 } else { g.0 / g.1 as f64 }, g.1)
        };
        let gcs_status = self.gcs_handle.lock().as_ref().map(|g| g.status());
        let recovery = self.repl.recovery_info();
        let lsm = match self.store.engine() {
            trireme_storage::Engine::Lsm(e) => Some(e),
            trireme_storage::Engine::Memory => None,
        };
        let mut out: Vec<(String, Value)> = vec![
            (
                "Threads_connected".into(),
                Value::UInt(self.sessions.lock().len() as u64),
            ),
            (
                "Uptime".into(),
                Value::UInt(self.started.elapsed().as_secs()),
            ),
            ("Questions".into(), u(&self.questions)),
            ("trireme_isolation".into(), s("SNAPSHOT-ISOLATION")),
            (
                "trireme_applier_max_concurrency".into(),
                Value::UInt(self.repl.appliers().max_concurrency() as u64),
            ),
            ("trireme_horizon".into(), Value::UInt(self.store.horizon())),
            (
                "trireme_sst_address".into(),
                self.sst
                    .address
                    .lock()
                    .clone()
                    .map_or(Value::Null, Value::Str),
            ),
            ("trireme_sst_donations".into(), u(&self.sst.donations)),
            ("trireme_sst_bytes_sent".into(), u(&self.sst.bytes_sent)),
            (
                "trireme_sst_bytes_received".into(),
                u(&self.sst.bytes_received),
            ),
            // How this process got its state (`engine`: restarted from the
            // lsm engine's files, loading no image), and rows loaded from
            // full images (checkpoint at start, state transfers) since.
            ("trireme_storage_recovered_from".into(), s(recovery.from)),
            // Where an lsm node's memory goes besides the ordered log
            // (wsrep_gcache_pool_size): the block cache and the memtables.
            (
                "trireme_storage_cache_bytes".into(),
                Value::UInt(lsm.map_or(0, |e| e.cache_bytes())),
            ),
            (
                "trireme_storage_write_buffer_bytes".into(),
                Value::UInt(lsm.map_or(0, |e| e.write_buffer_bytes())),
            ),
            (
                "trireme_storage_rows_loaded".into(),
                Value::UInt(recovery.rows_loaded),
            ),
            // Raft leader (node id, 0 = none known) and term: availability
            // monitors count leader changes with these.
            (
                "trireme_gcs_leader".into(),
                Value::UInt(gcs_status.as_ref().map_or(0, |g| g.leader.unwrap_or(0))),
            ),
            (
                "trireme_gcs_term".into(),
                Value::UInt(gcs_status.as_ref().map_or(0, |g| g.term)),
            ),
            // Views reported by gcs since this process started, and how
            // many were non-primary (availability monitors and tests count
            // view changes with these; a poll can miss a short one).
            (
                "trireme_gcs_view_changes".into(),
                Value::UInt(gcs_status.as_ref().map_or(0, |g| g.view_changes)),
            ),
            (
                "trireme_gcs_nonprimary_views".into(),
                Value::UInt(gcs_status.as_ref().map_or(0, |g| g.nonprimary_views)),
            ),
            // Freezes of this process (no CPU, SIGSTOP) that gcs noticed
            // and discounted from its silence checks.
            (
                "trireme_gcs_freezes".into(),
                Value::UInt(gcs_status.as_ref().map_or(0, |g| g.freezes)),
            ),
            (
                "trireme_gcs_frozen_ms".into(),
                Value::UInt(gcs_status.as_ref().map_or(0, |g| g.frozen_ms)),
            ),
            // Galera's name for the bytes its gcache holds.
            (
                "wsrep_gcache_pool_size".into(),
                Value::UInt(gcs_status.as_ref().map_or(0, |g| g.gcache_bytes)),
            ),
            (
                "trireme_delivered_seqno".into(),
                Value::UInt(self.repl.last_delivered()),
            ),
            (
                "wsrep_apply_window".into(),
                Value::Double(self.repl.appliers().apply_window()),
            ),
            (
                "wsrep_cert_deps_distance".into(),
                Value::Double(cert.deps_distance()),
            ),
            (
                "wsrep_cert_index_size".into(),
                Value::UInt(self.repl.cert_index_size() as u64),
            ),
            (
                "wsrep_cert_interval".into(),
                Value::Double(cert.cert_interval()),
            ),
            ("wsrep_cluster_conf_id".into(), Value::UInt(view.conf_id)),
            ("wsrep_cluster_size".into(), Value::UInt(view.size)),
            ("wsrep_cluster_state_uuid".into(), s(&view.state_uuid)),
            (
                "wsrep_cluster_status".into(),
                s(if view.primary {
                    "Primary"
                } else {
                    "non-Primary"
                }),
            ),
            // Commits are the applies: the origin answers once its
            // write-set is applied, in any order the dependencies allow.
            (
                "wsrep_commit_window".into(),
                Value::Double(self.repl.appliers().apply_window()),
            ),
            ("wsrep_connected".into(), on(true)),
            (
                "wsrep_incoming_addresses".into(),
                s(&self.incoming_addresses(&view)),
            ),
            (
                "wsrep_last_committed".into(),
                Value::UInt(self.store.horizon()),
            ),
            ("wsrep_local_bf_aborts".into(), u(&st.local_bf_aborts)),
            (
                "wsrep_local_cert_failures".into(),
                u(&st.local_cert_failures),
            ),
            ("wsrep_local_commits".into(), u(&st.local_commits)),
            ("wsrep_local_index".into(), Value::UInt(view.local_index)),
            (
                "wsrep_local_recv_queue".into(),
                Value::UInt(self.repl.recv_queue_len() as u64),
            ),
            ("wsrep_local_recv_queue_avg".into(), Value::Double(avg)),
            (
                "wsrep_local_recv_queue_max".into(),
                Value::UInt(
                    self.recv_queue_max
                        .load(Ordering::Relaxed)
                        .max(self.repl.recv_queue_max()),
                ),
            ),
            ("wsrep_local_send_queue".into(), Value::UInt(0)),
            (
                "wsrep_local_state".into(),
                Value::UInt(u64::from(view.local_state)),
            ),
            (
                "wsrep_local_state_comment".into(),
                // While a streamed transfer runs: "Joiner: 12.5 MiB" or
                // "Donor: 3.0 MiB" (a donor stays Synced in wsrep_local_state:
                // it keeps serving).
                Value::Str(self.sst.comment().unwrap_or_else(|| {
                    match view.local_state {
                        1 => "Joining",
                        2 => "Donor/Desynced",
                        3 => "Joined",
                        4 => "Synced",
                        _ => "Initialized",
                    }
                    .to_string()
                })),
            ),
            ("wsrep_local_state_uuid".into(), s(&view.state_uuid)),
            ("wsrep_provider_name".into(), s("trireme-gcs")),
            ("wsrep_provider_vendor".into(), s("trireme")),
            (
                "wsrep_provider_version".into(),
                s(env!("CARGO_PKG_VERSION")),
            ),
            ("wsrep_ready".into(), on(self.is_ready())),
            ("wsrep_received".into(), u(&st.received)),
            ("wsrep_received_bytes".into(), u(&st.received_bytes)),
            ("wsrep_replicated".into(), u(&st.replicated)),
            ("wsrep_replicated_bytes".into(), u(&st.replicated_bytes)),
        ];
        out.extend(
            st.latency
                .status()
                .into_iter()
                .map(|(k, v)| (k, Value::Double(v))),
        );
        match self.flow.read().as_ref() {
            Some(f) => out.extend(f.figures()),
            None => {
                out.push(("wsrep_flow_control_paused".into(), Value::Double(0.0)));
                out.push(("wsrep_flow_control_paused_ns".into(), Value::UInt(0)));
                out.push(("wsrep_flow_control_recv".into(), Value::UInt(0)));
                out.push(("wsrep_flow_control_sent".into(), Value::UInt(0)));
            }
        }
        out.sort_by_key(|a| a.0.to_ascii_lowercase());
        out
    }

    fn processlist(&self) -> Vec<Vec<Value>> {
        let s = |v: &str| Value::Str(v.to_string());
        self.sessions
            .lock()
            .iter()
            .map(|(id, e)| {
                let (cmd, time, info) = match &e.query {
                    Some((q, at)) => ("Query", at.elapsed().as_secs(), s(q)),
                    None => ("Sleep", e.since.elapsed().as_secs(), Value::Null),
                };
                vec![
                    Value::Int(i64::from(*id)),
                    s(&e.user),
                    s(&e.host),
                    Value::Null,
                    s(cmd),
                    Value::Int(time as i64),
                    s(""),
                    info,
                ]
            })
            .collect()
    }
}
