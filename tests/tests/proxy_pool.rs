//! `trireme-proxy` in pool mode (`auth = "pool"`) in front of three real
//! `trireme` processes on loopback:
//!
//! 1. 1,000 client connections, all open at once, each logging in to the
//!    proxy and running autocommit statements and a transaction, share a
//!    pool of 30 backend connections: the writer's `Threads_connected`
//!    never exceeds 30 plus the monitor's and the checker's own sessions;
//!    every client reads back its own row; a transaction's statements all
//!    see one `CONNECTION_ID()`.
//! 2. The writer is SIGKILLed under an autocommit insert loop: the proxy
//!    moves statements to the next node (dead pooled connections are
//!    passed over, not given to the client), no acknowledged row is
//!    missing on the survivors, and a transaction open on the killed node
//!    gets ERROR 2013 while the client's next transaction commits.
//! 3. `LAST_INSERT_ID()` and `ROW_COUNT()` answer for the client's own
//!    previous statement, with another client's statements in between.
//!
//! Prints the longest gap between acknowledged writes and the client
//! errors seen (numbers for the report, not asserted). Behind
//! `cluster-tests`; needs both binaries:
//!
//! ```text
//! cargo build -j2 -p trireme-node -p trireme-proxy
//! cargo test -j2 -p trireme-tests --features cluster-tests --test proxy_pool -- --nocapture
//! ```
#![cfg(feature = "cluster-tests")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use trireme_tests::cluster::{self, Cluster, ClusterSpec, NetMode};

const ROOT_PASSWORD: &str = "jepsen";
const APP: &str = "app";
const APP_PASSWORD: &str = "app-pw";
const POOL_SIZE: usize = 30;

fn binary(name: &str) -> PathBuf {
    let b = trireme_tests::target_dir().join("debug").join(name);
    assert!(
        b.exists(),
        "{} missing: run `cargo build -j2 -p trireme-node -p trireme-proxy` first",
        b.display()
    );
    b
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Three nodes and a pool-mode proxy (its own process), stopped on drop.
struct Fixture {
    c: Cluster,
    proxy: Option<Child>,
    listen: SocketAddr,
    admin: SocketAddr,
    rt: tokio::runtime::Runtime,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(mut p) = self.proxy.take() {
            let _ = p.kill();
            let _ = p.wait();
        }
        let errs = self.c.teardown();
        assert!(errs.is_empty() || std::thread::panicking(), "{errs:?}");
    }
}

fn http_get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// One sample of the proxy's /metrics.
fn metric(admin: SocketAddr, series: &str) -> Option<f64> {
    let body = http_get(admin, "/metrics")?;
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
}

fn opts(addr: SocketAddr, user: &str, password: &str) -> mysql_async::Opts {
    mysql_async::OptsBuilder::default()
        .ip_or_hostname(addr.ip().to_string())
        .tcp_port(addr.port())
        .user(Some(user))
        .pass(Some(password))
        .prefer_socket(false)
        .into()
}

