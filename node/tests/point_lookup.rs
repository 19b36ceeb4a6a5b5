//! `WHERE pk = ?` is never a scan (issue 5, "Planning").
//!
//! Checked structurally, not by timing: every session counts its row reads
//! the way MySQL's `Handler_read_*` status variables do (`SHOW STATUS`):
//! `Handler_read_key` per index lookup, `Handler_read_next` per row read in
//! key order after one, `Handler_read_rnd_next` per row read by a full table
//! scan. A point lookup by primary key must add exactly one
//! `Handler_read_key` and no `Handler_read_rnd_next`, on a table large
//! enough that a scan could not hide — for prepared statements (the binary
//! protocol, with integer and string parameters), text queries, composite
//! keys, IN lists, FOR UPDATE, UPDATE, DELETE, joins on the key, and inside a
//! transaction that has written to the table. Key ranges and IN lists on
//! primary and secondary indexes read only their rows. A query with no
//! usable index is checked too, to show the counters do see scans.

mod child_node;

use mysql_async::prelude::*;
use mysql_async::Conn;

use child_node::ChildNode;

/// Rows in the table: a scan would read all of them.
const ROWS: i64 = 500;

/// The session's row-access counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Reads {
    key: u64,
    next: u64,
    rnd_next: u64,
}

impl std::ops::Sub for Reads {
    type Output = Reads;
    fn sub(self, o: Reads) -> Reads {
        Reads {
            key: self.key - o.key,
            next: self.next - o.next,
            rnd_next: self.rnd_next - o.rnd_next,
        }
    }
}

async fn reads(c: &mut Conn) -> Reads {
    let rows: Vec<(String, u64)> = c
        .query("SHOW SESSION STATUS LIKE 'Handler_read%'")
        .await
        .expect("SHOW STATUS");
    let get = |name: &str| {
        rows.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("SHOW STATUS has no {name}: {rows:?}"))
    };
    Reads {
        key: get("Handler_read_key"),
        next: get("Handler_read_next"),
        rnd_next: get("Handler_read_rnd_next"),
    }
}

/// The counters a statement run by `f` added.
async fn delta<F>(c: &mut Conn, f: F) -> Reads
where
    F: AsyncFnOnce(&mut Conn),
{
    let before = reads(c).await;
    f(c).await;
    reads(c).await - before
}

fn point(lookups: u64) -> Reads {
    Reads {
        key: lookups,
        next: 0,
        rnd_next: 0,
    }
}

