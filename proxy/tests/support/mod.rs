//! Test fixtures: tiny in-process "cluster nodes" built on
//! `trireme_wire::serve`, with a controllable `wsrep_%` state, and helpers
//! to start a proxy in front of them and connect through it with a real
//! driver (mysql_async).
//!
//! A toy node answers:
//! - `SHOW [GLOBAL] STATUS LIKE 'wsrep%'` with `wsrep_ready`,
//!   `wsrep_local_state(_comment)`, `wsrep_cluster_status`,
//!   `wsrep_cluster_size` from its [`ToyState`], counting the checks;
//! - `SELECT @@a, @@b, ...` with `@@server_id` = its id (and plausible
//!   values for what drivers ask on connect);
//! - anything else with OK.
//!
//! Users: `root`/`secret` and `monitor`/`monpw`.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use trireme_proxy::ProxyConfig;
use trireme_wire::{
    AuthPlugin, ColumnDef, ColumnType, Handler, MySqlError, PrepareInfo, ServerConfig, SessionInfo,
    StaticUsers, StmtResult, Value,
};

pub const USER: &str = "root";
pub const PASSWORD: &str = "secret";
pub const MONITOR_USER: &str = "monitor";
pub const MONITOR_PASSWORD: &str = "monpw";

/// The controllable state of a toy node.
pub struct ToyState {
    pub local_state: AtomicU32,
    pub ready: AtomicBool,
    pub status_queries: AtomicU64,
    /// `SHOW GLOBAL VARIABLES LIKE 'wsrep%'` rows (none by default).
    pub variables: std::sync::Mutex<Vec<(String, String)>>,
    /// Sessions open now (the monitor's included).
    pub sessions: AtomicU64,
    /// Sessions of `root` (the pool's user in pool-mode tests) open now,
    /// and the most ever open at once.
    pub root_sessions: AtomicU64,
    pub root_sessions_max: AtomicU64,
    /// Statements run by `root` sessions.
    pub root_queries: AtomicU64,
    /// Answer `root`'s statements with 1047 (08S01), as a node outside the
    /// Primary component does.
    pub refuse: AtomicBool,
    kill: watch::Sender<u64>,
}

pub struct ToySession {
    id: u64,
    state: Arc<ToyState>,
    kill: watch::Receiver<u64>,
    /// `CONNECTION_ID()`.
    conn_id: u32,
    root: bool,
    in_trans: bool,
    autocommit: bool,
    db: Option<String>,
    user_vars: std::collections::HashMap<String, Value>,
}

fn text_rows(names: &[&str], rows: Vec<Vec<Value>>) -> StmtResult {
    StmtResult::Rows {
        columns: names
            .iter()
            .map(|n| ColumnDef::new(*n, ColumnType::MYSQL_TYPE_VAR_STRING))
            .collect(),
        rows,
    }
}

fn one_value(name: &str, v: Value) -> StmtResult {
    StmtResult::Rows {
        columns: vec![ColumnDef::new(name, ColumnType::MYSQL_TYPE_VAR_STRING)],
        rows: vec![vec![v]],
    }
}

impl ToySession {
    /// Transactions, autocommit, user variables, `CONNECTION_ID()`,
    /// `DATABASE()` and integer echo (`SELECT 42`), for pool-mode tests.
    /// `SELECT ROW_COUNT()` answers the connection id (which connection
    /// answered for "the previous statement").
    fn session_answer(&mut self, q: &str) -> Option<StmtResult> {
        let compact: String = q.split_whitespace().collect::<Vec<_>>().join(" ");
        match compact.as_str() {
            "begin" | "start transaction" => self.in_trans = true,
            "commit" | "rollback" => self.in_trans = false,
            "set autocommit = 0" | "set autocommit=0" => self.autocommit = false,
            "set autocommit = 1" | "set autocommit=1" => {
                self.autocommit = true;
                self.in_trans = false;
            }
            "select connection_id()" | "select row_count()" => {
                return Some(one_value("id", Value::Int(i64::from(self.conn_id))))
            }
            "select database()" => {
                let v = self
                    .db
                    .clone()
                    .map(|d| Value::Bytes(d.into_bytes()))
                    .unwrap_or(Value::NULL);
                return Some(one_value("db", v));
            }
            _ => {
                if let Some(rest) = compact.strip_prefix("set @") {
                    let (name, value) = rest.split_once('=')?;
                    let v = value.trim().parse::<i64>().ok()?;
                    self.user_vars
                        .insert(name.trim().to_string(), Value::Int(v));
                } else if let Some(name) = compact.strip_prefix("select @") {
                    if name.starts_with('@') {
                        return None;
                    }
                    let v = self.user_vars.get(name).cloned().unwrap_or(Value::NULL);
                    return Some(one_value("v", v));
                } else if let Some(n) = compact.strip_prefix("select ") {
                    let n: i64 = n.parse().ok()?;
                    return Some(one_value("n", Value::Int(n)));
                } else {
                    return None;
                }
            }
        }
        if !self.autocommit
            && !compact.starts_with("set autocommit")
            && !compact.starts_with("commit")
            && !compact.starts_with("rollback")
        {
            self.in_trans = true;
        }
        Some(StmtResult::ok())
    }

