//! The DDL checker: acknowledged inserts survive schema changes.
//!
//! Clients insert rows with unique ids into their own tables while creating,
//! altering and dropping those tables (see [`crate::workload::ddl`]). A
//! client never touches a table again after it sent a DROP for it, so:
//!
//! | the insert | its table's DROP | in the final read | result |
//! |---|---|---|---|
//! | `ok` | none, or `fail` | yes | fine |
//! | `ok` | none, or `fail` | no (row or whole table missing) | **`lost`** |
//! | `ok` | `ok` / `info` | either | fine (the drop may have removed it) |
//! | `info` | any | yes | *recovered* (counted) |
//! | `fail` | any | yes | **`failed-but-present`** |
//! | never attempted, or attempted in another table | | yes | **`unexpected`** |
//!
//! Final reads of different nodes must be identical (`final-divergence`).
//! Whether the nodes' schemas and row contents (including the defaults
//! every node filled in for added columns) agree is the run's consistency
//! check (`CHECKSUM TABLE` and `SHOW CREATE TABLE` on every node), not this
//! checker's. With no successful final read the verdict is `Unknown`.

use std::collections::{BTreeMap, BTreeSet};

use super::CheckResult;
use crate::history::{pair, Op, OpType, Value, F};

#[derive(Clone, Debug)]
pub struct DdlOpts {
    /// Nodes expected to answer a final read.
    pub nodes: Vec<String>,
}

