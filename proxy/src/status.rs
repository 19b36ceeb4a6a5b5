//! What the proxy reports about itself: [`ProxyStatus`] (from
//! [`crate::ProxyHandle::status`], the admin port's `GET /status.json`),
//! and its text form (`GET /`), one line per backend:
//!
//! ```text
//! trireme-proxy: up 76.0s  write 127.0.0.1:23306 (single)  read 127.0.0.1:23316 (round_robin)
//! writer: 127.0.0.1:23312
//! backend                health  writer good/bad  write  read  total conn_fail auth_fail  last check
//! 127.0.0.1:23311        DOWN           0/38          0     0    125         1         0  0.9s ago 0.1ms - monitor login failed: ... Connection refused
//! 127.0.0.1:23312        UP      *      76/0          3     0     79         0         0  0.8s ago 4.3ms Synced ready=ON Primary size=3
//! 127.0.0.1:23313        UP             76/0          0     1      1         0         0  0.8s ago 2.0ms Synced ready=ON Primary size=3
//! sessions: accepted 205, refused (no backend) 0, refused (too many) 0, closed by proxy 0, ...
//! ```
//!
//! `write`/`read` are the sessions open now per port, `total` those
//! established since start.
//!
//! All figures are snapshots taken without stopping traffic; counts from
//! different backends may be a moment apart.

use serde::Serialize;

use crate::config::Balance;
use crate::health::{Health, WsrepStatus};

/// The last finished health check of a backend.
#[derive(Debug, Clone, Serialize)]
pub struct CheckStatus {
    /// How long ago it finished.
    pub seconds_ago: f64,
    /// How long it took (connect + login when reconnecting, plus the query).
    pub latency_ms: f64,
    /// The `wsrep_%` figures read, when the query answered.
    pub wsrep: Option<WsrepStatus>,
    /// Why the check failed, when it did.
    pub error: Option<String>,
}

/// One backend as the proxy sees it.
#[derive(Debug, Clone, Serialize)]
pub struct BackendStatus {
    /// `host:port` as configured.
    pub address: String,
    /// Routing state.
    pub health: Health,
    /// Whether it is the current writer (`balance = "single"`).
    pub writer: bool,
    /// Consecutive good checks.
    pub good_in_a_row: u32,
    /// Consecutive failed checks.
    pub bad_in_a_row: u32,
    /// Good checks since start.
    pub checks_ok: u64,
    /// Failed checks since start.
    pub checks_failed: u64,
    /// Time since the last state change (none before the first check).
    pub seconds_in_state: Option<f64>,
    /// Client sessions on it through the write port now (including ones
    /// still connecting).
    pub active_write_sessions: usize,
    /// Client sessions on it through the read port now.
    pub active_read_sessions: usize,
    /// Write-port sessions established since start.
    pub total_write_sessions: u64,
    /// Read-port sessions established since start.
    pub total_read_sessions: u64,
    /// Client-path connection attempts that failed (refused, timed out,
    /// error greeting) and moved on to the next backend.
    pub connect_failures: u64,
    /// Logins the backend refused (relayed to the client).
    pub auth_failures: u64,
    /// The last check, if any finished.
    pub last_check: Option<CheckStatus>,
}

/// Proxy-wide session counters since start.
#[derive(Debug, Clone, Serialize)]
pub struct SessionCounters {
    /// Client connections accepted on any port.
    pub accepted: u64,
    /// Refused because no backend was up or reachable.
    pub refused_no_backend: u64,
    /// Refused because a listener was at `max_connections`.
    pub refused_too_many: u64,
    /// Closed by the proxy: backend marked down, writer changed, shutdown.
    pub closed_by_proxy: u64,
    /// Sessions that asked for TLS and were relayed as opaque bytes.
    pub tls_passthrough: u64,
    /// Pool-mode sessions whose client TLS the proxy terminated.
    pub tls_terminated: u64,
    /// Sessions whose login relay failed (malformed or stalled client or
    /// backend); excludes clean authentication failures.
    pub handshake_failed: u64,
}

