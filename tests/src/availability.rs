//! Availability figures of a run, from the history and the status monitor
//! ([`crate::monitor`]): how long the majority side went without a commit
//! around each fault, how long a cut-off minority kept claiming Primary,
//! and how often the leader and the views changed.
//!
//! Pure functions over recorded data, so the numbers can be recomputed from
//! a finished run's files and tested on hand-made inputs.
//!
//! | figure | definition |
//! |---|---|
//! | majority gap | the longest interval between consecutive successful writes (any client, on a node outside the fault's minority) that overlaps the fault, starting from the last write before it and ending at the first one after it |
//! | minority non-Primary | time from the fault to the first monitor sample in which every minority node that answers reports `wsrep_cluster_status` non-Primary or `wsrep_ready = OFF` (partitions only: a killed or paused node claims nothing) |
//! | leader changes | distinct (term, leader) pairs the nodes reported, minus the first |
//! | view changes | on each node, changes of (Primary?, `wsrep_cluster_conf_id`) between consecutive answered samples, summed |

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::history::{Op, OpType, Process, F};

/// One poll of one node's status. `status` is `None` when the node did not
/// answer (down, paused, or the poll timed out).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    /// Nanoseconds since the run started (the history's clock), when the
    /// answer arrived.
    pub t_ns: u64,
    /// Node index (0-based).
    pub node: usize,
    pub status: Option<NodeStatus>,
}

/// What a node reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// `wsrep_cluster_status = Primary`.
    pub primary: bool,
    /// `wsrep_ready = ON`.
    pub ready: bool,
    pub conf_id: u64,
    /// `trireme_gcs_leader` (0: none known).
    pub leader: u64,
    /// `trireme_gcs_term`.
    pub term: u64,
}

/// One applied fault, as the nemesis saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultWindow {
    /// When the fault was in place.
    pub start_ns: u64,
    /// When the heal completed (or the fault's end).
    pub end_ns: u64,
    /// e.g. `partition-isolate`, `kill`.
    pub kind: String,
    /// Nodes cut off or down (indices); empty when no side is a minority
    /// (a majority down, a ring): no majority gap is computed then.
    pub minority: Vec<usize>,
    /// Whether the minority held the leader when the fault began.
    pub leader: bool,
    /// Whether the minority is still running (a partition): only then is
    /// it expected to report non-Primary.
    pub minority_running: bool,
}

/// The figures of one fault.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultFigures {
    pub at_s: f64,
    pub kind: String,
    pub leader: bool,
    /// Seconds; `None` when the fault has no majority side.
    pub majority_gap_s: Option<f64>,
    /// Seconds; `None` when not applicable or never seen.
    pub minority_nonprimary_s: Option<f64>,
    /// Whether a running minority was expected to report non-Primary and
    /// never did while the fault lasted.
    pub minority_stayed_primary: bool,
}

/// The availability figures of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Availability {
    pub faults: Vec<FaultFigures>,
    pub leader_changes: u64,
    pub view_changes: u64,
    pub samples: u64,
    /// Largest majority gap over the faults (s).
    pub max_gap_s: Option<f64>,
    /// Largest minority non-Primary time over the partitions (s).
    pub max_minority_s: Option<f64>,
}

/// Whether an operation of this kind writes (a commit the gap counts).
fn is_write(f: F) -> bool {
    matches!(f, F::Transfer | F::Add | F::Txn | F::Ddl | F::Insert)
}

/// Completion times of successful client writes on nodes not in `exclude`.
fn commit_times(ops: &[Op], names: &[String], exclude: &[usize]) -> Vec<u64> {
    let excluded: BTreeSet<&str> = exclude
        .iter()
        .filter_map(|i| names.get(*i).map(String::as_str))
        .collect();
    let mut t: Vec<u64> = ops
        .iter()
        .filter(|o| {
            matches!(o.process, Process::Client(_))
                && o.typ == OpType::Ok
                && is_write(o.f)
                && o.node.as_deref().is_some_and(|n| !excluded.contains(n))
        })
        .map(|o| o.time)
        .collect();
    t.sort_unstable();
    t
}

