//! The flow-control state machine.
//!
//! # Rules
//!
//! State: the members of the current view (always including this node),
//! the limits for that many members ([`crate::config`]), the local receive
//! queue length `q`, whether sending is `enabled`, whether our own FC_STOP is
//! `outstanding`, and for every *other* current member whether the last
//! flow-control message accepted from it was FC_STOP.
//!
//! After every input the node gets at most one message to broadcast:
//!
//! * **FC_STOP** when `!outstanding && enabled && q > upper`;
//! * **FC_CONT** when `outstanding && (q <= lower || !enabled)`;
//! * nothing otherwise.
//!
//! So STOP and CONT strictly alternate (never two STOPs without a CONT
//! between them), starting with STOP; between the two limits nothing changes
//! (hysteresis). The decision is taken after queue changes, view changes
//! (the limits move with the cluster size) and configuration changes.
//!
//! **The local sender must pause** ([`FlowControl::must_pause`]) while our
//! own STOP is outstanding or any other current member's last accepted
//! message is FC_STOP. Galera pauses on its own STOP too: the whole cluster
//! waits for the slowest node, including that node.
//!
//! Messages from members not in the current view, and messages claiming to
//! come from this node, are ignored (our own state is known from what we
//! sent, so an echo arriving late cannot undo a later CONT). A member that
//! leaves the view has its STOP cleared, and a member that joins starts
//! clear, so a crashed node can never keep the cluster paused. A STOP sent
//! before a member joined is unknown to it; if the node wants newcomers to
//! honour it, it re-sends the current state ([`FlowControl::stop_outstanding`])
//! to them, which receivers treat idempotently.
//!
//! Differences from Galera, on purpose: Galera skips sending its STOP while
//! another member's STOP already pauses the cluster, and on a view change
//! it forgets every STOP, its own included (a node still above its limit
//! stops again at its next queue change); here each node's STOP depends
//! only on its own queue, and only departed members are forgotten.
//! Galera's catch-up offset for JOINED nodes is left to the node: it can
//! call [`FlowControl::set_enabled`]`(false)` while it is a joiner or donor
//! (Galera's `gcs.sync_donor = no` behaviour).
//!
//! # Worked example
//!
//! This node is member 1 of {1, 2, 3}, defaults: limits [14, 28].
//!
//! ```text
//! t=0   queue 28          -> -      (not above 28)
//! t=10  queue 29          -> STOP   must_pause (our own STOP)
//! t=20  queue 20          -> -      between the limits: nothing changes
//! t=30  recv STOP from 2  -> -      paused by 1 and 2
//! t=40  queue 14          -> CONT   still paused by 2
//! t=50  view {1, 3}       -> -      2 left, its STOP is cleared: running;
//!                                   limits now [12, 23], queue 14 is between
//! paused_ns = 40 (t=10..50), sent = 1, recv = 2 (ours and 2's)
//! ```
//!
//! (`tests/scenarios/worked_example.txt` replays exactly this.)

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::config::{Config, ConfigError, Limits};
use crate::stats::{Accounting, FcStats};
use crate::{MemberId, Nanos};

/// A flow-control message, broadcast to every member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FcMessage {
    /// FC_STOP: "my receive queue is too long, stop sending".
    Stop,
    /// FC_CONT: "my queue has drained, go on".
    Cont,
}

/// Galera flow control for one node, as a pure state machine: the node
/// feeds it events with a monotonic clock in nanoseconds and sends the
/// messages it returns. See the module docs for the rules.
#[derive(Clone, Debug)]
pub struct FlowControl {
    config: Config,
    me: MemberId,
    members: BTreeSet<MemberId>,
    limits: Limits,
    queue_len: u64,
    enabled: bool,
    outstanding: bool,
    /// Other current members whose last accepted message was FC_STOP.
    stopped_by: BTreeSet<MemberId>,
    acct: Accounting,
}

impl FlowControl {
    /// A node `me` in a view of `members` (`me` is added if missing), with
    /// an empty queue, at time `now`.
    pub fn new(
        config: Config,
        me: MemberId,
        members: &[MemberId],
        now: Nanos,
    ) -> Result<FlowControl, ConfigError> {
        config.validate()?;
        let mut members: BTreeSet<MemberId> = members.iter().copied().collect();
        members.insert(me);
        Ok(FlowControl {
            limits: config.limits(members.len()),
            config,
            me,
            members,
            queue_len: 0,
            enabled: true,
            outstanding: false,
            stopped_by: BTreeSet::new(),
            acct: Accounting::new(now, 0),
        })
    }

    /// The local receive queue (delivered, not yet applied) now has `len`
    /// entries. Returns the message to broadcast, if any.
    pub fn on_queue_len(&mut self, len: u64, now: Nanos) -> Option<FcMessage> {
        self.tick(now);
        self.acct.queue_changed(self.queue_len, len);
        self.queue_len = len;
        self.decide()
    }

