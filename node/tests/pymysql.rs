//! PyMySQL, the pure-Python driver, against a node: client-side escaping
//! (binary values arrive as raw bytes inside `_binary'...'`), executemany,
//! transactions and error codes. Needs python3 with PyMySQL (.ci/run
//! installs it with pip).

mod support;

use std::process::Command;

const SCRIPT: &str = r#"
import sys, pymysql
port = int(sys.argv[1]); pw = sys.argv[2]
c = pymysql.connect(host="127.0.0.1", port=port, user="root", password=pw, autocommit=True)
cur = c.cursor()
cur.execute("CREATE DATABASE py")
cur.execute("USE py")
cur.execute("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(50), data BLOB, amount DECIMAL(10,2), at DATETIME)")
blob = bytes(range(256)) * 3
cur.execute("INSERT INTO t VALUES (%s, %s, %s, %s, %s)", (1, "caf\u00e9 'quoted'", blob, "12.34", "2024-05-06 07:08:09"))
cur.executemany("INSERT INTO t (id, name) VALUES (%s, %s)", [(2, "b"), (3, None)])
cur.execute("SELECT id, name, data, amount, at FROM t ORDER BY id")
rows = cur.fetchall()
assert rows[0][1] == "caf\u00e9 'quoted'", rows[0][1]
assert rows[0][2] == blob, "blob round trip"
assert str(rows[0][3]) == "12.34", rows[0][3]
assert str(rows[0][4]) == "2024-05-06 07:08:09", rows[0][4]
assert rows[2][1] is None
c.autocommit(False)
cur.execute("UPDATE t SET name = 'x' WHERE id = 2")
c.rollback()
cur.execute("SELECT name FROM t WHERE id = 2")
assert cur.fetchone()[0] == "b"
try:
    cur.execute("INSERT INTO t (id) VALUES (1)")
    raise SystemExit("duplicate accepted")
except pymysql.err.IntegrityError as e:
    assert e.args[0] == 1062, e.args
c.rollback()
try:
    cur.execute("SELEC 1")
    raise SystemExit("syntax error accepted")
except pymysql.err.ProgrammingError as e:
    assert e.args[0] == 1064, e.args
print("OK")
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymysql_round_trips_text_binary_decimal_and_dates() {
    let node = support::start_node().await;
    let port = node.addr.port().to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg("-c")
            .arg(SCRIPT)
            .arg(&port)
            .arg(support::ROOT_PW)
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("OK"),
        "PyMySQL script failed (pip install PyMySQL if it is missing):\n{text}"
    );
}
