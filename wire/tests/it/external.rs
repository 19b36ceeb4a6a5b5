//! The server exercised by Debian's `mariadb` command-line client (batch
//! mode) and by `sysbench` 1.0 (libmariadb, prepared statements re-executed
//! without re-sent parameter types).
//!
//! Both programs are started as child processes on 127.0.0.1 and killed if
//! they outlive a generous bound; nothing here asserts on timing.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use crate::common::{self, is_sb_string, PASSWORD, TABLE_SIZE, USER};

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

async fn run(mut cmd: Command, what: &str) -> Out {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd.spawn().unwrap_or_else(|e| {
        panic!("cannot start {what}: {e} (CI installs it: apt-get install mariadb-client sysbench)")
    });
    // Far above the expected run time; kill_on_drop ends the child if hit.
    let out = tokio::time::timeout(Duration::from_secs(180), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish"))
        .expect("wait");
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

async fn mariadb(port: u16, user: &str, pass: &str, args: &[&str]) -> Out {
    let mut cmd = Command::new("mariadb");
    cmd.arg("--no-defaults")
        .arg("--protocol=TCP")
        .arg("--host=127.0.0.1")
        .arg(format!("--port={port}"))
        .arg(format!("--user={user}"))
        .arg(format!("--password={pass}"))
        .arg("--batch")
        .arg("--connect-timeout=30")
        .args(args);
    run(cmd, "mariadb").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_cli_query_error_status_use() {
    let server = common::start(common::config()).await;
    let port = server.port();

    let out = mariadb(port, USER, PASSWORD, &["-e", "SELECT 1, 'abc', NULL, 2.5"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "1\t'abc'\tNULL\t2.5\n1\tabc\tNULL\t2.5\n");

    let out = mariadb(port, USER, PASSWORD, &["-e", "SELECT 1; BOGUS;"]).await;
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr
            .contains("ERROR 1064 (42000) at line 1: You have an error in your SQL syntax"),
        "{}",
        out.stderr
    );

    let out = mariadb(port, USER, PASSWORD, &["-e", "status"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    for want in [
        "Connection id:",
        "Current user:\t\ttester@127.0.0.1",
        "Server version:\t\t10.11.99-MariaDB-trireme",
        "Protocol version:\t10",
        "Uptime:",
    ] {
        assert!(
            out.stdout.contains(want),
            "missing {want:?} in:\n{}",
            out.stdout
        );
    }

    let out = mariadb(
        port,
        USER,
        PASSWORD,
        &["-e", "USE sbtest; SELECT DATABASE()"],
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "DATABASE()\nsbtest\n");

    let out = mariadb(port, USER, PASSWORD, &["-e", "USE nope"]).await;
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("ERROR 1049 (42000)") && out.stderr.contains("Unknown database 'nope'"),
        "{}",
        out.stderr
    );

    let out = mariadb(
        port,
        USER,
        PASSWORD,
        &["--database=test", "-e", "SELECT DATABASE(), USER()"],
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "DATABASE()\tUSER()\ntest\ttester@127.0.0.1\n");

    let out = mariadb(port, USER, "wrong", &["-e", "SELECT 1"]).await;
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains(
            "ERROR 1045 (28000): Access denied for user 'tester'@'127.0.0.1' (using password: YES)"
        ),
        "{}",
        out.stderr
    );
}

/// sysbench transactions per run (18 prepared statements each).
const SB_EVENTS: u64 = 2000;

fn stat(output: &str, key: &str) -> Option<u64> {
    let line = output.lines().find(|l| l.trim_start().starts_with(key))?;
    line[line.find(':')? + 1..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sysbench_oltp_read_write_runs_clean() {
    let server = common::start(common::config()).await;
    let mut cmd = Command::new("sysbench");
    cmd.arg("oltp_read_write")
        .arg("--db-driver=mysql")
        .arg("--mysql-host=127.0.0.1")
        .arg(format!("--mysql-port={}", server.port()))
        .arg("--mysql-user=sbtest")
        .arg("--mysql-password=sbtest")
        .arg("--mysql-db=sbtest")
        .arg("--tables=1")
        .arg(format!("--table-size={TABLE_SIZE}"))
        .arg("--threads=4")
        // A fixed amount of work (a few seconds here), capped in time: the
        // outcome does not depend on how much CPU the machine gives us.
        .arg(format!("--events={SB_EVENTS}"))
        .arg("--time=120")
        .arg("--report-interval=0")
        .arg("run");
    let out = run(cmd, "sysbench").await;
    assert_eq!(
        out.code,
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
    let tx = stat(&out.stdout, "transactions:").expect("transactions line");
    assert_eq!(tx, SB_EVENTS, "{}", out.stdout);
    assert_eq!(
        stat(&out.stdout, "ignored errors:"),
        Some(0),
        "{}",
        out.stdout
    );
    assert_eq!(stat(&out.stdout, "reconnects:"), Some(0), "{}", out.stdout);

    // Every parameter the handler saw was one sysbench could have sent: a
    // misread re-executed statement shows up here.
    let anomalies = server.shared.anomalies.lock().unwrap().clone();
    assert!(
        anomalies.is_empty(),
        "decoded wrong parameters: {anomalies:#?}"
    );
    let unknown = server.shared.unknown.lock().unwrap().clone();
    assert!(unknown.is_empty(), "unexpected statements: {unknown:#?}");
    // Every DELETE was followed by its INSERT: the table is whole.
    let table = server.shared.sbtest.lock().unwrap();
    assert_eq!(table.len() as i64, TABLE_SIZE);
    assert!(table
        .values()
        .all(|r| is_sb_string(&r.c, 119) && is_sb_string(&r.pad, 59)));
}
