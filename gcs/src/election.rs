//! When a member may start a raft election: the pre-vote gate.
//!
//! openraft 0.9 has no pre-vote: a follower whose election timer fires
//! raises its term at once, and a node that comes back with a higher term
//! makes a healthy leader step down (its AppendEntries answer carries the
//! higher vote). On this noisy machine a follower that got no CPU for a
//! second, or a node returning from a partition, would depose the leader.
//!
//! So gcs keeps openraft's own election timer off (`enable_elect = false`)
//! and decides itself when to call openraft's `trigger().elect()`: a voter
//! that has heard from no leader for its randomized election timeout
//! (`election_min_ms..election_max_ms`) first asks the other voters whether
//! they would vote for it ([`crate::net::proto::Request::PreVote`], which
//! changes no state). A voter grants when it has itself heard from no
//! leader for `election_min_ms` (openraft's leader lease, configured to the
//! same value, would refuse the real vote before that) and the candidate's
//! log is at least as up to date as its own; a leader never grants, and a
//! member that granted holds back its own candidacy for a while (so two
//! silent followers do not keep splitting the vote). Only with grants from a majority of every configuration
//! does the member start the real election, whose safety stays openraft's:
//! this gate only decides *when* an election starts (liveness), never who
//! wins or what commits. Leadership transfer on shutdown reuses the same
//! trigger ([`crate::net::proto::Request::TimeoutNow`]).
//!
//! This is the Raft thesis' pre-vote (section 9.6) on openraft 0.9's public
//! switches; openraft 0.10 (alpha today) has it built in, see the crate
//! docs for why we stay on 0.9 for now.

use std::time::Duration;

/// A (term, index) log position; `None` is the empty log.
pub(crate) type LogPos = Option<(u64, u64)>;

/// Whether to grant a pre-vote.
///
/// - `leads_with_quorum`: this member is the leader and sees a quorum;
/// - `is_leader`: this member is the leader (quorum or not);
/// - `heard_leader_ago`: time since this member last heard from a leader
///   (or granted a vote);
/// - `lease`: `election_min_ms`.
pub(crate) fn grant_prevote(
    leads_with_quorum: bool,
    is_leader: bool,
    heard_leader_ago: Duration,
    lease: Duration,
    mine: LogPos,
    candidate: LogPos,
) -> bool {
    // A leader never helps depose itself: one that lost its quorum is cut
    // off from the majority anyway, and one just elected has not counted
    // its acknowledgements yet.
    if leads_with_quorum || is_leader {
        return false;
    }
    if heard_leader_ago < lease {
        return false;
    }
    candidate >= mine
}

/// A randomized election timeout in `[min, max]` ms, from a random `u64`.
pub(crate) fn election_timeout(min_ms: u64, max_ms: u64, r: u64) -> Duration {
    let span = max_ms.saturating_sub(min_ms) + 1;
    Duration::from_millis(min_ms + r % span)
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Duration = Duration::from_millis(1200);

    #[test]
    fn a_follower_that_still_hears_its_leader_refuses() {
        let ms = Duration::from_millis;
        assert!(!grant_prevote(
            false,
            false,
            ms(300),
            L,
            Some((2, 10)),
            Some((2, 10))
        ));
        assert!(grant_prevote(
            false,
            false,
            ms(1300),
            L,
            Some((2, 10)),
            Some((2, 10))
        ));
    }

    #[test]
    fn a_stale_log_never_gets_a_prevote() {
        let ms = Duration::from_millis;
        // A node returning with an old log (even at a higher term of its own).
        assert!(!grant_prevote(
            false,
            false,
            ms(5000),
            L,
            Some((3, 50)),
            Some((3, 49))
        ));
        assert!(!grant_prevote(
            false,
            false,
            ms(5000),
            L,
            Some((3, 50)),
            Some((2, 90))
        ));
        assert!(!grant_prevote(
            false,
            false,
            ms(5000),
            L,
            Some((3, 50)),
            None
        ));
        assert!(grant_prevote(false, false, ms(5000), L, None, None));
        assert!(grant_prevote(
            false,
            false,
            ms(5000),
            L,
            Some((3, 50)),
            Some((4, 1))
        ));
    }

    #[test]
    fn a_leader_never_grants() {
        let ms = Duration::from_millis;
        let log = Some((2, 10));
        assert!(!grant_prevote(true, true, ms(0), L, log, log));
        assert!(!grant_prevote(false, true, ms(5000), L, log, log));
    }

    #[test]
    fn timeouts_stay_in_range() {
        for r in [0, 1, 799, 800, 801, u64::MAX] {
            let t = election_timeout(1200, 2000, r).as_millis() as u64;
            assert!((1200..=2000).contains(&t), "{t}");
        }
        assert_eq!(election_timeout(5, 5, 77), Duration::from_millis(5));
    }
}
