//! End-to-end behaviour of the proxy over real loopback sockets, against
//! toy nodes (see `support`) and a real driver (mysql_async).
//!
//! Health checks are stepped by hand (`check_now`, with the periodic
//! interval set to an hour), so every assertion about "after `fall`
//! checks" is exact and nothing depends on timing.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use trireme_proxy::{Balance, Health};
use trireme_wire::AuthPlugin;

/// Clients reach the writer (the first node); authentication is end to
/// end: a wrong password is the backend's own ERROR 1045, relayed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_reach_the_writer_and_auth_is_end_to_end() {
    bounded(async {
        let (a, b, c) = (
            ToyNode::start(1).await,
            ToyNode::start(2).await,
            ToyNode::start(3).await,
        );
        let proxy = trireme_proxy::run(config(&[&a, &b, &c])).await.unwrap();
        let addr = proxy.listen_addr();
        let st = proxy.status();
        assert_eq!(st.up_count(), 3, "{st}");
        assert_eq!(st.writer.as_deref(), Some(a.addr.to_string().as_str()));

        let mut held = Vec::new();
        for _ in 0..4 {
            let mut conn = connect(addr).await.unwrap();
            assert_eq!(server_id(&mut conn).await.unwrap(), 1);
            held.push(conn);
        }
        let st = proxy.status();
        assert_eq!(st.backends[0].active_write_sessions, 4, "{st}");
        assert_eq!(st.backends[1].active_write_sessions, 0, "{st}");

        let err = mysql_async::Conn::new(opts(addr, USER, "wrong"))
            .await
            .expect_err("wrong password must fail");
        assert_eq!(server_code(&err), Some(1045), "{err:?}");
        let err = mysql_async::Conn::new(opts(addr, "nobody", PASSWORD))
            .await
            .expect_err("unknown user must fail");
        assert_eq!(server_code(&err), Some(1045), "{err:?}");
        assert_eq!(proxy.status().backends[0].auth_failures, 2);

        for conn in held {
            conn.disconnect().await.unwrap();
        }
        proxy.shutdown().await;
    })
    .await;
}

/// caching_sha2_password's fast path (`01 03` then OK) passes the relay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caching_sha2_login_is_relayed() {
    bounded(async {
        let a = ToyNode::start_with(7, AuthPlugin::CachingSha2Password).await;
        let proxy = trireme_proxy::run(config(&[&a])).await.unwrap();
        assert_eq!(lands_on(proxy.listen_addr()).await, 7);
        let err = mysql_async::Conn::new(opts(proxy.listen_addr(), USER, "wrong"))
            .await
            .expect_err("wrong password must fail");
        assert_eq!(server_code(&err), Some(1045), "{err:?}");
        proxy.shutdown().await;
    })
    .await;
}

/// A client asking for TLS gets it end to end with the node: the proxy
/// relays the SSLRequest and then opaque bytes, and the client verifies
/// the node's own certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_is_passed_through_end_to_end() {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
    use trireme_wire::client::{Client, ClientOptions, ClientTls};
    use trireme_wire::StmtResult;

    bounded(async {
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let cert = CertificateDer::from(ck.cert.der().to_vec());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).unwrap();
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();

        let a = ToyNode::start_tls(5, std::sync::Arc::new(server)).await;
        let proxy = trireme_proxy::run(config(&[&a])).await.unwrap();
        let mut opts = ClientOptions::new(USER, PASSWORD);
        opts.tls = Some(ClientTls {
            config: std::sync::Arc::new(client),
            server_name: ServerName::try_from("localhost").unwrap(),
        });
        let mut c = Client::connect(&proxy.listen_addr().to_string(), &opts)
            .await
            .unwrap();
        match c.query_one("SELECT @@server_id").await.unwrap() {
            StmtResult::Rows { rows, .. } => {
                assert_eq!(rows, vec![vec![trireme_wire::Value::Bytes(b"5".to_vec())]])
            }
            other => panic!("{other:?}"),
        }
        c.quit().await.unwrap();
        assert_eq!(proxy.status().sessions.tls_passthrough, 1);
        proxy.shutdown().await;
    })
    .await;
}

