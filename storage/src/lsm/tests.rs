//! The on-disk store's own behaviour: what survives a reopen, what a damaged
//! value reads as, and that a batch lands with its horizon.

use super::keys;
use super::LsmEngine;
use crate::catalog::{ColumnDef, IndexDef, TableDef};
use crate::error::StorageError;
use crate::keycode;
use crate::table::{ApplyBatch, Engine, Row, Table};
use crate::types::{IntWidth, SqlType};
use crate::value::Value;

fn def() -> TableDef {
    let int = SqlType::Int {
        width: IntWidth::Int,
        unsigned: false,
    };
    TableDef {
        db: "d".into(),
        name: "t".into(),
        columns: vec![ColumnDef::new("id", int.clone()), ColumnDef::new("k", int)],
        primary: Some(vec![0]),
        indexes: vec![IndexDef {
            name: "k".into(),
            columns: vec![1],
            unique: true,
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

fn row(id: i64, k: i64) -> Row {
    vec![Value::Int(id), Value::Int(k)].into()
}

fn pk(id: i64) -> Vec<u8> {
    keycode::encode_key([&Value::Int(id)])
}

fn all(t: &Table, snap: u64) -> Vec<(i64, i64)> {
    t.rows_at(snap)
        .unwrap()
        .iter()
        .map(|(_, r)| (r[0].to_i64().unwrap(), r[1].to_i64().unwrap()))
        .collect()
}

#[test]
fn rows_and_horizon_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let id;
    {
        let e = LsmEngine::open(dir.path(), 1 << 20).unwrap();
        let t = Table::create(def(), &Engine::Lsm(e.clone())).unwrap();
        id = t.lsm_id().unwrap();
        // Three write-sets, each its own batch carrying the horizon.
        for (seqno, ops) in [
            (1, vec![(1, Some(row(1, 10))), (2, Some(row(2, 20)))]),
            (2, vec![(1, Some(row(1, 11)))]),
            (3, vec![(2, None), (3, Some(row(3, 30)))]),
        ] {
            let mut b = ApplyBatch::new();
            for (id, r) in ops {
                t.install_into(&mut b, &pk(id), seqno, r);
            }
            b.commit(Some(seqno)).unwrap();
        }
        assert_eq!(e.persisted_horizon(), 3);
        e.persist().unwrap();
    }
    let e = LsmEngine::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(e.persisted_horizon(), 3);
    let t = Table::attach(def(), &e, id);
    assert_eq!(all(&t, 1), vec![(1, 10), (2, 20)]);
    assert_eq!(all(&t, 3), vec![(1, 11), (3, 30)]);
    assert_eq!(t.latest_seqno(&pk(2)).unwrap(), 3);
    let ik = keycode::encode_key([&Value::Int(11)]);
    assert_eq!(t.index_candidates(0, &ik).unwrap(), vec![pk(1)]);
    // Table ids are never reused after a reopen.
    let fresh = Table::create(def(), &Engine::Lsm(e)).unwrap();
    assert!(fresh.lsm_id().unwrap() > id);
    assert!(all(&fresh, 3).is_empty());
}

#[test]
fn the_stored_horizon_only_moves_forward() {
    let dir = tempfile::tempdir().unwrap();
    let e = LsmEngine::open(dir.path(), 1 << 20).unwrap();
    let t = Table::create(def(), &Engine::Lsm(e.clone())).unwrap();
    // Appliers commit out of order; an older horizon must not win.
    for (seqno, horizon) in [(5, 5), (4, 3), (6, 6), (7, 2)] {
        let mut b = ApplyBatch::new();
        t.install_into(&mut b, &pk(seqno), seqno as u64, Some(row(seqno, seqno)));
        b.commit(Some(horizon)).unwrap();
        assert_eq!(e.persisted_horizon(), horizon.max(e.persisted_horizon()));
    }
    assert_eq!(e.persisted_horizon(), 6);
    drop(t);
    drop(e);
    assert_eq!(
        LsmEngine::open(dir.path(), 1 << 20)
            .unwrap()
            .persisted_horizon(),
        6
    );
}

#[test]
fn a_replayed_write_set_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let e = LsmEngine::open(dir.path(), 1 << 20).unwrap();
    let t = Table::create(def(), &Engine::Lsm(e)).unwrap();
    t.install(&pk(1), 4, Some(row(1, 1))).unwrap();
    t.install(&pk(1), 6, Some(row(1, 2))).unwrap();
    // Recovery replays from the stored horizon: seqno 4 arrives again,
    // after 6, and the newest version stays the newest.
    t.install(&pk(1), 4, Some(row(1, 1))).unwrap();
    assert_eq!(all(&t, 10), vec![(1, 2)]);
    assert_eq!(all(&t, 5), vec![(1, 1)]);
    assert_eq!(t.entry_count(), 1);
    assert_eq!(t.latest_seqno(&pk(1)).unwrap(), 6);
}

#[test]
fn damaged_values_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let e = LsmEngine::open(dir.path(), 1 << 20).unwrap();
    let t = Table::create(def(), &Engine::Lsm(e.clone())).unwrap();
    let id = t.lsm_id().unwrap();
    t.install(&pk(1), 2, Some(row(1, 1))).unwrap();
    // A version whose image is cut short, and one with an unknown tag.
    e.rows
        .insert(keys::row_key(id, &pk(1), 3), vec![1u8, 2])
        .unwrap();
    e.rows
        .insert(keys::row_key(id, &pk(2), 3), vec![9u8])
        .unwrap();
    assert!(matches!(t.get(&pk(1), 3), Err(StorageError::Corrupt(_))));
    assert!(matches!(t.get(&pk(2), 3), Err(StorageError::Corrupt(_))));
    assert!(matches!(t.rows_at(3), Err(StorageError::Corrupt(_))));
    // Reads below the damage still work.
    assert_eq!(all_ok(&t, &pk(1), 2), Some(1));
    // A key in a table's range that is not a row key.
    let t2 = Table::create(def(), &Engine::Lsm(e.clone())).unwrap();
    let mut junk = keys::table_prefix(t2.lsm_id().unwrap());
    junk.extend_from_slice(b"\xff\xff");
    e.rows.insert(junk, vec![0u8]).unwrap();
    assert!(matches!(t2.rows_at(3), Err(StorageError::Corrupt(_))));
    // GC of a table attached after a reopen scans it once, and says so.
    let again = Table::attach(def(), &e, t2.lsm_id().unwrap());
    assert!(matches!(
        again.collect_garbage(3),
        Err(StorageError::Corrupt(_))
    ));
}

fn all_ok(t: &Table, pk: &[u8], snap: u64) -> Option<i64> {
    t.get(pk, snap).unwrap().map(|r| r[1].to_i64().unwrap())
}

#[test]
fn gc_removes_old_versions_and_their_index_entries() {
    let dir = tempfile::tempdir().unwrap();
    let e = LsmEngine::open(dir.path(), 1 << 20).unwrap();
    let t = Table::create(def(), &Engine::Lsm(e)).unwrap();
    t.install(&pk(1), 1, Some(row(1, 10))).unwrap();
    t.install(&pk(1), 2, Some(row(1, 20))).unwrap();
    t.install(&pk(2), 3, Some(row(2, 30))).unwrap();
    t.install(&pk(2), 4, None).unwrap();
    assert_eq!(t.collect_garbage(4).unwrap(), 3);
    assert_eq!(t.entry_count(), 1);
    let cands = |k: i64| {
        t.index_candidates(0, &keycode::encode_key([&Value::Int(k)]))
            .unwrap()
    };
    assert!(cands(10).is_empty());
    assert!(cands(30).is_empty());
    assert_eq!(cands(20), vec![pk(1)]);
    // Nothing left to collect.
    assert_eq!(t.collect_garbage(4).unwrap(), 0);
}

#[test]
fn new_rows_are_not_garbage_until_they_change() {
    let dir = tempfile::tempdir().unwrap();
    let e = LsmEngine::open(dir.path(), 1 << 20).unwrap();
    let t = Table::create(def(), &Engine::Lsm(e)).unwrap();
    // The first GC pass of a table scans it once; after it, only rows
    // handed to GC are looked at.
    assert_eq!(t.collect_garbage(0).unwrap(), 0);
    let mut b = ApplyBatch::new();
    for id in 1..=100 {
        t.install_new_into(&mut b, &pk(id), 1, row(id, id));
    }
    b.commit(Some(0)).unwrap();
    assert_eq!(t.gc_backlog(), 0, "inserted rows have nothing to collect");
    // An update leaves the inserted version behind: that row is handed to
    // GC, and its old version and index entry go.
    let mut b = ApplyBatch::new();
    t.install_into(&mut b, &pk(7), 2, Some(row(7, 700)));
    b.commit(Some(1)).unwrap();
    assert_eq!(t.gc_backlog(), 1);
    assert_eq!(t.collect_garbage(2).unwrap(), 1);
    assert_eq!(t.entry_count(), 100);
    assert!(t
        .index_candidates(0, &keycode::encode_key([&Value::Int(7)]))
        .unwrap()
        .is_empty());
    assert_eq!(all(&t, 2).len(), 100);
}

#[test]
fn gc_comes_back_to_rows_it_could_not_finish() {
    let dir = tempfile::tempdir().unwrap();
    let e = LsmEngine::open(dir.path(), 1 << 20).unwrap();
    let t = Table::create(def(), &Engine::Lsm(e.clone())).unwrap();
    t.install(&pk(1), 1, Some(row(1, 10))).unwrap();
    t.install(&pk(1), 5, Some(row(1, 20))).unwrap();
    t.install(&pk(2), 6, None).unwrap();
    // A snapshot at 2 still needs seqno 1; nothing goes yet.
    assert_eq!(t.collect_garbage(2).unwrap(), 0);
    // Once it is gone, the next pass collects without a new write.
    assert_eq!(t.collect_garbage(6).unwrap(), 2);
    assert_eq!(t.entry_count(), 1);
    // After a reopen the first pass scans the table (nothing left here).
    let again = Table::attach(def(), &e, t.lsm_id().unwrap());
    assert_eq!(again.collect_garbage(6).unwrap(), 0);
}
