//! A real `trireme` with `[storage] engine = "lsm"`: rows live in fjall
//! under `<data_dir>/lsm` with a small cache, and SQL over the MySQL
//! protocol behaves as on the in-memory engine: point and index reads,
//! unique checks, updates and deletes, a table rewrite (ALTER), TRUNCATE,
//! and a restart (SIGKILL) that comes back from the engine's files
//! (`lsm_restart.rs` tests restart from disk itself).

mod child_node;

use mysql_async::prelude::*;
use mysql_async::Conn;

use child_node::ChildNode;

const LSM: &str = "[storage]\nengine = \"lsm\"\ncache_size = \"4MiB\"\n";

/// Rows inserted: more than fit in one engine block, fewer than make the
/// test slow.
const ROWS: i64 = 3000;

async fn setup(c: &mut Conn) {
    c.query_drop("CREATE DATABASE shop").await.unwrap();
    c.query_drop(
        "CREATE TABLE shop.items (id INT PRIMARY KEY, sku VARCHAR(20) NOT NULL, \
         qty INT NOT NULL, note VARCHAR(100), UNIQUE KEY u_sku (sku), KEY k_qty (qty))",
    )
    .await
    .unwrap();
    for chunk in (0..ROWS).collect::<Vec<_>>().chunks(500) {
        let values: Vec<String> = chunk
            .iter()
            .map(|i| {
                format!(
                    "({i}, 'sku-{i}', {}, 'note {i} {}')",
                    i % 10,
                    "x".repeat(40)
                )
            })
            .collect();
        c.query_drop(format!(
            "INSERT INTO shop.items VALUES {}",
            values.join(",")
        ))
        .await
        .unwrap();
    }
}

async fn count(c: &mut Conn, q: &str) -> i64 {
    c.query_first::<i64, _>(q).await.unwrap().unwrap()
}

async fn check_contents(c: &mut Conn) {
    assert_eq!(
        count(c, "SELECT COUNT(*) FROM shop.items").await,
        ROWS - 100
    );
    // Updated rows show their new values, through the index too.
    assert_eq!(
        count(c, "SELECT qty FROM shop.items WHERE id = 7").await,
        1007
    );
    assert_eq!(
        count(c, "SELECT COUNT(*) FROM shop.items WHERE qty = 1007").await,
        1
    );
    // Deleted rows (ids 100..200) are gone from the table and the indexes.
    assert_eq!(
        count(
            c,
            "SELECT COUNT(*) FROM shop.items WHERE id >= 100 AND id < 200"
        )
        .await,
        0
    );
    assert_eq!(
        count(c, "SELECT COUNT(*) FROM shop.items WHERE sku = 'sku-150'").await,
        0
    );
    let per_qty = count(c, "SELECT COUNT(*) FROM shop.items WHERE qty = 3").await;
    // ids = 3 (mod 10), minus the 10 deleted, minus id 3 (updated to 1003).
    assert_eq!(per_qty, ROWS / 10 - 10 - 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_runs_on_the_lsm_engine_and_survives_a_restart() {
    let node = ChildNode::start_with(LSM).await;
    let mut c = node.connect(None).await;
    setup(&mut c).await;

    c.query_drop("UPDATE shop.items SET qty = 1000 + id WHERE id < 10")
        .await
        .unwrap();
    c.query_drop("DELETE FROM shop.items WHERE id >= 100 AND id < 200")
        .await
        .unwrap();
    // A unique key is enforced against rows on disk.
    let dup = c
        .query_drop("INSERT INTO shop.items VALUES (90000, 'sku-5', 1, '')")
        .await
        .unwrap_err();
    assert!(dup.to_string().contains("1062"), "{dup}");
    // A freed unique value can be taken again.
    c.query_drop("INSERT INTO shop.items VALUES (90000, 'sku-150', 1, '')")
        .await
        .unwrap();
    c.query_drop("DELETE FROM shop.items WHERE id = 90000")
        .await
        .unwrap();
    check_contents(&mut c).await;

    // Range reads by primary key and by secondary index.
    let ids: Vec<i64> = c
        .query("SELECT id FROM shop.items WHERE id BETWEEN 95 AND 205 ORDER BY id")
        .await
        .unwrap();
    let expect: Vec<i64> = (95..100).chain(200..=205).collect();
    assert_eq!(ids, expect);

    // A table rewrite copies the rows into a new on-disk table.
    c.query_drop("ALTER TABLE shop.items ADD COLUMN extra INT NOT NULL DEFAULT 5")
        .await
        .unwrap();
    assert_eq!(
        count(&mut c, "SELECT SUM(extra) FROM shop.items").await,
        5 * (ROWS - 100)
    );
    check_contents(&mut c).await;

    // The rows are in the engine's files, not only in memory.
    let lsm = node.data_dir().join("lsm");
    assert!(lsm.is_dir(), "{} missing", lsm.display());

    drop(c);
    let node = node.restart().await;
    let mut c = node.connect(None).await;
    check_contents(&mut c).await;
    assert_eq!(
        count(&mut c, "SELECT SUM(extra) FROM shop.items").await,
        5 * (ROWS - 100)
    );

    c.query_drop("TRUNCATE TABLE shop.items").await.unwrap();
    assert_eq!(count(&mut c, "SELECT COUNT(*) FROM shop.items").await, 0);
    c.query_drop("INSERT INTO shop.items VALUES (1, 'sku-1', 1, '', 1)")
        .await
        .unwrap();
    assert_eq!(count(&mut c, "SELECT COUNT(*) FROM shop.items").await, 1);
}
