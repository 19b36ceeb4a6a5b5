//! The server side: configuration, the accept loop, and the per-connection
//! state machine.
//!
//! # One connection, step by step
//!
//! 1. [`serve_connection`] picks a unique connection id and a fresh 20-byte
//!    salt and sends HandshakeV10 (seq 0).
//! 2. It reads the HandshakeResponse41 (seq 1). If that is an SSLRequest and
//!    TLS is configured, TLS starts and the real response follows inside it.
//!    The whole phase is bounded by [`ServerConfig::connect_timeout`] and
//!    payloads are capped at 64 KiB.
//! 3. Authentication (see [`crate::auth`]): the user table decides; at most
//!    one AuthSwitchRequest; failure is ERR 1045 and the connection closes.
//! 4. The handler is created by the factory with the [`SessionInfo`]; a
//!    database from the handshake is applied with `init_db`; OK is sent.
//! 5. Command phase: each command starts at sequence id 0 and is answered
//!    completely before the next one is read. Idle time between commands is
//!    bounded by `wait_timeout`, a stalled packet or write by `net_timeout`.
//!    While idle, [`Handler::killed`] firing ends the connection with
//!    ERR 1927 (KILL CONNECTION, node shutdown).
//!
//! # Invariants
//!
//! - Every command gets exactly the reply the protocol prescribes (none for
//!   COM_QUIT, COM_STMT_CLOSE and COM_STMT_SEND_LONG_DATA), or the connection
//!   ends. Unknown commands get ERR 1047.
//! - No client input can panic this code or make it allocate more than
//!   `max_allowed_packet` per payload (plus the same bound for the long data
//!   of one statement). A framing error, malformed handshake or malformed
//!   command ends the connection with a logged reason (and an ERR packet
//!   when the client can still read one). Undecodable COM_STMT_EXECUTE
//!   parameters only fail that command (ERR 1210).
//! - Prepared statements live in this connection only; re-executions
//!   without re-sent parameter types reuse the types of the last execute
//!   that sent them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mysql_common::constants::{CapabilityFlags, StatusFlags};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tracing::{debug, info, warn, Instrument};

use crate::auth::{new_salt, AuthPlugin, UserStore};
use crate::codec::{PacketStream, Timeouts};
use crate::error::{codes, MySqlError, WireError};
use crate::handler::{Handler, SessionInfo};
use crate::protocol::{self, Command, ParamType};
use crate::types::{ColumnDef, StmtResult};

/// Server settings shared by all connections.
#[derive(Clone)]
pub struct ServerConfig {
    /// Version string in the handshake and `@@version`. MariaDB-flavoured
    /// by default so MariaDB clients and Galera tooling recognise it.
    pub server_version: String,
    /// The user table.
    pub users: Arc<dyn UserStore>,
    /// Plugin announced in the handshake.
    pub default_auth_plugin: AuthPlugin,
    /// Largest client payload accepted (ERROR 1153 above it). 64 MiB.
    pub max_allowed_packet: usize,
    /// Bound on the whole login phase. 10 s.
    pub connect_timeout: Duration,
    /// Idle time allowed between commands (`wait_timeout`). 8 h.
    pub wait_timeout: Option<Duration>,
    /// Bound on finishing a started packet and on each write
    /// (`net_read_timeout`/`net_write_timeout`). 30 s.
    pub net_timeout: Duration,
    /// TLS, offered with CLIENT_SSL when set.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Refuse logins that did not start TLS (needs `tls`).
    pub require_secure_transport: bool,
    /// Prepared statements allowed per connection (ERROR 1461 above).
    pub max_prepared_stmt_count: usize,
    /// Collation id announced in the handshake (45 = utf8mb4_general_ci).
    pub charset: u8,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("server_version", &self.server_version)
            .field("default_auth_plugin", &self.default_auth_plugin)
            .field("max_allowed_packet", &self.max_allowed_packet)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// Default `server_version`.
pub const DEFAULT_SERVER_VERSION: &str = "10.11.99-MariaDB-trireme";

impl ServerConfig {
    /// Defaults (see each field) with the given user table.
    pub fn new(users: impl UserStore) -> Self {
        ServerConfig {
            server_version: DEFAULT_SERVER_VERSION.to_string(),
            users: Arc::new(users),
            default_auth_plugin: AuthPlugin::NativePassword,
            max_allowed_packet: 64 << 20,
            connect_timeout: Duration::from_secs(10),
            wait_timeout: Some(Duration::from_secs(8 * 3600)),
            net_timeout: Duration::from_secs(30),
            tls: None,
            require_secure_transport: false,
            max_prepared_stmt_count: 16382,
            charset: 45,
        }
    }

