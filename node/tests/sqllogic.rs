//! Runs every sqllogictest file under `node/tests/slt/` against a real
//! `trireme` process over the MySQL protocol (mysql_async).
//!
//! Each file runs in its own freshly created database `slt_<file stem>`
//! (every connection the file opens starts in it), one file after another
//! on one node, so files that change global variables cannot disturb each
//! other. All files run even when one fails; the test then fails listing
//! every failing file.
//!
//! How results are rendered, for writing expectations:
//! - NULL is `NULL`, the empty string is `(empty)`; other values are their
//!   text-protocol bytes (non-UTF-8 bytes as `0x` hex). Runs of whitespace
//!   compare as one space (sqllogictest's normalizer). A row holding a
//!   multi-line value (SHOW CREATE TABLE) is written over as many result
//!   lines as it has lines (so don't `rowsort` those).
//! - Column types are checked strictly: `I` for integer columns, `R` for
//!   DECIMAL / FLOAT / DOUBLE, `T` for everything else.
//! - Errors read `ERROR <code> (<SQLSTATE>): <message>`, so
//!   `statement error 1146 \(42S02\): Table 'x.t' doesn't exist` asserts
//!   code, state and message (the expectation is a regex).
//! - `statement count N` checks the affected-rows count of the OK packet.
//!
//! `SLT_FILTER=<substring> cargo test -p trireme-node --test sqllogic` runs
//! only the files whose path contains the substring.

mod child_node;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use mysql_async::consts::ColumnType as MyType;
use mysql_async::prelude::*;
use mysql_async::Conn;
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType, Runner};

use child_node::ChildNode;

/// An error as the client saw it.
#[derive(Debug)]
struct DbError {
    code: u16,
    state: String,
    message: String,
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ERROR {} ({}): {}", self.code, self.state, self.message)
    }
}

impl std::error::Error for DbError {}

impl From<mysql_async::Error> for DbError {
    fn from(e: mysql_async::Error) -> Self {
        match e {
            mysql_async::Error::Server(s) => DbError {
                code: s.code,
                state: s.state,
                message: s.message,
            },
            other => DbError {
                code: 0,
                state: "CLIENT".into(),
                message: other.to_string(),
            },
        }
    }
}

/// One connection to the node under test.
struct MySqlDb {
    /// None once shut down.
    conn: Option<Conn>,
}

fn column_type(t: MyType) -> DefaultColumnType {
    match t {
        MyType::MYSQL_TYPE_TINY
        | MyType::MYSQL_TYPE_SHORT
        | MyType::MYSQL_TYPE_LONG
        | MyType::MYSQL_TYPE_INT24
        | MyType::MYSQL_TYPE_LONGLONG
        | MyType::MYSQL_TYPE_YEAR => DefaultColumnType::Integer,
        MyType::MYSQL_TYPE_DECIMAL
        | MyType::MYSQL_TYPE_NEWDECIMAL
        | MyType::MYSQL_TYPE_FLOAT
        | MyType::MYSQL_TYPE_DOUBLE => DefaultColumnType::FloatingPoint,
        _ => DefaultColumnType::Text,
    }
}

fn render(v: &mysql_async::Value) -> String {
    match v {
        mysql_async::Value::NULL => "NULL".into(),
        mysql_async::Value::Bytes(b) if b.is_empty() => "(empty)".into(),
        mysql_async::Value::Bytes(b) => match std::str::from_utf8(b) {
            Ok(s) => s.to_string(),
            Err(_) => {
                let hex: String = b.iter().map(|x| format!("{x:02X}")).collect();
                format!("0x{hex}")
            }
        },
        // The text protocol only sends bytes; anything else is rendered
        // the way the server would have sent it.
        other => other.as_sql(true),
    }
}