impl Fixture {
    fn start(name: &str) -> Fixture {
        let dir = trireme_tests::target_dir()
            .join("proxy-pool-tests")
            .join(format!("{name}-{}", cluster::new_run_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let spec = ClusterSpec {
            run_id: cluster::new_run_id(),
            nodes: 3,
            net: NetMode::Loopback,
            binary: binary("trireme"),
            root_password: ROOT_PASSWORD.into(),
            dir: dir.clone(),
            base_port: cluster::free_base_port(3).unwrap(),
            extra_config: String::new(),
        };
        let mut c = Cluster::create(spec).unwrap();
        for i in 0..3 {
            c.start(i).unwrap();
        }
        let hash = Command::new(binary("trireme-proxy"))
            .args(["hash-password", APP_PASSWORD])
            .output()
            .expect("trireme-proxy hash-password");
        assert!(hash.status.success());
        let hash = String::from_utf8(hash.stdout).unwrap().trim().to_string();
        let (listen, admin) = (free_port(), free_port());
        let backends: Vec<String> = c.nodes.iter().map(|n| format!("\"{}\"", n.mysql)).collect();
        let config = format!(
            "listen = \"127.0.0.1:{listen}\"\n\
             admin_listen = \"127.0.0.1:{admin}\"\n\
             backends = [{}]\n\
             auth = \"pool\"\n\
             backend_connect_timeout_ms = 5000\n\
             [monitor]\nuser = \"root\"\npassword = \"{ROOT_PASSWORD}\"\n\
             check_interval_ms = 500\ncheck_timeout_ms = 5000\n\
             [[users]]\nname = \"{APP}\"\npassword_hash = \"{hash}\"\n\
             [pool]\nuser = \"root\"\npassword = \"{ROOT_PASSWORD}\"\n\
             size = {POOL_SIZE}\nwait_timeout_ms = 120000\n",
            backends.join(", ")
        );
        let file = dir.join("proxy.toml");
        std::fs::write(&file, config).unwrap();
        let log = std::fs::File::create(dir.join("proxy.log")).unwrap();
        let proxy = Command::new(binary("trireme-proxy"))
            .arg("--config")
            .arg(&file)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start trireme-proxy");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let f = Fixture {
            c,
            proxy: Some(proxy),
            listen: ([127, 0, 0, 1], listen).into(),
            admin: ([127, 0, 0, 1], admin).into(),
            rt,
        };
        // Every node Synced in a cluster of 3, as the proxy's checks see it.
        let t0 = Instant::now();
        while metric(f.admin, "trireme_proxy_up_backends") != Some(3.0) {
            assert!(
                t0.elapsed() < Duration::from_secs(120),
                "the proxy never saw 3 healthy nodes; see {}",
                dir.join("proxy.log").display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        f
    }

    fn node(&self, i: usize) -> SocketAddr {
        self.c.nodes[i].mysql
    }
}

/// `Threads_connected` as seen by session `c` (itself included).
async fn threads_connected(c: &mut mysql_async::Conn) -> u64 {
    let v: Option<(String, u64)> = c
        .query_first("SHOW GLOBAL STATUS LIKE 'Threads_connected'")
        .await
        .unwrap();
    v.expect("Threads_connected").1
}

const CLIENTS: usize = 1000;

#[test]
fn a_thousand_clients_share_thirty_connections_to_real_nodes() {
    let f = Fixture::start("thousand");
    let (listen, writer) = (f.listen, f.node(0));
    f.rt.block_on(async move {
        let mut c = mysql_async::Conn::new(opts(listen, APP, APP_PASSWORD))
            .await
            .unwrap();
        c.query_drop("CREATE DATABASE pool").await.unwrap();
        c.query_drop("CREATE TABLE pool.t (id BIGINT PRIMARY KEY, v BIGINT)")
            .await
            .unwrap();
        c.disconnect().await.unwrap();
        let all_in = Arc::new(tokio::sync::Barrier::new(CLIENTS + 1));
        let done = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..CLIENTS as i64 {
            let (all_in, done) = (all_in.clone(), done.clone());
            tasks.push(tokio::spawn(async move {
                let mut c = mysql_async::Conn::new(opts(listen, APP, APP_PASSWORD))
                    .await
                    .expect("log in through the proxy");
                all_in.wait().await;
                c.query_drop("BEGIN").await.unwrap();
                let a: Option<u32> = c.query_first("SELECT CONNECTION_ID()").await.unwrap();
                c.query_drop(format!("INSERT INTO pool.t VALUES ({i}, {})", i * 7))
                    .await
                    .unwrap();
                let b: Option<u32> = c.query_first("SELECT CONNECTION_ID()").await.unwrap();
                c.query_drop("COMMIT").await.unwrap();
                assert_eq!(
                    a, b,
                    "client {i}: the transaction moved between connections"
                );
                let v: Option<i64> = c
                    .query_first(format!("SELECT v FROM pool.t WHERE id = {i}"))
                    .await
                    .unwrap();
                assert_eq!(v, Some(i * 7), "client {i} read a wrong answer");
                let n: Option<i64> = c.query_first(format!("SELECT {i} + 1")).await.unwrap();
                assert_eq!(n, Some(i + 1));
                done.fetch_add(1, Ordering::SeqCst);
                c
            }));
        }
        // One checker session for the whole run: a session closed and
        // reopened would linger on the node and be counted twice.
        let mut checker = mysql_async::Conn::new(opts(writer, "root", ROOT_PASSWORD))
            .await
            .unwrap();
        all_in.wait().await;
        // All 1,000 are logged in and open; their statements are running.
        let mut peak = threads_connected(&mut checker).await;
        let t0 = Instant::now();
        // Polled between whole queries (a query cancelled halfway would
        // leave its answer on the checker's connection).
        while done.load(Ordering::SeqCst) < CLIENTS {
            peak = peak.max(threads_connected(&mut checker).await);
            assert!(
                t0.elapsed() < Duration::from_secs(600),
                "clients did not finish"
            );
        }
        let mut conns = Vec::new();
        for t in tasks {
            conns.push(t.await.expect("a client failed"));
        }
        // The pool, the proxy's monitor connection, and this check's own.
        println!(
            "{CLIENTS} clients through the pool; writer Threads_connected peaked at {peak} \
             (pool {POOL_SIZE} + monitor + checker) in {:.1} s",
            t0.elapsed().as_secs_f64()
        );
        assert!(
            peak <= (POOL_SIZE + 2) as u64,
            "the writer saw {peak} connections"
        );
        for c in conns {
            c.disconnect().await.unwrap();
        }
        let n: Option<u64> = checker
            .query_first("SELECT COUNT(*) FROM pool.t")
            .await
            .unwrap();
        assert_eq!(n, Some(CLIENTS as u64));
        checker.disconnect().await.unwrap();
    });
    let wrong =
        f.rt.block_on(mysql_async::Conn::new(opts(f.listen, APP, "wrong")));
    match wrong {
        Err(mysql_async::Error::Server(s)) => {
            assert_eq!((s.code, s.state.as_str()), (1045, "28000"))
        }
        other => panic!(
            "a wrong password must get ERROR 1045, got {:?}",
            other.map(|_| ())
        ),
    }
}

#[test]
fn writer_sigkill_under_a_pooled_insert_loop() {
    let mut f = Fixture::start("sigkill");
    let listen = f.listen;
    let mut c = f.rt.block_on(async {
        let mut c = mysql_async::Conn::new(opts(listen, APP, APP_PASSWORD))
            .await
            .unwrap();
        c.query_drop("CREATE DATABASE failover").await.unwrap();
        c.query_drop("CREATE TABLE failover.t (id BIGINT PRIMARY KEY)")
            .await
            .unwrap();
        c
    });
    // A second client with a transaction open on the writer at the kill.
    let mut txn = f.rt.block_on(async {
        let mut t = mysql_async::Conn::new(opts(listen, APP, APP_PASSWORD))
            .await
            .unwrap();
        t.query_drop("BEGIN").await.unwrap();
        t.query_drop("INSERT INTO failover.t VALUES (1000000)")
            .await
            .unwrap();
        t
    });
    let mut acked = Vec::new();
    let mut errors = Vec::new();
    let mut last_ack = Instant::now();
    let mut longest_gap = Duration::ZERO;
    let mut killed_at = None;
    let mut after_kill = 0;
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut id = 0u64;
    while after_kill < 30 && Instant::now() < deadline {
        id += 1;
        if killed_at.is_none() && acked.len() == 30 {
            f.c.kill(0).expect("SIGKILL the writer");
            killed_at = Some(Instant::now());
        }
        let r = f.rt.block_on(async {
            tokio::time::timeout(
                Duration::from_secs(90),
                c.query_drop(format!("INSERT INTO failover.t VALUES ({id})")),
            )
            .await
        });
        match r {
            Ok(Ok(())) => {
                let now = Instant::now();
                longest_gap = longest_gap.max(now - last_ack);
                last_ack = now;
                acked.push(id);
                if killed_at.is_some() {
                    after_kill += 1;
                }
            }
            // Not acknowledged: the row may or may not be there. The
            // session stays usable (the proxy answered with an ERR).
            Ok(Err(e)) => {
                errors.push(format!("insert {id}: {e}"));
                assert!(
                    matches!(e, mysql_async::Error::Server(_)),
                    "the proxy dropped the client session: {e}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(_) => panic!("insert {id}: no answer within 90 s"),
        }
    }
    assert!(
        after_kill >= 30,
        "writes did not resume after the kill: {errors:#?}"
    );
    let retries = metric(f.admin, "trireme_proxy_statement_retries_total").unwrap_or(0.0);

    // The open transaction died with its node; the next one commits.
    let (lost, next) = f.rt.block_on(async {
        let lost = txn
            .query_drop("INSERT INTO failover.t VALUES (1000001)")
            .await;
        txn.query_drop("BEGIN").await.unwrap();
        txn.query_drop("INSERT INTO failover.t VALUES (1000002)")
            .await
            .unwrap();
        let next = txn.query_drop("COMMIT").await;
        (lost, next)
    });
    match lost {
        Err(mysql_async::Error::Server(s)) => {
            assert_eq!(s.code, 2013, "{s:?}");
            assert_eq!(s.message, "Lost connection to backend during transaction");
        }
        other => panic!("expected ERROR 2013 for the lost transaction, got {other:?}"),
    }
    next.expect("the next transaction commits on another node");

    // Every acknowledged row is on both survivors.
    let (n1, n2) = (f.node(1), f.node(2));
    f.rt.block_on(async {
        for addr in [n1, n2] {
            let mut s = mysql_async::Conn::new(opts(addr, "root", ROOT_PASSWORD))
                .await
                .unwrap();
            s.query_drop("SET SESSION wsrep_sync_wait = 1")
                .await
                .unwrap();
            let ids: Vec<u64> = s
                .query("SELECT id FROM failover.t ORDER BY id")
                .await
                .unwrap();
            let missing: Vec<u64> = acked
                .iter()
                .copied()
                .filter(|i| ids.binary_search(i).is_err())
                .collect();
            assert!(
                missing.is_empty(),
                "{addr} lacks acknowledged rows {missing:?}"
            );
            assert!(
                ids.binary_search(&1_000_000).is_err(),
                "the lost transaction committed"
            );
            assert!(ids.binary_search(&1_000_002).is_ok());
            s.disconnect().await.unwrap();
        }
        let _ = c.disconnect().await;
        let _ = txn.disconnect().await;
    });
    println!(
        "writer SIGKILL through the pooled proxy: {} acknowledged inserts, all on both survivors; \
         longest write gap {:.2} s; {} client errors {errors:?}; {retries} statement retries",
        acked.len(),
        longest_gap.as_secs_f64(),
        errors.len()
    );
}

/// `LAST_INSERT_ID()` and `ROW_COUNT()` answer for the client's own
/// previous statement although the pool lends a connection per statement:
/// another client's insert runs between a client's insert and its
/// question, and a transaction (whose connection is reset when it goes
/// back to the pool) comes before a question. Two clients, one step at a
/// time, on a pool warmed with two idle connections.
#[test]
fn session_functions_answer_for_the_clients_own_statement() {
    let f = Fixture::start("session-fns");
    let listen = f.listen;
    f.rt.block_on(async move {
        let connect = || mysql_async::Conn::new(opts(listen, APP, APP_PASSWORD));
        let mut a = connect().await.unwrap();
        let mut b = connect().await.unwrap();
        a.query_drop("CREATE DATABASE fns").await.unwrap();
        a.query_drop("CREATE TABLE fns.p (id BIGINT AUTO_INCREMENT PRIMARY KEY, v BIGINT)")
            .await
            .unwrap();
        a.query_drop("CREATE TABLE fns.c (id BIGINT AUTO_INCREMENT PRIMARY KEY, p BIGINT)")
            .await
            .unwrap();
        // Two backend connections in the pool: two transactions at once.
        a.query_drop("BEGIN").await.unwrap();
        b.query_drop("BEGIN").await.unwrap();
        a.query_drop("COMMIT").await.unwrap();
        b.query_drop("COMMIT").await.unwrap();

        for round in 0..3 {
            a.query_drop("INSERT INTO fns.p (v) VALUES (1), (1)")
                .await
                .unwrap();
            let a_id = a.last_insert_id().expect("an insert id");
            b.query_drop("INSERT INTO fns.p (v) VALUES (2)")
                .await
                .unwrap();
            let b_id = b.last_insert_id().expect("an insert id");
            assert_ne!(a_id, b_id);
            let (id, rows): (u64, i64) = a
                .query_first("SELECT LAST_INSERT_ID(), ROW_COUNT()")
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                (id, rows),
                (a_id, 2),
                "round {round}: client a got another client's LAST_INSERT_ID()/ROW_COUNT()"
            );
            // The classic parent/child insert, with b writing in between.
            a.query_drop("INSERT INTO fns.p (v) VALUES (3)")
                .await
                .unwrap();
            let parent = a.last_insert_id().unwrap();
            b.query_drop("INSERT INTO fns.p (v) VALUES (4)")
                .await
                .unwrap();
            a.query_drop("INSERT INTO fns.c (p) VALUES (LAST_INSERT_ID())")
                .await
                .unwrap();
            let child = a.last_insert_id().unwrap();
            let p: Option<u64> = a
                .query_first(format!("SELECT p FROM fns.c WHERE id = {child}"))
                .await
                .unwrap();
            assert_eq!(
                p,
                Some(parent),
                "round {round}: the child got another parent"
            );
        }

        // After a transaction its connection is reset before it is lent
        // again; the client still sees its last insert id.
        a.query_drop("BEGIN").await.unwrap();
        a.query_drop("INSERT INTO fns.p (v) VALUES (5)")
            .await
            .unwrap();
        let in_txn = a.last_insert_id().unwrap();
        a.query_drop("COMMIT").await.unwrap();
        b.query_drop("INSERT INTO fns.p (v) VALUES (6)")
            .await
            .unwrap();
        let id: Option<u64> = a.query_first("SELECT LAST_INSERT_ID()").await.unwrap();
        assert_eq!(id, Some(in_txn), "LAST_INSERT_ID() after a transaction");
        a.disconnect().await.unwrap();
        b.disconnect().await.unwrap();
    });
}
