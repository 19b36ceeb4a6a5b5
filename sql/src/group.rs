//! GROUP BY: source rows into groups, aggregates per group, and the
//! super-aggregate rows of `WITH ROLLUP`.
//!
//! Each output row is the group's first source row (its first `width`
//! values) followed by the aggregate values, so expressions bound over the
//! source scope evaluate on it unchanged.

use std::collections::{HashMap, HashSet};

use crate::bind::AggCall;
use crate::error::SqlResult;
use crate::expr::Expr;
use crate::select::{accumulate_agg, finish_agg, new_agg_state, row_fingerprint};
use trireme_storage::collation::Collation;
use trireme_storage::keycode;
use trireme_storage::value::Value;

/// The grouping of one SELECT.
pub(crate) struct Grouping<'a> {
    pub exprs: &'a [Expr],
    pub colls: &'a [Option<Collation>],
    /// `GROUP BY ... WITH ROLLUP`.
    pub rollup: bool,
}

struct Group {
    first: Vec<Value>,
    states: Vec<crate::select::AggState>,
    seen: Vec<HashSet<Vec<u8>>>,
}

impl Group {
    fn new(first: &[Value], aggs: &[AggCall]) -> Group {
        Group {
            first: first.to_vec(),
            states: aggs.iter().map(new_agg_state).collect(),
            seen: aggs.iter().map(|_| HashSet::new()).collect(),
        }
    }

    fn add(
        &mut self,
        r: &[Value],
        aggs: &[AggCall],
        agg_colls: &[Option<Collation>],
    ) -> SqlResult<()> {
        for (i, a) in aggs.iter().enumerate() {
            if a.distinct {
                let vals = a
                    .args
                    .iter()
                    .map(|e| e.eval(r))
                    .collect::<SqlResult<Vec<_>>>()?;
                if !self.seen[i].insert(row_fingerprint(&vals, &agg_colls[i..=i])) {
                    continue;
                }
            }
            accumulate_agg(a, &mut self.states[i], r, agg_colls[i])?;
        }
        Ok(())
    }

    fn finish(self, aggs: &[AggCall], width: usize) -> Vec<Value> {
        let mut r = self.first;
        r.truncate(width);
        for (a, st) in aggs.iter().zip(self.states) {
            r.push(finish_agg(a, st));
        }
        r
    }
}

/// Groups `rows` and computes `aggs` per group. Groups come out ascending by
/// their grouping values, as MariaDB's do; with ROLLUP each run of groups
/// sharing a prefix is followed by that prefix's super-aggregate row.
pub(crate) fn aggregate_rows(
    rows: Vec<Vec<Value>>,
    g: &Grouping,
    (aggs, agg_colls): (&[AggCall], &[Option<Collation>]),
    width: usize,
) -> SqlResult<Vec<Vec<Value>>> {
    let n = g.exprs.len();
    // levels[k]: groups by the first k grouping values (the memcomparable
    // key's prefix up to the k-th boundary); levels[n] is the real grouping.
    let levels = if g.rollup { n + 1 } else { 1 };
    let mut groups: Vec<HashMap<Vec<u8>, Group>> = (0..levels).map(|_| HashMap::new()).collect();
    let mut order: Vec<Vec<u8>> = Vec::new();
    let mut bounds: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
    for r in rows {
        let mut key = Vec::new();
        let mut cuts = vec![0];
        for (e, coll) in g.exprs.iter().zip(g.colls) {
            keycode::encode_collated(&mut key, &e.eval(&r)?, *coll);
            cuts.push(key.len());
        }
        for (lvl, map) in groups.iter_mut().enumerate() {
            let k = if g.rollup { lvl } else { n };
            let part = &key[..cuts[k]];
            let group = match map.get_mut(part) {
                Some(grp) => grp,
                None => {
                    if k == n {
                        order.push(key.clone());
                        bounds.insert(key.clone(), cuts.clone());
                    }
                    map.entry(part.to_vec()).or_insert(Group::new(&r, aggs))
                }
            };
            group.add(&r, aggs, agg_colls)?;
        }
    }
    let mut full = groups.pop().unwrap_or_default();
    if n == 0 && full.is_empty() {
        // An aggregate over no rows still yields one row.
        let mut r = vec![Value::Null; width];
        for a in aggs {
            r.push(finish_agg(a, new_agg_state(a)));
        }
        return Ok(vec![r]);
    }
    // MariaDB sorts groups by their values (GROUP BY implies that ORDER
    // BY); applications read reports in that order.
    order.sort();
    if !g.rollup {
        return Ok(order
            .into_iter()
            .filter_map(|k| full.remove(&k))
            .map(|grp| grp.finish(aggs, width))
            .collect());
    }
    let mut out = Vec::with_capacity(order.len() * 2);
    for (i, key) in order.iter().enumerate() {
        if let Some(grp) = full.remove(key) {
            out.push(grp.finish(aggs, width));
        }
        let cuts = &bounds[key];
        let next = order.get(i + 1).map(|nx| (nx, &bounds[nx]));
        // Every prefix this group closes, the longest first.
        for k in (0..n).rev() {
            let prefix = &key[..cuts[k]];
            if next.is_some_and(|(nx, nc)| &nx[..nc[k]] == prefix) {
                break;
            }
            if let Some(grp) = groups[k].remove(prefix) {
                let mut r = grp.finish(aggs, width);
                null_rolled_up(&mut r, &g.exprs[..k], &g.exprs[k..], width);
                out.push(r);
            }
        }
    }
    Ok(out)
}

/// In a super-aggregate row the grouping expressions rolled up read NULL:
/// the source columns they use are cleared, except those a kept grouping
/// expression also uses.
fn null_rolled_up(r: &mut [Value], kept: &[Expr], rolled: &[Expr], width: usize) {
    let mut keep = HashSet::new();
    for e in kept {
        e.columns(&mut |c| {
            keep.insert(c);
        });
    }
    let mut clear = HashSet::new();
    for e in rolled {
        match e {
            // A plain column rolled up reads NULL even when a kept
            // expression uses it (`GROUP BY YEAR(d), d` then shows a NULL
            // year in the level-1 rows, where MariaDB keeps the year).
            Expr::Col(c) => {
                clear.insert(*c);
            }
            _ => e.columns(&mut |c| {
                if !keep.contains(&c) {
                    clear.insert(c);
                }
            }),
        }
    }
    for c in clear {
        if c < width {
            r[c] = Value::Null;
        }
    }
}
