//! Proxy configuration: one TOML file, overridable from the command line.
//! `proxy/trireme-proxy.example.toml` lists every key with its default.
//!
//! ```toml
//! listen = "127.0.0.1:3306"          # writer (read-write) port
//! read_listen = "127.0.0.1:3316"     # optional read-only port
//! admin_listen = "127.0.0.1:3390"    # optional HTTP/text status port
//! backends = ["127.0.0.1:3307", "127.0.0.1:3308", "127.0.0.1:3309"]
//! balance = "single"                 # writer port: single | least_conn | round_robin
//! read_balance = "round_robin"       # read port:   round_robin | least_conn | single
//!
//! [monitor]
//! user = "monitor"
//! password = "secret"
//! check_interval_ms = 1000
//! check_timeout_ms = 5000
//! rise = 2
//! fall = 3
//! ```
//!
//! Every field has a default except `backends`; [`ProxyConfig::validate`]
//! states the constraints. Names follow HAProxy (`rise`, `fall`,
//! `shutdown_sessions_on_down` for `on-marked-down shutdown-sessions`) and
//! clustercheck (`available_when_donor`) where those tools have one.
//!
//! # Why these defaults
//!
//! The check defaults are chosen not to flap on a loaded 2-core machine,
//! where a node (or the proxy) can get no CPU for several seconds: a check
//! may take up to 5 s before it counts as failed, a node needs 3 failed
//! checks in a row to be marked down and 2 good ones to come back. A dead
//! node (its port refuses connections) is marked down by its first failed
//! check, at once: within one `check_interval`, or within milliseconds
//! when a client session sees the node go.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How a listener picks a backend for each new client connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Balance {
    /// Every connection goes to one node: the first healthy backend in
    /// configured order (the "writer"). Galera's advice against
    /// multi-master certification conflicts; the writer port's default.
    Single,
    /// Healthy backends in turn. The read port's default.
    RoundRobin,
    /// The healthy backend with the fewest client sessions through this
    /// proxy (both ports counted), ties broken in turn.
    LeastConn,
}

impl std::str::FromStr for Balance {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "single" | "single_writer" | "first" => Ok(Balance::Single),
            "round_robin" | "roundrobin" | "rr" => Ok(Balance::RoundRobin),
            "least_conn" | "leastconn" => Ok(Balance::LeastConn),
            other => Err(format!(
                "unknown balance {other:?} (expected single, round_robin or least_conn)"
            )),
        }
    }
}

impl std::fmt::Display for Balance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Balance::Single => "single",
            Balance::RoundRobin => "round_robin",
            Balance::LeastConn => "least_conn",
        })
    }
}

/// Health checking: who logs in, how often, and how many results it takes
/// to change a backend's state.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MonitorConfig {
    /// User the monitor logs in as (needs only to run `SHOW GLOBAL STATUS`).
    pub user: String,
    /// Its password (never logged, never shown in the status output).
    pub password: String,
    /// Time between the end of one check and the start of the next.
    pub check_interval_ms: u64,
    /// Bound on one check: connecting, logging in and reading the status.
    pub check_timeout_ms: u64,
    /// Consecutive successful checks that bring a down backend up.
    pub rise: u32,
    /// Consecutive failed checks that take an up backend down.
    pub fall: u32,
    /// Count `wsrep_local_state = 2` (Donor/Desynced) as healthy, like
    /// clustercheck's AVAILABLE_WHEN_DONOR=1.
    pub available_when_donor: bool,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            user: "root".to_string(),
            password: String::new(),
            check_interval_ms: 1000,
            check_timeout_ms: 5000,
            rise: 2,
            fall: 3,
            available_when_donor: false,
        }
    }
}

impl std::fmt::Debug for MonitorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitorConfig")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("check_interval_ms", &self.check_interval_ms)
            .field("check_timeout_ms", &self.check_timeout_ms)
            .field("rise", &self.rise)
            .field("fall", &self.fall)
            .field("available_when_donor", &self.available_when_donor)
            .finish()
    }
}

