//! A brute-force reference model of certification, shared by the tests.
//!
//! It keeps the full history of passed write-sets and TOI events and decides
//! every question by scanning all of it, straight from the rule as written in
//! DESIGN.md and the `index` module docs — no per-kind summaries, no hash
//! tables, no purge log. Purge only raises the horizon; the model never
//! forgets anything, and must still agree with the index, which does.

#![allow(dead_code)]

use trireme_certification::{FailReason, KeyKind, Seqno, Verdict, WriteSet};

/// How an earlier key of kind `found` relates to a new key of kind `new`:
/// the model's own copy of Galera 4's table (certification.cpp, "vertical
/// axis: found key type, horizontal axis: trx key type"), written
/// independently of `KeyKind::check` so that a mistake in one shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rel {
    Nothing,
    Depend,
    Conflict,
}

pub fn rel(found: KeyKind, new: KeyKind) -> Rel {
    use KeyKind::*;
    match (found, new) {
        (Exclusive, _) => Rel::Conflict,
        (Update, Exclusive | Update) => Rel::Conflict,
        (Update, Reference | Shared) => Rel::Depend,
        (Reference, Exclusive) => Rel::Conflict,
        (Reference, Update) => Rel::Depend,
        (Reference, Reference | Shared) => Rel::Nothing,
        (Shared, Exclusive | Update) => Rel::Depend,
        (Shared, Reference | Shared) => Rel::Nothing,
    }
}

/// One event the model remembers.
#[derive(Clone, Debug)]
enum Event {
    Passed(WriteSet),
    Toi(Vec<String>),
}

/// Counters the model keeps, to compare with `CertStats`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModelStats {
    pub passes: u64,
    pub conflict: u64,
    pub barrier: u64,
    pub below_horizon: u64,
    pub future_snapshot: u64,
    pub toi_events: u64,
    pub deps_distance_sum: u64,
    pub cert_interval_sum: u64,
}

/// The reference model.
#[derive(Clone, Debug)]
pub struct Model {
    pub optimistic_pa: bool,
    pub position: Seqno,
    pub horizon: Seqno,
    history: Vec<(Seqno, Event)>,
    pub stats: ModelStats,
}

impl Model {
    pub fn new(optimistic_pa: bool) -> Model {
        Model::starting_at(optimistic_pa, 0)
    }

    pub fn starting_at(optimistic_pa: bool, position: Seqno) -> Model {
        Model {
            optimistic_pa,
            position,
            horizon: position,
            history: Vec::new(),
            stats: ModelStats::default(),
        }
    }

    fn advance(&mut self, seqno: Seqno) {
        assert!(seqno > self.position, "model fed out of order");
        self.position = seqno;
    }

    pub fn skip(&mut self, seqno: Seqno) {
        self.advance(seqno);
    }

    pub fn purge(&mut self, upto: Seqno) {
        self.horizon = self.horizon.max(upto.min(self.position));
    }

    pub fn certify_toi(&mut self, tables: &[String], seqno: Seqno) -> Verdict {
        self.advance(seqno);
        self.history.push((seqno, Event::Toi(tables.to_vec())));
        self.stats.toi_events += 1;
        Verdict::Pass {
            depends_seqno: seqno - 1,
        }
    }

    pub fn certify(&mut self, ws: &WriteSet, seqno: Seqno) -> Verdict {
        self.advance(seqno);
        let verdict = self.decide(ws, seqno);
        match verdict {
            Verdict::Pass { depends_seqno } => {
                self.history.push((seqno, Event::Passed(ws.clone())));
                self.stats.passes += 1;
                self.stats.deps_distance_sum += seqno - depends_seqno;
                self.stats.cert_interval_sum += seqno - ws.last_seen_seqno - 1;
            }
            Verdict::Fail(FailReason::Conflict { .. }) => self.stats.conflict += 1,
            Verdict::Fail(FailReason::Barrier { .. }) => self.stats.barrier += 1,
            Verdict::Fail(FailReason::BelowHorizon { .. }) => self.stats.below_horizon += 1,
            Verdict::Fail(FailReason::FutureSnapshot { .. }) => self.stats.future_snapshot += 1,
        }
        verdict
    }

    fn decide(&self, ws: &WriteSet, seqno: Seqno) -> Verdict {
        let ls = ws.last_seen_seqno;
        if ls >= seqno {
            return Verdict::Fail(FailReason::FutureSnapshot { last_seen: ls });
        }
        if ls < self.horizon {
            return Verdict::Fail(FailReason::BelowHorizon {
                horizon: self.horizon,
            });
        }

        // Tables the write-set touches, through keys or row operations.
        let mut touched: Vec<&str> = Vec::new();
        for k in &ws.keys {
            touched.push(&k.table);
        }
        for o in &ws.ops {
            touched.push(&o.table);
        }
        let barrier = self
            .history
            .iter()
            .filter_map(|(s, ev)| match ev {
                // A TOI on database `d` covers every table `d.t`.
                Event::Toi(tables)
                    if *s > ls
                        && tables.iter().any(|t| {
                            touched.iter().any(|n| {
                                *n == t.as_str() || n.split_once('.').is_some_and(|(db, _)| db == t)
                            })
                        }) =>
                {
                    Some(*s)
                }
                _ => None,
            })
            .max();
        if let Some(toi) = barrier {
            return Verdict::Fail(FailReason::Barrier { toi });
        }

        for (i, key) in ws.keys.iter().enumerate() {
            let mut with = None;
            for (s, ev) in &self.history {
                let Event::Passed(old) = ev else { continue };
                for k in &old.keys {
                    if k.table == key.table
                        && k.pk == key.pk
                        && rel(k.kind, key.kind) == Rel::Conflict
                        && *s > ls
                    {
                        with = with.max(Some(*s));
                    }
                }
            }
            if let Some(with) = with {
                return Verdict::Fail(FailReason::Conflict { key: i, with });
            }
        }

        if ws.is_pa_unsafe() {
            return Verdict::Pass {
                depends_seqno: seqno - 1,
            };
        }
        let mut deps = self.horizon;
        if !self.optimistic_pa {
            deps = deps.max(ls);
        }
        for (s, ev) in &self.history {
            match ev {
                Event::Toi(_) => deps = deps.max(*s),
                Event::Passed(old) => {
                    if old.is_pa_unsafe() {
                        deps = deps.max(*s);
                    }
                    for key in &ws.keys {
                        for k in &old.keys {
                            if k.table == key.table
                                && k.pk == key.pk
                                && rel(k.kind, key.kind) != Rel::Nothing
                            {
                                deps = deps.max(*s);
                            }
                        }
                    }
                }
            }
        }
        Verdict::Pass {
            depends_seqno: deps,
        }
    }

    /// Distinct `(table, pk)` recorded by a passed write-set after the
    /// horizon: what the index must still hold.
    pub fn index_size(&self) -> usize {
        let mut keys: Vec<(&str, &[u8])> = Vec::new();
        for (s, ev) in &self.history {
            if *s <= self.horizon {
                continue;
            }
            if let Event::Passed(ws) = ev {
                for k in &ws.keys {
                    let id = (k.table.as_str(), k.pk.as_slice());
                    if !keys.contains(&id) {
                        keys.push(id);
                    }
                }
            }
        }
        keys.len()
    }
}
