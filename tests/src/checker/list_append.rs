//! An Elle-style checker for list-append transactions.
//!
//! # Why lists
//!
//! Each key holds a list; transactions append unique values to lists and read
//! whole lists. Because a read returns the *entire* history of a key, the
//! order in which committed appends were installed can be recovered from the
//! reads themselves, without knowing anything about the database's internals
//! (Kingsbury and Alvaro, "Elle: Inferring Isolation Anomalies from
//! Experimental Observations", VLDB 2020). From that order we build Adya's
//! direct serialization graph and look for the cycles his isolation levels
//! forbid.
//!
//! # Steps
//!
//! 1. **Per-transaction checks.** Within one committed transaction, a read
//!    must show the transaction's own earlier appends (`internal`), a list
//!    never holds the same value twice (`duplicate-elements`).
//! 2. **Reads against writes.** Every value read must have been appended by
//!    some transaction (`garbage-read`); not by one that failed (**G1a**,
//!    aborted read); and a read must not end at a value that its writer
//!    later followed with another append to the same key (**G1b**,
//!    intermediate read).
//! 3. **Version order.** For each key, all committed reads must be prefixes
//!    of the longest one (`incompatible-order` otherwise: two nodes disagree
//!    on history). The longest read is the key's version order.
//! 4. **Dependency graph** over committed transactions (plus `info` ones
//!    whose appends were observed, which therefore committed):
//!    - `ww`: T1 appended the value right before T2's in a key's order;
//!    - `wr`: T2 read a list whose last value T1 appended;
//!    - `rw`: T1 read a list of length n and T2 appended the (n+1)-th value
//!      (T1 did not see T2: an anti-dependency).
//! 5. **Cycles**, found inside strongly connected components and classified
//!    as Adya does:
//!    - **G0**: only `ww` edges (write cycle);
//!    - **G1c**: `ww` and `wr` edges, at least one `wr` (circular
//!      information flow);
//!    - **G-single**: exactly one `rw` edge (read skew, lost update);
//!    - **G-nonadjacent**: several `rw` edges, no two adjacent;
//!    - **G2-item**: any other cycle with `rw` edges (write skew).
//!
//! Snapshot isolation forbids everything above except G2-item, which is
//! reported (as `forbidden: false`) but does not fail the check.
//! Serializability forbids G2-item too.
//!
//! # Final state
//!
//! After the nemesis heals, each node runs a final read of every key
//! ([`F::FinalRead`]). Every acknowledged append must appear there
//! (`lost-append`), and all nodes must return identical lists
//! (`final-divergence`). Elle itself does not do this; it is what "nothing
//! acknowledged is ever lost" means for this workload.
//!
//! # Worked example: a lost update
//!
//! ```text
//! T1: [r x [1]] [append x 2]      ok
//! T2: [r x [1]] [append x 3]      ok
//! T3: [r x [1 2 3]]               ok
//! ```
//! Version order of x is 1, 2, 3. T1 -ww-> T2 (2 then 3), and T2 read [1]
//! whose next version, 2, is T1's: T2 -rw-> T1. The cycle T1 -ww-> T2 -rw->
//! T1 has one anti-dependency: G-single, forbidden under snapshot isolation
//! (first-committer-wins must have aborted one of them).
//!
//! What is not checked: real-time order (strict serializability) and
//! per-process order; trireme claims snapshot isolation, which has neither.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt::Write as _;

use super::{fmt_list, CheckResult};
use crate::history::{pair, Mop, Op, OpType, Value, F};

/// The consistency model whose forbidden anomalies fail the check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    SnapshotIsolation,
    Serializable,
}

#[derive(Clone, Debug)]
pub struct ListAppendOpts {
    pub model: Model,
    /// Nodes expected to answer a final read.
    pub nodes: Vec<String>,
    /// Upper bound on edge visits in cycle searches; past it the verdict is
    /// `Unknown` rather than silently incomplete.
    pub search_budget: u64,
}

impl Default for ListAppendOpts {
    fn default() -> Self {
        ListAppendOpts {
            model: Model::SnapshotIsolation,
            nodes: Vec::new(),
            search_budget: 50_000_000,
        }
    }
}

const WW: u8 = 1;
const WR: u8 = 2;
const RW: u8 = 4;

fn edge_name(t: u8) -> &'static str {
    match t {
        WW => "ww",
        WR => "wr",
        _ => "rw",
    }
}

struct Txn<'a> {
    /// History index reports use (the completion's).
    idx: u64,
    typ: OpType,
    mops: &'a [Mop],
    node: Option<&'a str>,
    final_read: bool,
}

impl Txn<'_> {
    fn label(&self) -> String {
        let mut s = format!("T{}", self.idx);
        if let Some(n) = self.node {
            let _ = write!(s, "@{n}");
        }
        let _ = write!(s, " {}", Value::Txn(self.mops.to_vec()));
        s
    }
}

