//! Total order: every member delivers the identical sequence, every payload
//! exactly once; and `sync_point` is a read index covering earlier writes.

mod common;

use std::collections::HashMap;

use bytes::Bytes;
use common::*;
use futures::stream::{FuturesUnordered, StreamExt};
use trireme_gcs::FsyncPolicy;

/// Issue test 1: 3 members each broadcast 2,000 payloads concurrently; all
/// three delivery sequences are identical and every payload is delivered
/// exactly once, at the seqno its `broadcast` returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_concurrent_broadcasts_identical_sequences() {
    init_tracing();
    let root = root();
    // fsync always: exercises group commit under load.
    let nodes = cluster(3, root.path(), |c| c.fsync = FsyncPolicy::Always).await;
    const PER: usize = 2000;
    let mut senders = Vec::new();
    for n in &nodes {
        let g = n.gcs.clone();
        senders.push(tokio::spawn(async move {
            let mut fut = FuturesUnordered::new();
            let mut out = Vec::new();
            let mut i = 0;
            while i < PER || !fut.is_empty() {
                while i < PER && fut.len() < 64 {
                    let p = Bytes::from(format!("{}-{i}", g.id()));
                    let g2 = g.clone();
                    fut.push(async move { (p.clone(), g2.broadcast(p).await) });
                    i += 1;
                }
                if let Some(r) = fut.next().await {
                    out.push(r);
                }
            }
            out
        }));
    }
    let mut acked: HashMap<Bytes, u64> = HashMap::new();
    for s in senders {
        for (p, r) in s.await.unwrap() {
            let seqno = r.unwrap_or_else(|e| panic!("broadcast of {p:?} failed: {e}"));
            acked.insert(p, seqno);
        }
    }
    let total = (PER * nodes.len()) as u64;
    assert_eq!(acked.len() as u64, total);
    for n in &nodes {
        wait_for("all payloads delivered", LONG, || n.app.seqno() >= total).await;
    }
    let reference = nodes[0].app.log();
    assert_eq!(reference.len() as u64, total, "no extra deliveries");
    for n in &nodes {
        assert!(n.app.errors().is_empty(), "{:?}", n.app.errors());
        assert!(
            n.app.log() == reference,
            "member {} delivered a different sequence",
            n.gcs.id()
        );
    }
    let mut seen: HashMap<&Bytes, u64> = HashMap::new();
    for (i, (origin, p)) in reference.iter().enumerate() {
        let seqno = i as u64 + 1;
        assert!(seen.insert(p, seqno).is_none(), "{p:?} delivered twice");
        assert_eq!(
            acked.get(p),
            Some(&seqno),
            "{p:?} delivered at {seqno}, broadcast said otherwise"
        );
        assert!(p.starts_with(format!("{origin}-").as_bytes()));
    }
    for n in nodes {
        n.stop().await;
    }
}

/// Issue test 7: after a broadcast returns seqno `s`, `sync_point()` on every
/// member returns a seqno `>= s`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_point_covers_earlier_broadcasts_on_every_member() {
    init_tracing();
    let root = root();
    let nodes = cluster(3, root.path(), |_| {}).await;
    for round in 0..5u32 {
        for (k, n) in nodes.iter().enumerate() {
            let s = broadcast_retry(&n.gcs, Bytes::from(format!("r{round}-{k}")))
                .await
                .unwrap();
            for m in &nodes {
                let sp = m.gcs.sync_point().await.unwrap();
                assert!(
                    sp >= s,
                    "member {}: sync_point {sp} < broadcast seqno {s}",
                    m.gcs.id()
                );
            }
        }
    }
    for n in nodes {
        n.stop().await;
    }
}
