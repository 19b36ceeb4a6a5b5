//! Throughput and latency of ordered delivery: 3 members on loopback (QUIC),
//! payloads of 200 B and 4 KiB, 1 and 64 concurrent senders (spread
//! round-robin over the members, so most payloads are forwarded to the
//! leader), fsync always and never.
//!
//! Reports delivered payloads/s and MB/s (counted at member 1) and p50/p99
//! of broadcast-to-delivery latency at the sending member.
//!
//! Run: `cargo bench -p trireme-gcs --bench throughput` (optionally
//! `-- --secs 5` to change the measuring window).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use futures::future::BoxFuture;
use futures::FutureExt;
use parking_lot::Mutex;
use trireme_gcs::{
    tls, AppSnapshot, Event, FsyncPolicy, Gcs, GcsConfig, Seqno, SnapshotApp, Timeouts,
};

struct NoApp;
impl SnapshotApp for NoApp {
    fn build_snapshot(&self) -> BoxFuture<'_, anyhow::Result<AppSnapshot>> {
        async { anyhow::bail!("benchmark node does not snapshot") }.boxed()
    }
    fn applied_seqno(&self) -> Seqno {
        0
    }
}

struct Stats {
    delivered: AtomicU64,
    lat_ns: Mutex<Vec<u64>>,
}

async fn run(size: usize, senders: usize, fsync: FsyncPolicy, secs: u64) -> (f64, f64, f64, f64) {
    let root = tempfile::tempdir().unwrap();
    let certs = root.path().join("certs");
    let epoch = Instant::now();
    let measuring = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut members: Vec<(Gcs, Arc<Stats>)> = Vec::new();
    let mut seed = None::<String>;
    for id in 1..=3u64 {
        let name = format!("n{id}");
        let cfg = GcsConfig {
            node_id: id,
            node_name: name.clone(),
            listen: "127.0.0.1:0".parse().unwrap(),
            cluster_address: format!("gcomm://{}", seed.clone().unwrap_or_default()),
            cluster_name: "bench".into(),
            data_dir: root.path().join(&name),
            bootstrap: id == 1,
            timeouts: Timeouts {
                election_min_ms: 2_000,
                election_max_ms: 4_000,
                ..Timeouts::default()
            },
            fsync,
            tls: Some(tls::ensure_dev_certs(&certs, "bench", &name).unwrap()),
            ..Default::default()
        };
        let (g, mut rx) = Gcs::start(cfg, Arc::new(NoApp)).await.unwrap();
        if seed.is_none() {
            seed = Some(g.advertised_addr().to_string());
        }
        let st = Arc::new(Stats {
            delivered: AtomicU64::new(0),
            lat_ns: Mutex::new(Vec::new()),
        });
        let (st2, me, m2) = (st.clone(), id, measuring.clone());
        tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                if let Event::Deliver {
                    origin, payload, ..
                } = ev
                {
                    if m2.load(Ordering::Relaxed) {
                        st2.delivered.fetch_add(1, Ordering::Relaxed);
                        if origin == me && payload.len() >= 8 {
                            let sent = u64::from_le_bytes(payload[..8].try_into().unwrap());
                            let now = epoch.elapsed().as_nanos() as u64;
                            st2.lat_ns.lock().push(now.saturating_sub(sent));
                        }
                    }
                }
            }
        });
        members.push((g, st));
    }
    // Wait for a primary view of all three on every member.
    let t0 = Instant::now();
    while !members
        .iter()
        .all(|(g, _)| g.view().primary && g.view().members.len() == 3)
    {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "cluster did not form"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for s in 0..senders {
        let g = members[s % 3].0.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let filler = vec![b'x'; size.saturating_sub(8)];
            while !stop.load(Ordering::Relaxed) {
                let mut b = BytesMut::with_capacity(size);
                b.put_u64_le(epoch.elapsed().as_nanos() as u64);
                b.put_slice(&filler);
                if let Err(e) = g.broadcast(b.freeze()).await {
                    eprintln!("broadcast error: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await; // warm-up
    measuring.store(true, Ordering::Relaxed);
    let m0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    measuring.store(false, Ordering::Relaxed);
    let el = m0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let n = members[0].1.delivered.load(Ordering::Relaxed) as f64;
    let mut lats: Vec<u64> = members
        .iter()
        .flat_map(|(_, s)| s.lat_ns.lock().clone())
        .collect();
    lats.sort_unstable();
    let pct = |p: f64| {
        if lats.is_empty() {
            f64::NAN
        } else {
            lats[((lats.len() - 1) as f64 * p) as usize] as f64 / 1e6
        }
    };
    let r = (n / el, n * size as f64 / el / 1e6, pct(0.50), pct(0.99));
    for (g, _) in &members {
        g.shutdown().await;
    }
    let _ = Bytes::new();
    r
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let secs = args
        .iter()
        .position(|a| a == "--secs")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let only: Option<String> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("| payload | senders | fsync | payloads/s | MB/s | p50 ms | p99 ms |");
    println!("|---|---|---|---|---|---|---|");
    for fsync in [FsyncPolicy::Never, FsyncPolicy::Always] {
        for size in [200usize, 4096] {
            for senders in [1usize, 64] {
                let tag = format!("{size}/{senders}/{fsync:?}");
                if only.as_ref().is_some_and(|o| !tag.contains(o.as_str())) {
                    continue;
                }
                let (tp, mb, p50, p99) = rt.block_on(run(size, senders, fsync, secs));
                println!("| {size} B | {senders} | {fsync:?} | {tp:.0} | {mb:.2} | {p50:.2} | {p99:.2} |");
            }
        }
    }
}