/// The longest gap between consecutive commits that overlaps `[start, end]`
/// (ns), counting from the last commit at or before `start` (or `start`)
/// to the first commit after the window (or the last commit seen, or
/// `end`).
pub fn longest_gap(commits: &[u64], start: u64, end: u64) -> u64 {
    let before = commits.iter().rev().find(|t| **t <= start).copied();
    let mut prev = before.unwrap_or(start);
    let mut best = 0;
    for &t in commits.iter().filter(|t| **t > start) {
        best = best.max(t - prev);
        prev = t;
        if t > end {
            return best;
        }
    }
    // No commit after the window: the gap runs at least to its end.
    best.max(end.saturating_sub(prev))
}

/// Seconds from `w.start_ns` until every answering minority node reported
/// non-Primary (or not ready), within the window.
fn minority_nonprimary(samples: &[Sample], w: &FaultWindow) -> Option<f64> {
    let mut pending: BTreeSet<usize> = w.minority.iter().copied().collect();
    for s in samples
        .iter()
        .filter(|s| s.t_ns >= w.start_ns && s.t_ns <= w.end_ns)
    {
        if let Some(st) = &s.status {
            if !st.primary || !st.ready {
                pending.remove(&s.node);
            }
        }
        if pending.is_empty() {
            return Some((s.t_ns - w.start_ns) as f64 / 1e9);
        }
    }
    None
}

/// Leader changes and view changes over the samples (see the module docs).
pub fn changes(samples: &[Sample], nodes: usize) -> (u64, u64) {
    let mut leaders: BTreeSet<(u64, u64)> = BTreeSet::new();
    let mut last: Vec<Option<(bool, u64)>> = vec![None; nodes];
    let mut views = 0;
    for s in samples {
        let Some(st) = &s.status else { continue };
        if st.leader != 0 {
            leaders.insert((st.term, st.leader));
        }
        if let Some(slot) = last.get_mut(s.node) {
            let now = (st.primary, st.conf_id);
            if slot.is_some_and(|prev| prev != now) {
                views += 1;
            }
            *slot = Some(now);
        }
    }
    (leaders.len().saturating_sub(1) as u64, views)
}

/// The run's availability figures.
pub fn compute(
    ops: &[Op],
    names: &[String],
    samples: &[Sample],
    windows: &[FaultWindow],
) -> Availability {
    let mut faults = Vec::new();
    for w in windows {
        let majority_gap_s = (!w.minority.is_empty()).then(|| {
            let c = commit_times(ops, names, &w.minority);
            longest_gap(&c, w.start_ns, w.end_ns) as f64 / 1e9
        });
        let (minority_nonprimary_s, stayed) = if w.minority_running && !w.minority.is_empty() {
            let m = minority_nonprimary(samples, w);
            // Only a fault long enough to expect a step-down (3 s, the
            // goal) is flagged.
            (m, m.is_none() && w.end_ns - w.start_ns >= 3_000_000_000)
        } else {
            (None, false)
        };
        faults.push(FaultFigures {
            at_s: w.start_ns as f64 / 1e9,
            kind: w.kind.clone(),
            leader: w.leader,
            majority_gap_s,
            minority_nonprimary_s,
            minority_stayed_primary: stayed,
        });
    }
    let (leader_changes, view_changes) = changes(samples, names.len());
    let max = |v: Vec<f64>| v.into_iter().reduce(f64::max);
    Availability {
        max_gap_s: max(faults.iter().filter_map(|f| f.majority_gap_s).collect()),
        max_minority_s: max(faults
            .iter()
            .filter_map(|f| f.minority_nonprimary_s)
            .collect()),
        faults,
        leader_changes,
        view_changes,
        samples: samples.len() as u64,
    }
}

