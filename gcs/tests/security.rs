//! The peer port: foreign certificates are refused; garbage, truncated and
//! oversize frames close only the offending connection.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use quinn::crypto::rustls::QuicClientConfig;
use trireme_gcs::codec;
use trireme_gcs::net::frame::{read_frame, write_frame};
use trireme_gcs::net::proto::{Hello, HelloReply, HelloV1, Request, Response, PROTOCOL_VERSION};
use trireme_gcs::net::quic::{QuicSettings, QuicTransport, CODE_PROTOCOL, CODE_REFUSED};
use trireme_gcs::net::{Faults, NetError, Peer, Transport};
use trireme_gcs::tls::{self, CertPem, TlsMaterial, SERVER_NAME};

fn settings(id: u64, cluster: &str) -> QuicSettings {
    QuicSettings {
        id,
        name: format!("probe{id}"),
        cluster: cluster.into(),
        max_frame: 1 << 20,
        connect_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(30),
        keep_alive: Duration::from_secs(1),
        identity: std::sync::Arc::new(trireme_gcs::identity::ClusterIdentity::any()),
    }
}

async fn probe(m: &TlsMaterial, cluster: &str, addr: &str) -> Result<Response, NetError> {
    let t = QuicTransport::bind(
        "127.0.0.1:0".parse().unwrap(),
        m,
        settings(99, cluster),
        Arc::new(Faults::default()),
    )
    .unwrap();
    let r = t
        .call(
            &Peer {
                id: None,
                addr: addr.into(),
            },
            &Request::ReadIndex,
            Duration::from_secs(20),
        )
        .await;
    t.shutdown().await;
    r
}

/// Issue test 5: a peer with a certificate from another CA is refused (and
/// so is a peer of the same CA whose certificate names another cluster); a
/// member started with foreign certificates never joins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_ca_and_foreign_cluster_are_refused() {
    init_tracing();
    let root = root();
    let nodes = cluster(1, root.path(), |_| {}).await;
    let addr = nodes[0].addr();

    // Control: a certificate from the cluster CA is accepted.
    let own = TlsMaterial::load(
        &tls::ensure_dev_certs(&root.path().join("certs"), "test", "friend").unwrap(),
    )
    .unwrap();
    assert!(matches!(
        probe(&own, "test", &addr).await,
        Ok(Response::ReadIndex(_))
    ));

    // Another CA, same cluster name: the TLS handshake fails.
    let foreign = TlsMaterial::load(
        &tls::ensure_dev_certs(&root.path().join("foreign"), "test", "intruder").unwrap(),
    )
    .unwrap();
    let r = probe(&foreign, "test", &addr).await;
    assert!(
        matches!(r, Err(NetError::Refused(_))),
        "foreign CA accepted: {r:?}"
    );

    // Same CA, certificate for another cluster: refused after the handshake.
    let ca = CertPem {
        cert: std::fs::read_to_string(root.path().join("certs/ca.pem")).unwrap(),
        key: std::fs::read_to_string(root.path().join("certs/ca.key")).unwrap(),
    };
    let other = tls::generate_member(&ca, "other", "stranger").unwrap();
    let other = TlsMaterial::from_pem(&ca.cert, &other).unwrap();
    let r = probe(&other, "other", &addr).await;
    assert!(
        matches!(r, Err(NetError::Refused(_))),
        "foreign cluster accepted: {r:?}"
    );

    // A whole member with foreign certificates cannot join.
    let mut c = test_config(
        7,
        root.path(),
        &root.path().join("foreign"),
        std::slice::from_ref(&addr),
    );
    c.tls = Some(tls::ensure_dev_certs(&root.path().join("foreign"), "test", "n7").unwrap());
    let intruder = start(c, TestApp::new()).await;
    // Bounded negative check: several join rounds pass without effect.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!intruder.view().primary);
    assert!(primary_with(&nodes[0], &[1]), "membership unchanged");
    intruder.stop().await;
    for n in nodes {
        n.stop().await;
    }
}

