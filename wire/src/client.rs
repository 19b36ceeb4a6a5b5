//! A minimal MySQL client: handshake, authentication, text queries, ping,
//! and access to the raw packet stream.
//!
//! # Why our own and not mysql_async
//!
//! The proxy needs two things mysql_async does not offer: packet-level
//! pass-through after a handshake (mysql_async owns its socket and never
//! hands out raw packets), and a dependency-light health check that reads
//! `SHOW STATUS LIKE 'wsrep%'` with tight timeouts. Both need only the
//! handshake, authentication and the text protocol, which this crate
//! already implements for the server side; the client reuses the same
//! framing ([`PacketStream`]) and message layouts. Tools that want a full
//! driver (pooling, prepared statements, typed rows) should use mysql_async
//! directly; the test suite does.
//!
//! Supported: protocol 4.1, `mysql_native_password`,
//! `caching_sha2_password` (fast path; full authentication only over TLS),
//! one auth switch, optional TLS, multi-statements, DEPRECATE_EOF.
//! Text result values come back as `Value::Bytes` or `Value::NULL`.
//!
//! Invariant: like the server, the client never panics on what the peer
//! sends; a malformed reply is a [`ClientError::Wire`].

use std::sync::Arc;

use bytes::BytesMut;
use mysql_common::constants::{CapabilityFlags, StatusFlags};
use mysql_common::scramble::{scramble_native, scramble_sha256};
use mysql_common::value::Value;
use tokio::net::TcpStream;

use crate::buf::{put_lenenc_bytes, put_nul_bytes, Reader};
use crate::codec::{AsyncStream, PacketStream, Rewind, Timeouts};
use crate::error::{MySqlError, WireError};
use crate::protocol;
use crate::types::{OkInfo, StmtResult};

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The connection broke or the server sent something malformed; the
    /// client is unusable.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The server answered with an ERR packet; the connection is usable
    /// unless it was refused at login.
    #[error("server error: {0}")]
    Server(MySqlError),
}

/// TLS settings for [`ClientOptions`].
#[derive(Clone)]
pub struct ClientTls {
    /// rustls configuration (roots, or a custom verifier).
    pub config: Arc<rustls::ClientConfig>,
    /// Name to verify the server certificate against.
    pub server_name: rustls::pki_types::ServerName<'static>,
}

/// How to log in.
#[derive(Clone)]
pub struct ClientOptions {
    /// User name.
    pub user: String,
    /// Password (empty for none).
    pub password: String,
    /// Initial database.
    pub database: Option<String>,
    /// Read/write timeouts (`idle` bounds waiting for each reply).
    pub timeouts: Timeouts,
    /// Largest reply payload accepted.
    pub max_packet: usize,
    /// Start TLS (the server must offer it).
    pub tls: Option<ClientTls>,
    /// Ask for CLIENT_DEPRECATE_EOF (OK instead of EOF packets). Default on.
    pub deprecate_eof: bool,
}

impl ClientOptions {
    /// Options for `user`/`password` with 30 s timeouts and a 64 MiB limit.
    pub fn new(user: &str, password: &str) -> Self {
        let t = Some(std::time::Duration::from_secs(30));
        ClientOptions {
            user: user.to_string(),
            password: password.to_string(),
            database: None,
            timeouts: Timeouts { idle: t, io: t },
            max_packet: 64 << 20,
            tls: None,
            deprecate_eof: true,
        }
    }
}

/// A logged-in connection.
pub struct Client {
    io: PacketStream<Box<dyn AsyncStream>>,
    caps: CapabilityFlags,
    status: StatusFlags,
    connection_id: u32,
    server_version: String,
}

fn server_error(payload: &[u8]) -> Result<MySqlError, WireError> {
    let mut r = Reader::new(payload);
    r.u8()?;
    let code = r.u16()?;
    let mut state = *b"HY000";
    if r.peek() == Some(b'#') {
        r.u8()?;
        state.copy_from_slice(r.take(5)?);
    }
    Ok(MySqlError {
        code,
        sqlstate: state,
        message: String::from_utf8_lossy(r.rest()).into_owned(),
    })
}