/// The writer leaves Synced: it stays the writer for `fall - 1` failed
/// checks, is marked down on the `fall`-th, new sessions go to the next
/// node and the old writer's sessions are closed. When it is Synced again
/// it comes back after exactly `rise` good checks (failback), and the
/// interim writer's sessions are closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writer_fails_over_after_fall_checks_and_back_after_rise() {
    bounded(async {
        let (a, b, c) = (
            ToyNode::start(1).await,
            ToyNode::start(2).await,
            ToyNode::start(3).await,
        );
        let proxy = trireme_proxy::run(config(&[&a, &b, &c])).await.unwrap();
        let addr = proxy.listen_addr();
        let mut on_a = connect(addr).await.unwrap();
        assert_eq!(server_id(&mut on_a).await.unwrap(), 1);

        a.set_local_state(2); // Donor/Desynced
        for failed in 1..=2 {
            proxy.check_now().await;
            let st = proxy.status();
            assert_eq!(
                st.backends[0].health,
                Health::Up,
                "after {failed} failed: {st}"
            );
            assert_eq!(st.backends[0].bad_in_a_row, failed);
            assert_eq!(lands_on(addr).await, 1);
        }
        // The old session is untouched while the node is still up.
        assert_eq!(server_id(&mut on_a).await.unwrap(), 1);
        proxy.check_now().await;
        let st = proxy.status();
        assert_eq!(st.backends[0].health, Health::Down, "{st}");
        assert!(st.backends[0]
            .last_check
            .as_ref()
            .and_then(|c| c.error.as_deref())
            .is_some_and(|e| e.contains("wsrep_local_state = 2")));
        assert_eq!(st.writer.as_deref(), Some(b.addr.to_string().as_str()));
        assert_eq!(lands_on(addr).await, 2);
        // Sessions on the node marked down were closed by the proxy.
        assert!(server_id(&mut on_a).await.is_err());
        drop(on_a);

        let mut on_b = connect(addr).await.unwrap();
        assert_eq!(server_id(&mut on_b).await.unwrap(), 2);
        a.set_local_state(4);
        proxy.check_now().await;
        assert_eq!(proxy.status().backends[0].health, Health::Down);
        assert_eq!(lands_on(addr).await, 2);
        proxy.check_now().await;
        let st = proxy.status();
        assert_eq!(st.backends[0].health, Health::Up, "{st}");
        assert_eq!(st.writer.as_deref(), Some(a.addr.to_string().as_str()));
        assert_eq!(lands_on(addr).await, 1);
        // The interim writer's write-port sessions were closed on failback.
        assert!(server_id(&mut on_b).await.is_err());
        drop(on_b);
        assert!(proxy.status().sessions.closed_by_proxy >= 2);
        proxy.shutdown().await;
    })
    .await;
}

/// `writer_failback = false` keeps the interim writer when the preferred
/// node returns; `available_when_donor` counts Donor/Desynced as healthy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writer_policy_options() {
    bounded(async {
        let (a, b) = (ToyNode::start(1).await, ToyNode::start(2).await);
        let mut cfg = config(&[&a, &b]);
        cfg.writer_failback = false;
        cfg.monitor.rise = 1;
        cfg.monitor.fall = 1;
        let proxy = trireme_proxy::run(cfg.clone()).await.unwrap();
        a.set_local_state(1);
        proxy.check_now().await;
        assert_eq!(lands_on(proxy.listen_addr()).await, 2);
        a.set_local_state(4);
        proxy.check_now().await;
        let st = proxy.status();
        assert_eq!(st.up_count(), 2, "{st}");
        assert_eq!(st.writer.as_deref(), Some(b.addr.to_string().as_str()));
        assert_eq!(lands_on(proxy.listen_addr()).await, 2);
        proxy.shutdown().await;

        cfg.monitor.available_when_donor = true;
        a.set_local_state(2);
        let proxy = trireme_proxy::run(cfg).await.unwrap();
        let st = proxy.status();
        assert_eq!(st.up_count(), 2, "{st}");
        assert_eq!(lands_on(proxy.listen_addr()).await, 1);
        proxy.shutdown().await;
    })
    .await;
}

