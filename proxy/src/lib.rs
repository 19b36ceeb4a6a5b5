//! `trireme-proxy`: the MySQL-wire proxy in front of a trireme cluster, in
//! the role HAProxy plus clustercheck (or a simple ProxySQL) plays for
//! Galera.
//!
//! - **Health checks** on `wsrep_%` state: a monitor connection per backend
//!   runs `SHOW GLOBAL STATUS LIKE 'wsrep_%'` every `check_interval`; a
//!   backend is healthy when it answers, `wsrep_ready = ON` and
//!   `wsrep_local_state = 4` (Synced), and neither `wsrep_desync` nor
//!   `wsrep_reject_queries` takes it out; `fall` failures in a row take it
//!   down, `rise` successes bring it back, and a node whose port refuses
//!   connections goes down at once ([`health`]; the checks run in
//!   `monitor.rs`, and a session that sees its backend close or refuse
//!   wakes that backend's monitor at once).
//! - **Routing** at connect time: the write port sends every session to
//!   one writer (the first healthy backend in configured order) by default,
//!   failing over to the next healthy one, or balances with `least_conn` /
//!   `round_robin`; the optional read port balances over all healthy
//!   backends (`router.rs`).
//! - **Transparent relay** (`auth = "passthrough"`, the default): the
//!   chosen node's greeting and the client's login are relayed packet for
//!   packet, so authentication is end to end and the proxy needs no user
//!   table; then bytes flow both ways untouched (`relay.rs`, which walks
//!   one session step by step).
//! - **Pooling** (`auth = "pool"`): the proxy greets and authenticates
//!   clients itself against `[[users]]` (`mysql_native_password` hashes,
//!   `trireme-proxy hash-password`), and multiplexes them over at most
//!   `pool.size` backend connections per backend: a connection is lent for
//!   one statement in autocommit mode, for a whole transaction (the
//!   server's `SERVER_STATUS_IN_TRANS`/`AUTOCOMMIT` flags decide), or for
//!   the rest of the session once the client leaves session state the
//!   proxy cannot carry over (`classify.rs` has the rules; `USE` is
//!   tracked and replayed). A statement whose pooled connection turns out
//!   dead, or whose backend refuses the connect, runs on the next healthy
//!   one without the client seeing an error; a transaction whose backend
//!   dies gets ERROR 2013 (`pooled.rs`, `pool.rs`).
//! - **Read-your-writes** (`read_your_writes`): read-port sessions run
//!   with `wsrep_sync_wait = 1`, set by the proxy right after the login,
//!   so a read waits until its node has applied every commit the cluster
//!   ordered before the read began (the client's own included).
//! - **Observability**: `tracing` logs on every backend state and writer
//!   change; [`ProxyHandle::status`] ([`status`]) and the optional admin
//!   port (`admin.rs`: `GET /`, `/status.json`, `/health`) list backends,
//!   health, last check and session counts; `GET /metrics` on the same
//!   port serves Prometheus metrics (`metrics.rs`).
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let mut config = trireme_proxy::ProxyConfig::new(
//!     "127.0.0.1:3306",
//!     vec!["127.0.0.1:3307".into(), "127.0.0.1:3308".into(), "127.0.0.1:3309".into()],
//! );
//! config.monitor.password = "secret".into();
//! let proxy = trireme_proxy::run(config).await?;
//! println!("{}", proxy.status());
//! proxy.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Invariants
//!
//! - Only backends the monitor has marked `Up` receive new sessions (pool
//!   mode: new statements); a passthrough session is never moved between
//!   backends once its login started, a pooled transaction never leaves its
//!   connection. A backend that dies mid-session (mid-transaction) is a
//!   lost connection (ERROR 2013) for the client, as with HAProxy, never a
//!   silent reconnect that would lose transaction state.
//! - Pool mode: a backend never has more than `pool.size` connections from
//!   the pool (see `pool.rs`).
//! - In single-writer mode, with `shutdown_sessions_on_down` (default), a
//!   backend's write-port sessions are closed when it stops being the
//!   writer, so writes go to two nodes for at most the moment of a
//!   failover (plus sessions that were sent to a later node because the
//!   writer refused TCP connections before the monitor noticed).
//! - No peer input panics the proxy or grows its memory without bound
//!   (see `relay.rs`); every wait is bounded by a configured timeout.
//! - [`ProxyHandle::shutdown`] stops accepting, closes every session and
//!   monitor connection, and returns when all tasks have ended.
//!
//! # Not done, on purpose
//!
//! - **Statement retry in passthrough mode.** A passthrough session whose
//!   backend dies ends (the client sees 2013, lost connection, and its next
//!   connection goes to the new writer): re-logging in elsewhere on the
//!   client's behalf needs the proxy to know the password, i.e. pool mode,
//!   where an autocommit statement that provably did not run is retried.
//!   A *new* passthrough session whose connect to the writer fails is moved
//!   to the next candidate before any statement is sent. No mode retries a
//!   statement that may have run (sent, then no answer): that is 2013.
//! - **Read-your-writes by commit position.** The read port waits for
//!   everything ordered before each read (`wsrep_sync_wait`), not for the
//!   session's own last commit position (`WSREP_LAST_WRITTEN_GTID` style):
//!   stronger and simpler, at the price of a cluster round trip per read.
//! - **Pool mode's limits** (see `pooled.rs`): `ROW_COUNT()`,
//!   `FOUND_ROWS()` or `SHOW WARNINGS` after a statement whose connection
//!   another client has used since get ERROR 1105 (`LAST_INSERT_ID()` is
//!   carried over); COM_CHANGE_USER is refused; clients get the pool's
//!   capabilities (no CLIENT_DEPRECATE_EOF); every statement runs
//!   as the pool's backend user.
//! - **TLS termination.** A client asking for TLS gets it end to end with
//!   the node in passthrough mode (the SSLRequest is relayed, then opaque
//!   bytes; the proxy holds no certificate). Pool mode terminates client
//!   TLS itself when `pool.tls_cert`/`pool.tls_key` name its certificate
//!   (it must read the commands), and offers none without them.
//!   The monitor and pool connections are plain text.
//! - **Read/write splitting by statement.** The read port is a separate
//!   port; the proxy does not inspect queries, so it cannot stop a client
//!   from writing through the read port (use grants, or `read_only` on the
//!   nodes).
//! - **Client identity.** Nodes see the proxy's address as the client
//!   host (no PROXY protocol), so host-based grants apply to the proxy.
//!   Connection ids in the greeting are the node's: with balanced routing
//!   a `KILL <id>` may land on another node.
//! - **Draining** on maintenance and weighted balancing: not yet.

#![warn(missing_docs)]

mod admin;
mod classify;
pub mod config;
pub mod health;
mod metrics;
mod monitor;
mod pool;
mod pooled;
mod relay;
mod router;
pub mod status;
mod tls;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tracing::{info, warn};

pub use config::{
    hash_password, AuthMode, Balance, MonitorConfig, PoolConfig, ProxyConfig, UserConfig,
};
pub use health::{Health, WsrepStatus};
pub use status::{BackendStatus, CheckStatus, ProxyStatus, SessionCounters};

use monitor::CheckRequest;
use router::{Port, Shared};

/// How long [`ProxyHandle::shutdown`] waits for sessions to notice before
/// aborting their tasks.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A running proxy. Dropping it stops the proxy in the background; call
/// [`ProxyHandle::shutdown`] to wait for the stop.
pub struct ProxyHandle {
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    monitors: Vec<mpsc::Sender<CheckRequest>>,
    listen: SocketAddr,
    read_listen: Option<SocketAddr>,
    admin_listen: Option<SocketAddr>,
}

impl std::fmt::Debug for ProxyHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyHandle")
            .field("listen", &self.listen)
            .field("read_listen", &self.read_listen)
            .field("admin_listen", &self.admin_listen)
            .finish_non_exhaustive()
    }
}

