//! Access paths: how rows of one stored table are found for a query.
//!
//! From the conjuncts that apply to a source, the planner picks, in order of
//! preference: primary-key points (every key column bound by `=` or `IN`),
//! unique-index points, a primary-key prefix with an optional range on the
//! next column, a secondary-index prefix/range, and finally a full scan.
//! `WHERE pk = ?` is therefore always a point lookup.
//!
//! Contract: an access path returns a *superset* of the rows the predicate
//! selects; the executor always re-checks every conjunct. This is what lets
//! lookups coerce values to the column type with inclusive bounds and lets
//! a transaction's own pending rows be merged in unfiltered.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::coerce::Coerce;
use crate::error::SqlResult;
use crate::expr::{CmpOp, Expr};
use trireme_storage::catalog::TableDef;
use trireme_storage::collation::Collation;
use trireme_storage::keycode;
use trireme_storage::txn::Txn;
use trireme_storage::value::{compare_collated, Value};
use trireme_storage::{Row, Table};

/// Upper limit on the number of point lookups an IN-list expands to.
const MAX_POINTS: usize = 4096;

#[derive(Clone, Debug)]
pub enum Access {
    Full,
    /// Full-key lookups; each inner Vec has one expression per key column.
    PkPoints(Vec<Vec<Expr>>),
    /// Leading key columns bound by `=`, then an optional range on the next.
    PkRange(KeyRange),
    IndexPoints(usize, Vec<Vec<Expr>>),
    IndexRange(usize, KeyRange),
}

#[derive(Clone, Debug)]
pub struct KeyRange {
    pub eq: Vec<Expr>,
    pub lo: Option<Expr>,
    pub hi: Option<Expr>,
}

/// What a conjunct says about one column of the table being planned.
#[derive(Clone, Debug)]
enum ColPred {
    Eq(Expr),
    In(Vec<Expr>),
    Lo(Expr),
    Hi(Expr),
}

