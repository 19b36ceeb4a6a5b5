//! The backend table shared by the monitors, the listeners and the status
//! output: health per backend, the current writer, session counts, and the
//! choice of backends for a new client session.
//!
//! # Invariants
//!
//! - Health changes only in [`Shared::apply_check`] (one monitor task per
//!   backend calls it), under that backend's lock; the `up` flag read by
//!   the router is written only there.
//! - The writer (`balance = "single"`) is first chosen when the first
//!   round of checks is in (the first `Up` backend in configured order),
//!   then recomputed after every health change, under the writer lock: it
//!   is an `Up` backend or none. With `writer_failback` it is always the
//!   first `Up` backend in configured order.
//! - Sessions learn that they must end through two epochs per backend, each
//!   a `watch` channel bumped, never reset: `down` (the backend was marked
//!   down) and `demoted` (it stopped being the writer while still up). A
//!   session subscribes *before* it re-checks the backend's health, so a
//!   change between choosing the backend and starting to relay is never
//!   missed. Both are bumped only when `shutdown_sessions_on_down` is set.
//! - `active` counts a session from the moment it reserves a backend until
//!   it ends ([`SessionSlot`] drop), so `least_conn` sees sessions that are
//!   still connecting.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use crate::config::{Balance, ProxyConfig};
use crate::health::{judge, Health, HealthTracker, WsrepStatus};
use crate::monitor::CheckRequest;
use crate::status::{BackendStatus, CheckStatus, ProxyStatus, SessionCounters};

/// Which listener a session came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    /// The read-write port (`listen`).
    Write,
    /// The read-only port (`read_listen`).
    Read,
}

impl Port {
    fn idx(self) -> usize {
        match self {
            Port::Write => 0,
            Port::Read => 1,
        }
    }

    /// Lower-case name for logs.
    pub fn name(self) -> &'static str {
        match self {
            Port::Write => "write",
            Port::Read => "read",
        }
    }
}

/// What the last finished check saw.
#[derive(Debug, Clone)]
pub(crate) struct CheckRecord {
    pub(crate) finished: Instant,
    pub(crate) latency: Duration,
    pub(crate) result: Result<WsrepStatus, String>,
}

struct Inner {
    tracker: HealthTracker,
    last: Option<CheckRecord>,
    last_change: Option<Instant>,
    checks_ok: u64,
    checks_failed: u64,
}

/// One backend node.
pub(crate) struct Backend {
    pub(crate) addr: String,
    inner: Mutex<Inner>,
    up: AtomicBool,
    active: [AtomicUsize; 2],
    total: [AtomicU64; 2],
    pub(crate) connect_failures: AtomicU64,
    pub(crate) auth_failures: AtomicU64,
    /// Bytes relayed from clients to this backend (both modes).
    pub(crate) bytes_to_backend: AtomicU64,
    /// Bytes relayed from this backend to clients.
    pub(crate) bytes_to_client: AtomicU64,
    /// The connection pool (`auth = "pool"` only; unused otherwise).
    pub(crate) pool: crate::pool::Pool,
    down: watch::Sender<u64>,
    demoted: watch::Sender<u64>,
}

impl Backend {
    fn new(addr: String, rise: u32, fall: u32, pool_size: usize) -> Self {
        Backend {
            addr,
            inner: Mutex::new(Inner {
                tracker: HealthTracker::new(rise, fall),
                last: None,
                last_change: None,
                checks_ok: 0,
                checks_failed: 0,
            }),
            up: AtomicBool::new(false),
            active: Default::default(),
            total: Default::default(),
            connect_failures: AtomicU64::new(0),
            auth_failures: AtomicU64::new(0),
            bytes_to_backend: AtomicU64::new(0),
            bytes_to_client: AtomicU64::new(0),
            pool: crate::pool::Pool::new(pool_size),
            down: watch::channel(0).0,
            demoted: watch::channel(0).0,
        }
    }

    pub(crate) fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// Client sessions using it now, per port (write, read).
    pub(crate) fn active(&self) -> [usize; 2] {
        [
            self.active[0].load(Ordering::Relaxed),
            self.active[1].load(Ordering::Relaxed),
        ]
    }

    /// Sessions established since start, per port (write, read).
    pub(crate) fn total(&self) -> [u64; 2] {
        [
            self.total[0].load(Ordering::Relaxed),
            self.total[1].load(Ordering::Relaxed),
        ]
    }

    /// Pool mode: a connection was lent for a statement or transaction
    /// through `port` (counted like a session).
    pub(crate) fn lease_started(&self, port: Port) {
        self.active[port.idx()].fetch_add(1, Ordering::Relaxed);
        self.total[port.idx()].fetch_add(1, Ordering::Relaxed);
    }

