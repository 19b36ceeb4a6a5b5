//! Loopback benchmarks of the wire server with the in-memory test handler:
//!
//! 1. round-trip latency of `SELECT 1` (text protocol), p50/p99, one client;
//! 2. point-select throughput (`SELECT c FROM sbtest1 WHERE id=?`,
//!    prepared) with 8 client connections.
//!
//! Both with mysql_async as the client. Run:
//!
//! ```text
//! cargo bench -p trireme-wire --bench loopback
//! cargo bench -p trireme-wire --bench loopback -- --external 127.0.0.1:3306 --user sbtest --password sbtest --db sbtest
//! ```
//!
//! `--external` measures another server (e.g. MariaDB with a sysbench
//! `sbtest1` table) the same way. Client and server share the machine's
//! cores, so the numbers include the client's own cost.

#[path = "../tests/it/common.rs"]
#[allow(dead_code)]
mod common;

use std::time::{Duration, Instant};

use mysql_async::prelude::*;
use mysql_async::{Conn, Opts, OptsBuilder};

struct Args {
    external: Option<String>,
    user: String,
    password: String,
    db: String,
    latency_iters: usize,
    seconds: u64,
    clients: usize,
}

fn args() -> Args {
    let mut a = Args {
        external: None,
        user: common::USER.to_string(),
        password: common::PASSWORD.to_string(),
        db: "sbtest".to_string(),
        latency_iters: 20_000,
        seconds: 10,
        clients: 8,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().expect("missing value");
        match k.as_str() {
            "--external" => a.external = Some(v()),
            "--user" => a.user = v(),
            "--password" => a.password = v(),
            "--db" => a.db = v(),
            "--iters" => a.latency_iters = v().parse().unwrap(),
            "--seconds" => a.seconds = v().parse().unwrap(),
            "--clients" => a.clients = v().parse().unwrap(),
            _ => {} // cargo bench passes --bench
        }
    }
    a
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    let a = args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let (_server, host, port) = match &a.external {
            Some(addr) => {
                let (h, p) = addr.rsplit_once(':').expect("host:port");
                (None, h.to_string(), p.parse().unwrap())
            }
            None => {
                let s = common::start(common::config()).await;
                let port = s.port();
                (Some(s), "127.0.0.1".to_string(), port)
            }
        };
        let opts: Opts = OptsBuilder::default()
            .ip_or_hostname(host.clone())
            .tcp_port(port)
            .user(Some(a.user.clone()))
            .pass(Some(a.password.clone()))
            .db_name(Some(a.db.clone()))
            .prefer_socket(false)
            .into();
        let target = a
            .external
            .clone()
            .unwrap_or_else(|| "trireme-wire test handler".into());
        println!("target: {target}");

        // 1. SELECT 1 latency.
        let mut conn = Conn::new(opts.clone()).await.unwrap();
        for _ in 0..1000 {
            let _: Option<i64> = conn.query_first("SELECT 1").await.unwrap();
        }
        let mut samples = Vec::with_capacity(a.latency_iters);
        for _ in 0..a.latency_iters {
            let t = Instant::now();
            let v: Option<i64> = conn.query_first("SELECT 1").await.unwrap();
            samples.push(t.elapsed());
            assert_eq!(v, Some(1));
        }
        samples.sort();
        println!(
            "SELECT 1 round trip ({} iters, 1 conn): p50 {:?}  p99 {:?}  max {:?}",
            a.latency_iters,
            pct(&samples, 0.50),
            pct(&samples, 0.99),
            samples[samples.len() - 1]
        );
        conn.disconnect().await.unwrap();

        // 2. Point-select throughput with N connections.
        let deadline = Instant::now() + Duration::from_secs(a.seconds);
        let mut tasks = Vec::new();
        for t in 0..a.clients {
            let opts = opts.clone();
            tasks.push(tokio::spawn(async move {
                let mut conn = Conn::new(opts).await.unwrap();
                let stmt = conn.prep("SELECT c FROM sbtest1 WHERE id=?").await.unwrap();
                let mut n = 0u64;
                let mut id = 1 + t as i64;
                while Instant::now() < deadline {
                    let c: Option<Vec<u8>> = conn.exec_first(&stmt, (id,)).await.unwrap();
                    assert!(c.is_some());
                    id = id % 1000 + 1;
                    n += 1;
                }
                conn.disconnect().await.unwrap();
                n
            }));
        }
        let start = Instant::now();
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "point select, {} conns, {:.1}s: {} queries, {:.0} q/s",
            a.clients,
            secs,
            total,
            total as f64 / secs
        );
    });
}