/// How clients log in, and whether backend connections are shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// The node's greeting and the client's login are relayed packet for
    /// packet; each client session holds one backend connection of its own
    /// (authentication end to end, no user table in the proxy).
    Passthrough,
    /// The proxy greets and authenticates clients itself against
    /// [`ProxyConfig::users`], and multiplexes their statements over a
    /// bounded pool of backend connections (see `pool.rs`).
    Pool,
}

impl std::fmt::Display for AuthMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AuthMode::Passthrough => "passthrough",
            AuthMode::Pool => "pool",
        })
    }
}

/// A proxy-side account (`auth = "pool"`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// User name clients log in with.
    pub name: String,
    /// `mysql_native_password`'s stored form, `*` and 40 hex digits of
    /// SHA1(SHA1(password)), as `trireme-proxy hash-password` prints it
    /// (MySQL's `authentication_string`; MySQL 5.7's `PASSWORD('pw')`).
    /// Empty: an account without a password.
    pub password_hash: String,
}

impl std::fmt::Debug for UserConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserConfig")
            .field("name", &self.name)
            .field("password_hash", &"<redacted>")
            .finish()
    }
}

/// `mysql_native_password`'s stored form of `password`: `*` and the 40
/// upper-case hex digits of SHA1(SHA1(password)), as MySQL 5.7's
/// `PASSWORD()` printed it and as [`UserConfig::password_hash`] wants it.
/// Empty for an empty password (an account without one).
pub fn hash_password(password: &str) -> String {
    match trireme_wire::Credentials::from_password(password).native_hash() {
        Some(h) => {
            let mut s = String::with_capacity(41);
            s.push('*');
            for b in h {
                s.push_str(&format!("{b:02X}"));
            }
            s
        }
        None => String::new(),
    }
}

/// The backend connection pool (`auth = "pool"`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolConfig {
    /// The account the proxy logs into backends with; empty: the
    /// monitor's. Every client statement runs as this user on the nodes.
    pub user: String,
    /// Its password (never logged or shown).
    pub password: String,
    /// Most connections the proxy opens to each backend (lent, pinned and
    /// idle together).
    pub size: usize,
    /// How long a statement waits for a free backend connection before
    /// the client gets ERROR 1040 (08004).
    pub wait_timeout_ms: u64,
    /// Database backend connections start in (and clients that named
    /// none); empty for none.
    pub database: String,
    /// PEM certificate chain the proxy offers clients that ask for TLS
    /// (pool mode terminates TLS; passthrough relays it to the node end
    /// to end and needs none). Empty: no TLS, an SSLRequest is refused.
    pub tls_cert: String,
    /// PEM private key of `tls_cert`.
    pub tls_key: String,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            user: String::new(),
            password: String::new(),
            size: 10,
            wait_timeout_ms: 10_000,
            database: String::new(),
            tls_cert: String::new(),
            tls_key: String::new(),
        }
    }
}

impl std::fmt::Debug for PoolConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolConfig")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("size", &self.size)
            .field("wait_timeout_ms", &self.wait_timeout_ms)
            .field("database", &self.database)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .finish()
    }
}