fn parse_ok(payload: &[u8]) -> Result<(OkInfo, StatusFlags), WireError> {
    let mut r = Reader::new(payload);
    r.u8()?;
    let affected_rows = r.lenenc_int()?;
    let last_insert_id = r.lenenc_int()?;
    let status = StatusFlags::from_bits_retain(r.u16()?);
    let warnings = r.u16()?;
    let info = if r.is_empty() {
        String::new()
    } else {
        String::from_utf8_lossy(r.lenenc_bytes().unwrap_or_default()).into_owned()
    };
    Ok((
        OkInfo {
            affected_rows,
            last_insert_id,
            warnings,
            info,
        },
        status,
    ))
}

fn auth_data(plugin: &[u8], salt: &[u8], password: &str) -> Option<Vec<u8>> {
    if password.is_empty() {
        return Some(Vec::new());
    }
    match plugin {
        b"mysql_native_password" => scramble_native(salt, password.as_bytes()).map(|s| s.to_vec()),
        b"caching_sha2_password" => scramble_sha256(salt, password.as_bytes()).map(|s| s.to_vec()),
        _ => None,
    }
}

impl Client {
    /// Connects over TCP and logs in.
    pub async fn connect(addr: &str, opts: &ClientOptions) -> Result<Client, ClientError> {
        let connect = TcpStream::connect(addr);
        let stream = match opts.timeouts.io {
            Some(d) => tokio::time::timeout(d, connect)
                .await
                .map_err(|_| WireError::Timeout("connecting"))?,
            None => connect.await,
        }
        .map_err(WireError::Io)?;
        let _ = stream.set_nodelay(true);
        Self::handshake(Box::new(stream), opts).await
    }

