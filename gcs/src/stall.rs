//! The stall clock: how long this process itself was frozen.
//!
//! On a noisy machine a process can get no CPU for a second or more (or be
//! SIGSTOPped). Every silence check of gcs measures "how long since I last
//! heard from X"; measured in wall time, a freeze of our own process looks
//! exactly like X going silent, although X may have sent plenty, still
//! queued in our sockets. Issue 12 measured three effects of that: a woken
//! leader declared non-Primary before reading the replies queued while it
//! was frozen, a woken member re-dialed every peer, and a woken follower
//! judged its leader silent for the time it was frozen itself.
//!
//! # How it measures
//!
//! A dedicated OS thread (not a tokio task: it must not depend on the
//! runtime being responsive, and a SIGSTOP stops every thread alike) sleeps
//! [`TICK`] at a time and notes when it woke. A wake-up more than
//! `stall_ms` (`timeouts.stall_ms`) later than planned is recorded as a
//! *freeze* of this process, from the planned wake-up to the actual one.
//! Each freeze counts for at most `stall_max_ms`: a longer one is an outage
//! of this member that peers must be allowed to notice, not a hiccup.
//!
//! A reader may run before the clock thread after a freeze (which thread
//! the kernel schedules first is arbitrary), so every query also counts a
//! freeze *still in progress*: the time since the thread's last beat, when
//! that exceeds `stall_ms`.
//!
//! # How it is used (and why that is safe)
//!
//! - **Running time** ([`StallClock::running_between`]): wall time minus
//!   this process's own freezes. Used only where a longer measure can merely
//!   delay a decision that costs availability: the follower's election timer
//!   and its pre-vote answers ([`crate::election`]: an election starts later,
//!   never earlier), and the transport's silent-connection check
//!   ([`crate::net::quic`]: a dead connection is replaced later, and still
//!   within `stall_max_ms` of running time plus its normal bound).
//! - **Just woke** ([`StallClock::woke_within`]): right after a freeze, the
//!   supervisor keeps the primary state it reported for at most one
//!   heartbeat round, so the replies queued meanwhile are read before it
//!   decides. A leader does so only while its lease still holds in *wall*
//!   time (a majority answered requests it sent less than `election_min_ms`
//!   ago, so no successor can have been elected), so a leader that really
//!   lost its quorum during the freeze still steps down; see
//!   `supervisor` in `gcs.rs`.
//!
//! The leader's lease is never measured in running time. Its validity is
//! what the *other* members observe, and they were not frozen: subtracting
//! our freeze from it would let a leader frozen past `election_min_ms`
//! claim primary on waking while the majority has already elected a
//! successor and committed without it (stale reads). Our freezes may only
//! *shorten* what we claim, never extend it beyond what the majority side
//! can observe. The hold above is safe because of who may elect a
//! successor before it ends:
//!
//! 1. a follower that accepted an AppendEntries we sent at `s` processed it
//!    at or after `s`, so it refuses pre-votes until its own silence
//!    reaches `election_min_ms` of *its* running time (at least as long in
//!    wall time), and openraft refuses real votes for its lease
//!    (`election_min_ms + 1`) after that heartbeat;
//! 2. the hold requires such an `s` less than `election_min_ms` ago for a
//!    majority of every configuration; a successor needs pre-votes and
//!    votes from a majority, which contains one of those followers;
//! 3. a candidate counts its own pre-vote only after its own election
//!    timer (at least `election_min_ms` of silence) ran out.
//!
//! So no successor exists while the hold lasts. The only assumption is the
//! one of every lease: clocks on different machines advance at about the
//! same rate over `election_min_ms`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// How often the clock thread beats.
pub const TICK: Duration = Duration::from_millis(5);

/// Freezes kept for queries (older ones fall out; queries look back at most
/// a few election timeouts).
const KEEP: usize = 64;

/// One freeze of this process: `[start, end)`, already capped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Freeze {
    start: Instant,
    end: Instant,
}