/// Everything [`crate::run`] needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxyConfig {
    /// Client (read-write) listener, `host:port`; port 0 picks a free one
    /// (see [`crate::ProxyHandle::listen_addr`]).
    pub listen: String,
    /// Optional read-only listener. It routes with `read_balance`; nothing
    /// stops a client from writing through it (see the crate docs).
    pub read_listen: Option<String>,
    /// Read-your-writes on the read port: each read-port backend session
    /// starts with `SET SESSION wsrep_sync_wait = 1`, so every read waits
    /// (bounded by the node's own sync-wait timeout) until its node has
    /// applied everything the cluster ordered before the read began,
    /// which includes the client's own commits through the write port.
    /// Not applied to TLS sessions (the proxy cannot speak inside them).
    pub read_your_writes: bool,
    /// Optional status listener: HTTP `GET /` (text), `GET /status.json`,
    /// `GET /health` (200 when a writer is available, else 503).
    pub admin_listen: Option<String>,
    /// The nodes' MySQL addresses (`host:port`), in order of preference.
    pub backends: Vec<String>,
    /// Routing on `listen`.
    pub balance: Balance,
    /// Routing on `read_listen`.
    pub read_balance: Balance,
    /// With `balance = "single"`: when a backend earlier in the list comes
    /// back up, make it the writer again (true), or keep the current
    /// writer while it stays healthy (false).
    pub writer_failback: bool,
    /// Whether the read port may use the current writer while another
    /// healthy node exists (ProxySQL's `writer_is_also_reader`). The
    /// writer is used anyway when it is the only healthy node.
    pub writer_is_also_reader: bool,
    /// Close client sessions on a backend when it is marked down (HAProxy's
    /// `on-marked-down shutdown-sessions`), and, with `balance = "single"`,
    /// the writer-port sessions of a node that stops being the writer, so
    /// that writes do not keep going to two nodes after a failover.
    pub shutdown_sessions_on_down: bool,
    /// Client connections per listener; more are refused with ERROR 1040.
    pub max_connections: usize,
    /// Bound on connecting to a backend and reading its greeting; past it
    /// the next candidate is tried.
    pub backend_connect_timeout_ms: u64,
    /// Bound on the whole login relay (greeting to OK/ERR).
    pub handshake_timeout_ms: u64,
    /// Health checks.
    pub monitor: MonitorConfig,
    /// `passthrough` (default): end-to-end logins, one backend connection
    /// per client. `pool`: the proxy authenticates clients against `users`
    /// and shares a pool of backend connections between them.
    pub auth: AuthMode,
    /// Proxy-side accounts (`auth = "pool"`), `[[users]]` tables.
    pub users: Vec<UserConfig>,
    /// The backend connection pool (`auth = "pool"`).
    pub pool: PoolConfig,
    /// Threads of the `trireme-proxy` binary: each runs a single-threaded
    /// runtime, and client sessions are spread over them round robin when
    /// accepted (a session never moves, so its wake-ups never cross
    /// threads; see [`crate::run_on`]). 1 (the default) runs everything
    /// on one thread, 0 means one per CPU core. One thread relays about
    /// 20,000 statements a second per core it gets and costs the least CPU
    /// per statement (most of it is the kernel's TCP work, two sends and
    /// two receives per statement); raise it when the proxy's thread is
    /// busy all the time. Ignored by [`crate::run`], which runs on its
    /// caller's runtime.
    pub worker_threads: usize,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            listen: "127.0.0.1:3306".to_string(),
            read_listen: None,
            read_your_writes: false,
            admin_listen: None,
            backends: Vec::new(),
            balance: Balance::Single,
            read_balance: Balance::RoundRobin,
            writer_failback: true,
            writer_is_also_reader: true,
            shutdown_sessions_on_down: true,
            max_connections: 4096,
            backend_connect_timeout_ms: 10_000,
            handshake_timeout_ms: 30_000,
            monitor: MonitorConfig::default(),
            auth: AuthMode::Passthrough,
            users: Vec::new(),
            pool: PoolConfig::default(),
            worker_threads: 1,
        }
    }
}

/// Checks that `addr` looks like `host:port` (or `[v6]:port`).
fn check_addr(what: &str, addr: &str) -> anyhow::Result<()> {
    let ok = addr
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if !ok {
        anyhow::bail!("{what}: {addr:?} is not host:port");
    }
    Ok(())
}

impl ProxyConfig {
    /// A configuration with defaults for everything but `listen` and
    /// `backends`.
    pub fn new(listen: impl Into<String>, backends: Vec<String>) -> Self {
        ProxyConfig {
            listen: listen.into(),
            backends,
            ..ProxyConfig::default()
        }
    }

    /// Parses a TOML document (unknown keys are errors).
    pub fn from_toml(text: &str) -> anyhow::Result<ProxyConfig> {
        let c: ProxyConfig = toml::from_str(text)?;
        Ok(c)
    }

