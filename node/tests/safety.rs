//! Safety scenarios on real `trireme` processes (issue 11): no silent
//! divergence, no cluster-wide crash, no wrong answer after a commit.

mod support;

use std::time::Duration;

use mysql_async::prelude::*;
use support::cluster::{Cluster, NodeOpts};

fn server_code(e: &mysql_async::Error) -> Option<u16> {
    match e {
        mysql_async::Error::Server(s) => Some(s.code),
        _ => None,
    }
}

const LONG: Duration = Duration::from_secs(120);

async fn count(c: &Cluster, i: usize, sql: &str) -> i64 {
    let mut conn = c.conn(i).await;
    conn.query_drop("SET SESSION wsrep_sync_wait = 1")
        .await
        .unwrap();
    conn.query_first(sql).await.unwrap().unwrap()
}

/// Waits (bounded) until node `i` can learn the cluster's ordered position
/// (a causal read answers), i.e. the group has a leader.
async fn wait_for_order(c: &Cluster, i: usize, table: &str) {
    for _ in 0..60 {
        let probe = async {
            let mut conn = c.try_conn(i).await?;
            conn.query_drop("SET SESSION wsrep_sync_wait = 1")
                .await
                .ok()?;
            conn.query_first::<i64, _>(format!("SELECT COUNT(*) FROM {table}"))
                .await
                .ok()?
        };
        if let Ok(Some(_)) = tokio::time::timeout(Duration::from_secs(3), probe).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("node{} never found a leader\n{}", i + 1, c.log_tail(i));
}

/// Scenario 1: a seed node whose data directory was wiped, still configured
/// with `bootstrap = true`, must not form a cluster of its own beside the
/// running one. It refuses to start and says what to do; a node that did
/// form another history (bootstrapped alone on purpose) is refused at the
/// handshake and never joins; emptied and started without `bootstrap`, it
/// rejoins by state transfer with the cluster's data.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wiped_seed_node_never_forms_or_joins_with_another_history() {
    let mut c = Cluster::start(3).await;
    let mut a = c.conn(0).await;
    a.query_drop("CREATE DATABASE s").await.unwrap();
    a.query_drop("CREATE TABLE s.t (id INT PRIMARY KEY, v INT)")
        .await
        .unwrap();
    a.query_drop("INSERT INTO s.t VALUES (1, 1), (2, 2)")
        .await
        .unwrap();
    drop(a);
    let uuid = c.status(1, "wsrep_cluster_state_uuid").await.unwrap();
    for i in [0, 2] {
        assert_eq!(
            c.status(i, "wsrep_cluster_state_uuid").await.as_deref(),
            Some(uuid.as_str()),
            "one cluster, one uuid"
        );
    }

    // Wipe node1 and start it again with bootstrap = true: it refuses.
    c.kill(0);
    c.wipe(0);
    let code = c.start_expecting_exit(0, LONG).await;
    assert!(
        matches!(code, Some(x) if x != 0),
        "a wiped seed with bootstrap must refuse to start, got {code:?}\n{}",
        c.log_tail(0)
    );
    let log = c.log_text(0);
    assert!(
        log.contains("members of a running cluster answer") && log.contains(&uuid),
        "the refusal names the running cluster:\n{log}"
    );

    // The survivors go on (once they have elected a leader in node1's place).
    wait_for_order(&c, 1, "s.t").await;
    let mut b = c.conn(1).await;
    b.query_drop("INSERT INTO s.t VALUES (3, 3)").await.unwrap();

    // node1 forms a cluster of its own on purpose (no peers listed) and
    // takes a write there: another history.
    c.reconfigure(
        0,
        &NodeOpts {
            peers: Some(vec![]),
            ..NodeOpts::default()
        },
    );
    c.start_node(0);
    c.wait_synced(0, 1, LONG).await;
    let other = c.status(0, "wsrep_cluster_state_uuid").await.unwrap();
    assert_ne!(other, uuid, "a new cluster draws a new uuid");
    let mut x = c.conn(0).await;
    x.query_drop("CREATE DATABASE foreign_history")
        .await
        .unwrap();
    drop(x);

    // Back with the peers listed: its data says it belongs to the other
    // history, so the members refuse it at the handshake.
    c.kill(0);
    c.reconfigure(0, &NodeOpts::default());
    c.start_node(0);
    // Bounded negative check: several join and heartbeat rounds pass.
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(
        c.status(1, "wsrep_cluster_size").await.as_deref(),
        Some("3"),
        "membership unchanged (node1 stays counted as an unreachable member)"
    );
    assert_eq!(
        c.status(0, "wsrep_cluster_size").await.as_deref(),
        Some("1"),
        "the foreign node never joins the cluster"
    );
    assert_eq!(
        count(
            &c,
            1,
            "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = 'foreign_history'"
        )
        .await,
        0
    );
    let refused = (0..3).any(|i| c.log_text(i).contains("differs from this member's"));
    assert!(refused, "someone logs the refusal");

    // Emptied and started without bootstrap, it joins by state transfer.
    c.kill(0);
    c.wipe(0);
    c.reconfigure(
        0,
        &NodeOpts {
            bootstrap: Some(false),
            ..NodeOpts::default()
        },
    );
    c.start_node(0);
    c.wait_synced(0, 3, LONG).await;
    assert_eq!(
        c.status(0, "wsrep_cluster_state_uuid").await.as_deref(),
        Some(uuid.as_str())
    );
    assert_eq!(count(&c, 0, "SELECT COUNT(*) FROM s.t").await, 3);
    assert_eq!(
        count(
            &c,
            0,
            "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = 'foreign_history'"
        )
        .await,
        0
    );
    let sums = c.checksums("s.t").await;
    assert!(sums.windows(2).all(|w| w[0] == w[1]), "{sums:?}");
}