/// `wsrep_ready = OFF` and a non-Synced first check keep a node out from
/// the start; with no node up, clients get ERROR 1047 instead of a
/// greeting, and the admin health endpoint says 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_healthy_backend_refuses_with_1047() {
    bounded(async {
        let (a, b) = (ToyNode::start(1).await, ToyNode::start(2).await);
        a.state
            .ready
            .store(false, std::sync::atomic::Ordering::SeqCst);
        b.set_local_state(1); // Joining
        let mut cfg = config(&[&a, &b]);
        cfg.admin_listen = Some("127.0.0.1:0".into());
        let proxy = trireme_proxy::run(cfg).await.unwrap();
        let st = proxy.status();
        assert_eq!(st.up_count(), 0, "{st}");
        assert_eq!(st.writer, None);
        let err = connect(proxy.listen_addr()).await.expect_err("no backend");
        assert_eq!(server_code(&err), Some(1047), "{err:?}");
        let health = http_get(proxy.admin_addr().unwrap(), "/health").await;
        assert!(health.starts_with("HTTP/1.0 503"), "{health}");
        assert_eq!(proxy.status().sessions.refused_no_backend, 1);

        // rise = 2 good checks bring b up.
        b.set_local_state(4);
        proxy.check_now().await;
        assert_eq!(proxy.status().up_count(), 0);
        proxy.check_now().await;
        assert_eq!(proxy.status().up_count(), 1);
        assert_eq!(lands_on(proxy.listen_addr()).await, 2);
        let health = http_get(proxy.admin_addr().unwrap(), "/health").await;
        assert!(health.starts_with("HTTP/1.0 200"), "{health}");
        proxy.shutdown().await;
    })
    .await;
}

/// With `balance = "least_conn"` held sessions spread evenly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_conn_spreads_sessions() {
    bounded(async {
        let (a, b, c) = (
            ToyNode::start(1).await,
            ToyNode::start(2).await,
            ToyNode::start(3).await,
        );
        let mut cfg = config(&[&a, &b, &c]);
        cfg.balance = Balance::LeastConn;
        let proxy = trireme_proxy::run(cfg).await.unwrap();
        assert_eq!(proxy.status().writer, None);
        let mut held = Vec::new();
        let mut per_node = BTreeMap::new();
        for _ in 0..6 {
            let mut conn = connect(proxy.listen_addr()).await.unwrap();
            *per_node
                .entry(server_id(&mut conn).await.unwrap())
                .or_insert(0) += 1;
            held.push(conn);
        }
        assert_eq!(per_node, BTreeMap::from([(1, 2), (2, 2), (3, 2)]));
        let st = proxy.status();
        for b in &st.backends {
            assert_eq!(b.active_write_sessions, 2, "{st}");
        }
        for conn in held {
            conn.disconnect().await.unwrap();
        }
        proxy.shutdown().await;
    })
    .await;
}

/// The read port round-robins over healthy nodes, skips a node marked
/// down, and with `writer_is_also_reader = false` avoids the writer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_port_spreads_over_healthy_nodes() {
    bounded(async {
        let (a, b, c) = (
            ToyNode::start(1).await,
            ToyNode::start(2).await,
            ToyNode::start(3).await,
        );
        let mut cfg = config(&[&a, &b, &c]);
        cfg.read_listen = Some("127.0.0.1:0".into());
        cfg.monitor.fall = 1;
        let proxy = trireme_proxy::run(cfg.clone()).await.unwrap();
        let read = proxy.read_listen_addr().unwrap();
        let mut seen = Vec::new();
        for _ in 0..6 {
            seen.push(lands_on(read).await);
        }
        let mut counts = BTreeMap::new();
        for id in &seen {
            *counts.entry(*id).or_insert(0) += 1;
        }
        assert_eq!(counts, BTreeMap::from([(1, 2), (2, 2), (3, 2)]), "{seen:?}");
        // The write port is unaffected: still the writer.
        assert_eq!(lands_on(proxy.listen_addr()).await, 1);

        c.set_local_state(3); // Joined: not Synced
        proxy.check_now().await;
        for _ in 0..4 {
            assert_ne!(lands_on(read).await, 3);
        }
        proxy.shutdown().await;

        // Without the writer, reads alternate over the other two nodes,
        // and fall back to the writer when it is the only one left.
        c.set_local_state(4);
        cfg.writer_is_also_reader = false;
        let proxy = trireme_proxy::run(cfg).await.unwrap();
        let read = proxy.read_listen_addr().unwrap();
        let mut counts = BTreeMap::new();
        for _ in 0..6 {
            *counts.entry(lands_on(read).await).or_insert(0) += 1;
        }
        assert_eq!(counts, BTreeMap::from([(2, 3), (3, 3)]));
        b.set_local_state(1);
        c.set_local_state(1);
        proxy.check_now().await;
        assert_eq!(proxy.status().up_count(), 1);
        assert_eq!(lands_on(read).await, 1);
        proxy.shutdown().await;
    })
    .await;
}

