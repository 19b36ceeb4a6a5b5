//! Restart from disk with `[storage] engine = "lsm"` (issue 15, phase 2): a
//! node killed with SIGKILL comes back from the files of its engine — rows,
//! catalog, horizon and the certification state of its last recovery point
//! — and replays only the ordered log after it. It loads no full image: its
//! `trireme_storage_recovered_from` is `engine` and its
//! `trireme_storage_rows_loaded` is 0 (before phase 2 the engine directory
//! was emptied at start and the rows came back from a checkpoint image).
//!
//! Every process is started by the harness and stopped by its pid.

mod child_node;
mod support;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::*;
use mysql_async::{Conn, Opts};

use child_node::ChildNode;
use support::cluster::{Cluster, NodeOpts};

const LSM: &str = "[storage]\nengine = \"lsm\"\ncache_size = \"8MiB\"\n";

const LONG: Duration = Duration::from_secs(120);

const TABLE: &str = "CREATE TABLE sb.t (id INT AUTO_INCREMENT PRIMARY KEY, k INT NOT NULL, \
                     c VARCHAR(60) NOT NULL, KEY k_1 (k))";

async fn status(c: &mut Conn, var: &str) -> Option<String> {
    let r: Option<(String, String)> = c
        .query_first(format!("SHOW STATUS LIKE '{var}'"))
        .await
        .unwrap();
    r.map(|(_, v)| v)
}

/// Asserts the node restarted from its engine's files, loading no image.
async fn assert_restarted_from_disk(c: &mut Conn, log: &str) {
    assert_eq!(
        status(c, "trireme_storage_recovered_from").await.as_deref(),
        Some("engine"),
        "the node did not restart from its storage engine; log:\n{log}"
    );
    assert_eq!(
        status(c, "trireme_storage_rows_loaded").await.as_deref(),
        Some("0"),
        "the node loaded rows from a full image; log:\n{log}"
    );
}

/// Inserts rows one by one on `url` until `stop` (or `max` rows), recording
/// the id of every acknowledged insert. An insert whose outcome is unknown
/// or failed is not recorded (it may or may not exist).
async fn writer(
    url: String,
    stop: Arc<AtomicBool>,
    acked: Arc<parking_lot::Mutex<BTreeSet<i64>>>,
    count: Arc<AtomicU64>,
    max: u64,
) {
    let mut c = Conn::new(Opts::from_url(&url).unwrap()).await.unwrap();
    for i in 0..max {
        if stop.load(Ordering::Acquire) {
            break;
        }
        let r = c
            .exec_drop(
                "INSERT INTO sb.t (k, c) VALUES (?, ?)",
                (i as i64 % 97, format!("row-{i}-{}", "x".repeat(30))),
            )
            .await;
        match r {
            Ok(()) => {
                let id = c.last_insert_id().unwrap_or(0) as i64;
                acked.lock().insert(id);
                count.fetch_add(1, Ordering::Release);
            }
            Err(_) => {
                // Reconnect (bounded by the loop) and go on.
                if let Ok(n) = Conn::new(Opts::from_url(&url).unwrap()).await {
                    c = n;
                }
            }
        }
    }
}

