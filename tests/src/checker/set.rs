//! The set checker.
//!
//! Clients insert unique elements; some reads happen during the run, and
//! after the nemesis heals and the cluster recovers every node answers a
//! final read. As in Jepsen's set checker, each attempted element falls into
//! one of these classes against a final read:
//!
//! | outcome of the add | in the final read | result |
//! |---|---|---|
//! | `ok` | yes | fine |
//! | `ok` | no | **`lost`** (an acknowledged insert vanished) |
//! | `info` | yes | *recovered* (it did commit; counted, not an anomaly) |
//! | `info` | no | fine (it did not commit) |
//! | `fail` | yes | **`failed-but-present`** (the client was told it failed) |
//! | never attempted | yes | **`unexpected`** |
//!
//! `info` adds are never counted as successes or failures, exactly because
//! the client could not know. Reads during the run are checked for
//! `unexpected` and `failed-but-present` elements too (neither can be
//! explained by timing). `final-divergence` is reported when final reads of
//! two nodes differ. With no successful final read the verdict is `Unknown`.

use std::collections::{BTreeMap, BTreeSet};

use super::CheckResult;
use crate::history::{pair, Op, OpType, Value, F};

#[derive(Clone, Debug)]
pub struct SetOpts {
    /// Nodes expected to answer a final read.
    pub nodes: Vec<String>,
}