    /// Reads and parses a TOML file.
    pub fn load(path: &std::path::Path) -> anyhow::Result<ProxyConfig> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        Self::from_toml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// Rejects configurations the proxy cannot run: no backends, duplicate
    /// backends, malformed addresses, zero rise/fall/limits/timeouts.
    pub fn validate(&self) -> anyhow::Result<()> {
        check_addr("listen", &self.listen)?;
        if let Some(a) = &self.read_listen {
            check_addr("read_listen", a)?;
        }
        if let Some(a) = &self.admin_listen {
            check_addr("admin_listen", a)?;
        }
        if self.backends.is_empty() {
            anyhow::bail!("backends: at least one backend is needed");
        }
        for (i, b) in self.backends.iter().enumerate() {
            check_addr("backends", b)?;
            if self.backends[..i].contains(b) {
                anyhow::bail!("backends: {b} is listed twice");
            }
        }
        let m = &self.monitor;
        if m.rise == 0 || m.fall == 0 {
            anyhow::bail!("monitor.rise and monitor.fall must be at least 1");
        }
        if m.check_interval_ms == 0 || m.check_timeout_ms == 0 {
            anyhow::bail!("monitor.check_interval_ms and check_timeout_ms must be positive");
        }
        if self.backend_connect_timeout_ms == 0 || self.handshake_timeout_ms == 0 {
            anyhow::bail!("backend_connect_timeout_ms and handshake_timeout_ms must be positive");
        }
        if self.max_connections == 0 {
            anyhow::bail!("max_connections must be at least 1");
        }
        if self.pool.tls_cert.is_empty() != self.pool.tls_key.is_empty() {
            anyhow::bail!("pool.tls_cert and pool.tls_key go together");
        }
        if !self.pool.tls_cert.is_empty() && self.auth != AuthMode::Pool {
            anyhow::bail!(
                "pool.tls_cert is for auth = \"pool\" (passthrough relays a client's TLS \
                 to the node end to end)"
            );
        }
        if self.auth == AuthMode::Pool {
            if self.users.is_empty() {
                anyhow::bail!("auth = \"pool\" needs at least one [[users]] entry");
            }
            for (i, u) in self.users.iter().enumerate() {
                if u.name.is_empty() {
                    anyhow::bail!("users: an entry has an empty name");
                }
                if self.users[..i].iter().any(|o| o.name == u.name) {
                    anyhow::bail!("users: {:?} is listed twice", u.name);
                }
                if !u.password_hash.is_empty()
                    && trireme_wire::Credentials::from_native_hex(&u.password_hash).is_none()
                {
                    anyhow::bail!(
                        "users: the password_hash of {:?} is not \"*\" and 40 hex digits \
                         (make one with `trireme-proxy hash-password`)",
                        u.name
                    );
                }
            }
            if self.pool.size == 0 || self.pool.wait_timeout_ms == 0 {
                anyhow::bail!("pool.size and pool.wait_timeout_ms must be positive");
            }
        }
        Ok(())
    }

    /// The account backend pool connections log in as.
    pub(crate) fn pool_login(&self) -> (&str, &str) {
        if self.pool.user.is_empty() {
            (&self.monitor.user, &self.monitor.password)
        } else {
            (&self.pool.user, &self.pool.password)
        }
    }

    pub(crate) fn pool_wait(&self) -> Duration {
        Duration::from_millis(self.pool.wait_timeout_ms)
    }

    pub(crate) fn check_interval(&self) -> Duration {
        Duration::from_millis(self.monitor.check_interval_ms)
    }

    pub(crate) fn check_timeout(&self) -> Duration {
        Duration::from_millis(self.monitor.check_timeout_ms)
    }

    pub(crate) fn backend_connect_timeout(&self) -> Duration {
        Duration::from_millis(self.backend_connect_timeout_ms)
    }

