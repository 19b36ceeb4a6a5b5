//! Test harness: a node stand-in (`TestApp`) that applies deliveries to an
//! in-memory log and can snapshot it, plus helpers to start members on
//! 127.0.0.1 with ephemeral ports and to wait for conditions with generous
//! deadlines (never fixed sleeps).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::FutureExt;
use parking_lot::Mutex;
use trireme_gcs::{
    tls, AppSnapshot, Event, EventReceiver, FsyncPolicy, Gcs, GcsConfig, NodeId, Seqno,
    SnapshotApp, Timeouts, View,
};

/// Generous deadline for cluster-level conditions on a noisy 2-core machine.
pub const LONG: Duration = Duration::from_secs(120);

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,openraft=error".into()),
        )
        .with_test_writer()
        .try_init();
}

#[derive(Default)]
pub struct AppState {
    /// `log[i]` is the payload with seqno `i + 1`.
    pub log: Vec<(NodeId, Bytes)>,
    pub views: Vec<View>,
    pub messages: Vec<(NodeId, Bytes)>,
    pub snapshots_installed: Vec<Seqno>,
    pub errors: Vec<String>,
}

/// Stand-in for the node: applies deliveries in order.
pub struct TestApp {
    pub st: Mutex<AppState>,
    pub applied_at_start: Seqno,
}

impl TestApp {
    pub fn new() -> Arc<Self> {
        Arc::new(TestApp {
            st: Mutex::new(AppState::default()),
            applied_at_start: 0,
        })
    }
    pub fn seqno(&self) -> Seqno {
        self.st.lock().log.len() as Seqno
    }
    pub fn log(&self) -> Vec<(NodeId, Bytes)> {
        self.st.lock().log.clone()
    }
    pub fn last_view(&self) -> Option<View> {
        self.st.lock().views.last().cloned()
    }
    pub fn errors(&self) -> Vec<String> {
        self.st.lock().errors.clone()
    }

    fn apply(&self, ev: Event) {
        let mut st = self.st.lock();
        match ev {
            Event::Deliver {
                seqno,
                origin,
                payload,
            } => {
                let expect = st.log.len() as Seqno + 1;
                if seqno != expect {
                    st.errors
                        .push(format!("deliver seqno {seqno}, expected {expect}"));
                }
                st.log.push((origin, payload));
            }
            Event::Snapshot { seqno, data } => match decode_log(&data) {
                Some(log) if log.len() as Seqno == seqno => {
                    st.log = log;
                    st.snapshots_installed.push(seqno);
                }
                _ => st.errors.push(format!("bad snapshot at {seqno}")),
            },
            Event::View(v) => st.views.push(v),
            Event::Message { from, payload } => st.messages.push((from, payload)),
        }
    }
}

fn encode_log(log: &[(NodeId, Bytes)]) -> Bytes {
    let v: Vec<(u64, Vec<u8>)> = log.iter().map(|(o, b)| (*o, b.to_vec())).collect();
    Bytes::from(trireme_gcs::codec::encode(&v).unwrap())
}

fn decode_log(b: &[u8]) -> Option<Vec<(NodeId, Bytes)>> {
    let v: Vec<(u64, Vec<u8>)> = trireme_gcs::codec::decode(b).ok()?;
    Some(v.into_iter().map(|(o, b)| (o, Bytes::from(b))).collect())
}

impl SnapshotApp for TestApp {
    fn build_snapshot(&self) -> BoxFuture<'_, anyhow::Result<AppSnapshot>> {
        async move {
            let st = self.st.lock();
            Ok(AppSnapshot {
                seqno: st.log.len() as Seqno,
                data: encode_log(&st.log),
            })
        }
        .boxed()
    }
    fn applied_seqno(&self) -> Seqno {
        self.applied_at_start
    }
}

pub struct TestNode {
    pub gcs: Gcs,
    pub app: Arc<TestApp>,
    pub cfg: GcsConfig,
    consumer: tokio::task::JoinHandle<()>,
}