impl ProxyHandle {
    /// The bound read-write address (the real port when `listen` said 0).
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
    }

    /// The bound read-only address, if configured.
    pub fn read_listen_addr(&self) -> Option<SocketAddr> {
        self.read_listen
    }

    /// The bound admin address, if configured.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_listen
    }

    /// A snapshot of backends, health and sessions.
    pub fn status(&self) -> ProxyStatus {
        self.shared.status()
    }

    /// Runs one health check on every backend now and returns when all
    /// have been applied (each bounded by `check_timeout`). Periodic checks
    /// go on as before; a manual one does not reset rise/fall counts.
    pub async fn check_now(&self) {
        let mut replies = Vec::with_capacity(self.monitors.len());
        for m in &self.monitors {
            let (tx, rx) = oneshot::channel();
            if m.send(Some(tx)).await.is_ok() {
                replies.push(rx);
            }
        }
        for r in replies {
            let _ = r.await;
        }
    }

    /// Stops accepting, closes every client session and monitor connection,
    /// and waits for all of the proxy's tasks to end.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for t in std::mem::take(&mut self.tasks) {
            let _ = t.await;
        }
        info!("trireme-proxy stopped");
    }
}

impl Drop for ProxyHandle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// Resolves once `rx` reads true (or its sender is gone).
pub(crate) async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// Binds a listener with an accept backlog of `backlog` (the kernel caps
/// it at `net.core.somaxconn`). `TcpListener::bind` listens with 128: a
/// burst of more connects than that overflows the queue, and since MySQL
/// servers speak first, a client whose handshake ACK was dropped waits for
/// a greeting that never comes.
async fn bind(what: &str, addr: &str, backlog: u32) -> anyhow::Result<TcpListener> {
    let bound = async {
        let mut last = None;
        for a in tokio::net::lookup_host(addr).await? {
            let socket = if a.is_ipv4() {
                tokio::net::TcpSocket::new_v4()?
            } else {
                tokio::net::TcpSocket::new_v6()?
            };
            socket.set_reuseaddr(true)?;
            match socket.bind(a).and_then(|()| socket.listen(backlog)) {
                Ok(l) => return Ok(l),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("the address resolved to nothing")))
    };
    bound
        .await
        .with_context(|| format!("binding {what} {addr}"))
}