async fn client_endpoint(m: &TlsMaterial) -> quinn::Endpoint {
    let mut ep = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    let cfg = QuicClientConfig::try_from(m.client_config().unwrap()).unwrap();
    ep.set_default_client_config(quinn::ClientConfig::new(Arc::new(cfg)));
    ep
}

async fn hello(conn: &quinn::Connection) {
    let (mut s, mut r) = conn.open_bi().await.unwrap();
    let h = Hello {
        protocol: PROTOCOL_VERSION,
        cluster: "test".into(),
        id: 42,
        name: "prober".into(),
        incarnation: 7,
        cluster_uuid: None,
        app_version: 0,
        probe: false,
    };
    write_frame(&mut s, &codec::encode(&h).unwrap())
        .await
        .unwrap();
    s.finish().unwrap();
    let b = read_frame(&mut r, 1 << 16).await.unwrap();
    assert!(matches!(
        codec::decode::<HelloReply>(&b).unwrap(),
        HelloReply::Welcome { id: 1, .. }
    ));
}

async fn expect_closed(conn: &quinn::Connection, code: u32, what: &str) {
    match tokio::time::timeout(LONG, conn.closed()).await {
        Ok(quinn::ConnectionError::ApplicationClosed(c)) => {
            assert_eq!(c.error_code, quinn::VarInt::from_u32(code), "{what}: {c:?}")
        }
        other => panic!("{what}: connection not closed by the member as expected: {other:?}"),
    }
}

/// Issue test 6: garbage UDP datagrams, a garbage hello, and garbage,
/// oversize and truncated frames after a valid hello each close (at most)
/// the offending connection; the member keeps ordering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_oversize_frames_do_not_crash_the_member() {
    init_tracing();
    let root = root();
    let nodes = cluster(1, root.path(), |_| {}).await;
    let addr: SocketAddr = nodes[0].addr().parse().unwrap();

    // Raw UDP garbage at the QUIC port.
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..300u32 {
        let len = 1 + (i as usize * 37) % 1400;
        let buf: Vec<u8> = (0..len).map(|k| (k as u32 * 31 + i * 7) as u8).collect();
        let _ = sock.send_to(&buf, addr);
    }

    let m = TlsMaterial::load(
        &tls::ensure_dev_certs(&root.path().join("certs"), "test", "prober").unwrap(),
    )
    .unwrap();
    let ep = client_endpoint(&m).await;

    // Garbage instead of a hello.
    let conn = ep.connect(addr, SERVER_NAME).unwrap().await.unwrap();
    let (mut s, _r) = conn.open_bi().await.unwrap();
    s.write_all(b"\x05\x00\x00\x00garbage!").await.unwrap();
    s.finish().unwrap();
    expect_closed(&conn, CODE_REFUSED, "garbage hello").await;

    // A member of protocol version 1 (hello without incarnation) is refused
    // with a message naming both versions.
    let conn = ep.connect(addr, SERVER_NAME).unwrap().await.unwrap();
    let (mut s, mut r) = conn.open_bi().await.unwrap();
    let old = HelloV1 {
        protocol: 1,
        cluster: "test".into(),
        id: 42,
        name: "old".into(),
    };
    write_frame(&mut s, &codec::encode(&old).unwrap())
        .await
        .unwrap();
    s.finish().unwrap();
    let b = read_frame(&mut r, 1 << 16).await.unwrap();
    match codec::decode::<HelloReply>(&b).unwrap() {
        HelloReply::Refused(why) => assert!(
            why.contains("protocol version 1") && why.contains(&PROTOCOL_VERSION.to_string()),
            "{why}"
        ),
        other => panic!("version-1 hello accepted: {other:?}"),
    }
    expect_closed(&conn, CODE_REFUSED, "version-1 hello").await;

    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("undecodable frame", {
            let mut v = 6u32.to_le_bytes().to_vec();
            v.extend_from_slice(&[0xff; 6]);
            v
        }),
        ("oversize frame", u32::MAX.to_le_bytes().to_vec()),
        ("truncated frame", {
            let mut v = 100u32.to_le_bytes().to_vec();
            v.extend_from_slice(&[1; 10]);
            v
        }),
        ("truncated length", vec![7, 0]),
    ];
    for (what, bytes) in cases {
        let conn = ep.connect(addr, SERVER_NAME).unwrap().await.unwrap();
        hello(&conn).await;
        let (mut s, _r) = conn.open_bi().await.unwrap();
        s.write_all(&bytes).await.unwrap();
        s.finish().unwrap();
        expect_closed(&conn, CODE_PROTOCOL, what).await;
    }
    ep.close(quinn::VarInt::from_u32(0), b"done");

    // Still ordering and answering.
    let s = nodes[0]
        .gcs
        .broadcast(Bytes::from_static(b"still alive"))
        .await
        .unwrap();
    assert!(nodes[0].gcs.sync_point().await.unwrap() >= s);
    for n in nodes {
        n.stop().await;
    }
}

