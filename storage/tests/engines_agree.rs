//! The in-memory and the on-disk (fjall) row stores answer every read the
//! same way: random installs (out of seqno order across rows, in order
//! within a row, as appliers deliver them), deletes, garbage collection, and
//! reads at random snapshots, run against both, compared after every step.

use proptest::prelude::*;
use trireme_storage::catalog::{ColumnDef, IndexDef, TableDef};
use trireme_storage::keycode;
use trireme_storage::lsm::LsmEngine;
use trireme_storage::types::{IntWidth, SqlType};
use trireme_storage::value::Value;
use trireme_storage::{Engine, Row, Table};

fn def() -> TableDef {
    let int = SqlType::Int {
        width: IntWidth::Int,
        unsigned: false,
    };
    TableDef {
        db: "d".into(),
        name: "t".into(),
        columns: vec![
            ColumnDef::new("a", int.clone()),
            ColumnDef::new("b", SqlType::Varbinary(8)),
            ColumnDef::new("k", int),
        ],
        // A composite key whose second part is bytes: prefix bounds and keys
        // with zero bytes (the on-disk escape) are both exercised.
        primary: Some(vec![0, 1]),
        indexes: vec![
            IndexDef {
                name: "k".into(),
                columns: vec![2],
                unique: false,
                id: 1,
            },
            IndexDef {
                name: "bk".into(),
                columns: vec![1, 2],
                unique: false,
                id: 2,
            },
        ],
        next_index_id: 3,
        engine: "InnoDB".into(),
        collation: trireme_storage::collation::Collation::default(),
        comment: String::new(),
        version: 0,
        foreign_keys: Vec::new(),
        checks: Vec::new(),
    }
}

const BS: [&[u8]; 4] = [b"", b"\x00", b"a\x00b", b"a"];

fn row(a: i64, b: usize, k: i64) -> Vec<Value> {
    vec![Value::Int(a), Value::Bytes(BS[b].to_vec()), Value::Int(k)]
}

fn pk_of(a: i64, b: usize) -> Vec<u8> {
    keycode::encode_key([&Value::Int(a), &Value::Bytes(BS[b].to_vec())])
}

/// One write: row (a, b) gets k, or is deleted.
#[derive(Clone, Debug)]
struct Write {
    a: i64,
    b: usize,
    k: Option<i64>,
}

#[derive(Clone, Debug)]
enum Read {
    Get(i64, usize),
    Latest(i64, usize),
    /// Bounds by `a` only (prefix) or by the full key.
    Scan(Option<(i64, Option<usize>)>, Option<(i64, Option<usize>)>),
    IndexK(i64, i64),
    IndexBk(usize),
    Candidates(i64),
    Count,
}

#[derive(Clone, Debug)]
enum Step {
    /// Install the next write in delivery order.
    Install,
    /// Read at `snapshot` = the lowest readable + this offset.
    Read(Read, u64),
    /// Collect garbage below the horizon minus this lag.
    Gc(u64),
}

fn write() -> impl Strategy<Value = Write> {
    (
        0i64..3,
        0usize..4,
        proptest::option::weighted(0.75, 0i64..3),
    )
        .prop_map(|(a, b, k)| Write { a, b, k })
}

fn read() -> impl Strategy<Value = Read> {
    let bound = proptest::option::of((0i64..3, proptest::option::of(0usize..4)));
    prop_oneof![
        (0i64..3, 0usize..4).prop_map(|(a, b)| Read::Get(a, b)),
        (0i64..3, 0usize..4).prop_map(|(a, b)| Read::Latest(a, b)),
        (bound.clone(), bound).prop_map(|(l, h)| Read::Scan(l, h)),
        (0i64..3, 0i64..3).prop_map(|(l, h)| Read::IndexK(l, h)),
        (0usize..4).prop_map(Read::IndexBk),
        (0i64..3).prop_map(Read::Candidates),
        Just(Read::Count),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => Just(Step::Install),
        4 => (read(), 0u64..6).prop_map(|(r, o)| Step::Read(r, o)),
        1 => (0u64..3).prop_map(Step::Gc),
    ]
}

/// Delivery order: write `i` has seqno `i + 1`; the shuffle keeps each
/// row's writes in seqno order (appliers never install two versions of one
/// row out of order) and mixes rows freely.
fn delivery_order(writes: &[Write], priorities: &[u32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..writes.len()).collect();
    order.sort_by_key(|&i| priorities[i]);
    let mut out = order.clone();
    let mut rows: std::collections::BTreeMap<(i64, usize), Vec<usize>> = Default::default();
    for (pos, &i) in order.iter().enumerate() {
        rows.entry((writes[i].a, writes[i].b))
            .or_default()
            .push(pos);
    }
    for positions in rows.values() {
        let mut ids: Vec<usize> = positions.iter().map(|&p| order[p]).collect();
        ids.sort();
        for (p, i) in positions.iter().zip(ids) {
            out[*p] = i;
        }
    }
    out
}

