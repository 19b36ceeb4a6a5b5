//! At-most-once ordering of broadcasts.
//!
//! A member retries a broadcast whose outcome it believes definite ("not
//! appended") on another leader. If that belief is ever wrong (a leader
//! change that leaves the first copy in a log that later commits), the same
//! payload would be ordered twice, and a write-set or a TOI statement would
//! run twice. So every payload carries a [`Stamp`] and the state machine
//! admits each stamp at most once.
//!
//! # The rule (deterministic: it depends only on the ordered log)
//!
//! Per origin the table keeps the newest incarnation seen, a `floor` and the
//! stamps admitted at or above it (with their seqnos). A payload is
//! - **stale** if its incarnation is older than the table's (that process is
//!   gone; nobody waits for the answer) or its `seq` is below the floor (the
//!   origin already has its answer, or gave up on it);
//! - a **duplicate** if its `seq` was admitted before: it is dropped and its
//!   first seqno is the answer;
//! - otherwise **new**: it gets the next seqno.
//!
//! The origin sets `floor` to the smallest `seq` it still waits for, so a
//! retried payload is never below the floor of any later payload of its own,
//! and the table holds only the origin's outstanding broadcasts.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::types::{NodeId, Seqno, Stamp};

/// What the state machine does with a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Never seen: order it.
    New,
    /// Ordered before, at this seqno: drop it.
    Duplicate(Seqno),
    /// From an older incarnation of the origin or below its floor: drop it.
    Stale,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct OriginState {
    incarnation: u64,
    floor: u64,
    /// `seq -> seqno` of admitted stamps with `seq >= floor`.
    seen: BTreeMap<u64, Seqno>,
}

/// The per-origin table. Travels in snapshot headers, so a member that
/// installs a snapshot takes the same decisions as the others afterwards.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dedup {
    origins: BTreeMap<NodeId, OriginState>,
}

impl Dedup {
    /// Classify a payload without changing the table.
    pub fn check(&self, origin: NodeId, s: &Stamp) -> Verdict {
        let Some(o) = self.origins.get(&origin) else {
            return Verdict::New;
        };
        if s.incarnation < o.incarnation {
            return Verdict::Stale;
        }
        if s.incarnation > o.incarnation {
            return Verdict::New;
        }
        if s.seq < o.floor {
            return Verdict::Stale;
        }
        match o.seen.get(&s.seq) {
            Some(q) => Verdict::Duplicate(*q),
            None => Verdict::New,
        }
    }

    /// Record that a payload judged [`Verdict::New`] got `seqno`. The only
    /// mutation, so replaying the admitted stamps of a log range rebuilds
    /// the table exactly.
    pub fn admit(&mut self, origin: NodeId, s: &Stamp, seqno: Seqno) {
        let o = self.origins.entry(origin).or_default();
        if s.incarnation > o.incarnation {
            *o = OriginState {
                incarnation: s.incarnation,
                ..OriginState::default()
            };
        }
        o.seen.insert(s.seq, seqno);
        if s.floor > o.floor {
            o.floor = s.floor;
            o.seen = o.seen.split_off(&s.floor);
        }
    }

    /// Replay stamps admitted by a range of the log, in order.
    pub fn admit_all(&mut self, admitted: &[(NodeId, Stamp, Seqno)]) {
        for (o, s, q) in admitted {
            self.admit(*o, s, *q);
        }
    }

    /// Newest incarnation recorded for `origin`.
    pub fn incarnation(&self, origin: NodeId) -> Option<u64> {
        self.origins.get(&origin).map(|o| o.incarnation)
    }

    /// Stamps held (for bounds checks in tests and logs).
    pub fn len(&self) -> usize {
        self.origins.values().map(|o| o.seen.len()).sum()
    }

    /// True when no stamp is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The origin's side: hands out stamps and tracks which are still waited for.
#[derive(Debug)]
pub(crate) struct Stamper {
    st: Mutex<StamperState>,
}

#[derive(Debug)]
struct StamperState {
    incarnation: u64,
    next: u64,
    open: BTreeSet<u64>,
}

/// A stamp in use; dropping it (answered, or the caller went away) lets
/// later stamps raise the floor past it.
pub(crate) struct Issued {
    pub stamp: Stamp,
    stamper: Arc<Stamper>,
}

impl Drop for Issued {
    fn drop(&mut self) {
        self.stamper.st.lock().open.remove(&self.stamp.seq);
    }
}

impl Stamper {
    pub fn new(incarnation: u64) -> Arc<Stamper> {
        Arc::new(Stamper {
            st: Mutex::new(StamperState {
                incarnation,
                next: 0,
                open: BTreeSet::new(),
            }),
        })
    }

    /// A fresh stamp, held open until the returned guard drops.
    pub fn issue(self: &Arc<Self>) -> Issued {
        let mut st = self.st.lock();
        let seq = st.next;
        st.next += 1;
        st.open.insert(seq);
        let floor = st.open.first().copied().unwrap_or(seq);
        Issued {
            stamp: Stamp {
                incarnation: st.incarnation,
                seq,
                floor,
            },
            stamper: self.clone(),
        }
    }

