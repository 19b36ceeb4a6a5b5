//! Restart from disk (`super::recovery`): what a reopened engine gives back,
//! and that replaying the ordered log after its horizon — versions that are
//! already on disk included — ends in exactly the state of applying every
//! write-set once.

use std::sync::Arc;

use super::recovery::RecoveryPoint;
use super::LsmEngine;
use crate::catalog::{ColumnDef, IndexDef, TableDef};
use crate::keycode;
use crate::table::{ApplyBatch, Engine, Row};
use crate::types::{IntWidth, SqlType};
use crate::value::Value;
use crate::{Catalog, Database, Store};

pub(super) fn def() -> TableDef {
    let int = SqlType::Int {
        width: IntWidth::Int,
        unsigned: false,
    };
    TableDef {
        db: "d".into(),
        name: "t".into(),
        columns: vec![
            ColumnDef {
                auto_increment: true,
                ..ColumnDef::new("id", int.clone())
            },
            ColumnDef::new("k", int),
        ],
        primary: Some(vec![0]),
        indexes: vec![IndexDef {
            name: "k".into(),
            columns: vec![1],
            unique: false,
            id: 1,
        }],
        next_index_id: 2,
        engine: "InnoDB".into(),
        collation: crate::collation::Collation::default(),
        comment: String::new(),
        version: 0,
        foreign_keys: Vec::new(),
        checks: Vec::new(),
    }
}

pub(super) fn row(id: i64, k: i64) -> Row {
    vec![Value::Int(id), Value::Int(k)].into()
}

pub(super) fn pk(id: i64) -> Vec<u8> {
    keycode::encode_key([&Value::Int(id)])
}

pub(super) type Ops = Vec<(i64, Option<Row>)>;

/// The write-sets of the scenario, by seqno (seqno 1 is the CREATE TABLE).
pub(super) fn write_sets() -> Vec<(u64, Ops)> {
    vec![
        (2, vec![(1, Some(row(1, 10))), (2, Some(row(2, 20)))]),
        (3, vec![(1, Some(row(1, 11)))]),
        (4, vec![(2, None), (3, Some(row(3, 30)))]),
        (5, vec![(1, None), (7, Some(row(7, 70)))]),
        (6, vec![(1, Some(row(1, 12))), (3, Some(row(3, 31)))]),
    ]
}

/// A store with table d.t, its catalog durable at seqno 1.
pub(super) fn store_with_table(engine: Engine) -> Arc<Store> {
    let store = Store::with_engine(engine);
    let t = store.new_table(def()).unwrap();
    let mut db = Database {
        name: "d".into(),
        ..Database::default()
    };
    db.tables.insert("t".into(), Arc::new(t));
    let mut cat = Catalog::default();
    cat.databases.insert("d".into(), db);
    store.set_catalog(cat);
    store.persist_catalog(1).unwrap();
    store.advance_horizon(1);
    store
}

/// Applies one write-set as an applier does: one batch, carrying the
/// horizon reached before it.
pub(super) fn apply(store: &Store, seqno: u64, ops: &Ops) {
    let cat = store.catalog();
    let t = cat.table("d", "t").unwrap();
    let mut b = ApplyBatch::new();
    for (id, r) in ops {
        t.install_into(&mut b, &pk(*id), seqno, r.clone());
    }
    b.commit(Some(store.horizon())).unwrap();
}

/// Rows as (id, k).
pub(super) type Pairs = Vec<(i64, i64)>;

/// Every visible row at `snap`, through the primary key and through the
/// index (stale index entries must stay invisible).
pub(super) fn contents(store: &Store, snap: u64) -> (Pairs, Pairs) {
    let cat = store.catalog();
    let t = cat.table("d", "t").unwrap();
    let by_pk = t
        .rows_at(snap)
        .unwrap()
        .iter()
        .map(|(_, r)| (r[0].to_i64().unwrap(), r[1].to_i64().unwrap()))
        .collect();
    let mut by_index = Vec::new();
    t.index_scan(0, None, None, snap, |_, r| {
        by_index.push((r[0].to_i64().unwrap(), r[1].to_i64().unwrap()));
        true
    })
    .unwrap();
    (by_pk, by_index)
}

pub(super) fn point(seqno: u64) -> RecoveryPoint {
    RecoveryPoint {
        seqno,
        state_uuid: "u".into(),
        cert: vec![seqno as u8],
        low_water: vec![(1, seqno)],
    }
}

