//! A real `trireme` process for integration tests: the binary cargo built
//! for this package, started on 127.0.0.1 with an ephemeral port and its own
//! temporary data directory, and killed (by its pid, through the `Child`
//! handle we own) when the guard drops — also when a test panics.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use mysql_async::{Conn, Opts, OptsBuilder};

/// The root password every child node is started with.
pub const ROOT_PW: &str = "slt-root-pw";

/// How long a node may take to print its listen address, and then to
/// become ready (primary, `wsrep_ready = ON`).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Pause between readiness probes.
const PROBE_INTERVAL: Duration = Duration::from_millis(50);

/// The most stderr lines kept for a failure report.
const KEEP_LOG_LINES: usize = 200;

pub struct ChildNode {
    child: Child,
    pub addr: SocketAddr,
    /// The last lines the node wrote to stderr (for failure messages).
    log: std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<String>>>,
    data_dir: tempfile::TempDir,
    /// TOML appended to the node's configuration file.
    extra_config: String,
}

impl ChildNode {
    /// Spawns `trireme start --bootstrap --listen 127.0.0.1:0` and waits
    /// (bounded) until it listens, answers queries and orders an event.
    /// Started once: a node that reports ready but cannot order an event is
    /// a bug (it once happened now and then; fixed), so it fails the test
    /// with the node's log instead of being replaced by another.
    pub async fn start() -> ChildNode {
        Self::start_with("").await
    }

    /// As `start`, with `extra_config` (TOML) appended to the node's
    /// configuration file.
    pub async fn start_with(extra_config: &str) -> ChildNode {
        let data_dir = tempfile::Builder::new()
            .prefix("trireme-slt-")
            .tempdir()
            .expect("create a temporary data directory");
        Self::start_in(data_dir, extra_config).await
    }

    /// As `start_with`, on a data directory prepared by the caller: the
    /// node's data is `data_dir/data` (e.g. written by `trireme backup`).
    pub async fn start_on(data_dir: tempfile::TempDir, extra_config: &str) -> ChildNode {
        Self::start_in(data_dir, extra_config).await
    }

    /// Kills the node (SIGKILL, by its own handle) and starts it again on
    /// the same data directory and configuration.
    pub async fn restart(mut self) -> ChildNode {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let extra = std::mem::take(&mut self.extra_config);
        let dir = tempfile::Builder::new()
            .prefix("trireme-slt-")
            .tempdir()
            .expect("create a temporary data directory");
        // Keep the old directory: swap a fresh one into the guard being
        // dropped.
        let data_dir = std::mem::replace(&mut self.data_dir, dir);
        Self::start_in(data_dir, &extra).await
    }

    /// Kills the node (SIGKILL, by its own handle), lets `change` alter its
    /// data directory while it is down, and starts it again.
    pub async fn restart_after(mut self, change: impl FnOnce(&std::path::Path)) -> ChildNode {
        let _ = self.child.kill();
        let _ = self.child.wait();
        change(&self.data_dir());
        self.restart().await
    }