    /// Pool mode: a lent connection came back or was closed.
    pub(crate) fn lease_ended(&self, port: Port) {
        self.active[port.idx()].fetch_sub(1, Ordering::Relaxed);
    }

    /// Fires when the backend is marked down (with
    /// `shutdown_sessions_on_down`).
    pub(crate) fn down_watch(&self) -> watch::Receiver<u64> {
        self.down.subscribe()
    }

    /// Health checks that failed since start.
    pub(crate) fn checks_failed(&self) -> u64 {
        self.inner.lock().checks_failed
    }

    fn active_total(&self) -> usize {
        self.active[0].load(Ordering::Relaxed) + self.active[1].load(Ordering::Relaxed)
    }
}

fn bump(tx: &watch::Sender<u64>) {
    tx.send_modify(|e| *e = e.wrapping_add(1));
}

/// Proxy-wide session counters.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) accepted: AtomicU64,
    pub(crate) no_backend: AtomicU64,
    pub(crate) too_many: AtomicU64,
    pub(crate) killed: AtomicU64,
    pub(crate) tls_passthrough: AtomicU64,
    pub(crate) tls_terminated: AtomicU64,
    pub(crate) handshake_failed: AtomicU64,
    /// Client connections open now (all ports).
    pub(crate) client_active: AtomicU64,
    /// Writer changes after the initial election.
    pub(crate) writer_changes: AtomicU64,
    /// Pool mode: logins the proxy refused (wrong user or password).
    pub(crate) auth_denied: AtomicU64,
    /// Pool mode: statements that waited for a free backend connection
    /// past `pool.wait_timeout_ms` and got ERROR 1040.
    pub(crate) pool_wait_timeouts: AtomicU64,
    /// Pool mode: sessions pinned to one backend connection for good.
    pub(crate) pinned: AtomicU64,
    /// Pool mode: statements re-run on another connection or backend after
    /// a failure that proved they had not run.
    pub(crate) retries: AtomicU64,
    /// Pool mode: statements or transactions that lost their backend and
    /// got ERROR 2013.
    pub(crate) lost: AtomicU64,
}

/// Everything the tasks of one proxy share.
pub(crate) struct Shared {
    pub(crate) config: ProxyConfig,
    pub(crate) backends: Vec<Backend>,
    writer: Mutex<Option<usize>>,
    /// Set once the first round of checks is in; the writer is chosen
    /// from then on.
    routing: AtomicBool,
    rr: [AtomicUsize; 2],
    pub(crate) counters: Counters,
    /// Each backend's monitor, for wake-ups ([`Shared::suspect`]); set once
    /// the monitors are spawned.
    pub(crate) monitors: std::sync::OnceLock<Vec<mpsc::Sender<CheckRequest>>>,
    pub(crate) started: Instant,
    pub(crate) listen: Mutex<[Option<std::net::SocketAddr>; 3]>,
    /// Pool mode's accounts, by name.
    pub(crate) users: std::collections::HashMap<String, trireme_wire::Credentials>,
    /// Pool mode's TLS for clients (`pool.tls_cert`); set once at start.
    pub(crate) client_tls: std::sync::OnceLock<tokio_rustls::TlsAcceptor>,
}

/// A session's claim on a backend; releases the count when dropped.
pub(crate) struct SessionSlot {
    shared: Arc<Shared>,
    index: usize,
    port: Port,
    /// Fires when the backend is marked down.
    pub(crate) down: watch::Receiver<u64>,
    /// Fires when the backend stops being the writer (write port, single
    /// mode only; otherwise never).
    pub(crate) demoted: Option<watch::Receiver<u64>>,
}

impl SessionSlot {
    pub(crate) fn backend(&self) -> &Backend {
        &self.shared.backends[self.index]
    }

