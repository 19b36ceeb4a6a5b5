//! Flow-control accounting, matching Galera's status variables.
//!
//! | field | Galera variable | meaning |
//! |---|---|---|
//! | `paused_ns` | `wsrep_flow_control_paused_ns` | total time paused since the state machine was created (never reset) |
//! | `paused` | `wsrep_flow_control_paused` | fraction of the time since the last reset spent paused, in `[0, 1]` |
//! | `sent` | `wsrep_flow_control_sent` | FC_STOP messages this node sent |
//! | `recv` | `wsrep_flow_control_recv` | FC_STOP messages received, *including* this node's own (Galera delivers a node's own STOP back to it) |
//! | `recv_queue` | `wsrep_local_recv_queue` | current receive-queue length |
//! | `recv_queue_min` / `_max` | `wsrep_local_recv_queue_min` / `_max` | extremes of the reported lengths |
//! | `recv_queue_avg` | `wsrep_local_recv_queue_avg` | **sample**-weighted average as Galera computes it: one sample, the new length, each time a reported length is higher than the previous one (Galera samples on every enqueue); 0 without samples |
//! | `recv_queue_avg_time` | — | **time**-weighted average length since the reset (the current length if no time has passed) |
//! | `active` | `wsrep_flow_control_active` | the local sender must pause now |
//! | `requested` | `wsrep_flow_control_requested` | this node's own FC_STOP is outstanding |
//!
//! Everything except `paused_ns` covers the interval since the last
//! [`crate::FlowControl::reset_stats`] (Galera's `FLUSH STATUS`); the raw
//! STOP/CONT counters in both directions are there too.
//!
//! Time only moves forward: an event with a clock value older than the last
//! one is taken to happen at the last one (no time elapses), so accounting
//! never goes negative.

use crate::Nanos;

/// A snapshot of the flow-control statistics, see the module docs.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FcStats {
    /// Total time paused since creation, ns.
    pub paused_ns: u64,
    /// Fraction of the time since the last reset spent paused.
    pub paused: f64,
    /// Length of the interval since the last reset, ns.
    pub interval_ns: u64,
    /// FC_STOP messages sent (`wsrep_flow_control_sent`).
    pub sent: u64,
    /// FC_STOP messages received including our own
    /// (`wsrep_flow_control_recv`) = `stop_recv + stop_sent`.
    pub recv: u64,
    /// FC_STOP messages sent.
    pub stop_sent: u64,
    /// FC_CONT messages sent.
    pub cont_sent: u64,
    /// FC_STOP messages accepted from other members.
    pub stop_recv: u64,
    /// FC_CONT messages accepted from other members.
    pub cont_recv: u64,
    /// Current receive-queue length.
    pub recv_queue: u64,
    /// Shortest reported length since the reset.
    pub recv_queue_min: u64,
    /// Longest reported length since the reset.
    pub recv_queue_max: u64,
    /// Galera's sample-weighted average (see the module docs).
    pub recv_queue_avg: f64,
    /// Time-weighted average length since the reset.
    pub recv_queue_avg_time: f64,
    /// The local sender must pause.
    pub active: bool,
    /// Our own FC_STOP is outstanding.
    pub requested: bool,
}

/// Running sums behind [`FcStats`]; owned by [`crate::FlowControl`].
#[derive(Clone, Debug)]
pub(crate) struct Accounting {
    /// Clock of the last event (never decreases).
    pub clock: Nanos,
    pub reset_at: Nanos,
    pub paused_total_ns: u64,
    pub paused_since_reset_ns: u64,
    pub stop_sent: u64,
    pub cont_sent: u64,
    pub stop_recv: u64,
    pub cont_recv: u64,
    pub q_min: u64,
    pub q_max: u64,
    pub q_samples: u64,
    pub q_sample_sum: u128,
    /// Sum of `length * ns` since the reset.
    pub q_integral: u128,
}

impl Accounting {
    pub fn new(now: Nanos, queue_len: u64) -> Accounting {
        Accounting {
            clock: now,
            reset_at: now,
            paused_total_ns: 0,
            paused_since_reset_ns: 0,
            stop_sent: 0,
            cont_sent: 0,
            stop_recv: 0,
            cont_recv: 0,
            q_min: queue_len,
            q_max: queue_len,
            q_samples: 0,
            q_sample_sum: 0,
            q_integral: 0,
        }
    }

    /// Lets time pass up to `now` in the state that held since the last
    /// event (`paused`, `queue_len`).
    pub fn advance(&mut self, now: Nanos, paused: bool, queue_len: u64) {
        let now = now.max(self.clock);
        let dt = now - self.clock;
        if paused {
            self.paused_total_ns = self.paused_total_ns.saturating_add(dt);
            self.paused_since_reset_ns = self.paused_since_reset_ns.saturating_add(dt);
        }
        self.q_integral = self
            .q_integral
            .saturating_add(u128::from(queue_len) * u128::from(dt));
        self.clock = now;
    }

    /// Records a newly reported queue length `len` (previous: `prev`).
    pub fn queue_changed(&mut self, prev: u64, len: u64) {
        if len > prev {
            self.q_samples += 1;
            self.q_sample_sum += u128::from(len);
        }
        self.q_min = self.q_min.min(len);
        self.q_max = self.q_max.max(len);
    }

    /// Starts a new statistics interval at the current clock.
    pub fn reset(&mut self, queue_len: u64) {
        *self = Accounting {
            paused_total_ns: self.paused_total_ns,
            ..Accounting::new(self.clock, queue_len)
        };
    }

    /// The statistics as of `now`, counting the time since the last event
    /// in the current state.
    pub fn report(&self, now: Nanos, paused: bool, queue_len: u64, requested: bool) -> FcStats {
        let mut a = self.clone();
        a.advance(now, paused, queue_len);
        let interval_ns = a.clock - a.reset_at;
        let frac = |num: u128, den: u128| {
            if den == 0 {
                0.0
            } else {
                num as f64 / den as f64
            }
        };
        FcStats {
            paused_ns: a.paused_total_ns,
            paused: frac(a.paused_since_reset_ns.into(), interval_ns.into()),
            interval_ns,
            sent: a.stop_sent,
            recv: a.stop_recv + a.stop_sent,
            stop_sent: a.stop_sent,
            cont_sent: a.cont_sent,
            stop_recv: a.stop_recv,
            cont_recv: a.cont_recv,
            recv_queue: queue_len,
            recv_queue_min: a.q_min,
            recv_queue_max: a.q_max,
            recv_queue_avg: frac(a.q_sample_sum, a.q_samples.into()),
            recv_queue_avg_time: if interval_ns == 0 {
                queue_len as f64
            } else {
                frac(a.q_integral, interval_ns.into())
            },
            active: paused,
            requested,
        }
    }
}