impl TestNode {
    /// Wrap a member started by hand and consume its events.
    pub fn with_receiver(
        gcs: Gcs,
        app: Arc<TestApp>,
        cfg: GcsConfig,
        mut rx: EventReceiver,
    ) -> TestNode {
        let a = app.clone();
        let consumer = tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                a.apply(ev);
            }
        });
        TestNode {
            gcs,
            app,
            cfg,
            consumer,
        }
    }

    pub fn addr(&self) -> String {
        self.gcs.advertised_addr().to_string()
    }
    pub fn view(&self) -> View {
        self.gcs.view()
    }
    pub async fn stop(self) -> GcsConfig {
        self.gcs.shutdown().await;
        let _ = tokio::time::timeout(Duration::from_secs(10), self.consumer).await;
        self.cfg
    }
}

pub fn test_config(id: NodeId, data: &Path, certs: &Path, peers: &[String]) -> GcsConfig {
    let name = format!("n{id}");
    GcsConfig {
        node_id: id,
        node_name: name.clone(),
        listen: "127.0.0.1:0".parse().unwrap(),
        cluster_address: format!("gcomm://{}", peers.join(",")),
        cluster_name: "test".into(),
        data_dir: data.join(&name),
        bootstrap: peers.is_empty(),
        timeouts: Timeouts::for_tests(),
        fsync: FsyncPolicy::Never,
        tls: Some(tls::ensure_dev_certs(certs, "test", &name).unwrap()),
        ..Default::default()
    }
}

pub async fn start(cfg: GcsConfig, app: Arc<TestApp>) -> TestNode {
    let (gcs, rx) = Gcs::start(cfg.clone(), app.clone())
        .await
        .expect("member starts");
    TestNode::with_receiver(gcs, app, cfg, rx)
}

/// Poll `f` every 20 ms until it holds; panic with `what` after `limit`.
pub async fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        if t0.elapsed() > limit {
            panic!("timed out after {limit:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// True when `n` sees a primary view with exactly `ids` as members.
pub fn primary_with(n: &TestNode, ids: &[NodeId]) -> bool {
    let v = n.view();
    v.primary && v.members.iter().map(|m| m.id).collect::<Vec<_>>() == ids
}

/// Start a cluster of `k` members on fresh directories: member 1 bootstraps,
/// the others join through it. Waits until all see a primary view of all.
pub async fn cluster(k: u64, root: &Path, tweak: impl Fn(&mut GcsConfig)) -> Vec<TestNode> {
    let certs = root.join("certs");
    let mut c1 = test_config(1, root, &certs, &[]);
    tweak(&mut c1);
    let n1 = start(c1, TestApp::new()).await;
    let seed = vec![n1.addr()];
    let mut nodes = vec![n1];
    for id in 2..=k {
        let mut c = test_config(id, root, &certs, &seed);
        tweak(&mut c);
        nodes.push(start(c, TestApp::new()).await);
    }
    let ids: Vec<NodeId> = (1..=k).collect();
    for n in &nodes {
        wait_for(
            &format!("member {} sees a primary view of {ids:?}", n.gcs.id()),
            LONG,
            || primary_with(n, &ids),
        )
        .await;
    }
    nodes
}

pub fn root() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

pub fn data_dir(n: &TestNode) -> PathBuf {
    n.cfg.data_dir.clone()
}

/// Broadcast with retries of *definite* failures only (an ambiguous outcome
/// is returned as is).
pub async fn broadcast_retry(g: &Gcs, p: Bytes) -> Result<Seqno, trireme_gcs::BroadcastError> {
    let t0 = Instant::now();
    loop {
        match g.broadcast(p.clone()).await {
            Err(e) if !e.is_ambiguous() && t0.elapsed() < LONG => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            r => return r,
        }
    }
}

/// A tokio runtime on its own thread: the in-process stand-in for a
/// *process*. [`ProcRt::kill`] ends it the way SIGKILL ends a process: the
/// runtime is dropped, so every task on it (raft, QUIC endpoint and
/// connection drivers, timers) vanishes without running any shutdown code;
/// peers receive no CONNECTION_CLOSE and the UDP socket is released once the
/// last handle to it is gone.
pub struct ProcRt {
    handle: tokio::runtime::Handle,
    kill: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ProcRt {
    pub async fn new(name: &str) -> ProcRt {
        let (htx, hrx) = tokio::sync::oneshot::channel();
        let (kill, kill_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                let _ = htx.send(rt.handle().clone());
                rt.block_on(async {
                    let _ = kill_rx.await;
                });
                // A current-thread runtime drops all its tasks here without
                // polling any of them again.
                rt.shutdown_timeout(Duration::from_secs(10));
            })
            .expect("spawn process thread");
        let handle = hrx.await.expect("process runtime");
        ProcRt {
            handle,
            kill: Some(kill),
            thread: Some(thread),
        }
    }

    /// Spawn `f` on this process.
    pub fn spawn<T: Send + 'static>(
        &self,
        f: impl std::future::Future<Output = T> + Send + 'static,
    ) -> tokio::task::JoinHandle<T> {
        self.handle.spawn(f)
    }

    /// Run `f` on this process and wait for its result.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl std::future::Future<Output = T> + Send + 'static,
    ) -> T {
        self.spawn(f).await.expect("task on process runtime")
    }

    /// Drop the runtime and every task on it, abruptly.
    pub async fn kill(mut self) {
        if let Some(k) = self.kill.take() {
            let _ = k.send(());
        }
        if let Some(t) = self.thread.take() {
            tokio::task::spawn_blocking(move || t.join())
                .await
                .expect("join process thread")
                .expect("process thread exits cleanly");
        }
    }
}