    /// The proxy's shared state.
    pub(crate) fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// The backend's index in [`Shared::backends`].
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// Counts the session as established (after the backend greeted).
    pub(crate) fn established(&self) {
        self.backend().total[self.port.idx()].fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for SessionSlot {
    fn drop(&mut self) {
        self.shared.backends[self.index].active[self.port.idx()].fetch_sub(1, Ordering::Relaxed);
    }
}

impl Shared {
    pub(crate) fn new(config: ProxyConfig) -> Self {
        let backends = config
            .backends
            .iter()
            .map(|a| {
                Backend::new(
                    a.clone(),
                    config.monitor.rise,
                    config.monitor.fall,
                    config.pool.size,
                )
            })
            .collect();
        let users = config
            .users
            .iter()
            .filter_map(|u| {
                let c = if u.password_hash.is_empty() {
                    trireme_wire::Credentials::no_password()
                } else {
                    // validate() rejected malformed hashes.
                    trireme_wire::Credentials::from_native_hex(&u.password_hash)?
                };
                Some((u.name.clone(), c))
            })
            .collect();
        Shared {
            config,
            backends,
            writer: Mutex::new(None),
            routing: AtomicBool::new(false),
            rr: Default::default(),
            counters: Counters::default(),
            monitors: std::sync::OnceLock::new(),
            started: Instant::now(),
            listen: Mutex::new([None; 3]),
            users,
            client_tls: std::sync::OnceLock::new(),
        }
    }

    pub(crate) fn policy(&self, port: Port) -> Balance {
        match port {
            Port::Write => self.config.balance,
            Port::Read => self.config.read_balance,
        }
    }

    /// A session saw backend `index` close or refuse a connection: check
    /// it now rather than at the next interval (a no-op when a check is
    /// already queued).
    pub(crate) fn suspect(&self, index: usize) {
        if let Some(m) = self.monitors.get().and_then(|m| m.get(index)) {
            let _ = m.try_send(None);
        }
    }

    /// The current writer's index (`balance = "single"` only).
    pub(crate) fn writer(&self) -> Option<usize> {
        *self.writer.lock()
    }

    /// Records one finished check of backend `index` and applies any state
    /// change (logs, writer, session shutdown).
    pub(crate) fn apply_check(
        &self,
        index: usize,
        latency: Duration,
        result: Result<WsrepStatus, String>,
        dead: bool,
    ) {
        let b = &self.backends[index];
        let verdict = match &result {
            Ok(s) => judge(s, self.config.monitor.available_when_donor),
            Err(e) => Err(e.clone()),
        };
        let (change, bad, fall) = {
            let mut inner = b.inner.lock();
            match &verdict {
                Ok(()) => inner.checks_ok += 1,
                Err(_) => inner.checks_failed += 1,
            }
            let before = inner.tracker.state();
            let change = if dead {
                inner.tracker.observe_dead()
            } else {
                inner.tracker.observe(verdict.is_ok())
            };
            inner.last = Some(CheckRecord {
                finished: Instant::now(),
                latency,
                result,
            });
            if let Some(now) = change {
                inner.last_change = Some(Instant::now());
                b.up.store(now == Health::Up, Ordering::Release);
                if now == Health::Down
                    && before == Health::Up
                    && self.config.shutdown_sessions_on_down
                {
                    bump(&b.down);
                }
            }
            (
                change.map(|now| (before, now)),
                inner.tracker.bad_in_a_row(),
                self.config.monitor.fall,
            )
        };
        match (change, &verdict) {
            (Some((before, Health::Up)), _) => {
                info!(backend = %b.addr, from = %before, "backend is UP");
            }
            (Some((before, _)), Err(why)) => {
                warn!(backend = %b.addr, from = %before, reason = %why, "backend is DOWN");
            }
            (None, Err(why)) if b.is_up() => {
                info!(backend = %b.addr, failed = bad, fall, reason = %why, "health check failed");
            }
            (None, Err(why)) => {
                tracing::debug!(backend = %b.addr, reason = %why, "health check failed");
            }
            _ => {}
        }
        if change.is_some() {
            self.recompute_writer();
        }
    }

    /// Chooses the first writer once the first round of checks is in, in
    /// configured order (before that, whichever check finished first would
    /// win, and with `writer_failback = false` it would stick).
    pub(crate) fn elect_initial_writer(&self) {
        self.routing.store(true, Ordering::Release);
        self.recompute_writer_with(false);
    }

    fn recompute_writer(&self) {
        if self.routing.load(Ordering::Acquire) {
            self.recompute_writer_with(true);
        }
    }

    fn recompute_writer_with(&self, sticky: bool) {
        if self.config.balance != Balance::Single {
            return;
        }
        let mut w = self.writer.lock();
        let old = *w;
        let keep =
            sticky && !self.config.writer_failback && old.is_some_and(|i| self.backends[i].is_up());
        let new = if keep {
            old
        } else {
            self.backends.iter().position(Backend::is_up)
        };
        if new == old {
            return;
        }
        *w = new;
        if sticky {
            self.counters.writer_changes.fetch_add(1, Ordering::Relaxed);
        }
        let name = |i: Option<usize>| i.map_or("none", |i| self.backends[i].addr.as_str());
        match new {
            Some(_) => warn!(from = name(old), to = name(new), "writer changed"),
            None => warn!(from = name(old), "no healthy backend: no writer"),
        }
        if let Some(o) = old {
            if self.backends[o].is_up() && self.config.shutdown_sessions_on_down {
                bump(&self.backends[o].demoted);
            }
        }
    }

    /// Backends to try for a new session on `port`, best first (only `Up`
    /// ones; empty when none is).
    pub(crate) fn candidates(&self, port: Port) -> Vec<usize> {
        let mut up: Vec<usize> = (0..self.backends.len())
            .filter(|&i| self.backends[i].is_up())
            .collect();
        if up.is_empty() {
            return up;
        }
        let writer = if self.config.balance == Balance::Single {
            self.writer()
        } else {
            None
        };
        // The read port may avoid the writer: take it out before balancing
        // (so the others share the load evenly) and keep it as last resort.
        let mut last_resort = None;
        if port == Port::Read && !self.config.writer_is_also_reader && up.len() > 1 {
            if let Some(pos) = writer.and_then(|w| up.iter().position(|&i| i == w)) {
                last_resort = Some(up.remove(pos));
            }
        }
        match self.policy(port) {
            Balance::Single => {
                if let Some(w) = writer.filter(|w| up.contains(w)) {
                    up.retain(|&i| i != w);
                    up.insert(0, w);
                }
            }
            Balance::RoundRobin => {
                let n = up.len();
                let start = self.rr[port.idx()].fetch_add(1, Ordering::Relaxed) % n;
                up.rotate_left(start);
            }
            Balance::LeastConn => {
                let n = up.len();
                let start = self.rr[port.idx()].fetch_add(1, Ordering::Relaxed) % n;
                up.rotate_left(start);
                // Stable sort: among equally loaded backends the rotation
                // decides, so ties are spread in turn.
                up.sort_by_key(|&i| self.backends[i].active_total());
            }
        }
        up.extend(last_resort);
        up
    }

    /// Reserves backend `index` for a session on `port`, or `None` when it
    /// is no longer up.
    pub(crate) fn reserve(self: &Arc<Self>, index: usize, port: Port) -> Option<SessionSlot> {
        let b = &self.backends[index];
        b.active[port.idx()].fetch_add(1, Ordering::Relaxed);
        // Subscribe first, then re-check: see the module invariants.
        let down = b.down.subscribe();
        let demoted = (port == Port::Write && self.config.balance == Balance::Single)
            .then(|| b.demoted.subscribe());
        let slot = SessionSlot {
            shared: self.clone(),
            index,
            port,
            down,
            demoted,
        };
        if !b.is_up() {
            return None;
        }
        Some(slot)
    }

    /// A snapshot for the status output.
    pub(crate) fn status(&self) -> ProxyStatus {
        let writer = self.writer();
        let now = Instant::now();
        let backends = self
            .backends
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let inner = b.inner.lock();
                let last = inner.last.as_ref().map(|c| {
                    let (wsrep, error) = match &c.result {
                        Ok(s) => (
                            Some(s.clone()),
                            judge(s, self.config.monitor.available_when_donor).err(),
                        ),
                        Err(e) => (None, Some(e.clone())),
                    };
                    CheckStatus {
                        seconds_ago: now.saturating_duration_since(c.finished).as_secs_f64(),
                        latency_ms: c.latency.as_secs_f64() * 1000.0,
                        wsrep,
                        error,
                    }
                });
                BackendStatus {
                    address: b.addr.clone(),
                    health: inner.tracker.state(),
                    writer: writer == Some(i),
                    good_in_a_row: inner.tracker.good_in_a_row(),
                    bad_in_a_row: inner.tracker.bad_in_a_row(),
                    checks_ok: inner.checks_ok,
                    checks_failed: inner.checks_failed,
                    seconds_in_state: inner
                        .last_change
                        .map(|t| now.saturating_duration_since(t).as_secs_f64()),
                    active_write_sessions: b.active[0].load(Ordering::Relaxed),
                    active_read_sessions: b.active[1].load(Ordering::Relaxed),
                    total_write_sessions: b.total[0].load(Ordering::Relaxed),
                    total_read_sessions: b.total[1].load(Ordering::Relaxed),
                    connect_failures: b.connect_failures.load(Ordering::Relaxed),
                    auth_failures: b.auth_failures.load(Ordering::Relaxed),
                    last_check: last,
                }
            })
            .collect();
        let listen = *self.listen.lock();
        let c = &self.counters;
        ProxyStatus {
            listen: listen[0].map(|a| a.to_string()),
            read_listen: listen[1].map(|a| a.to_string()),
            admin_listen: listen[2].map(|a| a.to_string()),
            balance: self.config.balance,
            read_balance: self.config.read_balance,
            uptime_seconds: self.started.elapsed().as_secs_f64(),
            writer: writer.map(|i| self.backends[i].addr.clone()),
            backends,
            sessions: SessionCounters {
                accepted: c.accepted.load(Ordering::Relaxed),
                refused_no_backend: c.no_backend.load(Ordering::Relaxed),
                refused_too_many: c.too_many.load(Ordering::Relaxed),
                closed_by_proxy: c.killed.load(Ordering::Relaxed),
                tls_passthrough: c.tls_passthrough.load(Ordering::Relaxed),
                tls_terminated: c.tls_terminated.load(Ordering::Relaxed),
                handshake_failed: c.handshake_failed.load(Ordering::Relaxed),
            },
        }
    }
}