struct Shared {
    threshold: Duration,
    cap: Duration,
    origin: Instant,
    /// Nanoseconds after `origin` of the clock thread's last beat.
    last_beat: AtomicU64,
    freezes: Mutex<VecDeque<Freeze>>,
    count: AtomicU64,
    total_ms: AtomicU64,
    stop: AtomicBool,
}

/// A handle on this process's stall clock. Cheap to clone; the thread stops
/// when the last handle is dropped (or on [`StallClock::stop`]).
#[derive(Clone)]
pub struct StallClock {
    s: Arc<Shared>,
}

impl std::fmt::Debug for StallClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StallClock")
            .field("threshold", &self.s.threshold)
            .field("cap", &self.s.cap)
            .field("freezes", &self.freezes())
            .finish()
    }
}

impl StallClock {
    /// A clock that records no freeze by itself (tests drive it with
    /// [`StallClock::record`]).
    pub fn manual(stall: Duration, stall_max: Duration) -> StallClock {
        StallClock {
            s: Arc::new(Shared {
                threshold: stall,
                cap: stall_max.max(stall),
                origin: Instant::now(),
                last_beat: AtomicU64::new(0),
                freezes: Mutex::new(VecDeque::new()),
                count: AtomicU64::new(0),
                total_ms: AtomicU64::new(0),
                stop: AtomicBool::new(true),
            }),
        }
    }

    /// Starts the clock thread: gaps above `stall` count as freezes, each
    /// for at most `stall_max`.
    pub fn start(stall: Duration, stall_max: Duration) -> std::io::Result<StallClock> {
        let c = StallClock::manual(stall, stall_max);
        c.s.stop.store(false, Ordering::SeqCst);
        c.beat(Instant::now());
        let weak: Weak<Shared> = Arc::downgrade(&c.s);
        std::thread::Builder::new()
            .name("gcs-stall-clock".into())
            .spawn(move || loop {
                std::thread::sleep(TICK);
                let Some(s) = weak.upgrade() else { return };
                if s.stop.load(Ordering::SeqCst) {
                    return;
                }
                let now = Instant::now();
                let c = StallClock { s };
                let last = c.last_beat();
                let planned = last + TICK;
                if now.saturating_duration_since(planned) > c.s.threshold {
                    c.record(planned, now);
                }
                c.beat(now);
            })?;
        Ok(c)
    }

    /// Stops the clock thread (idempotent).
    pub fn stop(&self) {
        self.s.stop.store(true, Ordering::SeqCst);
    }

    fn beat(&self, now: Instant) {
        let ns = now.saturating_duration_since(self.s.origin).as_nanos() as u64;
        self.s.last_beat.store(ns, Ordering::SeqCst);
    }

    fn last_beat(&self) -> Instant {
        self.s.origin + Duration::from_nanos(self.s.last_beat.load(Ordering::SeqCst))
    }

    fn running(&self) -> bool {
        !self.s.stop.load(Ordering::SeqCst)
    }

    /// Records a freeze from `start` to `end` (capped at `stall_max`).
    pub fn record(&self, start: Instant, end: Instant) {
        let len = end.saturating_duration_since(start);
        let f = Freeze {
            start,
            end: start + len.min(self.s.cap),
        };
        tracing::info!(
            frozen_ms = len.as_millis() as u64,
            counted_ms = f.end.duration_since(f.start).as_millis() as u64,
            "this process was frozen (no CPU); silence checks discount it"
        );
        self.s.count.fetch_add(1, Ordering::Relaxed);
        self.s
            .total_ms
            .fetch_add(len.as_millis() as u64, Ordering::Relaxed);
        let mut g = self.s.freezes.lock();
        g.push_back(f);
        while g.len() > KEEP {
            g.pop_front();
        }
    }

    /// Recorded freezes plus one still in progress at `now`, if any.
    fn freezes_at(&self, now: Instant) -> Vec<Freeze> {
        let mut v: Vec<Freeze> = self.s.freezes.lock().iter().copied().collect();
        if self.running() {
            let planned = self.last_beat() + TICK;
            let gap = now.saturating_duration_since(planned);
            if gap > self.s.threshold {
                v.push(Freeze {
                    start: planned,
                    end: planned + gap.min(self.s.cap),
                });
            }
        }
        v
    }