fn is_transient_accept_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | Interrupted | WouldBlock
    ) || matches!(e.raw_os_error(), Some(23 | 24)) // ENFILE, EMFILE
}

/// Counts one open client connection in `client_active` until dropped.
struct ActiveClient(Arc<Shared>);

impl ActiveClient {
    fn new(shared: Arc<Shared>) -> Self {
        shared
            .counters
            .client_active
            .fetch_add(1, Ordering::Relaxed);
        ActiveClient(shared)
    }
}

impl Drop for ActiveClient {
    fn drop(&mut self) {
        self.0
            .counters
            .client_active
            .fetch_sub(1, Ordering::Relaxed);
    }
}

/// Where sessions run: on the accepting runtime, or spread round robin
/// over single-threaded runtimes of their own ([`run_on`]).
#[derive(Clone, Default)]
struct SessionThreads {
    handles: Arc<[tokio::runtime::Handle]>,
    next: Arc<std::sync::atomic::AtomicUsize>,
}

impl SessionThreads {
    /// The runtime for the next session, `None` for the current one.
    fn pick(&self) -> Option<&tokio::runtime::Handle> {
        if self.handles.len() < 2 {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        self.handles.get(i % self.handles.len())
    }
}

async fn accept_loop(
    shared: Arc<Shared>,
    port: Port,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
    threads: SessionThreads,
) {
    let slots = Arc::new(Semaphore::new(shared.config.max_connections));
    let mut sessions = JoinSet::new();
    let for_sessions = shutdown.clone();
    loop {
        tokio::select! {
            _ = crate::stopped(&mut shutdown) => break,
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    shared.counters.accepted.fetch_add(1, Ordering::Relaxed);
                    match slots.clone().try_acquire_owned() {
                        Ok(permit) => {
                            let shared = shared.clone();
                            let shutdown = for_sessions.clone();
                            // Moved into the task: dropped (and counted
                            // out) however it ends, even aborted unpolled.
                            let open = ActiveClient::new(shared.clone());
                            match threads.pick() {
                                None => {
                                    sessions.spawn(async move {
                                        let _open = open;
                                        relay::serve_client(shared, port, stream, peer, shutdown).await;
                                        drop(permit);
                                    });
                                }
                                Some(rt) => {
                                    // A socket is served by the reactor it
                                    // is registered with: hand it over
                                    // unregistered, so the session's every
                                    // wake-up stays on its own thread.
                                    let Ok(stream) = stream.into_std() else {
                                        continue;
                                    };
                                    sessions.spawn_on(async move {
                                        let _open = open;
                                        let Ok(stream) = tokio::net::TcpStream::from_std(stream) else {
                                            return;
                                        };
                                        relay::serve_client(shared, port, stream, peer, shutdown).await;
                                        drop(permit);
                                    }, rt);
                                }
                            }
                        }
                        Err(_) => {
                            shared.counters.too_many.fetch_add(1, Ordering::Relaxed);
                            warn!(port = port.name(), %peer, "max_connections reached; refusing");
                            // A fresh socket's send buffer is empty: this
                            // does not block, and a failure just closes.
                            let _ = stream.try_write(&relay::too_many_connections());
                        }
                    }
                }
                Err(e) if is_transient_accept_error(&e) => {
                    warn!(error = %e, "accept failed; retrying");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            },
        }
    }
    drop(listener);
    // Sessions watch the same shutdown signal; give them a moment to close
    // their sockets, then abort what is left.
    let drain = async { while sessions.join_next().await.is_some() {} };
    if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        sessions.shutdown().await;
    }
}