/// Scenario 2: DROP DATABASE issued on a node that has not applied a
/// CREATE TABLE yet used to leave that table out of its barrier; a
/// transaction on it then passed certification and failed to apply on
/// every node, which all stopped (and stopped again after each restart).
/// Barriers now name the database itself: the transaction fails
/// certification and every node stays up with the same data.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn drop_database_from_a_lagging_node_never_stops_the_cluster() {
    let c = Cluster::start_with(3, |id| NodeOpts {
        apply_delay_ms: if id == 2 { 3000 } else { 0 },
        ..NodeOpts::default()
    })
    .await;
    let mut a = c.conn(0).await;
    a.query_drop("CREATE DATABASE d").await.unwrap();
    a.query_drop("CREATE TABLE d.t1 (id INT PRIMARY KEY)")
        .await
        .unwrap();
    a.query_drop("CREATE TABLE d.other (id INT PRIMARY KEY)")
        .await
        .unwrap();
    // node2 now spends 3 s on this write-set, so the next DDL waits there.
    a.query_drop("INSERT INTO d.other VALUES (1)")
        .await
        .unwrap();
    a.query_drop("CREATE TABLE d.t2 (id INT PRIMARY KEY)")
        .await
        .unwrap();
    // A transaction on node1 that saw d.t2.
    a.query_drop("BEGIN").await.unwrap();
    a.query_drop("INSERT INTO d.t2 VALUES (1)").await.unwrap();
    // DROP DATABASE from node2, which may not have d.t2 in its catalog yet.
    let mut b = c.conn(1).await;
    b.query_drop("DROP DATABASE d").await.unwrap();
    // node1's transaction is older than the drop: it must fail to certify.
    let r = a.query_drop("COMMIT").await;
    let code = r.as_ref().err().and_then(server_code);
    assert_eq!(code, Some(1213), "COMMIT after DROP DATABASE: {r:?}");
    // Every node is up, agrees, and goes on.
    for i in 0..3 {
        assert_eq!(
            count(
                &c,
                i,
                "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = 'd'"
            )
            .await,
            0,
            "node{}",
            i + 1
        );
    }
    let mut b = c.conn(2).await;
    b.query_drop("CREATE DATABASE d").await.unwrap();
    b.query_drop("CREATE TABLE d.t2 (id INT PRIMARY KEY)")
        .await
        .unwrap();
    b.query_drop("INSERT INTO d.t2 VALUES (7)").await.unwrap();
    for i in 0..3 {
        assert_eq!(count(&c, i, "SELECT COUNT(*) FROM d.t2").await, 1);
    }
}

/// Scenario 3: a replicated DDL that reads the clock gives every node the
/// origin's value. node2 applies it seconds later than the others (it is
/// busy with an earlier write-set), which used to give it other values.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ddl_reading_the_clock_gives_the_same_data_on_every_node() {
    let c = Cluster::start_with(3, |id| NodeOpts {
        apply_delay_ms: if id == 2 { 2500 } else { 0 },
        ..NodeOpts::default()
    })
    .await;
    let mut a = c.conn(0).await;
    a.query_drop("CREATE DATABASE k").await.unwrap();
    a.query_drop("CREATE TABLE k.t (id INT PRIMARY KEY, v INT)")
        .await
        .unwrap();
    a.query_drop("INSERT INTO k.t VALUES (1, 1), (2, 2), (3, 3)")
        .await
        .unwrap();
    a.query_drop("ALTER TABLE k.t ADD COLUMN ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP")
        .await
        .unwrap();
    a.query_drop("INSERT INTO k.t (id, v) VALUES (4, 4)")
        .await
        .unwrap();
    a.query_drop("ALTER TABLE k.t ADD COLUMN dt DATETIME(6) DEFAULT CURRENT_TIMESTAMP(6)")
        .await
        .unwrap();
    let sums = c.checksums("k.t").await;
    assert_eq!(sums.len(), 3);
    assert!(
        sums.windows(2).all(|w| w[0] == w[1]),
        "CHECKSUM TABLE differs between nodes: {sums:?}"
    );
    let mut b = c.conn(1).await;
    let null_dt: i64 = b
        .query_first("SELECT COUNT(*) FROM k.t WHERE dt IS NULL OR ts IS NULL")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(null_dt, 0);
}

