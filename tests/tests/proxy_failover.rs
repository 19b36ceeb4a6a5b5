//! `trireme demo` (three nodes and `trireme-proxy`, real processes on
//! loopback) survives a killed writer: autocommit inserts through the
//! proxy keep going on another node, no acknowledged row is lost, the demo
//! reports the death, restarts the node and sees it Synced again, and
//! SIGTERM still stops every process it started.
//!
//! Prints the longest gap between acknowledged writes and how long the
//! proxy took to mark the writer down (numbers for the report, not
//! asserted). Behind `cluster-tests`; needs both binaries:
//!
//! ```text
//! cargo build -j2 -p trireme-node -p trireme-proxy
//! cargo test -j2 -p trireme-tests --features cluster-tests --test proxy_failover -- --nocapture
//! ```
#![cfg(feature = "cluster-tests")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;

fn binary(name: &str) -> PathBuf {
    let b = trireme_tests::target_dir().join("debug").join(name);
    assert!(
        b.exists(),
        "{} missing: run `cargo build -j2 -p trireme-node -p trireme-proxy` first",
        b.display()
    );
    b
}

/// A base port P such that P..P+3 (nodes), P+10..P+13 (peers) and
/// P+20..P+23 (proxy, admin, read port) are free now.
fn free_base() -> u16 {
    let start = 21000 + (std::process::id() % 400) as u16 * 50;
    for k in 0..100u16 {
        let base = 21000 + (start - 21000 + k * 50) % 20000;
        let ports = [0, 1, 2, 10, 11, 12, 20, 21, 22].map(|o| base + o);
        if ports
            .iter()
            .all(|p| TcpListener::bind(("127.0.0.1", *p)).is_ok())
        {
            return base;
        }
    }
    panic!("no free port range found");
}

/// The demo process; SIGKILLed (with every pid it reported) if the test
/// fails before stopping it.
struct Demo {
    child: Option<Child>,
    pids: Vec<i32>,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Demo {
    /// Waits (bounded) for a line containing `needle`; returns it.
    fn wait_line(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        if let Some(l) = self.seen.iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    if let Some(pid) = pid_in(&l) {
                        self.pids.push(pid);
                    }
                    self.seen.push(l.clone());
                    if l.contains(needle) {
                        return l;
                    }
                }
                Err(_) => panic!(
                    "no line with {needle:?} within {timeout:?}; demo said:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        for &p in &self.pids {
            // SAFETY: kill(2) on pids the demo started for this test.
            unsafe {
                libc::kill(p, libc::SIGKILL);
            }
        }
    }
}

