//! The differential SQL test (issue 10): the corpus in `tests/corpus` on a
//! private MariaDB 10.11 and on trireme, first one node, then a three-node
//! loopback cluster with the statements spread over the nodes; every
//! answer compared (see `trireme_tests::sqldiff`). Fails on any difference
//! that `tests/corpus/expected/*.fail` does not list, and on any listed
//! statement that now matches (the lists only shrink).
//!
//! Behind the `sqldiff-tests` feature: it needs `mariadbd` (Debian's
//! `mariadb-server`, installed by `tests/deps.sh --mariadb`) and the
//! `trireme` binary (`cargo build -j2 -p trireme-node`; found in
//! `$CARGO_TARGET_DIR/debug`, or `TRIREME_BIN`). Root is not needed.
//!
//! ```text
//! cargo build -j2 -p trireme-node
//! cargo test -j2 -p trireme-tests --features sqldiff-tests --test sql_differential -- --nocapture
//! ```
//!
//! `SQLDIFF_REFERENCE=mysql://root:pw@127.0.0.1:3306` uses that server as
//! the reference instead of starting one; `SQLDIFF_UPDATE=1` rewrites
//! `tests/corpus/expected/*.fail` from the single-node run (after trireme
//! learned something: review the diff of the lists, then commit it). The per-file tables and the work
//! list are written to `<target>/sqldiff/summary.md`, both answers of every
//! differing statement to `<target>/sqldiff/{single,cluster}/<file>.diff`.
#![cfg(feature = "sqldiff-tests")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mysql_async::prelude::*;
use trireme_tests::cluster::{self, Cluster, ClusterSpec, NetMode};
use trireme_tests::sqldiff;