    fn answer(&mut self, sql: &str) -> Result<StmtResult, MySqlError> {
        if self.root {
            self.state.root_queries.fetch_add(1, Ordering::SeqCst);
            if self.state.refuse.load(Ordering::SeqCst) {
                return Err(MySqlError::new(
                    1047,
                    "08S01",
                    "WSREP has not yet prepared node for application use",
                ));
            }
        }
        let q = sql.trim().trim_end_matches(';').to_ascii_lowercase();
        if let Some(db) = q.strip_prefix("use ") {
            let db = db.trim().trim_matches('`');
            if db == "missing" {
                return Err(MySqlError::unknown_database(db));
            }
            self.db = Some(db.to_string());
            return Ok(StmtResult::ok());
        }
        if let Some(r) = self.session_answer(&q) {
            return Ok(r);
        }
        if q.starts_with("show global status like 'wsrep")
            || q.starts_with("show status like 'wsrep")
        {
            self.state.status_queries.fetch_add(1, Ordering::SeqCst);
            let ls = self.state.local_state.load(Ordering::SeqCst);
            let comment = match ls {
                1 => "Joining",
                2 => "Donor/Desynced",
                3 => "Joined",
                4 => "Synced",
                _ => "Initialized",
            };
            let ready = if self.state.ready.load(Ordering::SeqCst) {
                "ON"
            } else {
                "OFF"
            };
            let s = |v: &str| Value::Bytes(v.as_bytes().to_vec());
            return Ok(text_rows(
                &["Variable_name", "Value"],
                vec![
                    vec![s("wsrep_cluster_size"), s("3")],
                    vec![s("wsrep_cluster_status"), s("Primary")],
                    vec![s("wsrep_local_state"), s(&ls.to_string())],
                    vec![s("wsrep_local_state_comment"), s(comment)],
                    vec![s("wsrep_ready"), s(ready)],
                ],
            ));
        }
        if q.starts_with("show global variables like 'wsrep") {
            let vars = self.state.variables.lock().unwrap().clone();
            let s = |v: &str| Value::Bytes(v.as_bytes().to_vec());
            return Ok(text_rows(
                &["Variable_name", "Value"],
                vars.iter().map(|(n, v)| vec![s(n), s(v)]).collect(),
            ));
        }
        if let Some(list) = q.strip_prefix("select @@") {
            let names: Vec<String> = format!("@@{list}")
                .split(',')
                .map(|v| v.trim().to_string())
                .collect();
            let row = names
                .iter()
                .map(|n| match n.as_str() {
                    "@@server_id" => Value::Int(self.id as i64),
                    "@@max_allowed_packet" => Value::Int(64 << 20),
                    "@@wait_timeout" => Value::Int(28800),
                    _ => Value::NULL,
                })
                .collect();
            let columns = names
                .iter()
                .map(|n| ColumnDef::new(n.as_str(), ColumnType::MYSQL_TYPE_LONGLONG))
                .collect();
            return Ok(StmtResult::Rows {
                columns,
                rows: vec![row],
            });
        }
        Ok(StmtResult::ok())
    }
}