/// The dependency graph: adjacency with edge-type masks, and for each
/// (from, to, type) the first reason found, for reports.
struct Graph {
    out: Vec<Vec<(usize, u8)>>,
    mask: HashMap<(usize, usize), u8>,
    why: HashMap<(usize, usize, u8), String>,
}

impl Graph {
    fn new(n: usize) -> Graph {
        Graph {
            out: vec![Vec::new(); n],
            mask: HashMap::new(),
            why: HashMap::new(),
        }
    }

    fn add(&mut self, from: usize, to: usize, t: u8, why: impl FnOnce() -> String) {
        if from == to {
            return;
        }
        let m = self.mask.entry((from, to)).or_insert(0);
        if *m == 0 {
            self.out[from].push((to, 0));
        }
        if *m & t == 0 {
            *m |= t;
            self.why.insert((from, to, t), why());
        }
    }

    /// Rebuilds adjacency masks from `mask` (call once after all `add`s).
    fn finish(&mut self) {
        for (from, list) in self.out.iter_mut().enumerate() {
            for (to, m) in list.iter_mut() {
                *m = self.mask[&(from, *to)];
            }
        }
    }
}

pub fn check(ops: &[Op], opts: &ListAppendOpts) -> CheckResult {
    let mut r = CheckResult::new("list-append");
    let completed = match pair(ops) {
        Ok(c) => c,
        Err(e) => {
            r.unknown(format!("malformed history: {e}"));
            return r;
        }
    };
    let mut txns: Vec<Txn<'_>> = Vec::new();
    for c in &completed {
        if !matches!(c.invoke.f, F::Txn | F::FinalRead) {
            continue;
        }
        let Value::Txn(mops) = c.value() else {
            r.unknown(format!("txn {} carries no micro-operations", c.index()));
            continue;
        };
        txns.push(Txn {
            idx: c.index(),
            typ: c.typ(),
            mops,
            node: c.invoke.node.as_deref(),
            final_read: c.invoke.f == F::FinalRead,
        });
    }
    let ok = |t: &Txn<'_>| t.typ == OpType::Ok;

    // 1. Per-transaction checks.
    for t in txns.iter().filter(|t| ok(t)) {
        check_internal(t, &mut r);
    }

    // Who appended what: (key, value) -> txn; and each txn's appends per key.
    let mut writer: HashMap<(u64, u64), usize> = HashMap::new();
    let mut appends: Vec<HashMap<u64, Vec<u64>>> = Vec::with_capacity(txns.len());
    for (i, t) in txns.iter().enumerate() {
        let mut mine: HashMap<u64, Vec<u64>> = HashMap::new();
        for m in t.mops {
            if let Mop::Append(k, v) = m {
                if let Some(prev) = writer.insert((*k, *v), i) {
                    r.unknown(format!(
                        "value {v} appended to key {k} by both T{} and T{}: the workload must append unique values",
                        txns[prev].idx, t.idx
                    ));
                }
                mine.entry(*k).or_default().push(*v);
            }
        }
        appends.push(mine);
    }

    // 2. Reads against writes; and collect reads per key for version orders.
    let mut reads_by_key: BTreeMap<u64, Vec<(usize, &[u64])>> = BTreeMap::new();
    let mut observed: HashSet<usize> = HashSet::new();
    let mut g1a_seen: HashSet<(usize, usize)> = HashSet::new();
    for (i, t) in txns.iter().enumerate().filter(|(_, t)| ok(t)) {
        for m in t.mops {
            let Mop::R(k, Some(list)) = m else { continue };
            reads_by_key
                .entry(*k)
                .or_default()
                .push((i, list.as_slice()));
            for v in list {
                match writer.get(&(*k, *v)) {
                    None => r.add(
                        "garbage-read",
                        true,
                        format!(
                            "{} read value {v} of key {k}, which no transaction appended",
                            t.label()
                        ),
                        vec![t.idx],
                    ),
                    Some(&w) => {
                        observed.insert(w);
                        if txns[w].typ == OpType::Fail && g1a_seen.insert((w, i)) {
                            r.add(
                                "G1a",
                                true,
                                format!(
                                    "aborted read: {} read value {v} of key {k}, appended by failed {}",
                                    t.label(),
                                    txns[w].label()
                                ),
                                vec![txns[w].idx, t.idx],
                            );
                        }
                    }
                }
            }
            if let Some(last) = list.last() {
                if let Some(&w) = writer.get(&(*k, *last)) {
                    let theirs = &appends[w][k];
                    if w != i && theirs.last() != Some(last) {
                        r.add(
                            "G1b",
                            true,
                            format!(
                                "intermediate read: {} read key {k} = {} ending in {last}, but {} appended {} to key {k} after it",
                                t.label(),
                                fmt_list(list),
                                txns[w].label(),
                                fmt_list(&theirs[theirs.iter().position(|x| x == last).map_or(0, |p| p + 1)..])
                            ),
                            vec![txns[w].idx, t.idx],
                        );
                    }
                }
            }
        }
    }

    // 3. Version orders.
    let mut order: BTreeMap<u64, &[u64]> = BTreeMap::new();
    for (k, reads) in &reads_by_key {
        let (li, longest) = reads
            .iter()
            .max_by_key(|(_, l)| l.len())
            .copied()
            .expect("non-empty");
        for (i, l) in reads {
            if !longest.starts_with(l) {
                r.add(
                    "incompatible-order",
                    true,
                    format!(
                        "key {k}: {} read {} but {} read {}; neither is a prefix of the other",
                        txns[*i].label(),
                        fmt_list(l),
                        txns[li].label(),
                        fmt_list(longest)
                    ),
                    vec![txns[*i].idx, txns[li].idx],
                );
            }
        }
        order.insert(*k, longest);
    }

    // Final state: lost appends and divergence between nodes.
    check_final(&txns, &mut r, opts);

    // 4. The graph over committed (and observed-info) transactions.
    let in_graph: Vec<bool> = txns
        .iter()
        .enumerate()
        .map(|(i, t)| t.typ == OpType::Ok || (t.typ == OpType::Info && observed.contains(&i)))
        .collect();
    let mut g = Graph::new(txns.len());
    for (k, vo) in &order {
        for pair in vo.windows(2) {
            let (Some(&a), Some(&b)) = (writer.get(&(*k, pair[0])), writer.get(&(*k, pair[1])))
            else {
                continue;
            };
            if in_graph[a] && in_graph[b] {
                g.add(a, b, WW, || {
                    format!(
                        "key {k}: {} appended {} after {}",
                        txns[b].idx, pair[1], pair[0]
                    )
                });
            }
        }
    }
    for (i, t) in txns.iter().enumerate().filter(|(_, t)| ok(t)) {
        let mut appended_before: HashSet<u64> = HashSet::new();
        for m in t.mops {
            match m {
                Mop::Append(k, _) => {
                    appended_before.insert(*k);
                }
                Mop::R(k, Some(list)) => {
                    if let Some(&w) = list.last().and_then(|v| writer.get(&(*k, *v))) {
                        if in_graph[w] {
                            let v = list[list.len() - 1];
                            g.add(w, i, WR, || {
                                format!("key {k}: T{} read {v} appended by T{}", t.idx, txns[w].idx)
                            });
                        }
                    }
                    if appended_before.contains(k) {
                        continue;
                    }
                    let vo = order[k];
                    if vo.len() > list.len() && vo.starts_with(list) {
                        let next = vo[list.len()];
                        if let Some(&n) = writer.get(&(*k, next)) {
                            if in_graph[n] {
                                g.add(i, n, RW, || {
                                    format!(
                                        "key {k}: T{} read {} and missed {next}, appended next by T{}",
                                        t.idx,
                                        fmt_list(list),
                                        txns[n].idx
                                    )
                                });
                            }
                        }
                    }
                }
                Mop::R(_, None) => {}
            }
        }
    }
    g.finish();
    let edges: usize = g.out.iter().map(Vec::len).sum();
    r.stat("txns", txns.len() as u64);
    r.stat("txns_ok", txns.iter().filter(|t| ok(t)).count() as u64);
    r.stat(
        "graph_nodes",
        in_graph.iter().filter(|b| **b).count() as u64,
    );
    r.stat("graph_edges", edges as u64);
    r.stat("keys", order.len() as u64);

    // 5. Cycles.
    let mut budget = opts.search_budget;
    let sccs = tarjan(&g.out, &|_, _| true);
    let mut nontrivial = 0u64;
    for scc in sccs.iter().filter(|c| c.len() > 1) {
        nontrivial += 1;
        classify_scc(scc, &g, &txns, opts.model, &mut budget, &mut r);
    }
    r.stat("cyclic_components", nontrivial);
    if budget == 0 {
        r.unknown("cycle search budget exhausted: some cycles may be unclassified".into());
    }
    r
}

