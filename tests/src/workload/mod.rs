//! Workloads: what clients do, and how each outcome is classified.
//!
//! # Honest outcomes
//!
//! Every operation ends `ok`, `fail` or `info` (see [`crate::history`]). The
//! rule, applied in one place ([`outcome`]):
//!
//! | where the error happened | read-only op | writing op |
//! |---|---|---|
//! | connecting | fail | fail |
//! | any statement before COMMIT (incl. 1213, 1047, timeouts, lost connections) | fail | fail |
//! | COMMIT answered 1213 (certification conflict) | fail | fail |
//! | COMMIT answered anything else (1180 "outcome unknown", 1047, ...), timed out, or lost its connection | fail | **info** |
//!
//! Writing operations always run in an explicit transaction, so nothing can
//! take effect before the COMMIT is sent: an error before it is a definite
//! failure (the server rolls the transaction back; if it ever did not, the
//! checkers would catch the "failed" write appearing). Read-only operations
//! change nothing, so they can always be failed.
//!
//! # Workloads
//!
//! - [`bank`]: transfers between accounts, reads of all balances.
//! - [`set`]: inserts of unique elements, reads of all elements.
//! - [`list_append`]: Elle-style transactions of appends and reads.
//! - [`ddl`]: CREATE / ALTER / DROP TABLE racing with inserts, on every node.

pub mod bank;
pub mod ddl;
pub mod list_append;
pub mod set;

use std::net::SocketAddr;
use std::time::Duration;

use mysql_async::prelude::*;
use mysql_async::{Conn, Opts, OptsBuilder};
use serde::{Deserialize, Serialize};

use crate::checker::CheckResult;
use crate::history::{Op, OpType, Value, F};
use crate::rng::Rng;

/// The database every workload uses.
pub const DB: &str = "jepsen";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum WorkloadKind {
    /// Transfers between accounts; checks the total and per-account balances.
    Bank,
    /// Elle-style list-append transactions; checks G0..G2 cycles.
    ListAppend,
    /// Unique inserts; checks that acknowledged inserts survive.
    Set,
    /// Schema changes (create, add column, add index, drop) racing with
    /// inserts; acknowledged inserts survive, nodes agree.
    Ddl,
}

impl WorkloadKind {
    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::Bank => "bank",
            WorkloadKind::ListAppend => "list-append",
            WorkloadKind::Set => "set",
            WorkloadKind::Ddl => "ddl",
        }
    }
}

/// Where in an operation an error happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Connect,
    /// A statement before COMMIT.
    Body,
    Commit,
}

/// An error during an operation.
#[derive(Clone, Debug)]
pub struct OpError {
    pub stage: Stage,
    /// MySQL error code, when the server answered with one.
    pub code: Option<u16>,
    pub msg: String,
    /// Whether the connection is unusable afterwards (I/O error, timeout).
    pub broken: bool,
}

impl OpError {
    /// A refusal by the workload itself (e.g. insufficient funds): the
    /// transaction was rolled back before COMMIT.
    pub fn refused(msg: &str) -> OpError {
        OpError {
            stage: Stage::Body,
            code: None,
            msg: msg.to_owned(),
            broken: false,
        }
    }
}

pub const ER_LOCK_DEADLOCK: u16 = 1213;

/// The outcome of a failed operation (the table in the module docs).
pub fn outcome(e: &OpError, read_only: bool) -> OpType {
    if read_only {
        return OpType::Fail;
    }
    match e.stage {
        Stage::Connect | Stage::Body => OpType::Fail,
        Stage::Commit if e.code == Some(ER_LOCK_DEADLOCK) => OpType::Fail,
        Stage::Commit => OpType::Info,
    }
}

/// Client settings shared by every connection.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub user: String,
    pub password: String,
    /// Bound on connecting, and on each statement.
    pub connect_timeout: Duration,
    pub statement_timeout: Duration,
}

/// One client connection to one node, reconnecting lazily.
pub struct Session {
    pub addr: SocketAddr,
    cfg: ClientConfig,
    db: Option<String>,
    conn: Option<Conn>,
}

impl Session {
    pub fn new(addr: SocketAddr, cfg: ClientConfig, db: Option<&str>) -> Session {
        Session {
            addr,
            cfg,
            db: db.map(str::to_owned),
            conn: None,
        }
    }

    fn opts(&self) -> Opts {
        OptsBuilder::default()
            .ip_or_hostname(self.addr.ip().to_string())
            .tcp_port(self.addr.port())
            .user(Some(self.cfg.user.clone()))
            .pass(Some(self.cfg.password.clone()))
            .db_name(self.db.clone())
            .prefer_socket(false)
            .tcp_nodelay(true)
            .stmt_cache_size(0)
            .into()
    }

