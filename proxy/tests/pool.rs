//! Pool mode (`auth = "pool"`) over real loopback sockets: the proxy
//! authenticates clients itself and multiplexes them over a bounded pool
//! of backend connections to toy nodes (see `support`), which count the
//! pool's sessions (user `root`) and track transactions, autocommit, user
//! variables and the current database like a server.
//!
//! Health checks are stepped by hand, as in `proxy.rs`.

mod support;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use mysql_async::prelude::Queryable;
use support::*;
use tokio::sync::Barrier;
use trireme_proxy::{AuthMode, Balance, ProxyConfig, UserConfig};

const APP: &str = "app";
const APP_PASSWORD: &str = "app-pw";

/// Pool mode in front of `nodes`: one account, `app`, the pool logging in
/// as `root` (the toy nodes count its sessions), `size` connections per
/// backend.
fn pool_config(nodes: &[&ToyNode], size: usize) -> ProxyConfig {
    let mut c = config(nodes);
    c.auth = AuthMode::Pool;
    c.users = vec![
        UserConfig {
            name: APP.into(),
            password_hash: trireme_proxy::hash_password(APP_PASSWORD),
        },
        UserConfig {
            name: "nopw".into(),
            password_hash: String::new(),
        },
    ];
    c.pool.user = USER.into();
    c.pool.password = PASSWORD.into();
    c.pool.size = size;
    c.pool.wait_timeout_ms = 120_000;
    c
}

async fn app(addr: std::net::SocketAddr) -> mysql_async::Conn {
    mysql_async::Conn::new(opts(addr, APP, APP_PASSWORD))
        .await
        .expect("log in as app through the proxy")
}

const CLIENTS: usize = 1000;

fn clients() -> usize {
    std::env::var("POOL_TEST_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CLIENTS)
}

/// 1,000 clients, all logged in and open at once, each running autocommit
/// statements and a transaction, share 30 backend connections (10 per
/// node): no node ever sees more than 10 pool sessions, every answer is
/// the client's own, and a transaction's statements all run on one
/// backend connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_clients_share_thirty_backend_connections() {
    bounded(async {
        let nodes = [
            ToyNode::start(1).await,
            ToyNode::start(2).await,
            ToyNode::start(3).await,
        ];
        let mut cfg = pool_config(&nodes.iter().collect::<Vec<_>>(), 10);
        cfg.balance = Balance::RoundRobin;
        let proxy = trireme_proxy::run(cfg).await.unwrap();
        let addr = proxy.listen_addr();
        // Every client logs in, then waits until all are logged in, so
        // all 1,000 are open at once when the statements start.
        let n_clients = clients();
        let all_in = Arc::new(Barrier::new(n_clients + 1));
        let mut tasks = Vec::new();
        for i in 0..n_clients {
            let all_in = all_in.clone();
            tasks.push(tokio::spawn(async move {
                let mut c = app(addr).await;
                all_in.wait().await;
                for k in 0..3 {
                    let n = (i * 10 + k) as i64;
                    let got: Option<i64> = c.query_first(format!("SELECT {n}")).await.unwrap();
                    assert_eq!(got, Some(n), "client {i} got another client's answer");
                }
                c.query_drop("BEGIN").await.unwrap();
                let mut ids = Vec::new();
                for _ in 0..3 {
                    let id: Option<u32> = c.query_first("SELECT CONNECTION_ID()").await.unwrap();
                    ids.push(id.unwrap());
                    tokio::task::yield_now().await;
                }
                c.query_drop("COMMIT").await.unwrap();
                assert!(
                    ids.iter().all(|&x| x == ids[0]),
                    "client {i}: one transaction ran on several backend connections: {ids:?}"
                );
                c
            }));
        }
        all_in.wait().await;
        let mut conns = Vec::with_capacity(n_clients);
        for t in tasks {
            conns.push(t.await.expect("a client failed"));
        }
        let mut total_max = 0;
        let mut queries = 0;
        for n in &nodes {
            let max = n.state.root_sessions_max.load(Ordering::SeqCst);
            assert!(max <= 10, "node {} saw {max} pool connections at once", n.id);
            total_max += max;
            queries += n.state.root_queries.load(Ordering::SeqCst);
        }
        assert!(total_max <= 30, "{total_max} pool connections");
        // Every client statement reached a node (3 + BEGIN + 3 + COMMIT
        // each, plus the driver's settings query at connect).
        assert!(queries >= (n_clients * 9) as u64, "{queries} statements ran");
        let st = proxy.status();
        println!(
            "{n_clients} clients over at most {total_max} backend connections; {queries} statements; {st}"
        );
        for c in conns {
            c.disconnect().await.unwrap();
        }
        proxy.shutdown().await;
    })
    .await;
}

