//! The pieces every transaction passes through, measured alone:
//!
//! - `snapshot/begin_end/{1,2,4}_threads`: registering and dropping a
//!   snapshot (every statement of an autocommit workload does both), with
//!   that many threads doing it at once.
//! - `horizon/step_256_waiters`: one horizon step while 256 COMMITs wait
//!   for later seqnos (only the one reached may be woken).
//! - `bf_abort/lookup_4_keys_{16,256}_open_txns`: the certification
//!   thread's check of a certified 4-row write-set against every open
//!   transaction's written rows.
//!
//! GC of a hot table is measured with the row store, in `rows.rs`.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use trireme_storage::keycode;
use trireme_storage::txn::{row_key, RowKey, TxnShared};
use trireme_storage::value::Value;
use trireme_storage::Store;

fn pk(id: i64) -> Vec<u8> {
    keycode::encode_key([&Value::Int(id)])
}

fn snapshots(c: &mut Criterion) {
    let mut group = c.benchmark_group("snapshot");
    for threads in [1usize, 2, 4] {
        group.bench_function(
            BenchmarkId::new("begin_end", format!("{threads}_threads")),
            |b| {
                b.iter_custom(|iters| {
                    let store = Store::new();
                    store.advance_horizon(1);
                    let per = iters.div_ceil(threads as u64);
                    let start = Arc::new(Barrier::new(threads + 1));
                    let workers: Vec<_> = (0..threads)
                        .map(|_| {
                            let store = store.clone();
                            let start = start.clone();
                            std::thread::spawn(move || {
                                start.wait();
                                for _ in 0..per {
                                    black_box(store.snapshot());
                                }
                            })
                        })
                        .collect();
                    start.wait();
                    let t = Instant::now();
                    for w in workers {
                        w.join().expect("snapshot bench thread");
                    }
                    // All threads together took `iters` snapshots: the time per
                    // snapshot of the whole machine (lower is more throughput).
                    t.elapsed()
                })
            },
        );
    }
    group.finish();
}

fn horizon(c: &mut Criterion) {
    c.bench_function("horizon/step_256_waiters", |b| {
        b.iter_custom(|iters| {
            let store = Store::new();
            let mut waiting = std::collections::VecDeque::new();
            for s in 1..=256 {
                waiting.push_back(store.horizon_reached(s));
            }
            let mut total = Duration::ZERO;
            for h in 1..=iters {
                let t = Instant::now();
                store.advance_horizon(h);
                total += t.elapsed();
                // Keep 256 waiting: the one reached leaves, a later one comes.
                let done = waiting.pop_front().flatten();
                assert!(done.is_some_and(|mut rx| rx.try_recv().is_ok()));
                waiting.push_back(store.horizon_reached(h + 256));
            }
            total
        })
    });
}

fn bf_abort(c: &mut Criterion) {
    let mut group = c.benchmark_group("bf_abort");
    for open in [16usize, 256] {
        let txns: Vec<Arc<TxnShared>> = (0..open)
            .map(|t| {
                let s = Arc::new(TxnShared::default());
                for r in 0..4 {
                    s.add("sbtest.sbtest1", &pk((t * 4 + r) as i64 + 1_000_000));
                }
                s
            })
            .collect();
        let ws_keys: Vec<(String, Vec<u8>)> = (0..4)
            .map(|r| ("sbtest.sbtest1".to_string(), pk(r)))
            .collect();
        group.bench_function(format!("lookup_4_keys_{open}_open_txns"), |b| {
            b.iter(|| {
                let keys: Vec<RowKey> = ws_keys.iter().map(|(t, p)| row_key(t, p)).collect();
                let hits = txns
                    .iter()
                    .filter(|s| keys.iter().any(|k| s.touches(k)))
                    .count();
                black_box(hits)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, snapshots, horizon, bf_abort);
criterion_main!(benches);