impl MySqlDb {
    async fn query(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, DbError> {
        let conn = self.conn.as_mut().ok_or_else(|| DbError {
            code: 0,
            state: "CLIENT".into(),
            message: "connection already shut down".into(),
        })?;
        let mut result = conn.query_iter(sql).await?;
        let columns = result.columns();
        let out = match columns {
            Some(cols) if !cols.is_empty() => {
                let types = cols.iter().map(|c| column_type(c.column_type())).collect();
                let rows: Vec<mysql_async::Row> = result.collect().await?;
                let mut lines: Vec<Vec<String>> = Vec::with_capacity(rows.len());
                for r in &rows {
                    let vals: Vec<String> = (0..r.len())
                        .map(|i| r.as_ref(i).map_or_else(String::new, render))
                        .collect();
                    if vals.iter().any(|v| v.contains('\n')) {
                        // A multi-line value (SHOW CREATE TABLE) continues
                        // on the following result lines.
                        let text = vals.join(" ");
                        lines.extend(text.split('\n').map(|l| vec![l.to_string()]));
                    } else {
                        lines.push(vals);
                    }
                }
                DBOutput::Rows { types, rows: lines }
            }
            _ => DBOutput::StatementComplete(result.affected_rows()),
        };
        // Further result sets (there are none for one statement) and the
        // end of this one.
        result.drop_result().await?;
        Ok(out)
    }
}

// `AsyncDB` is declared with `#[async_trait]`; this is the signature that
// macro produces, written out so the test needs no extra dependency.
impl AsyncDB for MySqlDb {
    type Error = DbError;
    type ColumnType = DefaultColumnType;

    fn run<'a, 'b, 'f>(
        &'a mut self,
        sql: &'b str,
    ) -> Pin<Box<dyn Future<Output = Result<DBOutput<DefaultColumnType>, DbError>> + Send + 'f>>
    where
        'a: 'f,
        'b: 'f,
        Self: 'f,
    {
        Box::pin(self.query(sql))
    }

    fn shutdown<'a, 'f>(&'a mut self) -> Pin<Box<dyn Future<Output = ()> + Send + 'f>>
    where
        'a: 'f,
        Self: 'f,
    {
        Box::pin(async move {
            if let Some(conn) = self.conn.take() {
                let _ = conn.disconnect().await;
            }
        })
    }

    fn engine_name(&self) -> &str {
        "trireme"
    }

    fn error_sql_state(err: &DbError) -> Option<String> {
        Some(err.state.clone())
    }
}

fn slt_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .collect();
    files.sort();
    files
}

/// Runs one file in a fresh database; returns the failure text.
async fn run_file(node: &ChildNode, path: &Path) -> Result<(), String> {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or_else(|| format!("bad file name {}", path.display()))?;
    let db = format!("slt_{stem}");
    let mut admin = node.connect(None).await;
    admin
        .query_drop(format!("DROP DATABASE IF EXISTS `{db}`"))
        .await
        .map_err(|e| format!("drop {db}: {e}"))?;
    admin
        .query_drop(format!("CREATE DATABASE `{db}`"))
        .await
        .map_err(|e| format!("create {db}: {e}"))?;
    let _ = admin.disconnect().await;

    let opts = node.opts(Some(&db));
    let mut runner = Runner::new(move || {
        let opts = opts.clone();
        async move {
            let conn = Conn::new(opts).await?;
            Ok(MySqlDb { conn: Some(conn) })
        }
    });
    runner.with_column_validator(sqllogictest::strict_column_validator);
    let r = runner.run_file_async(path).await;
    runner.shutdown_async().await;
    r.map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqllogictest_files() {
    let mut files = slt_files();
    // SLT_FILTER=<substring> runs only the matching files (while editing).
    if let Ok(f) = std::env::var("SLT_FILTER") {
        files.retain(|p| p.to_string_lossy().contains(&f));
    }
    assert!(!files.is_empty(), "no .slt files found");
    let mut node = ChildNode::start().await;
    let mut failures = Vec::new();
    for f in &files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let started = std::time::Instant::now();
        let r = run_file(&node, f).await;
        eprintln!(
            "slt {name}: {} ({} ms)",
            if r.is_ok() { "ok" } else { "FAILED" },
            started.elapsed().as_millis()
        );
        if let Err(e) = r {
            failures.push(format!("--- {name}\n{e}"));
        }
        assert!(
            node.is_running(),
            "the node exited while running {name}:\n{}",
            node.recent_log()
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {} sqllogictest files failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
