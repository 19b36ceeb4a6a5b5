//! Peer-down reporting: one WARN when a peer stops answering, then at most
//! one reminder every [`REMIND_EVERY`] while it stays down, and one INFO
//! when it answers again. (openraft itself logs every failed replication
//! RPC, several lines a second per dead peer; silence its
//! `openraft::replication` target, see [`crate::LOG_DIRECTIVES`].)

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::types::NodeId;

/// Longest silence about a peer that stays down.
pub const REMIND_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy)]
struct Down {
    since: Instant,
    reported: Instant,
    failures: u64,
}

/// What to log after an RPC outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Report {
    Nothing,
    /// The peer just went down.
    Down,
    /// Still down; this long, this many failed RPCs.
    StillDown(Duration, u64),
    /// Back after this long.
    Up(Duration),
}

/// Per-peer up/down state.
#[derive(Default)]
pub(crate) struct PeerHealth {
    down: Mutex<HashMap<NodeId, Down>>,
}

impl PeerHealth {
    /// An RPC to `id` was answered at `now`.
    pub fn answered(&self, id: NodeId, now: Instant) -> Report {
        match self.down.lock().remove(&id) {
            Some(d) => Report::Up(now.saturating_duration_since(d.since)),
            None => Report::Nothing,
        }
    }

    /// An RPC to `id` failed at `now`.
    pub fn failed(&self, id: NodeId, now: Instant) -> Report {
        let mut g = self.down.lock();
        match g.get_mut(&id) {
            None => {
                g.insert(
                    id,
                    Down {
                        since: now,
                        reported: now,
                        failures: 1,
                    },
                );
                Report::Down
            }
            Some(d) => {
                d.failures += 1;
                if now.saturating_duration_since(d.reported) >= REMIND_EVERY {
                    d.reported = now;
                    Report::StillDown(now.saturating_duration_since(d.since), d.failures)
                } else {
                    Report::Nothing
                }
            }
        }
    }

    /// Logs `r` about peer `id`.
    pub fn log(id: NodeId, r: Report, error: &dyn std::fmt::Display) {
        match r {
            Report::Nothing => {}
            Report::Down => tracing::warn!(peer = id, %error, "peer unreachable"),
            Report::StillDown(for_, failures) => tracing::warn!(
                peer = id,
                down_s = for_.as_secs(),
                failed_rpcs = failures,
                %error,
                "peer still unreachable"
            ),
            Report::Up(after) => tracing::info!(
                peer = id,
                down_ms = after.as_millis() as u64,
                "peer reachable again"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn down_is_reported_on_change_then_every_ten_seconds() {
        let h = PeerHealth::default();
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        assert_eq!(h.answered(2, t0), Report::Nothing);
        assert_eq!(h.failed(2, t0), Report::Down);
        // Eight failures a second for 9.9 s: nothing more.
        for k in 1..80 {
            assert_eq!(h.failed(2, t0 + ms(125 * k)), Report::Nothing, "k={k}");
        }
        assert_eq!(
            h.failed(2, t0 + ms(10_000)),
            Report::StillDown(ms(10_000), 81)
        );
        assert_eq!(h.failed(2, t0 + ms(10_100)), Report::Nothing);
        assert_eq!(h.failed(3, t0 + ms(10_100)), Report::Down, "per peer");
        assert_eq!(h.answered(2, t0 + ms(12_000)), Report::Up(ms(12_000)));
        assert_eq!(h.answered(2, t0 + ms(12_100)), Report::Nothing);
        assert_eq!(h.failed(2, t0 + ms(13_000)), Report::Down, "a new outage");
    }
}
