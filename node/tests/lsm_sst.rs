//! Streaming state transfer for lsm members (issue 15): a wiped member
//! whose peers have purged their logs past it rejoins by pulling a copy of
//! a donor's engine from its backup listener (the raft snapshot carries
//! only a descriptor), while writes go on; afterwards every member holds
//! the same data. A joiner killed in the middle of the stream finds its
//! engine marked incomplete at the next start, empties it, and pulls again.
//!
//! Every process is started by the harness and stopped by its pid.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::*;
use mysql_async::{Conn, Opts};

use support::cluster::{Cluster, NodeOpts};

const LONG: Duration = Duration::from_secs(180);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Three lsm members and a 64 KiB gcache; node 2 has a configured backup
/// listener, the others a free port each (the default); node 3 prefers
/// node 2 as its donor by name, as Galera's `wsrep_sst_donor` names it
/// (then others: trailing comma); node 2 paces its stream to `rate`
/// bytes/s.
async fn cluster(rate: u64) -> (Cluster, String) {
    let listener = format!("127.0.0.1:{}", free_port());
    let l = listener.clone();
    let c = Cluster::start_with(3, move |id| {
        let mut extra = "[storage]\nengine = \"lsm\"\ncache_size = \"8MiB\"\n".to_string();
        if id == 2 {
            extra.push_str(&format!("backup_listen = \"{l}\"\n"));
        }
        if id == 3 {
            extra.push_str("sst_donor = \"node2,\"\n");
        }
        if id == 2 {
            extra.push_str(&format!("transfer_max_rate = {rate}\n"));
        }
        NodeOpts {
            gcache_size: Some(64 << 10),
            extra,
            ..NodeOpts::default()
        }
    })
    .await;
    (c, listener)
}

async fn status_u64(c: &Cluster, i: usize, var: &str) -> u64 {
    c.status(i, var)
        .await
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {var} on node {}", i + 1))
}

/// Far more than the gcache of write-sets, over several recovery points,
/// so the members purge their logs past a node that is down.
async fn bulk(a: &mut Conn, from: i64, batches: i64) {
    let pad = "p".repeat(180);
    for batch in 0..batches {
        let values: Vec<String> = (0..50)
            .map(|i| format!("({}, {}, '{pad}')", from + batch * 50 + i, i % 13))
            .collect();
        a.query_drop(format!("INSERT INTO sst.t VALUES {}", values.join(",")))
            .await
            .unwrap();
        if batch % 10 == 9 {
            tokio::time::sleep(Duration::from_millis(1200)).await;
        }
    }
}

/// Updates and inserts on `url` until `stop`, counting acknowledged ones.
async fn writer(url: String, stop: Arc<AtomicBool>, count: Arc<AtomicU64>) {
    let mut c = Conn::new(Opts::from_url(&url).unwrap()).await.unwrap();
    let mut i = 0i64;
    while !stop.load(Ordering::Acquire) {
        i += 1;
        let r = c
            .exec_drop(
                "INSERT INTO sst.t VALUES (?, ?, 'live')",
                (1_000_000 + i, i % 13),
            )
            .await;
        let u = c
            .exec_drop("UPDATE sst.t SET k = k + 1 WHERE id = ?", (i % 500,))
            .await;
        if r.is_ok() && u.is_ok() {
            count.fetch_add(1, Ordering::Release);
        }
    }
}