    fn capabilities(&self) -> CapabilityFlags {
        use CapabilityFlags as C;
        let mut c = C::CLIENT_LONG_PASSWORD
            | C::CLIENT_FOUND_ROWS
            | C::CLIENT_LONG_FLAG
            | C::CLIENT_CONNECT_WITH_DB
            | C::CLIENT_IGNORE_SPACE
            | C::CLIENT_PROTOCOL_41
            | C::CLIENT_INTERACTIVE
            | C::CLIENT_IGNORE_SIGPIPE
            | C::CLIENT_TRANSACTIONS
            | C::CLIENT_RESERVED
            | C::CLIENT_SECURE_CONNECTION
            | C::CLIENT_MULTI_STATEMENTS
            | C::CLIENT_MULTI_RESULTS
            | C::CLIENT_PS_MULTI_RESULTS
            | C::CLIENT_PLUGIN_AUTH
            | C::CLIENT_CONNECT_ATTRS
            | C::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
            | C::CLIENT_DEPRECATE_EOF;
        if self.tls.is_some() {
            c |= C::CLIENT_SSL;
        }
        c
    }
}

static NEXT_CONNECTION_ID: AtomicU32 = AtomicU32::new(1);

fn next_connection_id() -> u32 {
    loop {
        let id = NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed);
        if id != 0 {
            return id;
        }
    }
}

use crate::codec::{AsyncStream as Stream, Rewind};

/// Accepts connections forever, serving each on its own task with a handler
/// made by `factory`. Returns only if accepting fails.
pub async fn serve<H, F>(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    factory: F,
) -> std::io::Result<()>
where
    H: Handler,
    F: Fn(&SessionInfo) -> Result<H, MySqlError> + Send + Sync + 'static,
{
    let factory = Arc::new(factory);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) if is_transient_accept_error(&e) => {
                warn!(error = %e, "accept failed; retrying");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        let _ = stream.set_nodelay(true);
        let config = config.clone();
        let factory = factory.clone();
        tokio::spawn(async move {
            let _ = serve_connection(stream, Some(peer), config, move |info: &SessionInfo| {
                factory(info)
            })
            .await;
        });
    }
}

fn is_transient_accept_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | Interrupted | WouldBlock
    ) || e.raw_os_error() == Some(24) // EMFILE: too many open files
        || e.raw_os_error() == Some(23) // ENFILE
}

/// Serves one client connection to the end. `make_handler` is called once,
/// after a successful login. Returns `Ok` when the client quit or hung up
/// between commands; every error has already been logged.
pub async fn serve_connection<S, H, F>(
    stream: S,
    peer: Option<SocketAddr>,
    config: Arc<ServerConfig>,
    make_handler: F,
) -> Result<(), WireError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Handler,
    F: FnOnce(&SessionInfo) -> Result<H, MySqlError> + Send,
{
    let connection_id = next_connection_id();
    let span = tracing::info_span!("conn", id = connection_id);
    async move {
        let result = run(Box::new(stream), peer, config, connection_id, make_handler).await;
        match &result {
            Ok(()) => debug!("connection closed"),
            Err(WireError::Refused(e)) => info!(error = %e, "login refused"),
            // The client went away or went quiet: normal life of a server.
            Err(e @ (WireError::Io(_) | WireError::Timeout(_))) => {
                info!(error = %e, "connection ended")
            }
            // The client broke the protocol.
            Err(e) => warn!(error = %e, "connection ended"),
        }
        result
    }
    .instrument(span)
    .await
}