    async fn connection(&mut self) -> Result<&mut Conn, OpError> {
        if self.conn.is_none() {
            let fut = Conn::new(self.opts());
            let c = match tokio::time::timeout(self.cfg.connect_timeout, fut).await {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => return Err(classify(Stage::Connect, e)),
                Err(_) => {
                    return Err(OpError {
                        stage: Stage::Connect,
                        code: None,
                        msg: "connect timeout".into(),
                        broken: true,
                    })
                }
            };
            self.conn = Some(c);
        }
        Ok(self.conn.as_mut().expect("just connected"))
    }

    /// Forgets the connection (it will be replaced on next use).
    pub fn drop_conn(&mut self) {
        self.conn = None;
    }

    fn fail(&mut self, e: OpError) -> OpError {
        if e.broken {
            self.drop_conn();
        }
        e
    }

    /// Runs a statement, discarding results.
    pub async fn exec(&mut self, sql: &str, stage: Stage) -> Result<(), OpError> {
        let t = self.cfg.statement_timeout;
        let conn = self.connection().await?;
        let r = match tokio::time::timeout(t, conn.query_drop(sql)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(classify(stage, e)),
            Err(_) => Err(timeout_error(stage, sql)),
        };
        r.map_err(|e| self.fail(e))
    }

    /// Runs a query and collects its rows.
    pub async fn query<T: FromRow + Send + 'static>(
        &mut self,
        sql: &str,
        stage: Stage,
    ) -> Result<Vec<T>, OpError> {
        let t = self.cfg.statement_timeout;
        let conn = self.connection().await?;
        let r = match tokio::time::timeout(t, conn.query::<T, _>(sql)).await {
            Ok(Ok(rows)) => Ok(rows),
            Ok(Err(e)) => Err(classify(stage, e)),
            Err(_) => Err(timeout_error(stage, sql)),
        };
        r.map_err(|e| self.fail(e))
    }

    /// Best-effort ROLLBACK after a failure; drops the connection if even
    /// that does not work.
    pub async fn rollback(&mut self) {
        if self.conn.is_some() && self.exec("ROLLBACK", Stage::Body).await.is_err() {
            self.drop_conn();
        }
    }

    pub async fn close(&mut self) {
        if let Some(c) = self.conn.take() {
            let _ = tokio::time::timeout(Duration::from_secs(1), c.disconnect()).await;
        }
    }
}

fn timeout_error(stage: Stage, sql: &str) -> OpError {
    let what: String = sql.chars().take(40).collect();
    OpError {
        stage,
        code: None,
        msg: format!("timeout during {what}"),
        broken: true,
    }
}

fn classify(stage: Stage, e: mysql_async::Error) -> OpError {
    match e {
        mysql_async::Error::Server(s) => OpError {
            stage,
            code: Some(s.code),
            msg: format!("{} {}", s.code, s.message),
            broken: false,
        },
        other => OpError {
            stage,
            code: None,
            msg: other.to_string(),
            broken: true,
        },
    }
}

/// Ends a transaction whose statements ran (`body`): COMMIT when they
/// succeeded, ROLLBACK when they did not.
pub async fn finish<T>(s: &mut Session, body: Result<T, OpError>) -> Result<T, OpError> {
    match body {
        Ok(v) => match s.exec("COMMIT", Stage::Commit).await {
            Ok(()) => Ok(v),
            Err(e) => {
                // The server has ended the transaction (or the connection is
                // gone); make sure the session is clean for the next one.
                s.rollback().await;
                Err(e)
            }
        },
        Err(e) => {
            s.rollback().await;
            Err(e)
        }
    }
}

/// A workload instance (shared by all clients of a run).
pub enum Workload {
    Bank(bank::Bank),
    Set(set::SetWorkload),
    ListAppend(list_append::ListAppend),
    Ddl(ddl::DdlWorkload),
}

impl Workload {
    pub fn new(kind: WorkloadKind) -> Workload {
        match kind {
            WorkloadKind::Bank => Workload::Bank(bank::Bank::new(5, 20)),
            WorkloadKind::Set => Workload::Set(set::SetWorkload::new()),
            WorkloadKind::ListAppend => {
                Workload::ListAppend(list_append::ListAppend::new(5, 32, 4))
            }
            WorkloadKind::Ddl => Workload::Ddl(ddl::DdlWorkload::new()),
        }
    }

    pub fn kind(&self) -> WorkloadKind {
        match self {
            Workload::Bank(_) => WorkloadKind::Bank,
            Workload::Set(_) => WorkloadKind::Set,
            Workload::ListAppend(_) => WorkloadKind::ListAppend,
            Workload::Ddl(_) => WorkloadKind::Ddl,
        }
    }

    /// Statements creating the schema and initial data (run once, on one
    /// node, before the clients start), after `CREATE DATABASE` / `USE`.
    pub fn setup(&self) -> Vec<String> {
        match self {
            Workload::Bank(b) => b.setup(),
            Workload::Set(s) => s.setup(),
            Workload::ListAppend(l) => l.setup(),
            Workload::Ddl(d) => d.setup(),
        }
    }