const TRIREME_PW: &str = "sqldiff-trireme";
const MARIADB_PW: &str = "sqldiff";

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn binary() -> PathBuf {
    let b = std::env::var_os("TRIREME_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| trireme_tests::target_dir().join("debug/trireme"));
    assert!(
        b.exists(),
        "{} missing: run `cargo build -j2 -p trireme-node` first",
        b.display()
    );
    b
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A private MariaDB started by `tests/mariadb.sh`, stopped (by the pid the
/// script recorded) when dropped.
struct MariaDb {
    dir: PathBuf,
    url: String,
}

impl MariaDb {
    fn start(dir: &Path) -> MariaDb {
        let _ = std::fs::remove_dir_all(dir);
        let port = free_port();
        let out = Command::new("bash")
            .arg(crate_dir().join("mariadb.sh"))
            .arg("start")
            .arg(dir)
            .arg(port.to_string())
            .env("SQLDIFF_PASSWORD", MARIADB_PW)
            .output()
            .expect("run tests/mariadb.sh");
        assert!(
            out.status.success(),
            "tests/mariadb.sh start failed (install mariadb-server: tests/deps.sh --mariadb):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("{}", String::from_utf8_lossy(&out.stderr).trim());
        MariaDb {
            dir: dir.to_path_buf(),
            url: format!("mysql://root:{MARIADB_PW}@127.0.0.1:{port}"),
        }
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let stopped = Command::new("bash")
            .arg(crate_dir().join("mariadb.sh"))
            .arg("stop")
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success());
        if stopped {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Starts `n` trireme nodes on loopback and waits (bounded) until every
/// one is ready and sees all `n` members.
fn start_cluster(n: usize, base: &Path) -> Cluster {
    let run_id = cluster::new_run_id();
    let spec = ClusterSpec {
        run_id: run_id.clone(),
        nodes: n,
        net: NetMode::Loopback,
        binary: binary(),
        root_password: TRIREME_PW.into(),
        dir: base.join(&run_id),
        base_port: cluster::free_base_port(n).expect("free ports"),
        extra_config: String::new(),
    };
    let mut c = Cluster::create(spec).expect("create the cluster");
    c.start_all().expect("start the nodes");
    let urls = urls(&c);
    let rt = runtime();
    let deadline = Instant::now() + Duration::from_secs(120);
    for (i, url) in urls.iter().enumerate() {
        loop {
            assert!(
                c.is_running(i),
                "{} exited during start-up:\n{}",
                c.nodes[i].name,
                c.log_tail(i, 20)
            );
            let last = match rt.block_on(ready(url, n)) {
                Ok(()) => break,
                Err(e) => e,
            };
            assert!(
                Instant::now() < deadline,
                "{} not ready: {last}\n{}",
                c.nodes[i].name,
                c.log_tail(i, 20)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    c
}

async fn ready(url: &str, n: usize) -> Result<(), String> {
    let opts = sqldiff::exec::opts(url, None).map_err(|e| e.to_string())?;
    let mut c = tokio::time::timeout(Duration::from_secs(5), mysql_async::Conn::new(opts))
        .await
        .map_err(|_| "connect timeout".to_string())?
        .map_err(|e| e.to_string())?;
    let rows: Vec<(String, String)> = c
        .query("SHOW GLOBAL STATUS LIKE 'wsrep%'")
        .await
        .map_err(|e| e.to_string())?;
    let _ = c.disconnect().await;
    let get = |k: &str| rows.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    match (get("wsrep_ready"), get("wsrep_cluster_size")) {
        (Some(r), Some(s)) if r == "ON" && s == n.to_string() => Ok(()),
        other => Err(format!("wsrep_ready / wsrep_cluster_size = {other:?}")),
    }
}

fn urls(c: &Cluster) -> Vec<String> {
    c.nodes
        .iter()
        .map(|n| format!("mysql://root:{TRIREME_PW}@{}", n.mysql))
        .collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// One mode's run: the report, its table and work list, and its problems.
fn run_mode(
    name: &str,
    reference: &str,
    targets: Vec<String>,
    out: &Path,
) -> (sqldiff::Report, String, Vec<String>) {
    let corpus = crate_dir().join("corpus");
    let cfg = sqldiff::Config {
        reference: reference.to_string(),
        targets,
        expected: corpus.join("expected"),
        allowed: corpus.join("ALLOWED.md"),
        corpus,
        only: Vec::new(),
        sync_wait: 7,
        show_barrier: true,
        timeout: Duration::from_secs(30),
        keep: false,
        verbose: false,
    };
    let report = runtime()
        .block_on(sqldiff::run(&cfg))
        .unwrap_or_else(|e| panic!("{name}: the run failed: {e:#}"));
    // SQLDIFF_UPDATE=1 rewrites the lists from the single-node run (review
    // the diff of tests/corpus/expected before committing it).
    if name == "single" && std::env::var_os("SQLDIFF_UPDATE").is_some_and(|v| v == "1") {
        report
            .update(&cfg.expected, &cfg.allowed)
            .expect("rewrite the .fail lists");
        println!("rewrote {}", cfg.expected.display());
    }
    report
        .write_diffs(&out.join(name), &cfg.expected, &cfg.allowed)
        .expect("write the .diff files");
    let j = report
        .judge(&cfg.expected, &cfg.allowed)
        .expect("judge the run");
    let text = format!(
        "{}\n{}",
        sqldiff::render_table(&report.mode, &j, report.elapsed),
        report.worklist(40)
    );
    println!("{text}");
    let problems = j.problems.iter().map(|p| format!("[{name}] {p}")).collect();
    (report, text, problems)
}

#[test]
fn corpus_answers_match_mariadb_single_node_and_cluster() {
    let t0 = Instant::now();
    let out = trireme_tests::target_dir().join("sqldiff");
    std::fs::create_dir_all(&out).expect("create the output directory");
    let started;
    let reference = match std::env::var("SQLDIFF_REFERENCE") {
        Ok(url) if !url.is_empty() => {
            started = None;
            url
        }
        _ => {
            // Under the temporary directory, which the `mysql` user the
            // server runs as (when started by root) can reach.
            let m = MariaDb::start(
                &std::env::temp_dir()
                    .join(format!("trireme-sqldiff-mariadb-{}", std::process::id())),
            );
            let url = m.url.clone();
            started = Some(m);
            url
        }
    };
    let nodes_dir = out.join("nodes");

    let mut summary = String::new();
    let mut problems = Vec::new();
    let single = {
        let c = start_cluster(1, &nodes_dir);
        let (report, text, p) = run_mode("single", &reference, urls(&c), &out);
        summary.push_str(&text);
        problems.extend(p);
        report
    };
    {
        let c = start_cluster(3, &nodes_dir);
        let (report, text, p) = run_mode("cluster", &reference, urls(&c), &out);
        summary.push('\n');
        summary.push_str(&text);
        problems.extend(p);
        // Same answers: where the cluster differs from MariaDB, it differs
        // as the single node does.
        problems.extend(
            report
                .compare_with(&single)
                .into_iter()
                .map(|p| format!("[cluster vs single] {p}")),
        );
    }
    drop(started);
    // The node logs stay for a failed run (a cluster that lost its
    // primary component is diagnosed from them).
    if problems.is_empty() {
        let _ = std::fs::remove_dir_all(&nodes_dir);
    } else {
        println!("node logs kept under {}", nodes_dir.display());
    }
    summary.push_str(&format!(
        "\ndifferential step: {:.0} s in all\n",
        t0.elapsed().as_secs_f64()
    ));
    std::fs::write(out.join("summary.md"), &summary).expect("write summary.md");
    println!("differential step: {:.0} s", t0.elapsed().as_secs_f64());
    assert!(
        problems.is_empty(),
        "{} problems (answers in {}/{{single,cluster}}/<file>.diff; \
         `cargo run -p trireme-tests --bin sqldiff -- --help` reruns one file):\n{}",
        problems.len(),
        out.display(),
        problems.join("\n")
    );
}
