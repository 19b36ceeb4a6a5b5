//! How the deploy files run nodes (issue 13), on real `trireme` processes
//! on loopback: nodes configured by TRIREME_* variables alone, a seed with
//! `bootstrap_if_empty` that forms the cluster once and joins it when
//! wiped, and `trireme status` as the health check. Every process is
//! started here and killed by pid (also on drop).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use mysql_async::prelude::*;
use mysql_async::{Conn, Opts};

const PW: &str = "deploy-pw";
const EXE: &str = env!("CARGO_BIN_EXE_trireme");

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

struct Node {
    env: Vec<(String, String)>,
    mysql_port: u16,
    data: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Node {
    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let mut cmd = Command::new(EXE);
        // Only the variables given here configure the node.
        for (k, _) in std::env::vars() {
            if k.starts_with("TRIREME_") {
                cmd.env_remove(k);
            }
        }
        let child = cmd
            .arg("start")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("RUST_LOG", "info,openraft=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn trireme");
        self.child = Some(child);
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn wipe(&mut self) {
        assert!(self.child.is_none(), "wipe a running node");
        let _ = std::fs::remove_dir_all(&self.data);
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// `trireme status` for this node, configured as the node is (no
    /// arguments, like a container's health check).
    fn status(&self) -> Output {
        let mut cmd = Command::new(EXE);
        for (k, _) in std::env::vars() {
            if k.starts_with("TRIREME_") {
                cmd.env_remove(k);
            }
        }
        cmd.arg("status")
            .args(["--timeout-ms", "5000"])
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("run trireme status")
    }

    async fn conn(&self) -> Conn {
        let url = format!("mysql://root:{PW}@127.0.0.1:{}/", self.mysql_port);
        Conn::new(Opts::from_url(&url).expect("url"))
            .await
            .unwrap_or_else(|e| panic!("connect: {e}\n{}", self.log_tail()))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Three nodes configured only by environment variables, as in
/// deploy/docker-compose.yml; node 1 is the seed.
fn three_nodes(dir: &Path) -> Vec<Node> {
    let peers: Vec<u16> = (0..3).map(|_| free_udp_port()).collect();
    let address = format!(
        "gcomm://{}",
        peers
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    (1..=3)
        .map(|id: usize| {
            let mysql_port = free_tcp_port();
            let data = dir.join(format!("node{id}"));
            let mut env: Vec<(String, String)> = [
                ("TRIREME_NODE_ID", id.to_string()),
                ("TRIREME_NODE_NAME", format!("node{id}")),
                ("TRIREME_LISTEN", format!("127.0.0.1:{mysql_port}")),
                ("TRIREME_DATA_DIR", data.display().to_string()),
                ("TRIREME_ROOT_PASSWORD", PW.to_string()),
                ("TRIREME_CLUSTER_CLUSTER_ADDRESS", address.clone()),
                (
                    "TRIREME_CLUSTER_LISTEN",
                    format!("127.0.0.1:{}", peers[id - 1]),
                ),
                ("TRIREME_CLUSTER_CLUSTER_NAME", "deploy".into()),
                (
                    "TRIREME_CLUSTER_CERTS_DIR",
                    dir.join("tls").display().to_string(),
                ),
                ("TRIREME_CLUSTER_FSYNC", "never".into()),
                ("TRIREME_CLUSTER_TIMEOUTS_HEARTBEAT_MS", "100".into()),
                ("TRIREME_CLUSTER_TIMEOUTS_ELECTION_MIN_MS", "1000".into()),
                ("TRIREME_CLUSTER_TIMEOUTS_ELECTION_MAX_MS", "2000".into()),
                ("TRIREME_CLUSTER_TIMEOUTS_SUSPECT_MS", "3000".into()),
                ("TRIREME_CLUSTER_TIMEOUTS_EVICT_MS", "600000".into()),
                ("TRIREME_CLUSTER_TIMEOUTS_CONNECT_MS", "2000".into()),
                ("TRIREME_CHECKPOINT_INTERVAL_MS", "1000".into()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            if id == 3 {
                env.push(("TRIREME_LOG_FORMAT".into(), "json".into()));
            }
            if id == 1 {
                env.push(("TRIREME_BOOTSTRAP_IF_EMPTY".into(), "true".into()));
                env.push((
                    "TRIREME_METRICS_LISTEN".into(),
                    format!("127.0.0.1:{}", free_tcp_port()),
                ));
            }
            Node {
                env,
                mysql_port,
                log: dir.join(format!("node{id}.log")),
                data,
                child: None,
            }
        })
        .collect()
}

/// One HTTP/1.0 GET, bounded; the whole answer.
fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the metrics port");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read the answer");
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Polls `trireme status` (bounded) until the node is healthy in a
/// cluster of `size`; returns the last output.
async fn wait_healthy(n: &Node, size: usize, timeout: Duration) -> Output {
    let deadline = Instant::now() + timeout;
    loop {
        let o = n.status();
        let size_line = stdout(&o).lines().any(|l| {
            l.split_whitespace().collect::<Vec<_>>() == ["wsrep_cluster_size", &size.to_string()]
        });
        if o.status.code() == Some(0) && size_line {
            return o;
        }
        if Instant::now() > deadline {
            panic!(
                "not healthy in a cluster of {size} after {timeout:?}: {:?}\n{}{}\n{}",
                o.status,
                stdout(&o),
                String::from_utf8_lossy(&o.stderr),
                n.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn rows(n: &Node) -> Vec<i64> {
    let mut c = n.conn().await;
    c.query_drop("SET SESSION wsrep_sync_wait = 1")
        .await
        .unwrap();
    c.query("SELECT id FROM d.t ORDER BY id").await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_configured_by_environment_forms_the_cluster_once_and_joins_it_when_wiped() {
    let dir = tempfile::tempdir().unwrap();
    let mut nodes = three_nodes(dir.path());
    // All at once, in no particular order: the seed waits for the others
    // to answer before it forms the cluster.
    for i in [2, 1, 0] {
        nodes[i].start();
    }
    for n in &nodes {
        let o = wait_healthy(n, 3, Duration::from_secs(120)).await;
        assert!(stdout(&o).contains("Synced"), "{}", stdout(&o));
    }
    assert!(
        std::fs::read_to_string(&nodes[0].log)
            .unwrap_or_default()
            .contains("no listed member belongs to a cluster: forming a new one"),
        "{}",
        nodes[0].log_tail()
    );
    // Logs to a file carry no colour codes; node3 logs JSON lines.
    for n in &nodes {
        let log = std::fs::read_to_string(&n.log).unwrap_or_default();
        assert!(!log.contains('\x1b'), "escape codes in\n{}", n.log_tail());
    }
    let log3 = std::fs::read_to_string(&nodes[2].log).unwrap_or_default();
    let json: Vec<serde_json::Value> = log3
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        json.iter()
            .any(|v| v["level"] == "INFO" && v["fields"]["message"].is_string()),
        "{log3}"
    );
    // Prometheus endpoint of node1 (TRIREME_METRICS_LISTEN).
    let maddr = nodes[0]
        .env
        .iter()
        .find(|(k, _)| k == "TRIREME_METRICS_LISTEN")
        .map(|(_, v)| v.clone())
        .unwrap();
    let m = http_get(&maddr, "/metrics");
    assert!(m.starts_with("HTTP/1.0 200"), "{m}");
    for line in [
        "trireme_wsrep_cluster_size 3",
        "trireme_wsrep_ready 1",
        "# TYPE trireme_wsrep_local_commits_total counter",
    ] {
        assert!(m.lines().any(|l| l == line), "{line} missing from\n{m}");
    }
    assert!(m.contains("local_state_comment=\"Synced\""), "{m}");
    assert!(http_get(&maddr, "/").starts_with("HTTP/1.0 404"));
    let mut c = nodes[0].conn().await;
    c.query_drop("CREATE DATABASE d").await.unwrap();
    c.query_drop("CREATE TABLE d.t (id INT PRIMARY KEY)")
        .await
        .unwrap();
    c.query_drop("INSERT INTO d.t VALUES (1), (2)")
        .await
        .unwrap();
    drop(c);
    // The commit went through every stage, and each was timed.
    let m = http_get(&maddr, "/metrics");
    for stage in ["fc_gate", "order", "certify", "apply_wait", "total"] {
        let prefix = format!("trireme_commit_stage_seconds_count{{stage=\"{stage}\"}} ");
        let n: u64 = m
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{prefix} missing from\n{m}"));
        assert!(n >= 1, "{stage}: {n}");
    }
    assert!(m.contains("trireme_commit_stage_seconds_bucket{stage=\"total\",le=\"+Inf\"}"));
    // The ordered log kept for catch-up holds at least those writes.
    let gcache: u64 = m
        .lines()
        .find_map(|l| l.strip_prefix("trireme_wsrep_gcache_pool_size "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("trireme_wsrep_gcache_pool_size missing from\n{m}"));
    assert!(gcache > 0, "{gcache}");

    // Every member lists every member's client address (announced on the
    // control channel, so allow it a few announcement rounds).
    let expected: Vec<String> = nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.mysql_port))
        .collect();
    for n in &nodes {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mut c = n.conn().await;
            let row: Option<(String, String)> = c
                .query_first("SHOW STATUS LIKE 'wsrep_incoming_addresses'")
                .await
                .unwrap();
            let got = row.map(|r| r.1).unwrap_or_default();
            let mut parts: Vec<String> = got.split(',').map(str::to_string).collect();
            parts.sort();
            let mut want = expected.clone();
            want.sort();
            if parts == want {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "wsrep_incoming_addresses {got:?}, want {want:?}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    // Wiped while the others run: it joins them by state transfer instead
    // of forming a second cluster.
    nodes[0].kill();
    nodes[0].wipe();
    nodes[0].start();
    wait_healthy(&nodes[0], 3, Duration::from_secs(120)).await;
    assert_eq!(rows(&nodes[0]).await, vec![1, 2]);
    assert!(
        std::fs::read_to_string(&nodes[0].log)
            .unwrap_or_default()
            .contains("a listed member belongs to a cluster: joining it"),
        "{}",
        nodes[0].log_tail()
    );
    let uuid = |o: &Output| {
        stdout(o)
            .lines()
            .find(|l| l.starts_with("wsrep_cluster_state_uuid"))
            .map(str::to_string)
    };
    assert_eq!(
        uuid(&nodes[0].status()),
        uuid(&nodes[1].status()),
        "one cluster"
    );

    // Alone (the others killed), the node answers but is not Synced and
    // ready: the health check fails with exit status 1.
    nodes[1].kill();
    nodes[2].kill();
    let deadline = Instant::now() + Duration::from_secs(60);
    let o = loop {
        let o = nodes[0].status();
        if o.status.code() == Some(1) || Instant::now() > deadline {
            break o;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}{}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("not healthy"));

    // Wiped with every other member down: they may hold the cluster's
    // data, so the seed does not form a cluster; it gives up, saying why.
    nodes[0].kill();
    nodes[0].wipe();
    nodes[0]
        .env
        .push(("TRIREME_BOOTSTRAP_WAIT_MS".into(), "4000".into()));
    nodes[0].start();
    let deadline = Instant::now() + Duration::from_secs(60);
    let code = loop {
        let done = nodes[0]
            .child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten());
        if let Some(st) = done {
            nodes[0].child = None;
            break st.code();
        }
        assert!(
            Instant::now() < deadline,
            "the seed kept running\n{}",
            nodes[0].log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(code, Some(1), "{}", nodes[0].log_tail());
    let log = nodes[0].log_tail();
    assert!(log.contains("will not form a new cluster"), "{log}");
    assert!(!log.contains("bootstrapping a new cluster"), "{log}");
    // The others, restarted with their data, form the cluster again and
    // the seed then joins them.
    nodes[1].start();
    nodes[2].start();
    nodes[0].start();
    for n in &nodes {
        wait_healthy(n, 3, Duration::from_secs(120)).await;
    }
    assert_eq!(rows(&nodes[0]).await, vec![1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_cannot_ask_a_node_that_is_not_there() {
    let port = free_tcp_port();
    let o = Command::new(EXE)
        .args([
            "status",
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--password",
            "x",
        ])
        .args(["--timeout-ms", "3000"])
        .output()
        .expect("run trireme status");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot ask the node"));
}
