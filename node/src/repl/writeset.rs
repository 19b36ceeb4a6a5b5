//! A transaction's write-set: what certification sees of it.
//!
//! One row operation per changed row with its full after-image, an EXCLUSIVE
//! key per written row and per changed unique value, a SHARED table-level
//! key per written table (so DDL conflicts with it), and the keys of rows read
//! with FOR UPDATE (EXCLUSIVE) or FOR SHARE (SHARED).

use trireme_certification::{Key, KeyKind, RowOp, RowOpKind, WriteSet};
use trireme_storage::codec;
use trireme_storage::txn::{LockKind, Txn};
use trireme_storage::Row;

/// Prefix of a certification key for a row (by primary key).
pub const ROW_KEY_PREFIX: u8 = 0x01;
/// Prefix of a certification key for a unique index value.
pub const UNIQUE_KEY_PREFIX: u8 = 0x02;

/// Builds the write-set, or None when there is nothing to replicate.
pub fn write_set(txn: &Txn, source: u64) -> Option<WriteSet> {
    let mut keys = Vec::new();
    let mut ops = Vec::new();
    // TEMPORARY tables are the session's own, as in Galera: not replicated.
    for (name, tw) in txn.writes().filter(|(_, tw)| !tw.table.is_temporary()) {
        let def = &tw.table.def;
        let mut any = false;
        for (pk, p) in &tw.rows {
            let kind = match (&p.before, &p.after) {
                (None, None) => continue,
                (None, Some(_)) => RowOpKind::Insert,
                (Some(_), Some(_)) => RowOpKind::Update,
                (Some(_), None) => RowOpKind::Delete,
            };
            any = true;
            keys.push(Key::row(name.clone(), row_key(pk), KeyKind::Exclusive));
            for idx in def.indexes.iter().filter(|i| i.unique) {
                // MySQL allows many NULLs in a UNIQUE index, so a value
                // with a NULL part never conflicts.
                let key_of = |r: &Row| {
                    (!idx.columns.iter().any(|&c| r[c].is_null())).then(|| def.index_key_of(idx, r))
                };
                let b = p.before.as_ref().and_then(key_of);
                let a = p.after.as_ref().and_then(key_of);
                if b == a {
                    continue;
                }
                for k in [b, a].into_iter().flatten() {
                    keys.push(Key::row(
                        name.clone(),
                        unique_key(idx.id, &k),
                        KeyKind::Exclusive,
                    ));
                }
            }
            ops.push(RowOp {
                table: name.clone(),
                pk: pk.clone(),
                kind,
                row: p
                    .after
                    .as_ref()
                    .map(|r| codec::encode_row(r))
                    .unwrap_or_default(),
            });
        }
        if any {
            keys.push(Key::table(name.clone(), KeyKind::Shared));
        }
    }
    for ((table, pk), kind) in txn.locks() {
        let k = match kind {
            LockKind::Share => KeyKind::Shared,
            LockKind::Reference => KeyKind::Reference,
            LockKind::Update => KeyKind::Exclusive,
        };
        keys.push(Key::row(table.clone(), row_key(pk), k));
    }
    if keys.is_empty() {
        return None;
    }
    // A key listed twice (a locked row that was also written) is
    // harmless to certification; sort so every node sees one order.
    keys.sort_by(|a, b| (&a.table, &a.pk, a.kind).cmp(&(&b.table, &b.pk, b.kind)));
    keys.dedup_by(|a, b| a.table == b.table && a.pk == b.pk && a.kind == b.kind);
    Some(WriteSet {
        source,
        trx_id: txn.id,
        last_seen_seqno: txn.snapshot.seqno,
        flags: 0,
        keys,
        ops,
    })
}

/// The certification key of a row, by primary key.
pub fn row_key(pk: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(pk.len() + 1);
    k.push(ROW_KEY_PREFIX);
    k.extend_from_slice(pk);
    k
}

/// The certification key of a unique index value.
pub fn unique_key(index_id: u32, ikey: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(ikey.len() + 5);
    k.push(UNIQUE_KEY_PREFIX);
    k.extend_from_slice(&index_id.to_be_bytes());
    k.extend_from_slice(ikey);
    k
}

/// The primary key inside a row key (None for other keys).
pub fn row_pk(key: &[u8]) -> Option<&[u8]> {
    match key.split_first() {
        Some((&ROW_KEY_PREFIX, pk)) => Some(pk),
        _ => None,
    }
}