fn check_internal(t: &Txn<'_>, r: &mut CheckResult) {
    // Per key: what this txn knows the list must look like. `exact` means
    // the whole list is known; otherwise only a suffix (its own appends).
    let mut state: HashMap<u64, (bool, Vec<u64>)> = HashMap::new();
    for m in t.mops {
        match m {
            Mop::Append(k, v) => state.entry(*k).or_insert((false, Vec::new())).1.push(*v),
            Mop::R(k, Some(list)) => {
                let mut sorted = list.clone();
                sorted.sort_unstable();
                if sorted.windows(2).any(|w| w[0] == w[1]) {
                    r.add(
                        "duplicate-elements",
                        true,
                        format!(
                            "{} read key {k} = {} with a value twice",
                            t.label(),
                            fmt_list(list)
                        ),
                        vec![t.idx],
                    );
                }
                if let Some((exact, expect)) = state.get(k) {
                    let fine = if *exact {
                        list == expect
                    } else {
                        list.ends_with(expect)
                    };
                    if !fine {
                        r.add(
                            "internal",
                            true,
                            format!(
                                "{} read key {k} = {} but its own earlier operations imply {}{}",
                                t.label(),
                                fmt_list(list),
                                if *exact { "" } else { "a list ending in " },
                                fmt_list(expect)
                            ),
                            vec![t.idx],
                        );
                    }
                }
                state.insert(*k, (true, list.clone()));
            }
            Mop::R(_, None) => {}
        }
    }
}

