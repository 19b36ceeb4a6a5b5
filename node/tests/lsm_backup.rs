//! `trireme backup` (issue 15): a copy of a running lsm node, taken online
//! while it takes writes, seeds a new cluster. The copy holds exactly the
//! rows at one seqno S (a consistent cut of a stream of inserts, with the
//! updates and deletes before it), the new node serves them and takes
//! writes, a backup directory refuses to start as a joiner, and a wrong
//! password is refused without leaving a directory behind.
//!
//! Every process is started by the test and stopped by its own handle.

mod child_node;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::*;
use mysql_async::Conn;

use child_node::{ChildNode, ROOT_PW};

const LSM: &str = "[storage]\nengine = \"lsm\"\ncache_size = \"8MiB\"\n";
const TABLE: &str = "CREATE TABLE sb.t (id INT AUTO_INCREMENT PRIMARY KEY, k INT NOT NULL, \
                     c VARCHAR(60) NOT NULL, KEY k_1 (k))";
const LONG: Duration = Duration::from_secs(120);

type Rows = BTreeMap<i64, (i64, String)>;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn rows(c: &mut Conn) -> Rows {
    let r: Vec<(i64, i64, String)> = c
        .query("SELECT id, k, c FROM sb.t ORDER BY id")
        .await
        .unwrap();
    r.into_iter().map(|(id, k, c)| (id, (k, c))).collect()
}

/// Inserts one row at a time until `stop`, counting acknowledged inserts.
async fn writer(node: Arc<mysql_async::Opts>, stop: Arc<AtomicBool>, count: Arc<AtomicU64>) {
    let mut c = Conn::new((*node).clone()).await.unwrap();
    let mut i = 0i64;
    while !stop.load(Ordering::Acquire) {
        i += 1;
        c.exec_drop(
            "INSERT INTO sb.t (k, c) VALUES (?, ?)",
            (i % 97, format!("live-{i}")),
        )
        .await
        .unwrap();
        count.fetch_add(1, Ordering::Release);
    }
}

