//! Failures: leader stop and restart, a member cut off and healed, eviction,
//! rejoin and graceful leave.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use trireme_gcs::{BroadcastError, NodeId};

fn leader_of(nodes: &[TestNode]) -> Option<NodeId> {
    nodes.iter().find_map(|n| {
        let v = n.view();
        (v.primary && v.leader == Some(n.gcs.id())).then_some(n.gcs.id())
    })
}

async fn wait_leader(nodes: &[TestNode]) -> NodeId {
    let mut l = None;
    wait_for("a primary leader", LONG, || {
        l = leader_of(nodes);
        l.is_some()
    })
    .await;
    l.unwrap()
}

async fn send_n(n: &TestNode, tag: &str, k: usize) {
    for i in 0..k {
        broadcast_retry(&n.gcs, Bytes::from(format!("{tag}-{i}")))
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
        assert!(n.app.errors().is_empty(), "{:?}", n.app.errors());
        assert!(n.app.log() == r, "member {} diverged", n.gcs.id());
    }
}

/// Issue test 2: stop the leader; the other two elect and keep ordering; the
/// stopped member restarted from its data directory catches up to the
/// identical sequence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_stop_restart_catches_up() {
    init_tracing();
    let root = root();
    let mut nodes = cluster(3, root.path(), |_| {}).await;
    for n in &nodes {
        send_n(n, &format!("a{}", n.gcs.id()), 30).await;
    }
    let lid = wait_leader(&nodes).await;
    let pos = nodes.iter().position(|n| n.gcs.id() == lid).unwrap();
    let stopped = nodes.remove(pos);
    let mut cfg = stopped.cfg.clone();
    cfg.listen = stopped.gcs.local_addr();
    stopped.stop().await;

    let new_leader = wait_leader(&nodes).await;
    assert_ne!(new_leader, lid);
    for n in &nodes {
        send_n(n, &format!("b{}", n.gcs.id()), 30).await;
    }
    converge(&nodes.iter().collect::<Vec<_>>()).await;

    let restarted = start(cfg, TestApp::new()).await;
    assert!(
        restarted.gcs.recovery().entries > 0,
        "recovered its log from disk"
    );
    nodes.push(restarted);
    for n in &nodes {
        send_n(n, &format!("c{}", n.gcs.id()), 10).await;
    }
    converge(&nodes.iter().collect::<Vec<_>>()).await;
    assert_eq!(nodes[0].app.seqno(), 3 * 30 + 2 * 30 + 3 * 10);
    for n in nodes {
        n.stop().await;
    }
}

/// Issue test 3: cut one member (the leader, the harder case) off with the
/// transport fault switch: it reports non-primary and refuses broadcasts;
/// the other two keep ordering; after healing it is primary again and has
/// the identical sequence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_off_member_goes_non_primary_and_heals() {
    init_tracing();
    let root = root();
    let nodes = cluster(3, root.path(), |_| {}).await;
    send_n(&nodes[0], "before", 20).await;
    let lid = wait_leader(&nodes).await;
    let cut = nodes.iter().find(|n| n.gcs.id() == lid).unwrap();
    let others: Vec<&TestNode> = nodes.iter().filter(|n| n.gcs.id() != lid).collect();

    cut.gcs.faults().set_isolated(true);
    wait_for("cut-off member reports non-primary", LONG, || {
        !cut.view().primary
    })
    .await;
    assert!(
        cut.app.last_view().is_some_and(|v| !v.primary),
        "a non-primary View event was delivered"
    );
    assert_eq!(
        cut.gcs.broadcast(Bytes::from_static(b"refused")).await,
        Err(BroadcastError::NonPrimary)
    );
    for o in &others {
        wait_for("majority side is primary under a new leader", LONG, || {
            let v = o.view();
            v.primary && v.leader.is_some_and(|l| l != lid)
        })
        .await;
    }
    for o in &others {
        send_n(o, &format!("during{}", o.gcs.id()), 20).await;
    }

    cut.gcs.faults().set_isolated(false);
    wait_for("healed member is primary again", LONG, || {
        cut.view().primary
    })
    .await;
    converge(&nodes.iter().collect::<Vec<_>>()).await;
    assert_eq!(nodes[0].app.seqno(), 60);
    assert!(!cut.app.log().iter().any(|(_, p)| p.as_ref() == b"refused"));
    for n in nodes {
        n.stop().await;
    }
}

/// A 3-member cluster that loses a member evicts it after `evict_ms` and
/// keeps working as 2; the evicted member, restarted, rejoins (learner, then
/// voter); another member can then leave gracefully.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evict_rejoin_and_leave() {
    init_tracing();
    let root = root();
    let mut nodes = cluster(3, root.path(), |c| c.timeouts.evict_ms = 4_000).await;
    send_n(&nodes[0], "x", 10).await;
    let n3 = nodes.pop().unwrap();
    let mut cfg3 = n3.cfg.clone();
    cfg3.listen = n3.gcs.local_addr();
    n3.stop().await;
    for n in &nodes {
        wait_for("member 3 evicted", LONG, || primary_with(n, &[1, 2])).await;
    }
    send_n(&nodes[1], "y", 10).await;

    nodes.push(start(cfg3, TestApp::new()).await);
    for n in &nodes {
        wait_for("member 3 rejoined as voter", LONG, || {
            primary_with(n, &[1, 2, 3])
        })
        .await;
    }
    send_n(&nodes[2], "z", 10).await;
    converge(&nodes.iter().collect::<Vec<_>>()).await;

    let n2 = nodes.remove(1);
    n2.gcs.leave().await.expect("graceful leave");
    let _ = n2.stop().await;
    for n in &nodes {
        wait_for("view without member 2", LONG, || primary_with(n, &[1, 3])).await;
    }
    send_n(&nodes[0], "w", 10).await;
    converge(&nodes.iter().collect::<Vec<_>>()).await;
    assert_eq!(nodes[0].app.seqno(), 40);
    tokio::time::sleep(Duration::from_millis(1)).await;
    for n in nodes {
        n.stop().await;
    }
}