    /// A new view: `members` (`me` is added if missing). Members that left
    /// have their STOP cleared; the limits follow the new size. Returns the
    /// message to broadcast, if any.
    pub fn on_view(&mut self, members: &[MemberId], now: Nanos) -> Option<FcMessage> {
        self.tick(now);
        self.members = members.iter().copied().collect();
        self.members.insert(self.me);
        let members = &self.members;
        self.stopped_by.retain(|m| members.contains(m));
        self.limits = self.config.limits(self.members.len());
        self.decide()
    }

    /// A flow-control message from member `from`. Returns false if it was
    /// ignored (sender not in the view, or this node itself).
    pub fn on_message(&mut self, from: MemberId, msg: FcMessage, now: Nanos) -> bool {
        self.tick(now);
        if from == self.me || !self.members.contains(&from) {
            return false;
        }
        match msg {
            FcMessage::Stop => {
                self.acct.stop_recv += 1;
                self.stopped_by.insert(from);
            }
            FcMessage::Cont => {
                self.acct.cont_recv += 1;
                self.stopped_by.remove(&from);
            }
        }
        true
    }

    /// Enables or disables sending FC_STOP (disable while the node is a
    /// joiner or donor and must not throttle the cluster). Disabling with a
    /// STOP outstanding returns FC_CONT; enabling with a long queue returns
    /// FC_STOP.
    pub fn set_enabled(&mut self, enabled: bool, now: Nanos) -> Option<FcMessage> {
        self.tick(now);
        self.enabled = enabled;
        self.decide()
    }

    /// Changes the configuration at run time (`SET GLOBAL
    /// wsrep_provider_options`). On error nothing changes.
    pub fn set_config(
        &mut self,
        config: Config,
        now: Nanos,
    ) -> Result<Option<FcMessage>, ConfigError> {
        config.validate()?;
        self.tick(now);
        self.config = config;
        self.limits = config.limits(self.members.len());
        Ok(self.decide())
    }

    /// Lets time pass without an event (for accounting only; optional).
    pub fn tick(&mut self, now: Nanos) {
        let paused = self.must_pause();
        self.acct.advance(now, paused, self.queue_len);
    }

    fn decide(&mut self) -> Option<FcMessage> {
        if !self.outstanding && self.enabled && self.queue_len > self.limits.upper {
            self.outstanding = true;
            self.acct.stop_sent += 1;
            Some(FcMessage::Stop)
        } else if self.outstanding && (!self.enabled || self.queue_len <= self.limits.lower) {
            self.outstanding = false;
            self.acct.cont_sent += 1;
            Some(FcMessage::Cont)
        } else {
            None
        }
    }

    /// True while the local sender must not replicate: our own FC_STOP is
    /// outstanding or another current member's last message was FC_STOP.
    pub fn must_pause(&self) -> bool {
        self.outstanding || !self.stopped_by.is_empty()
    }

    /// True while our own FC_STOP is outstanding
    /// (`wsrep_flow_control_requested`).
    pub fn stop_outstanding(&self) -> bool {
        self.outstanding
    }

    /// The members currently pausing the cluster, this node included if its
    /// STOP is outstanding, in id order.
    pub fn paused_by(&self) -> Vec<MemberId> {
        let mut out: Vec<MemberId> = self.stopped_by.iter().copied().collect();
        if self.outstanding {
            out.push(self.me);
            out.sort_unstable();
        }
        out
    }

    /// The watermarks in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The configuration in force.
    pub fn config(&self) -> Config {
        self.config
    }

    /// This node's member id.
    pub fn me(&self) -> MemberId {
        self.me
    }

    /// The current view, in id order (this node included).
    pub fn members(&self) -> Vec<MemberId> {
        self.members.iter().copied().collect()
    }

    /// The last reported receive-queue length.
    pub fn queue_len(&self) -> u64 {
        self.queue_len
    }

    /// Whether sending FC_STOP is enabled.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Statistics as of `now` (see [`crate::stats`]); does not change the
    /// state.
    pub fn stats(&self, now: Nanos) -> FcStats {
        self.acct
            .report(now, self.must_pause(), self.queue_len, self.outstanding)
    }