fn check_final(txns: &[Txn<'_>], r: &mut CheckResult, opts: &ListAppendOpts) {
    // node -> key -> (txn idx, list)
    let mut finals: BTreeMap<&str, BTreeMap<u64, (u64, &[u64])>> = BTreeMap::new();
    for t in txns.iter().filter(|t| t.final_read && t.typ == OpType::Ok) {
        let node = finals.entry(t.node.unwrap_or("")).or_default();
        for m in t.mops {
            if let Mop::R(k, Some(l)) = m {
                node.insert(*k, (t.idx, l.as_slice()));
            }
        }
    }
    r.stat("final_reads", finals.len() as u64);
    if finals.is_empty() {
        r.unknown("no successful final read: lost appends could not be checked".into());
        return;
    }
    for n in &opts.nodes {
        if !finals.contains_key(n.as_str()) {
            r.unknown(format!("no successful final read on {n}"));
        }
    }
    for t in txns.iter().filter(|t| t.typ == OpType::Ok && !t.final_read) {
        for m in t.mops {
            let Mop::Append(k, v) = m else { continue };
            for (node, keys) in &finals {
                if let Some((fi, l)) = keys.get(k) {
                    if !l.contains(v) {
                        r.add(
                            "lost-append",
                            true,
                            format!(
                                "{} appended {v} to key {k} and committed, but the final read T{fi} on {node} shows {}",
                                t.label(),
                                fmt_list(l)
                            ),
                            vec![t.idx, *fi],
                        );
                    }
                }
            }
        }
    }
    let mut it = finals.iter();
    if let Some((n0, k0)) = it.next() {
        for (n, ks) in it {
            for (k, (i, l)) in ks {
                if let Some((i0, l0)) = k0.get(k) {
                    if l != l0 {
                        r.add(
                            "final-divergence",
                            true,
                            format!(
                                "key {k}: final read T{i0} on {n0} shows {} but T{i} on {n} shows {}",
                                fmt_list(l0),
                                fmt_list(l)
                            ),
                            vec![*i0, *i],
                        );
                    }
                }
            }
        }
    }
}

/// Strongly connected components (Tarjan, iterative), over edges accepted
/// by `keep(from, mask)`.
fn tarjan(out: &[Vec<(usize, u8)>], keep: &dyn Fn(usize, u8) -> bool) -> Vec<Vec<usize>> {
    let n = out.len();
    const UNSEEN: usize = usize::MAX;
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<usize> = Vec::new();
    let mut sccs = Vec::new();
    let mut next = 0usize;
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        // (node, position in its adjacency list)
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut pos)) = work.last_mut() {
            if *pos < out[v].len() {
                let (w, m) = out[v][*pos];
                *pos += 1;
                if !keep(v, m) {
                    continue;
                }
                if index[w] == UNSEEN {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                work.pop();
                if let Some(&(parent, _)) = work.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut comp = Vec::new();
                    loop {
                        let w = stack.pop().expect("tarjan stack");
                        on_stack[w] = false;
                        comp.push(w);
                        if w == v {
                            break;
                        }
                    }
                    sccs.push(comp);
                }
            }
        }
    }
    sccs
}

/// A cycle as a list of (from, to, edge type) steps.
type Cycle = Vec<(usize, usize, u8)>;

/// Shortest path from `start` to `goal` inside `members`, along edges whose
/// mask intersects `allowed`. Each step is labelled with its most benign
/// allowed type (ww before wr before rw), so a cycle is never reported as
/// worse than it is.
fn bfs(
    g: &Graph,
    members: &HashSet<usize>,
    allowed: u8,
    start: usize,
    goal: usize,
    budget: &mut u64,
) -> Option<Cycle> {
    let mut prev: HashMap<usize, (usize, u8)> = HashMap::new();
    let mut q = VecDeque::from([start]);
    let mut seen: HashSet<usize> = HashSet::from([start]);
    while let Some(u) = q.pop_front() {
        if u == goal {
            let mut path = Vec::new();
            let mut cur = goal;
            while cur != start {
                let (p, t) = prev[&cur];
                path.push((p, cur, t));
                cur = p;
            }
            path.reverse();
            return Some(path);
        }
        for &(w, m) in &g.out[u] {
            if *budget == 0 {
                return None;
            }
            *budget -= 1;
            let m = m & allowed;
            if m == 0 || !members.contains(&w) || !seen.insert(w) {
                continue;
            }
            let t = [WW, WR, RW]
                .into_iter()
                .find(|t| m & t != 0)
                .expect("non-empty mask");
            prev.insert(w, (u, t));
            q.push_back(w);
        }
    }
    None
}