async fn run<H, F>(
    stream: Box<dyn Stream>,
    peer: Option<SocketAddr>,
    config: Arc<ServerConfig>,
    connection_id: u32,
    make_handler: F,
) -> Result<(), WireError>
where
    H: Handler,
    F: FnOnce(&SessionInfo) -> Result<H, MySqlError> + Send,
{
    let login_timeouts = Timeouts {
        idle: Some(config.connect_timeout),
        io: Some(config.connect_timeout),
    };
    let io = PacketStream::new(stream, 64 * 1024, login_timeouts);
    let host = peer.map_or_else(|| "localhost".to_string(), |p| p.ip().to_string());
    let salt = new_salt();
    let login = tokio::time::timeout(
        config.connect_timeout,
        login(io, &config, connection_id, &salt, peer, host),
    )
    .await;
    let (mut io, info, tls) = match login {
        Ok(Ok(x)) => x,
        // The login steps send their own ERR where they can.
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err(WireError::Timeout("logging in")),
    };
    let handler = match make_handler(&info) {
        Ok(h) => h,
        Err(e) => {
            send_error_best_effort(&mut io, &e).await;
            return Err(WireError::Refused(e));
        }
    };
    io.codec().set_max_payload(config.max_allowed_packet);
    io.timeouts = Timeouts {
        idle: config.wait_timeout,
        io: Some(config.net_timeout),
    };
    let mut conn = Conn {
        io,
        caps: info.capabilities,
        config,
        salt,
        tls,
        info,
        handler,
        stmts: HashMap::new(),
        next_stmt_id: 1,
        last_prepared: None,
        scratch: Vec::with_capacity(1024),
    };
    let result = conn.start().await;
    let result = match result {
        Ok(()) => conn.command_loop().await,
        Err(e) => Err(e),
    };
    if let Err(e) = &result {
        // Number the ERR as the reply to the offending frame, so the client
        // can read it.
        match e {
            WireError::OutOfOrder { got, .. } => conn.io.set_seq(got.wrapping_add(1)),
            WireError::PacketTooLarge { .. } => {
                let next = conn.io.seq().wrapping_add(1);
                conn.io.set_seq(next);
            }
            _ => {}
        }
        if let Some(client_err) = e.to_client_error() {
            send_error_best_effort(&mut conn.io, &client_err).await;
        }
    }
    conn.close_all_statements().await;
    conn.handler.quit().await;
    result
}

async fn send_error_best_effort(io: &mut PacketStream<Box<dyn Stream>>, e: &MySqlError) {
    io.queue_packet(&protocol::err_packet(e, true));
    let _ = tokio::time::timeout(Duration::from_secs(1), io.flush()).await;
}

type Io = PacketStream<Box<dyn Stream>>;

