//! A cluster of real `trireme` processes on loopback for integration tests.
//! Every process is started by this harness and stopped by pid (SIGKILL on
//! drop), so a failing test never leaves nodes behind.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mysql_async::prelude::*;
use mysql_async::{Conn, Opts};

pub const PW: &str = "cluster-pw";

pub struct NodeProc {
    pub id: u16,
    pub mysql_port: u16,
    pub peer_port: u16,
    pub config: PathBuf,
    pub log: PathBuf,
    child: Option<Child>,
}

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub nodes: Vec<NodeProc>,
    /// One cluster at a time per test binary: three processes per test on a
    /// 2-core machine are plenty, and parallel clusters would only turn the
    /// tests into a measure of CPU luck.
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Per-node options.
#[derive(Clone, Default)]
pub struct NodeOpts {
    pub apply_delay_ms: u64,
    pub fc_limit: Option<u64>,
    /// Small values make the ordered log purge quickly (state transfer).
    pub gcache_size: Option<u64>,
    pub commit_timeout_ms: Option<u64>,
    /// Overrides "node 1 bootstraps".
    pub bootstrap: Option<bool>,
    /// Overrides the peer list (`Some(vec![])`: `gcomm://`, a cluster of its own).
    pub peers: Option<Vec<u16>>,
    /// TOML appended to the configuration (whole sections, e.g. `[storage]`).
    pub extra: String,
}

fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free TCP port")
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free UDP port")
}

fn config_text(dir: &std::path::Path, n: &NodeProc, peers: &[u16], opts: &NodeOpts) -> String {
    let peers: Vec<String> = opts
        .peers
        .as_deref()
        .unwrap_or(peers)
        .iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect();
    format!(
        r#"node_id = {id}
node_name = "node{id}"
listen = "127.0.0.1:{mysql}"
data_dir = "{data}"
root_password = "{PW}"
bootstrap = {boot}
checkpoint_interval_ms = 1000
low_water_interval_ms = 500
commit_timeout_ms = {commit_timeout}

[cluster]
cluster_address = "gcomm://{peers}"
listen = "127.0.0.1:{peer}"
cluster_name = "test"
certs_dir = "{certs}"
fsync = "never"
gcache_size = {gcache}

[cluster.timeouts]
heartbeat_ms = 100
election_min_ms = 1000
election_max_ms = 2000
suspect_ms = 3000
evict_ms = 600000
connect_ms = 2000
rpc_ms = 20000

[gcs]
fc_limit = {fc}
fc_timeout_ms = 60000

[debug]
apply_delay_ms = {delay}

{extra}
"#,
        id = n.id,
        mysql = n.mysql_port,
        data = dir.join(format!("node{}", n.id)).display(),
        boot = opts.bootstrap.unwrap_or(n.id == 1),
        commit_timeout = opts.commit_timeout_ms.unwrap_or(30000),
        peers = peers.join(","),
        peer = n.peer_port,
        certs = dir.join("tls").display(),
        fc = opts.fc_limit.unwrap_or(16),
        delay = opts.apply_delay_ms,
        gcache = opts.gcache_size.unwrap_or(128 << 20),
        extra = opts.extra,
    )
}

impl Cluster {
    /// Starts `n` nodes, one after the other, each Synced before the next.
    pub async fn start(n: u16) -> Cluster {
        Self::start_with(n, |_| NodeOpts::default()).await
    }

    pub async fn start_with(n: u16, opts: impl Fn(u16) -> NodeOpts) -> Cluster {
        let turn = TURN.lock().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let mut nodes: Vec<NodeProc> = (1..=n)
            .map(|id| NodeProc {
                id,
                mysql_port: free_tcp_port(),
                peer_port: free_udp_port(),
                config: dir.path().join(format!("node{id}.toml")),
                log: dir.path().join(format!("node{id}.log")),
                child: None,
            })
            .collect();
        let peers: Vec<u16> = nodes.iter().map(|x| x.peer_port).collect();
        for node in &nodes {
            std::fs::write(
                &node.config,
                config_text(dir.path(), node, &peers, &opts(node.id)),
            )
            .expect("write config");
        }
        let mut c = Cluster {
            dir,
            nodes: Vec::new(),
            _turn: turn,
        };
        for node in nodes.drain(..) {
            c.nodes.push(node);
            let i = c.nodes.len() - 1;
            c.spawn(i);
            c.wait_synced(i, i as u64 + 1, Duration::from_secs(120))
                .await;
        }
        c
    }

    fn spawn(&mut self, i: usize) {
        self.spawn_with(i, &[]);
    }

    /// Starts a stopped node `i` with extra command-line arguments.
    pub fn start_node_with(&mut self, i: usize, args: &[&str]) {
        self.spawn_with(i, args);
    }

