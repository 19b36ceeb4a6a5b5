//! The QUIC connection manager when a peer dies without closing its
//! connections (SIGKILL, power loss) and comes back at the same address, and
//! when the address answers with another member's identity.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use common::*;
use futures::future::BoxFuture;
use futures::FutureExt;
use trireme_gcs::net::proto::{Request, Response};
use trireme_gcs::net::quic::{QuicSettings, QuicTransport};
use trireme_gcs::net::{Faults, Handler, NetError, Peer, Transport};
use trireme_gcs::tls::{self, TlsMaterial};
use trireme_gcs::NodeId;

/// Answers every request with `ReadIndex(generation)`, so the caller sees
/// which incarnation answered.
struct Echo(u64);

impl Handler for Echo {
    fn handle(&self, _from: NodeId, _req: Request) -> BoxFuture<'static, Response> {
        let g = self.0;
        async move { Response::ReadIndex(Ok(g)) }.boxed()
    }
}

fn settings(id: NodeId) -> QuicSettings {
    QuicSettings {
        id,
        name: format!("n{id}"),
        cluster: "test".into(),
        max_frame: 1 << 20,
        connect_timeout: Duration::from_secs(2),
        // Far beyond every deadline here: recovery must not wait for quinn
        // to expire the dead connection.
        idle_timeout: Duration::from_secs(3600),
        keep_alive: Duration::from_millis(100),
        identity: std::sync::Arc::new(trireme_gcs::identity::ClusterIdentity::any()),
    }
}

fn material(root: &std::path::Path, name: &str) -> TlsMaterial {
    TlsMaterial::load(&tls::ensure_dev_certs(&root.join("certs"), "test", name).unwrap()).unwrap()
}

/// Member 2 (generation `generation`) in its own process, at `listen`.
async fn start_peer(
    root: &std::path::Path,
    listen: SocketAddr,
    generation: u64,
) -> (ProcRt, Arc<QuicTransport>, Arc<Echo>) {
    let rt = ProcRt::new(&format!("peer-gen{generation}")).await;
    let m = material(root, "n2");
    let (t, h) = rt
        .run(async move {
            let t = QuicTransport::bind(listen, &m, settings(2), Arc::new(Faults::default()))
                .expect("bind peer");
            let h = Arc::new(Echo(generation));
            t.set_handler(Arc::downgrade(&h) as Weak<dyn Handler>);
            (t, h)
        })
        .await;
    (rt, t, h)
}

async fn ask(t: &QuicTransport, peer: &Peer, timeout: Duration) -> Result<Response, NetError> {
    t.call(peer, &Request::ReadIndex, timeout).await
}

/// A member keeps calling a peer (like leader heartbeats, 300 ms timeout)
/// that is killed and, 3 s later, restarted at the same address: the calls
/// reach the new incarnation over a fresh connection soon after it is up.
/// Before the fix every call went to the cached connection of the dead
/// incarnation and timed out until quinn's idle timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_reach_a_peer_restarted_at_the_same_address() {
    init_tracing();
    let root = root();
    let a = QuicTransport::bind(
        "127.0.0.1:0".parse().unwrap(),
        &material(root.path(), "n1"),
        settings(1),
        Arc::new(Faults::default()),
    )
    .unwrap();
    let a_handler = Arc::new(Echo(0));
    a.set_handler(Arc::downgrade(&a_handler) as Weak<dyn Handler>);

    let (rt, b, bh) = start_peer(root.path(), "127.0.0.1:0".parse().unwrap(), 1).await;
    let b_addr = b.local_addr();
    let peer = Peer {
        id: Some(2),
        addr: b_addr.to_string(),
    };
    let heartbeat = Duration::from_millis(300);
    assert!(matches!(
        ask(&a, &peer, LONG).await,
        Ok(Response::ReadIndex(Ok(1)))
    ));
    // The peer also has a connection to us, as members do.
    let b2 = b.clone();
    let a_peer = Peer {
        id: Some(1),
        addr: a.local_addr().to_string(),
    };
    assert!(rt
        .run(async move { ask(&b2, &a_peer, LONG).await })
        .await
        .is_ok());

    // SIGKILL.
    rt.kill().await;
    drop((b, bh));
    wait_port_free(b_addr).await;
    let down = Instant::now();
    while down.elapsed() < Duration::from_secs(3) {
        let r = ask(&a, &peer, heartbeat).await;
        assert!(r.is_err(), "a dead peer answered: {r:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let (rt, b, bh) = start_peer(root.path(), b_addr, 2).await;
    let up = Instant::now();
    loop {
        match ask(&a, &peer, heartbeat).await {
            Ok(Response::ReadIndex(Ok(2))) => break,
            Ok(other) => panic!("unexpected answer {other:?}"),
            Err(e) => {
                assert!(
                    up.elapsed() < LONG,
                    "restarted peer still unreachable after {LONG:?}: {e}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    // Identity: the member at this address is 2, not 3; nothing is delivered
    // to the wrong member.
    let wrong = Peer {
        id: Some(3),
        addr: b_addr.to_string(),
    };
    let r = ask(&a, &wrong, LONG).await;
    assert!(matches!(r, Err(NetError::Refused(_))), "{r:?}");
    assert!(matches!(
        ask(&a, &peer, LONG).await,
        Ok(Response::ReadIndex(Ok(2)))
    ));

    let b2 = b.clone();
    rt.run(async move { b2.shutdown().await }).await;
    rt.kill().await;
    drop((b, bh));
    a.shutdown().await;
}