/// Waits (bounded) until `count` reaches `n`.
async fn wait_count(count: &AtomicU64, n: u64, what: &str) {
    let deadline = Instant::now() + LONG;
    while count.load(Ordering::Acquire) < n {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_killed_during_writes_restarts_from_its_engine() {
    let mut c = Cluster::start_with(3, |_| NodeOpts {
        extra: LSM.to_string(),
        ..NodeOpts::default()
    })
    .await;
    let mut a = c.conn(0).await;
    a.query_drop("CREATE DATABASE sb").await.unwrap();
    a.query_drop(TABLE).await.unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(parking_lot::Mutex::new(BTreeSet::new()));
    let count = Arc::new(AtomicU64::new(0));
    let w = tokio::spawn(writer(
        c.url(0),
        stop.clone(),
        acked.clone(),
        count.clone(),
        20_000,
    ));
    // Kill node 3 in the middle of the writes (its checkpoint timer has
    // saved recovery points meanwhile), go on writing while it is down,
    // then restart it while the writes continue.
    wait_count(&count, 300, "writes before the kill").await;
    c.kill(2);
    let at_kill = count.load(Ordering::Acquire);
    wait_count(&count, at_kill + 300, "writes while node 3 is down").await;
    c.start_node(2);
    c.wait_synced(2, 3, LONG).await;
    let at_sync = count.load(Ordering::Acquire);
    wait_count(&count, at_sync + 100, "writes after node 3 synced").await;
    stop.store(true, Ordering::Release);
    w.await.unwrap();

    let log = c.log_tail(2);
    let mut n3 = c.conn(2).await;
    assert_restarted_from_disk(&mut n3, &log).await;
    // Its checkpoint timer had saved recovery points in the engine before
    // the kill: the replay started after one of them, not at the log's start.
    let text = c.log_text(2);
    let line = text
        .lines()
        .find(|l| l.contains("restarted from the storage engine"))
        .unwrap_or_else(|| panic!("no restart line in the log:\n{log}"));
    let field = |name: &str| -> u64 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {line}"))
    };
    let (point, horizon) = (field("recovery_point"), field("horizon"));
    assert!(point > 0 && horizon >= point, "{line}");

    // Every acknowledged row is on the restarted node, and its contents
    // equal the others'.
    n3.query_drop("SET SESSION wsrep_sync_wait = 1")
        .await
        .unwrap();
    let ids: Vec<i64> = n3.query("SELECT id FROM sb.t ORDER BY id").await.unwrap();
    let ids: BTreeSet<i64> = ids.into_iter().collect();
    let acked = acked.lock().clone();
    let missing: Vec<&i64> = acked.difference(&ids).take(10).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged rows missing on the restarted node, e.g. {missing:?}",
        acked.difference(&ids).count()
    );
    let sums = c.checksums("sb.t").await;
    assert_eq!(sums.len(), 3);
    assert!(sums.iter().all(|s| *s == sums[0]), "{sums:?}");
    let by_index: i64 = n3
        .query_first("SELECT COUNT(*) FROM sb.t WHERE k = 5")
        .await
        .unwrap()
        .unwrap();
    let mut n1 = c.conn(0).await;
    n1.query_drop("SET SESSION wsrep_sync_wait = 1")
        .await
        .unwrap();
    let by_index_1: i64 = n1
        .query_first("SELECT COUNT(*) FROM sb.t WHERE k = 5")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_index, by_index_1);

    // The restarted node takes writes (fresh AUTO_INCREMENT values, DDL).
    n3.query_drop("INSERT INTO sb.t (k, c) VALUES (1, 'after')")
        .await
        .unwrap();
    n3.query_drop("CREATE TABLE sb.u (id INT PRIMARY KEY)")
        .await
        .unwrap();
    // A causal read first: node 1 may not have applied the CREATE yet.
    let _: Option<i64> = n1.query_first("SELECT COUNT(*) FROM sb.u").await.unwrap();
    n1.query_drop("INSERT INTO sb.u VALUES (1)").await.unwrap();
    let sums = c.checksums("sb.t, sb.u").await;
    assert!(sums.iter().all(|s| *s == sums[0]), "{sums:?}");
    drop(c);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_node_restarts_from_its_engine() {
    let node = ChildNode::start_with(LSM).await;
    let mut c = node.connect(None).await;
    c.query_drop("CREATE DATABASE sb").await.unwrap();
    c.query_drop(TABLE).await.unwrap();
    for chunk in 0..10 {
        let values: Vec<String> = (0..200)
            .map(|i| format!("({}, 'r{chunk}-{i}')", i % 50))
            .collect();
        c.query_drop(format!(
            "INSERT INTO sb.t (k, c) VALUES {}",
            values.join(",")
        ))
        .await
        .unwrap();
    }
    c.query_drop("UPDATE sb.t SET k = 1000 WHERE id <= 10")
        .await
        .unwrap();
    c.query_drop("DELETE FROM sb.t WHERE id > 1900")
        .await
        .unwrap();
    c.query_drop("ALTER TABLE sb.t ADD COLUMN extra INT NOT NULL DEFAULT 7")
        .await
        .unwrap();
    c.query_drop("CREATE TABLE sb.gone (id INT PRIMARY KEY)")
        .await
        .unwrap();
    c.query_drop("RENAME TABLE sb.gone TO sb.kept")
        .await
        .unwrap();
    let before: Vec<(i64, i64, String, i64)> = c
        .query("SELECT id, k, c, extra FROM sb.t ORDER BY id")
        .await
        .unwrap();
    assert_eq!(before.len(), 1900);
    drop(c);

    let node = node.restart().await;
    let mut c = node.connect(None).await;
    assert_restarted_from_disk(&mut c, &node.recent_log()).await;
    let after: Vec<(i64, i64, String, i64)> = c
        .query("SELECT id, k, c, extra FROM sb.t ORDER BY id")
        .await
        .unwrap();
    assert_eq!(after, before);
    let by_index: i64 = c
        .query_first("SELECT COUNT(*) FROM sb.t WHERE k = 1000")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_index, 10);
    // The DDL ran once: the renamed table is there, the old name is not.
    let tables: Vec<String> = c.query("SHOW TABLES FROM sb").await.unwrap();
    assert_eq!(tables, vec!["kept".to_string(), "t".to_string()]);
    // AUTO_INCREMENT continues above every stored row.
    c.query_drop("INSERT INTO sb.t (k, c) VALUES (1, 'new')")
        .await
        .unwrap();
    let id = c.last_insert_id().unwrap_or(0);
    assert!(id > 2000, "AUTO_INCREMENT went back to {id}");

    // And a second restart, now with writes after the first.
    drop(c);
    let node = node.restart().await;
    let mut c = node.connect(None).await;
    assert_restarted_from_disk(&mut c, &node.recent_log()).await;
    let n: i64 = c
        .query_first("SELECT COUNT(*) FROM sb.t")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 1901);

    // Without its engine directory the node rebuilds the rows from its
    // ordered log (as the memory engine does), then restarts from the new
    // engine again.
    drop(c);
    let node = node
        .restart_after(|dir| std::fs::remove_dir_all(dir.join("lsm")).unwrap())
        .await;
    let mut c = node.connect(None).await;
    assert_eq!(
        status(&mut c, "trireme_storage_recovered_from")
            .await
            .as_deref(),
        Some("empty")
    );
    let again: Vec<(i64, i64, String, i64)> = c
        .query("SELECT id, k, c, extra FROM sb.t WHERE id <= 1900 ORDER BY id")
        .await
        .unwrap();
    assert_eq!(again, before);
    drop(c);
    let node = node.restart().await;
    let mut c = node.connect(None).await;
    assert_restarted_from_disk(&mut c, &node.recent_log()).await;
    let n: i64 = c
        .query_first("SELECT COUNT(*) FROM sb.t")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 1901);
}

