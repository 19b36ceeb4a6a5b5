//! Backend health, without I/O: judging one `wsrep_%` status snapshot, and
//! the rise/fall state machine that turns check results into up/down.
//!
//! # When is a node healthy
//!
//! One check is good when the node answered `SHOW GLOBAL STATUS LIKE
//! 'wsrep_%'` within the check timeout and ([`judge`]):
//!
//! - `wsrep_ready = ON` (the node accepts queries: primary component,
//!   provider loaded);
//! - `wsrep_cluster_status = Primary` when the node reports it;
//! - `wsrep_local_state = 4` (Synced), or `2` (Donor/Desynced) when
//!   `available_when_donor` is set, as in Percona's clustercheck.
//!
//! A node without `wsrep_local_state` is not a cluster node and fails.
//! Like clustercheck and ProxySQL's Galera monitor, two global variables
//! (read with `SHOW GLOBAL VARIABLES LIKE 'wsrep_%'`; a node that does not
//! have them passes) can also take a node out of rotation on purpose:
//!
//! - `wsrep_reject_queries` other than `NONE`: the node refuses clients;
//! - `wsrep_desync = ON`: the operator desynced it (a backup, a long
//!   ALTER); healthy only with `available_when_donor`, as a Donor is.
//!
//! # Rise and fall
//!
//! ```text
//!            first check good                 `rise` good checks in a row
//!  Unknown ─────────────────────► Up ◄─────────────────────────────── Down
//!     │                            │ `fall` failed checks in a row      ▲
//!     │ first check failed         └────────────────────────────────────┘
//!     └──────────────────────────────────────────────────────────────►  Down
//! ```
//!
//! A check that finds the node *dead* (its port refuses connections, or a
//! fresh connection is reset: the process is gone) takes it down at once
//! ([`HealthTracker::observe_dead`]) instead of after `fall` checks: a
//! refused connect is not a slow or overloaded node, and waiting `fall`
//! intervals would only delay failover.
//!
//! Invariants: a backend changes state only in [`HealthTracker::observe`]
//! and [`HealthTracker::observe_dead`]; an up backend goes down only after
//! exactly `fall` consecutive failures (any success in between resets the
//! count) or at once on a dead check, a down one comes up only
//! after exactly `rise` consecutive successes. The first result decides
//! directly, so a freshly started proxy routes as soon as its first round
//! of checks is in (there is no history to smooth yet). Only `Up` backends
//! receive new sessions.

use serde::Serialize;

/// A backend's routing state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// No check has finished yet. Not routable.
    Unknown,
    /// Receives new sessions.
    Up,
    /// Receives none.
    Down,
}

impl std::fmt::Display for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Health::Unknown => "UNKNOWN",
            Health::Up => "UP",
            Health::Down => "DOWN",
        })
    }
}

/// The rise/fall state machine of one backend (see the module docs).
#[derive(Debug, Clone)]
pub struct HealthTracker {
    state: Health,
    rise: u32,
    fall: u32,
    good_in_a_row: u32,
    bad_in_a_row: u32,
}

impl HealthTracker {
    /// A tracker in state `Unknown`; `rise` and `fall` are at least 1.
    pub fn new(rise: u32, fall: u32) -> Self {
        HealthTracker {
            state: Health::Unknown,
            rise: rise.max(1),
            fall: fall.max(1),
            good_in_a_row: 0,
            bad_in_a_row: 0,
        }
    }

    /// The current state.
    pub fn state(&self) -> Health {
        self.state
    }

    /// Consecutive good checks so far (0 after a failure).
    pub fn good_in_a_row(&self) -> u32 {
        self.good_in_a_row
    }

    /// Consecutive failed checks so far (0 after a success).
    pub fn bad_in_a_row(&self) -> u32 {
        self.bad_in_a_row
    }

    /// Feeds a failed check that found the node dead: down at once.
    /// Returns the new state when it changed.
    pub fn observe_dead(&mut self) -> Option<Health> {
        self.bad_in_a_row = self.bad_in_a_row.saturating_add(1).max(self.fall);
        self.good_in_a_row = 0;
        if self.state == Health::Down {
            return None;
        }
        self.state = Health::Down;
        Some(Health::Down)
    }

