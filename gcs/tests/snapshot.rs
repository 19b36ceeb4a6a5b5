//! State transfer: purged logs force snapshots; restarts resume exactly
//! after the node's applied seqno.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::*;
use parking_lot::Mutex;

async fn send_n(n: &TestNode, tag: &str, k: usize) {
    for i in 0..k {
        broadcast_retry(&n.gcs, Bytes::from(format!("{tag}-{i}-{}", "p".repeat(64))))
            .await
            .unwrap();
    }
}

async fn converge(nodes: &[&TestNode]) {
    let target = nodes
        .iter()
        .map(|n| n.gcs.status().last_seqno)
        .max()
        .unwrap();
    for n in nodes {
        wait_for(
            &format!("member {} delivered up to {target}", n.gcs.id()),
            LONG,
            || n.app.seqno() >= target,
        )
        .await;
    }
    let r = nodes[0].app.log();
    for n in nodes {
        assert!(
            n.app.errors().is_empty(),
            "member {}: {:?}",
            n.gcs.id(),
            n.app.errors()
        );
        assert!(n.app.log() == r, "member {} diverged", n.gcs.id());
    }
}

/// Issue test 4: the members purge their logs past what a stopped member
/// needs; when it comes back it receives a snapshot (chunked: the chunk size
/// is far below the snapshot size) followed by the log, and ends with the
/// identical state. A brand-new member joining after the purge does too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purged_log_forces_snapshot_to_lagging_member() {
    init_tracing();
    let root = root();
    let mut nodes = cluster(3, root.path(), |c| {
        c.gcache_size = 2048;
        c.snapshot_chunk_bytes = 4096;
    })
    .await;
    send_n(&nodes[0], "early", 20).await;
    converge(&nodes.iter().collect::<Vec<_>>()).await;
    let n3 = nodes.pop().unwrap();
    let lagging_index = n3.gcs.status().last_log_index.unwrap();
    let mut cfg3 = n3.cfg.clone();
    cfg3.listen = n3.gcs.local_addr();
    n3.stop().await;

    for n in &nodes {
        send_n(n, &format!("late{}", n.gcs.id()), 150).await;
    }
    converge(&nodes.iter().collect::<Vec<_>>()).await;
    for n in &nodes {
        n.gcs.purge(n.app.seqno());
    }
    for n in &nodes {
        wait_for("log purged past the lagging member", LONG, || {
            n.gcs
                .status()
                .purged_index
                .is_some_and(|p| p > lagging_index + 5)
        })
        .await;
    }

    let back = start(cfg3, TestApp::new()).await;
    nodes.push(back);
    send_n(&nodes[0], "after", 5).await;
    converge(&nodes.iter().collect::<Vec<_>>()).await;
    assert!(
        !nodes[2].app.st.lock().snapshots_installed.is_empty(),
        "lagging member got a snapshot"
    );

    // A new member joining now also needs the snapshot.
    let mut c4 = test_config(
        4,
        root.path(),
        &root.path().join("certs"),
        &[nodes[0].addr()],
    );
    c4.gcache_size = 2048;
    c4.snapshot_chunk_bytes = 4096;
    nodes.push(start(c4, TestApp::new()).await);
    for n in &nodes {
        wait_for("member 4 is a voter", LONG, || {
            primary_with(n, &[1, 2, 3, 4])
        })
        .await;
    }
    send_n(&nodes[3], "four", 5).await;
    converge(&nodes.iter().collect::<Vec<_>>()).await;
    assert!(
        !nodes[3].app.st.lock().snapshots_installed.is_empty(),
        "joiner got a snapshot"
    );
    assert_eq!(nodes[0].app.seqno(), 20 + 2 * 150 + 5 + 5);
    for n in nodes {
        n.stop().await;
    }
}

/// Restart semantics: a node that durably applied `A` payloads gets the
/// stream from `A + 1` (log replay); a node behind the local snapshot gets
/// the snapshot first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_resumes_after_node_applied_seqno() {
    init_tracing();
    let root = root();
    let mut nodes = cluster(3, root.path(), |c| c.gcache_size = 1024).await;
    send_n(&nodes[1], "a", 60).await;
    converge(&nodes.iter().collect::<Vec<_>>()).await;

    // Restart member 2 whose node kept the first 25 payloads.
    let n2 = nodes.remove(1);
    let kept: Vec<_> = n2.app.log()[..25].to_vec();
    let mut cfg = n2.cfg.clone();
    cfg.listen = n2.gcs.local_addr();
    n2.stop().await;
    let app = Arc::new(TestApp {
        st: Mutex::new(AppState {
            log: kept,
            ..Default::default()
        }),
        applied_at_start: 25,
    });
    let n2 = start(cfg, app).await;
    nodes.insert(1, n2);
    send_n(&nodes[0], "b", 10).await;
    converge(&nodes.iter().collect::<Vec<_>>()).await;
    assert!(
        nodes[1].app.st.lock().snapshots_installed.is_empty(),
        "replayed from the log"
    );

    // Member 3 snapshots and purges; restarted with a node that kept only 5
    // payloads, it must get its own local snapshot first.
    let n3 = nodes.pop().unwrap();
    n3.gcs.purge(n3.app.seqno());
    wait_for("member 3 purged", LONG, || {
        n3.gcs.status().purged_index.is_some()
    })
    .await;
    let kept: Vec<_> = n3.app.log()[..5].to_vec();
    let mut cfg = n3.cfg.clone();
    cfg.listen = n3.gcs.local_addr();
    n3.stop().await;
    let app = Arc::new(TestApp {
        st: Mutex::new(AppState {
            log: kept,
            ..Default::default()
        }),
        applied_at_start: 5,
    });
    nodes.push(start(cfg, app).await);
    send_n(&nodes[0], "c", 10).await;
    converge(&nodes.iter().collect::<Vec<_>>()).await;
    assert!(
        !nodes[2].app.st.lock().snapshots_installed.is_empty(),
        "got the local snapshot first"
    );
    assert_eq!(nodes[0].app.seqno(), 80);
    for n in nodes {
        n.stop().await;
    }
}