/// A path from `start` to `goal` on which no two `rw` steps are adjacent,
/// that does not begin or end with `rw` (it closes a cycle whose first step
/// is the rw edge goal -> start). Breadth-first over (node, last step was
/// rw).
fn bfs_nonadjacent(
    g: &Graph,
    members: &HashSet<usize>,
    start: usize,
    goal: usize,
    budget: &mut u64,
) -> Option<Cycle> {
    type State = (usize, bool);
    let mut prev: HashMap<State, (State, u8)> = HashMap::new();
    let begin: State = (start, true);
    let mut q = VecDeque::from([begin]);
    let mut seen: HashSet<State> = HashSet::from([begin]);
    while let Some(s @ (u, last_rw)) = q.pop_front() {
        if s == (goal, false) {
            let mut path = Vec::new();
            let mut cur = s;
            while cur != begin {
                let (p, t) = prev[&cur];
                path.push((p.0, cur.0, t));
                cur = p;
            }
            path.reverse();
            return Some(path);
        }
        for &(w, m) in &g.out[u] {
            if *budget == 0 {
                return None;
            }
            *budget -= 1;
            if !members.contains(&w) {
                continue;
            }
            let mut steps: Vec<(State, u8)> = Vec::new();
            if m & (WW | WR) != 0 {
                steps.push(((w, false), if m & WW != 0 { WW } else { WR }));
            }
            if m & RW != 0 && !last_rw {
                steps.push(((w, true), RW));
            }
            for (ns, t) in steps {
                if seen.insert(ns) {
                    prev.insert(ns, (s, t));
                    q.push_back(ns);
                }
            }
        }
    }
    None
}

