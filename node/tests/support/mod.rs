//! Shared helpers of the node's integration tests: an in-process node on an
//! ephemeral loopback port, and mysql_async connections to it.

#![allow(dead_code)]

pub mod cluster;

use mysql_async::prelude::*;
use mysql_async::{Conn, Opts};
use trireme_node::config::Config;
use trireme_node::server::{self, Running};

pub const ROOT_PW: &str = "test-pw";

/// Starts a single node in this process, listening on 127.0.0.1:<any>.
pub async fn start_node() -> Running {
    let cfg = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        root_password: ROOT_PW.to_string(),
        data_dir: std::env::temp_dir().join(format!("trireme-test-{}", std::process::id())),
        ..Config::default()
    };
    server::start_single(cfg).await.expect("node starts")
}

pub fn url(r: &Running, db: Option<&str>) -> String {
    format!(
        "mysql://root:{ROOT_PW}@127.0.0.1:{}/{}",
        r.addr.port(),
        db.unwrap_or("")
    )
}

pub async fn connect(r: &Running, db: Option<&str>) -> Conn {
    let opts = Opts::from_url(&url(r, db)).expect("valid url");
    Conn::new(opts).await.expect("connects")
}

/// The MySQL error code of a failed call.
pub fn code<T: std::fmt::Debug>(r: mysql_async::Result<T>) -> u16 {
    match r {
        Err(mysql_async::Error::Server(e)) => e.code,
        other => panic!("expected a server error, got {other:?}"),
    }
}

/// Creates database `db` with `CREATE TABLE t (id INT PRIMARY KEY, v INT)`
/// holding rows (1, 10), (2, 20), (3, 30).
pub async fn setup_kv(r: &Running, db: &str) -> Conn {
    let mut c = connect(r, None).await;
    c.query_drop(format!("CREATE DATABASE {db}")).await.unwrap();
    c.query_drop(format!("USE {db}")).await.unwrap();
    c.query_drop("CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL)")
        .await
        .unwrap();
    c.query_drop("INSERT INTO t VALUES (1, 10), (2, 20), (3, 30)")
        .await
        .unwrap();
    c
}

pub async fn value_of(c: &mut Conn, id: i64) -> Option<i64> {
    c.exec_first("SELECT v FROM t WHERE id = ?", (id,))
        .await
        .unwrap()
}