/// Handshake, optional TLS, authentication. Returns the stream to continue
/// on (TLS or not) and the session.
async fn login(
    mut io: Io,
    config: &ServerConfig,
    connection_id: u32,
    salt: &[u8; 20],
    peer: Option<SocketAddr>,
    host: String,
) -> Result<(Io, SessionInfo, bool), WireError> {
    let server_caps = config.capabilities();
    let greeting = protocol::handshake_v10(
        &config.server_version,
        connection_id,
        salt,
        server_caps,
        config.charset,
        StatusFlags::SERVER_STATUS_AUTOCOMMIT,
        config.default_auth_plugin.name(),
    );
    io.set_seq(0);
    io.write_packet(&greeting).await?;
    io.flush().await?;
    let first = read_required(&mut io).await?;
    let bad_handshake = MySqlError::new(codes::ER_HANDSHAKE_ERROR, "08S01", "Bad handshake");
    let mut resp = match protocol::parse_handshake_response(&first) {
        Ok(r) => r,
        Err(e) => {
            send_error_best_effort(&mut io, &bad_handshake).await;
            return Err(e);
        }
    };
    let mut tls = false;
    if resp.ssl_request {
        let Some(tls_config) = config.tls.clone() else {
            send_error_best_effort(&mut io, &bad_handshake).await;
            return Err(WireError::malformed("SSLRequest but TLS is not offered"));
        };
        let seq = io.seq();
        let timeouts = io.timeouts;
        let (inner, rest, _) = io.into_parts();
        let rewind = Rewind {
            prefix: rest.freeze(),
            inner,
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(tls_config);
        let tls_stream = acceptor
            .accept(rewind)
            .await
            .map_err(|e| WireError::Tls(e.to_string()))?;
        io = PacketStream::with_buffer(
            Box::new(tls_stream) as Box<dyn Stream>,
            BytesMut::with_capacity(8192),
            64 * 1024,
            timeouts,
        );
        io.set_seq(seq);
        let payload = read_required(&mut io).await?;
        resp = match protocol::parse_handshake_response(&payload) {
            Ok(r) if !r.ssl_request => r,
            Ok(_) => return Err(WireError::malformed("second SSLRequest")),
            Err(e) => return Err(e),
        };
        tls = true;
    }
    let caps = resp.caps & server_caps;
    if config.require_secure_transport && !tls {
        let e = MySqlError::new(
            codes::ER_SECURE_TRANSPORT_REQUIRED,
            "HY000",
            "Connections using insecure transport are prohibited while \
             --require_secure_transport=ON.",
        );
        send_error_best_effort(&mut io, &e).await;
        return Err(WireError::Refused(e));
    }
    let user = String::from_utf8_lossy(&resp.user).into_owned();
    authenticate(
        &mut io,
        config,
        &user,
        &host,
        resp.plugin.as_deref(),
        resp.auth_response,
        salt,
    )
    .await?;
    let info = SessionInfo {
        connection_id,
        user,
        host,
        peer,
        database: resp
            .database
            .as_ref()
            .map(|d| String::from_utf8_lossy(d).into_owned()),
        tls,
        capabilities: caps,
        attributes: resp.attrs,
    };
    Ok((io, info, tls))
}

async fn read_required(io: &mut Io) -> Result<Bytes, WireError> {
    io.read_packet()
        .await?
        .ok_or_else(|| WireError::Io(std::io::ErrorKind::UnexpectedEof.into()))
}

/// Runs the authentication exchange for `user` whose first response was
/// made with `client_plugin` against `salt`. On success nothing is sent yet
/// except, for caching_sha2_password, the fast-auth-success marker; the
/// caller sends the final OK. On failure ERR 1045 is sent.
async fn authenticate(
    io: &mut Io,
    config: &ServerConfig,
    user: &str,
    host: &str,
    client_plugin: Option<&[u8]>,
    first_response: Vec<u8>,
    salt: &[u8; 20],
) -> Result<(), WireError> {
    let creds = config.users.lookup(user, host);
    // Clients without CLIENT_PLUGIN_AUTH speak mysql_native_password.
    let client_plugin = match client_plugin {
        None => Some(AuthPlugin::NativePassword),
        Some(name) => AuthPlugin::from_name(name),
    };
    // An unknown user is treated like a known one as far as the exchange
    // goes (a switch happens for an unknown plugin either way), so the
    // exchange does not reveal whether an account exists.
    let usable = client_plugin.filter(|p| creds.as_ref().is_none_or(|c| c.supports(*p)));
    let mut response = first_response;
    let chosen = match usable {
        Some(p) => p,
        None => {
            // Unknown plugin, or one we cannot check for this account:
            // switch once to one we can.
            let target = match &creds {
                Some(c) if !c.supports(AuthPlugin::NativePassword) => {
                    AuthPlugin::CachingSha2Password
                }
                _ => AuthPlugin::NativePassword,
            };
            io.write_packet(&protocol::auth_switch_request(target.name(), salt))
                .await?;
            io.flush().await?;
            response = read_required(io).await?.to_vec();
            target
        }
    };
    let ok = creds
        .as_ref()
        .is_some_and(|c| c.verify(chosen, salt, &response));
    if ok && chosen == AuthPlugin::CachingSha2Password && !response.is_empty() {
        // fast_auth_success; the caller sends the OK.
        io.write_packet(&protocol::auth_more_data(&[0x03])).await?;
    }
    if ok {
        return Ok(());
    }
    let e = MySqlError::access_denied(user, host, !response.is_empty());
    send_error_best_effort(io, &e).await;
    Err(WireError::Refused(e))
}

/// Driver-side state of one prepared statement.
struct Stmt<S> {
    inner: S,
    params: u16,
    types: Option<Vec<ParamType>>,
    long_data: Vec<Option<Vec<u8>>>,
    long_data_bytes: usize,
    long_data_overflow: bool,
}

impl<S> Stmt<S> {
    fn clear_long_data(&mut self) {
        self.long_data.clear();
        self.long_data_bytes = 0;
        self.long_data_overflow = false;
    }
}

struct Conn<H: Handler> {
    io: Io,
    config: Arc<ServerConfig>,
    caps: CapabilityFlags,
    salt: [u8; 20],
    tls: bool,
    info: SessionInfo,
    handler: H,
    stmts: HashMap<u32, Stmt<H::Statement>>,
    next_stmt_id: u32,
    last_prepared: Option<u32>,
    scratch: Vec<u8>,
}

/// How a command loop iteration ended.
enum Flow {
    Continue,
    Quit,
}

impl<H: Handler> Conn<H> {
    fn deprecate_eof(&self) -> bool {
        self.caps.contains(CapabilityFlags::CLIENT_DEPRECATE_EOF)
    }

    fn status(&self, more: bool) -> StatusFlags {
        let mut s = self.handler.status() - StatusFlags::SERVER_MORE_RESULTS_EXISTS;
        if more {
            s |= StatusFlags::SERVER_MORE_RESULTS_EXISTS;
        }
        s
    }

    /// Applies the login database and sends the login OK.
    async fn start(&mut self) -> Result<(), WireError> {
        if let Some(db) = self.info.database.clone() {
            if let Err(e) = self.handler.init_db(&db).await {
                send_error_best_effort(&mut self.io, &e).await;
                return Err(WireError::Refused(e));
            }
        }
        self.send_ok(0, 0, 0, "", false).await?;
        self.io.flush().await
    }

    async fn command_loop(&mut self) -> Result<(), WireError> {
        loop {
            self.io.set_seq(0);
            // Between commands, a kill (KILL CONNECTION, node shutdown) ends
            // the connection; during a command the handler itself decides.
            let (io, handler) = (&mut self.io, &self.handler);
            // `biased`: a kill that happened before the next command arrived
            // wins over that command.
            let read = tokio::select! {
                biased;
                () = handler.killed() => None,
                r = io.read_packet() => Some(r),
            };
            let packet = match read {
                Some(r) => match r? {
                    Some(p) => p,
                    None => return Ok(()),
                },
                None => {
                    info!("connection killed");
                    let e = MySqlError::new(
                        codes::ER_CONNECTION_KILLED,
                        "70100",
                        "Connection was killed",
                    );
                    send_error_best_effort(&mut self.io, &e).await;
                    return Ok(());
                }
            };
            match self.dispatch(&packet).await? {
                Flow::Continue => self.io.flush().await?,
                Flow::Quit => return Ok(()),
            }
        }
    }

    async fn send_ok(
        &mut self,
        affected: u64,
        last_id: u64,
        warnings: u16,
        info: &str,
        more: bool,
    ) -> Result<(), WireError> {
        let p = protocol::ok_packet(0, affected, last_id, self.status(more), warnings, info);
        self.io.write_packet(&p).await
    }

    async fn send_err(&mut self, e: &MySqlError) -> Result<(), WireError> {
        debug!(code = e.code, message = %e.message, "ERR");
        self.io.write_packet(&protocol::err_packet(e, true)).await
    }

    /// EOF, or under DEPRECATE_EOF an OK with the 0xfe header.
    async fn send_eof_like(&mut self, more: bool) -> Result<(), WireError> {
        let status = self.status(more);
        let p = if self.deprecate_eof() {
            protocol::ok_packet(0xfe, 0, 0, status, 0, "")
        } else {
            protocol::eof_packet(0, status)
        };
        self.io.write_packet(&p).await
    }

    async fn send_columns(&mut self, cols: &[ColumnDef]) -> Result<(), WireError> {
        for c in cols {
            self.scratch.clear();
            protocol::column_def(c, &mut self.scratch);
            self.io.write_packet(&self.scratch).await?;
        }
        if !self.deprecate_eof() {
            let p = protocol::eof_packet(0, self.status(false));
            self.io.write_packet(&p).await?;
        }
        Ok(())
    }

    /// Sends one statement result. Returns false if it turned into an ERR
    /// (a row that does not fit its columns), which ends a multi-result.
    async fn send_result(
        &mut self,
        result: StmtResult,
        binary: bool,
        more: bool,
    ) -> Result<bool, WireError> {
        let (columns, rows) = match result {
            StmtResult::Ok(ok) => {
                self.send_ok(
                    ok.affected_rows,
                    ok.last_insert_id,
                    ok.warnings,
                    &ok.info,
                    more,
                )
                .await?;
                return Ok(true);
            }
            StmtResult::Rows { columns, rows } if columns.is_empty() => {
                debug!(rows = rows.len(), "result set without columns sent as OK");
                self.send_ok(0, 0, 0, "", more).await?;
                return Ok(true);
            }
            StmtResult::Rows { columns, rows } => (columns, rows),
        };
        self.scratch.clear();
        crate::buf::put_lenenc_int(&mut self.scratch, columns.len() as u64);
        self.io.write_packet(&self.scratch).await?;
        self.send_columns(&columns).await?;
        for row in &rows {
            self.scratch.clear();
            let encoded = if row.len() != columns.len() {
                Err(format!(
                    "handler returned a row of {} values for {} columns",
                    row.len(),
                    columns.len()
                ))
            } else if binary {
                protocol::binary_row(row, &columns, &mut self.scratch).map_err(|e| e.0)
            } else {
                protocol::text_row(row, &columns, &mut self.scratch);
                Ok(())
            };
            if let Err(msg) = encoded {
                warn!(%msg, "cannot encode row");
                self.send_err(&MySqlError::unknown(msg)).await?;
                return Ok(false);
            }
            self.io.write_packet(&self.scratch).await?;
        }
        self.send_eof_like(more).await?;
        Ok(true)
    }

    async fn send_results(
        &mut self,
        results: Vec<Result<StmtResult, MySqlError>>,
    ) -> Result<(), WireError> {
        if results.is_empty() {
            return self.send_ok(0, 0, 0, "", false).await;
        }
        // Results after the first error are never sent.
        let end = results
            .iter()
            .position(|r| r.is_err())
            .map_or(results.len(), |i| i + 1);
        for (i, r) in results.into_iter().take(end).enumerate() {
            let more = i + 1 < end;
            match r {
                Ok(res) => {
                    if !self.send_result(res, false, more).await? {
                        return Ok(());
                    }
                }
                Err(e) => return self.send_err(&e).await,
            }
        }
        Ok(())
    }

    fn utf8<'a>(&self, bytes: &'a [u8]) -> Result<&'a str, MySqlError> {
        crate::error::utf8(bytes)
    }

    async fn dispatch(&mut self, packet: &[u8]) -> Result<Flow, WireError> {
        let cmd = protocol::parse_command(packet)?;
        match cmd {
            Command::Quit => return Ok(Flow::Quit),
            Command::Query(sql) => {
                let results = self.handler.query_bytes(sql).await;
                self.send_results(results).await?;
            }
            Command::InitDb(db) => {
                let r = match self.utf8(db) {
                    Ok(db) => self.handler.init_db(db).await.map(|()| db.to_string()),
                    Err(e) => Err(e),
                };
                match r {
                    Ok(db) => {
                        self.info.database = Some(db);
                        self.send_ok(0, 0, 0, "", false).await?;
                    }
                    Err(e) => self.send_err(&e).await?,
                }
            }
            Command::Ping => match self.handler.ping().await {
                Ok(()) => self.send_ok(0, 0, 0, "", false).await?,
                Err(e) => self.send_err(&e).await?,
            },
            Command::Statistics => {
                let s = self.handler.statistics().await;
                self.io.write_packet(s.as_bytes()).await?;
            }
            Command::ResetConnection => {
                self.close_all_statements().await;
                match self.handler.reset_connection().await {
                    Ok(()) => self.send_ok(0, 0, 0, "", false).await?,
                    Err(e) => self.send_err(&e).await?,
                }
            }
            Command::ChangeUser(body) => return self.change_user(body).await,
            Command::StmtPrepare(sql) => self.prepare(sql).await?,
            Command::StmtExecute(body) => self.execute(body).await?,
            Command::StmtSendLongData {
                stmt_id,
                param,
                data,
            } => self.send_long_data(stmt_id, param, data),
            Command::StmtClose(id) => {
                if let Some(s) = self.stmts.remove(&id) {
                    self.handler.close(s.inner).await;
                }
                if self.last_prepared == Some(id) {
                    self.last_prepared = None;
                }
            }
            Command::StmtReset(id) => match self.stmts.get_mut(&id) {
                Some(s) => {
                    s.clear_long_data();
                    match self.handler.reset(&mut s.inner).await {
                        Ok(()) => self.send_ok(0, 0, 0, "", false).await?,
                        Err(e) => self.send_err(&e).await?,
                    }
                }
                None => {
                    self.send_err(&MySqlError::unknown_stmt(id, "mysqld_stmt_reset"))
                        .await?
                }
            },
            Command::StmtFetch(id) => {
                let e = MySqlError::new(
                    codes::ER_STMT_HAS_NO_OPEN_CURSOR,
                    "HY000",
                    format!("The statement ({id}) has no open cursor."),
                );
                self.send_err(&e).await?;
            }
            Command::SetOption(opt) if opt <= 1 => {
                // 0: multi-statements on, 1: off. Statement splitting is the
                // handler's job; the answer is an EOF (OK under
                // DEPRECATE_EOF).
                self.send_eof_like(false).await?;
            }
            Command::SetOption(_) | Command::Other(_) => {
                self.send_err(&MySqlError::unknown_command()).await?
            }
        }
        Ok(Flow::Continue)
    }

    async fn prepare(&mut self, sql: &[u8]) -> Result<(), WireError> {
        let sql = match self.utf8(sql) {
            Ok(s) => s,
            Err(e) => return self.send_err(&e).await,
        };
        if self.stmts.len() >= self.config.max_prepared_stmt_count {
            let e = MySqlError::new(
                codes::ER_MAX_PREPARED_STMT_COUNT_REACHED,
                "42000",
                format!(
                    "Can't create more than max_prepared_stmt_count statements \
                     (current value: {})",
                    self.config.max_prepared_stmt_count
                ),
            );
            return self.send_err(&e).await;
        }
        let (inner, info) = match self.handler.prepare(sql).await {
            Ok(x) => x,
            Err(e) => return self.send_err(&e).await,
        };
        let Ok(n_cols) = u16::try_from(info.columns.len()) else {
            self.handler.close(inner).await;
            return self
                .send_err(&MySqlError::unknown("too many result columns"))
                .await;
        };
        let mut id = self.next_stmt_id;
        while id == 0 || id == u32::MAX || self.stmts.contains_key(&id) {
            id = id.wrapping_add(1);
        }
        self.next_stmt_id = id.wrapping_add(1);
        self.stmts.insert(
            id,
            Stmt {
                inner,
                params: info.params,
                types: None,
                long_data: Vec::new(),
                long_data_bytes: 0,
                long_data_overflow: false,
            },
        );
        self.last_prepared = Some(id);
        let ok = protocol::stmt_prepare_ok(id, n_cols, info.params, 0);
        self.io.write_packet(&ok).await?;
        if info.params > 0 {
            let p = ColumnDef::new(
                "?",
                mysql_common::constants::ColumnType::MYSQL_TYPE_VAR_STRING,
            )
            .binary();
            let params = vec![p; usize::from(info.params)];
            self.send_columns(&params).await?;
        }
        if n_cols > 0 {
            self.send_columns(&info.columns).await?;
        }
        Ok(())
    }

    async fn execute(&mut self, body: &[u8]) -> Result<(), WireError> {
        let (head, block) = match protocol::parse_execute_head(body) {
            Ok(x) => x,
            Err(e) => {
                debug!(error = %e, "malformed COM_STMT_EXECUTE");
                return self
                    .send_err(&MySqlError::wrong_arguments("mysqld_stmt_execute"))
                    .await;
            }
        };
        let id = if head.stmt_id == u32::MAX {
            self.last_prepared.unwrap_or(u32::MAX)
        } else {
            head.stmt_id
        };
        let Some(stmt) = self.stmts.get_mut(&id) else {
            return self
                .send_err(&MySqlError::unknown_stmt(
                    head.stmt_id,
                    "mysqld_stmt_execute",
                ))
                .await;
        };
        if stmt.long_data_overflow {
            stmt.clear_long_data();
            return self.send_err(&MySqlError::packet_too_large()).await;
        }
        let decoded = protocol::decode_execute_params(
            block,
            usize::from(stmt.params),
            &mut stmt.types,
            &mut stmt.long_data,
        );
        stmt.clear_long_data();
        let params = match decoded {
            Ok(p) => p,
            Err(e) => {
                debug!(error = %e, "undecodable COM_STMT_EXECUTE parameters");
                return self
                    .send_err(&MySqlError::wrong_arguments("mysqld_stmt_execute"))
                    .await;
            }
        };
        let result = self.handler.execute(&mut stmt.inner, params).await;
        match result {
            Ok(r) => {
                self.send_result(r, true, false).await?;
            }
            Err(e) => self.send_err(&e).await?,
        }
        Ok(())
    }

    fn send_long_data(&mut self, stmt_id: u32, param: u16, data: &[u8]) {
        let limit = self.config.max_allowed_packet;
        let Some(stmt) = self.stmts.get_mut(&stmt_id) else {
            debug!(stmt_id, "long data for an unknown statement ignored");
            return;
        };
        if stmt.long_data_overflow {
            return;
        }
        if param >= stmt.params {
            debug!(
                stmt_id,
                param, "long data for a nonexistent parameter ignored"
            );
            return;
        }
        if stmt.long_data_bytes.saturating_add(data.len()) > limit {
            // Reported by the next COM_STMT_EXECUTE (this command has no reply).
            stmt.clear_long_data();
            stmt.long_data_overflow = true;
            return;
        }
        stmt.long_data_bytes += data.len();
        // Allocated on first use only: most statements never see long data.
        if stmt.long_data.len() < usize::from(stmt.params) {
            stmt.long_data.resize(usize::from(stmt.params), None);
        }
        stmt.long_data[usize::from(param)]
            .get_or_insert_with(Vec::new)
            .extend_from_slice(data);
    }

    async fn close_all_statements(&mut self) {
        for (_, s) in self.stmts.drain() {
            self.handler.close(s.inner).await;
        }
        self.last_prepared = None;
    }

    async fn change_user(&mut self, body: &[u8]) -> Result<Flow, WireError> {
        let req = protocol::parse_change_user(body, self.caps)?;
        let user = String::from_utf8_lossy(&req.user).into_owned();
        let host = self.info.host.clone();
        let salt = self.salt;
        // The login timeout bounds the exchange, as at connect time.
        let auth = tokio::time::timeout(
            self.config.connect_timeout,
            authenticate(
                &mut self.io,
                &self.config,
                &user,
                &host,
                req.plugin.as_deref(),
                req.auth_response.clone(),
                &salt,
            ),
        )
        .await
        .map_err(|_| WireError::Timeout("changing user"))?;
        // A failed COM_CHANGE_USER closes the connection (ERR already sent).
        auth?;
        self.close_all_statements().await;
        let database = req
            .database
            .as_ref()
            .map(|d| String::from_utf8_lossy(d).into_owned());
        let mut info = self.info.clone();
        info.user = user;
        info.database = database.clone();
        info.tls = self.tls;
        let mut r = self.handler.change_user(&info).await;
        if r.is_ok() {
            if let Some(db) = &database {
                r = self.handler.init_db(db).await;
            }
        }
        match r {
            Ok(()) => {
                self.info = info;
                self.send_ok(0, 0, 0, "", false).await?;
            }
            Err(e) => self.send_err(&e).await?,
        }
        Ok(Flow::Continue)
    }
}
