//! The same protocol over the in-process router (no sockets): total order
//! and the router's fault switch. Fast, and a second implementation of the
//! transport seam under the same behaviour.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::*;
use futures::future::join_all;
use trireme_gcs::{Gcs, MemRouter, TransportChoice};

async fn start_mem(router: &MemRouter, id: u64, root: &std::path::Path) -> TestNode {
    let mut cfg = test_config(
        id,
        root,
        &root.join("certs"),
        &if id == 1 {
            vec![]
        } else {
            vec!["mem1:1".into()]
        },
    );
    cfg.advertise = Some(format!("mem{id}:1"));
    cfg.tls = None;
    let app = TestApp::new();
    let (gcs, rx) = Gcs::start_with(
        cfg.clone(),
        app.clone() as Arc<_>,
        TransportChoice::InProcess(router.clone()),
    )
    .await
    .unwrap();
    TestNode::with_receiver(gcs, app, cfg, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_cluster_orders_and_isolates() {
    init_tracing();
    let root = root();
    let router = MemRouter::new();
    let mut nodes = Vec::new();
    for id in 1..=3 {
        nodes.push(start_mem(&router, id, root.path()).await);
    }
    for n in &nodes {
        wait_for("primary view of 3", LONG, || primary_with(n, &[1, 2, 3])).await;
    }
    let sends = nodes.iter().flat_map(|n| {
        (0..200).map(move |i| {
            let g = n.gcs.clone();
            async move {
                g.broadcast(Bytes::from(format!("{}-{i}", g.id())))
                    .await
                    .unwrap()
            }
        })
    });
    join_all(sends).await;
    for n in &nodes {
        wait_for("delivered", LONG, || n.app.seqno() == 600).await;
    }
    assert!(nodes
        .iter()
        .all(|n| n.app.log() == nodes[0].app.log() && n.app.errors().is_empty()));

    nodes[1].gcs.faults().set_isolated(true);
    wait_for("isolated member non-primary", LONG, || {
        !nodes[1].view().primary
    })
    .await;
    for n in [&nodes[0], &nodes[2]] {
        wait_for("others primary", LONG, || {
            n.view().primary && n.view().leader != Some(2)
        })
        .await;
    }
    broadcast_retry(&nodes[0].gcs, Bytes::from_static(b"while cut"))
        .await
        .unwrap();
    nodes[1].gcs.faults().set_isolated(false);
    wait_for("healed", LONG, || nodes[1].view().primary).await;
    for n in &nodes {
        wait_for("caught up", LONG, || n.app.seqno() == 601).await;
    }
    assert!(nodes.iter().all(|n| n.app.log() == nodes[0].app.log()));
    for n in nodes {
        n.stop().await;
    }
}
