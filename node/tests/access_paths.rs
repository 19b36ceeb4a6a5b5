//! Planning uses keys: `WHERE pk = ?`, IN lists, ranges and secondary
//! indexes read only the rows they need, never the whole table. Observed
//! through MySQL's handler counters (`Handler_read_rnd_next` counts rows
//! read by full scans). One test per binary: the counters are process-wide.

mod support;

use mysql_async::prelude::*;

async fn rnd_next(c: &mut mysql_async::Conn) -> u64 {
    let r: (String, u64) = c
        .query_first("SHOW STATUS LIKE 'Handler_read_rnd_next'")
        .await
        .unwrap()
        .unwrap();
    r.1
}

async fn read_next(c: &mut mysql_async::Conn) -> u64 {
    let r: (String, u64) = c
        .query_first("SHOW STATUS LIKE 'Handler_read_next'")
        .await
        .unwrap()
        .unwrap();
    r.1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_predicates_never_scan_the_table() {
    let node = support::start_node().await;
    let mut c = support::connect(&node, None).await;
    c.query_drop("CREATE DATABASE ap").await.unwrap();
    c.query_drop("USE ap").await.unwrap();
    c.query_drop("CREATE TABLE t (id INT PRIMARY KEY, k INT NOT NULL, c VARCHAR(20), KEY k_1 (k))")
        .await
        .unwrap();
    let values: Vec<String> = (1..=2000)
        .map(|i| format!("({i}, {}, 'r{i}')", i % 100))
        .collect();
    c.query_drop(format!("INSERT INTO t VALUES {}", values.join(",")))
        .await
        .unwrap();

    let before = rnd_next(&mut c).await;
    // Point lookups, prepared and text, and IN lists.
    for id in [1, 777, 2000, 5000] {
        let _: Option<String> = c
            .exec_first("SELECT c FROM t WHERE id = ?", (id,))
            .await
            .unwrap();
        let _: Option<String> = c
            .query_first(format!("SELECT c FROM t WHERE id = {id}"))
            .await
            .unwrap();
    }
    let got: Vec<i64> = c
        .query("SELECT id FROM t WHERE id IN (3, 5, 7) ORDER BY id")
        .await
        .unwrap();
    assert_eq!(got, vec![3, 5, 7]);
    // UPDATE and DELETE by key.
    c.exec_drop("UPDATE t SET c = 'x' WHERE id = ?", (10,))
        .await
        .unwrap();
    c.exec_drop("DELETE FROM t WHERE id = ?", (11,))
        .await
        .unwrap();
    // Joins look the inner table up by key.
    let n: i64 = c
        .query_first(
            "SELECT COUNT(*) FROM t a JOIN t b ON b.id = a.k WHERE a.id BETWEEN 100 AND 110",
        )
        .await
        .unwrap()
        .unwrap();
    // a.k = a.id % 100, and there is no row with id 0 (for a.id = 100).
    assert_eq!(n, 10);
    assert_eq!(
        rnd_next(&mut c).await,
        before,
        "a key lookup scanned the table"
    );

    // A range reads just the range.
    let rn = read_next(&mut c).await;
    let s: i64 = c
        .exec_first("SELECT SUM(k) FROM t WHERE id BETWEEN ? AND ?", (500, 599))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s, (500..=599).map(|i| i % 100).sum::<i64>());
    let read = read_next(&mut c).await - rn;
    assert!((100..=110).contains(&read), "range read {read} rows");
    // The secondary index serves equality on k.
    let rn = read_next(&mut c).await;
    let n: i64 = c
        .query_first("SELECT COUNT(*) FROM t WHERE k = 42")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 20);
    assert!(read_next(&mut c).await - rn <= 25);
    assert_eq!(
        rnd_next(&mut c).await,
        before,
        "an indexed predicate scanned the table"
    );

    // A predicate on an unindexed column does scan: the counter works.
    let _: Option<i64> = c
        .query_first("SELECT id FROM t WHERE c = 'r5'")
        .await
        .unwrap();
    assert!(rnd_next(&mut c).await >= before + 1998);
}