/// The proxy checks passwords itself: a wrong password or an unknown user
/// is ERROR 1045 (28000) "Access denied for user ...", without touching a
/// backend; an account without a password logs in with none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_are_checked_by_the_proxy() {
    bounded(async {
        let a = ToyNode::start(1).await;
        let proxy = trireme_proxy::run(pool_config(&[&a], 2)).await.unwrap();
        let addr = proxy.listen_addr();
        for (user, pw) in [(APP, "wrong"), ("nobody", APP_PASSWORD), (APP, "")] {
            let err = mysql_async::Conn::new(opts(addr, user, pw))
                .await
                .expect_err("the login must fail");
            match &err {
                mysql_async::Error::Server(s) => {
                    assert_eq!((s.code, s.state.as_str()), (1045, "28000"), "{err:?}");
                    assert!(
                        s.message
                            .starts_with(&format!("Access denied for user '{user}'@")),
                        "{}",
                        s.message
                    );
                }
                other => panic!("expected ERROR 1045, got {other:?}"),
            }
        }
        assert_eq!(a.state.root_sessions_max.load(Ordering::SeqCst), 0);
        let mut c = mysql_async::Conn::new(opts(addr, "nopw", ""))
            .await
            .unwrap();
        assert_eq!(server_id(&mut c).await.unwrap(), 1);
        c.disconnect().await.unwrap();
        let mut c = app(addr).await;
        c.ping().await.unwrap();
        c.reset().await.unwrap();
        assert_eq!(server_id(&mut c).await.unwrap(), 1);
        c.disconnect().await.unwrap();
        proxy.shutdown().await;
    })
    .await;
}

/// With one backend connection: a transaction holds it (a second client
/// waits, then gets ERROR 1040 after `pool.wait_timeout_ms` and can try
/// again), autocommit = 0 holds it until autocommit is back on, `USE` is
/// carried to whichever client borrows the connection, and a user
/// variable pins its session to a connection of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_hold_and_session_state_pins() {
    bounded(async {
        let a = ToyNode::start(1).await;
        let mut cfg = pool_config(&[&a], 1);
        cfg.pool.wait_timeout_ms = 300;
        let proxy = trireme_proxy::run(cfg).await.unwrap();
        let addr = proxy.listen_addr();
        let (mut x, mut y) = (app(addr).await, app(addr).await);

        x.query_drop("BEGIN").await.unwrap();
        let err = y
            .query_drop("SELECT 1")
            .await
            .expect_err("no free connection");
        match &err {
            mysql_async::Error::Server(s) => {
                assert_eq!((s.code, s.state.as_str()), (1040, "08004"), "{err:?}");
                assert!(
                    s.message.contains("no free backend connection"),
                    "{}",
                    s.message
                );
            }
            other => panic!("expected ERROR 1040, got {other:?}"),
        }
        x.query_drop("COMMIT").await.unwrap();
        let one: Option<i64> = y.query_first("SELECT 1").await.unwrap();
        assert_eq!(one, Some(1));

        x.query_drop("SET autocommit = 0").await.unwrap();
        assert!(
            y.query_drop("SELECT 2").await.is_err(),
            "autocommit = 0 must hold the connection"
        );
        x.query_drop("SET autocommit = 1").await.unwrap();
        y.query_drop("SELECT 2").await.unwrap();

        x.query_drop("USE shop").await.unwrap();
        y.query_drop("USE depot").await.unwrap();
        for _ in 0..3 {
            let db: Option<String> = x.query_first("SELECT DATABASE()").await.unwrap();
            assert_eq!(db.as_deref(), Some("shop"));
            let db: Option<String> = y.query_first("SELECT DATABASE()").await.unwrap();
            assert_eq!(db.as_deref(), Some("depot"));
        }
        let err = x
            .query_drop("USE missing")
            .await
            .expect_err("unknown database");
        assert!(
            matches!(&err, mysql_async::Error::Server(s) if s.code == 1049),
            "{err:?}"
        );
        let db: Option<String> = x.query_first("SELECT DATABASE()").await.unwrap();
        assert_eq!(db.as_deref(), Some("shop"));
        // The pool's bound of one is what the 1040s above prove. The node's
        // own count may briefly see two: a connection the pool replaced
        // (one with another database selected is closed, not reused) is
        // counted until the node reads its close, which on a loaded machine
        // can come after the replacement's login (seen once in CI).
        let seen = a.state.root_sessions_max.load(Ordering::SeqCst);
        assert!(
            (1..=2).contains(&seen),
            "node saw {seen} pool sessions at once"
        );

        // A user variable pins x to the one connection; y then waits in
        // vain, and gets it back once x is gone.
        x.query_drop("SET @v = 42").await.unwrap();
        let v: Option<i64> = x.query_first("SELECT @v").await.unwrap();
        assert_eq!(v, Some(42));
        assert!(y.query_drop("SELECT 3").await.is_err());
        x.disconnect().await.unwrap();
        let three: Option<i64> = y.query_first("SELECT 3").await.unwrap();
        assert_eq!(three, Some(3));
        y.disconnect().await.unwrap();
        proxy.shutdown().await;
    })
    .await;
}