/// A backend the monitor still thinks up but that refuses connections is
/// skipped before the client sees anything; when every backend refuses,
/// the client gets ERROR 1047.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusing_backend_is_skipped() {
    bounded(async {
        let (mut a, mut b) = (ToyNode::start(1).await, ToyNode::start(2).await);
        let proxy = trireme_proxy::run(config(&[&a, &b])).await.unwrap();
        // As a killed node: the port refuses and the monitor's connection
        // is gone.
        a.stop_listening().await;
        a.kill_sessions();
        eventually(|| a.state.sessions.load(std::sync::atomic::Ordering::SeqCst) == 0).await;
        assert_eq!(proxy.status().backends[0].health, Health::Up);
        assert_eq!(lands_on(proxy.listen_addr()).await, 2);
        let st = proxy.status();
        assert_eq!(st.backends[0].connect_failures, 1, "{st}");
        assert_eq!(st.backends[1].total_write_sessions, 1, "{st}");

        // The refused connect woke a's monitor: a's port refuses, so it is
        // down at once, with no `check_now` and no `fall` checks.
        eventually(|| proxy.status().backends[0].health == Health::Down).await;
        assert_eq!(proxy.status().backends[1].health, Health::Up);

        b.stop_listening().await;
        let err = connect(proxy.listen_addr()).await.expect_err("all refuse");
        assert_eq!(server_code(&err), Some(1047), "{err:?}");
        proxy.shutdown().await;
    })
    .await;
}

/// A backend that goes away mid-session takes the client session with it
/// (a lost connection, not a silent move); the proxy keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_dying_mid_session_closes_the_client() {
    bounded(async {
        let (mut a, b) = (ToyNode::start(1).await, ToyNode::start(2).await);
        let mut cfg = config(&[&a, &b]);
        cfg.balance = Balance::LeastConn;
        let proxy = trireme_proxy::run(cfg).await.unwrap();
        let mut sessions = Vec::new();
        for _ in 0..2 {
            let mut conn = connect(proxy.listen_addr()).await.unwrap();
            let id = server_id(&mut conn).await.unwrap();
            sessions.push((id, conn));
        }
        a.stop_listening().await;
        a.kill_sessions(); // its monitor connection dies too
        eventually(|| a.state.sessions.load(std::sync::atomic::Ordering::SeqCst) == 0).await;
        for (id, conn) in &mut sessions {
            let r = server_id(conn).await;
            if *id == 1 {
                assert!(r.is_err(), "session on the dead node must fail: {r:?}");
            } else {
                assert_eq!(r.unwrap(), 2);
            }
        }
        // One check finds its port refusing: down at once, not after
        // `fall` checks, and new sessions avoid it.
        proxy.check_now().await;
        let st = proxy.status();
        assert_eq!(st.backends[0].health, Health::Down, "{st}");
        assert!(st.backends[0].bad_in_a_row >= 1, "{st}");
        for _ in 0..3 {
            assert_eq!(lands_on(proxy.listen_addr()).await, 2);
        }
        proxy.shutdown().await;
    })
    .await;
}

/// Reads the proxy's greeting: a complete packet.
async fn read_greeting(s: &mut TcpStream) -> Vec<u8> {
    let mut head = [0u8; 4];
    s.read_exact(&mut head).await.unwrap();
    let len = usize::from(head[0]) | usize::from(head[1]) << 8 | usize::from(head[2]) << 16;
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await.unwrap();
    body
}

/// Reads until the proxy closes the connection (bounded by `bounded`).
async fn read_to_close(s: &mut TcpStream) {
    let mut sink = Vec::new();
    let _ = s.read_to_end(&mut sink).await;
}