/// Scenario 4: once a write-set is ordered and certified its outcome is
/// decided; a slow local apply must not turn it into 1205 (which drivers
/// read as a rollback and retry) or any other error.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_certified_commit_answers_ok_however_slow_the_apply() {
    let c = Cluster::start_with(1, |_| NodeOpts {
        apply_delay_ms: 1500,
        commit_timeout_ms: Some(400),
        ..NodeOpts::default()
    })
    .await;
    let mut a = c.conn(0).await;
    a.query_drop("CREATE DATABASE w").await.unwrap();
    a.query_drop("CREATE TABLE w.t (id INT PRIMARY KEY)")
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for k in 0..3i64 {
        let url = c.url(0);
        tasks.push(tokio::spawn(async move {
            let mut conn = mysql_async::Conn::new(mysql_async::Opts::from_url(&url).unwrap())
                .await
                .unwrap();
            conn.exec_drop("INSERT INTO w.t VALUES (?)", (k,)).await?;
            // Read-your-writes right after the OK.
            let n: Option<i64> = conn
                .exec_first("SELECT id FROM w.t WHERE id = ?", (k,))
                .await?;
            Ok::<_, mysql_async::Error>(n)
        }));
    }
    for (k, t) in tasks.into_iter().enumerate() {
        let r = t.await.unwrap();
        assert!(
            matches!(r, Ok(Some(x)) if x == k as i64),
            "insert {k}: {r:?}"
        );
    }
}

/// Scenario 1, continued: after a majority is lost for good, the operator
/// forces the survivor to form a cluster of its own. It keeps everything
/// acknowledged before (and says what may be lost), takes writes again under
/// a new cluster uuid, refuses the old members as they were, and takes them
/// back once emptied.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_surviving_minority_can_be_forced_to_bootstrap() {
    let mut c = Cluster::start(3).await;
    let mut a = c.conn(0).await;
    a.query_drop("CREATE DATABASE f").await.unwrap();
    a.query_drop("CREATE TABLE f.t (id INT PRIMARY KEY)")
        .await
        .unwrap();
    for n in 0..20i64 {
        a.exec_drop("INSERT INTO f.t VALUES (?)", (n,))
            .await
            .unwrap();
    }
    drop(a);
    let old_uuid = c.status(0, "wsrep_cluster_state_uuid").await.unwrap();
    // The majority is gone; node1 alone is not primary.
    c.kill(1);
    c.kill(2);
    c.kill(0);
    c.start_node(0);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(c.status(0, "wsrep_ready").await.as_deref(), Some("OFF"));
    // Forced: node1 becomes a cluster of one with all it had.
    c.kill(0);
    c.start_node_with(0, &["--force-bootstrap"]);
    c.wait_synced(0, 1, LONG).await;
    assert!(
        c.log_text(0).contains("FORCED BOOTSTRAP"),
        "the data loss it implies is printed"
    );
    let new_uuid = c.status(0, "wsrep_cluster_state_uuid").await.unwrap();
    assert_ne!(new_uuid, old_uuid);
    assert_eq!(count(&c, 0, "SELECT COUNT(*) FROM f.t").await, 20);
    let mut a = c.conn(0).await;
    a.query_drop("INSERT INTO f.t VALUES (100)").await.unwrap();
    drop(a);
    // An old member, with its old history, is refused.
    c.start_node(1);
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(
        c.status(0, "wsrep_cluster_size").await.as_deref(),
        Some("1")
    );
    assert_ne!(c.status(1, "wsrep_ready").await.as_deref(), Some("ON"));
    // Emptied, it joins the new cluster with its data.
    c.kill(1);
    c.wipe(1);
    c.reconfigure(
        1,
        &NodeOpts {
            bootstrap: Some(false),
            ..NodeOpts::default()
        },
    );
    c.start_node(1);
    c.wait_synced(1, 2, LONG).await;
    assert_eq!(
        c.status(1, "wsrep_cluster_state_uuid").await.as_deref(),
        Some(new_uuid.as_str())
    );
    assert_eq!(count(&c, 1, "SELECT COUNT(*) FROM f.t").await, 21);
}