fn show(rows: Vec<(Vec<u8>, Row)>) -> Vec<String> {
    rows.into_iter()
        .map(|(k, r)| format!("{k:?}={r:?}"))
        .collect()
}

fn bound(b: &Option<(i64, Option<usize>)>) -> Option<Vec<u8>> {
    b.map(|(a, b)| match b {
        None => keycode::encode_key([&Value::Int(a)]),
        Some(b) => pk_of(a, b),
    })
}

fn read_all(t: &Table, r: &Read, snap: u64) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |k: &[u8], r: Row| {
        out.push((k.to_vec(), r));
        true
    };
    match r {
        Read::Get(a, b) => {
            let got = t.get(&pk_of(*a, *b), snap).unwrap();
            return vec![format!("{got:?}")];
        }
        Read::Latest(a, b) => return vec![t.latest_seqno(&pk_of(*a, *b)).unwrap().to_string()],
        Read::Scan(lo, hi) => {
            let (lo, hi) = (bound(lo), bound(hi));
            t.scan(lo.as_deref(), hi.as_deref(), snap, &mut push)
                .unwrap()
        }
        Read::IndexK(lo, hi) => {
            let lo = keycode::encode_key([&Value::Int(*lo)]);
            let hi = keycode::encode_key([&Value::Int(*hi)]);
            t.index_scan(0, Some(&lo), Some(&hi), snap, &mut push)
                .unwrap()
        }
        Read::IndexBk(b) => {
            let lo = keycode::encode_key([&Value::Bytes(BS[*b].to_vec())]);
            let hi = keycode::prefix_successor(&lo);
            t.index_scan(1, Some(&lo), hi.as_deref(), snap, &mut push)
                .unwrap()
        }
        Read::Candidates(k) => {
            let ikey = keycode::encode_key([&Value::Int(*k)]);
            let c = t.index_candidates(0, &ikey).unwrap();
            return c.iter().map(|k| format!("{k:?}")).collect();
        }
        Read::Count => return vec![t.entry_count().to_string()],
    }
    show(out)
}

fn run(writes: Vec<Write>, priorities: Vec<u32>, steps: Vec<Step>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let engine = LsmEngine::open(dir.path(), 1 << 20).unwrap();
    let mem = Table::new(def());
    let lsm = Table::create(def(), &Engine::Lsm(engine)).unwrap();
    let order = delivery_order(&writes, &priorities);
    let mut installed = vec![false; writes.len()];
    let mut next = 0;
    // Readers never go below what GC kept.
    let mut oldest = 0u64;
    for s in steps {
        // The horizon: every seqno up to it is installed.
        let horizon = installed.iter().take_while(|x| **x).count() as u64;
        match s {
            Step::Install => {
                let Some(&i) = order.get(next) else { continue };
                next += 1;
                installed[i] = true;
                let w = &writes[i];
                let r: Option<Row> = w.k.map(|k| row(w.a, w.b, k).into());
                let pk = pk_of(w.a, w.b);
                mem.install(&pk, i as u64 + 1, r.clone()).unwrap();
                lsm.install(&pk, i as u64 + 1, r).unwrap();
            }
            Step::Read(r, offset) => {
                let snap = oldest + offset;
                prop_assert_eq!(
                    read_all(&mem, &r, snap),
                    read_all(&lsm, &r, snap),
                    "{:?} at snapshot {}",
                    r,
                    snap
                );
            }
            Step::Gc(lag) => {
                let at = horizon.saturating_sub(lag).max(oldest);
                oldest = at;
                prop_assert_eq!(
                    mem.collect_garbage(at).unwrap(),
                    lsm.collect_garbage(at).unwrap(),
                    "versions dropped below {}",
                    at
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn memory_and_lsm_agree(
        (writes, priorities) in proptest::collection::vec(write(), 1..40)
            .prop_flat_map(|w| {
                let n = w.len();
                (Just(w), proptest::collection::vec(any::<u32>(), n))
            }),
        steps in proptest::collection::vec(step(), 1..120),
    ) {
        run(writes, priorities, steps)?;
    }
}

/// The delivery order keeps each row's writes in seqno order.
#[test]
fn delivery_order_keeps_rows_in_order() {
    let w = |a, b| Write { a, b, k: Some(0) };
    let writes = vec![w(0, 0), w(1, 0), w(0, 0), w(1, 0)];
    let order = delivery_order(&writes, &[9, 5, 1, 0]);
    // Row (1,0): writes 1 and 3; row (0,0): writes 0 and 2; reversed
    // priorities would put 3 before 1 and 2 before 0.
    let pos = |i| order.iter().position(|&x| x == i).unwrap();
    assert!(pos(1) < pos(3));
    assert!(pos(0) < pos(2));
    assert_eq!(order.len(), 4);
}