    fn spawn_with(&mut self, i: usize, args: &[&str]) {
        let n = &mut self.nodes[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&n.log)
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_trireme"))
            .arg("start")
            .arg("--config")
            .arg(&n.config)
            .args(args)
            .env("RUST_LOG", "info,openraft=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn trireme");
        n.child = Some(child);
    }

    pub fn url(&self, i: usize) -> String {
        format!("mysql://root:{PW}@127.0.0.1:{}/", self.nodes[i].mysql_port)
    }

    pub async fn conn(&self, i: usize) -> Conn {
        Conn::new(Opts::from_url(&self.url(i)).expect("url"))
            .await
            .unwrap_or_else(|e| panic!("connect to node{}: {e}\n{}", i + 1, self.log_tail(i)))
    }

    pub async fn try_conn(&self, i: usize) -> Option<Conn> {
        let opts = Opts::from_url(&self.url(i)).ok()?;
        tokio::time::timeout(Duration::from_secs(5), Conn::new(opts))
            .await
            .ok()?
            .ok()
    }

    /// Node `i`'s whole log.
    pub fn log_text(&self, i: usize) -> String {
        std::fs::read_to_string(&self.nodes[i].log).unwrap_or_default()
    }

    pub fn log_tail(&self, i: usize) -> String {
        let text = std::fs::read_to_string(&self.nodes[i].log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    pub async fn status(&self, i: usize, var: &str) -> Option<String> {
        let mut c = self.try_conn(i).await?;
        let r: Option<(String, String)> = c
            .query_first(format!("SHOW STATUS LIKE '{var}'"))
            .await
            .ok()?;
        r.map(|(_, v)| v)
    }

    /// Waits until node `i` is Synced in a primary component of `size`.
    pub async fn wait_synced(&self, i: usize, size: u64, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let ready = self.status(i, "wsrep_ready").await;
            let n = self.status(i, "wsrep_cluster_size").await;
            if ready.as_deref() == Some("ON") && n.as_deref() == Some(&size.to_string()) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "node{} not synced in a cluster of {size} after {timeout:?} (ready {ready:?}, size {n:?})\n{}",
                    i + 1,
                    self.log_tail(i)
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until `f` holds, polling.
    pub async fn wait_until<F, Fut>(&self, what: &str, timeout: Duration, mut f: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + timeout;
        while !f().await {
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn signal(&self, i: usize, sig: i32) {
        if let Some(c) = &self.nodes[i].child {
            // SAFETY: kill(2) on a child we spawned and have not reaped.
            unsafe {
                libc::kill(c.id() as i32, sig);
            }
        }
    }

    /// Rewrites node `i`'s configuration (takes effect at its next start).
    pub fn reconfigure(&self, i: usize, opts: &NodeOpts) {
        let peers: Vec<u16> = self.nodes.iter().map(|x| x.peer_port).collect();
        std::fs::write(
            &self.nodes[i].config,
            config_text(self.dir.path(), &self.nodes[i], &peers, opts),
        )
        .expect("write config");
    }

    /// Removes node `i`'s data directory (the node must be stopped).
    pub fn wipe(&mut self, i: usize) {
        assert!(self.nodes[i].child.is_none(), "wipe a running node");
        let d = self.dir.path().join(format!("node{}", self.nodes[i].id));
        let _ = std::fs::remove_dir_all(d);
    }

    /// Starts node `i` (stopped) and waits, bounded, for it to exit by
    /// itself; returns its exit code, or None if it kept running (then it is
    /// left running).
    pub async fn start_expecting_exit(&mut self, i: usize, timeout: Duration) -> Option<i32> {
        self.spawn(i);
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let done = self.nodes[i]
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(st) = done {
                self.nodes[i].child = None;
                return Some(st.code().unwrap_or(-1));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }

    /// Starts a stopped node `i`.
    pub fn start_node(&mut self, i: usize) {
        self.spawn(i);
    }

    pub fn restart(&mut self, i: usize) {
        self.kill(i);
        self.spawn(i);
    }

    /// CHECKSUM TABLE on every running node after a causal wait.
    pub async fn checksums(&self, tables: &str) -> Vec<Vec<(String, Option<u64>)>> {
        let mut out = Vec::new();
        for i in 0..self.nodes.len() {
            if self.nodes[i].child.is_none() {
                continue;
            }
            let mut c = self.conn(i).await;
            c.query_drop("SET SESSION wsrep_sync_wait = 1")
                .await
                .unwrap();
            let rows: Vec<(String, Option<u64>)> =
                c.query(format!("CHECKSUM TABLE {tables}")).await.unwrap();
            out.push(rows);
        }
        out
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
        if std::thread::panicking() {
            for i in 0..self.nodes.len() {
                eprintln!("--- node{} log tail ---\n{}", i + 1, self.log_tail(i));
            }
            // For a post-mortem: keep every log and data directory.
            if std::env::var_os("TRIREME_KEEP_FAILED").is_some() {
                let kept = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
                eprintln!("kept {}", kept.keep().display());
            }
        }
    }
}
