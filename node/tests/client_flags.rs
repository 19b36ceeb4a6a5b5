//! Capability flags a client negotiates that change answers.

mod support;

use mysql_async::prelude::*;
use mysql_async::{Conn, Opts, OptsBuilder};

async fn connect(r: &trireme_node::server::Running, found_rows: bool) -> Conn {
    let opts = Opts::from_url(&support::url(r, Some("fr"))).expect("valid url");
    Conn::new(OptsBuilder::from_opts(opts).client_found_rows(found_rows))
        .await
        .expect("connects")
}

/// With CLIENT_FOUND_ROWS (as Django connects), UPDATE and ON DUPLICATE
/// KEY UPDATE report the rows they matched, also when nothing changed;
/// without it, only the rows they changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_found_rows_counts_matched_rows() {
    let r = support::start_node().await;
    let mut c = support::connect(&r, None).await;
    c.query_drop("CREATE DATABASE fr").await.unwrap();
    c.query_drop("CREATE TABLE fr.t (id INT PRIMARY KEY, v INT, w INT)")
        .await
        .unwrap();
    c.query_drop("INSERT INTO fr.t VALUES (1, 10, 0), (2, 20, 0), (3, 30, 0)")
        .await
        .unwrap();
    c.query_drop("CREATE TABLE fr.u (id INT PRIMARY KEY)")
        .await
        .unwrap();
    c.query_drop("INSERT INTO fr.u VALUES (1), (2)")
        .await
        .unwrap();

    for (flag, same, some, multi, odku) in [(true, 1, 3, 2, 1), (false, 0, 2, 0, 0)] {
        let mut c = connect(&r, flag).await;
        c.query_drop("UPDATE t SET v = 10 WHERE id = 1")
            .await
            .unwrap();
        assert_eq!(c.affected_rows(), same, "unchanged row, found_rows={flag}");
        c.query_drop("UPDATE t SET v = 20 WHERE id <= 3")
            .await
            .unwrap();
        assert_eq!(
            c.affected_rows(),
            some,
            "two of three changed, found_rows={flag}"
        );
        c.query_drop("UPDATE t JOIN u ON t.id = u.id SET t.w = 0")
            .await
            .unwrap();
        assert_eq!(c.affected_rows(), multi, "multi-table, found_rows={flag}");
        c.query_drop("INSERT INTO t VALUES (1, 0, 0) ON DUPLICATE KEY UPDATE w = 0")
            .await
            .unwrap();
        assert_eq!(
            c.affected_rows(),
            odku,
            "ODKU to the same values, found_rows={flag}"
        );
        let n: Option<i64> = c.query_first("SELECT ROW_COUNT()").await.unwrap();
        assert_eq!(n, Some(odku as i64));
        // Put the rows back for the next round.
        c.query_drop("UPDATE t SET v = id * 10").await.unwrap();
    }
}
