//! `trireme-wire`: the MySQL client/server protocol for trireme.
//!
//! The node serves MySQL clients (mysql CLI, sysbench, PyMySQL,
//! mysql_async, ...) through this crate; the proxy reuses its framing and
//! its minimal client. Packet and value *types* come from `mysql_common`;
//! the session state machine, the encodings and the checks are ours, so
//! that the front door never panics on hostile input and decodes
//! re-executed prepared statements right.
//!
//! # Map
//!
//! | module | what it owns |
//! |---|---|
//! | [`codec`] | framing: 4-byte headers, sequence ids, 16 MiB fragments, `max_allowed_packet` |
//! | [`buf`] | bounds-checked primitive encodings |
//! | [`protocol`] | message layouts (handshake, OK/ERR/EOF, column definitions, commands, COM_STMT_EXECUTE) |
//! | [`value`] | text and binary value encodings |
//! | [`auth`] | credentials, the user table, native and caching_sha2 checks |
//! | [`handler`] | the [`Handler`] trait a node implements |
//! | [`server`] | [`ServerConfig`], [`serve`], [`serve_connection`]: the connection state machine |
//! | [`client`] | a minimal client (health checks, tools, packet pass-through) |
//! | [`error`] | [`MySqlError`] (sent to clients) and [`WireError`] (ends a connection) |
//!
//! # Example: a node's listener
//!
//! ```no_run
//! use std::sync::Arc;
//! use trireme_wire::{
//!     serve, Handler, MySqlError, PrepareInfo, ServerConfig, SessionInfo, StaticUsers,
//!     StmtResult, ColumnDef, Value, ColumnType,
//! };
//!
//! struct Session;
//!
//! impl Handler for Session {
//!     type Statement = String;
//!     async fn query(&mut self, sql: &str) -> Vec<Result<StmtResult, MySqlError>> {
//!         if sql.eq_ignore_ascii_case("select 1") {
//!             let columns = vec![ColumnDef::new("1", ColumnType::MYSQL_TYPE_LONGLONG)];
//!             vec![Ok(StmtResult::Rows { columns, rows: vec![vec![Value::Int(1)]] })]
//!         } else {
//!             vec![Err(MySqlError::syntax(sql))]
//!         }
//!     }
//!     async fn prepare(&mut self, sql: &str) -> Result<(String, PrepareInfo), MySqlError> {
//!         Ok((sql.to_string(), PrepareInfo { params: 0, columns: vec![] }))
//!     }
//!     async fn execute(&mut self, _stmt: &mut String, _params: Vec<Value>)
//!         -> Result<StmtResult, MySqlError> {
//!         Ok(StmtResult::ok())
//!     }
//!     async fn init_db(&mut self, _db: &str) -> Result<(), MySqlError> { Ok(()) }
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let users = StaticUsers::new().with_user("root", "secret");
//! let config = Arc::new(ServerConfig::new(users));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3306").await?;
//! serve(listener, config, |_info: &SessionInfo| Ok(Session)).await
//! # }
//! ```

#![warn(missing_docs)]

pub mod auth;
pub mod buf;
pub mod client;
pub mod codec;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod handler;
pub mod protocol;
pub mod server;
pub mod types;
pub mod value;

pub use auth::{AuthPlugin, Credentials, StaticUsers, UserStore};
pub use codec::{PacketCodec, PacketStream, Timeouts};
pub use error::{codes, MySqlError, WireError};
pub use handler::{Handler, SessionInfo};
pub use mysql_common::constants::{CapabilityFlags, ColumnFlags, ColumnType, StatusFlags};
pub use mysql_common::value::Value;
pub use server::{serve, serve_connection, ServerConfig};
pub use types::{ColumnDef, OkInfo, PrepareInfo, StmtResult, CHARSET_BINARY, CHARSET_UTF8MB4};