    /// The node's data directory.
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.data_dir.path().join("data")
    }

    async fn start_in(data_dir: tempfile::TempDir, extra_config: &str) -> ChildNode {
        let node = Self::spawn(data_dir, extra_config);
        node.wait_ready().await;
        let ordered = match tokio::time::timeout(START_TIMEOUT, node.orders_events()).await {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(_) => Err(format!("no answer within {START_TIMEOUT:?}")),
        };
        if let Err(e) = ordered {
            panic!(
                "trireme at {} is ready but orders no event: {e}; its log:\n{}",
                node.addr,
                node.recent_log()
            );
        }
        node
    }

    /// Runs one ordered (TOI) statement, so a node that cannot order events
    /// is found before the tests run.
    async fn orders_events(&self) -> mysql_async::Result<()> {
        use mysql_async::prelude::Queryable;
        let mut c = Conn::new(self.opts(None)).await?;
        c.query_drop("CREATE DATABASE IF NOT EXISTS trireme_test_probe")
            .await?;
        c.query_drop("DROP DATABASE trireme_test_probe").await?;
        let _ = c.disconnect().await;
        Ok(())
    }

    /// Spawns the process and waits (bounded) until it prints the address
    /// it listens on.
    fn spawn(data_dir: tempfile::TempDir, extra_config: &str) -> ChildNode {
        // The peer (QUIC) endpoint also takes an ephemeral port, so nodes of
        // concurrent tests never collide; a one-node cluster needs no fsync
        // for these tests; a commit that is not ordered fails after 10 s
        // (not 60 s) so a stuck node shows quickly.
        let config = data_dir.path().join("trireme.toml");
        std::fs::write(
            &config,
            format!(
                "commit_timeout_ms = 10000\n[cluster]\nlisten = \"127.0.0.1:0\"\nfsync = \"never\"\n{extra_config}"
            ),
        )
        .expect("write the node's configuration");
        let mut child = Command::new(env!("CARGO_BIN_EXE_trireme"))
            .args([
                "start",
                "--bootstrap",
                "--listen",
                "127.0.0.1:0",
                "--root-password",
                ROOT_PW,
            ])
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(data_dir.path().join("data"))
            .env("RUST_LOG", "warn")
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the trireme binary");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = std::sync::Arc::new(std::sync::Mutex::new(std::collections::VecDeque::new()));
        let (tx, rx) = mpsc::channel();
        {
            let log = log.clone();
            // Drains stderr for the child's whole life, so the pipe never
            // fills up and blocks the node; ends when the child exits.
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Some(addr) = line.strip_prefix("trireme listening on ") {
                        let _ = tx.send(addr.trim().to_string());
                    }
                    if let Ok(mut l) = log.lock() {
                        if l.len() == KEEP_LOG_LINES {
                            l.pop_front();
                        }
                        l.push_back(line);
                    }
                }
            });
        }
        let addr = match rx.recv_timeout(START_TIMEOUT) {
            Ok(a) => a,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                let log = log
                    .lock()
                    .map(|l| l.iter().cloned().collect::<Vec<_>>().join("\n"));
                panic!(
                    "trireme did not report its address ({e}); its log:\n{}",
                    log.unwrap_or_default()
                );
            }
        };
        let addr: SocketAddr = addr.parse().expect("a socket address");
        ChildNode {
            child,
            addr,
            log,
            data_dir,
            extra_config: extra_config.to_string(),
        }
    }

    /// Probes (bounded in time and count) until the node accepts a
    /// connection and reports `wsrep_ready = ON`.
    async fn wait_ready(&self) {
        let max_probes = (START_TIMEOUT.as_millis() / PROBE_INTERVAL.as_millis()) as usize;
        let deadline = std::time::Instant::now() + START_TIMEOUT;
        let mut last = String::new();
        for _ in 0..max_probes {
            if std::time::Instant::now() > deadline {
                break;
            }
            match self.probe().await {
                Ok(true) => return,
                Ok(false) => last = "wsrep_ready is not ON".into(),
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(PROBE_INTERVAL).await;
        }
        panic!(
            "trireme at {} did not become ready ({last}); its log:\n{}",
            self.addr,
            self.recent_log()
        );
    }

    async fn probe(&self) -> mysql_async::Result<bool> {
        use mysql_async::prelude::Queryable;
        let mut c = Conn::new(self.opts(None)).await?;
        let row: Option<(String, String)> = c.query_first("SHOW STATUS LIKE 'wsrep_ready'").await?;
        let _ = c.disconnect().await;
        Ok(row.is_some_and(|(_, v)| v == "ON"))
    }

    /// Connection options for root, optionally with a default database.
    pub fn opts(&self, db: Option<&str>) -> Opts {
        OptsBuilder::default()
            .ip_or_hostname(self.addr.ip().to_string())
            .tcp_port(self.addr.port())
            .user(Some("root"))
            .pass(Some(ROOT_PW))
            .db_name(db)
            .prefer_socket(false)
            .into()
    }

    pub async fn connect(&self, db: Option<&str>) -> Conn {
        Conn::new(self.opts(db))
            .await
            .expect("connect to the child node")
    }

    /// The node's recent log lines (for failure reports).
    pub fn recent_log(&self) -> String {
        self.log
            .lock()
            .map(|l| l.iter().cloned().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    }

    /// Whether the child is still running (it must not have crashed).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for ChildNode {
    fn drop(&mut self) {
        // Only the process this guard started, by its own handle (pid).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