    /// The ordered log knows a newer incarnation of this member than ours
    /// (the data dir was wiped and the clock is behind): move past it so
    /// that later broadcasts are not dropped as stale.
    pub fn move_past(&self, incarnation: u64) {
        let mut st = self.st.lock();
        if st.incarnation <= incarnation {
            st.incarnation = incarnation + 1;
        }
    }
}

/// The incarnation for a process that starts now: newer than the one
/// recorded by the previous run (`prev`) and, after a wipe, than any earlier
/// run (wall-clock microseconds).
pub(crate) fn next_incarnation(prev: Option<u64>, now_us: u64) -> u64 {
    prev.map_or(now_us, |p| now_us.max(p + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn st(incarnation: u64, seq: u64, floor: u64) -> Stamp {
        Stamp {
            incarnation,
            seq,
            floor,
        }
    }

    /// The state machine's rule over an ordered log: the table and the
    /// last seqno given.
    #[derive(Default)]
    struct Log {
        d: Dedup,
        next: Seqno,
    }

    impl Log {
        /// Order `ps`; returns their verdicts.
        fn run(&mut self, ps: &[(NodeId, Stamp)]) -> Vec<Verdict> {
            ps.iter()
                .map(|(o, s)| {
                    let v = self.d.check(*o, s);
                    if v == Verdict::New {
                        self.next += 1;
                        self.d.admit(*o, s, self.next);
                    }
                    v
                })
                .collect()
        }
    }

    #[test]
    fn a_retried_payload_is_ordered_once_and_answers_its_first_seqno() {
        let mut l = Log::default();
        let v = l.run(&[(1, st(7, 0, 0)), (1, st(7, 1, 0)), (1, st(7, 0, 0))]);
        assert_eq!(v, vec![Verdict::New, Verdict::New, Verdict::Duplicate(1)]);
        assert_eq!(l.next, 2);
    }

    #[test]
    fn retries_may_be_ordered_after_later_payloads_of_the_same_origin() {
        // seq 0 is outstanding while 1 and 2 are sent (floor stays 0); its
        // first copy is lost and the retry lands after them.
        let v = Log::default().run(&[(1, st(7, 1, 0)), (1, st(7, 2, 0)), (1, st(7, 0, 0))]);
        assert_eq!(v, vec![Verdict::New; 3]);
    }

    #[test]
    fn the_floor_forgets_answered_payloads_and_drops_their_late_copies() {
        let mut l = Log::default();
        l.run(&[(1, st(7, 0, 0)), (1, st(7, 1, 0))]);
        l.run(&[(1, st(7, 5, 5))]);
        assert_eq!(l.d.len(), 1);
        assert_eq!(l.d.check(1, &st(7, 0, 0)), Verdict::Stale);
        assert_eq!(l.d.check(1, &st(7, 5, 5)), Verdict::Duplicate(3));
    }

    #[test]
    fn origins_and_incarnations_are_separate() {
        let mut l = Log::default();
        let v = l.run(&[
            (1, st(7, 0, 0)),
            (2, st(7, 0, 0)),
            (1, st(8, 0, 0)),
            (1, st(7, 3, 0)),
        ]);
        assert_eq!(
            v,
            vec![Verdict::New, Verdict::New, Verdict::New, Verdict::Stale]
        );
        assert_eq!(l.d.incarnation(1), Some(8));
    }

    #[test]
    fn the_floor_is_the_oldest_open_stamp() {
        let s = Stamper::new(9);
        let a = s.issue();
        let b = s.issue();
        assert_eq!((b.stamp.seq, b.stamp.floor), (1, 0));
        drop(a);
        let c = s.issue();
        assert_eq!((c.stamp.seq, c.stamp.floor), (2, 1));
        drop(b);
        drop(c);
        let e = s.issue();
        assert_eq!((e.stamp.incarnation, e.stamp.seq, e.stamp.floor), (9, 3, 3));
        s.move_past(12);
        assert_eq!(s.issue().stamp.incarnation, 13);
        assert_eq!(next_incarnation(Some(100), 50), 101);
        assert_eq!(next_incarnation(Some(100), 500), 500);
        assert_eq!(next_incarnation(None, 500), 500);
    }

    proptest! {
        /// Whatever the interleaving of copies, each stamp is admitted at
        /// most once, and a copy that is not admitted answers the seqno of
        /// the admitted one when the origin still waits for it.
        #[test]
        fn at_most_once(ops in proptest::collection::vec((1u64..4, 0u64..12, 0u64..3), 1..80)) {
            let mut d = Dedup::default();
            let mut n = 0;
            let mut admitted: BTreeMap<(NodeId, u64), Seqno> = BTreeMap::new();
            let mut floor: BTreeMap<NodeId, u64> = BTreeMap::new();
            for (o, seq, lag) in ops {
                let f = seq.saturating_sub(lag).max(*floor.get(&o).unwrap_or(&0)).min(seq);
                let s = st(1, seq, f);
                match d.check(o, &s) {
                    Verdict::New => {
                        prop_assert!(!admitted.contains_key(&(o, seq)), "{o}/{seq} admitted twice");
                        n += 1;
                        d.admit(o, &s, n);
                        admitted.insert((o, seq), n);
                        floor.insert(o, f.max(*floor.get(&o).unwrap_or(&0)));
                    }
                    Verdict::Duplicate(q) => prop_assert_eq!(admitted.get(&(o, seq)), Some(&q)),
                    Verdict::Stale => prop_assert!(seq < *floor.get(&o).unwrap_or(&0)),
                }
            }
        }
    }
}
