//! The bank checker.
//!
//! The workload keeps a fixed set of accounts whose balances sum to a fixed
//! total; transfers move money between two accounts in one transaction and
//! refuse to overdraw. Under snapshot isolation every read of all balances
//! sees one committed state, so:
//!
//! - `wrong-total`: an `ok` read whose balances do not sum to the total (read
//!   skew, a lost update or a torn commit);
//! - `negative-balance`: an `ok` read with a balance below zero when the
//!   workload forbids it (write skew on one account, or a lost update);
//! - `wrong-accounts`: an `ok` read missing accounts or showing extra ones;
//! - `final-divergence`: the final reads of two nodes differ.
//!
//! Reads that ended `fail` or `info` say nothing and are skipped. Transfers
//! are not checked one by one: their effect shows in the reads.
//!
//! The verdict is `Unknown` when no read at all succeeded, or when a node has
//! no successful final read (agreement could not be checked).

use std::collections::{BTreeMap, BTreeSet};

use super::CheckResult;
use crate::history::Op;
use crate::history::{pair, OpType, Value, F};

#[derive(Clone, Debug)]
pub struct BankOpts {
    pub accounts: Vec<u32>,
    pub total: i64,
    pub negative_allowed: bool,
    /// Nodes expected to answer a final read (the names used in `Op::node`).
    pub nodes: Vec<String>,
}