/// Wait (bounded) until the UDP port of a killed process can be bound again.
pub async fn wait_port_free(addr: std::net::SocketAddr) {
    wait_for(&format!("UDP port {addr} is free"), LONG, || {
        std::net::UdpSocket::bind(addr).is_ok()
    })
    .await;
}

/// A member running in its own [`ProcRt`], so it can be crashed.
pub struct Proc {
    pub node: TestNode,
    pub rt: ProcRt,
}

impl Proc {
    /// Start a member from `cfg` in a new process.
    pub async fn start(cfg: GcsConfig, app: Arc<TestApp>) -> Proc {
        let rt = ProcRt::new(&format!("proc-n{}", cfg.node_id)).await;
        let node = rt.run(start(cfg, app)).await;
        Proc { node, rt }
    }

    pub fn gcs(&self) -> &Gcs {
        &self.node.gcs
    }

    /// SIGKILL: no shutdown of gcs, raft or QUIC; the data directory stays as
    /// it is. Returns the configuration to restart the member with (same id,
    /// data directory and address).
    pub async fn crash(self) -> GcsConfig {
        let mut cfg = self.node.cfg.clone();
        cfg.listen = self.node.gcs.local_addr();
        self.rt.kill().await;
        drop(self.node);
        wait_port_free(cfg.listen).await;
        cfg
    }

    /// Graceful stop.
    pub async fn stop(self) {
        let g = self.node.gcs.clone();
        self.rt.run(async move { g.shutdown().await }).await;
        self.rt.kill().await;
    }
}

/// Like [`cluster`], each member in its own [`Proc`].
pub async fn proc_cluster(k: u64, root: &Path, tweak: impl Fn(&mut GcsConfig)) -> Vec<Proc> {
    let certs = root.join("certs");
    let mut c1 = test_config(1, root, &certs, &[]);
    tweak(&mut c1);
    let p1 = Proc::start(c1, TestApp::new()).await;
    let seed = vec![p1.node.addr()];
    let mut procs = vec![p1];
    for id in 2..=k {
        let mut c = test_config(id, root, &certs, &seed);
        tweak(&mut c);
        procs.push(Proc::start(c, TestApp::new()).await);
    }
    let ids: Vec<NodeId> = (1..=k).collect();
    for p in &procs {
        wait_for(
            &format!("member {} sees a primary view of {ids:?}", p.gcs().id()),
            LONG,
            || primary_with(&p.node, &ids),
        )
        .await;
    }
    procs
}