    /// Logs in over an already connected stream.
    pub async fn handshake(
        stream: Box<dyn AsyncStream>,
        opts: &ClientOptions,
    ) -> Result<Client, ClientError> {
        let mut io = PacketStream::new(stream, opts.max_packet, opts.timeouts);
        let greeting = io
            .read_packet()
            .await?
            .ok_or_else(|| WireError::malformed("closed before the handshake"))?;
        if greeting.first() == Some(&0xff) {
            return Err(ClientError::Server(server_error(&greeting)?));
        }
        let mut r = Reader::new(&greeting);
        if r.u8()? != 10 {
            return Err(WireError::malformed("not a protocol 10 handshake").into());
        }
        let server_version = String::from_utf8_lossy(r.nul_bytes()?).into_owned();
        let connection_id = r.u32()?;
        let mut salt = r.take(8)?.to_vec();
        r.u8()?;
        let caps_lo = u32::from(r.u16()?);
        r.u8()?;
        r.u16()?;
        let caps_hi = u32::from(r.u16()?);
        let server_caps = CapabilityFlags::from_bits_retain(caps_lo | caps_hi << 16);
        let data_len = usize::from(r.u8()?);
        r.take(10)?;
        let part2 = data_len.saturating_sub(8).max(13);
        let p2 = r.take(part2.min(r.remaining()))?;
        salt.extend_from_slice(p2.strip_suffix(&[0]).unwrap_or(p2));
        let plugin = r.nul_bytes_lenient().to_vec();

        use CapabilityFlags as C;
        let mut caps = (C::CLIENT_PROTOCOL_41
            | C::CLIENT_LONG_PASSWORD
            | C::CLIENT_LONG_FLAG
            | C::CLIENT_TRANSACTIONS
            | C::CLIENT_SECURE_CONNECTION
            | C::CLIENT_MULTI_STATEMENTS
            | C::CLIENT_MULTI_RESULTS
            | C::CLIENT_PS_MULTI_RESULTS
            | C::CLIENT_PLUGIN_AUTH
            | C::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
            | C::CLIENT_DEPRECATE_EOF)
            & server_caps;
        if opts.database.is_some() {
            caps |= C::CLIENT_CONNECT_WITH_DB & server_caps;
        }
        if !opts.deprecate_eof {
            caps -= C::CLIENT_DEPRECATE_EOF;
        }
        if !caps.contains(C::CLIENT_PROTOCOL_41) {
            return Err(WireError::malformed("server does not speak protocol 4.1").into());
        }
        let mut head = Vec::with_capacity(32);
        let mut tls_on = false;
        if opts.tls.is_some() {
            caps |= C::CLIENT_SSL;
        }
        head.extend_from_slice(&caps.bits().to_le_bytes());
        head.extend_from_slice(&(opts.max_packet as u32).to_le_bytes());
        head.push(45);
        head.extend_from_slice(&[0u8; 23]);
        if let Some(tls) = &opts.tls {
            if !server_caps.contains(C::CLIENT_SSL) {
                return Err(WireError::Tls("server does not offer TLS".into()).into());
            }
            io.write_packet(&head).await?;
            io.flush().await?;
            let seq = io.seq();
            let (inner, rest, _) = io.into_parts();
            let connector = tokio_rustls::TlsConnector::from(tls.config.clone());
            let s = connector
                .connect(
                    tls.server_name.clone(),
                    Rewind {
                        prefix: rest.freeze(),
                        inner,
                    },
                )
                .await
                .map_err(|e| WireError::Tls(e.to_string()))?;
            io = PacketStream::with_buffer(
                Box::new(s),
                BytesMut::with_capacity(8192),
                opts.max_packet,
                opts.timeouts,
            );
            io.set_seq(seq);
            tls_on = true;
        }
        let plugin_name: &[u8] = if plugin.is_empty() {
            b"mysql_native_password"
        } else {
            &plugin
        };
        let data = auth_data(plugin_name, &salt, &opts.password).unwrap_or_default();
        let mut resp = head;
        put_nul_bytes(&mut resp, opts.user.as_bytes());
        put_lenenc_bytes(&mut resp, &data);
        if let Some(db) = &opts.database {
            put_nul_bytes(&mut resp, db.as_bytes());
        }
        put_nul_bytes(&mut resp, plugin_name);
        io.write_packet(&resp).await?;
        io.flush().await?;

        let mut current_plugin = plugin_name.to_vec();
        let mut switched = false;
        loop {
            let p = io
                .read_packet()
                .await?
                .ok_or_else(|| WireError::malformed("closed during login"))?;
            match p.first() {
                Some(0x00) => {
                    let (_, status) = parse_ok(&p)?;
                    return Ok(Client {
                        io,
                        caps,
                        status,
                        connection_id,
                        server_version,
                    });
                }
                Some(0xff) => return Err(ClientError::Server(server_error(&p)?)),
                Some(0xfe) if !switched => {
                    switched = true;
                    let mut r = Reader::new(&p[1..]);
                    current_plugin = r.nul_bytes()?.to_vec();
                    let data = r.rest();
                    salt = data.strip_suffix(&[0]).unwrap_or(data).to_vec();
                    let reply = auth_data(&current_plugin, &salt, &opts.password)
                        .ok_or_else(|| WireError::malformed("unsupported auth plugin"))?;
                    io.write_packet(&reply).await?;
                    io.flush().await?;
                }
                Some(0x01) if current_plugin == b"caching_sha2_password" => match p.get(1) {
                    Some(0x03) => {}
                    Some(0x04) if tls_on => {
                        let mut pw = opts.password.as_bytes().to_vec();
                        pw.push(0);
                        io.write_packet(&pw).await?;
                        io.flush().await?;
                    }
                    _ => {
                        return Err(WireError::malformed(
                            "caching_sha2_password full authentication needs TLS",
                        )
                        .into())
                    }
                },
                _ => return Err(WireError::malformed("unexpected packet during login").into()),
            }
        }
    }

    /// Connection id the server assigned.
    pub fn connection_id(&self) -> u32 {
        self.connection_id
    }

    /// The server's version string.
    pub fn server_version(&self) -> &str {
        &self.server_version
    }

    /// Capabilities in use.
    pub fn capabilities(&self) -> CapabilityFlags {
        self.caps
    }

    /// Status flags of the last OK/EOF received.
    pub fn status(&self) -> StatusFlags {
        self.status
    }

    async fn read(&mut self) -> Result<bytes::Bytes, ClientError> {
        Ok(self
            .io
            .read_packet()
            .await?
            .ok_or_else(|| WireError::Io(std::io::ErrorKind::UnexpectedEof.into()))?)
    }

    async fn command(&mut self, payload: &[u8]) -> Result<(), ClientError> {
        self.io.set_seq(0);
        self.io.write_packet(payload).await?;
        self.io.flush().await?;
        Ok(())
    }

    fn is_eof(&self, p: &[u8]) -> bool {
        p.first() == Some(&0xfe) && p.len() < 0xff_ffff && {
            if self.caps.contains(CapabilityFlags::CLIENT_DEPRECATE_EOF) {
                p.len() >= 7
            } else {
                p.len() < 9
            }
        }
    }