/// Garbage from clients, before or after the greeting, never hurts the
/// proxy: each bad connection is closed and the next client is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_from_clients_does_not_hurt() {
    bounded(async {
        let a = ToyNode::start(1).await;
        let proxy = trireme_proxy::run(config(&[&a])).await.unwrap();
        let addr = proxy.listen_addr();

        // Connect and leave at once.
        drop(TcpStream::connect(addr).await.unwrap());

        // A frame header announcing a 16 MiB payload as the login.
        let mut s = TcpStream::connect(addr).await.unwrap();
        assert_eq!(read_greeting(&mut s).await[0], 10);
        s.write_all(&[0xff, 0xff, 0xff, 1, 1, 2, 3]).await.unwrap();
        read_to_close(&mut s).await;

        // A wrong sequence id.
        let mut s = TcpStream::connect(addr).await.unwrap();
        read_greeting(&mut s).await;
        s.write_all(&[3, 0, 0, 9, 1, 2, 3]).await.unwrap();
        read_to_close(&mut s).await;

        // A too-short login packet.
        let mut s = TcpStream::connect(addr).await.unwrap();
        read_greeting(&mut s).await;
        s.write_all(&[2, 0, 0, 1, 1, 2]).await.unwrap();
        read_to_close(&mut s).await;

        // Pseudo-random bytes of many lengths (fixed seed), some sent
        // before the greeting was read.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for len in [1usize, 3, 4, 5, 31, 32, 33, 100, 1000, 70_000] {
            let mut junk = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                junk.push(x as u8);
            }
            // Keep the sequence id right half of the time, so the parser
            // gets past the framing.
            if len >= 4 && len % 2 == 1 {
                junk[3] = 1;
            }
            let mut s = TcpStream::connect(addr).await.unwrap();
            if len % 3 != 0 {
                read_greeting(&mut s).await;
            }
            let _ = s.write_all(&junk).await;
            let _ = s.shutdown().await;
            read_to_close(&mut s).await;
        }

        // After a good login, bytes are the node's business: an unknown
        // command gets the node's ERR, raw junk makes the node close.
        let opts = trireme_wire::client::ClientOptions::new(USER, PASSWORD);
        let client = trireme_wire::client::Client::connect(&addr.to_string(), &opts)
            .await
            .unwrap();
        let mut io = client.into_packet_stream();
        io.set_seq(0);
        io.write_packet(&[0x99, 1, 2, 3]).await.unwrap();
        io.flush().await.unwrap();
        let reply = io.read_packet().await.unwrap().unwrap();
        assert_eq!(reply[0], 0xff, "unknown command must be answered with ERR");
        let (mut raw, _, _) = io.into_parts();
        let _ = raw.write_all(&[0xff, 0xff, 0xff, 0, 0, 0, 0, 0]).await;
        let _ = raw.write_all(&[7u8; 5000]).await;
        let _ = raw.shutdown().await;
        let mut sink = Vec::new();
        let _ = raw.read_to_end(&mut sink).await;
        // A normal driver session still works.
        let mut conn = connect(addr).await.unwrap();
        conn.query_drop("SELECT 1").await.unwrap();
        conn.disconnect().await.unwrap();

        // And the proxy still serves.
        assert_eq!(lands_on(addr).await, 1);
        let st = proxy.status();
        assert!(st.sessions.handshake_failed >= 3, "{st}");
        // Every session ends (a session's count drops just after its
        // sockets close, so poll a bounded number of times).
        eventually(|| proxy.status().backends[0].active_write_sessions == 0).await;
        proxy.shutdown().await;
    })
    .await;
}

