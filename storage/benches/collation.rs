//! Cost of comparing and keying strings under each collation, against the
//! byte-wise path (utf8mb4_bin), for the kind of text applications key on.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use trireme_storage::collation::Collation;

fn words() -> Vec<String> {
    (0..1000)
        .map(|i| format!("User{:04}.Name@Example{}.com", (i * 7919) % 10_000, i % 13))
        .collect()
}

fn compare(c: &mut Criterion) {
    let w = words();
    let mut g = c.benchmark_group("compare_1000_pairs");
    for coll in [
        Collation::Utf8mb4Bin,
        Collation::Utf8mb4GeneralCi,
        Collation::Utf8mb4UnicodeCi,
        Collation::Latin1SwedishCi,
    ] {
        g.bench_function(coll.name(), |b| {
            b.iter(|| {
                let mut less = 0;
                for pair in w.windows(2) {
                    if coll
                        .compare(black_box(&pair[0]), black_box(&pair[1]))
                        .is_lt()
                    {
                        less += 1;
                    }
                }
                less
            })
        });
    }
    g.finish();
}

fn sort_key(c: &mut Criterion) {
    let w = words();
    let mut g = c.benchmark_group("sort_key_1000");
    for coll in [
        Collation::Utf8mb4Bin,
        Collation::Utf8mb4GeneralCi,
        Collation::Utf8mb4UnicodeCi,
    ] {
        g.bench_function(coll.name(), |b| {
            let mut out = Vec::with_capacity(128);
            b.iter(|| {
                let mut total = 0;
                for s in &w {
                    out.clear();
                    coll.sort_key(black_box(s), &mut out);
                    total += out.len();
                }
                total
            })
        });
    }
    g.finish();
}

criterion_group!(benches, compare, sort_key);
criterion_main!(benches);
