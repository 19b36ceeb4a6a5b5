//! Column types as they travel on the wire, in the text and the binary
//! (prepared statement) protocols.

mod support;

use mysql_async::consts::ColumnType;
use mysql_async::prelude::*;
use mysql_async::{Row, Value};

/// TIME parameters and results: a negative duration past 24 hours goes in
/// as a binary TIME parameter and comes back as a TIME, in both protocols.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_values_round_trip_in_both_protocols() {
    let r = support::start_node().await;
    let mut c = support::connect(&r, None).await;
    c.query_drop("CREATE DATABASE tw").await.unwrap();
    c.query_drop("CREATE TABLE tw.t (id INT PRIMARY KEY, d TIME(3))")
        .await
        .unwrap();
    // -(1 day 02:03:04.500) as a binary parameter.
    c.exec_drop(
        "INSERT INTO tw.t VALUES (?, ?)",
        (1, Value::Time(true, 1, 2, 3, 4, 500_000)),
    )
    .await
    .unwrap();
    let rows: Vec<Row> = c.query("SELECT d FROM tw.t").await.unwrap();
    assert_eq!(
        rows[0].columns_ref()[0].column_type(),
        ColumnType::MYSQL_TYPE_TIME
    );
    assert_eq!(rows[0].columns_ref()[0].decimals(), 3);
    let text: Option<Value> = rows[0].get(0);
    assert_eq!(text, Some(Value::Bytes(b"-26:03:04.500".to_vec())));
    let rows: Vec<Row> = c
        .exec("SELECT d FROM tw.t WHERE id = ?", (1,))
        .await
        .unwrap();
    let bin: Option<Value> = rows[0].get(0);
    assert_eq!(bin, Some(Value::Time(true, 1, 2, 3, 4, 500_000)));
}