/// A member whose position the others purged from their logs gets a state
/// transfer (the full-image path, donors and joiner both on lsm): the
/// joiner's engine, which held its old state, is emptied first, so it ends
/// with exactly the donor's rows; and once the transfer's recovery point
/// has landed it restarts from its engine again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_transfer_into_an_lsm_member_replaces_its_engine() {
    let mut c = Cluster::start_with(3, |_| NodeOpts {
        gcache_size: Some(64 << 10),
        extra: LSM.to_string(),
        ..NodeOpts::default()
    })
    .await;
    let mut a = c.conn(0).await;
    a.query_drop("CREATE DATABASE sst").await.unwrap();
    a.query_drop("CREATE TABLE sst.t (id INT PRIMARY KEY, pad VARCHAR(200) NOT NULL)")
        .await
        .unwrap();
    // Rows node 3 has in its engine, which the transfer must replace: ids
    // 100000.. are deleted while it is down.
    a.query_drop("INSERT INTO sst.t VALUES (100000, 'old'), (100001, 'old')")
        .await
        .unwrap();
    let mut b = c.conn(2).await;
    b.query_drop("SET SESSION wsrep_sync_wait = 1")
        .await
        .unwrap();
    let seen: i64 = b
        .query_first("SELECT COUNT(*) FROM sst.t")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen, 2);
    drop(b);
    c.kill(2);
    a.query_drop("DELETE FROM sst.t WHERE id >= 100000")
        .await
        .unwrap();
    // Far more than 64 KiB of write-sets while node 3 is down, over several
    // recovery points: the others purge their logs past its position.
    let pad = "p".repeat(180);
    for batch in 0..40i64 {
        let values: Vec<String> = (0..50)
            .map(|i| format!("({}, '{pad}')", batch * 50 + i))
            .collect();
        a.query_drop(format!("INSERT INTO sst.t VALUES {}", values.join(",")))
            .await
            .unwrap();
        if batch % 10 == 9 {
            tokio::time::sleep(Duration::from_millis(1200)).await;
        }
    }
    c.start_node(2);
    c.wait_synced(2, 3, LONG).await;
    let log = c.log_text(2);
    assert!(
        log.contains("state transfer installed"),
        "node 3 caught up without a state transfer; the test did not exercise it\n{}",
        c.log_tail(2)
    );
    // No backup_listen is configured: lsm members serve on a free port of
    // their cluster IP, so the transfer is streamed, never a full image
    // built in the donor's memory.
    assert!(
        log.contains("streamed state transfer installed"),
        "node 3 did not receive a streamed transfer\n{}",
        c.log_tail(2)
    );
    let mut x = c.conn(2).await;
    let addr = status(&mut x, "trireme_sst_address").await;
    assert!(
        addr.as_deref()
            .is_some_and(|a| a.starts_with("127.0.0.1:") && !a.ends_with(":0")),
        "{addr:?}"
    );
    assert_eq!(
        status(&mut x, "trireme_storage_recovered_from")
            .await
            .as_deref(),
        Some("state_transfer")
    );
    x.query_drop("SET SESSION wsrep_sync_wait = 1")
        .await
        .unwrap();
    let n: i64 = x
        .query_first("SELECT COUNT(*) FROM sst.t")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 2000);
    let sums = c.checksums("sst.t").await;
    assert!(sums.iter().all(|s| *s == sums[0]), "{sums:?}");
    drop(x);

    // The transferred state is the engine's now: a SIGKILL and restart
    // comes back from it.
    c.restart(2);
    c.wait_synced(2, 3, LONG).await;
    let mut x = c.conn(2).await;
    assert_restarted_from_disk(&mut x, &c.log_tail(2)).await;
    x.query_drop("UPDATE sst.t SET pad = 'x' WHERE id = 7")
        .await
        .unwrap();
    let sums = c.checksums("sst.t").await;
    assert!(sums.iter().all(|s| *s == sums[0]), "{sums:?}");
}