fn classify_scc(
    scc: &[usize],
    g: &Graph,
    txns: &[Txn<'_>],
    model: Model,
    budget: &mut u64,
    r: &mut CheckResult,
) {
    let members: HashSet<usize> = scc.iter().copied().collect();
    let edges_of = |t: u8| -> Vec<(usize, usize)> {
        let mut v = Vec::new();
        for &a in scc {
            for &(b, m) in &g.out[a] {
                if m & t != 0 && members.contains(&b) {
                    v.push((a, b));
                }
            }
        }
        v
    };

    // G0 and G1c: one cycle per strongly connected piece of the ww (resp.
    // ww+wr) subgraph, through a ww (resp. wr) edge inside it.
    let local: HashMap<usize, usize> = scc.iter().enumerate().map(|(i, &a)| (a, i)).collect();
    for (allowed, through, kind) in [(WW, WW, "G0"), (WW | WR, WR, "G1c")] {
        // The subgraph on this component's members, in local indices.
        let sub: Vec<Vec<(usize, u8)>> = scc
            .iter()
            .map(|&a| {
                g.out[a]
                    .iter()
                    .filter(|(_, m)| m & allowed != 0)
                    .filter_map(|(b, m)| local.get(b).map(|&lb| (lb, *m)))
                    .collect()
            })
            .collect();
        for piece in tarjan(&sub, &|_, _| true)
            .into_iter()
            .filter(|c| c.len() > 1)
        {
            let pm: HashSet<usize> = piece.iter().map(|&l| scc[l]).collect();
            let edge = piece.iter().find_map(|&la| {
                sub[la]
                    .iter()
                    .find(|(lb, m)| m & through != 0 && pm.contains(&scc[*lb]))
                    .map(|(lb, _)| (scc[la], scc[*lb]))
            });
            let Some((a, b)) = edge else { continue };
            if let Some(path) = bfs(g, &pm, allowed, b, a, budget) {
                let mut cycle = vec![(a, b, through)];
                cycle.extend(path);
                report_cycle(kind, true, &cycle, g, txns, r);
            }
        }
    }

    // G-single and G-nonadjacent: a cycle through an rw edge a -> b closed
    // by a path b ->* a. First without rw at all (G-single), then with
    // non-adjacent rw steps.
    let rws = edges_of(RW);
    let mut found_si = false;
    for &(a, b) in &rws {
        if let Some(path) = bfs(g, &members, WW | WR, b, a, budget) {
            let mut cycle = vec![(a, b, RW)];
            cycle.extend(path);
            report_cycle("G-single", true, &cycle, g, txns, r);
            found_si = true;
            break;
        }
    }
    if !found_si {
        for &(a, b) in &rws {
            if let Some(path) = bfs_nonadjacent(g, &members, b, a, budget) {
                let mut cycle = vec![(a, b, RW)];
                cycle.extend(path);
                let n_rw = cycle.iter().filter(|s| s.2 == RW).count();
                let kind = if n_rw == 1 {
                    "G-single"
                } else {
                    "G-nonadjacent"
                };
                report_cycle(kind, true, &cycle, g, txns, r);
                found_si = true;
                break;
            }
        }
    }
    // G2-item: whatever anti-dependency cycle is left (adjacent rw edges:
    // write skew). Allowed under snapshot isolation.
    if !found_si {
        if let Some(&(a, b)) = rws.first() {
            if let Some(path) = bfs(g, &members, WW | WR | RW, b, a, budget) {
                let mut cycle = vec![(a, b, RW)];
                cycle.extend(path);
                report_cycle("G2-item", model == Model::Serializable, &cycle, g, txns, r);
            }
        }
    }
}

fn report_cycle(
    kind: &str,
    forbidden: bool,
    cycle: &Cycle,
    g: &Graph,
    txns: &[Txn<'_>],
    r: &mut CheckResult,
) {
    let mut d = format!("{kind} cycle of {} transactions:", cycle.len());
    for (from, to, t) in cycle {
        let why = g
            .why
            .get(&(*from, *to, *t))
            .map(String::as_str)
            .unwrap_or("");
        let _ = write!(
            d,
            "\n  {}\n    -{}-> ({why})",
            txns[*from].label(),
            edge_name(*t)
        );
    }
    let _ = write!(d, "\n  T{}", txns[cycle[0].0].idx);
    let ops = cycle.iter().map(|(from, _, _)| txns[*from].idx).collect();
    r.add(kind, forbidden, d, ops);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::Validity;
    use crate::history::build::H;

    fn app(k: u64, v: u64) -> Mop {
        Mop::Append(k, v)
    }
    fn rd(k: u64, l: &[u64]) -> Mop {
        Mop::R(k, Some(l.to_vec()))
    }
    fn unread(mops: &[Mop]) -> Value {
        Value::Txn(
            mops.iter()
                .map(|m| match m {
                    Mop::R(k, _) => Mop::R(*k, None),
                    a => a.clone(),
                })
                .collect(),
        )
    }

    /// Appends one committed transaction (invoke + ok) by its own process.
    fn txn(h: &mut H, typ: OpType, mops: &[Mop]) -> u64 {
        let p = h.ops.len() as u64;
        let done = if typ == OpType::Ok {
            Value::Txn(mops.to_vec())
        } else {
            unread(mops)
        };
        h.op(p, typ, F::Txn, unread(mops), done)
    }

    fn final_read(h: &mut H, node: &str, keys: &[(u64, &[u64])]) {
        let p = 1_000 + h.ops.len() as u64;
        let mops: Vec<Mop> = keys.iter().map(|(k, l)| rd(*k, l)).collect();
        h.invoke_on(p, F::FinalRead, unread(&mops), node);
        h.complete_on(p, OpType::Ok, F::FinalRead, Value::Txn(mops), node);
    }

    fn opts() -> ListAppendOpts {
        ListAppendOpts {
            nodes: vec!["n1".into()],
            ..Default::default()
        }
    }

    fn run(h: &H) -> CheckResult {
        check(&h.ops, &opts())
    }

    /// A serial history with reads of own writes, an info txn that did not
    /// commit and one that did, a failed txn never observed, and a final read.
    fn valid() -> H {
        let mut h = H::new();
        txn(&mut h, OpType::Ok, &[app(1, 1), rd(1, &[1])]);
        txn(
            &mut h,
            OpType::Ok,
            &[rd(1, &[1]), app(1, 2), app(2, 1), rd(2, &[1])],
        );
        txn(&mut h, OpType::Info, &[app(1, 3)]); // observed below: committed
        txn(&mut h, OpType::Info, &[app(2, 9)]); // never observed: did not commit
        txn(&mut h, OpType::Fail, &[app(1, 8)]);
        txn(
            &mut h,
            OpType::Ok,
            &[rd(1, &[1, 2, 3]), rd(2, &[1]), rd(3, &[])],
        );
        final_read(&mut h, "n1", &[(1, &[1, 2, 3]), (2, &[1]), (3, &[])]);
        h
    }

    #[test]
    fn valid_history_passes() {
        let r = run(&valid());
        assert_eq!(r.validity, Validity::Valid, "{r:#?}");
        assert!(r.anomalies.is_empty());
        assert_eq!(r.stats["cyclic_components"], 0);
    }

    #[test]
    fn concurrent_but_snapshot_consistent_history_passes() {
        // T1 and T2 touch different keys concurrently; T3 sees both.
        let mut h = H::new();
        h.invoke(0, F::Txn, unread(&[rd(1, &[]), app(1, 1)]));
        h.invoke(1, F::Txn, unread(&[rd(2, &[]), app(2, 1)]));
        h.complete(
            0,
            OpType::Ok,
            F::Txn,
            Value::Txn(vec![rd(1, &[]), app(1, 1)]),
        );
        h.complete(
            1,
            OpType::Ok,
            F::Txn,
            Value::Txn(vec![rd(2, &[]), app(2, 1)]),
        );
        txn(&mut h, OpType::Ok, &[rd(1, &[1]), rd(2, &[1])]);
        final_read(&mut h, "n1", &[(1, &[1]), (2, &[1])]);
        let r = run(&h);
        assert_eq!(r.validity, Validity::Valid, "{r:#?}");
    }

    #[test]
    fn g0_write_cycle_is_caught() {
        // T1 and T2 both append to x and y; x's order says T1 then T2, y's
        // says T2 then T1.
        let mut h = valid();
        let t1 = txn(&mut h, OpType::Ok, &[app(10, 1), app(11, 1)]);
        let t2 = txn(&mut h, OpType::Ok, &[app(10, 2), app(11, 2)]);
        txn(&mut h, OpType::Ok, &[rd(10, &[1, 2]), rd(11, &[2, 1])]);
        let r = run(&h);
        assert!(r.has("G0"), "{r:#?}");
        assert_eq!(r.validity, Validity::Invalid);
        let a = r.anomalies.iter().find(|a| a.kind == "G0").unwrap();
        let mut got = a.ops.clone();
        got.sort();
        assert_eq!(got, vec![t1, t2]);
    }

    #[test]
    fn g1a_aborted_read_is_caught() {
        let mut h = valid();
        let bad = txn(&mut h, OpType::Fail, &[app(20, 1)]);
        let reader = txn(&mut h, OpType::Ok, &[rd(20, &[1])]);
        let r = run(&h);
        assert!(r.has("G1a"), "{r:#?}");
        assert_eq!(
            r.anomalies.iter().find(|a| a.kind == "G1a").unwrap().ops,
            vec![bad, reader]
        );
        assert_eq!(r.validity, Validity::Invalid);
    }

    #[test]
    fn g1b_intermediate_read_is_caught() {
        let mut h = valid();
        txn(&mut h, OpType::Ok, &[app(21, 1), app(21, 2)]);
        txn(&mut h, OpType::Ok, &[rd(21, &[1])]);
        let r = run(&h);
        assert!(r.has("G1b"), "{r:#?}");
    }

    #[test]
    fn g1c_circular_information_flow_is_caught() {
        // T1 appends x and reads y seeing T2's append; T2 appends y and reads
        // x seeing T1's append. Each saw the other.
        let mut h = valid();
        txn(&mut h, OpType::Ok, &[app(30, 1), rd(31, &[1])]);
        txn(&mut h, OpType::Ok, &[app(31, 1), rd(30, &[1])]);
        let r = run(&h);
        assert!(r.has("G1c"), "{r:#?}");
        assert!(!r.has("G0"));
        assert_eq!(r.validity, Validity::Invalid);
    }

    #[test]
    fn g_single_lost_update_is_caught() {
        // The worked example in the module docs.
        let mut h = valid();
        txn(&mut h, OpType::Ok, &[app(40, 1)]);
        txn(&mut h, OpType::Ok, &[rd(40, &[1]), app(40, 2)]);
        txn(&mut h, OpType::Ok, &[rd(40, &[1]), app(40, 3)]);
        txn(&mut h, OpType::Ok, &[rd(40, &[1, 2, 3])]);
        let r = run(&h);
        assert!(r.has("G-single"), "{r:#?}");
        assert_eq!(r.validity, Validity::Invalid);
    }

    #[test]
    fn g_single_read_skew_is_caught() {
        // T1 appends to x and y atomically; T2 sees T1's x but not its y.
        let mut h = valid();
        txn(&mut h, OpType::Ok, &[app(50, 1), app(51, 1)]);
        txn(&mut h, OpType::Ok, &[rd(50, &[1]), rd(51, &[])]);
        txn(&mut h, OpType::Ok, &[rd(51, &[1])]);
        let r = run(&h);
        assert!(r.has("G-single"), "{r:#?}");
        let a = r.anomalies.iter().find(|a| a.kind == "G-single").unwrap();
        assert!(
            a.description.contains("-rw->") && a.description.contains("-wr->"),
            "{}",
            a.description
        );
    }

    #[test]
    fn g_nonadjacent_is_caught() {
        // T1 -rw-> T2 -wr-> T3 -rw-> T4 -wr-> T1: two rw edges, not adjacent.
        let mut h = valid();
        // T1 reads a (misses T2's append), and sees T4's append to d.
        // T2 appends a; T3 reads a (sees T2) and misses T4's append to c.
        // T4 appends c and d.
        txn(&mut h, OpType::Ok, &[rd(60, &[]), rd(63, &[1])]); // T1
        txn(&mut h, OpType::Ok, &[app(60, 1)]); // T2
        txn(&mut h, OpType::Ok, &[rd(60, &[1]), rd(62, &[])]); // T3
        txn(&mut h, OpType::Ok, &[app(62, 1), app(63, 1)]); // T4
        txn(&mut h, OpType::Ok, &[rd(62, &[1])]);
        let r = run(&h);
        assert!(r.has("G-nonadjacent"), "{r:#?}");
        assert!(!r.has("G-single"));
        assert_eq!(r.validity, Validity::Invalid);
    }

    #[test]
    fn g2_item_write_skew_is_reported_but_allowed_under_si() {
        // Classic write skew: each reads both keys empty and appends to one.
        let mut h = valid();
        txn(&mut h, OpType::Ok, &[rd(70, &[]), rd(71, &[]), app(70, 1)]);
        txn(&mut h, OpType::Ok, &[rd(70, &[]), rd(71, &[]), app(71, 1)]);
        txn(&mut h, OpType::Ok, &[rd(70, &[1]), rd(71, &[1])]);
        let r = run(&h);
        assert!(r.has("G2-item"), "{r:#?}");
        assert!(!r.has("G-single"));
        assert_eq!(r.validity, Validity::Valid, "G2-item is allowed under SI");
        assert!(!r.anomalies[0].forbidden);
        let ser = check(
            &h.ops,
            &ListAppendOpts {
                model: Model::Serializable,
                ..opts()
            },
        );
        assert_eq!(
            ser.validity,
            Validity::Invalid,
            "but not under serializability"
        );
    }

    #[test]
    fn internal_inconsistency_is_caught() {
        let mut h = valid();
        // Reads its own append, then a later read forgets it.
        txn(
            &mut h,
            OpType::Ok,
            &[app(80, 1), rd(80, &[1]), app(80, 2), rd(80, &[1])],
        );
        let r = run(&h);
        assert!(r.has("internal"), "{r:#?}");
        // Append without prior read: the read must end with the append.
        let mut h = valid();
        txn(&mut h, OpType::Ok, &[app(81, 5), rd(81, &[])]);
        assert!(run(&h).has("internal"));
    }

    #[test]
    fn incompatible_orders_and_garbage_and_duplicates_are_caught() {
        let mut h = valid();
        txn(&mut h, OpType::Ok, &[app(90, 1)]);
        txn(&mut h, OpType::Ok, &[app(90, 2)]);
        txn(&mut h, OpType::Ok, &[rd(90, &[1, 2])]);
        txn(&mut h, OpType::Ok, &[rd(90, &[2, 1])]);
        let r = run(&h);
        assert!(r.has("incompatible-order"), "{r:#?}");

        let mut h = valid();
        txn(&mut h, OpType::Ok, &[rd(91, &[42])]);
        assert!(run(&h).has("garbage-read"));

        let mut h = valid();
        txn(&mut h, OpType::Ok, &[app(92, 1)]);
        txn(&mut h, OpType::Ok, &[rd(92, &[1, 1])]);
        assert!(run(&h).has("duplicate-elements"));
    }

    #[test]
    fn lost_append_and_final_divergence_are_caught() {
        let mut h = valid();
        txn(&mut h, OpType::Ok, &[app(3, 1)]);
        final_read(&mut h, "n2", &[(1, &[1, 2, 3]), (2, &[1]), (3, &[1])]);
        let r = check(
            &h.ops,
            &ListAppendOpts {
                nodes: vec!["n1".into(), "n2".into()],
                ..opts()
            },
        );
        // n1's final read (in valid()) predates nothing here, but it lacks
        // the acknowledged append 1 to key 3, and differs from n2's.
        assert!(r.has("lost-append"), "{r:#?}");
        assert!(r.has("final-divergence"));
    }

    #[test]
    fn missing_final_read_makes_the_verdict_unknown() {
        let mut h = H::new();
        txn(&mut h, OpType::Ok, &[app(1, 1)]);
        let r = run(&h);
        assert_eq!(r.validity, Validity::Unknown);
    }

    #[test]
    fn tarjan_finds_components() {
        let out = vec![vec![(1, WW)], vec![(2, WW)], vec![(0, WW), (3, WW)], vec![]];
        let mut sccs = tarjan(&out, &|_, _| true);
        for c in &mut sccs {
            c.sort();
        }
        sccs.sort();
        assert_eq!(sccs, vec![vec![0, 1, 2], vec![3]]);
    }
}