    /// Feeds one check result; returns the new state when it changed.
    pub fn observe(&mut self, good: bool) -> Option<Health> {
        if good {
            self.good_in_a_row = self.good_in_a_row.saturating_add(1);
            self.bad_in_a_row = 0;
        } else {
            self.bad_in_a_row = self.bad_in_a_row.saturating_add(1);
            self.good_in_a_row = 0;
        }
        let next = match self.state {
            Health::Unknown => {
                if good {
                    Health::Up
                } else {
                    Health::Down
                }
            }
            Health::Up if self.bad_in_a_row >= self.fall => Health::Down,
            Health::Down if self.good_in_a_row >= self.rise => Health::Up,
            s => s,
        };
        if next != self.state {
            self.state = next;
            Some(next)
        } else {
            None
        }
    }
}

/// The `wsrep_%` figures a check reads (those present in the answer).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WsrepStatus {
    /// `wsrep_ready` (`ON`/`OFF`).
    pub ready: Option<String>,
    /// `wsrep_local_state` (1 Joining, 2 Donor/Desynced, 3 Joined, 4 Synced).
    pub local_state: Option<u32>,
    /// `wsrep_local_state_comment`.
    pub local_state_comment: Option<String>,
    /// `wsrep_cluster_status` (`Primary`, `non-Primary`, `Disconnected`).
    pub cluster_status: Option<String>,
    /// `wsrep_cluster_size`.
    pub cluster_size: Option<u64>,
    /// The global variable `wsrep_desync` (`ON`/`OFF`), when the node has it.
    pub desync: Option<String>,
    /// The global variable `wsrep_reject_queries` (`NONE`, `ALL`,
    /// `ALL_KILL`), when the node has it.
    pub reject_queries: Option<String>,
}

impl WsrepStatus {
    /// Builds the snapshot from `(Variable_name, Value)` pairs; names are
    /// matched case-insensitively, unknown ones ignored, unparsable numbers
    /// left out.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, Option<&'a str>)>) -> Self {
        let mut s = WsrepStatus::default();
        for (name, value) in pairs {
            let Some(value) = value else { continue };
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "wsrep_ready" => s.ready = Some(value.to_string()),
                "wsrep_local_state" => s.local_state = value.parse().ok(),
                "wsrep_local_state_comment" => s.local_state_comment = Some(value.to_string()),
                "wsrep_cluster_status" => s.cluster_status = Some(value.to_string()),
                "wsrep_cluster_size" => s.cluster_size = value.parse().ok(),
                "wsrep_desync" => s.desync = Some(value.to_string()),
                "wsrep_reject_queries" => s.reject_queries = Some(value.to_string()),
                _ => {}
            }
        }
        s
    }
}

/// Decides whether one status snapshot is healthy; `Err` says why not.
pub fn judge(s: &WsrepStatus, available_when_donor: bool) -> Result<(), String> {
    let Some(state) = s.local_state else {
        return Err("no wsrep_local_state in SHOW GLOBAL STATUS (not a cluster node?)".into());
    };
    match s.ready.as_deref() {
        Some(r) if r.eq_ignore_ascii_case("ON") => {}
        Some(r) => return Err(format!("wsrep_ready = {r}")),
        None => return Err("no wsrep_ready in SHOW GLOBAL STATUS".into()),
    }
    if let Some(c) = &s.cluster_status {
        if !c.eq_ignore_ascii_case("Primary") {
            return Err(format!("wsrep_cluster_status = {c}"));
        }
    }
    if let Some(r) = &s.reject_queries {
        if !r.eq_ignore_ascii_case("NONE") && !r.is_empty() {
            return Err(format!("wsrep_reject_queries = {r}"));
        }
    }
    let desynced = s
        .desync
        .as_deref()
        .is_some_and(|d| d.eq_ignore_ascii_case("ON") || d == "1");
    if desynced && !available_when_donor {
        return Err("wsrep_desync = ON".into());
    }
    match state {
        4 => Ok(()),
        2 if available_when_donor => Ok(()),
        n => Err(format!(
            "wsrep_local_state = {n} ({})",
            s.local_state_comment
                .clone()
                .unwrap_or_else(|| state_name(n).to_string())
        )),
    }
}