    /// A query that must succeed on every node before clients start (the
    /// schema and initial data have arrived there).
    pub fn ready_probe(&self) -> &'static str {
        match self {
            Workload::Bank(_) => "SELECT COUNT(*) FROM accounts",
            Workload::Set(_) => "SELECT COUNT(*) FROM elements",
            Workload::ListAppend(_) => "SELECT COUNT(*) FROM lists",
            Workload::Ddl(_) => "SELECT COUNT(*) FROM ddl_marker",
        }
    }

    /// The next operation client `slot` invokes.
    pub fn generate(&self, slot: usize, rng: &mut Rng) -> (F, Value) {
        match self {
            Workload::Bank(b) => b.generate(rng),
            Workload::Set(s) => s.generate(rng),
            Workload::ListAppend(l) => l.generate(rng),
            Workload::Ddl(d) => d.generate(slot, rng),
        }
    }

    /// The final read's invocation.
    pub fn final_read(&self) -> Value {
        match self {
            Workload::Bank(_) => Value::Balances(None),
            Workload::Set(_) => Value::Elements(None),
            Workload::ListAppend(l) => l.final_read(),
            Workload::Ddl(_) => Value::Tables(None),
        }
    }

    /// Whether an operation only reads.
    pub fn read_only(f: F, v: &Value) -> bool {
        match (f, v) {
            (F::Read | F::FinalRead, _) => true,
            (F::Txn, Value::Txn(mops)) => {
                mops.iter().all(|m| matches!(m, crate::history::Mop::R(..)))
            }
            _ => false,
        }
    }

    /// Executes one operation; `Ok` carries the completed value.
    pub async fn invoke(&self, s: &mut Session, f: F, v: &Value) -> Result<Value, OpError> {
        match self {
            Workload::Bank(b) => b.invoke(s, f, v).await,
            Workload::Set(w) => w.invoke(s, f, v).await,
            Workload::ListAppend(l) => l.invoke(s, f, v).await,
            Workload::Ddl(d) => d.invoke(s, f, v).await,
        }
    }

    pub fn check(&self, ops: &[Op], nodes: &[String]) -> CheckResult {
        match self {
            Workload::Bank(b) => b.check(ops, nodes),
            Workload::Set(_) => crate::checker::set::check(
                ops,
                &crate::checker::set::SetOpts {
                    nodes: nodes.to_vec(),
                },
            ),
            Workload::ListAppend(_) => crate::checker::list_append::check(
                ops,
                &crate::checker::list_append::ListAppendOpts {
                    nodes: nodes.to_vec(),
                    ..Default::default()
                },
            ),
            Workload::Ddl(_) => crate::checker::ddl::check(
                ops,
                &crate::checker::ddl::DdlOpts {
                    nodes: nodes.to_vec(),
                },
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(stage: Stage, code: Option<u16>) -> OpError {
        OpError {
            stage,
            code,
            msg: String::new(),
            broken: code.is_none(),
        }
    }

    #[test]
    fn commit_ambiguity_is_info_and_everything_else_fails() {
        // Writes.
        assert_eq!(outcome(&err(Stage::Connect, None), false), OpType::Fail);
        assert_eq!(outcome(&err(Stage::Body, Some(1213)), false), OpType::Fail);
        assert_eq!(outcome(&err(Stage::Body, Some(1047)), false), OpType::Fail);
        assert_eq!(
            outcome(&err(Stage::Body, None), false),
            OpType::Fail,
            "lost connection before COMMIT"
        );
        assert_eq!(
            outcome(&err(Stage::Commit, Some(1213)), false),
            OpType::Fail
        );
        assert_eq!(
            outcome(&err(Stage::Commit, Some(1180)), false),
            OpType::Info
        );
        assert_eq!(
            outcome(&err(Stage::Commit, Some(1047)), false),
            OpType::Info
        );
        assert_eq!(
            outcome(&err(Stage::Commit, None), false),
            OpType::Info,
            "timeout / lost connection at COMMIT"
        );
        // Reads change nothing.
        assert_eq!(outcome(&err(Stage::Commit, None), true), OpType::Fail);
    }

    #[test]
    fn read_only_classification() {
        use crate::history::Mop;
        assert!(Workload::read_only(F::Read, &Value::Balances(None)));
        assert!(Workload::read_only(
            F::Txn,
            &Value::Txn(vec![Mop::R(1, None)])
        ));
        assert!(!Workload::read_only(
            F::Txn,
            &Value::Txn(vec![Mop::R(1, None), Mop::Append(1, 2)])
        ));
        assert!(!Workload::read_only(F::Add, &Value::Element(3)));
    }
}