/// A node dies with pooled connections to it: an autocommit statement is
/// moved to the next node without an error (the dead connection is found
/// before anything is sent to it); a transaction on the dead node gets
/// ERROR 2013 "Lost connection to backend during transaction", and the
/// client's next transaction runs on the next node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_node_costs_a_transaction_but_no_autocommit_statement() {
    bounded(async {
        let (mut a, b) = (ToyNode::start(1).await, ToyNode::start(2).await);
        let proxy = trireme_proxy::run(pool_config(&[&a, &b], 4)).await.unwrap();
        let addr = proxy.listen_addr();
        let (mut x, mut y) = (app(addr).await, app(addr).await);
        assert_eq!(server_id(&mut x).await.unwrap(), 1);
        y.query_drop("BEGIN").await.unwrap();
        assert_eq!(server_id(&mut y).await.unwrap(), 1);

        // Node 1 goes away: its port refuses, its sessions are closed.
        a.stop_listening().await;
        a.kill_sessions();
        eventually(|| a.state.root_sessions.load(Ordering::SeqCst) == 0).await;

        assert_eq!(
            server_id(&mut x).await.unwrap(),
            2,
            "autocommit statement not moved"
        );
        let err = server_id(&mut y)
            .await
            .expect_err("the transaction is gone");
        match &err {
            mysql_async::Error::Server(s) => {
                assert_eq!(s.code, 2013, "{err:?}");
                assert_eq!(s.message, "Lost connection to backend during transaction");
            }
            other => panic!("expected ERROR 2013, got {other:?}"),
        }
        y.query_drop("BEGIN").await.unwrap();
        assert_eq!(server_id(&mut y).await.unwrap(), 2);
        y.query_drop("COMMIT").await.unwrap();
        proxy.check_now().await;
        let st = proxy.status();
        assert_eq!(
            st.writer.as_deref(),
            Some(b.addr.to_string().as_str()),
            "{st}"
        );
        x.disconnect().await.unwrap();
        y.disconnect().await.unwrap();
        proxy.shutdown().await;
    })
    .await;
}

/// A node that refuses statements (1047, not ready: nothing ran) is not
/// an error for an autocommit statement: it is tried again until the
/// monitor takes the node out, then runs on the next one. Inside a
/// transaction the refusal is the client's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_node_is_waited_out_for_autocommit_statements() {
    bounded(async {
        let (a, b) = (ToyNode::start(1).await, ToyNode::start(2).await);
        let proxy = trireme_proxy::run(pool_config(&[&a, &b], 4)).await.unwrap();
        let addr = proxy.listen_addr();
        let (mut x, mut y) = (app(addr).await, app(addr).await);
        y.query_drop("BEGIN").await.unwrap();
        assert_eq!(server_id(&mut y).await.unwrap(), 1);
        a.state.refuse.store(true, Ordering::SeqCst);
        let err = server_id(&mut y)
            .await
            .expect_err("refused inside the transaction");
        assert!(
            matches!(&err, mysql_async::Error::Server(s) if s.code == 1047),
            "{err:?}"
        );

        let before = a.state.root_queries.load(Ordering::SeqCst);
        let statement = tokio::spawn(async move {
            let id = server_id(&mut x).await;
            (x, id)
        });
        // The statement keeps being refused until node 1 is marked down.
        eventually(|| a.state.root_queries.load(Ordering::SeqCst) >= before + 2).await;
        a.set_local_state(1);
        for _ in 0..3 {
            proxy.check_now().await;
        }
        let (x, id) = statement.await.unwrap();
        assert_eq!(id.expect("no error for the autocommit statement"), 2);
        x.disconnect().await.unwrap();
        drop(y);
        proxy.shutdown().await;
    })
    .await;
}