pub fn check(ops: &[Op], opts: &SetOpts) -> CheckResult {
    let mut r = CheckResult::new("set");
    let completed = match pair(ops) {
        Ok(c) => c,
        Err(e) => {
            r.unknown(format!("malformed history: {e}"));
            return r;
        }
    };
    // element -> (outcome, op index)
    let mut adds: BTreeMap<u64, (OpType, u64)> = BTreeMap::new();
    for c in completed.iter().filter(|c| c.invoke.f == F::Add) {
        let Value::Element(e) = c.invoke.value else {
            r.unknown(format!("add {} carries no element", c.invoke.index));
            continue;
        };
        if adds.insert(e, (c.typ(), c.index())).is_some() {
            r.unknown(format!(
                "element {e} was added twice: the workload must generate unique elements"
            ));
        }
    }
    let ok_adds: BTreeSet<u64> = adds
        .iter()
        .filter(|(_, (t, _))| *t == OpType::Ok)
        .map(|(e, _)| *e)
        .collect();
    let info_adds: BTreeSet<u64> = adds
        .iter()
        .filter(|(_, (t, _))| *t == OpType::Info)
        .map(|(e, _)| *e)
        .collect();

    let mut finals: BTreeMap<String, (u64, BTreeSet<u64>)> = BTreeMap::new();
    let mut reads = 0u64;
    for c in &completed {
        if !matches!(c.invoke.f, F::Read | F::FinalRead) || c.typ() != OpType::Ok {
            continue;
        }
        let idx = c.index();
        let Value::Elements(Some(els)) = c.value() else {
            r.unknown(format!("ok read {idx} carries no elements"));
            continue;
        };
        reads += 1;
        let set: BTreeSet<u64> = els.iter().copied().collect();
        if set.len() != els.len() {
            r.add(
                "duplicate-elements",
                true,
                format!("read {idx} returned some element twice"),
                vec![idx],
            );
        }
        for e in &set {
            match adds.get(e) {
                None => r.add(
                    "unexpected",
                    true,
                    format!("read {idx} returned {e}, which no client ever tried to add"),
                    vec![idx],
                ),
                Some((OpType::Fail, a)) => r.add(
                    "failed-but-present",
                    true,
                    format!("read {idx} returned {e}, whose add {a} was reported as failed"),
                    vec![*a, idx],
                ),
                _ => {}
            }
        }
        if c.invoke.f == F::FinalRead {
            finals.insert(c.invoke.node.clone().unwrap_or_default(), (idx, set));
        }
    }
    r.stat("attempted", adds.len() as u64);
    r.stat("acknowledged", ok_adds.len() as u64);
    r.stat("unknown", info_adds.len() as u64);
    r.stat("reads", reads);
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
    for (node, (idx, set)) in &finals {
        let lost: Vec<u64> = ok_adds.difference(set).copied().collect();
        for e in &lost {
            let (_, a) = adds[e];
            r.add(
                "lost",
                true,
                format!(
                    "add of {e} ({a}) was acknowledged but the final read {idx} on {node} lacks it"
                ),
                vec![a, *idx],
            );
            lost_total.insert(*e);
        }
        recovered.extend(info_adds.intersection(set).copied());
    }
    r.stat("lost", lost_total.len() as u64);
    r.stat("recovered", recovered.len() as u64);
    let mut it = finals.iter();
    if let Some((n0, (i0, s0))) = it.next() {
        for (n, (i, s)) in it {
            if s != s0 {
                let only0: Vec<u64> = s0.difference(s).copied().take(10).collect();
                let only1: Vec<u64> = s.difference(s0).copied().take(10).collect();
                r.add(
                    "final-divergence",
                    true,
                    format!(
                        "final reads differ: {i0} on {n0} alone has {only0:?}..., {i} on {n} alone has {only1:?}..."
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

    fn els(v: &[u64]) -> Value {
        Value::Elements(Some(v.to_vec()))
    }

    fn add(h: &mut H, p: u64, e: u64, typ: OpType) {
        h.op(p, typ, F::Add, Value::Element(e), Value::Element(e));
    }

    fn final_read(h: &mut H, p: u64, v: &[u64], node: &str) {
        h.invoke_on(p, F::FinalRead, Value::Elements(None), node);
        h.complete_on(p, OpType::Ok, F::FinalRead, els(v), node);
    }

    fn opts() -> SetOpts {
        SetOpts {
            nodes: vec!["n1".into()],
        }
    }

    #[test]
    fn valid_history_with_unknowns_passes() {
        let mut h = H::new();
        add(&mut h, 0, 1, OpType::Ok);
        add(&mut h, 1, 2, OpType::Info); // committed after all: recovered
        add(&mut h, 2, 3, OpType::Info); // did not commit: fine
        add(&mut h, 3, 4, OpType::Fail);
        h.op(4, OpType::Ok, F::Read, Value::Elements(None), els(&[1]));
        final_read(&mut h, 5, &[1, 2], "n1");
        let r = check(&h.ops, &opts());
        assert_eq!(r.validity, Validity::Valid, "{r:#?}");
        assert_eq!(r.stats["recovered"], 1);
        assert_eq!(r.stats["acknowledged"], 1);
    }

    #[test]
    fn lost_acknowledged_insert_is_caught() {
        let mut h = H::new();
        add(&mut h, 0, 1, OpType::Ok);
        add(&mut h, 1, 2, OpType::Ok);
        final_read(&mut h, 2, &[2], "n1");
        let r = check(&h.ops, &opts());
        assert_eq!(r.validity, Validity::Invalid);
        assert!(r.has("lost"));
        assert_eq!(r.anomalies[0].ops, vec![1, 5]);
    }

    #[test]
    fn never_attempted_element_is_caught() {
        let mut h = H::new();
        add(&mut h, 0, 1, OpType::Ok);
        h.op(1, OpType::Ok, F::Read, Value::Elements(None), els(&[1, 99]));
        final_read(&mut h, 2, &[1], "n1");
        let r = check(&h.ops, &opts());
        assert!(r.has("unexpected"));
        assert_eq!(r.validity, Validity::Invalid);
    }

    #[test]
    fn failed_insert_that_appears_is_caught() {
        let mut h = H::new();
        add(&mut h, 0, 1, OpType::Fail);
        final_read(&mut h, 1, &[1], "n1");
        let r = check(&h.ops, &opts());
        assert!(r.has("failed-but-present"));
    }

    #[test]
    fn divergent_final_reads_are_caught() {
        let mut h = H::new();
        add(&mut h, 0, 1, OpType::Info);
        final_read(&mut h, 1, &[1], "n1");
        final_read(&mut h, 2, &[], "n2");
        let r = check(
            &h.ops,
            &SetOpts {
                nodes: vec!["n1".into(), "n2".into()],
            },
        );
        assert!(r.has("final-divergence"));
    }

    #[test]
    fn no_final_read_is_unknown() {
        let mut h = H::new();
        add(&mut h, 0, 1, OpType::Ok);
        let r = check(&h.ops, &opts());
        assert_eq!(r.validity, Validity::Unknown);
        // An unfinished add is info, not ok and not fail.
        let mut h = H::new();
        h.invoke(0, F::Add, Value::Element(7));
        final_read(&mut h, 1, &[], "n1");
        let r = check(&h.ops, &opts());
        assert_eq!(r.validity, Validity::Valid, "{r:#?}");
        assert_eq!(r.stats["unknown"], 1);
    }
}