/// The `q` quantile (0..=1, nearest rank) of `v`; `None` when empty.
pub fn quantile(v: &[f64], q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len());
    Some(s[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Value;

    const S: u64 = 1_000_000_000;

    fn op(t: u64, node: &str, f: F, typ: OpType) -> Op {
        Op {
            index: 0,
            time: t,
            process: Process::Client(0),
            typ,
            f,
            value: Value::Balances(None),
            node: Some(node.into()),
            error: None,
        }
    }

    fn st(primary: bool, leader: u64, term: u64, conf: u64) -> Option<NodeStatus> {
        Some(NodeStatus {
            primary,
            ready: primary,
            conf_id: conf,
            leader,
            term,
        })
    }

    #[test]
    fn gap_spans_from_the_last_commit_before_to_the_first_after() {
        let c = [S, 2 * S, 9 * S, 10 * S];
        // Fault at 3 s, healed at 8 s: 2 s -> 9 s.
        assert_eq!(longest_gap(&c, 3 * S, 8 * S), 7 * S);
        // Commits keep flowing: largest step inside.
        let c = [S, 3 * S, 4 * S, 6 * S, 7 * S];
        assert_eq!(longest_gap(&c, 2 * S, 5 * S), 2 * S);
        // Nothing after the fault: at least to its end.
        assert_eq!(longest_gap(&[S], 2 * S, 5 * S), 4 * S);
    }

    #[test]
    fn minority_writes_do_not_count_for_the_majority() {
        let names: Vec<String> = ["n1", "n2", "n3"].iter().map(|s| s.to_string()).collect();
        let ops = vec![
            op(S, "n2", F::Transfer, OpType::Ok),
            op(2 * S, "n1", F::Transfer, OpType::Ok),
            op(3 * S, "n2", F::Read, OpType::Ok),
            op(4 * S, "n3", F::Transfer, OpType::Fail),
            op(5 * S, "n3", F::Transfer, OpType::Ok),
        ];
        let w = FaultWindow {
            start_ns: S + S / 2,
            end_ns: 4 * S,
            kind: "partition-isolate".into(),
            minority: vec![0],
            leader: true,
            minority_running: true,
        };
        let samples = vec![
            Sample {
                t_ns: S,
                node: 0,
                status: st(true, 1, 2, 3),
            },
            Sample {
                t_ns: 2 * S,
                node: 0,
                status: st(true, 1, 2, 3),
            },
            Sample {
                t_ns: 3 * S,
                node: 0,
                status: st(false, 1, 2, 4),
            },
            Sample {
                t_ns: 3 * S,
                node: 1,
                status: st(true, 2, 3, 4),
            },
        ];
        let a = compute(&ops, &names, &samples, &[w]);
        let f = &a.faults[0];
        assert_eq!(f.majority_gap_s, Some(4.0), "n2 at 1 s to n3 at 5 s");
        assert_eq!(f.minority_nonprimary_s, Some(1.5));
        assert!(!f.minority_stayed_primary);
        assert_eq!(a.leader_changes, 1);
        assert_eq!(a.view_changes, 1);
    }

    #[test]
    fn a_minority_that_never_steps_down_is_flagged() {
        let w = FaultWindow {
            start_ns: 0,
            end_ns: 5 * S,
            kind: "partition-isolate".into(),
            minority: vec![0],
            leader: true,
            minority_running: true,
        };
        let samples = vec![Sample {
            t_ns: S,
            node: 0,
            status: st(true, 1, 2, 3),
        }];
        let a = compute(&[], &["n1".into()], &samples, &[w]);
        assert!(a.faults[0].minority_stayed_primary);
        assert_eq!(a.faults[0].minority_nonprimary_s, None);
    }

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.99), Some(99.0));
        assert_eq!(quantile(&v, 0.5), Some(50.0));
        assert_eq!(quantile(&[3.0], 0.99), Some(3.0));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
