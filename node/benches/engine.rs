//! Micro-benchmarks of the engine's hot paths: a point get from the MVCC
//! store, and a whole single-node commit (write-set, ordering, certification,
//! apply, horizon) through the in-process orderer.

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use trireme_node::repl::{LocalOrderer, OpenGate, ReplConfig, Replicator};
use trireme_storage::catalog::{ColumnDef, TableDef};
use trireme_storage::keycode;
use trireme_storage::txn::Txn;
use trireme_storage::types::{IntWidth, SqlType};
use trireme_storage::value::Value;
use trireme_storage::{Catalog, Database, Store, Table};

const ROWS: i64 = 100_000;

fn table() -> Table {
    let int = SqlType::Int {
        width: IntWidth::Int,
        unsigned: false,
    };
    let def = TableDef {
        db: "b".into(),
        name: "t".into(),
        columns: vec![
            ColumnDef::new("id", int.clone()),
            ColumnDef::new("k", int),
            ColumnDef::new("c", SqlType::Char(120)),
        ],
        primary: Some(vec![0]),
        indexes: vec![],
        next_index_id: 1,
        engine: "InnoDB".into(),
        collation: trireme_storage::collation::Collation::default(),
        comment: String::new(),
        version: 0,
        foreign_keys: Vec::new(),
        checks: Vec::new(),
    };
    let t = Table::new(def);
    for i in 1..=ROWS {
        let row: Vec<Value> = vec![
            Value::Int(i),
            Value::Int(i % 1000),
            Value::Str("x".repeat(119)),
        ];
        t.install(&keycode::encode_key([&row[0]]), 1, Some(row.into()))
            .expect("in-memory install");
    }
    t
}

fn point_get(c: &mut Criterion) {
    let t = table();
    let keys: Vec<Vec<u8>> = (1..=ROWS)
        .step_by(7)
        .map(|i| keycode::encode_key([&Value::Int(i)]))
        .collect();
    let mut i = 0usize;
    c.bench_function("store/point_get_100k_rows", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            std::hint::black_box(t.get(&keys[i], 5))
        })
    });
}

fn commit(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let store = Store::new();
    let t = Arc::new(table());
    let mut cat = Catalog::default();
    let mut db = Database {
        name: "b".into(),
        tables: Default::default(),
        collation: Default::default(),
        views: Default::default(),
    };
    db.tables.insert("t".into(), t.clone());
    cat.databases.insert("b".into(), db);
    store.set_catalog(cat);
    store.reset_horizon(1);
    let (orderer, mut rx) = LocalOrderer::new(1, 1);
    let repl = Replicator::new(
        ReplConfig {
            node_id: 1,
            applier_threads: 4,
            commit_timeout: Duration::from_secs(30),
            apply_delay: Duration::ZERO,
        },
        store.clone(),
        Arc::new(orderer),
        Replicator::default_certifier(1),
        Arc::new(OpenGate),
        Arc::new(trireme_node::schema::SqlSchema),
    );
    let r2 = repl.clone();
    rt.spawn(async move {
        while let Some(d) = rx.recv().await {
            r2.deliver(d);
        }
    });
    let mut n = 0i64;
    c.bench_function("pipeline/commit_one_row_update", |b| {
        b.iter(|| {
            n = n % ROWS + 1;
            let mut txn = Txn::new(repl.next_trx_id(), store.snapshot(), false, false);
            let pk = keycode::encode_key([&Value::Int(n)]);
            let row: Vec<Value> = vec![Value::Int(n), Value::Int(n), Value::Str("y".into())];
            txn.put(&t, pk, Some(row.into())).expect("in-memory read");
            rt.block_on(repl.commit(&txn)).unwrap();
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    targets = point_get, commit
}
criterion_main!(benches);