pub fn check(ops: &[Op], opts: &DdlOpts) -> CheckResult {
    let mut r = CheckResult::new("ddl");
    let completed = match pair(ops) {
        Ok(c) => c,
        Err(e) => {
            r.unknown(format!("malformed history: {e}"));
            return r;
        }
    };
    // id -> (table, outcome, op index)
    let mut inserts: BTreeMap<u64, (String, OpType, u64)> = BTreeMap::new();
    // Tables a DROP may have removed (ok or info).
    let mut dropped: BTreeSet<String> = BTreeSet::new();
    let mut ddl_counts: BTreeMap<String, [u64; 3]> = BTreeMap::new();
    for c in &completed {
        match (c.invoke.f, &c.invoke.value) {
            (F::Insert, Value::Row { table, id }) => {
                let previous = inserts.insert(*id, (table.clone(), c.typ(), c.index()));
                if previous.is_some() {
                    r.unknown(format!(
                        "id {id} was inserted twice: the workload must generate unique ids"
                    ));
                }
            }
            (F::Ddl, Value::Ddl { table, kind, .. }) => {
                let slot = match c.typ() {
                    OpType::Ok => 0,
                    OpType::Fail => 1,
                    _ => 2,
                };
                ddl_counts.entry(kind.clone()).or_default()[slot] += 1;
                if kind == "drop" && c.typ() != OpType::Fail {
                    dropped.insert(table.clone());
                }
            }
            (F::Insert | F::Ddl, _) => {
                r.unknown(format!(
                    "operation {} carries an unexpected value",
                    c.invoke.index
                ));
            }
            _ => {}
        }
    }
    let expected: BTreeMap<u64, &String> = inserts
        .iter()
        .filter(|(_, (t, typ, _))| *typ == OpType::Ok && !dropped.contains(t))
        .map(|(id, (t, _, _))| (*id, t))
        .collect();
    r.stat("inserts-attempted", inserts.len() as u64);
    r.stat(
        "inserts-acknowledged",
        inserts.values().filter(|v| v.1 == OpType::Ok).count() as u64,
    );
    r.stat("inserts-expected-at-end", expected.len() as u64);
    for (kind, [ok, fail, info]) in &ddl_counts {
        r.stat(
            &format!("ddl-{kind}"),
            format!("{ok} ok, {fail} fail, {info} info"),
        );
    }

    let mut finals: BTreeMap<String, (u64, &BTreeMap<String, Vec<u64>>)> = BTreeMap::new();
    for c in &completed {
        if c.invoke.f != F::FinalRead || c.typ() != OpType::Ok {
            continue;
        }
        let idx = c.index();
        let Value::Tables(Some(tables)) = c.value() else {
            r.unknown(format!("ok final read {idx} carries no tables"));
            continue;
        };
        finals.insert(c.invoke.node.clone().unwrap_or_default(), (idx, tables));
    }
    if finals.is_empty() {
        r.unknown("no successful final read: acknowledged inserts could not be checked".into());
        return r;
    }
    for n in &opts.nodes {
        if !finals.contains_key(n) {
            r.unknown(format!("no successful final read on {n}"));
        }
    }
    let mut lost_total = BTreeSet::new();
    let mut recovered = BTreeSet::new();
    for (node, (idx, tables)) in &finals {
        for (table, ids) in tables.iter() {
            for id in ids {
                match inserts.get(id) {
                    None => r.add(
                        "unexpected",
                        true,
                        format!("final read {idx} on {node}: {table} holds id {id}, which no client ever inserted"),
                        vec![*idx],
                    ),
                    Some((t, _, a)) if t != table => r.add(
                        "unexpected",
                        true,
                        format!("final read {idx} on {node}: {table} holds id {id}, which insert {a} put into {t}"),
                        vec![*a, *idx],
                    ),
                    Some((_, OpType::Fail, a)) => r.add(
                        "failed-but-present",
                        true,
                        format!("final read {idx} on {node}: {table} holds id {id}, whose insert {a} was reported as failed"),
                        vec![*a, *idx],
                    ),
                    Some((_, OpType::Info, _)) => {
                        recovered.insert(*id);
                    }
                    Some(_) => {}
                }
            }
        }
        for (id, table) in &expected {
            let a = inserts[id].2;
            let why = match tables.get(*table) {
                None => "the table is missing",
                Some(ids) if ids.binary_search(id).is_err() => "the row is missing",
                Some(_) => continue,
            };
            r.add(
                "lost",
                true,
                format!(
                    "insert {a} of id {id} into {table} was acknowledged and the table never dropped, but in the final read {idx} on {node} {why}"
                ),
                vec![a, *idx],
            );
            lost_total.insert(*id);
        }
    }
    r.stat("lost", lost_total.len() as u64);
    r.stat("recovered", recovered.len() as u64);
    let mut it = finals.iter();
    if let Some((n0, (i0, t0))) = it.next() {
        r.stat("tables-at-end", t0.len() as u64);
        for (n, (i, t)) in it {
            if t != t0 {
                let names0: BTreeSet<&String> = t0.keys().collect();
                let names1: BTreeSet<&String> = t.keys().collect();
                let differing: Vec<&String> = names0
                    .union(&names1)
                    .filter(|name| t0.get(**name) != t.get(**name))
                    .take(10)
                    .copied()
                    .collect();
                r.add(
                    "final-divergence",
                    true,
                    format!(
                        "final reads {i0} on {n0} and {i} on {n} differ in tables {differing:?}"
                    ),
                    vec![*i0, *i],
                );
            }
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::Validity;
    use crate::history::build::H;

    fn row(t: &str, id: u64) -> Value {
        Value::Row {
            table: t.into(),
            id,
        }
    }

    fn ddl(t: &str, kind: &str) -> Value {
        Value::Ddl {
            table: t.into(),
            kind: kind.into(),
            sql: String::new(),
        }
    }

    fn tables(v: &[(&str, &[u64])]) -> Value {
        Value::Tables(Some(
            v.iter()
                .map(|(t, ids)| (t.to_string(), ids.to_vec()))
                .collect(),
        ))
    }

    fn finals(h: &mut H, nodes: &[&str], v: Value) {
        for (i, n) in nodes.iter().enumerate() {
            let p = 100 + i as u64;
            h.invoke_on(p, F::FinalRead, Value::Tables(None), n);
            h.complete_on(p, OpType::Ok, F::FinalRead, v.clone(), n);
        }
    }

    fn opts(n: &[&str]) -> DdlOpts {
        DdlOpts {
            nodes: n.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn surviving_rows_and_dropped_tables_are_valid() {
        let mut h = H::new();
        h.op(
            0,
            OpType::Ok,
            F::Ddl,
            ddl("c0_g0", "create"),
            ddl("c0_g0", "create"),
        );
        h.op(0, OpType::Ok, F::Insert, row("c0_g0", 1), row("c0_g0", 1));
        h.op(
            0,
            OpType::Ok,
            F::Ddl,
            ddl("c0_g0", "add-column"),
            ddl("c0_g0", "add-column"),
        );
        h.op(0, OpType::Ok, F::Insert, row("c0_g0", 2), row("c0_g0", 2));
        h.op(1, OpType::Ok, F::Insert, row("c1_g0", 3), row("c1_g0", 3));
        h.op(
            1,
            OpType::Info,
            F::Ddl,
            ddl("c1_g0", "drop"),
            ddl("c1_g0", "drop"),
        );
        h.op(2, OpType::Info, F::Insert, row("c0_g0", 4), row("c0_g0", 4));
        finals(&mut h, &["n1", "n2"], tables(&[("c0_g0", &[1, 2, 4])]));
        let r = check(&h.ops, &opts(&["n1", "n2"]));
        assert_eq!(r.validity, Validity::Valid, "{r:?}");
        assert_eq!(r.stats["recovered"], 1);
        assert_eq!(r.stats["inserts-expected-at-end"], 2);
    }

    #[test]
    fn lost_rows_missing_tables_and_failed_inserts_are_anomalies() {
        let mut h = H::new();
        h.op(0, OpType::Ok, F::Insert, row("c0_g0", 1), row("c0_g0", 1));
        h.op(0, OpType::Ok, F::Insert, row("c0_g0", 2), row("c0_g0", 2));
        h.op(1, OpType::Ok, F::Insert, row("c1_g0", 3), row("c1_g0", 3));
        // A drop that definitely failed does not excuse a missing table.
        h.op(
            1,
            OpType::Fail,
            F::Ddl,
            ddl("c1_g0", "drop"),
            ddl("c1_g0", "drop"),
        );
        h.op(2, OpType::Fail, F::Insert, row("c0_g0", 5), row("c0_g0", 5));
        finals(&mut h, &["n1"], tables(&[("c0_g0", &[1, 5, 9])]));
        let r = check(&h.ops, &opts(&["n1"]));
        assert_eq!(r.validity, Validity::Invalid);
        assert_eq!(r.anomaly_counts["lost"], 2, "{r:?}");
        assert_eq!(r.anomaly_counts["failed-but-present"], 1);
        assert_eq!(r.anomaly_counts["unexpected"], 1);
        assert!(r
            .anomalies
            .iter()
            .any(|a| a.description.contains("the table is missing")));
    }

    #[test]
    fn differing_final_reads_and_missing_ones() {
        let mut h = H::new();
        h.op(0, OpType::Ok, F::Insert, row("c0_g0", 1), row("c0_g0", 1));
        h.invoke_on(100, F::FinalRead, Value::Tables(None), "n1");
        h.complete_on(
            100,
            OpType::Ok,
            F::FinalRead,
            tables(&[("c0_g0", &[1])]),
            "n1",
        );
        h.invoke_on(101, F::FinalRead, Value::Tables(None), "n2");
        h.complete_on(
            101,
            OpType::Ok,
            F::FinalRead,
            tables(&[("c0_g0", &[1]), ("c1_g0", &[])]),
            "n2",
        );
        let r = check(&h.ops, &opts(&["n1", "n2"]));
        assert!(r.has("final-divergence"), "{r:?}");

        let mut h = H::new();
        h.op(0, OpType::Ok, F::Insert, row("c0_g0", 1), row("c0_g0", 1));
        let r = check(&h.ops, &opts(&["n1"]));
        assert_eq!(r.validity, Validity::Unknown);
    }
}
