//! Certification throughput on a large index.
//!
//! Sysbench-like write-sets: one of 4 tables, 9 row keys (EXCLUSIVE, 8-byte
//! memcomparable integer pks) plus the table's SHARED key: 10 keys per
//! write-set. The index is prefilled with every row (1,000,000 live row
//! keys) and a purge every 1024 seqnos keeps the last 500,000 write-sets
//! (4.5M row touches), so it stays near 1M live keys while the benchmark
//! runs (the size is printed at the end of each scenario).
//!
//! * `low_conflict`: rows uniform over the 1M, snapshots 8 events behind:
//!   about 0.1% of write-sets fail.
//! * `high_conflict`: 30% of the rows from 64 hot rows per table, snapshots
//!   32 events behind: most write-sets fail (the rate is printed).
//!
//! One iteration generates and certifies one write-set (purge included);
//! throughput is reported in keys (10 per write-set). Generation rewrites
//! one buffer in place (a few RNG draws and byte copies, no allocation), a
//! small share of the time. Run with
//! `cargo bench -j2 -p trireme-certification`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use trireme_certification::codec::{decode_write_set, encode_write_set};
use trireme_certification::{CertConfig, Certifier, Key, KeyKind, Seqno, Verdict, WriteSet};

const TABLES: u64 = 4;
const ROWS_PER_TABLE: u64 = 250_000;
const ROW_KEYS: usize = 9;
const KEYS_PER_WS: usize = ROW_KEYS + 1;
const PURGE_EVERY: Seqno = 1024;
const PURGE_WINDOW: Seqno = 500_000;

/// splitmix64: deterministic, good enough for workload generation.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn table_name(t: u64) -> String {
    format!("sbtest.sbtest{}", t + 1)
}

/// Memcomparable encoding of a signed 64-bit integer pk.
fn pk(row: u64) -> Vec<u8> {
    (row ^ (1 << 63)).to_be_bytes().to_vec()
}

fn write_set(table: u64, rows: impl IntoIterator<Item = u64>) -> WriteSet {
    let name = table_name(table);
    let mut keys: Vec<Key> = rows
        .into_iter()
        .map(|r| Key::row(name.clone(), pk(r), KeyKind::Exclusive))
        .collect();
    keys.push(Key::table(name, KeyKind::Shared));
    WriteSet {
        source: table % 3,
        keys,
        ..WriteSet::default()
    }
}

#[derive(Clone, Copy)]
struct Workload {
    name: &'static str,
    hot_fraction: f64,
    hot_rows: u64,
    lag: Seqno,
}

struct State {
    cert: Certifier,
    rng: Rng,
    w: Workload,
    /// Reused buffer: rewritten in place for every write-set (no allocation).
    ws: WriteSet,
    rows: Vec<u64>,
    certified: u64,
    failed: u64,
}

impl State {
    fn new(w: Workload) -> State {
        let mut cert = Certifier::new(CertConfig::default());
        // Prefill: every row of every table once.
        let mut seqno = 0;
        for t in 0..TABLES {
            let mut row = 0;
            while row < ROWS_PER_TABLE {
                let end = (row + ROW_KEYS as u64).min(ROWS_PER_TABLE);
                seqno += 1;
                let mut ws = write_set(t, row..end);
                ws.last_seen_seqno = seqno - 1;
                assert!(cert.certify(&ws, seqno).is_pass());
                row = end;
            }
        }
        let mut ws = write_set(0, 0..ROW_KEYS as u64);
        for k in &mut ws.keys {
            k.table.reserve(8);
        }
        State {
            cert,
            rng: Rng(0x5eed ^ w.hot_rows),
            w,
            ws,
            rows: Vec::with_capacity(ROW_KEYS),
            certified: 0,
            failed: 0,
        }
    }

    /// Rewrites `self.ws` into the next random write-set (about 50 ns).
    fn next_write_set(&mut self) {
        let t = self.rng.below(TABLES);
        let hot_threshold = (self.w.hot_fraction * (1u64 << 20) as f64) as u64;
        self.rows.clear();
        while self.rows.len() < ROW_KEYS {
            let r = if self.rng.below(1 << 20) < hot_threshold {
                self.rng.below(self.w.hot_rows)
            } else {
                self.rng.below(ROWS_PER_TABLE)
            };
            if !self.rows.contains(&r) {
                self.rows.push(r);
            }
        }
        let name_digit = b'1' + t as u8;
        for (i, key) in self.ws.keys.iter_mut().enumerate() {
            // "sbtest.sbtestN": only the last byte changes.
            key.table.pop();
            key.table.push(name_digit as char);
            if i < ROW_KEYS {
                key.pk.clear();
                key.pk
                    .extend_from_slice(&(self.rows[i] ^ (1 << 63)).to_be_bytes());
            }
        }
        self.ws.source = t % 3;
    }

    fn run(&mut self, iters: u64) -> Duration {
        let start = Instant::now();
        for _ in 0..iters {
            self.next_write_set();
            let seqno = self.cert.position() + 1;
            self.ws.last_seen_seqno = seqno - 1 - self.w.lag.min(seqno - 1);
            let v = self.cert.certify(&self.ws, seqno);
            if let Verdict::Fail(_) = black_box(v) {
                self.failed += 1;
            }
            self.certified += 1;
            if seqno.is_multiple_of(PURGE_EVERY) && seqno > PURGE_WINDOW {
                self.cert.purge(seqno - PURGE_WINDOW);
            }
        }
        start.elapsed()
    }
}

fn certify(c: &mut Criterion) {
    let workloads = [
        Workload {
            name: "low_conflict",
            hot_fraction: 0.0,
            hot_rows: 1,
            lag: 8,
        },
        Workload {
            name: "high_conflict",
            hot_fraction: 0.3,
            hot_rows: 64,
            lag: 32,
        },
    ];
    let mut group = c.benchmark_group("certify_10_keys_1M_index");
    group.throughput(Throughput::Elements(KEYS_PER_WS as u64));
    for w in workloads {
        let mut state = State::new(w);
        group.bench_function(w.name, |b| b.iter_custom(|iters| state.run(iters)));
        let s = state.cert.stats();
        eprintln!(
            "{}: {} write-sets certified, {:.2}% failed, index {} keys, deps distance {:.1}",
            w.name,
            state.certified,
            100.0 * state.failed as f64 / state.certified.max(1) as f64,
            s.index_size,
            s.deps_distance(),
        );
    }
    group.finish();
}

fn codec(c: &mut Criterion) {
    let mut ws = write_set(1, 1000..1009);
    ws.ops = Vec::new();
    let bytes = encode_write_set(&ws).unwrap();
    let mut group = c.benchmark_group("codec_10_keys");
    group.throughput(Throughput::Elements(1));
    group.bench_function("encode", |b| b.iter(|| encode_write_set(black_box(&ws))));
    group.bench_function("decode", |b| b.iter(|| decode_write_set(black_box(&bytes))));
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8));
    targets = certify, codec
}
criterion_main!(benches);