/// Galera's name for a `wsrep_local_state` value.
pub fn state_name(n: u32) -> &'static str {
    match n {
        1 => "Joining",
        2 => "Donor/Desynced",
        3 => "Joined",
        4 => "Synced",
        _ => "Initialized",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(ready: &str, state: &str) -> WsrepStatus {
        WsrepStatus::from_pairs([
            ("wsrep_ready", Some(ready)),
            ("WSREP_LOCAL_STATE", Some(state)),
            ("wsrep_cluster_status", Some("Primary")),
            ("wsrep_cluster_size", Some("3")),
            ("wsrep_other", None),
        ])
    }

    #[test]
    fn judges_like_clustercheck() {
        assert!(judge(&status("ON", "4"), false).is_ok());
        assert!(judge(&status("OFF", "4"), false).is_err());
        assert!(judge(&status("ON", "2"), false).is_err());
        assert!(judge(&status("ON", "2"), true).is_ok());
        assert!(judge(&status("ON", "1"), true).is_err());
        assert!(judge(&status("ON", "x"), false).is_err());
        assert!(judge(&WsrepStatus::default(), false).is_err());
        let mut s = status("ON", "4");
        s.cluster_status = Some("non-Primary".into());
        assert!(judge(&s, false).unwrap_err().contains("non-Primary"));
        assert_eq!(status("ON", "4").cluster_size, Some(3));
    }

    #[test]
    fn desync_and_reject_queries_take_a_node_out() {
        let with = |name: &'static str, value: &'static str| {
            let mut s = status("ON", "4");
            let v = WsrepStatus::from_pairs([(name, Some(value))]);
            s.desync = v.desync.or(s.desync);
            s.reject_queries = v.reject_queries.or(s.reject_queries);
            s
        };
        assert!(judge(&with("wsrep_reject_queries", "NONE"), false).is_ok());
        let e = judge(&with("WSREP_REJECT_QUERIES", "ALL"), true).unwrap_err();
        assert_eq!(e, "wsrep_reject_queries = ALL");
        assert!(judge(&with("wsrep_reject_queries", "ALL_KILL"), false).is_err());
        assert!(judge(&with("wsrep_desync", "OFF"), false).is_ok());
        assert_eq!(
            judge(&with("wsrep_desync", "ON"), false).unwrap_err(),
            "wsrep_desync = ON"
        );
        assert!(judge(&with("wsrep_desync", "ON"), true).is_ok());
    }

    #[test]
    fn a_dead_check_takes_a_node_down_at_once() {
        let mut t = HealthTracker::new(2, 3);
        assert_eq!(t.observe_dead(), Some(Health::Down));
        let mut t = HealthTracker::new(2, 3);
        t.observe(true);
        t.observe(false);
        assert_eq!(t.observe_dead(), Some(Health::Down));
        assert_eq!(t.observe_dead(), None);
        assert!(t.bad_in_a_row() >= 3);
        // Coming back still takes `rise` good checks.
        assert_eq!(t.observe(true), None);
        assert_eq!(t.observe(true), Some(Health::Up));
    }

    #[test]
    fn first_result_decides() {
        let mut t = HealthTracker::new(2, 3);
        assert_eq!(t.state(), Health::Unknown);
        assert_eq!(t.observe(true), Some(Health::Up));
        let mut t = HealthTracker::new(2, 3);
        assert_eq!(t.observe(false), Some(Health::Down));
    }

    #[test]
    fn fall_and_rise_need_consecutive_results() {
        let mut t = HealthTracker::new(2, 3);
        t.observe(true);
        // Two failures, a success, two failures: never three in a row.
        for good in [false, false, true, false, false] {
            assert_eq!(t.observe(good), None);
        }
        assert_eq!(t.observe(false), Some(Health::Down));
        assert_eq!(t.bad_in_a_row(), 3);
        assert_eq!(t.observe(true), None);
        assert_eq!(t.observe(false), None);
        assert_eq!(t.observe(true), None);
        assert_eq!(t.observe(true), Some(Health::Up));
        assert_eq!(t.good_in_a_row(), 2);
    }

    /// Brute-force model: the state after any sequence is determined by the
    /// first result and the runs that follow it.
    #[test]
    fn matches_a_reference_model_on_all_short_sequences() {
        for (rise, fall) in [(1, 1), (2, 3), (3, 2)] {
            for len in 1..=10u32 {
                for bits in 0..(1u32 << len) {
                    let seq: Vec<bool> = (0..len).map(|i| bits >> i & 1 == 1).collect();
                    let mut t = HealthTracker::new(rise, fall);
                    for &g in &seq {
                        t.observe(g);
                    }
                    let mut model = if seq[0] { Health::Up } else { Health::Down };
                    for i in 1..seq.len() {
                        let run = seq[..=i].iter().rev().take_while(|&&g| g == seq[i]).count();
                        if seq[i] && model == Health::Down && run as u32 >= rise {
                            model = Health::Up;
                        }
                        if !seq[i] && model == Health::Up && run as u32 >= fall {
                            model = Health::Down;
                        }
                    }
                    assert_eq!(t.state(), model, "rise {rise} fall {fall} seq {seq:?}");
                }
            }
        }
    }
}
