//! Three real `trireme` processes on loopback (issue 6): reads everywhere,
//! one winner per conflict round, a bank whose total never moves, DDL under
//! load, flow control, parallel apply, loss of the primary component,
//! SIGKILL + restart without losing an acknowledged commit, unique values
//! that conflict under their collation, and foreign keys across nodes.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::*;
use support::cluster::{Cluster, NodeOpts};

fn server_code(e: &mysql_async::Error) -> Option<u16> {
    match e {
        mysql_async::Error::Server(s) => Some(s.code),
        _ => None,
    }
}

/// Commits every connection's open transaction at the same time: whether
/// each won, in connection order. A loser must have failed certification
/// (1213) and is rolled back.
/// A CREATE TABLE returns once its own node has applied it; the others
/// apply it at their own pace (as Galera's TOI does). Waits until the node
/// of `x` has, before a test writes to the table there.
async fn wait_for_table(x: &mut mysql_async::Conn, table: &str) {
    x.query_drop("SET SESSION wsrep_sync_wait = 1")
        .await
        .unwrap();
    x.query_drop(format!("SELECT COUNT(*) FROM {table}"))
        .await
        .unwrap();
    x.query_drop("SET SESSION wsrep_sync_wait = 0")
        .await
        .unwrap();
}

async fn commit_race(conns: &mut Vec<mysql_async::Conn>) -> Vec<bool> {
    let mut tasks = Vec::new();
    for mut x in conns.drain(..) {
        tasks.push(tokio::spawn(async move {
            let res = x.query_drop("COMMIT").await;
            if res.is_err() {
                let _ = x.query_drop("ROLLBACK").await;
            }
            (x, res)
        }));
    }
    let mut won = Vec::new();
    for t in tasks {
        let (x, res) = t.await.unwrap();
        match res {
            Ok(()) => won.push(true),
            Err(e) => {
                assert_eq!(server_code(&e), Some(1213), "loser error: {e}");
                won.push(false);
            }
        }
        conns.push(x);
    }
    won
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_row_written_on_each_node_is_read_on_every_other() {
    let c = Cluster::start(3).await;
    let mut a = c.conn(0).await;
    a.query_drop("CREATE DATABASE r").await.unwrap();
    a.query_drop("CREATE TABLE r.t (id INT PRIMARY KEY, origin VARCHAR(10))")
        .await
        .unwrap();
    for w in 0..3 {
        let mut cw = c.conn(w).await;
        cw.exec_drop(
            "INSERT INTO r.t VALUES (?, ?)",
            (w as i64, format!("node{}", w + 1)),
        )
        .await
        .unwrap();
        for r in 0..3 {
            let mut cr = c.conn(r).await;
            cr.query_drop("SET SESSION wsrep_sync_wait = 1")
                .await
                .unwrap();
            let got: Option<String> = cr
                .exec_first("SELECT origin FROM r.t WHERE id = ?", (w as i64,))
                .await
                .unwrap();
            assert_eq!(
                got.as_deref(),
                Some(format!("node{}", w + 1).as_str()),
                "read on node{}",
                r + 1
            );
        }
    }
    // Auto-increment control: every node hands out distinct values.
    a.query_drop("CREATE TABLE r.ai (id INT AUTO_INCREMENT PRIMARY KEY, n INT)")
        .await
        .unwrap();
    for round in 0..5 {
        for w in 0..3 {
            let mut cw = c.conn(w).await;
            cw.exec_drop("INSERT INTO r.ai (n) VALUES (?)", (round,))
                .await
                .unwrap();
        }
    }
    a.query_drop("SET SESSION wsrep_sync_wait = 1")
        .await
        .unwrap();
    let (n, distinct): (i64, i64) = a
        .query_first("SELECT COUNT(*), COUNT(DISTINCT id) FROM r.ai")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((n, distinct), (15, 15));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_updates_of_one_row_have_exactly_one_winner_per_round() {
    let c = Cluster::start(3).await;
    let mut setup = c.conn(0).await;
    setup.query_drop("CREATE DATABASE w").await.unwrap();
    setup
        .query_drop("CREATE TABLE w.t (id INT PRIMARY KEY, v INT NOT NULL)")
        .await
        .unwrap();
    setup
        .query_drop("INSERT INTO w.t VALUES (1, 0)")
        .await
        .unwrap();
    let mut conns = Vec::new();
    for i in 0..3 {
        let mut x = c.conn(i).await;
        x.query_drop("SET SESSION wsrep_sync_wait = 1")
            .await
            .unwrap();
        conns.push(x);
    }
    let rounds = 15;
    for round in 0..rounds {
        // Everyone takes its snapshot before anyone commits.
        let mut seen = Vec::new();
        for x in conns.iter_mut() {
            x.query_drop("BEGIN").await.unwrap();
            let v: i64 = x
                .query_first("SELECT v FROM w.t WHERE id = 1")
                .await
                .unwrap()
                .unwrap();
            seen.push(v);
        }
        assert!(
            seen.iter().all(|v| *v == round),
            "round {round}: snapshots {seen:?}"
        );
        let mut tasks = Vec::new();
        for mut x in conns.drain(..) {
            tasks.push(tokio::spawn(async move {
                let r = async {
                    x.query_drop("UPDATE w.t SET v = v + 1 WHERE id = 1")
                        .await?;
                    x.query_drop("COMMIT").await
                }
                .await;
                if r.is_err() {
                    let _ = x.query_drop("ROLLBACK").await;
                }
                (x, r)
            }));
        }
        let mut winners = 0;
        for t in tasks {
            let (x, r) = t.await.unwrap();
            match r {
                Ok(()) => winners += 1,
                Err(e) => assert_eq!(server_code(&e), Some(1213), "loser error: {e}"),
            }
            conns.push(x);
        }
        assert_eq!(winners, 1, "round {round}");
    }
    let sums = c.checksums("w.t").await;
    assert!(sums.windows(2).all(|w| w[0] == w[1]), "{sums:?}");
    let v: i64 = setup
        .query_first("SELECT v FROM w.t WHERE id = 1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v, rounds);
}

/// Issue 10: certification keys of unique values are collation sort keys.
/// Two nodes inserting `user@x` and `USER@X` (equal under the default
/// utf8mb4_general_ci) into a UNIQUE column, or `k` and `K` into a string
/// primary key, conflict: exactly one commits, and every node ends with the
/// same single row per round.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn case_variants_of_a_unique_value_on_two_nodes_conflict() {
    let c = Cluster::start(3).await;
    let mut setup = c.conn(0).await;
    setup.query_drop("CREATE DATABASE u").await.unwrap();
    setup
        .query_drop(
            "CREATE TABLE u.t (id INT PRIMARY KEY, email VARCHAR(40) NOT NULL, UNIQUE KEY (email))",
        )
        .await
        .unwrap();
    setup
        .query_drop("CREATE TABLE u.k (k VARCHAR(20) PRIMARY KEY, origin INT)")
        .await
        .unwrap();
    let mut conns = Vec::new();
    for i in 0..2 {
        let mut x = c.conn(i).await;
        x.query_drop("SET SESSION wsrep_sync_wait = 1")
            .await
            .unwrap();
        conns.push(x);
    }
    let rounds = 8i64;
    for round in 0..rounds {
        // Both insert before either commits, so neither sees the other.
        for (n, x) in conns.iter_mut().enumerate() {
            let email = if n == 0 {
                format!("user{round}@x")
            } else {
                format!("USER{round}@X")
            };
            let key = if n == 0 {
                format!("k{round}")
            } else {
                format!("K{round} ")
            };
            x.query_drop("BEGIN").await.unwrap();
            x.exec_drop(
                "INSERT INTO u.t VALUES (?, ?)",
                (round * 10 + n as i64, email),
            )
            .await
            .unwrap();
            x.exec_drop("INSERT INTO u.k VALUES (?, ?)", (key, n as i64))
                .await
                .unwrap();
        }
        let won = commit_race(&mut conns).await;
        let winners = won.iter().filter(|w| **w).count();
        assert_eq!(winners, 1, "round {round}: both case variants committed");
    }
    for i in 0..3 {
        let mut x = c.conn(i).await;
        x.query_drop("SET SESSION wsrep_sync_wait = 1")
            .await
            .unwrap();
        let (rows, keys): (i64, i64) = x
            .query_first("SELECT (SELECT COUNT(*) FROM u.t), (SELECT COUNT(*) FROM u.k)")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((rows, keys), (rounds, rounds), "node{}", i + 1);
    }
    for table in ["u.t", "u.k"] {
        let sums = c.checksums(table).await;
        assert!(sums.windows(2).all(|w| w[0] == w[1]), "{table}: {sums:?}");
    }
}

/// Issue 10: a child insert certifies against its parent row (a REFERENCE
/// key), so "node 1 deletes the parent while node 2 inserts a child" never
/// commits both: exactly one wins each round, and no node ever holds an
/// orphan child.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_parent_delete_and_a_child_insert_on_two_nodes_never_both_commit() {
    let c = Cluster::start(3).await;
    let mut setup = c.conn(0).await;
    setup.query_drop("CREATE DATABASE f").await.unwrap();
    setup
        .query_drop("CREATE TABLE f.parent (id INT PRIMARY KEY)")
        .await
        .unwrap();
    setup
        .query_drop(
            "CREATE TABLE f.child (id INT PRIMARY KEY, pid INT, FOREIGN KEY (pid) REFERENCES f.parent (id))",
        )
        .await
        .unwrap();
    let rounds = 8i64;
    for r in 0..rounds {
        setup
            .exec_drop("INSERT INTO f.parent VALUES (?)", (r,))
            .await
            .unwrap();
    }
    let mut conns = Vec::new();
    for i in 0..2 {
        let mut x = c.conn(i).await;
        x.query_drop("SET SESSION wsrep_sync_wait = 1")
            .await
            .unwrap();
        conns.push(x);
    }
    let mut deletes_won = 0;
    for r in 0..rounds {
        conns[0].query_drop("BEGIN").await.unwrap();
        conns[0]
            .exec_drop("DELETE FROM f.parent WHERE id = ?", (r,))
            .await
            .unwrap();
        conns[1].query_drop("BEGIN").await.unwrap();
        conns[1]
            .exec_drop("INSERT INTO f.child VALUES (?, ?)", (r, r))
            .await
            .unwrap();
        let won = commit_race(&mut conns).await;
        assert_eq!(
            won.iter().filter(|w| **w).count(),
            1,
            "round {r}: outcomes {won:?}"
        );
        if won[0] {
            deletes_won += 1;
        }
    }
    for i in 0..3 {
        let mut x = c.conn(i).await;
        x.query_drop("SET SESSION wsrep_sync_wait = 1")
            .await
            .unwrap();
        let orphans: i64 = x
            .query_first(
                "SELECT COUNT(*) FROM f.child c LEFT JOIN f.parent p ON c.pid = p.id WHERE p.id IS NULL",
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(orphans, 0, "node{} holds orphan children", i + 1);
        let (parents, children): (i64, i64) = x
            .query_first("SELECT (SELECT COUNT(*) FROM f.parent), (SELECT COUNT(*) FROM f.child)")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(parents, rounds - deletes_won, "node{}", i + 1);
        assert_eq!(
            children,
            deletes_won.abs_diff(rounds) as i64,
            "node{}",
            i + 1
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bank_total_is_constant_in_every_read_on_every_node() {
    const ACCOUNTS: i64 = 10;
    const INITIAL: i64 = 100;
    let c = Arc::new(Cluster::start(3).await);
    let mut setup = c.conn(0).await;
    setup.query_drop("CREATE DATABASE bank").await.unwrap();
    setup
        .query_drop("CREATE TABLE bank.acct (id INT PRIMARY KEY, balance BIGINT NOT NULL)")
        .await
        .unwrap();
    for id in 0..ACCOUNTS {
        setup
            .exec_drop("INSERT INTO bank.acct VALUES (?, ?)", (id, INITIAL))
            .await
            .unwrap();
    }
    // A node that has not applied the last INSERT yet reads a consistent
    // but older prefix (900 with nine accounts), which is snapshot
    // isolation, not a broken total: every node first waits for the setup.
    for node in 0..3 {
        let mut x = c.conn(node).await;
        x.query_drop("SET SESSION wsrep_sync_wait = 1")
            .await
            .unwrap();
        let n: i64 = x
            .query_first("SELECT COUNT(*) FROM bank.acct")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, ACCOUNTS, "node{} after the setup", node + 1);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let transfers = Arc::new(AtomicU64::new(0));
    let reads = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for node in 0..3 {
        for w in 0..8u64 {
            let c = c.clone();
            let stop = stop.clone();
            let transfers = transfers.clone();
            let reads = reads.clone();
            tasks.push(tokio::spawn(async move {
                let mut x = c.conn(node).await;
                let mut i = w;
                while !stop.load(Ordering::Relaxed) {
                    i = i
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let from = (i >> 33) as i64 % ACCOUNTS;
                    let to = (from + 1 + (i >> 40) as i64 % (ACCOUNTS - 1)) % ACCOUNTS;
                    let amount = 1 + (i >> 50) as i64 % 5;
                    if w % 4 == 0 {
                        let total: i64 = x
                            .query_first("SELECT SUM(balance) FROM bank.acct")
                            .await
                            .unwrap()
                            .unwrap();
                        assert_eq!(
                            total,
                            ACCOUNTS * INITIAL,
                            "a read on node{} saw a broken total",
                            node + 1
                        );
                        reads.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    let r: mysql_async::Result<()> = async {
                        x.query_drop("BEGIN").await?;
                        let b: Option<i64> = x
                            .exec_first("SELECT balance FROM bank.acct WHERE id = ?", (from,))
                            .await?;
                        if b.unwrap_or(0) >= amount {
                            x.exec_drop(
                                "UPDATE bank.acct SET balance = balance - ? WHERE id = ?",
                                (amount, from),
                            )
                            .await?;
                            x.exec_drop(
                                "UPDATE bank.acct SET balance = balance + ? WHERE id = ?",
                                (amount, to),
                            )
                            .await?;
                        }
                        x.query_drop("COMMIT").await
                    }
                    .await;
                    match r {
                        Ok(()) => {
                            transfers.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) if server_code(&e) == Some(1213) => {
                            let _ = x.query_drop("ROLLBACK").await;
                        }
                        Err(e) => panic!("transfer failed: {e}"),
                    }
                }
            }));
        }
    }
    tokio::time::sleep(Duration::from_secs(20)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    assert!(transfers.load(Ordering::Relaxed) > 0);
    assert!(reads.load(Ordering::Relaxed) > 0);
    for node in 0..3 {
        let mut x = c.conn(node).await;
        x.query_drop("SET SESSION wsrep_sync_wait = 1")
            .await
            .unwrap();
        let (total, negative): (i64, i64) = x
            .query_first("SELECT SUM(balance), SUM(balance < 0) FROM bank.acct")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((total, negative), (ACCOUNTS * INITIAL, 0));
    }
    let sums = c.checksums("bank.acct").await;
    assert!(sums.windows(2).all(|w| w[0] == w[1]), "{sums:?}");
    println!(
        "bank: {} transfers, {} reads",
        transfers.load(Ordering::Relaxed),
        reads.load(Ordering::Relaxed)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn alter_table_on_one_node_while_others_write() {
    let c = Arc::new(Cluster::start(3).await);
    let mut setup = c.conn(0).await;
    setup.query_drop("CREATE DATABASE ddl").await.unwrap();
    setup
        .query_drop("CREATE TABLE ddl.t (id INT PRIMARY KEY, v INT NOT NULL)")
        .await
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for node in [0usize, 2] {
        let c = c.clone();
        let stop = stop.clone();
        writers.push(tokio::spawn(async move {
            let mut x = c.conn(node).await;
            wait_for_table(&mut x, "ddl.t").await;
            let mut n = 0i64;
            let mut ok = Vec::new();
            while !stop.load(Ordering::Relaxed) && n < 2000 {
                let id = node as i64 * 100_000 + n;
                match x
                    .exec_drop("INSERT INTO ddl.t (id, v) VALUES (?, ?)", (id, n))
                    .await
                {
                    Ok(()) => ok.push(id),
                    // In-flight write-sets of the altered table fail cleanly.
                    Err(e) if matches!(server_code(&e), Some(1213 | 1412)) => {}
                    Err(e) => panic!("insert on node{}: {e}", node + 1),
                }
                n += 1;
            }
            ok
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut b = c.conn(1).await;
    b.query_drop("ALTER TABLE ddl.t ADD COLUMN note VARCHAR(20) NOT NULL DEFAULT 'none'")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut acknowledged = Vec::new();
    for w in writers {
        acknowledged.extend(w.await.unwrap());
    }
    for node in 0..3 {
        let mut x = c.conn(node).await;
        x.query_drop("SET SESSION wsrep_sync_wait = 1")
            .await
            .unwrap();
        let create: (String, String) = x
            .query_first("SHOW CREATE TABLE ddl.t")
            .await
            .unwrap()
            .unwrap();
        assert!(
            create
                .1
                .contains("`note` varchar(20) NOT NULL DEFAULT 'none'"),
            "{}",
            create.1
        );
        let n: i64 = x
            .query_first("SELECT COUNT(*) FROM ddl.t")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n as usize, acknowledged.len(), "node{}", node + 1);
    }
    let sums = c.checksums("ddl.t").await;
    assert!(sums.windows(2).all(|w| w[0] == w[1]), "{sums:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_node_pauses_the_cluster_with_flow_control() {
    let c = Cluster::start_with(3, |id| NodeOpts {
        apply_delay_ms: if id == 3 { 20 } else { 0 },
        fc_limit: Some(4),
        ..NodeOpts::default()
    })
    .await;
    let mut a = c.conn(0).await;
    a.query_drop("CREATE DATABASE fc").await.unwrap();
    a.query_drop("CREATE TABLE fc.t (id INT PRIMARY KEY, v INT)")
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for w in 0..4i64 {
        let mut x = c.conn(0).await;
        tasks.push(tokio::spawn(async move {
            for n in 0..60i64 {
                x.exec_drop("INSERT INTO fc.t VALUES (?, ?)", (w * 1000 + n, n))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let sent: u64 = c
        .status(2, "wsrep_flow_control_sent")
        .await
        .unwrap()
        .parse()
        .unwrap();
    let paused_ns: u64 = c
        .status(0, "wsrep_flow_control_paused_ns")
        .await
        .unwrap()
        .parse()
        .unwrap();
    assert!(sent > 0, "the slow node never sent FC_STOP");
    assert!(paused_ns > 0, "node1 was never paused");
    // The point of flow control: the slow node's receive queue stays near
    // its upper limit however fast the others write. Past the limit only
    // what was in flight when the STOP went out can arrive: at most one
    // commit per writer, plus those that passed the gate in the moment the
    // STOP took to travel. How many that is depends on scheduling on this
    // 2-core machine (4-5 per writer usual, 6.25 once in CI when the slow
    // node got no CPU for a moment), so the bound allows 12 per writer:
    // still far below the growth without a working gate (about 200 of the
    // 240 write-sets here).
    let upper: u64 = c
        .status(2, "wsrep_flow_control_upper_limit")
        .await
        .unwrap()
        .parse()
        .unwrap();
    let max_queue: u64 = c
        .status(2, "wsrep_local_recv_queue_max")
        .await
        .unwrap()
        .parse()
        .unwrap();
    let writers = 4;
    assert!(
        max_queue <= upper + 12 * writers,
        "the slow node's receive queue reached {max_queue}, upper limit {upper}"
    );
    for node in 0..3 {
        let mut x = c.conn(node).await;
        x.query_drop("SET SESSION wsrep_sync_wait = 1")
            .await
            .unwrap();
        let n: i64 = x
            .query_first("SELECT COUNT(*) FROM fc.t")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 240, "node{} lost write-sets", node + 1);
    }
}

/// Galera's JOINER rule: a node catching up (replaying the log it missed
/// while down) applies as fast as it can and does not pause the cluster,
/// however long its queue; only once Synced does it take part in flow
/// control.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_catching_up_after_a_restart_does_not_pause_the_cluster() {
    let mut c = Cluster::start_with(3, |id| NodeOpts {
        apply_delay_ms: if id == 3 { 15 } else { 0 },
        fc_limit: Some(4),
        ..NodeOpts::default()
    })
    .await;
    let mut a = c.conn(0).await;
    a.query_drop("CREATE DATABASE cu").await.unwrap();
    a.query_drop("CREATE TABLE cu.t (id INT PRIMARY KEY)")
        .await
        .unwrap();
    c.kill(2);
    for n in 0..150i64 {
        a.exec_drop("INSERT INTO cu.t VALUES (?)", (n,))
            .await
            .unwrap();
    }
    c.start_node(2);
    c.wait_synced(2, 3, Duration::from_secs(120)).await;
    let st = |k: &'static str| {
        let c = &c;
        async move { c.status(2, k).await.unwrap().parse::<u64>().unwrap() }
    };
    let upper = st("wsrep_flow_control_upper_limit").await;
    let max_queue = st("wsrep_local_recv_queue_max").await;
    assert!(
        max_queue > upper,
        "the restarted node's queue ({max_queue}) never passed the limit ({upper}): the test proves nothing"
    );
    assert_eq!(
        st("wsrep_flow_control_sent").await,
        0,
        "a catching-up node sent flow control"
    );
    let mut x = c.conn(2).await;
    x.query_drop("SET SESSION wsrep_sync_wait = 1")
        .await
        .unwrap();
    let n: i64 = x
        .query_first("SELECT COUNT(*) FROM cu.t")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 150);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn independent_write_sets_are_applied_in_parallel() {
    let c = Cluster::start(3).await;
    let mut a = c.conn(0).await;
    a.query_drop("CREATE DATABASE pa").await.unwrap();
    a.query_drop("CREATE TABLE pa.t (id INT PRIMARY KEY, v INT NOT NULL)")
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for w in 0..12i64 {
        let mut x = c.conn((w % 3) as usize).await;
        wait_for_table(&mut x, "pa.t").await;
        tasks.push(tokio::spawn(async move {
            for n in 0..40i64 {
                let id = w * 1000 + n;
                x.exec_drop("INSERT INTO pa.t VALUES (?, ?)", (id, 0))
                    .await
                    .unwrap();
                x.exec_drop("UPDATE pa.t SET v = v + ? WHERE id = ?", (n, id))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut any_parallel = false;
    for node in 0..3 {
        let d: f64 = c
            .status(node, "wsrep_cert_deps_distance")
            .await
            .unwrap()
            .parse()
            .unwrap();
        assert!(d > 1.0, "deps distance {d} on node{}", node + 1);
        let conc: u64 = c
            .status(node, "trireme_applier_max_concurrency")
            .await
            .unwrap()
            .parse()
            .unwrap();
        any_parallel |= conc > 1;
    }
    assert!(any_parallel, "no node ever applied two write-sets at once");
    // The result equals what a serial execution gives.
    for node in 0..3 {
        let mut x = c.conn(node).await;
        x.query_drop("SET SESSION wsrep_sync_wait = 1")
            .await
            .unwrap();
        let (n, s): (i64, i64) = x
            .query_first("SELECT COUNT(*), SUM(v) FROM pa.t")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((n, s), (12 * 40, 12 * (0..40).sum::<i64>()));
    }
    let sums = c.checksums("pa.t").await;
    assert!(sums.windows(2).all(|w| w[0] == w[1]), "{sums:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_without_quorum_refuses_then_serves_again() {
    let mut c = Cluster::start(3).await;
    let mut a = c.conn(0).await;
    a.query_drop("CREATE DATABASE q").await.unwrap();
    a.query_drop("CREATE TABLE q.t (id INT PRIMARY KEY)")
        .await
        .unwrap();
    a.query_drop("INSERT INTO q.t VALUES (1)").await.unwrap();
    drop(a);
    // Stop the two others: node1 loses quorum.
    c.signal(1, libc::SIGSTOP);
    c.signal(2, libc::SIGSTOP);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut x = c.conn(0).await;
        match x.query_drop("SELECT * FROM q.t").await {
            Err(e) if server_code(&e) == Some(1047) => {
                // Writes are refused too; ROLLBACK always works.
                let w = x.query_drop("INSERT INTO q.t VALUES (2)").await;
                assert_eq!(w.as_ref().err().and_then(server_code), Some(1047));
                x.query_drop("ROLLBACK").await.unwrap();
                // Dirty reads may be asked for.
                x.query_drop("SET SESSION wsrep_dirty_reads = 1")
                    .await
                    .unwrap();
                let n: i64 = x
                    .query_first("SELECT COUNT(*) FROM q.t")
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(n, 1);
                break;
            }
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(300)).await,
            other => panic!("node1 kept serving without quorum: {other:?}"),
        }
    }
    assert_eq!(
        c.status(0, "wsrep_cluster_status").await.as_deref(),
        Some("non-Primary")
    );
    c.signal(1, libc::SIGCONT);
    c.signal(2, libc::SIGCONT);
    c.wait_synced(0, 3, Duration::from_secs(90)).await;
    let mut x = c.conn(0).await;
    x.query_drop("INSERT INTO q.t VALUES (3)").await.unwrap();
    let _ = &mut c;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_node_restarts_and_loses_no_acknowledged_commit() {
    let c = Cluster::start(3).await;
    let c = Arc::new(tokio::sync::Mutex::new(c));
    {
        let g = c.lock().await;
        let mut a = g.conn(0).await;
        a.query_drop("CREATE DATABASE k").await.unwrap();
        a.query_drop("CREATE TABLE k.t (id INT PRIMARY KEY, node INT)")
            .await
            .unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for node in [0usize, 2] {
        let url = c.lock().await.url(node);
        let stop = stop.clone();
        writers.push(tokio::spawn(async move {
            let mut x = mysql_async::Conn::from_url(url).await.unwrap();
            let mut acked = Vec::new();
            let mut n = 0i64;
            while !stop.load(Ordering::Relaxed) && n < 5000 {
                let id = node as i64 * 1_000_000 + n;
                match x
                    .exec_drop("INSERT INTO k.t VALUES (?, ?)", (id, node as i64))
                    .await
                {
                    Ok(()) => acked.push(id),
                    Err(e) => panic!("insert on node{}: {e}", node + 1),
                }
                n += 1;
            }
            acked
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    c.lock().await.kill(1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    c.lock().await.restart(1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    for w in writers {
        acked.extend(w.await.unwrap());
    }
    let g = c.lock().await;
    g.wait_synced(1, 3, Duration::from_secs(120)).await;
    for node in 0..3 {
        let mut x = g.conn(node).await;
        x.query_drop("SET SESSION wsrep_sync_wait = 1")
            .await
            .unwrap();
        let ids: Vec<i64> = x.query("SELECT id FROM k.t").await.unwrap();
        let have: std::collections::HashSet<i64> = ids.into_iter().collect();
        let missing: Vec<&i64> = acked
            .iter()
            .filter(|id| !have.contains(id))
            .take(5)
            .collect();
        assert!(
            missing.is_empty(),
            "node{} lost acknowledged commits, e.g. {missing:?}",
            node + 1
        );
        assert_eq!(
            have.len(),
            acked.len(),
            "node{} has rows nobody committed",
            node + 1
        );
    }
    let sums = g.checksums("k.t").await;
    assert!(sums.windows(2).all(|w| w[0] == w[1]), "{sums:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_behind_the_purged_log_catches_up_by_state_transfer() {
    let mut c = Cluster::start_with(3, |_| NodeOpts {
        gcache_size: Some(64 << 10),
        ..NodeOpts::default()
    })
    .await;
    let mut a = c.conn(0).await;
    a.query_drop("CREATE DATABASE sst").await.unwrap();
    a.query_drop("CREATE TABLE sst.t (id INT PRIMARY KEY, pad VARCHAR(200) NOT NULL)")
        .await
        .unwrap();
    a.query_drop("CREATE USER 'late'@'%' IDENTIFIED BY 'pw'")
        .await
        .unwrap();
    c.kill(2);
    // Far more than 64 KiB of write-sets while node3 is down, over several
    // checkpoints: the others purge their logs past node3's position.
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
    c.restart(2);
    c.wait_synced(2, 3, Duration::from_secs(120)).await;
    let log = std::fs::read_to_string(&c.nodes[2].log).unwrap_or_default();
    assert!(
        log.contains("state transfer installed"),
        "node3 caught up without a state transfer; the test did not exercise it"
    );
    let mut x = c.conn(2).await;
    x.query_drop("SET SESSION wsrep_sync_wait = 1")
        .await
        .unwrap();
    let n: i64 = x
        .query_first("SELECT COUNT(*) FROM sst.t")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 2000);
    // Accounts travel with the state.
    let users: i64 = x
        .query_first("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'sst'")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(users, 1);
    drop(x);
    let late = format!("mysql://late:pw@127.0.0.1:{}/", c.nodes[2].mysql_port);
    mysql_async::Conn::from_url(late)
        .await
        .expect("the account created before the transfer logs in");
    // And the node goes on certifying like the others.
    let mut y = c.conn(2).await;
    y.query_drop("UPDATE sst.t SET pad = 'x' WHERE id = 7")
        .await
        .unwrap();
    let sums = c.checksums("sst.t").await;
    assert!(sums.windows(2).all(|w| w[0] == w[1]), "{sums:?}");
}

/// TEMPORARY tables are the session's own, as in Galera: their rows never
/// reach another node (a write-set naming one would stop every other node),
/// a mixed transaction replicates only its other rows, and a TEMPORARY
/// table shadows a shared table of the same name for its session only.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn temporary_tables_stay_with_their_session() {
    let c = Cluster::start(3).await;
    let mut a = c.conn(0).await;
    a.query_drop("CREATE DATABASE tmp").await.unwrap();
    a.query_drop("CREATE TABLE tmp.t (id INT PRIMARY KEY, v INT)")
        .await
        .unwrap();
    a.query_drop("CREATE TABLE tmp.log (id INT PRIMARY KEY)")
        .await
        .unwrap();
    a.query_drop("INSERT INTO tmp.t VALUES (1, 100)")
        .await
        .unwrap();
    // Shadow tmp.t with a TEMPORARY table and write to it, alone and in a
    // transaction that also writes a shared table.
    a.query_drop("CREATE TEMPORARY TABLE tmp.t (id INT PRIMARY KEY, note VARCHAR(10))")
        .await
        .unwrap();
    a.query_drop("INSERT INTO tmp.t VALUES (1, 'mine'), (2, 'mine')")
        .await
        .unwrap();
    a.query_drop("BEGIN").await.unwrap();
    a.query_drop("INSERT INTO tmp.t VALUES (3, 'mine')")
        .await
        .unwrap();
    a.query_drop("INSERT INTO tmp.log VALUES (1)")
        .await
        .unwrap();
    a.query_drop("COMMIT").await.unwrap();
    let mine: Vec<(i64, String)> = a
        .query("SELECT id, note FROM tmp.t ORDER BY id")
        .await
        .unwrap();
    assert_eq!(
        mine.len(),
        3,
        "the session reads its TEMPORARY table: {mine:?}"
    );

    // Another session on the same node, and every other node, see the
    // shared table as it is, and the mixed transaction's shared row.
    for n in 0..3 {
        let mut r = c.conn(n).await;
        r.query_drop("SET SESSION wsrep_sync_wait = 1")
            .await
            .unwrap();
        let shared: Vec<(i64, i64)> = r.query("SELECT id, v FROM tmp.t").await.unwrap();
        assert_eq!(shared, vec![(1, 100)], "node{}", n + 1);
        let log: Option<i64> = r.query_first("SELECT COUNT(*) FROM tmp.log").await.unwrap();
        assert_eq!(log, Some(1), "node{}", n + 1);
    }

    // A ROLLBACK undoes TEMPORARY rows too; DROP TABLE drops the TEMPORARY
    // table first, uncovering the shared one.
    a.query_drop("BEGIN").await.unwrap();
    a.query_drop("DELETE FROM tmp.t").await.unwrap();
    a.query_drop("ROLLBACK").await.unwrap();
    let n: Option<i64> = a.query_first("SELECT COUNT(*) FROM tmp.t").await.unwrap();
    assert_eq!(n, Some(3));
    a.query_drop("DROP TABLE tmp.t").await.unwrap();
    let v: Option<i64> = a
        .query_first("SELECT v FROM tmp.t WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(v, Some(100));

    // A TEMPORARY table ends with its session.
    a.query_drop("CREATE TEMPORARY TABLE tmp.scratch (x INT)")
        .await
        .unwrap();
    drop(a);
    let mut b = c.conn(0).await;
    let err = b.query_drop("SELECT * FROM tmp.scratch").await.unwrap_err();
    assert_eq!(server_code(&err), Some(1146));
}

/// Sequences hand out values from blocks each node reserves through a
/// certified write: concurrent NEXTVALs on every node never return the
/// same value twice, and a sequence-keyed INSERT on every node never
/// collides.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sequence_values_are_unique_across_nodes() {
    let c = Cluster::start(3).await;
    let mut a = c.conn(0).await;
    a.query_drop("CREATE DATABASE sq").await.unwrap();
    a.query_drop("CREATE SEQUENCE sq.s START WITH 1 INCREMENT BY 1 CACHE 7")
        .await
        .unwrap();
    a.query_drop("CREATE TABLE sq.t (id BIGINT PRIMARY KEY, node INT)")
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for n in 0..3 {
        for _ in 0..2 {
            let mut conn = c.conn(n).await;
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                for i in 0..40 {
                    if i % 2 == 0 {
                        let v: Option<i64> =
                            conn.query_first("SELECT NEXTVAL(sq.s)").await.unwrap();
                        got.push(v.expect("a value"));
                    } else {
                        conn.exec_drop(
                            "INSERT INTO sq.t VALUES (NEXT VALUE FOR sq.s, ?)",
                            (n as i64,),
                        )
                        .await
                        .unwrap();
                        let v: Option<i64> = conn
                            .query_first("SELECT PREVIOUS VALUE FOR sq.s")
                            .await
                            .unwrap();
                        got.push(v.expect("the last value"));
                    }
                }
                got
            }));
        }
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let total = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), total, "a value was handed out twice");
    // Every node holds every inserted row, keyed by distinct values.
    for n in 0..3 {
        let mut r = c.conn(n).await;
        r.query_drop("SET SESSION wsrep_sync_wait = 1")
            .await
            .unwrap();
        let rows: Option<i64> = r.query_first("SELECT COUNT(*) FROM sq.t").await.unwrap();
        assert_eq!(rows, Some(120), "node{}", n + 1);
    }
}
