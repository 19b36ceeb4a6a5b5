//! sysbench 1.0 `oltp_read_write` against one node, prepared statements on:
//! prepare, run, then check the tables hold exactly what the run implies.
//! Needs the `sysbench` binary (Debian package; .ci/run installs it).

mod support;

use std::process::Command;

use mysql_async::prelude::*;

const TABLES: u32 = 2;
const TABLE_SIZE: u64 = 1000;

fn sysbench(port: u16, args: &[&str]) -> String {
    let out = Command::new("sysbench")
        .arg("oltp_read_write")
        .arg("--mysql-host=127.0.0.1")
        .arg(format!("--mysql-port={port}"))
        .arg("--mysql-user=root")
        .arg(format!("--mysql-password={}", support::ROOT_PW))
        .arg("--mysql-db=sbtest")
        .arg(format!("--tables={TABLES}"))
        .arg(format!("--table-size={TABLE_SIZE}"))
        .arg("--auto_inc=off")
        .arg("--db-ps-mode=auto")
        .args(args)
        .output()
        .expect("sysbench is installed (apt-get install sysbench)");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "sysbench failed:\n{text}");
    assert!(
        !text.contains("FATAL"),
        "sysbench reported a fatal error:\n{text}"
    );
    text
}

fn stat(text: &str, label: &str) -> u64 {
    text.lines()
        .find(|l| l.trim_start().starts_with(label))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no '{label}' in sysbench output:\n{text}"))
}

async fn sum_k(c: &mut mysql_async::Conn) -> i64 {
    let mut total = 0i64;
    for t in 1..=TABLES {
        let (n, ids, min, max, s): (i64, i64, i64, i64, i64) = c
            .query_first(format!(
                "SELECT COUNT(*), COUNT(DISTINCT id), MIN(id), MAX(id), SUM(k) FROM sbtest.sbtest{t}"
            ))
            .await
            .unwrap()
            .unwrap();
        // Deletes are always followed by re-inserting the same id.
        assert_eq!(
            (n, ids, min, max),
            (TABLE_SIZE as i64, TABLE_SIZE as i64, 1, TABLE_SIZE as i64)
        );
        total += s;
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oltp_read_write_runs_clean_and_leaves_consistent_tables() {
    let node = support::start_node().await;
    let port = node.addr.port();
    let mut c = support::connect(&node, None).await;
    c.query_drop("CREATE DATABASE sbtest").await.unwrap();
    let port2 = port;
    tokio::task::spawn_blocking(move || sysbench(port2, &["prepare"]))
        .await
        .unwrap();
    let before = sum_k(&mut c).await;

    // The full mix (deletes and re-inserts change k arbitrarily).
    let out = tokio::task::spawn_blocking(move || {
        sysbench(
            port,
            &["--threads=4", "--time=10", "--rand-type=uniform", "run"],
        )
    })
    .await
    .unwrap();
    let tx = stat(&out, "transactions:");
    println!(
        "full mix: {tx} transactions, {} ignored errors",
        stat(&out, "ignored errors:")
    );
    assert!(tx > 0);
    let mid = sum_k(&mut c).await;

    // Without deletes, every committed transaction adds exactly 1 to one k.
    let out = tokio::task::spawn_blocking(move || {
        sysbench(
            port,
            &[
                "--threads=4",
                "--time=5",
                "--delete_inserts=0",
                "--rand-type=uniform",
                "run",
            ],
        )
    })
    .await
    .unwrap();
    let tx2 = stat(&out, "transactions:");
    let after = sum_k(&mut c).await;
    assert_eq!(
        after - mid,
        tx2 as i64,
        "sum(k) moved by {} for {tx2} transactions",
        after - mid
    );
    let _ = before;
}