pub fn check(ops: &[Op], opts: &BankOpts) -> CheckResult {
    let mut r = CheckResult::new("bank");
    let completed = match pair(ops) {
        Ok(c) => c,
        Err(e) => {
            r.unknown(format!("malformed history: {e}"));
            return r;
        }
    };
    let expected: BTreeSet<u32> = opts.accounts.iter().copied().collect();
    let mut reads_checked = 0u64;
    let mut finals: BTreeMap<String, (u64, BTreeMap<u32, i64>)> = BTreeMap::new();
    for c in &completed {
        if !matches!(c.invoke.f, F::Read | F::FinalRead) || c.typ() != OpType::Ok {
            continue;
        }
        let idx = c.index();
        let Value::Balances(Some(b)) = c.value() else {
            r.unknown(format!("ok read {idx} carries no balances"));
            continue;
        };
        reads_checked += 1;
        let seen: BTreeSet<u32> = b.keys().copied().collect();
        if seen != expected {
            let missing: Vec<u32> = expected.difference(&seen).copied().collect();
            let extra: Vec<u32> = seen.difference(&expected).copied().collect();
            r.add(
                "wrong-accounts",
                true,
                format!("read {idx} is missing accounts {missing:?} and has unexpected accounts {extra:?}"),
                vec![idx],
            );
        }
        let total: i64 = b.values().sum();
        if total != opts.total {
            r.add(
                "wrong-total",
                true,
                format!("read {idx} sums to {total}, expected {}: {b:?}", opts.total),
                vec![idx],
            );
        }
        if !opts.negative_allowed {
            let neg: Vec<(u32, i64)> = b
                .iter()
                .filter(|(_, v)| **v < 0)
                .map(|(k, v)| (*k, *v))
                .collect();
            if !neg.is_empty() {
                r.add(
                    "negative-balance",
                    true,
                    format!("read {idx} shows negative balances {neg:?}"),
                    vec![idx],
                );
            }
        }
        if c.invoke.f == F::FinalRead {
            let node = c.invoke.node.clone().unwrap_or_default();
            // Keep the latest final read per node.
            finals.insert(node, (idx, b.clone()));
        }
    }
    r.stat("reads_checked", reads_checked);
    r.stat("final_reads", finals.len() as u64);
    if reads_checked == 0 {
        r.unknown("no read succeeded".into());
    }
    for n in &opts.nodes {
        if !finals.contains_key(n) {
            r.unknown(format!(
                "no successful final read on {n}: agreement not checked there"
            ));
        }
    }
    let mut it = finals.iter();
    if let Some((n0, (i0, b0))) = it.next() {
        for (n, (i, b)) in it {
            if b != b0 {
                r.add(
                    "final-divergence",
                    true,
                    format!("final read {i0} on {n0} shows {b0:?} but final read {i} on {n} shows {b:?}"),
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
    use crate::history::build::H;

    fn opts() -> BankOpts {
        BankOpts {
            accounts: vec![0, 1, 2],
            total: 30,
            negative_allowed: false,
            nodes: vec!["n1".into(), "n2".into()],
        }
    }

    fn bal(v: &[(u32, i64)]) -> Value {
        Value::Balances(Some(v.iter().copied().collect()))
    }

    fn healthy() -> H {
        let mut h = H::new();
        h.op(
            0,
            OpType::Ok,
            F::Transfer,
            Value::Transfer {
                from: 0,
                to: 1,
                amount: 5,
            },
            Value::Transfer {
                from: 0,
                to: 1,
                amount: 5,
            },
        );
        h.op(
            1,
            OpType::Ok,
            F::Read,
            Value::Balances(None),
            bal(&[(0, 5), (1, 15), (2, 10)]),
        );
        // An unknown transfer and a failed read: neither says anything.
        h.invoke(
            2,
            F::Transfer,
            Value::Transfer {
                from: 2,
                to: 0,
                amount: 3,
            },
        );
        h.complete(
            2,
            OpType::Info,
            F::Transfer,
            Value::Transfer {
                from: 2,
                to: 0,
                amount: 3,
            },
        );
        h.op(
            3,
            OpType::Fail,
            F::Read,
            Value::Balances(None),
            Value::Balances(None),
        );
        h.invoke_on(4, F::FinalRead, Value::Balances(None), "n1");
        h.complete_on(
            4,
            OpType::Ok,
            F::FinalRead,
            bal(&[(0, 8), (1, 15), (2, 7)]),
            "n1",
        );
        h.invoke_on(5, F::FinalRead, Value::Balances(None), "n2");
        h.complete_on(
            5,
            OpType::Ok,
            F::FinalRead,
            bal(&[(0, 8), (1, 15), (2, 7)]),
            "n2",
        );
        h
    }

    #[test]
    fn healthy_history_is_valid() {
        let r = check(&healthy().ops, &opts());
        assert_eq!(r.validity, super::super::Validity::Valid, "{r:#?}");
        assert!(r.anomalies.is_empty());
    }

    #[test]
    fn wrong_total_is_caught() {
        let mut h = healthy();
        h.op(
            9,
            OpType::Ok,
            F::Read,
            Value::Balances(None),
            bal(&[(0, 5), (1, 15), (2, 7)]),
        );
        let r = check(&h.ops, &opts());
        assert_eq!(r.validity, super::super::Validity::Invalid);
        assert!(r.has("wrong-total"));
        assert_eq!(r.anomalies[0].ops, vec![h.ops.len() as u64 - 1]);
    }

    #[test]
    fn negative_balance_is_caught_unless_allowed() {
        let mut h = healthy();
        h.op(
            9,
            OpType::Ok,
            F::Read,
            Value::Balances(None),
            bal(&[(0, -5), (1, 25), (2, 10)]),
        );
        let r = check(&h.ops, &opts());
        assert!(r.has("negative-balance"));
        assert!(!r.has("wrong-total"));
        let mut o = opts();
        o.negative_allowed = true;
        assert_eq!(check(&h.ops, &o).validity, super::super::Validity::Valid);
    }

    #[test]
    fn missing_account_is_caught() {
        let mut h = healthy();
        h.op(
            9,
            OpType::Ok,
            F::Read,
            Value::Balances(None),
            bal(&[(0, 15), (1, 15)]),
        );
        let r = check(&h.ops, &opts());
        assert!(r.has("wrong-accounts"));
    }

    #[test]
    fn final_divergence_is_caught() {
        let mut h = healthy();
        h.invoke_on(6, F::FinalRead, Value::Balances(None), "n2");
        h.complete_on(
            6,
            OpType::Ok,
            F::FinalRead,
            bal(&[(0, 10), (1, 13), (2, 7)]),
            "n2",
        );
        let r = check(&h.ops, &opts());
        assert!(r.has("final-divergence"), "{r:#?}");
        assert_eq!(r.validity, super::super::Validity::Invalid);
    }

    #[test]
    fn missing_final_read_is_unknown_not_valid() {
        let mut o = opts();
        o.nodes.push("n3".into());
        let r = check(&healthy().ops, &o);
        assert_eq!(r.validity, super::super::Validity::Unknown);
    }
}