async fn wait_count(count: &AtomicU64, n: u64) {
    let deadline = Instant::now() + LONG;
    while count.load(Ordering::Acquire) < n {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {n} writes"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn setup(c: &Cluster) -> Conn {
    let mut a = c.conn(0).await;
    a.query_drop("CREATE DATABASE sst").await.unwrap();
    a.query_drop(
        "CREATE TABLE sst.t (id INT PRIMARY KEY, k INT NOT NULL, pad VARCHAR(200) NOT NULL, KEY k_1 (k))",
    )
    .await
    .unwrap();
    a
}

fn assert_all_equal(sums: &[Vec<(String, Option<u64>)>]) {
    assert_eq!(sums.len(), 3);
    assert!(sums.iter().all(|s| *s == sums[0]), "{sums:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_member_rejoins_by_streaming_from_a_donor() {
    let (mut c, listener) = cluster(0).await;
    assert_eq!(
        c.status(1, "trireme_sst_address").await.as_deref(),
        Some(listener.as_str())
    );
    let mut a = setup(&c).await;
    bulk(&mut a, 0, 10).await;
    c.kill(2);
    c.wipe(2);
    bulk(&mut a, 10_000, 40).await;

    // Writes go on through the whole rejoin.
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let w = tokio::spawn(writer(c.url(0), stop.clone(), count.clone()));
    wait_count(&count, 20).await;
    c.start_node(2);
    c.wait_synced(2, 3, LONG).await;
    let at_sync = count.load(Ordering::Acquire);
    wait_count(&count, at_sync + 50).await;
    stop.store(true, Ordering::Release);
    w.await.unwrap();

    let log = c.log_text(2);
    assert!(
        log.contains("streamed state transfer installed"),
        "node 3 did not rejoin by streamed state transfer\n{}",
        c.log_tail(2)
    );
    // Its preferred donor (node 2, not the leader) served it; node 1 did not.
    assert_eq!(status_u64(&c, 1, "trireme_sst_donations").await, 1);
    assert!(status_u64(&c, 1, "trireme_sst_bytes_sent").await > 100_000);
    assert_eq!(status_u64(&c, 0, "trireme_sst_donations").await, 0);
    let received = status_u64(&c, 2, "trireme_sst_bytes_received").await;
    assert_eq!(received, status_u64(&c, 1, "trireme_sst_bytes_sent").await);
    assert_eq!(
        c.status(2, "wsrep_local_state_comment").await.as_deref(),
        Some("Synced")
    );
    assert_all_equal(&c.checksums("sst.t").await);

    // It takes writes and restarts from the engine it received.
    let mut x = c.conn(2).await;
    x.query_drop("UPDATE sst.t SET pad = 'x' WHERE id = 7")
        .await
        .unwrap();
    drop(x);
    c.restart(2);
    c.wait_synced(2, 3, LONG).await;
    assert_eq!(
        c.status(2, "trireme_storage_recovered_from")
            .await
            .as_deref(),
        Some("engine")
    );
    assert_all_equal(&c.checksums("sst.t").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joiner_killed_mid_transfer_pulls_again_after_its_restart() {
    // About 2 MB of rows at 300 KB/s: several seconds of transfer.
    let (mut c, _) = cluster(300_000).await;
    let mut a = setup(&c).await;
    bulk(&mut a, 0, 10).await;
    c.kill(2);
    c.wipe(2);
    bulk(&mut a, 10_000, 150).await;
    c.start_node(2);
    // Wait until the donor is streaming, then kill the joiner.
    let deadline = Instant::now() + LONG;
    loop {
        let comment = c.status(1, "wsrep_local_state_comment").await;
        if comment.as_deref().is_some_and(|s| s.starts_with("Donor")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node 2 never became a donor; node 3:\n{}",
            c.log_tail(2)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sent_before_kill = status_u64(&c, 1, "trireme_sst_bytes_sent").await;
    c.kill(2);
    assert!(
        sent_before_kill < 2_000_000,
        "the transfer was not cut short"
    );
    // Writes while it is down, then the restart.
    a.query_drop("UPDATE sst.t SET k = -1 WHERE id < 100")
        .await
        .unwrap();
    c.start_node(2);
    c.wait_synced(2, 3, LONG).await;
    let log = c.log_text(2);
    assert!(
        log.contains("a state transfer into it did not finish"),
        "the restarted joiner did not see its unfinished transfer\n{}",
        c.log_tail(2)
    );
    assert!(
        log.contains("streamed state transfer installed"),
        "{}",
        c.log_tail(2)
    );
    assert!(status_u64(&c, 1, "trireme_sst_donations").await >= 2);
    assert_all_equal(&c.checksums("sst.t").await);
}