async fn setup(c: &mut Conn) {
    c.query_drop("CREATE DATABASE pk_lookup").await.unwrap();
    c.query_drop("USE pk_lookup").await.unwrap();
    c.query_drop("CREATE TABLE t (id INT PRIMARY KEY, k INT NOT NULL, c VARCHAR(20), KEY k_k (k))")
        .await
        .unwrap();
    c.query_drop("CREATE TABLE pair (a INT, b VARCHAR(5), v INT, PRIMARY KEY (a, b))")
        .await
        .unwrap();
    let values: Vec<String> = (1..=ROWS)
        .map(|i| format!("({i}, {}, 'row{i}')", i % 10))
        .collect();
    c.query_drop(format!("INSERT INTO t VALUES {}", values.join(",")))
        .await
        .unwrap();
    let pairs: Vec<String> = (1..=ROWS / 5)
        .flat_map(|a| ["x", "y"].map(|b| format!("({a}, '{b}', {a})")))
        .collect();
    c.query_drop(format!("INSERT INTO pair VALUES {}", pairs.join(",")))
        .await
        .unwrap();
    c.query_drop("CREATE TABLE probe (tid INT PRIMARY KEY)")
        .await
        .unwrap();
    c.query_drop("INSERT INTO probe VALUES (3), (30), (300)")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn where_pk_equals_is_a_point_lookup_never_a_scan() {
    let node = ChildNode::start().await;
    let mut c = node.connect(None).await;
    setup(&mut c).await;

    // The counters see a scan: no index on c, so every row is read.
    let d = delta(&mut c, async |c: &mut Conn| {
        let n: Option<i64> = c
            .query_first("SELECT COUNT(*) FROM t WHERE c = 'row7'")
            .await
            .unwrap();
        assert_eq!(n, Some(1));
    })
    .await;
    assert_eq!(
        d.rnd_next, ROWS as u64,
        "a full scan reads every row: {d:?}"
    );

    // Prepared, integer parameter, several executions of one statement.
    let stmt = c.prep("SELECT id, k, c FROM t WHERE id = ?").await.unwrap();
    for id in [1i64, 250, ROWS, ROWS + 1] {
        let d = delta(&mut c, async |c: &mut Conn| {
            let row: Option<(i64, i64, String)> = c.exec_first(&stmt, (id,)).await.unwrap();
            assert_eq!(row.is_some(), id <= ROWS);
        })
        .await;
        assert_eq!(d, point(1), "prepared WHERE id = {id}");
    }

    // Prepared, the key sent as a string (as some drivers do).
    let d = delta(&mut c, async |c: &mut Conn| {
        let row: Option<(i64, i64, String)> = c.exec_first(&stmt, ("42",)).await.unwrap();
        assert_eq!(row.map(|r| r.0), Some(42));
    })
    .await;
    assert_eq!(d, point(1), "prepared WHERE id = '42'");

    // Text protocol, key on either side, with more conditions.
    for q in [
        "SELECT c FROM t WHERE id = 77",
        "SELECT c FROM t WHERE 77 = id",
        "SELECT c FROM t WHERE id = 77 AND k = 7",
        "SELECT c FROM t WHERE id = '77'",
        "SELECT c FROM t WHERE id = 76 + 1",
    ] {
        let d = delta(&mut c, async |c: &mut Conn| {
            let r: Option<String> = c.query_first(q).await.unwrap();
            assert_eq!(r.as_deref(), Some("row77"), "{q}");
        })
        .await;
        assert_eq!(d, point(1), "{q}");
    }

    // IN on the key: one lookup per value.
    let d = delta(&mut c, async |c: &mut Conn| {
        let r: Vec<i64> = c
            .query("SELECT id FROM t WHERE id IN (5, 6, 9999) ORDER BY id")
            .await
            .unwrap();
        assert_eq!(r, vec![5, 6]);
    })
    .await;
    assert_eq!(d, point(3), "WHERE id IN (...)");

    // A composite primary key, fully bound.
    let pstmt = c
        .prep("SELECT v FROM pair WHERE a = ? AND b = ?")
        .await
        .unwrap();
    let d = delta(&mut c, async |c: &mut Conn| {
        let r: Option<i64> = c.exec_first(&pstmt, (17, "y")).await.unwrap();
        assert_eq!(r, Some(17));
    })
    .await;
    assert_eq!(d, point(1), "WHERE a = ? AND b = ? on PRIMARY KEY (a, b)");

    // FOR UPDATE / LOCK IN SHARE MODE, as sysbench and ORMs send them.
    for q in [
        "SELECT c FROM t WHERE id = ? FOR UPDATE",
        "SELECT c FROM t WHERE id = ? LOCK IN SHARE MODE",
    ] {
        let d = delta(&mut c, async |c: &mut Conn| {
            let r: Option<String> = c.exec_first(q, (8,)).await.unwrap();
            assert_eq!(r.as_deref(), Some("row8"));
        })
        .await;
        assert_eq!(d, point(1), "{q}");
    }

    // UPDATE and DELETE by key.
    let d = delta(&mut c, async |c: &mut Conn| {
        c.exec_drop("UPDATE t SET c = 'changed' WHERE id = ?", (9,))
            .await
            .unwrap();
        assert_eq!(c.affected_rows(), 1);
    })
    .await;
    assert_eq!(d, point(1), "UPDATE ... WHERE id = ?");
    let d = delta(&mut c, async |c: &mut Conn| {
        c.exec_drop("DELETE FROM t WHERE id = ?", (10,))
            .await
            .unwrap();
        assert_eq!(c.affected_rows(), 1);
    })
    .await;
    assert_eq!(d, point(1), "DELETE ... WHERE id = ?");

    // A join on the key: the small table is scanned, t is looked up once
    // per probe row.
    let d = delta(&mut c, async |c: &mut Conn| {
        let r: Vec<(i64, String)> = c
            .query("SELECT p.tid, t.c FROM probe p JOIN t ON t.id = p.tid ORDER BY p.tid")
            .await
            .unwrap();
        assert_eq!(r.len(), 3);
    })
    .await;
    assert_eq!(
        d,
        Reads {
            key: 3,
            next: 0,
            rnd_next: 3
        },
        "probe JOIN t ON t.id = probe.tid"
    );

    // Inside a transaction that wrote to the table (its own rows are merged
    // in, still without a scan).
    c.query_drop("BEGIN").await.unwrap();
    c.query_drop("INSERT INTO t VALUES (100000, 1, 'mine')")
        .await
        .unwrap();
    c.query_drop("UPDATE t SET c = 'mine too' WHERE id = 11")
        .await
        .unwrap();
    for (id, want) in [(100000i64, "mine"), (11, "mine too"), (12, "row12")] {
        let d = delta(&mut c, async |c: &mut Conn| {
            let r: Option<String> = c
                .exec_first(&stmt, (id,))
                .await
                .unwrap()
                .map(|(_, _, s): (i64, i64, String)| s);
            assert_eq!(r.as_deref(), Some(want));
        })
        .await;
        assert_eq!(d, point(1), "in a transaction, WHERE id = {id}");
    }
    c.query_drop("ROLLBACK").await.unwrap();

    // A secondary-index equality is a lookup plus its matching entries, not
    // a scan either.
    let d = delta(&mut c, async |c: &mut Conn| {
        let n: Option<i64> = c
            .query_first("SELECT COUNT(*) FROM t WHERE k = 3")
            .await
            .unwrap();
        assert_eq!(n, Some(ROWS / 10));
    })
    .await;
    assert_eq!(
        d,
        Reads {
            key: 1,
            next: ROWS as u64 / 10,
            rnd_next: 0
        },
        "WHERE k = 3 on KEY (k)"
    );

    // Ranges and IN lists on indexes read only the rows in range (issue 5:
    // "the primary key and secondary indexes for equality, IN and range
    // predicates"). Row 10 was deleted above.
    for (q, want) in [
        (
            "SELECT COUNT(*) FROM t WHERE id BETWEEN 5 AND 14",
            Reads {
                key: 1,
                next: 9,
                rnd_next: 0,
            },
        ),
        (
            "SELECT COUNT(*) FROM t WHERE id > 490",
            Reads {
                key: 1,
                next: 10,
                rnd_next: 0,
            },
        ),
        (
            "SELECT COUNT(*) FROM t WHERE id >= 1 AND id < 4",
            Reads {
                key: 1,
                next: 3,
                rnd_next: 0,
            },
        ),
        (
            "SELECT COUNT(*) FROM t WHERE k IN (1, 2)",
            Reads {
                key: 2,
                next: 2 * ROWS as u64 / 10,
                rnd_next: 0,
            },
        ),
        (
            "SELECT COUNT(*) FROM pair WHERE a = 3",
            Reads {
                key: 1,
                next: 2,
                rnd_next: 0,
            },
        ),
    ] {
        let d = delta(&mut c, async |c: &mut Conn| {
            let _: Option<i64> = c.query_first(q).await.unwrap();
        })
        .await;
        // A strict bound may also read the bound's own row (access paths
        // return a superset with inclusive bounds; the filter drops it).
        assert!(
            d.key == want.key && d.rnd_next == 0 && (want.next..=want.next + 1).contains(&d.next),
            "{q}: read {d:?}, expected {want:?}"
        );
    }

    let _ = c.disconnect().await;
}
