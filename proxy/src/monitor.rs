//! Health-check tasks: one per backend, each with its own persistent
//! monitor connection (like ProxySQL's monitor; clustercheck reconnects
//! every time, which costs a login per check).
//!
//! # One check
//!
//! 1. If there is no monitor connection, connect and log in as
//!    `monitor.user` ([`trireme_wire::client::Client`]).
//! 2. Run `SHOW GLOBAL STATUS LIKE 'wsrep_%'` and `SHOW GLOBAL VARIABLES
//!    LIKE 'wsrep_%'` (for `wsrep_desync`/`wsrep_reject_queries`) and
//!    collect the `(Variable_name, Value)` rows into a [`WsrepStatus`].
//! 3. The whole check is bounded by `check_timeout`; a timeout or a broken
//!    connection drops the connection and counts as a failure. A broken
//!    kept connection is retried once at once on a fresh one, and a fresh
//!    connect that is refused or reset marks the check *dead* (down at
//!    once, see `health.rs`). An ERR reply keeps the connection.
//! 4. The result goes to [`Shared::apply_check`], which runs the rise/fall
//!    state machine.
//!
//! Checks of one backend never overlap: the task sleeps `check_interval`
//! after a check ends, or runs one at once when a [`CheckRequest`] arrives
//! (`ProxyHandle::check_now`, or a session that saw the backend close or
//! refuse a connection: a killed writer is then noticed within
//! milliseconds, not at the next interval). A session's wake-up is a probe
//! for a dead node: its result is applied only when it finds the node
//! dead, so ordinary session ends never step the rise/fall counts. Tests and operators use the latter to step
//! the state machine deterministically.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};
use trireme_wire::client::{Client, ClientError, ClientOptions};
use trireme_wire::{StmtResult, Timeouts, Value, WireError};

use crate::health::WsrepStatus;
use crate::router::Shared;

/// Asks a monitor for one check now. `Some`: answered when the check is
/// applied (`ProxyHandle::check_now`); `None`: a wake-up from a session
/// that saw the backend fail, answered by nobody and coalesced with other
/// wake-ups.
pub(crate) type CheckRequest = Option<oneshot::Sender<()>>;

/// The query every check runs.
pub(crate) const CHECK_QUERY: &str = "SHOW GLOBAL STATUS LIKE 'wsrep_%'";
/// The operator's switches (`wsrep_desync`, `wsrep_reject_queries`); a
/// node that answers with an error or no rows simply does not have them.
pub(crate) const VARIABLES_QUERY: &str = "SHOW GLOBAL VARIABLES LIKE 'wsrep_%'";

/// Errors a server sends as it closes the connection (ER_SERVER_SHUTDOWN,
/// ER_CONNECTION_KILLED): the monitor connection is gone, like a reset.
const CLOSING: [u16; 2] = [1053, 1927];

/// A failed check; `dead` when a fresh connection was refused or reset,
/// i.e. nothing listens on the node's port any more.
#[derive(Debug, Clone)]
pub(crate) struct CheckFailure {
    pub(crate) text: String,
    pub(crate) dead: bool,
}

impl CheckFailure {
    fn soft(text: String) -> Self {
        CheckFailure { text, dead: false }
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        other => Some(format!("{other:?}")),
    }
}

fn describe(e: &ClientError) -> String {
    match e {
        ClientError::Server(m) => format!("ERROR {} ({}): {}", m.code, m.sqlstate_str(), m.message),
        ClientError::Wire(w) => w.to_string(),
    }
}

/// Whether a connect error means the node's process is gone (as opposed
/// to slow, paused or refusing the login).
fn is_dead(e: &ClientError) -> bool {
    use std::io::ErrorKind::*;
    match e {
        ClientError::Wire(WireError::Io(io)) => matches!(
            io.kind(),
            ConnectionRefused | ConnectionReset | ConnectionAborted | UnexpectedEof | BrokenPipe
        ),
        _ => false,
    }
}

fn pairs(rows: &[Vec<Value>]) -> Vec<(Option<String>, Option<String>)> {
    rows.iter()
        .map(|r| (r.first().and_then(text), r.get(1).and_then(text)))
        .collect()
}