#[test]
fn replay_after_the_persisted_horizon_is_idempotent() {
    // The reference: every write-set applied once, in memory.
    let reference = store_with_table(Engine::Memory);
    for (s, ops) in write_sets() {
        apply(&reference, s, &ops);
        reference.advance_horizon(s);
    }

    let dir = tempfile::tempdir().unwrap();
    {
        let e = LsmEngine::open(dir.path(), 1 << 20).unwrap();
        let store = store_with_table(Engine::Lsm(e.clone()));
        let ws = write_sets();
        // 2 and 3 in order; a recovery point at 2; then 5 lands before 4
        // (parallel appliers), and the node dies before 4 and 6.
        apply(&store, 2, &ws[0].1);
        store.advance_horizon(2);
        store.persist_recovery_point(&point(2)).unwrap();
        apply(&store, 3, &ws[1].1);
        store.advance_horizon(3);
        apply(&store, 5, &ws[3].1);
        e.persist().unwrap();
    }

    for round in 0..2 {
        let e = LsmEngine::open(dir.path(), 1 << 20).unwrap();
        let store = Store::with_engine(Engine::Lsm(e.clone()));
        let rec = store
            .recover_from_engine()
            .unwrap()
            .expect("a recovery point");
        // The horizon is the contiguous prefix (3), not the highest seqno
        // on disk (5); the certification state is the recovery point's.
        assert_eq!(rec.point, point(2));
        // (After the first round's replay, batches 4..=6 carried 3..=5.)
        assert_eq!(store.horizon(), if round == 0 { 3 } else { 5 });
        // Replay: everything above the horizon again, 5 included (its
        // versions are on disk already). The second round replays
        // nothing new, as a restart right after recovery would.
        for (s, ops) in write_sets() {
            if s > rec.horizon {
                apply(&store, s, &ops);
                store.advance_horizon(s);
            }
        }
        for snap in 3..=6 {
            assert_eq!(
                contents(&store, snap),
                contents(&reference, snap),
                "round {round}, snapshot {snap}"
            );
        }
        // AUTO_INCREMENT never goes back to a value a stored row has.
        let t = store.catalog().table("d", "t").unwrap().clone();
        assert_eq!(t.next_auto_inc(1, 1), 8);
        e.persist().unwrap();
    }
}

#[test]
fn the_catalog_lands_with_its_ddl_seqno() {
    let dir = tempfile::tempdir().unwrap();
    {
        let e = LsmEngine::open(dir.path(), 1 << 20).unwrap();
        let store = store_with_table(Engine::Lsm(e.clone()));
        store.persist_recovery_point(&point(1)).unwrap();
        // A DDL at 2 (here: AUTO_INCREMENT = 100 and a new database),
        // written with its seqno as the horizon.
        let mut cat = (*store.catalog()).clone();
        cat.table("d", "t").unwrap().bump_auto_inc(99);
        cat.databases.insert(
            "e".into(),
            Database {
                name: "e".into(),
                ..Database::default()
            },
        );
        store.set_catalog(cat);
        store.persist_catalog(2).unwrap();
        e.persist().unwrap();
    }
    let e = LsmEngine::open(dir.path(), 1 << 20).unwrap();
    let store = Store::with_engine(Engine::Lsm(e));
    let rec = store.recover_from_engine().unwrap().unwrap();
    assert_eq!((rec.point.seqno, rec.horizon), (1, 2));
    let cat = store.catalog();
    assert!(cat.databases.contains_key("e"));
    assert_eq!(cat.table("d", "t").unwrap().next_auto_inc(1, 1), 100);
}

#[test]
fn an_unfinished_transfer_leaves_nothing_to_restart_from() {
    let dir = tempfile::tempdir().unwrap();
    {
        let e = LsmEngine::open(dir.path(), 1 << 20).unwrap();
        let store = store_with_table(Engine::Lsm(e.clone()));
        apply(&store, 2, &write_sets()[0].1);
        store.advance_horizon(2);
        store.persist_recovery_point(&point(2)).unwrap();
        // A state transfer starts: the engine is emptied, then the node
        // dies before the transfer's recovery point lands.
        store.begin_transfer().unwrap();
        assert!(store
            .catalog()
            .table("d", "t")
            .unwrap()
            .rows_at(2)
            .unwrap()
            .is_empty());
    }
    let e = LsmEngine::open(dir.path(), 1 << 20).unwrap();
    assert!(matches!(
        super::recovery::inspect(&e).unwrap(),
        super::recovery::Found::IncompleteTransfer
    ));
    let store = Store::with_engine(Engine::Lsm(e.clone()));
    assert!(store.recover_from_engine().unwrap().is_none());
    // Once a transfer completes, the engine is usable again.
    let s2 = store_with_table(Engine::Lsm(e.clone()));
    s2.persist_recovery_point(&point(9)).unwrap();
    assert!(matches!(
        super::recovery::inspect(&e).unwrap(),
        super::recovery::Found::Ready(_)
    ));
}

#[test]
fn damaged_meta_records_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let e = LsmEngine::open(dir.path(), 1 << 20).unwrap();
    let store = store_with_table(Engine::Lsm(e.clone()));
    store.persist_recovery_point(&point(1)).unwrap();
    let mut b = e.batch();
    b.put_meta(super::keys::CATALOG, vec![b'T', b'L', b'C', 1, 0xff]);
    e.commit(b, None).unwrap();
    let fresh = Store::with_engine(Engine::Lsm(e.clone()));
    assert!(matches!(
        fresh.recover_from_engine(),
        Err(crate::StorageError::Corrupt(_))
    ));
    let mut b = e.batch();
    b.put_meta(super::keys::LAYOUT, 99u64.to_be_bytes().to_vec());
    e.commit(b, None).unwrap();
    assert!(matches!(
        super::recovery::inspect(&e),
        Err(crate::StorageError::Engine(_))
    ));
}
