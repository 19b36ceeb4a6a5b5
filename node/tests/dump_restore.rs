//! Logical backup with the MariaDB client tools: `mariadb-dump
//! --single-transaction` of a database, restored through the `mariadb` CLI,
//! must give back the same schema and rows. Needs the Debian package
//! `mariadb-client` (.ci/run installs it).

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use mysql_async::prelude::*;
use support::*;

fn client_args(port: u16) -> Vec<String> {
    vec![
        "-h127.0.0.1".into(),
        format!("-P{port}"),
        "-uroot".into(),
        format!("-p{ROOT_PW}"),
    ]
}

fn dump(port: u16, args: &[&str]) -> String {
    let out = Command::new("mariadb-dump")
        .args(client_args(port))
        .args(args)
        .output()
        .expect("mariadb-dump is installed (apt-get install mariadb-client)");
    assert!(
        out.status.success(),
        "mariadb-dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("dump is UTF-8")
}

fn restore(port: u16, sql: &str) {
    let mut child = Command::new("mariadb")
        .args(client_args(port))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mariadb is installed (apt-get install mariadb-client)");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(sql.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "restore failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every table's SHOW CREATE TABLE and rows, in primary key order, as text.
async fn contents(c: &mut mysql_async::Conn) -> Vec<String> {
    let mut out = Vec::new();
    for t in ["items", "tags"] {
        let (_, ddl): (String, String) = c
            .query_first(format!("SHOW CREATE TABLE shop.{t}"))
            .await
            .unwrap()
            .unwrap();
        out.push(ddl);
        let rows: Vec<mysql_async::Row> = c
            .query(format!("SELECT * FROM shop.{t} ORDER BY 1"))
            .await
            .unwrap();
        for r in rows {
            let vals: Vec<String> = (0..r.len()).map(|i| format!("{:?}", r.as_ref(i))).collect();
            out.push(vals.join("|"));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_dump_round_trips_schema_and_rows() {
    let node = start_node().await;
    let port = node.addr.port();
    let mut c = connect(&node, None).await;
    for q in [
        "CREATE DATABASE shop",
        "CREATE TABLE shop.items (
            id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
            sku VARCHAR(20) NOT NULL,
            name VARCHAR(60) NOT NULL,
            price DECIMAL(8,2),
            weight DOUBLE,
            stock BIGINT UNSIGNED NOT NULL DEFAULT 0,
            added DATETIME,
            notes TEXT,
            UNIQUE KEY sku (sku),
            KEY name (name)
        )",
        "CREATE TABLE shop.tags (item INT NOT NULL, tag VARCHAR(20) NOT NULL, PRIMARY KEY (item, tag))",
        r"INSERT INTO shop.items (sku, name, price, weight, stock, added, notes) VALUES
            ('a-1', 'plain', 1.50, 0.25, 18446744073709551615, '2026-01-02 03:04:05', NULL),
            ('b-2', 'it''s \\ quoted; -- not a comment', NULL, NULL, 0, NULL, 'line1\nline2\ttab'),
            ('c-3', 'ünïcödé 🚢', -3.00, -1e300, 7, '1999-12-31 23:59:59', '')",
        "INSERT INTO shop.tags VALUES (1, 'x'), (1, 'y'), (3, 'z')",
        // A gap in the AUTO_INCREMENT sequence must survive the restore.
        "DELETE FROM shop.items WHERE id = 2",
    ] {
        c.query_drop(q).await.unwrap();
    }
    let before = contents(&mut c).await;

    let sql = dump(port, &["--single-transaction", "--databases", "shop"]);
    assert!(sql.contains("INSERT INTO `items`"), "{sql}");

    c.query_drop("DROP DATABASE shop").await.unwrap();
    restore(port, &sql);
    assert_eq!(contents(&mut c).await, before);
    // Restoring over the existing database replaces it (the dump drops
    // and recreates each table).
    restore(port, &sql);
    assert_eq!(contents(&mut c).await, before);

    c.query_drop("INSERT INTO shop.items (sku, name) VALUES ('d-4', 'next')")
        .await
        .unwrap();
    let id: i64 = c
        .query_first("SELECT id FROM shop.items WHERE sku = 'd-4'")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(id, 4, "AUTO_INCREMENT continues after the restored rows");
    // The restored unique index is enforced.
    assert_eq!(
        code(
            c.query_drop("INSERT INTO shop.items (sku, name) VALUES ('a-1', 'dup')")
                .await
        ),
        1062
    );
}