impl Drop for ToySession {
    fn drop(&mut self) {
        self.state.sessions.fetch_sub(1, Ordering::SeqCst);
        if self.root {
            self.state.root_sessions.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Handler for ToySession {
    type Statement = String;

    async fn query(&mut self, sql: &str) -> Vec<Result<StmtResult, MySqlError>> {
        vec![self.answer(sql)]
    }

    async fn prepare(&mut self, sql: &str) -> Result<(String, PrepareInfo), MySqlError> {
        Ok((
            sql.to_string(),
            PrepareInfo {
                params: 0,
                columns: vec![],
            },
        ))
    }

    async fn execute(
        &mut self,
        _stmt: &mut String,
        _params: Vec<Value>,
    ) -> Result<StmtResult, MySqlError> {
        Ok(StmtResult::ok())
    }

    async fn init_db(&mut self, db: &str) -> Result<(), MySqlError> {
        if db == "missing" {
            return Err(MySqlError::unknown_database(db));
        }
        self.db = Some(db.to_string());
        Ok(())
    }

    async fn reset_connection(&mut self) -> Result<(), MySqlError> {
        self.in_trans = false;
        self.autocommit = true;
        self.user_vars.clear();
        Ok(())
    }

    fn status(&self) -> trireme_wire::StatusFlags {
        use trireme_wire::StatusFlags as S;
        let mut f = S::empty();
        if self.autocommit {
            f |= S::SERVER_STATUS_AUTOCOMMIT;
        }
        if self.in_trans {
            f |= S::SERVER_STATUS_IN_TRANS;
        }
        f
    }

    fn killed(&self) -> impl std::future::Future<Output = ()> + Send {
        let mut rx = self.kill.clone();
        async move {
            let _ = rx.changed().await;
        }
    }
}

/// A toy node listening on an ephemeral loopback port.
pub struct ToyNode {
    pub id: u64,
    pub addr: SocketAddr,
    pub state: Arc<ToyState>,
    task: Option<JoinHandle<()>>,
}

impl ToyNode {
    /// Starts node `id`, Synced and ready, with mysql_native_password.
    pub async fn start(id: u64) -> ToyNode {
        Self::start_with(id, AuthPlugin::NativePassword).await
    }

    /// Starts node `id` announcing `plugin` in its greeting.
    pub async fn start_with(id: u64, plugin: AuthPlugin) -> ToyNode {
        Self::start_full(id, plugin, None).await
    }

    /// Starts node `id` offering TLS with `tls`.
    pub async fn start_tls(id: u64, tls: Arc<rustls::ServerConfig>) -> ToyNode {
        Self::start_full(id, AuthPlugin::CachingSha2Password, Some(tls)).await
    }

    async fn start_full(
        id: u64,
        plugin: AuthPlugin,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> ToyNode {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(ToyState {
            local_state: AtomicU32::new(4),
            ready: AtomicBool::new(true),
            status_queries: AtomicU64::new(0),
            variables: std::sync::Mutex::new(Vec::new()),
            sessions: AtomicU64::new(0),
            root_sessions: AtomicU64::new(0),
            root_sessions_max: AtomicU64::new(0),
            root_queries: AtomicU64::new(0),
            refuse: AtomicBool::new(false),
            kill: watch::channel(0).0,
        });
        let users = StaticUsers::new()
            .with_user(USER, PASSWORD)
            .with_user(MONITOR_USER, MONITOR_PASSWORD);
        let mut config = ServerConfig::new(users);
        config.default_auth_plugin = plugin;
        config.tls = tls;
        let config = Arc::new(config);
        let st = state.clone();
        let task = tokio::spawn(async move {
            let _ = trireme_wire::serve(listener, config, move |info: &SessionInfo| {
                st.sessions.fetch_add(1, Ordering::SeqCst);
                let root = info.user == USER;
                if root {
                    let now = st.root_sessions.fetch_add(1, Ordering::SeqCst) + 1;
                    st.root_sessions_max.fetch_max(now, Ordering::SeqCst);
                }
                Ok(ToySession {
                    id,
                    state: st.clone(),
                    kill: st.kill.subscribe(),
                    conn_id: info.connection_id,
                    root,
                    in_trans: false,
                    autocommit: true,
                    db: info.database.clone(),
                    user_vars: Default::default(),
                })
            })
            .await;
        });
        ToyNode {
            id,
            addr,
            state,
            task: Some(task),
        }
    }

    /// Sets `wsrep_local_state` as the next check will read it.
    pub fn set_local_state(&self, s: u32) {
        self.state.local_state.store(s, Ordering::SeqCst);
    }

    /// Sets a global variable as `SHOW GLOBAL VARIABLES` reports it.
    pub fn set_variable(&self, name: &str, value: &str) {
        let mut v = self.state.variables.lock().unwrap();
        v.retain(|(n, _)| n != name);
        v.push((name.to_string(), value.to_string()));
    }

    /// Health checks answered so far.
    pub fn status_queries(&self) -> u64 {
        self.state.status_queries.load(Ordering::SeqCst)
    }

    /// Closes the listener: new connections are refused. Existing sessions
    /// (including the proxy's monitor connection) stay.
    pub async fn stop_listening(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }

    /// Ends every idle session (as a node shutdown does: ERR 1927, close).
    pub fn kill_sessions(&self) {
        self.state.kill.send_modify(|e| *e += 1);
    }
}

impl Drop for ToyNode {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
        self.kill_sessions();
    }
}

/// A proxy config for `nodes`: write port on an ephemeral port, manual
/// health checks only (interval of an hour; tests call `check_now`),
/// generous timeouts for a loaded machine, rise 2, fall 3.
pub fn config(nodes: &[&ToyNode]) -> ProxyConfig {
    let mut c = ProxyConfig::new(
        "127.0.0.1:0",
        nodes.iter().map(|n| n.addr.to_string()).collect(),
    );
    c.monitor.user = MONITOR_USER.into();
    c.monitor.password = MONITOR_PASSWORD.into();
    c.monitor.check_interval_ms = 3_600_000;
    c.monitor.check_timeout_ms = 60_000;
    c.monitor.rise = 2;
    c.monitor.fall = 3;
    c.backend_connect_timeout_ms = 60_000;
    c.handshake_timeout_ms = 60_000;
    c
}

/// mysql_async options for `addr` (no settings query, no socket lookup).
pub fn opts(addr: SocketAddr, user: &str, password: &str) -> mysql_async::Opts {
    mysql_async::OptsBuilder::default()
        .ip_or_hostname(addr.ip().to_string())
        .tcp_port(addr.port())
        .user(Some(user))
        .pass(Some(password))
        .prefer_socket(false)
        .into()
}

/// Connects as root through `addr`.
pub async fn connect(addr: SocketAddr) -> Result<mysql_async::Conn, mysql_async::Error> {
    mysql_async::Conn::new(opts(addr, USER, PASSWORD)).await
}

/// `SELECT @@server_id` on `conn`.
pub async fn server_id(conn: &mut mysql_async::Conn) -> Result<u64, mysql_async::Error> {
    use mysql_async::prelude::Queryable;
    let v: Option<u64> = conn.query_first("SELECT @@server_id").await?;
    Ok(v.unwrap_or(0))
}

/// The id of the node a new root session through `addr` lands on; the
/// session is closed again.
pub async fn lands_on(addr: SocketAddr) -> u64 {
    let mut c = connect(addr).await.expect("connect through the proxy");
    let id = server_id(&mut c).await.expect("SELECT @@server_id");
    c.disconnect().await.expect("disconnect");
    id
}

/// The MySQL error code of a failed call, if it was a server error.
pub fn server_code(e: &mysql_async::Error) -> Option<u16> {
    match e {
        mysql_async::Error::Server(s) => Some(s.code),
        _ => None,
    }
}

/// Bounds a whole test so a hang fails instead of blocking CI.
pub async fn bounded<F: std::future::Future<Output = ()>>(f: F) {
    tokio::time::timeout(Duration::from_secs(300), f)
        .await
        .expect("test did not finish within 300 s");
}

/// Waits until `cond` holds, polling a bounded number of times (for
/// effects that follow a socket close asynchronously; no timing is
/// asserted, the bound only turns a hang into a failure).
pub async fn eventually(mut cond: impl FnMut() -> bool) {
    for _ in 0..1200 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("condition never became true");
}