    fn freezes(&self) -> Vec<Freeze> {
        self.freezes_at(Instant::now())
    }

    /// How much of `[from, to]` this process spent frozen.
    pub fn frozen_between(&self, from: Instant, to: Instant) -> Duration {
        self.freezes_at(to)
            .iter()
            .map(|f| {
                let a = f.start.max(from);
                let b = f.end.min(to);
                b.saturating_duration_since(a)
            })
            .sum()
    }

    /// Wall time from `from` to `to` minus this process's freezes in it.
    pub fn running_between(&self, from: Instant, to: Instant) -> Duration {
        to.saturating_duration_since(from)
            .saturating_sub(self.frozen_between(from, to))
    }

    /// Running time since `from`, up to now.
    pub fn running_since(&self, from: Instant) -> Duration {
        self.running_between(from, Instant::now())
    }

    /// Whether this process is frozen right now as far as the clock can tell
    /// (a freeze not yet recorded), or a freeze ended less than `window`
    /// before `now`.
    pub fn woke_within(&self, window: Duration, now: Instant) -> bool {
        self.freezes_at(now)
            .iter()
            .any(|f| f.end + window > now || f.end >= now)
    }

    /// Freezes recorded since start.
    pub fn count(&self) -> u64 {
        self.s.count.load(Ordering::Relaxed)
    }

    /// Their total length in ms (uncapped).
    pub fn total_ms(&self) -> u64 {
        self.s.total_ms.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn running_time_discounts_freezes_inside_the_interval_only() {
        let c = StallClock::manual(MS(400), MS(10_000));
        let t0 = Instant::now();
        c.record(t0 + MS(1_000), t0 + MS(2_800));
        assert_eq!(c.frozen_between(t0, t0 + MS(3_000)), MS(1_800));
        assert_eq!(c.running_between(t0, t0 + MS(3_000)), MS(1_200));
        // Partly overlapping intervals count the overlap.
        assert_eq!(c.frozen_between(t0 + MS(2_000), t0 + MS(5_000)), MS(800));
        assert_eq!(c.frozen_between(t0, t0 + MS(1_500)), MS(500));
        // Outside: nothing.
        assert_eq!(c.frozen_between(t0 + MS(3_000), t0 + MS(9_000)), MS(0));
        assert_eq!(c.running_between(t0 + MS(5), t0), MS(0), "backwards");
    }

    #[test]
    fn a_long_freeze_counts_only_up_to_the_cap() {
        let c = StallClock::manual(MS(400), MS(10_000));
        let t0 = Instant::now();
        c.record(t0, t0 + MS(60_000));
        assert_eq!(c.frozen_between(t0, t0 + MS(60_000)), MS(10_000));
        assert_eq!(c.running_between(t0, t0 + MS(60_000)), MS(50_000));
        assert_eq!(c.count(), 1);
        assert_eq!(c.total_ms(), 60_000);
    }

    #[test]
    fn just_woke_is_bounded_by_the_window() {
        let c = StallClock::manual(MS(400), MS(10_000));
        let t0 = Instant::now();
        assert!(!c.woke_within(MS(200), t0 + MS(100)));
        c.record(t0, t0 + MS(1_800));
        assert!(c.woke_within(MS(200), t0 + MS(1_900)));
        assert!(!c.woke_within(MS(200), t0 + MS(2_100)));
    }

    #[test]
    fn a_freeze_in_progress_counts_before_the_thread_records_it() {
        let c = StallClock::start(MS(50), MS(10_000)).unwrap();
        // Pretend the thread's last beat was long ago: as seen by a reader
        // that runs first after a SIGCONT.
        let now = Instant::now();
        let later = now + MS(1_000);
        let f = c.frozen_between(now, later);
        assert!(f >= MS(900), "{f:?}");
        assert!(c.woke_within(MS(10), later));
        c.stop();
    }
}
