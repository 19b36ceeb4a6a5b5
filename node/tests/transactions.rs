//! Transactions over the MySQL protocol (mysql_async): snapshot reads,
//! first-committer-wins conflicts (ERROR 1213), read-your-own-writes,
//! rollback, savepoints, locking reads, autocommit retry, statement
//! atomicity.

mod support;

use mysql_async::prelude::*;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_reads_do_not_see_later_commits() {
    let node = start_node().await;
    let mut a = setup_kv(&node, "snap").await;
    let mut b = connect(&node, Some("snap")).await;
    a.query_drop("BEGIN").await.unwrap();
    assert_eq!(value_of(&mut a, 1).await, Some(10));
    b.query_drop("UPDATE t SET v = 11 WHERE id = 1")
        .await
        .unwrap();
    b.query_drop("INSERT INTO t VALUES (4, 40)").await.unwrap();
    // A keeps reading its snapshot: no non-repeatable read, no phantom.
    assert_eq!(value_of(&mut a, 1).await, Some(10));
    let n: i64 = a
        .query_first("SELECT COUNT(*) FROM t")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 3);
    a.query_drop("COMMIT").await.unwrap();
    assert_eq!(value_of(&mut a, 1).await, Some(11));
    let n: i64 = a
        .query_first("SELECT COUNT(*) FROM t")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consistent_snapshot_is_taken_at_start_transaction() {
    let node = start_node().await;
    let mut a = setup_kv(&node, "cs").await;
    let mut b = connect(&node, Some("cs")).await;
    // mysqldump's spelling, inside a version comment.
    a.query_drop("START TRANSACTION /*!40100 WITH CONSISTENT SNAPSHOT */")
        .await
        .unwrap();
    b.query_drop("UPDATE t SET v = 11 WHERE id = 1")
        .await
        .unwrap();
    // The snapshot predates B's commit although A had not read yet.
    assert_eq!(value_of(&mut a, 1).await, Some(10));
    a.query_drop("COMMIT").await.unwrap();
    a.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        .await
        .unwrap();
    b.query_drop("UPDATE t SET v = 12 WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(value_of(&mut a, 1).await, Some(11));
    assert_eq!(code(a.query_drop("UPDATE t SET v = 0").await), 1792);
    a.query_drop("COMMIT").await.unwrap();
    // A plain START TRANSACTION still takes its snapshot at the first read.
    a.query_drop("START TRANSACTION").await.unwrap();
    b.query_drop("UPDATE t SET v = 13 WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(value_of(&mut a, 1).await, Some(13));
    a.query_drop("COMMIT").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_of_one_row_first_committer_wins() {
    let node = start_node().await;
    let mut a = setup_kv(&node, "ww").await;
    let mut b = connect(&node, Some("ww")).await;
    a.query_drop("BEGIN").await.unwrap();
    b.query_drop("BEGIN").await.unwrap();
    // Both read-modify-write the same row from the same snapshot: a lost
    // update unless one of them fails.
    let va = value_of(&mut a, 2).await.unwrap();
    let vb = value_of(&mut b, 2).await.unwrap();
    a.exec_drop("UPDATE t SET v = ? WHERE id = 2", (va + 1,))
        .await
        .unwrap();
    b.exec_drop("UPDATE t SET v = ? WHERE id = 2", (vb + 1,))
        .await
        .unwrap();
    a.query_drop("COMMIT").await.unwrap();
    assert_eq!(code(b.query_drop("COMMIT").await), 1213);
    assert_eq!(value_of(&mut a, 2).await, Some(21));
    // After the failure the session is usable and the transaction is gone.
    b.query_drop("UPDATE t SET v = v + 1 WHERE id = 2")
        .await
        .unwrap();
    assert_eq!(value_of(&mut b, 2).await, Some(22));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writing_a_row_changed_after_the_snapshot_fails_early() {
    let node = start_node().await;
    let mut a = setup_kv(&node, "eager").await;
    let mut b = connect(&node, Some("eager")).await;
    a.query_drop("BEGIN").await.unwrap();
    assert_eq!(value_of(&mut a, 3).await, Some(30));
    b.query_drop("UPDATE t SET v = 31 WHERE id = 3")
        .await
        .unwrap();
    assert_eq!(
        code(a.query_drop("UPDATE t SET v = 32 WHERE id = 3").await),
        1213
    );
    // The deadlock rolled A's transaction back entirely (InnoDB semantics).
    let in_trx: i64 = a.query_first("SELECT @@autocommit").await.unwrap().unwrap();
    assert_eq!(in_trx, 1);
    assert_eq!(value_of(&mut a, 3).await, Some(31));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_writes_rollback_and_savepoints() {
    let node = start_node().await;
    let mut a = setup_kv(&node, "own").await;
    let mut b = connect(&node, Some("own")).await;
    a.query_drop("START TRANSACTION").await.unwrap();
    a.query_drop("UPDATE t SET v = 100 WHERE id = 1")
        .await
        .unwrap();
    a.query_drop("INSERT INTO t VALUES (5, 50)").await.unwrap();
    assert_eq!(value_of(&mut a, 1).await, Some(100));
    assert_eq!(value_of(&mut a, 5).await, Some(50));
    // Nobody else sees uncommitted writes.
    assert_eq!(value_of(&mut b, 1).await, Some(10));
    assert_eq!(value_of(&mut b, 5).await, None);
    a.query_drop("SAVEPOINT s1").await.unwrap();
    a.query_drop("DELETE FROM t WHERE id = 2").await.unwrap();
    a.query_drop("UPDATE t SET v = 101 WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(value_of(&mut a, 2).await, None);
    a.query_drop("ROLLBACK TO SAVEPOINT s1").await.unwrap();
    assert_eq!(value_of(&mut a, 2).await, Some(20));
    assert_eq!(value_of(&mut a, 1).await, Some(100));
    assert_eq!(code(a.query_drop("ROLLBACK TO SAVEPOINT nope").await), 1305);
    a.query_drop("ROLLBACK").await.unwrap();
    assert_eq!(value_of(&mut a, 1).await, Some(10));
    assert_eq!(value_of(&mut a, 5).await, None);
    // Committed savepoint work is visible to others.
    a.query_drop("BEGIN").await.unwrap();
    a.query_drop("INSERT INTO t VALUES (6, 60)").await.unwrap();
    a.query_drop("SAVEPOINT s2").await.unwrap();
    a.query_drop("INSERT INTO t VALUES (7, 70)").await.unwrap();
    a.query_drop("ROLLBACK TO s2").await.unwrap();
    a.query_drop("COMMIT").await.unwrap();
    assert_eq!(value_of(&mut b, 6).await, Some(60));
    assert_eq!(value_of(&mut b, 7).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_for_update_conflicts_are_certified() {
    let node = start_node().await;
    let mut a = setup_kv(&node, "fu").await;
    let mut b = connect(&node, Some("fu")).await;
    // A locks row 1 and writes row 2 based on it; B changes row 1 and
    // commits first: A must fail (its read is stale).
    a.query_drop("BEGIN").await.unwrap();
    let v: i64 = a
        .query_first("SELECT v FROM t WHERE id = 1 FOR UPDATE")
        .await
        .unwrap()
        .unwrap();
    b.query_drop("UPDATE t SET v = 12 WHERE id = 1")
        .await
        .unwrap();
    // B's certified write dooms A at once (a BF abort): A's next statement
    // fails, and nothing of A is committed.
    assert_eq!(
        code(a.exec_drop("UPDATE t SET v = ? WHERE id = 2", (v,)).await),
        1213
    );
    a.query_drop("COMMIT").await.unwrap();
    assert_eq!(value_of(&mut b, 2).await, Some(20));
    let aborts: (String, u64) = b
        .query_first("SHOW STATUS LIKE 'wsrep_local_bf_aborts'")
        .await
        .unwrap()
        .unwrap();
    assert!(aborts.1 >= 1);

    // FOR SHARE (and MySQL's LOCK IN SHARE MODE) fails the same way.
    a.query_drop("BEGIN").await.unwrap();
    let _: Option<i64> = a
        .query_first("SELECT v FROM t WHERE id = 3 LOCK IN SHARE MODE")
        .await
        .unwrap();
    b.query_drop("UPDATE t SET v = 33 WHERE id = 3")
        .await
        .unwrap();
    a.query_drop("UPDATE t SET v = 0 WHERE id = 2")
        .await
        .unwrap();
    assert_eq!(code(a.query_drop("COMMIT").await), 1213);

    // A locking read of a row changed since the snapshot fails at once.
    a.query_drop("BEGIN").await.unwrap();
    assert_eq!(value_of(&mut a, 1).await, Some(12));
    b.query_drop("UPDATE t SET v = 13 WHERE id = 1")
        .await
        .unwrap();
    let r: mysql_async::Result<Option<i64>> = a
        .query_first("SELECT v FROM t WHERE id = 1 FOR UPDATE")
        .await;
    assert_eq!(code(r), 1213);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_transactions_refuse_writes() {
    let node = start_node().await;
    let mut a = setup_kv(&node, "ro").await;
    a.query_drop("START TRANSACTION READ ONLY").await.unwrap();
    assert_eq!(value_of(&mut a, 1).await, Some(10));
    assert_eq!(
        code(a.query_drop("UPDATE t SET v = 1 WHERE id = 1").await),
        1792
    );
    a.query_drop("COMMIT").await.unwrap();
    a.query_drop("UPDATE t SET v = 1 WHERE id = 1")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_statement_leaves_no_trace_in_its_transaction() {
    let node = start_node().await;
    let mut a = setup_kv(&node, "atomic").await;
    a.query_drop("BEGIN").await.unwrap();
    a.query_drop("INSERT INTO t VALUES (10, 1)").await.unwrap();
    // The second row collides: the whole statement is undone, the
    // transaction goes on.
    assert_eq!(
        code(a.query_drop("INSERT INTO t VALUES (11, 1), (1, 1)").await),
        1062
    );
    assert_eq!(value_of(&mut a, 11).await, None);
    assert_eq!(value_of(&mut a, 10).await, Some(1));
    a.query_drop("COMMIT").await.unwrap();
    assert_eq!(value_of(&mut a, 10).await, Some(1));
    assert_eq!(value_of(&mut a, 11).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autocommit_increments_from_many_connections_are_never_lost() {
    let node = start_node().await;
    let mut setup = setup_kv(&node, "inc").await;
    let workers = 8;
    let per_worker = 25;
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let mut c = connect(&node, Some("inc")).await;
        tasks.push(tokio::spawn(async move {
            let mut ok = 0;
            for _ in 0..per_worker {
                // Conflicts are retried by the server (retry_autocommit) and,
                // if still failing, by us.
                loop {
                    match c.query_drop("UPDATE t SET v = v + 1 WHERE id = 1").await {
                        Ok(()) => {
                            ok += 1;
                            break;
                        }
                        Err(mysql_async::Error::Server(e)) if e.code == 1213 => continue,
                        Err(e) => panic!("unexpected error {e}"),
                    }
                }
            }
            ok
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    assert_eq!(total, workers * per_worker);
    assert_eq!(value_of(&mut setup, 1).await, Some(10 + total));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_status_and_isolation_are_reported() {
    let node = start_node().await;
    let mut a = setup_kv(&node, "status").await;
    let iso: String = a
        .query_first("SELECT @@transaction_isolation")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(iso, "REPEATABLE-READ");
    let row: Option<(String, String)> = a
        .query_first("SHOW STATUS LIKE 'trireme_isolation'")
        .await
        .unwrap();
    assert_eq!(row.unwrap().1, "SNAPSHOT-ISOLATION");
    // SERIALIZABLE cannot be honoured (write skew is possible): refused.
    assert_eq!(
        code(
            a.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE")
                .await
        ),
        1235
    );
    a.query_drop("SET autocommit = 0").await.unwrap();
    a.query_drop("UPDATE t SET v = 99 WHERE id = 1")
        .await
        .unwrap();
    let mut b = connect(&node, Some("status")).await;
    assert_eq!(value_of(&mut b, 1).await, Some(10));
    // Turning autocommit back on commits the open transaction.
    a.query_drop("SET autocommit = 1").await.unwrap();
    assert_eq!(value_of(&mut b, 1).await, Some(99));
}