fn with_identity(id: u64, uuid: Option<&str>, app: u32) -> QuicSettings {
    QuicSettings {
        identity: Arc::new(trireme_gcs::identity::ClusterIdentity::new(
            uuid.map(str::to_string),
            app,
            Box::new(|_| Ok(())),
        )),
        ..settings(id, "test")
    }
}

async fn call_read_index(t: &QuicTransport, addr: &str) -> Result<Response, NetError> {
    t.call(
        &Peer {
            id: None,
            addr: addr.into(),
        },
        &Request::ReadIndex,
        Duration::from_secs(10),
    )
    .await
}

/// Members of different histories (cluster uuids) never talk; a member with
/// no history adopts the first one that welcomes it and is then bound to it;
/// a probe learns the uuid without adopting it; a newer event format is
/// refused by the older member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_of_another_history_are_refused_at_the_handshake() {
    init_tracing();
    let root = root();
    let m =
        TlsMaterial::load(&tls::ensure_dev_certs(&root.path().join("certs"), "test", "m").unwrap())
            .unwrap();
    let bind = |s: QuicSettings| {
        QuicTransport::bind(
            "127.0.0.1:0".parse().unwrap(),
            &m,
            s,
            Arc::new(Faults::default()),
        )
        .unwrap()
    };
    let a = bind(with_identity(1, Some("uuid-a"), 2));
    let b = bind(with_identity(2, Some("uuid-b"), 2));
    let a_addr = a.local_addr().to_string();
    let b_addr = b.local_addr().to_string();

    // Both directions are refused.
    let r = call_read_index(&a, &b_addr).await;
    assert!(
        matches!(&r, Err(NetError::Refused(w)) if w.contains("uuid")),
        "{r:?}"
    );
    let r = call_read_index(&b, &a_addr).await;
    assert!(
        matches!(&r, Err(NetError::Refused(w)) if w.contains("uuid")),
        "{r:?}"
    );

    // A probe reports the uuid and adopts nothing.
    let fresh = bind(with_identity(3, None, 2));
    assert_eq!(
        fresh.probe(&a_addr).await.unwrap().as_deref(),
        Some("uuid-a")
    );
    assert_eq!(
        fresh.probe(&b_addr).await.unwrap().as_deref(),
        Some("uuid-b")
    );
    // A real hello adopts: then the other history is refused.
    assert!(call_read_index(&fresh, &a_addr).await.is_ok());
    let r = call_read_index(&fresh, &b_addr).await;
    assert!(matches!(&r, Err(NetError::Refused(_))), "{r:?}");

    // A member writing a newer event format is refused by an older one.
    let newer = bind(with_identity(4, Some("uuid-a"), 3));
    let r = call_read_index(&newer, &a_addr).await;
    assert!(
        matches!(&r, Err(NetError::Refused(w)) if w.contains("format")),
        "{r:?}"
    );
    let r = call_read_index(&a, &newer.local_addr().to_string()).await;
    assert!(
        matches!(&r, Err(NetError::Refused(w)) if w.contains("format")),
        "{r:?}"
    );
    for t in [a, b, fresh, newer] {
        t.shutdown().await;
    }
}