/// Collects per-column predicates on the source whose columns occupy
/// `[offset, offset + width)` from conjuncts whose other side only reads
/// columns below `offset` (earlier sources), so it can be evaluated before
/// this source is read.
/// Predicates on the columns of one table. A string predicate counts only
/// when it compares under the column's own collation: only then does the
/// column's key order answer it.
fn column_preds(
    conjuncts: &[&Expr],
    offset: usize,
    def: &TableDef,
) -> BTreeMap<usize, Vec<ColPred>> {
    let width = def.columns.len();
    let keyed = |col: usize, coll: &Option<Collation>| match (coll, def.columns[col].collation) {
        (None, _) => true,
        (Some(c), Some(k)) => c.same_order(k),
        (Some(_), None) => true,
    };
    let mut out: BTreeMap<usize, Vec<ColPred>> = BTreeMap::new();
    let local = |e: &Expr| match e {
        Expr::Col(c) if *c >= offset && *c < offset + width => Some(*c - offset),
        _ => None,
    };
    let outer_only = |e: &Expr| e.max_column().is_none_or(|m| m < offset);
    for c in conjuncts {
        match c {
            Expr::Cmp(op, a, b, coll) => {
                let (col, other, op) = match (local(a), local(b)) {
                    (Some(col), _) if outer_only(b) => (col, b.as_ref(), *op),
                    (_, Some(col)) if outer_only(a) => (col, a.as_ref(), op.flip()),
                    _ => continue,
                };
                if !keyed(col, coll) {
                    continue;
                }
                let p = match op {
                    CmpOp::Eq => ColPred::Eq(other.clone()),
                    CmpOp::Lt | CmpOp::Le => ColPred::Hi(other.clone()),
                    CmpOp::Gt | CmpOp::Ge => ColPred::Lo(other.clone()),
                    CmpOp::Ne | CmpOp::NullSafeEq => continue,
                };
                out.entry(col).or_default().push(p);
            }
            Expr::InList(e, list, false, coll) => {
                if let Some(col) = local(e).filter(|&c| keyed(c, coll)) {
                    if list.iter().all(outer_only) {
                        out.entry(col).or_default().push(ColPred::In(list.clone()));
                    }
                }
            }
            Expr::Between(e, lo, hi, false, coll) => {
                if let Some(col) = local(e).filter(|&c| keyed(c, coll)) {
                    if outer_only(lo) && outer_only(hi) {
                        let v = out.entry(col).or_default();
                        v.push(ColPred::Lo((**lo).clone()));
                        v.push(ColPred::Hi((**hi).clone()));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Point lookups when every column in `cols` is bound by `=` or `IN`.
fn points(preds: &BTreeMap<usize, Vec<ColPred>>, cols: &[usize]) -> Option<Vec<Vec<Expr>>> {
    let mut acc: Vec<Vec<Expr>> = vec![Vec::new()];
    for c in cols {
        let choices: Vec<Expr> = preds.get(c).and_then(|ps| {
            ps.iter()
                .find_map(|p| match p {
                    ColPred::Eq(e) => Some(vec![e.clone()]),
                    _ => None,
                })
                .or_else(|| {
                    ps.iter().find_map(|p| match p {
                        ColPred::In(l) => Some(l.clone()),
                        _ => None,
                    })
                })
        })?;
        if acc.len() * choices.len() > MAX_POINTS {
            return None;
        }
        let mut next = Vec::with_capacity(acc.len() * choices.len());
        for prefix in &acc {
            for ch in &choices {
                let mut p = prefix.clone();
                p.push(ch.clone());
                next.push(p);
            }
        }
        acc = next;
    }
    Some(acc)
}

/// A prefix of `=` columns, then an optional range on the next column.
fn range(preds: &BTreeMap<usize, Vec<ColPred>>, cols: &[usize]) -> Option<KeyRange> {
    let mut eq = Vec::new();
    let mut lo = None;
    let mut hi = None;
    for c in cols {
        let ps = preds.get(c);
        if let Some(e) = ps.and_then(|ps| {
            ps.iter().find_map(|p| match p {
                ColPred::Eq(e) => Some(e.clone()),
                _ => None,
            })
        }) {
            eq.push(e);
            continue;
        }
        if let Some(ps) = ps {
            for p in ps {
                match p {
                    ColPred::Lo(e) if lo.is_none() => lo = Some(e.clone()),
                    ColPred::Hi(e) if hi.is_none() => hi = Some(e.clone()),
                    _ => {}
                }
            }
        }
        break;
    }
    if eq.is_empty() && lo.is_none() && hi.is_none() {
        return None;
    }
    Some(KeyRange { eq, lo, hi })
}

/// Keys whose leading column some conjunct constrains, the primary key as
/// None (EXPLAIN's `possible_keys`).
pub fn candidate_keys(def: &TableDef, conjuncts: &[&Expr], offset: usize) -> Vec<Option<usize>> {
    let preds = column_preds(conjuncts, offset, def);
    let leads = |cols: &[usize]| cols.first().is_some_and(|c| preds.contains_key(c));
    let mut out = Vec::new();
    if def.primary.as_deref().is_some_and(leads) {
        out.push(None);
    }
    for (i, idx) in def.indexes.iter().enumerate() {
        if leads(&idx.columns) {
            out.push(Some(i));
        }
    }
    out
}

/// Chooses the access path for `def` at `offset` given the conjuncts that
/// may be used for it.
pub fn choose(def: &TableDef, conjuncts: &[&Expr], offset: usize) -> Access {
    let preds = column_preds(conjuncts, offset, def);
    if preds.is_empty() {
        return Access::Full;
    }
    if let Some(pk) = &def.primary {
        if let Some(p) = points(&preds, pk) {
            return Access::PkPoints(p);
        }
    }
    for (i, idx) in def.indexes.iter().enumerate() {
        if idx.unique {
            if let Some(p) = points(&preds, &idx.columns) {
                return Access::IndexPoints(i, p);
            }
        }
    }
    let pk_range = def.primary.as_ref().and_then(|pk| range(&preds, pk));
    if let Some(r) = &pk_range {
        if !r.eq.is_empty() {
            return Access::PkRange(r.clone());
        }
    }
    // The secondary index with the longest equality prefix.
    let mut best: Option<(usize, KeyRange)> = None;
    for (i, idx) in def.indexes.iter().enumerate() {
        if let Some(p) = points(&preds, &idx.columns) {
            return Access::IndexPoints(i, p);
        }
        if let Some(r) = range(&preds, &idx.columns) {
            if best.as_ref().is_none_or(|(_, b)| r.eq.len() > b.eq.len()) {
                best = Some((i, r));
            }
        }
    }
    match (pk_range, best) {
        (_, Some((i, r))) if !r.eq.is_empty() => Access::IndexRange(i, r),
        (Some(r), _) => Access::PkRange(r),
        (None, Some((i, r))) => Access::IndexRange(i, r),
        (None, None) => Access::Full,
    }
}

/// A lookup value converted to the column's type. `Exact` when the
/// conversion kept the value, `Inexact` when it rounded (then an equality
/// cannot match but a bound is still a valid inclusive bound), `Unusable`
/// when it cannot be converted (the caller scans instead).
enum KeyValue {
    Exact(Value),
    Inexact(Value),
    Unusable,
}

fn key_value(def: &TableDef, col: usize, v: Value) -> KeyValue {
    if v.is_null() {
        return KeyValue::Inexact(Value::Null);
    }
    let ty = &def.columns[col].ty;
    // Strings compared with a numeric column compare as numbers, which a
    // byte-ordered key cannot express exactly: scan instead.
    if v.is_stringish() && !ty.is_string() && !ty.is_binary() {
        let parsed = trireme_storage::value::parse_decimal(&v.to_text_lossy());
        if parsed.is_none() {
            return KeyValue::Unusable;
        }
    }
    if !v.is_stringish() && (ty.is_string() || ty.is_binary()) {
        // A number against a string column compares numerically ('1.0' = 1).
        return KeyValue::Unusable;
    }
    match ty.coerce(v.clone(), "key") {
        Ok(c) => {
            if compare_collated(&c, &v, def.columns[col].collation) == Some(Ordering::Equal) {
                KeyValue::Exact(c)
            } else {
                KeyValue::Inexact(c)
            }
        }
        Err(_) => KeyValue::Unusable,
    }
}

/// Row-access counters of a session, named after (and counted like) MySQL's
/// `Handler_read_*` status variables, shown by `SHOW STATUS`. They make the
/// access path a statement took observable: a point lookup by primary key
/// is one `read_key` and no `read_rnd_next`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Index lookups: one per primary- or unique-key point, one per index
    /// (or key range) position started (`Handler_read_key`).
    pub read_key: u64,
    /// Rows read in key order after a lookup: key ranges and non-unique
    /// index entries (`Handler_read_next`).
    pub read_next: u64,
    /// Rows read by full table scans (`Handler_read_rnd_next`).
    pub read_rnd_next: u64,
    /// Full table scans started (`Select_scan`, counted per scan).
    pub full_scans: u64,
}

impl ReadStats {
    /// The counters as `SHOW STATUS` rows.
    pub fn status_rows(&self) -> Vec<(String, Value)> {
        vec![
            ("Handler_read_key".into(), Value::UInt(self.read_key)),
            ("Handler_read_next".into(), Value::UInt(self.read_next)),
            (
                "Handler_read_rnd_next".into(),
                Value::UInt(self.read_rnd_next),
            ),
            ("Select_scan".into(), Value::UInt(self.full_scans)),
        ]
    }
}

/// The rows of `table` an access path selects, as this transaction sees
/// them, in key order. `row` holds the values of earlier sources. The work
/// done is added to `stats`.
pub fn fetch(
    table: &Table,
    txn: &Txn,
    access: &Access,
    row: &[Value],
    stats: &mut ReadStats,
) -> SqlResult<Vec<(Vec<u8>, Row)>> {
    let def = &table.def;
    let snap = txn.snapshot_seqno();
    let mut out: BTreeMap<Vec<u8>, Row> = BTreeMap::new();
    let mut full = false;
    match access {
        Access::Full => full = true,
        Access::PkPoints(pts) => {
            let pk = def.primary.as_ref().expect("PkPoints needs a primary key");
            match encode_points(def, pk, pts, row)? {
                Some(keys) => {
                    for k in keys {
                        stats.read_key += 1;
                        if let Some(r) = table.get(&k, snap)? {
                            out.insert(k, r);
                        }
                    }
                }
                None => full = true,
            }
        }
        Access::IndexPoints(i, pts) => {
            let cols = &def.indexes[*i].columns;
            match encode_points(def, cols, pts, row)? {
                Some(keys) => {
                    for k in keys {
                        stats.read_key += 1;
                        let hi = keycode::prefix_successor(&k);
                        table.index_scan(*i, Some(&k), hi.as_deref(), snap, |pk, r| {
                            stats.read_next += 1;
                            out.insert(pk.to_vec(), r);
                            true
                        })?;
                    }
                }
                None => full = true,
            }
        }
        Access::PkRange(r) => {
            let pk = def.primary.as_ref().expect("PkRange needs a primary key");
            match encode_range(def, pk, r, row)? {
                Some(Bounds::Empty) => {}
                Some(Bounds::Range(lo, hi)) => {
                    stats.read_key += 1;
                    table.scan(Some(&lo), hi.as_deref(), snap, |k, r| {
                        stats.read_next += 1;
                        out.insert(k.to_vec(), r);
                        true
                    })?
                }
                None => full = true,
            }
        }
        Access::IndexRange(i, r) => {
            let cols = &def.indexes[*i].columns;
            match encode_range(def, cols, r, row)? {
                Some(Bounds::Empty) => {}
                Some(Bounds::Range(lo, hi)) => {
                    stats.read_key += 1;
                    table.index_scan(*i, Some(&lo), hi.as_deref(), snap, |pk, r| {
                        stats.read_next += 1;
                        out.insert(pk.to_vec(), r);
                        true
                    })?
                }
                None => full = true,
            }
        }
    }
    if full {
        stats.full_scans += 1;
        table.scan(None, None, snap, |k, r| {
            stats.read_rnd_next += 1;
            out.insert(k.to_vec(), r);
            true
        })?;
    }
    // Overlay the transaction's own writes: its version of a row wins, and
    // every row it wrote is a candidate (the caller re-checks predicates).
    if let Some(pending) = txn.pending(table) {
        for (pk, p) in pending {
            match &p.after {
                Some(r) => {
                    out.insert(pk.clone(), r.clone());
                }
                None => {
                    out.remove(pk);
                }
            }
        }
    }
    Ok(out.into_iter().collect())
}

enum Bounds {
    Empty,
    Range(Vec<u8>, Option<Vec<u8>>),
}

/// Encodes point keys; Ok(None) means "cannot use the index, scan".
fn encode_points(
    def: &TableDef,
    cols: &[usize],
    pts: &[Vec<Expr>],
    row: &[Value],
) -> SqlResult<Option<Vec<Vec<u8>>>> {
    let mut keys = Vec::with_capacity(pts.len());
    'points: for p in pts {
        let mut key = Vec::new();
        for (e, &c) in p.iter().zip(cols) {
            match key_value(def, c, e.eval(row)?) {
                KeyValue::Exact(v) => {
                    keycode::encode_collated(&mut key, &v, def.columns[c].collation)
                }
                // `col = NULL` and `int_col = 1.5` match nothing.
                KeyValue::Inexact(_) => continue 'points,
                KeyValue::Unusable => return Ok(None),
            }
        }
        keys.push(key);
    }
    keys.sort();
    keys.dedup();
    Ok(Some(keys))
}

fn encode_range(
    def: &TableDef,
    cols: &[usize],
    r: &KeyRange,
    row: &[Value],
) -> SqlResult<Option<Bounds>> {
    let mut prefix = Vec::new();
    for (e, &c) in r.eq.iter().zip(cols) {
        match key_value(def, c, e.eval(row)?) {
            KeyValue::Exact(v) => {
                keycode::encode_collated(&mut prefix, &v, def.columns[c].collation)
            }
            KeyValue::Inexact(_) => return Ok(Some(Bounds::Empty)),
            KeyValue::Unusable => return Ok(None),
        }
    }
    let next_col = cols.get(r.eq.len()).copied();
    let mut lo = prefix.clone();
    // Skip NULLs in the ranged column: no comparison with a bound is true
    // for NULL.
    let mut hi = keycode::prefix_successor(&prefix);
    if let (Some(col), Some(e)) = (next_col, &r.lo) {
        match key_value(def, col, e.eval(row)?) {
            KeyValue::Exact(v) | KeyValue::Inexact(v) => {
                if v.is_null() {
                    return Ok(Some(Bounds::Empty));
                }
                keycode::encode_collated(&mut lo, &v, def.columns[col].collation);
            }
            KeyValue::Unusable => return Ok(None),
        }
    } else if next_col.is_some() && r.hi.is_some() {
        // Only an upper bound: start after the NULLs.
        lo.push(0x01);
    }
    if let (Some(col), Some(e)) = (next_col, &r.hi) {
        match key_value(def, col, e.eval(row)?) {
            KeyValue::Exact(v) | KeyValue::Inexact(v) => {
                if v.is_null() {
                    return Ok(Some(Bounds::Empty));
                }
                let mut h = prefix.clone();
                keycode::encode_collated(&mut h, &v, def.columns[col].collation);
                hi = keycode::prefix_successor(&h);
            }
            KeyValue::Unusable => return Ok(None),
        }
    }
    if let Some(h) = &hi {
        if &lo >= h {
            return Ok(Some(Bounds::Empty));
        }
    }
    Ok(Some(Bounds::Range(lo, hi)))
}
