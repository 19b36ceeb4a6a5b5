//! Row-store throughput, in memory against on disk (fjall): installing
//! write-sets of 10 rows (one engine batch each) and point reads at a
//! snapshot, on a sysbench-shaped table (id, k, c CHAR(120), pad CHAR(60))
//! of 100 000 rows with a secondary index on k; and a GC pass after 100 of
//! its rows were updated.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use trireme_storage::catalog::{ColumnDef, IndexDef, TableDef};
use trireme_storage::keycode;
use trireme_storage::lsm::LsmEngine;
use trireme_storage::types::{IntWidth, SqlType};
use trireme_storage::value::Value;
use trireme_storage::{ApplyBatch, Engine, Row, Table};

const ROWS: i64 = 100_000;

fn def() -> TableDef {
    let int = SqlType::Int {
        width: IntWidth::Int,
        unsigned: false,
    };
    TableDef {
        db: "sbtest".into(),
        name: "sbtest1".into(),
        columns: vec![
            ColumnDef::new("id", int.clone()),
            ColumnDef::new("k", int),
            ColumnDef::new("c", SqlType::Char(120)),
            ColumnDef::new("pad", SqlType::Char(60)),
        ],
        primary: Some(vec![0]),
        indexes: vec![IndexDef {
            name: "k_1".into(),
            columns: vec![1],
            unique: false,
            id: 1,
        }],
        next_index_id: 2,
        engine: "InnoDB".into(),
        collation: trireme_storage::collation::Collation::default(),
        comment: String::new(),
        version: 0,
        foreign_keys: Vec::new(),
        checks: Vec::new(),
    }
}

fn row(id: i64) -> Row {
    vec![
        Value::Int(id),
        Value::Int(id * 7 % ROWS),
        Value::Str(format!("{:0>119}", id * 31)),
        Value::Str(format!("{:0>59}", id * 17)),
    ]
    .into()
}

fn pk(id: i64) -> Vec<u8> {
    keycode::encode_key([&Value::Int(id)])
}

fn filled(engine: &Engine) -> Table {
    let t = Table::create(def(), engine).expect("create");
    for chunk in (0..ROWS).collect::<Vec<_>>().chunks(1000) {
        let mut b = ApplyBatch::new();
        for &id in chunk {
            t.install_into(&mut b, &pk(id), 1, Some(row(id)));
        }
        b.commit(Some(1)).expect("load");
    }
    t
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let lsm = LsmEngine::open(dir.path(), 16 << 20).expect("open");
    for (name, engine) in [("memory", Engine::Memory), ("lsm", Engine::Lsm(lsm))] {
        let t = filled(&engine);
        let mut g = c.benchmark_group(name);
        let mut seqno = 2u64;
        g.bench_function("install_write_set_10_rows", |b| {
            b.iter(|| {
                let mut batch = ApplyBatch::new();
                for i in 0..10 {
                    let id = (seqno as i64 * 7919 + i) % ROWS;
                    t.install_into(&mut batch, &pk(id), seqno, Some(row(id)));
                }
                batch.commit(Some(seqno)).expect("commit");
                seqno += 1;
            })
        });
        let mut i = 0i64;
        g.bench_function("point_get", |b| {
            b.iter(|| {
                i = (i + 7919) % ROWS;
                black_box(t.get(&pk(i), u64::MAX).expect("get"))
            })
        });
        g.finish();
    }
}

/// One GC pass of the in-memory store after 100 of the 100 000 rows were
/// updated: its cost should follow the rows written since the last pass,
/// not the size of the table.
fn gc(c: &mut Criterion) {
    let t = filled(&Engine::Memory);
    let mut seqno = 1u64;
    c.bench_function("memory/gc_pass_100_of_100k_rows_updated", |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iters {
                seqno += 1;
                for i in 0..100 {
                    let id = i * 997 % ROWS;
                    t.install(&pk(id), seqno, Some(row(id))).expect("install");
                }
                let started = std::time::Instant::now();
                let dropped = t.collect_garbage(seqno).expect("gc");
                total += started.elapsed();
                assert_eq!(dropped, 100);
            }
            total
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench, gc
}
criterion_main!(benches);