/// With `pool.tls_cert`, pool mode terminates client TLS: the greeting
/// offers it, a client that asks logs in and runs statements over TLS
/// (verifying the proxy's certificate), a plain client still works, and
/// without a certificate an SSLRequest gets ERROR 1043.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_mode_terminates_client_tls() {
    use rustls::pki_types::ServerName;
    use trireme_wire::client::{Client, ClientError, ClientOptions, ClientTls};
    use trireme_wire::StmtResult;

    bounded(async {
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let dir =
            std::env::temp_dir().join(format!("trireme-proxy-pool-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, ck.cert.pem()).unwrap();
        std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(rustls::pki_types::CertificateDer::from(
                ck.cert.der().to_vec(),
            ))
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let client_tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let tls = ClientTls {
            config: Arc::new(client_tls),
            server_name: ServerName::try_from("localhost").unwrap(),
        };

        let a = ToyNode::start(4).await;
        let mut cfg = pool_config(&[&a], 2);
        cfg.pool.tls_cert = cert.to_str().unwrap().into();
        cfg.pool.tls_key = key.to_str().unwrap().into();
        let proxy = trireme_proxy::run(cfg).await.unwrap();
        let addr = proxy.listen_addr().to_string();
        let mut opts = ClientOptions::new(APP, APP_PASSWORD);
        opts.tls = Some(tls.clone());
        let mut c = Client::connect(&addr, &opts).await.expect("TLS login");
        for _ in 0..3 {
            match c.query_one("SELECT @@server_id").await.unwrap() {
                StmtResult::Rows { rows, .. } => {
                    assert_eq!(rows, vec![vec![trireme_wire::Value::Bytes(b"4".to_vec())]])
                }
                other => panic!("{other:?}"),
            }
        }
        c.quit().await.unwrap();
        // A wrong password over TLS is refused like in the clear.
        let mut wrong = ClientOptions::new(APP, "nope");
        wrong.tls = Some(tls.clone());
        match Client::connect(&addr, &wrong).await {
            Err(ClientError::Server(e)) => assert_eq!(e.code, 1045),
            other => panic!("expected 1045, got {:?}", other.map(|_| ())),
        }
        let mut plain = app(proxy.listen_addr()).await;
        assert_eq!(server_id(&mut plain).await.unwrap(), 4);
        plain.disconnect().await.unwrap();
        assert_eq!(proxy.status().sessions.tls_terminated, 2);
        proxy.shutdown().await;

        // No certificate: no TLS offered, and an SSLRequest is refused.
        let proxy = trireme_proxy::run(pool_config(&[&a], 2)).await.unwrap();
        let addr = proxy.listen_addr().to_string();
        match Client::connect(&addr, &opts).await {
            Err(ClientError::Wire(e)) => assert!(e.to_string().contains("TLS"), "{e}"),
            other => panic!("expected a TLS refusal, got {:?}", other.map(|_| ())),
        }
        proxy.shutdown().await;
        std::fs::remove_dir_all(&dir).unwrap();
    })
    .await;
}

/// `ROW_COUNT()` (like `FOUND_ROWS()` and warnings) runs on the connection
/// that ran the client's previous statement; when another client has used
/// that connection since, the client gets ERROR 1105 instead of the other
/// client's answer. (The toy node answers `SELECT ROW_COUNT()` with its
/// connection id.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_count_never_answers_for_another_client() {
    bounded(async {
        let a_node = ToyNode::start(6).await;
        let proxy = trireme_proxy::run(pool_config(&[&a_node], 1))
            .await
            .unwrap();
        let mut a = app(proxy.listen_addr()).await;
        let mut b = app(proxy.listen_addr()).await;
        let k: Option<i64> = a.query_first("SELECT CONNECTION_ID()").await.unwrap();
        let rc: Option<i64> = a.query_first("SELECT ROW_COUNT()").await.unwrap();
        assert_eq!(rc, k, "nothing ran in between: the same connection answers");
        let n: Option<i64> = b.query_first("SELECT 1").await.unwrap();
        assert_eq!(n, Some(1));
        let e = a
            .query_first::<i64, _>("SELECT ROW_COUNT()")
            .await
            .expect_err("b's statement ran on a's connection in between");
        assert_eq!(server_code(&e), Some(1105), "{e}");
        // The session goes on; after its own next statement it works again.
        let n: Option<i64> = a.query_first("SELECT 2").await.unwrap();
        assert_eq!(n, Some(2));
        let rc: Option<i64> = a.query_first("SELECT ROW_COUNT()").await.unwrap();
        assert_eq!(rc, k);
        a.disconnect().await.unwrap();
        b.disconnect().await.unwrap();
        proxy.shutdown().await;
    })
    .await;
}