    /// Runs COM_QUERY and reads every result. A server error ends the list
    /// (as it ends the batch on the server).
    pub async fn query(
        &mut self,
        sql: &str,
    ) -> Result<Vec<Result<StmtResult, MySqlError>>, ClientError> {
        let mut payload = Vec::with_capacity(1 + sql.len());
        payload.push(0x03);
        payload.extend_from_slice(sql.as_bytes());
        self.command(&payload).await?;
        let mut out = Vec::new();
        loop {
            let p = self.read().await?;
            match p.first() {
                Some(0x00) => {
                    let (ok, status) = parse_ok(&p)?;
                    self.status = status;
                    out.push(Ok(StmtResult::Ok(ok)));
                }
                Some(0xff) => {
                    out.push(Err(server_error(&p)?));
                    return Ok(out);
                }
                Some(0xfb) => {
                    return Err(WireError::malformed("LOCAL INFILE is not supported").into())
                }
                _ => {
                    let n = Reader::new(&p).lenenc_int()?;
                    let n = usize::try_from(n)
                        .ok()
                        .filter(|n| *n <= 4096)
                        .ok_or_else(|| WireError::malformed("absurd column count"))?;
                    let mut columns = Vec::with_capacity(n);
                    for _ in 0..n {
                        columns.push(protocol::parse_column_def(&self.read().await?)?);
                    }
                    if !self.caps.contains(CapabilityFlags::CLIENT_DEPRECATE_EOF) {
                        self.read().await?;
                    }
                    let mut rows = Vec::new();
                    loop {
                        let p = self.read().await?;
                        if p.first() == Some(&0xff) {
                            out.push(Err(server_error(&p)?));
                            return Ok(out);
                        }
                        if self.is_eof(&p) {
                            self.status =
                                if self.caps.contains(CapabilityFlags::CLIENT_DEPRECATE_EOF) {
                                    parse_ok(&p)?.1
                                } else {
                                    let mut r = Reader::new(&p[1..]);
                                    r.u16()?;
                                    StatusFlags::from_bits_retain(r.u16()?)
                                };
                            break;
                        }
                        let mut r = Reader::new(&p);
                        let mut row = Vec::with_capacity(n);
                        for _ in 0..n {
                            if r.peek() == Some(0xfb) {
                                r.u8()?;
                                row.push(Value::NULL);
                            } else {
                                row.push(Value::Bytes(r.lenenc_bytes()?.to_vec()));
                            }
                        }
                        rows.push(row);
                    }
                    out.push(Ok(StmtResult::Rows { columns, rows }));
                }
            }
            if !self
                .status
                .contains(StatusFlags::SERVER_MORE_RESULTS_EXISTS)
            {
                return Ok(out);
            }
        }
    }

    /// Runs a query that must succeed and returns its first result.
    pub async fn query_one(&mut self, sql: &str) -> Result<StmtResult, ClientError> {
        let mut results = self.query(sql).await?;
        if let Some(pos) = results.iter().position(|r| r.is_err()) {
            if let Err(e) = results.swap_remove(pos) {
                return Err(ClientError::Server(e));
            }
        }
        results
            .into_iter()
            .next()
            .and_then(Result::ok)
            .ok_or_else(|| WireError::malformed("no result").into())
    }

    /// COM_PING.
    pub async fn ping(&mut self) -> Result<(), ClientError> {
        self.simple(&[0x0e]).await
    }

    /// COM_INIT_DB.
    pub async fn init_db(&mut self, db: &str) -> Result<(), ClientError> {
        let mut p = vec![0x02];
        p.extend_from_slice(db.as_bytes());
        self.simple(&p).await
    }

    async fn simple(&mut self, payload: &[u8]) -> Result<(), ClientError> {
        self.command(payload).await?;
        let p = self.read().await?;
        match p.first() {
            Some(0x00) => {
                self.status = parse_ok(&p)?.1;
                Ok(())
            }
            Some(0xff) => Err(ClientError::Server(server_error(&p)?)),
            _ => Err(WireError::malformed("expected OK or ERR").into()),
        }
    }

    /// Sends COM_QUIT and closes.
    pub async fn quit(mut self) -> Result<(), ClientError> {
        self.command(&[0x01]).await?;
        Ok(())
    }

    /// The packet stream, for raw pass-through (the next command must start
    /// with sequence id 0).
    pub fn into_packet_stream(self) -> PacketStream<Box<dyn AsyncStream>> {
        self.io
    }
}