    pub(crate) fn handshake_timeout(&self) -> Duration {
        Duration::from_millis(self.handshake_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let c = ProxyConfig::from_toml(
            r#"
listen = "127.0.0.1:3306"
read_listen = "127.0.0.1:3316"
admin_listen = "127.0.0.1:3390"
backends = ["127.0.0.1:3307", "127.0.0.1:3308", "127.0.0.1:3309"]
balance = "single"
read_balance = "least_conn"

[monitor]
user = "monitor"
password = "secret"
check_interval_ms = 1000
check_timeout_ms = 5000
rise = 2
fall = 3
"#,
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.backends.len(), 3);
        assert_eq!(c.read_balance, Balance::LeastConn);
        assert_eq!(c.monitor.user, "monitor");
        assert!(!format!("{c:?}").contains("secret"));
    }

    #[test]
    fn the_example_file_parses_and_matches_the_defaults() {
        let c = ProxyConfig::from_toml(include_str!("../trireme-proxy.example.toml")).unwrap();
        c.validate().unwrap();
        let d = ProxyConfig::default();
        assert_eq!(c.balance, d.balance);
        assert_eq!(c.read_balance, d.read_balance);
        assert_eq!(c.max_connections, d.max_connections);
        assert_eq!(c.backend_connect_timeout_ms, d.backend_connect_timeout_ms);
        assert_eq!(c.handshake_timeout_ms, d.handshake_timeout_ms);
        assert_eq!(c.auth, d.auth);
        assert_eq!(c.worker_threads, d.worker_threads);
        assert_eq!(
            (c.pool.size, c.pool.wait_timeout_ms),
            (d.pool.size, d.pool.wait_timeout_ms)
        );
        let (m, dm) = (&c.monitor, &d.monitor);
        assert_eq!(
            (m.check_interval_ms, m.check_timeout_ms, m.rise, m.fall),
            (dm.check_interval_ms, dm.check_timeout_ms, dm.rise, dm.fall)
        );
    }

    #[test]
    fn rejects_bad_configs() {
        assert!(ProxyConfig::from_toml("bogus = 1").is_err());
        assert!(ProxyConfig::from_toml("balance = \"random\"").is_err());
        let mut c = ProxyConfig::new("127.0.0.1:0", vec![]);
        assert!(c.validate().is_err());
        c.backends = vec!["127.0.0.1:1".into(), "127.0.0.1:1".into()];
        assert!(c.validate().is_err());
        c.backends = vec!["nohost".into()];
        assert!(c.validate().is_err());
        c.backends = vec!["db1:3306".into()];
        c.validate().unwrap();
        c.monitor.fall = 0;
        assert!(c.validate().is_err());
    }

    #[test]
    fn password_hashes_match_mysql() {
        // SELECT PASSWORD('secret') on MySQL 5.7.
        assert_eq!(
            hash_password("secret"),
            "*14E65567ABDB5135D0CFD9A70B3032C179A49EE7"
        );
        assert_eq!(hash_password(""), "");
    }

    #[test]
    fn pool_mode_needs_valid_users() {
        let mut c = ProxyConfig::from_toml(
            r#"
backends = ["127.0.0.1:3307"]
auth = "pool"

[[users]]
name = "app"
password_hash = "*14E65567ABDB5135D0CFD9A70B3032C179A49EE7"

[pool]
user = "proxy"
password = "pw"
size = 30
wait_timeout_ms = 2000
database = "shop"
"#,
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.auth, AuthMode::Pool);
        assert_eq!(c.pool.size, 30);
        assert!(!format!("{c:?}").contains("14E655"));
        assert!(!format!("{c:?}").contains("\"pw\""));
        c.users[0].password_hash = "*123".into();
        assert!(c.validate().is_err());
        c.users.clear();
        assert!(c.validate().is_err());
    }

    #[test]
    fn balance_names() {
        assert_eq!("least-conn".parse::<Balance>().unwrap(), Balance::LeastConn);
        assert_eq!("single".parse::<Balance>().unwrap(), Balance::Single);
        assert_eq!("RR".parse::<Balance>().unwrap(), Balance::RoundRobin);
        assert!("x".parse::<Balance>().is_err());
    }
}