/// A snapshot of the whole proxy.
#[derive(Debug, Clone, Serialize)]
pub struct ProxyStatus {
    /// Bound read-write address.
    pub listen: Option<String>,
    /// Bound read-only address.
    pub read_listen: Option<String>,
    /// Bound admin address.
    pub admin_listen: Option<String>,
    /// Routing on the write port.
    pub balance: Balance,
    /// Routing on the read port.
    pub read_balance: Balance,
    /// Seconds since start.
    pub uptime_seconds: f64,
    /// Current writer (`balance = "single"`), if any backend is up.
    pub writer: Option<String>,
    /// Every configured backend, in configured order.
    pub backends: Vec<BackendStatus>,
    /// Session counters.
    pub sessions: SessionCounters,
}

impl ProxyStatus {
    /// Backends currently up.
    pub fn up_count(&self) -> usize {
        self.backends
            .iter()
            .filter(|b| b.health == Health::Up)
            .count()
    }

    /// The status of the backend configured as `address`.
    pub fn backend(&self, address: &str) -> Option<&BackendStatus> {
        self.backends.iter().find(|b| b.address == address)
    }
}

impl std::fmt::Display for ProxyStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "trireme-proxy: up {:.1}s", self.uptime_seconds)?;
        if let Some(l) = &self.listen {
            write!(f, "  write {l} ({})", self.balance)?;
        }
        if let Some(l) = &self.read_listen {
            write!(f, "  read {l} ({})", self.read_balance)?;
        }
        writeln!(f)?;
        if self.balance == Balance::Single {
            writeln!(f, "writer: {}", self.writer.as_deref().unwrap_or("NONE"))?;
        }
        writeln!(
            f,
            "{:<22} {:<7} {:<6} {:<9} {:>5} {:>5} {:>6} {:>9} {:>9}  last check",
            "backend",
            "health",
            "writer",
            "good/bad",
            "write",
            "read",
            "total",
            "conn_fail",
            "auth_fail"
        )?;
        for b in &self.backends {
            write!(
                f,
                "{:<22} {:<7} {:<6} {:<9} {:>5} {:>5} {:>6} {:>9} {:>9}  ",
                b.address,
                b.health.to_string(),
                if b.writer { "*" } else { "" },
                format!("{}/{}", b.good_in_a_row, b.bad_in_a_row),
                b.active_write_sessions,
                b.active_read_sessions,
                b.total_write_sessions + b.total_read_sessions,
                b.connect_failures,
                b.auth_failures,
            )?;
            match &b.last_check {
                None => write!(f, "none yet")?,
                Some(c) => {
                    write!(f, "{:.1}s ago {:.1}ms", c.seconds_ago, c.latency_ms)?;
                    if let Some(w) = &c.wsrep {
                        if let Some(s) = w.local_state {
                            let name = w
                                .local_state_comment
                                .clone()
                                .unwrap_or_else(|| crate::health::state_name(s).to_string());
                            write!(f, " {name}")?;
                        }
                        if let Some(r) = &w.ready {
                            write!(f, " ready={r}")?;
                        }
                        if let Some(c) = &w.cluster_status {
                            write!(f, " {c}")?;
                        }
                        if let Some(n) = w.cluster_size {
                            write!(f, " size={n}")?;
                        }
                    }
                    if let Some(e) = &c.error {
                        write!(f, " - {e}")?;
                    }
                }
            }
            writeln!(f)?;
        }
        let s = &self.sessions;
        writeln!(
            f,
            "sessions: accepted {}, refused (no backend) {}, refused (too many) {}, \
             closed by proxy {}, tls passthrough {}, tls terminated {}, handshake failed {}",
            s.accepted,
            s.refused_no_backend,
            s.refused_too_many,
            s.closed_by_proxy,
            s.tls_passthrough,
            s.tls_terminated,
            s.handshake_failed
        )
    }
}