/// Starts the proxy: validates `config`, binds its ports, runs the first
/// round of health checks (so sessions route as soon as this returns;
/// bounded by `check_timeout`), then accepts clients in the background.
///
/// Must be called within a tokio runtime; the proxy runs on it until the
/// returned handle is shut down or dropped.
pub async fn run(config: ProxyConfig) -> anyhow::Result<ProxyHandle> {
    run_on(config, Vec::new()).await
}

/// [`run`], with client sessions spread round robin over `session_threads`
/// (handles of single-threaded runtimes, each driven by a thread of its
/// own, which must run until the proxy has shut down). Accepting, health
/// checks and the admin port stay on the caller's runtime.
///
/// Why: a session's relay is two receives and two sends per statement,
/// and on a work-stealing runtime a wake-up may also wake an idle worker
/// to look for work (futex calls and context switches on top of the
/// relay's own: about 4 % of the proxy's CPU and 15-20 % more context
/// switches per statement in `proxy/bench/sysbench.sh` runs on two
/// cores). A session pinned to one single-threaded runtime never wakes
/// another thread, and several such runtimes still use several cores.
/// With no handles (or one) this is [`run`].
pub async fn run_on(
    config: ProxyConfig,
    session_threads: Vec<tokio::runtime::Handle>,
) -> anyhow::Result<ProxyHandle> {
    config.validate()?;
    let threads = SessionThreads {
        handles: session_threads.into(),
        next: Arc::default(),
    };
    let backlog = u32::try_from(config.max_connections)
        .unwrap_or(u32::MAX)
        .clamp(128, 65_535);
    let listener = bind("listen", &config.listen, backlog).await?;
    let read_listener = match &config.read_listen {
        Some(a) => Some(bind("read_listen", a, backlog).await?),
        None => None,
    };
    let admin_listener = match &config.admin_listen {
        Some(a) => Some(bind("admin_listen", a, 128).await?),
        None => None,
    };
    let listen = listener.local_addr()?;
    let read_listen = read_listener.as_ref().map(|l| l.local_addr()).transpose()?;
    let admin_listen = admin_listener
        .as_ref()
        .map(|l| l.local_addr())
        .transpose()?;

    let client_tls = match (&config.auth, config.pool.tls_cert.as_str()) {
        (AuthMode::Pool, cert) if !cert.is_empty() => {
            Some(tls::acceptor(cert, &config.pool.tls_key)?)
        }
        _ => None,
    };
    let shared = Arc::new(Shared::new(config));
    if let Some(a) = client_tls {
        let _ = shared.client_tls.set(a);
    }
    *shared.listen.lock() = [Some(listen), read_listen, admin_listen];
    let (shutdown, shutdown_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    let mut monitors = Vec::new();
    let mut first = Vec::new();
    for index in 0..shared.backends.len() {
        let (tx, rx) = mpsc::channel(8);
        let (done_tx, done_rx) = oneshot::channel();
        monitors.push(tx);
        first.push(done_rx);
        tasks.push(tokio::spawn(monitor::run_monitor(
            shared.clone(),
            index,
            rx,
            shutdown_rx.clone(),
            done_tx,
        )));
    }
    let _ = shared.monitors.set(monitors.clone());
    for f in first {
        let _ = f.await;
    }
    shared.elect_initial_writer();
    tasks.push(tokio::spawn(accept_loop(
        shared.clone(),
        Port::Write,
        listener,
        shutdown_rx.clone(),
        threads.clone(),
    )));
    if let Some(l) = read_listener {
        tasks.push(tokio::spawn(accept_loop(
            shared.clone(),
            Port::Read,
            l,
            shutdown_rx.clone(),
            threads.clone(),
        )));
    }
    if let Some(l) = admin_listener {
        tasks.push(tokio::spawn(admin::run_admin(
            shared.clone(),
            l,
            shutdown_rx.clone(),
        )));
    }
    let status = shared.status();
    info!(
        listen = %listen,
        read_listen = ?read_listen,
        admin = ?admin_listen,
        balance = %shared.config.balance,
        up = status.up_count(),
        backends = shared.backends.len(),
        writer = status.writer.as_deref().unwrap_or("none"),
        "trireme-proxy started"
    );
    Ok(ProxyHandle {
        shared,
        shutdown,
        tasks,
        monitors,
        listen,
        read_listen,
        admin_listen,
    })
}