    /// Starts a new statistics interval at `now` (Galera's `FLUSH STATUS`);
    /// `paused_ns` keeps counting.
    pub fn reset_stats(&mut self, now: Nanos) {
        self.tick(now);
        self.acct.reset(self.queue_len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FcMessage::{Cont, Stop};

    fn fc(me: MemberId, members: &[MemberId]) -> FlowControl {
        FlowControl::new(Config::default(), me, members, 0).unwrap()
    }

    #[test]
    fn worked_example_from_module_docs() {
        let mut f = fc(1, &[1, 2, 3]);
        assert_eq!(
            f.limits(),
            Limits {
                upper: 28,
                lower: 14
            }
        );
        assert_eq!(f.on_queue_len(28, 0), None);
        assert_eq!(f.on_queue_len(29, 10), Some(Stop));
        assert!(f.must_pause());
        assert_eq!(f.on_queue_len(20, 20), None);
        assert!(f.on_message(2, Stop, 30));
        assert_eq!(f.paused_by(), vec![1, 2]);
        assert_eq!(f.on_queue_len(14, 40), Some(Cont));
        assert!(f.must_pause());
        assert_eq!(f.on_view(&[1, 3], 50), None);
        assert!(!f.must_pause());
        assert_eq!(
            f.limits(),
            Limits {
                upper: 23,
                lower: 12
            }
        );
        let s = f.stats(50);
        assert_eq!(s.paused_ns, 40);
        assert_eq!((s.sent, s.recv), (1, 2));
        assert_eq!(s.paused, 0.8);
    }

    #[test]
    fn view_change_clears_stops_of_departed_members_only() {
        let mut f = fc(1, &[1, 2, 3, 4]);
        assert!(f.on_message(2, Stop, 0));
        assert!(f.on_message(3, Stop, 0));
        f.on_view(&[1, 3, 4], 1);
        assert_eq!(f.paused_by(), vec![3]);
        f.on_view(&[1, 4], 2);
        assert!(!f.must_pause());
        // Member 3 rejoins: it starts clear; a late message from a departed
        // member is ignored.
        f.on_view(&[1, 3, 4], 3);
        assert!(!f.must_pause());
        assert!(!f.on_message(2, Stop, 4));
        assert!(!f.must_pause());
    }

    #[test]
    fn own_echo_is_ignored() {
        let mut f = fc(1, &[1, 2]);
        assert_eq!(f.on_queue_len(100, 0), Some(Stop));
        assert_eq!(f.on_queue_len(0, 1), Some(Cont));
        // Our STOP delivered back to us late must not pause us again.
        assert!(!f.on_message(1, Stop, 2));
        assert!(!f.must_pause());
    }

    #[test]
    fn shrinking_view_can_trigger_stop_and_growing_can_trigger_cont() {
        let mut f = fc(1, &[1, 2, 3, 4]); // [16, 32]
        assert_eq!(f.on_queue_len(30, 0), None);
        assert_eq!(f.on_view(&[1], 1), Some(Stop)); // [8, 16]: 30 > 16
        assert_eq!(f.on_queue_len(20, 2), None);
        assert_eq!(f.on_view(&[1, 2, 3, 4, 5, 6, 7, 8, 9], 3), Some(Cont)); // [24, 48]
    }

    #[test]
    fn disabled_node_never_stops_and_releases_its_stop() {
        let mut f = fc(1, &[1, 2]);
        assert_eq!(f.on_queue_len(50, 0), Some(Stop));
        assert_eq!(f.set_enabled(false, 1), Some(Cont));
        assert_eq!(f.on_queue_len(60, 2), None);
        assert!(!f.must_pause());
        assert_eq!(f.set_enabled(true, 3), Some(Stop));
    }

    #[test]
    fn set_config_moves_limits_and_rejects_bad_values() {
        let mut f = fc(1, &[1]);
        assert_eq!(f.on_queue_len(10, 0), None);
        let tight = Config {
            fc_limit: 4,
            ..Config::default()
        };
        assert_eq!(f.set_config(tight, 1), Ok(Some(Stop)));
        let bad = Config {
            fc_factor: 2.0,
            ..Config::default()
        };
        assert!(f.set_config(bad, 2).is_err());
        assert_eq!(f.config(), tight);
    }

    #[test]
    fn clock_going_backwards_counts_no_time() {
        let mut f = fc(1, &[1, 2]);
        f.on_message(2, Stop, 100);
        f.tick(50);
        f.on_message(2, Cont, 60); // taken as t=100
        assert_eq!(f.stats(40).paused_ns, 0);
        f.on_message(2, Stop, 200);
        assert_eq!(f.stats(250).paused_ns, 50);
    }

    #[test]
    fn queue_statistics() {
        let mut f = fc(1, &[1]);
        f.on_queue_len(2, 10); // sample 2
        f.on_queue_len(4, 20); // sample 4
        f.on_queue_len(1, 30); // a decrease: no sample
        f.on_queue_len(3, 40); // sample 3
        let s = f.stats(40);
        assert_eq!((s.recv_queue_min, s.recv_queue_max), (0, 4));
        assert_eq!(s.recv_queue_avg, 3.0);
        // 0*10 + 2*10 + 4*10 + 1*10 over 40 ns.
        assert_eq!(s.recv_queue_avg_time, 70.0 / 40.0);
        f.reset_stats(40);
        let s = f.stats(40);
        assert_eq!((s.recv_queue_min, s.recv_queue_max), (3, 3));
        assert_eq!(s.recv_queue_avg, 0.0);
        assert_eq!(s.recv_queue_avg_time, 3.0);
    }
}