/// `N` in "... (pid N...".
fn pid_in(line: &str) -> Option<i32> {
    let rest = &line[line.find("(pid ")? + 5..];
    let end = rest.find(|c: char| !c.is_ascii_digit())?;
    rest[..end].parse().ok()
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the pid exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

fn http_get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// The writer named by the proxy's /status.json.
fn writer(admin: SocketAddr) -> Option<String> {
    let body = http_get(admin, "/status.json")?;
    let json = &body[body.find("\r\n\r\n")? + 4..];
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    v["writer"].as_str().map(str::to_string)
}

fn opts(port: u16) -> mysql_async::Opts {
    mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .user(Some("root"))
        .pass(Some(""))
        .prefer_socket(false)
        .into()
}

/// Every id in t, read through the node at `port` once it has applied
/// everything ordered before the read (wsrep_sync_wait).
async fn ids_on(port: u16) -> Result<Vec<u64>, mysql_async::Error> {
    let mut c = mysql_async::Conn::new(opts(port)).await?;
    c.query_drop("SET SESSION wsrep_sync_wait = 1").await?;
    let ids: Vec<u64> = c.query("SELECT id FROM failover.t ORDER BY id").await?;
    let _ = c.disconnect().await;
    Ok(ids)
}

const RYW_ROUNDS: u64 = 150;

/// Commits through the writer port and reads right back through three
/// read-port sessions (round robin: one per node); every read must see
/// the commit. Returns the stale reads through the read port and, for
/// comparison, through direct connections to nodes 2 and 3 without
/// `wsrep_sync_wait`.
async fn read_your_writes(w: &mut mysql_async::Conn, base: u16, read_port: u16) -> (u64, u64) {
    w.query_drop("CREATE TABLE failover.ryw (id BIGINT PRIMARY KEY)")
        .await
        .unwrap();
    let mut readers = Vec::new();
    for _ in 0..3 {
        let mut r = mysql_async::Conn::new(opts(read_port)).await.unwrap();
        // The proxy set it before relaying the session.
        let sw: Option<i64> = r.query_first("SELECT @@wsrep_sync_wait").await.unwrap();
        assert_eq!(sw, Some(1), "read-port session without wsrep_sync_wait");
        readers.push(r);
    }
    let mut direct = Vec::new();
    for port in [base + 1, base + 2] {
        let mut d = mysql_async::Conn::new(opts(port)).await.unwrap();
        d.query_drop("SET SESSION wsrep_sync_wait = 0")
            .await
            .unwrap();
        direct.push(d);
    }
    let (mut stale, mut stale_direct) = (0, 0);
    for i in 1..=RYW_ROUNDS {
        w.query_drop(format!("INSERT INTO failover.ryw VALUES ({i})"))
            .await
            .unwrap();
        let q = format!("SELECT COUNT(*) FROM failover.ryw WHERE id = {i}");
        for r in &mut readers {
            let n: Option<u64> = r.query_first(&q).await.unwrap();
            if n != Some(1) {
                stale += 1;
            }
        }
        for r in &mut direct {
            let n: Option<u64> = r.query_first(&q).await.unwrap();
            if n != Some(1) {
                stale_direct += 1;
            }
        }
    }
    for c in readers.into_iter().chain(direct) {
        let _ = c.disconnect().await;
    }
    (stale, stale_direct)
}

#[test]
fn demo_survives_a_killed_writer_without_losing_acknowledged_writes() {
    let base = free_base();
    let (proxy_port, admin_port, read_port) = (base + 20, base + 21, base + 22);
    let admin: SocketAddr = ([127, 0, 0, 1], admin_port).into();
    let data = std::env::temp_dir().join(format!("trireme-proxy-failover-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let mut child = Command::new(binary("trireme"))
        .args(["demo", "--restart-delay", "3"])
        .args(["--base-port", &base.to_string()])
        .args(["--peer-base-port", &(base + 10).to_string()])
        .args(["--proxy-port", &proxy_port.to_string()])
        .args(["--admin-port", &admin_port.to_string()])
        .args(["--read-port", &read_port.to_string()])
        .arg("--data-dir")
        .arg(&data)
        // Not under `cargo run`: the demo must find the proxy next to
        // itself, not build it.
        .env_remove("CARGO")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the demo");
    assert!(binary("trireme-proxy").exists());
    let (tx, lines) = mpsc::channel();
    for r in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(r).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
    }
    let mut demo = Demo {
        child: Some(child),
        pids: Vec::new(),
        lines,
        seen: Vec::new(),
    };
    demo.wait_line("trireme demo cluster is up", Duration::from_secs(300));
    let node1 = pid_in(&demo.wait_line("started node1", Duration::from_secs(1))).unwrap();
    assert_eq!(
        writer(admin).as_deref(),
        Some(format!("127.0.0.1:{base}").as_str())
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (acked, longest_gap, down_after) = rt.block_on(async {
        let mut c = mysql_async::Conn::new(opts(proxy_port)).await.unwrap();
        c.query_drop("CREATE DATABASE failover").await.unwrap();
        c.query_drop("CREATE TABLE failover.t (id BIGINT PRIMARY KEY)")
            .await
            .unwrap();
        let (stale, stale_direct) = read_your_writes(&mut c, base, read_port).await;
        println!(
            "read-your-writes: {stale} stale reads through the read port, \
             {stale_direct} reading the other nodes directly (no sync wait), in {RYW_ROUNDS} rounds"
        );
        assert_eq!(stale, 0, "the read port returned stale reads");
        let mut conn = Some(c);
        let mut acked: Vec<u64> = Vec::new();
        let mut last_ack = Instant::now();
        let mut longest_gap = Duration::ZERO;
        let mut killed_at: Option<Instant> = None;
        let mut switch = None;
        let mut errors = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(300);
        let mut acked_after_kill = 0;
        let mut id = 0u64;
        while acked_after_kill < 30 && Instant::now() < deadline {
            id += 1;
            if killed_at.is_none() && acked.len() == 30 {
                // SAFETY: the pid of a node the demo started for us.
                unsafe {
                    libc::kill(node1, libc::SIGKILL);
                }
                let k = Instant::now();
                killed_at = Some(k);
                let old = format!("127.0.0.1:{base}");
                // Polls the status page while the inserts go on.
                switch = Some(std::thread::spawn(move || {
                    while k.elapsed() < Duration::from_secs(60) {
                        if writer(admin).is_some_and(|w| w != old) {
                            return Some(k.elapsed());
                        }
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    None
                }));
            }
            let c = match conn.take() {
                Some(c) => c,
                None => match tokio::time::timeout(
                    Duration::from_secs(30),
                    mysql_async::Conn::new(opts(proxy_port)),
                )
                .await
                {
                    Ok(Ok(c)) => c,
                    Ok(Err(e)) => {
                        errors.push(format!("connect: {e}"));
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                    Err(_) => {
                        errors.push("connect timed out".into());
                        continue;
                    }
                },
            };
            let mut c = c;
            let q = format!("INSERT INTO failover.t VALUES ({id})");
            match tokio::time::timeout(Duration::from_secs(90), c.query_drop(q)).await {
                Ok(Ok(())) => {
                    let now = Instant::now();
                    longest_gap = longest_gap.max(now - last_ack);
                    last_ack = now;
                    acked.push(id);
                    if killed_at.is_some() {
                        acked_after_kill += 1;
                    }
                    conn = Some(c);
                }
                Ok(Err(e)) => {
                    // Not acknowledged: the row may or may not be there.
                    errors.push(format!("insert {id}: {e}"));
                    if matches!(e, mysql_async::Error::Server(_)) {
                        conn = Some(c);
                    }
                }
                Err(_) => errors.push(format!("insert {id}: no answer in 90 s")),
            }
        }
        println!("errors during failover ({}): {errors:#?}", errors.len());
        assert!(
            acked_after_kill >= 30,
            "writes did not resume through the proxy after the writer was killed"
        );
        let down_after = switch.and_then(|t| t.join().ok().flatten());
        (acked, longest_gap, down_after)
    });

    demo.wait_line(
        &format!("node1 (pid {node1}) exited"),
        Duration::from_secs(60),
    );
    demo.wait_line("restarted node1", Duration::from_secs(60));
    demo.wait_line("node1 is back: Synced", Duration::from_secs(300));

    rt.block_on(async {
        for port in [base, base + 1, base + 2] {
            let ids = ids_on(port).await.expect("read the table");
            let missing: Vec<u64> = acked
                .iter()
                .copied()
                .filter(|i| ids.binary_search(i).is_err())
                .collect();
            assert!(
                missing.is_empty(),
                "node on port {port} lacks acknowledged rows {missing:?}"
            );
        }
    });
    println!(
        "writer SIGKILL through trireme-proxy: {} acknowledged inserts, all present on the 3 nodes; \
         longest write gap {:.2} s; proxy switched writer {}",
        acked.len(),
        longest_gap.as_secs_f64(),
        down_after.map_or("(not within 60 s)".into(), |d| format!(
            "{:.3} s after the kill",
            d.as_secs_f64()
        )),
    );

    // SIGTERM stops the demo and everything it started.
    let mut child = demo.child.take().unwrap();
    // SAFETY: our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the demo did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "demo exit status {status}");
    for &p in &demo.pids {
        assert!(!alive(p), "pid {p} outlived the demo");
    }
    demo.pids.clear();
    let _ = std::fs::remove_dir_all(&data);
}
