//! The seam between the wire driver and the SQL engine: the [`Handler`]
//! trait a node implements, one instance per connection.
//!
//! # Contract
//!
//! - The driver calls the handler from one task, one call at a time, in the
//!   order the client sent its commands. A call's future may take as long as
//!   it needs (a COMMIT waiting for certification); the client waits too.
//! - The driver owns statement ids. [`Handler::prepare`] returns the
//!   handler's own statement object; the driver stores it under an id it
//!   assigns and hands it back to [`Handler::execute`], [`Handler::reset`] and
//!   finally [`Handler::close`] (also on COM_RESET_CONNECTION,
//!   COM_CHANGE_USER and disconnect). Parameter types bound by the client are
//!   remembered by the driver across executes, and long data is assembled by
//!   the driver: `execute` always receives complete, decoded values.
//! - Status flags for every OK/EOF come from [`Handler::status`], called when
//!   each packet is built (after the call that produced it returned). The
//!   driver adds SERVER_MORE_RESULTS_EXISTS itself; the handler reports
//!   SERVER_STATUS_AUTOCOMMIT and SERVER_STATUS_IN_TRANS (and may report
//!   others, e.g. SERVER_STATUS_NO_BACKSLASH_ESCAPES).
//! - [`Handler::quit`] is called exactly once when the connection ends, for
//!   any reason (COM_QUIT, the client vanishing, a protocol error, a
//!   timeout): roll back open transactions there.
//! - Errors are returned as [`MySqlError`] and sent as ERR packets; they never
//!   end the connection.

use std::future::Future;
use std::net::SocketAddr;

use mysql_common::constants::{CapabilityFlags, StatusFlags};
use mysql_common::value::Value;

use crate::error::MySqlError;
use crate::types::{PrepareInfo, StmtResult};

/// Who is connected. Given to the handler factory after a successful login
/// and to [`Handler::change_user`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Unique id of this connection in this process (`CONNECTION_ID()`).
    pub connection_id: u32,
    /// Authenticated user name.
    pub user: String,
    /// Client host as used in error messages and grants (peer IP address,
    /// or `localhost` when unknown).
    pub host: String,
    /// Peer socket address, when known.
    pub peer: Option<SocketAddr>,
    /// Default database requested at login or by COM_CHANGE_USER.
    pub database: Option<String>,
    /// Whether the connection is encrypted.
    pub tls: bool,
    /// Capabilities negotiated with the client.
    pub capabilities: CapabilityFlags,
    /// Connection attributes sent by the client (`_client_name`, ...).
    pub attributes: Vec<(String, String)>,
}

/// One connection's SQL session, as the wire driver sees it.
///
/// Implementations can write `async fn` for every method; the returned
/// futures must be `Send` because connections run on tokio's multi-threaded
/// runtime.
pub trait Handler: Send + 'static {
    /// The handler's representation of a prepared statement.
    type Statement: Send + 'static;

    /// Runs the full text of a COM_QUERY, which may hold several statements
    /// separated by `;` (CLIENT_MULTI_STATEMENTS). Returns one entry per
    /// statement, in order. Stop at the first error and make it the last
    /// entry: the driver sends the earlier results (flagged
    /// SERVER_MORE_RESULTS_EXISTS), then the ERR, and ignores anything after
    /// it. An empty vector is answered with a plain OK.
    fn query(
        &mut self,
        sql: &str,
    ) -> impl Future<Output = Vec<Result<StmtResult, MySqlError>>> + Send;

    /// The raw bytes of a COM_QUERY. The default checks they are UTF-8
    /// (else ERR 1300, like a utf8mb4 connection) and calls
    /// [`Handler::query`]. Override to accept non-UTF-8 bytes inside
    /// `_binary'...'` literals, which some drivers (PyMySQL) send for
    /// binary values.
    fn query_bytes(
        &mut self,
        sql: &[u8],
    ) -> impl Future<Output = Vec<Result<StmtResult, MySqlError>>> + Send {
        async move {
            match crate::error::utf8(sql) {
                Ok(sql) => self.query(sql).await,
                Err(e) => vec![Err(e)],
            }
        }
    }

    /// COM_STMT_PREPARE: parses `sql` (with `?` placeholders) and reports its
    /// parameter count and result columns.
    fn prepare(
        &mut self,
        sql: &str,
    ) -> impl Future<Output = Result<(Self::Statement, PrepareInfo), MySqlError>> + Send;

    /// COM_STMT_EXECUTE: runs a prepared statement with exactly as many
    /// parameters as `prepare` reported (NULLs as `Value::NULL`).
    fn execute(
        &mut self,
        stmt: &mut Self::Statement,
        params: Vec<Value>,
    ) -> impl Future<Output = Result<StmtResult, MySqlError>> + Send;

    /// COM_STMT_CLOSE (and implicit closes). No reply is sent.
    fn close(&mut self, stmt: Self::Statement) -> impl Future<Output = ()> + Send {
        drop(stmt);
        async {}
    }

    /// COM_STMT_RESET: forget per-execution state (long data is already
    /// cleared by the driver).
    fn reset(
        &mut self,
        stmt: &mut Self::Statement,
    ) -> impl Future<Output = Result<(), MySqlError>> + Send {
        let _ = stmt;
        async { Ok(()) }
    }

    /// COM_INIT_DB (`USE db`, or the database given at login).
    fn init_db(&mut self, db: &str) -> impl Future<Output = Result<(), MySqlError>> + Send;

    /// COM_CHANGE_USER after the driver verified the new user's password:
    /// reset the session as for COM_RESET_CONNECTION and adopt `info`
    /// (the driver calls [`Handler::init_db`] afterwards when a database was
    /// given).
    fn change_user(
        &mut self,
        info: &SessionInfo,
    ) -> impl Future<Output = Result<(), MySqlError>> + Send {
        let _ = info;
        async { Ok(()) }
    }

    /// COM_RESET_CONNECTION: roll back, drop temporary state, reset session
    /// variables. Prepared statements are closed by the driver first.
    fn reset_connection(&mut self) -> impl Future<Output = Result<(), MySqlError>> + Send {
        async { Ok(()) }
    }

    /// COM_PING. An error here tells health checks the node is not usable.
    fn ping(&mut self) -> impl Future<Output = Result<(), MySqlError>> + Send {
        async { Ok(()) }
    }

    /// COM_STATISTICS text (`mysqladmin status`). Clients look for `Uptime:`.
    fn statistics(&mut self) -> impl Future<Output = String> + Send {
        async {
            "Uptime: 0  Threads: 1  Questions: 0  Slow queries: 0  Opens: 0  \
             Open tables: 0  Queries per second avg: 0.000"
                .to_string()
        }
    }

    /// The connection ended (see the module contract).
    fn quit(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// Resolves when the connection must end (KILL CONNECTION from another
    /// session, node shutdown). Polled only while the connection is idle
    /// between commands; the driver then sends ERR 1927 and closes (calling
    /// [`Handler::quit`]). A command in progress is the handler's to
    /// interrupt. The default never resolves.
    fn killed(&self) -> impl Future<Output = ()> + Send {
        std::future::pending()
    }

    /// Session status flags for the next OK/EOF packet.
    fn status(&self) -> StatusFlags {
        StatusFlags::SERVER_STATUS_AUTOCOMMIT
    }
}