async fn wait_count(count: &AtomicU64, n: u64) {
    let deadline = Instant::now() + LONG;
    while count.load(Ordering::Acquire) < n {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {n} writes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs `trireme backup` to completion (bounded by its own timeouts).
async fn backup(from: &str, to: &std::path::Path, password: &str) -> std::process::Output {
    let (from, to, password) = (from.to_string(), to.to_path_buf(), password.to_string());
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_trireme"))
            .args([
                "backup",
                "--from",
                &from,
                "--password",
                &password,
                "--timeout-ms",
                "30000",
            ])
            .arg("--to")
            .arg(&to)
            .env("RUST_LOG", "warn")
            .output()
            .expect("run trireme backup")
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_backup_seeds_a_new_cluster() {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let node = ChildNode::start_with(&format!("{LSM}backup_listen = \"{listen}\"\n")).await;
    let mut c = node.connect(None).await;
    c.query_drop("CREATE DATABASE sb").await.unwrap();
    c.query_drop(TABLE).await.unwrap();
    for chunk in 0..5 {
        let values: Vec<String> = (0..200)
            .map(|i| format!("({}, 'seed-{chunk}-{i}')", i % 50))
            .collect();
        c.query_drop(format!(
            "INSERT INTO sb.t (k, c) VALUES {}",
            values.join(",")
        ))
        .await
        .unwrap();
    }
    // Newer versions and deletes: the copy holds each row's newest version.
    c.query_drop("UPDATE sb.t SET k = 1000 WHERE id <= 100")
        .await
        .unwrap();
    c.query_drop("DELETE FROM sb.t WHERE id BETWEEN 200 AND 299")
        .await
        .unwrap();

    // A wrong password is refused, and leaves no directory behind.
    let scratch = tempfile::tempdir().unwrap();
    let refused = scratch.path().join("refused");
    let out = backup(&listen, &refused, "not-the-password").await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("access denied"),
        "{err}"
    );
    assert!(
        !refused.exists(),
        "a refused backup left {}",
        refused.display()
    );

    // The backup runs while a writer inserts rows.
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let w = tokio::spawn(writer(
        Arc::new(node.opts(None)),
        stop.clone(),
        count.clone(),
    ));
    wait_count(&count, 200).await;
    let before: Rows = rows(&mut c).await;
    let target = tempfile::Builder::new()
        .prefix("trireme-backup-")
        .tempdir()
        .unwrap();
    let out = backup(&listen, &target.path().join("data"), ROOT_PW).await;
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "backup failed: {}\n{said}\nnode log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        node.recent_log()
    );
    let at_end = count.load(Ordering::Acquire);
    wait_count(&count, at_end + 100).await;
    stop.store(true, Ordering::Release);
    w.await.unwrap();
    let seqno: u64 = said
        .split("at seqno ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no seqno in {said:?}"));
    assert!(seqno > 0, "{said}");
    let source: Rows = rows(&mut c).await;

    // A backup directory does not start as a joiner (it would be replaced
    // by state transfer): the node exits with a message that says why.
    let cfg = target.path().join("join.toml");
    std::fs::write(
        &cfg,
        format!(
            "[cluster]\nlisten = \"127.0.0.1:{}\"\ncluster_address = \"gcomm://127.0.0.1:{}\"\n{LSM}",
            free_port(),
            free_port()
        ),
    )
    .unwrap();
    let joiner = tokio::task::spawn_blocking({
        let (cfg, data) = (cfg.clone(), target.path().join("data"));
        move || {
            Command::new(env!("CARGO_BIN_EXE_trireme"))
                .args([
                    "start",
                    "--listen",
                    "127.0.0.1:0",
                    "--root-password",
                    ROOT_PW,
                ])
                .arg("--config")
                .arg(&cfg)
                .arg("--data-dir")
                .arg(&data)
                .env("RUST_LOG", "warn")
                .output()
                .expect("run trireme start")
        }
    })
    .await
    .unwrap();
    let err = String::from_utf8_lossy(&joiner.stderr);
    assert!(
        !joiner.status.success(),
        "a backup started as a joiner: {err}"
    );
    assert!(
        err.contains("seeds a NEW cluster") && err.contains("--bootstrap"),
        "{err}"
    );

    // A new cluster on the copy.
    let copy = ChildNode::start_on(target, LSM).await;
    let mut n = copy.connect(None).await;
    let got: Rows = rows(&mut n).await;
    // Every row present before the backup began is there, as it was.
    for (id, r) in &before {
        assert_eq!(
            got.get(id),
            Some(r),
            "row {id} of the state before the backup"
        );
    }
    // The copy is a cut of the insert stream: every row of the source up to
    // the highest id copied, and nothing above it.
    let last = *got.keys().next_back().unwrap();
    let cut: Rows = source
        .range(..=last)
        .map(|(k, v)| (*k, v.clone()))
        .collect();
    assert_eq!(got, cut, "the copy is not the source's state at one seqno");
    assert!(
        got.len() < source.len(),
        "writes after the backup are not in it"
    );
    // Through the index as well.
    let by_index: i64 = n
        .query_first("SELECT COUNT(*) FROM sb.t WHERE k = 1000")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_index, 100);
    // The new cluster's history starts at 1, and it takes writes: fresh
    // AUTO_INCREMENT values above every copied row, and DDL.
    n.query_drop("INSERT INTO sb.t (k, c) VALUES (1, 'new cluster')")
        .await
        .unwrap();
    let id: i64 = n
        .query_first("SELECT LAST_INSERT_ID()")
        .await
        .unwrap()
        .unwrap();
    assert!(id > last, "{id} <= {last}");
    n.query_drop("CREATE TABLE sb.u (id INT PRIMARY KEY)")
        .await
        .unwrap();
    n.query_drop("INSERT INTO sb.u VALUES (1)").await.unwrap();
    let r: Option<(String, String)> = n
        .query_first("SHOW STATUS LIKE 'wsrep_last_committed'")
        .await
        .unwrap();
    let committed: u64 = r.unwrap().1.parse().unwrap();
    assert!(
        committed < seqno.max(10),
        "new history: {committed} (source at {seqno})"
    );
    // And it restarts from its engine like any lsm node.
    let copy = copy.restart().await;
    let mut n = copy.connect(None).await;
    let after: Rows = rows(&mut n).await;
    assert_eq!(after.len(), got.len() + 1);
    drop(node);
}