/// A listener at `max_connections` refuses the next client with ERROR
/// 1040 and serves again once a session ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connections_refuses_with_1040() {
    bounded(async {
        let a = ToyNode::start(1).await;
        let mut cfg = config(&[&a]);
        cfg.max_connections = 1;
        let proxy = trireme_proxy::run(cfg).await.unwrap();
        let held = connect(proxy.listen_addr()).await.unwrap();
        let err = connect(proxy.listen_addr())
            .await
            .expect_err("over the limit");
        assert_eq!(server_code(&err), Some(1040), "{err:?}");
        held.disconnect().await.unwrap();
        // The slot frees when the session task ends; retry a bounded number
        // of times (no timing assumption, just eventual release).
        let mut ok = false;
        for _ in 0..200 {
            if let Ok(c) = connect(proxy.listen_addr()).await {
                c.disconnect().await.unwrap();
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(ok, "the slot was never released");
        proxy.shutdown().await;
    })
    .await;
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

/// The admin port serves the status as text and JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_port_reports_backends() {
    bounded(async {
        let (a, b) = (ToyNode::start(1).await, ToyNode::start(2).await);
        b.set_local_state(2);
        let mut cfg = config(&[&a, &b]);
        cfg.admin_listen = Some("127.0.0.1:0".into());
        let proxy = trireme_proxy::run(cfg).await.unwrap();
        let admin = proxy.admin_addr().unwrap();
        let conn = connect(proxy.listen_addr()).await.unwrap();

        let text = http_get(admin, "/").await;
        assert!(text.starts_with("HTTP/1.0 200"), "{text}");
        assert!(text.contains(&format!("writer: {}", a.addr)), "{text}");
        assert!(text.contains("Donor/Desynced"), "{text}");

        let json = http_get(admin, "/status.json").await;
        let body = json.split("\r\n\r\n").nth(1).unwrap();
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["backends"][0]["health"], "up");
        assert_eq!(v["backends"][0]["writer"], true);
        assert_eq!(v["backends"][0]["active_write_sessions"], 1);
        assert_eq!(v["backends"][1]["health"], "down");
        assert_eq!(v["backends"][1]["last_check"]["wsrep"]["local_state"], 2);

        assert!(http_get(admin, "/nope").await.starts_with("HTTP/1.0 404"));
        // Not HTTP: the bare text table.
        let mut s = TcpStream::connect(admin).await.unwrap();
        s.write_all(b"status\n").await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        assert!(out.starts_with("trireme-proxy: up"), "{out}");

        conn.disconnect().await.unwrap();
        proxy.shutdown().await;
    })
    .await;
}

/// Shutdown closes client sessions and the listeners, and returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_sessions_and_listeners() {
    bounded(async {
        let a = ToyNode::start(1).await;
        let proxy = trireme_proxy::run(config(&[&a])).await.unwrap();
        let addr = proxy.listen_addr();
        let mut conn = connect(addr).await.unwrap();
        assert_eq!(server_id(&mut conn).await.unwrap(), 1);
        proxy.shutdown().await;
        assert!(server_id(&mut conn).await.is_err());
        assert!(TcpStream::connect(addr).await.is_err());
    })
    .await;
}

/// `wsrep_reject_queries` and `wsrep_desync` take a Synced node out of
/// rotation like a failed check (after `fall` checks), and back in after
/// `rise` once cleared; desync is allowed with `available_when_donor`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_queries_and_desync_take_a_node_out() {
    bounded(async {
        let (a, b) = (ToyNode::start(1).await, ToyNode::start(2).await);
        a.set_variable("wsrep_reject_queries", "NONE");
        a.set_variable("wsrep_desync", "OFF");
        let proxy = trireme_proxy::run(config(&[&a, &b])).await.unwrap();
        let addr = proxy.listen_addr();
        assert_eq!(lands_on(addr).await, 1);

        a.set_variable("wsrep_reject_queries", "ALL");
        for _ in 0..3 {
            proxy.check_now().await;
        }
        let st = proxy.status();
        assert_eq!(st.backends[0].health, Health::Down, "{st}");
        let reason = st.backends[0]
            .last_check
            .as_ref()
            .and_then(|c| c.error.clone());
        assert_eq!(reason.as_deref(), Some("wsrep_reject_queries = ALL"));
        assert_eq!(lands_on(addr).await, 2);

        a.set_variable("wsrep_reject_queries", "NONE");
        a.set_variable("wsrep_desync", "ON");
        for _ in 0..2 {
            proxy.check_now().await;
        }
        let st = proxy.status();
        assert_eq!(st.backends[0].health, Health::Down, "{st}");
        let reason = st.backends[0]
            .last_check
            .as_ref()
            .and_then(|c| c.error.clone());
        assert_eq!(reason.as_deref(), Some("wsrep_desync = ON"));

        a.set_variable("wsrep_desync", "OFF");
        for _ in 0..2 {
            proxy.check_now().await;
        }
        assert_eq!(proxy.status().backends[0].health, Health::Up);
        assert_eq!(lands_on(addr).await, 1);
        proxy.shutdown().await;

        let mut cfg = config(&[&a, &b]);
        cfg.monitor.available_when_donor = true;
        a.set_variable("wsrep_desync", "ON");
        let proxy = trireme_proxy::run(cfg).await.unwrap();
        assert_eq!(proxy.status().backends[0].health, Health::Up);
        assert_eq!(lands_on(proxy.listen_addr()).await, 1);
        proxy.shutdown().await;
    })
    .await;
}