/// One attempt on the current (or a fresh) monitor connection. Err's
/// `bool`: the connection broke (it is dropped).
async fn attempt(
    conn: &mut Option<Client>,
    addr: &str,
    opts: &ClientOptions,
) -> Result<WsrepStatus, (CheckFailure, bool)> {
    let client = match conn {
        Some(c) => c,
        None => {
            let c = Client::connect(addr, opts).await.map_err(|e| {
                let f = CheckFailure {
                    text: format!("monitor login failed: {}", describe(&e)),
                    dead: is_dead(&e),
                };
                (f, false)
            })?;
            conn.insert(c)
        }
    };
    let mut all = match client.query_one(CHECK_QUERY).await {
        Ok(StmtResult::Rows { rows, .. }) => pairs(&rows),
        Ok(_) => {
            return Err((
                CheckFailure::soft("status query returned no rows".into()),
                false,
            ))
        }
        Err(ClientError::Server(m)) if CLOSING.contains(&m.code) => {
            let e = ClientError::Server(m);
            *conn = None;
            return Err((CheckFailure::soft(describe(&e)), true));
        }
        Err(e @ ClientError::Server(_)) => return Err((CheckFailure::soft(describe(&e)), false)),
        Err(e) => {
            *conn = None;
            return Err((CheckFailure::soft(describe(&e)), true));
        }
    };
    match client.query_one(VARIABLES_QUERY).await {
        Ok(StmtResult::Rows { rows, .. }) => all.extend(pairs(&rows)),
        Ok(_) | Err(ClientError::Server(_)) => {}
        Err(e) => {
            *conn = None;
            return Err((CheckFailure::soft(describe(&e)), true));
        }
    }
    Ok(WsrepStatus::from_pairs(all.iter().filter_map(|(n, v)| {
        n.as_deref().map(|n| (n, v.as_deref()))
    })))
}

async fn check_once(
    conn: &mut Option<Client>,
    addr: &str,
    opts: &ClientOptions,
) -> Result<WsrepStatus, CheckFailure> {
    let reused = conn.is_some();
    match attempt(conn, addr, opts).await {
        // A kept connection can break for reasons other than a dead node
        // (an idle timeout): only a fresh connect decides, at once, so a
        // killed node is seen dead in this check and not the next.
        Err((_, true)) if reused => attempt(conn, addr, opts).await.map_err(|(f, _)| f),
        r => r.map_err(|(f, _)| f),
    }
}

/// Runs the checks of backend `index` until `shutdown` turns true.
/// `first_done` fires after the first check was applied.
pub(crate) async fn run_monitor(
    shared: Arc<Shared>,
    index: usize,
    mut requests: mpsc::Receiver<CheckRequest>,
    mut shutdown: watch::Receiver<bool>,
    first_done: oneshot::Sender<()>,
) {
    let addr = shared.backends[index].addr.clone();
    let timeout = shared.config.check_timeout();
    let interval = shared.config.check_interval();
    let mut opts = ClientOptions::new(&shared.config.monitor.user, &shared.config.monitor.password);
    opts.timeouts = Timeouts {
        idle: Some(timeout),
        io: Some(timeout),
    };
    opts.max_packet = 4 << 20;
    let mut conn: Option<Client> = None;
    let mut first_done = Some(first_done);
    let mut reply: CheckRequest = None;
    // A check woken by a session is a probe for a dead node only: its
    // result counts when it finds the node dead, and is dropped otherwise
    // (sessions end with a backend close all the time, e.g. after
    // COM_QUIT; those probes must not step rise/fall).
    let mut probe = false;
    loop {
        let started = Instant::now();
        let result = tokio::select! {
            biased;
            _ = crate::stopped(&mut shutdown) => break,
            r = tokio::time::timeout(timeout, check_once(&mut conn, &addr, &opts)) => match r {
                Ok(r) => r,
                Err(_) => {
                    conn = None;
                    Err(CheckFailure::soft(format!(
                        "health check timed out after {} ms",
                        timeout.as_millis()
                    )))
                }
            },
        };
        let dead = result.as_ref().is_err_and(|f| f.dead);
        if dead || !probe {
            shared.apply_check(index, started.elapsed(), result.map_err(|f| f.text), dead);
        }
        if let Some(tx) = first_done.take() {
            let _ = tx.send(());
        }
        if let Some(tx) = reply.take() {
            let _ = tx.send(());
        }
        // Wake-ups that queued up during this check were answered by it;
        // a pending `check_now` still gets a check of its own.
        let mut next = None;
        while let Ok(r) = requests.try_recv() {
            if r.is_some() {
                next = Some(r);
                break;
            }
        }
        (reply, probe) = match next {
            Some(r) => (r, false),
            None => tokio::select! {
                biased;
                _ = crate::stopped(&mut shutdown) => break,
                r = requests.recv() => match r {
                    Some(r) => {
                        let probe = r.is_none();
                        (r, probe)
                    }
                    None => break,
                },
                _ = tokio::time::sleep(interval) => (None, false),
            },
        };
    }
    if let Some(c) = conn {
        let _ = tokio::time::timeout(Duration::from_secs(1), c.quit()).await;
    }
}
