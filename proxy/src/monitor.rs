//! Health-check tasks: one per backend, each with its own persistent
//! monitor connection (like ProxySQL's monitor; clustercheck reconnects
//! every time, which costs a login per check).
//!
//! # One check
//!
//! 1. If there is no monitor connection, connect and log in as
//!    `monitor.user` ([`trireme_wire::client::Client`]).
//! 2. Run `SHOW GLOBAL STATUS LIKE 'wsrep_%'` and collect the
//!    `(Variable_name, Value)` rows into a [`WsrepStatus`].
//! 3. The whole check is bounded by `check_timeout`; a timeout or a broken
//!    connection drops the connection (the next check reconnects) and
//!    counts as a failure. An ERR reply keeps the connection.
//! 4. The result goes to [`Shared::apply_check`], which runs the rise/fall
//!    state machine.
//!
//! Checks of one backend never overlap: the task sleeps `check_interval`
//! after a check ends, or runs one at once when [`CheckRequest`] arrives
//! (`ProxyHandle::check_now`). Tests and operators use the latter to step
//! the state machine deterministically.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};
use trireme_wire::client::{Client, ClientError, ClientOptions};
use trireme_wire::{StmtResult, Timeouts, Value};

use crate::health::WsrepStatus;
use crate::router::Shared;

/// Asks a monitor for one check now; answered when the check is applied.
pub(crate) type CheckRequest = oneshot::Sender<()>;

/// The query every check runs.
pub(crate) const CHECK_QUERY: &str = "SHOW GLOBAL STATUS LIKE 'wsrep_%'";

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

async fn check_once(
    conn: &mut Option<Client>,
    addr: &str,
    opts: &ClientOptions,
) -> Result<WsrepStatus, String> {
    let client = match conn {
        Some(c) => c,
        None => {
            let c = Client::connect(addr, opts)
                .await
                .map_err(|e| format!("monitor login failed: {}", describe(&e)))?;
            conn.insert(c)
        }
    };
    match client.query_one(CHECK_QUERY).await {
        Ok(StmtResult::Rows { rows, .. }) => {
            let pairs: Vec<(Option<String>, Option<String>)> = rows
                .iter()
                .map(|r| (r.first().and_then(text), r.get(1).and_then(text)))
                .collect();
            Ok(WsrepStatus::from_pairs(pairs.iter().filter_map(
                |(n, v)| n.as_deref().map(|n| (n, v.as_deref())),
            )))
        }
        Ok(_) => Err("status query returned no rows".into()),
        Err(e @ ClientError::Server(_)) => Err(describe(&e)),
        Err(e) => {
            *conn = None;
            Err(describe(&e))
        }
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
    let mut reply: Option<CheckRequest> = None;
    loop {
        let started = Instant::now();
        let result = tokio::select! {
            biased;
            _ = crate::stopped(&mut shutdown) => break,
            r = tokio::time::timeout(timeout, check_once(&mut conn, &addr, &opts)) => match r {
                Ok(r) => r,
                Err(_) => {
                    conn = None;
                    Err(format!("health check timed out after {} ms", timeout.as_millis()))
                }
            },
        };
        shared.apply_check(index, started.elapsed(), result);
        if let Some(tx) = first_done.take() {
            let _ = tx.send(());
        }
        if let Some(tx) = reply.take() {
            let _ = tx.send(());
        }
        reply = tokio::select! {
            biased;
            _ = crate::stopped(&mut shutdown) => break,
            r = requests.recv() => match r {
                Some(tx) => Some(tx),
                None => break,
            },
            _ = tokio::time::sleep(interval) => None,
        };
    }
    if let Some(c) = conn {
        let _ = tokio::time::timeout(Duration::from_secs(1), c.quit()).await;
    }
}
