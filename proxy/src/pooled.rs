//! Pool mode's client side (`auth = "pool"`): the proxy greets and
//! authenticates the client itself, then runs its commands on backend
//! connections borrowed from the pools (`pool.rs`).
//!
//! # The life of a pooled client connection
//!
//! 1. **Greeting.** The proxy sends its own HandshakeV10 (a fresh salt,
//!    `mysql_native_password`, no CLIENT_DEPRECATE_EOF; CLIENT_SSL only
//!    with `pool.tls_cert`) and reads the HandshakeResponse41. An
//!    SSLRequest instead starts TLS with the proxy's certificate (bytes of
//!    the ClientHello read with it are replayed into the handshake), and
//!    the HandshakeResponse41 follows encrypted. A client that answered for
//!    another plugin is switched to `mysql_native_password` (one
//!    AuthSwitchRequest).
//! 2. **Authentication** against `[[users]]`: the scramble must satisfy
//!    `SHA1(R XOR SHA1(salt ‖ S)) == S` for the stored `S =
//!    SHA1(SHA1(password))`. An unknown user and a wrong password get the
//!    same ERROR 1045 (28000) "Access denied for user ...", and the
//!    connection closes. A database named at login is tracked like `USE`.
//! 3. **Commands**, one at a time:
//!    - COM_QUERY, COM_INIT_DB, COM_STATISTICS run on the client's lent
//!      connection if it holds one (inside a transaction), else on one
//!      borrowed for this command ([`checkout`]). The response is relayed
//!      packet by packet; its last OK/EOF's status flags decide: with
//!      `SERVER_STATUS_IN_TRANS`, or without `SERVER_STATUS_AUTOCOMMIT`,
//!      the client keeps the connection; otherwise it goes back to the
//!      pool (after COM_RESET_CONNECTION when the client held it for more
//!      than this one command). `USE db` and COM_INIT_DB are tracked: the
//!      next borrowed connection is switched with COM_INIT_DB when it is in
//!      another database.
//!    - COM_QUERY text that leaves untracked session state behind (see
//!      `classify.rs`: `SET` other than autocommit, user variables,
//!      `PREPARE`, temporary tables, `LOCK TABLES`, `GET_LOCK`, several
//!      statements in one query) and every command the proxy does not
//!      parse (COM_STMT_PREPARE and the rest of the binary protocol,
//!      COM_SET_OPTION, COM_FIELD_LIST, ...) **pin** the session: it keeps
//!      its connection until it ends and is relayed byte for byte from then
//!      on, as in passthrough mode; the connection is closed afterwards.
//!    - COM_PING is answered by the proxy; COM_QUIT ends the session (a
//!      held connection is reset and returned); COM_RESET_CONNECTION
//!      resets and returns a held connection and answers OK;
//!      COM_CHANGE_USER is refused (1047: the proxy cannot switch the
//!      backend user).
//!
//! # Errors the client may see from the proxy itself
//!
//! | code | SQLSTATE | when |
//! |---|---|---|
//! | 1045 | 28000 | login: unknown user or wrong password |
//! | 1040 | 08004 | a statement waited `pool.wait_timeout_ms` for a free backend connection (the session stays usable) |
//! | 1047 | 08S01 | no backend up or reachable for the statement; or a node's own 1047 (not ready, not Primary) inside a transaction, or after `pool.wait_timeout_ms` of retries |
//! | 2013 | HY000 | the backend connection died after the statement was sent, before any answer: "Lost connection to backend during query" (autocommit; the statement may or may not have run) or "... during transaction" (the transaction is gone; the next one runs on another connection) |
//! | 1043 | 08S01 | login: malformed handshake, or an SSLRequest when no `pool.tls_cert` is set |
//! | 1153 | 08S01 | a command larger than 64 MiB (the connection closes) |
//!
//! A backend connection that fails *before* the statement could have run
//! (its connect is refused, it is found closed when taken from the pool,
//! or writing the command to it fails) is not an error for the client:
//! the statement runs on the next healthy connection or backend. So is a
//! node's ERROR 1047 (it is not ready or not in the Primary component, so
//! nothing ran) to an autocommit statement: it is tried again every
//! 100 ms, on whichever backend routing picks (another one once the
//! monitor takes the node out), for up to `pool.wait_timeout_ms`.
//!
//! # Statements about the previous statement
//!
//! `LAST_INSERT_ID()`, `@@identity`, `ROW_COUNT()`, `FOUND_ROWS()`,
//! `SHOW WARNINGS`/`ERRORS` and `@@warning_count` answer for the
//! session's previous statement, which may have run on a connection now
//! back in the pool (`classify::previous` spots them). Such a statement
//! runs on the very connection that ran the previous one when nothing ran
//! there since (idle connections are lent oldest first, so the one just
//! returned is the last to be taken by others; see `pool::reclaim`).
//! Otherwise:
//!
//! - `LAST_INSERT_ID()` is carried over: the proxy keeps the session's
//!   value (the last non-zero insert id of the OK packets it relayed to
//!   this client) and sets it on the new connection first with
//!   `SELECT LAST_INSERT_ID(v)`. This also covers a transaction's insert
//!   read back after COMMIT (its connection was reset on the way back).
//!   A value set by `SELECT LAST_INSERT_ID(expr)` (a result set, no OK)
//!   is carried only on the same connection.
//! - `ROW_COUNT()`, `FOUND_ROWS()` and warnings cannot be set on another
//!   connection: the client gets ERROR 1105 (HY000) saying so, never
//!   another client's value. That happens when every idle connection was
//!   taken in between (a busy pool), or after a transaction.
//! - Inside a transaction all statements share a connection anyway.
//!
//! # Not done, on purpose
//!
//! - A client idle inside a transaction holds its connection (and a pool
//!   slot) until it ends the transaction or disconnects.
//! - The client's capabilities are not passed on: backend connections are
//!   made once with the pool's own (multi-statements and multi-results
//!   on, found-rows off).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tracing::{debug, info};
use trireme_wire::codec::AsyncStream;
use trireme_wire::protocol::{
    auth_switch_request, err_packet, handshake_v10, ok_packet, parse_handshake_response,
};
use trireme_wire::{AuthPlugin, CapabilityFlags, MySqlError, StatusFlags};

use crate::classify::{classify, previous, Class, Previous};
use crate::pool::{checkout, reclaim, CheckoutError, Fail, Lease, Response, Sink};
use crate::relay::{frame, Counted, Side, ER_NO_BACKEND};
use crate::router::{Port, Shared};

/// The version the proxy announces in its own greeting.
pub(crate) const SERVER_VERSION: &str = "8.0.36-trireme-proxy";

/// Largest command accepted from a client (the nodes' max_allowed_packet).
const MAX_COMMAND: usize = 64 << 20;

/// What Galera (and trireme) answer when the node cannot take statements
/// now (not in the Primary component, not ready): nothing ran.
const ER_NOT_READY: u16 = 1047;

/// Pause before an autocommit statement refused with [`ER_NOT_READY`] is
/// tried again.
const NOT_READY_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

/// utf8mb4_general_ci.
const CHARSET: u8 = 45;

/// What the proxy offers clients: what pool connections negotiate with
/// the nodes (see `Client::handshake` in trireme-wire), plus login-only
/// flags. No DEPRECATE_EOF, SSL, compression, LOCAL INFILE or session
/// tracking: responses are relayed in the pool connections' format.
fn proxy_caps() -> CapabilityFlags {
    use CapabilityFlags as C;
    C::CLIENT_LONG_PASSWORD
        | C::CLIENT_LONG_FLAG
        | C::CLIENT_CONNECT_WITH_DB
        | C::CLIENT_PROTOCOL_41
        | C::CLIENT_TRANSACTIONS
        | C::CLIENT_SECURE_CONNECTION
        | C::CLIENT_MULTI_STATEMENTS
        | C::CLIENT_MULTI_RESULTS
        | C::CLIENT_PS_MULTI_RESULTS
        | C::CLIENT_PLUGIN_AUTH
        | C::CLIENT_CONNECT_ATTRS
        | C::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
}

/// A client's connection: plain TCP, or TLS over it.
type ClientSide = Side<Box<dyn AsyncStream>>;

/// One client command: its frames as received, and how many.
struct Command {
    raw: Vec<u8>,
    frames: u8,
}

impl Command {
    /// The payload (the frames joined).
    fn payload(&self) -> std::borrow::Cow<'_, [u8]> {
        if self.frames == 1 {
            return std::borrow::Cow::Borrowed(&self.raw[4..]);
        }
        let mut p = Vec::with_capacity(self.raw.len());
        let mut rest = &self.raw[..];
        while rest.len() >= 4 {
            let len = usize::from(rest[0]) | usize::from(rest[1]) << 8 | usize::from(rest[2]) << 16;
            let end = (4 + len).min(rest.len());
            p.extend_from_slice(&rest[4..end]);
            rest = &rest[end..];
        }
        std::borrow::Cow::Owned(p)
    }

    /// The sequence id of the first answer packet.
    fn reply_seq(&self) -> u8 {
        self.frames
    }
}

enum ReadError {
    Io,
    TooLarge,
    OutOfOrder,
}

/// Reads the next command; `Ok(None)` when the client closed between
/// commands.
async fn read_command(c: &mut ClientSide) -> Result<Option<Command>, ReadError> {
    let mut raw = Vec::new();
    let mut frames: u8 = 0;
    loop {
        while c.buf.len() < 4 {
            c.buf.reserve(8192);
            let n = c
                .stream
                .read_buf(&mut c.buf)
                .await
                .map_err(|_| ReadError::Io)?;
            if n == 0 {
                if raw.is_empty() && c.buf.is_empty() {
                    return Ok(None);
                }
                return Err(ReadError::Io);
            }
        }
        let len = usize::from(c.buf[0]) | usize::from(c.buf[1]) << 8 | usize::from(c.buf[2]) << 16;
        if c.buf[3] != frames {
            return Err(ReadError::OutOfOrder);
        }
        if raw.len() + len > MAX_COMMAND {
            return Err(ReadError::TooLarge);
        }
        while c.buf.len() < 4 + len {
            c.buf.reserve(4 + len - c.buf.len());
            let n = c
                .stream
                .read_buf(&mut c.buf)
                .await
                .map_err(|_| ReadError::Io)?;
            if n == 0 {
                return Err(ReadError::Io);
            }
        }
        raw.extend_from_slice(&c.buf[..4 + len]);
        c.buf.advance(4 + len);
        frames = frames.wrapping_add(1);
        if len < 0xff_ffff {
            return Ok(Some(Command { raw, frames }));
        }
    }
}

async fn send_err<W: AsyncWrite + Unpin>(
    c: &mut W,
    seq: u8,
    e: &MySqlError,
) -> std::io::Result<()> {
    c.write_all(&frame(seq, &err_packet(e, true))).await
}

async fn send_ok<W: AsyncWrite + Unpin>(
    c: &mut W,
    seq: u8,
    status: StatusFlags,
) -> std::io::Result<()> {
    c.write_all(&frame(seq, &ok_packet(0, 0, 0, status, 0, "")))
        .await
}

/// Logs the client in (over TLS when it asks and `pool.tls_cert` is set);
/// returns its user and initial database, or `None` when the login failed
/// (already answered).
async fn login(
    shared: &Shared,
    c: &mut ClientSide,
    id: u64,
    peer: Option<std::net::SocketAddr>,
) -> Option<(String, String)> {
    let deadline = Instant::now() + shared.config.handshake_timeout();
    let salt = trireme_wire::auth::new_salt();
    let tls = shared.client_tls.get();
    let mut caps = proxy_caps();
    if tls.is_some() {
        caps |= CapabilityFlags::CLIENT_SSL;
    }
    let greeting = handshake_v10(
        SERVER_VERSION,
        id as u32,
        &salt,
        caps,
        CHARSET,
        StatusFlags::SERVER_STATUS_AUTOCOMMIT,
        AuthPlugin::NativePassword.name(),
    );
    c.write_packet(0, &greeting, deadline).await.ok()?;
    let mut p = c.read_packet(1, deadline).await.ok()?;
    let mut seq = 2u8;
    if let (Some(tls), Ok(r)) = (tls, parse_handshake_response(&p)) {
        if r.ssl_request {
            let plain = trireme_wire::codec::Rewind {
                prefix: c.buf.split().freeze(),
                inner: std::mem::replace(&mut c.stream, Box::new(tokio::io::duplex(1).0)),
            };
            let secured = tokio::time::timeout_at(deadline, tls.accept(plain)).await;
            let Ok(Ok(s)) = secured else {
                shared
                    .counters
                    .handshake_failed
                    .fetch_add(1, Ordering::Relaxed);
                debug!("client TLS handshake failed");
                return None;
            };
            c.stream = Box::new(s);
            shared
                .counters
                .tls_terminated
                .fetch_add(1, Ordering::Relaxed);
            p = c.read_packet(2, deadline).await.ok()?;
            seq = 3;
        }
    }
    let resp = match parse_handshake_response(&p) {
        Ok(r) if !r.ssl_request => r,
        Ok(_) | Err(_) => {
            shared
                .counters
                .handshake_failed
                .fetch_add(1, Ordering::Relaxed);
            let e = MySqlError::new(
                1043,
                "08S01",
                "Bad handshake (trireme-proxy offers TLS in pool mode only with pool.tls_cert)",
            );
            let _ = c.write_packet(seq, &err_packet(&e, true), deadline).await;
            return None;
        }
    };
    let user = String::from_utf8_lossy(&resp.user).into_owned();
    let mut auth = resp.auth_response;
    let native = AuthPlugin::NativePassword.name().as_bytes();
    if resp.plugin.as_deref().is_some_and(|p| p != native) {
        let switch = auth_switch_request(AuthPlugin::NativePassword.name(), &salt);
        c.write_packet(seq, &switch, deadline).await.ok()?;
        auth = c.read_packet(seq + 1, deadline).await.ok()?.to_vec();
        seq += 2;
    }
    let ok = shared
        .users
        .get(&user)
        .is_some_and(|cred| cred.verify(AuthPlugin::NativePassword, &salt, &auth));
    if !ok {
        shared.counters.auth_denied.fetch_add(1, Ordering::Relaxed);
        let host = peer
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|| "localhost".into());
        debug!(%user, "login refused by the proxy");
        let e = MySqlError::access_denied(&user, &host, !auth.is_empty());
        let _ = c.write_packet(seq, &err_packet(&e, true), deadline).await;
        let _ = c.stream.shutdown().await;
        return None;
    }
    let ok = ok_packet(0, 0, 0, StatusFlags::SERVER_STATUS_AUTOCOMMIT, 0, "");
    c.write_packet(seq, &ok, deadline).await.ok()?;
    let db = match resp.database {
        Some(d) => String::from_utf8_lossy(&d).into_owned(),
        None => shared.config.pool.database.clone(),
    };
    Some((user, db))
}

/// The client's state between commands.
struct State {
    /// The database the client is in.
    db: String,
    /// The connection it holds (inside a transaction or with autocommit
    /// off), if any.
    lease: Option<Lease>,
    /// The connection that ran the client's last statement: backend,
    /// connection id, and its command count right after.
    last: Option<(usize, u64, u64)>,
    /// `LAST_INSERT_ID()` as the client's session would have it: the last
    /// non-zero insert id of an OK packet it was sent.
    insert_id: u64,
}

/// What to do after a command.
enum Flow {
    Next,
    End,
    /// Relay bytes from here on; the command is already sent.
    Pinned(Lease),
}

/// Serves one pool-mode client connection to its end.
pub(crate) async fn session(shared: &Arc<Shared>, port: Port, client: TcpStream, id: u64) {
    let _ = client.set_nodelay(true);
    let peer = client.peer_addr().ok();
    let mut c: ClientSide = Side::new(Box::new(client), "client");
    let Some((user, db)) = login(shared, &mut c, id, peer).await else {
        return;
    };
    debug!(%user, "logged in (pool mode)");
    let mut st = State {
        db,
        lease: None,
        last: None,
        insert_id: 0,
    };
    loop {
        let cmd = match read_command(&mut c).await {
            Ok(Some(cmd)) => cmd,
            Ok(None) | Err(ReadError::Io) => break,
            Err(ReadError::TooLarge) => {
                let e = MySqlError::new(
                    1153,
                    "08S01",
                    "Got a packet bigger than 'max_allowed_packet' bytes",
                );
                let _ = send_err(&mut c.stream, 1, &e).await;
                break;
            }
            Err(ReadError::OutOfOrder) => {
                let e = MySqlError::new(1156, "08S01", "Got packets out of order");
                let _ = send_err(&mut c.stream, 1, &e).await;
                break;
            }
        };
        match command(shared, port, &mut st, &mut c, cmd).await {
            Flow::Next => {}
            Flow::End => break,
            Flow::Pinned(lease) => {
                pinned(shared, c, lease).await;
                return;
            }
        }
    }
    if let Some(l) = st.lease.take() {
        l.release(true).await;
    }
}

async fn command(
    shared: &Arc<Shared>,
    port: Port,
    st: &mut State,
    c: &mut ClientSide,
    cmd: Command,
) -> Flow {
    let seq = cmd.reply_seq();
    let code = cmd.raw.get(4).copied();
    let status = |st: &mut State| {
        st.lease
            .as_mut()
            .map(|l| l.conn().status)
            .unwrap_or(StatusFlags::SERVER_STATUS_AUTOCOMMIT)
    };
    match code {
        None => {
            let e = MySqlError::new(1835, "HY000", "Malformed communication packet");
            flow(send_err(&mut c.stream, seq, &e).await)
        }
        // COM_QUIT
        Some(0x01) => Flow::End,
        // COM_PING
        Some(0x0e) => {
            let s = status(st);
            flow(send_ok(&mut c.stream, seq, s).await)
        }
        // COM_RESET_CONNECTION
        Some(0x1f) => {
            if let Some(l) = st.lease.take() {
                l.release(true).await;
            }
            flow(send_ok(&mut c.stream, seq, StatusFlags::SERVER_STATUS_AUTOCOMMIT).await)
        }
        // COM_CHANGE_USER
        Some(0x11) => {
            let e = MySqlError::new(
                ER_NO_BACKEND,
                "08S01",
                "trireme-proxy: COM_CHANGE_USER is not supported in pool mode",
            );
            let _ = send_err(&mut c.stream, seq, &e).await;
            Flow::End
        }
        // COM_STMT_CLOSE and COM_STMT_SEND_LONG_DATA have no answer; an
        // unpinned session has no prepared statements.
        Some(0x19 | 0x18) => Flow::Next,
        // COM_INIT_DB
        Some(0x02) => {
            let db = String::from_utf8_lossy(&cmd.payload()[1..]).into_owned();
            let kind = (Response::Simple, Previous::No);
            run(shared, port, st, c, &cmd, kind, Some(db)).await
        }
        // COM_STATISTICS
        Some(0x09) => {
            let kind = (Response::Single, Previous::No);
            run(shared, port, st, c, &cmd, kind, None).await
        }
        // COM_QUERY
        Some(0x03) => {
            let payload = cmd.payload();
            let (class, prev) = (classify(&payload[1..]), previous(&payload[1..]));
            drop(payload);
            let kind = (Response::Query, prev);
            match class {
                Class::Plain => run(shared, port, st, c, &cmd, kind, None).await,
                Class::Use(db) => run(shared, port, st, c, &cmd, kind, Some(db)).await,
                Class::Pin(why) => pin(shared, port, st, c, &cmd, why).await,
            }
        }
        Some(_) => {
            pin(
                shared,
                port,
                st,
                c,
                &cmd,
                "a command the proxy does not parse",
            )
            .await
        }
    }
}

fn flow(r: std::io::Result<()>) -> Flow {
    match r {
        Ok(()) => Flow::Next,
        Err(_) => Flow::End,
    }
}

/// The lease the client holds, or a new one; answers the client itself
/// when none can be had (`Err(flow)`). Switches the connection to the
/// client's database. With `again`, the connection that ran the client's
/// previous statement is taken back if nothing ran on it since. Returns
/// the lease, whether it is fresh (not held by the client before), and
/// whether it ran the client's previous statement with nothing since (a
/// held one always did).
async fn lease_for(
    shared: &Arc<Shared>,
    port: Port,
    st: &mut State,
    c: &mut ClientSide,
    seq: u8,
    again: bool,
) -> Result<(Lease, bool, bool), Flow> {
    let mut tries = 0;
    loop {
        tries += 1;
        let reclaimed = match (again && tries == 1 && st.lease.is_none(), st.last) {
            (true, Some((index, id, uses))) => reclaim(shared, port, index, id, uses),
            _ => None,
        };
        // A reclaimed connection counts as fresh: the client did not hold
        // it, and it goes back to the pool as it came.
        let same = reclaimed.is_some() || st.lease.is_some();
        let held = match reclaimed {
            Some(l) => Err(l),
            None => Ok(st.lease.take()),
        };
        let (mut lease, fresh) = match held {
            Err(l) => (l, true),
            Ok(Some(mut l)) => {
                if !l.conn().is_alive() {
                    // The transaction died with its connection.
                    let index = l.index();
                    drop(l);
                    shared.suspect(index);
                    return Err(lost(shared, c, seq, true).await);
                }
                (l, false)
            }
            Ok(None) => match checkout(shared, port).await {
                Ok((l, passed_over)) => {
                    if passed_over > 0 {
                        shared
                            .counters
                            .retries
                            .fetch_add(passed_over, Ordering::Relaxed);
                    }
                    (l, true)
                }
                Err(e) => {
                    let err = match e {
                        CheckoutError::NoBackend(why) => {
                            shared.counters.no_backend.fetch_add(1, Ordering::Relaxed);
                            MySqlError::new(ER_NO_BACKEND, "08S01", format!("trireme-proxy: {why}"))
                        }
                        CheckoutError::Timeout => {
                            shared
                                .counters
                                .pool_wait_timeouts
                                .fetch_add(1, Ordering::Relaxed);
                            MySqlError::new(
                                1040,
                                "08004",
                                format!(
                                    "trireme-proxy: no free backend connection within {} ms \
                                     (pool.size {} per backend)",
                                    shared.config.pool.wait_timeout_ms, shared.config.pool.size
                                ),
                            )
                        }
                    };
                    return Err(flow(send_err(&mut c.stream, seq, &err).await));
                }
            },
        };
        if lease.conn().db == st.db || st.db.is_empty() {
            return Ok((lease, fresh, same));
        }
        let mut init = vec![0x02];
        init.extend_from_slice(st.db.as_bytes());
        match lease.conn().simple(&init).await {
            Ok(Ok(())) => {
                lease.conn().db = st.db.clone();
                return Ok((lease, fresh, same));
            }
            Ok(Err(text)) => {
                // The database is gone (or never existed): the client's
                // statement fails as it would on the node.
                let held = !fresh;
                if held {
                    st.lease = Some(lease);
                } else {
                    lease.release(false).await;
                }
                let e = MySqlError::new(1049, "42000", text);
                return Err(flow(send_err(&mut c.stream, seq, &e).await));
            }
            Err(_) if fresh && tries < 3 => {
                shared.counters.retries.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            Err(_) => return Err(lost(shared, c, seq, !fresh).await),
        }
    }
}

/// Answers 2013 for a backend lost before it answered.
async fn lost(shared: &Shared, c: &mut ClientSide, seq: u8, in_txn: bool) -> Flow {
    shared.counters.lost.fetch_add(1, Ordering::Relaxed);
    let what = if in_txn { "transaction" } else { "query" };
    let e = MySqlError::new(
        2013,
        "HY000",
        format!("Lost connection to backend during {what}"),
    );
    flow(send_err(&mut c.stream, seq, &e).await)
}

/// Runs one command on a lent or borrowed connection; `use_db`: the
/// database the client is in once it succeeds.
async fn run(
    shared: &Arc<Shared>,
    port: Port,
    st: &mut State,
    c: &mut ClientSide,
    cmd: &Command,
    (kind, prev): (Response, Previous),
    use_db: Option<String>,
) -> Flow {
    let seq = cmd.reply_seq();
    let give_up = Instant::now() + shared.config.pool_wait();
    let mut tries = 0;
    loop {
        tries += 1;
        let again = prev != Previous::No && tries == 1;
        let (mut lease, fresh, same) = match lease_for(shared, port, st, c, seq, again).await {
            Ok(l) => l,
            Err(f) => return f,
        };
        let index = lease.index();
        let b = &shared.backends[index];
        if prev != Previous::No && !same {
            // The connection that ran the previous statement has run
            // something else since (or is gone).
            match restore(st.insert_id, &mut lease, prev).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    lease.release(false).await;
                    return flow(send_err(&mut c.stream, seq, &e).await);
                }
                Err(_) => {
                    drop(lease);
                    shared.suspect(index);
                    if tries < 3 {
                        shared.counters.retries.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    return lost(shared, c, seq, false).await;
                }
            }
        }
        if lease.conn().send(&cmd.raw).await.is_err() {
            // Never reached the node: a fresh connection is retried.
            drop(lease);
            shared.suspect(index);
            if fresh && tries < 3 {
                shared.counters.retries.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            return lost(shared, c, seq, !fresh).await;
        }
        b.bytes_to_backend
            .fetch_add(cmd.raw.len() as u64, Ordering::Relaxed);
        let mut sink = Sink::client(&mut c.stream, &b.bytes_to_client);
        let (conn, down) = lease.parts();
        let answered = tokio::select! {
            r = conn.response(kind, &mut sink) => Some(r),
            _ = down.changed() => None,
        };
        if let (Some(Ok(None)), Some(ER_NOT_READY)) = (&answered, sink.unsent_refusal()) {
            // The node refused before running anything (not Primary, not
            // ready): an autocommit statement may try again, on another
            // node once the monitor takes this one out, within the pool
            // wait bound.
            if fresh && Instant::now() + NOT_READY_PAUSE < give_up {
                sink.withhold();
                drop(sink);
                lease.release(false).await;
                shared.suspect(index);
                shared.counters.retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(NOT_READY_PAUSE).await;
                continue;
            }
        }
        let result = match answered {
            Some(Ok(s)) => sink.flush().await.map(|()| s),
            Some(Err(e)) => Err(e),
            None => Err(sink.backend_failed(std::io::Error::other("backend marked down"))),
        };
        drop(sink);
        return match result {
            Ok(status) => {
                let conn = lease.conn();
                if conn.insert_id != 0 {
                    st.insert_id = conn.insert_id;
                }
                st.last = Some((index, conn.id, conn.uses));
                if let (Some(_), Some(db)) = (status, use_db) {
                    lease.conn().db = db.clone();
                    st.db = db;
                }
                let keep = match status {
                    None => !fresh,
                    Some(s) => {
                        s.contains(StatusFlags::SERVER_STATUS_IN_TRANS)
                            || !s.contains(StatusFlags::SERVER_STATUS_AUTOCOMMIT)
                    }
                };
                if keep {
                    st.lease = Some(lease);
                } else {
                    lease.release(!fresh).await;
                }
                Flow::Next
            }
            Err(Fail::BackendBeforeReply(e)) => {
                debug!(backend = %lease.addr(), error = %e, "backend lost before answering");
                let index = lease.index();
                drop(lease);
                shared.suspect(index);
                lost(shared, c, seq, !fresh).await
            }
            Err(e) => {
                info!(backend = %lease.addr(), error = %e, "closing the client session");
                let index = lease.index();
                drop(lease);
                if !matches!(e, Fail::Client(_)) {
                    shared.suspect(index);
                }
                Flow::End
            }
        };
    }
}

/// Makes a connection that did not run the client's previous statement
/// answer for it: sets its `LAST_INSERT_ID()` to the client's. The
/// results only that connection knew (`ROW_COUNT()`, `FOUND_ROWS()`,
/// warnings) cannot be carried over: `Ok(Err)` is the error the client
/// gets instead of a wrong answer. `Err`: the connection failed (nothing
/// of the client's ran).
async fn restore(
    insert_id: u64,
    lease: &mut Lease,
    prev: Previous,
) -> Result<Result<(), MySqlError>, Fail> {
    if prev == Previous::Result {
        return Ok(Err(MySqlError::new(
            1105,
            "HY000",
            "trireme-proxy (pool mode): ROW_COUNT(), FOUND_ROWS() and warnings describe the \
             previous statement, and its backend connection has run another client's statement \
             since; run both statements in one transaction, or use auth = \"passthrough\"",
        )));
    }
    let sql = format!("SELECT LAST_INSERT_ID({insert_id})");
    match lease.conn().internal_query(sql.as_bytes()).await? {
        Ok(()) => Ok(Ok(())),
        Err(text) => Ok(Err(MySqlError::new(
            1105,
            "HY000",
            format!("trireme-proxy: restoring LAST_INSERT_ID() failed: {text}"),
        ))),
    }
}

/// Pins the session to a connection and sends `cmd` on it.
async fn pin(
    shared: &Arc<Shared>,
    port: Port,
    st: &mut State,
    c: &mut ClientSide,
    cmd: &Command,
    why: &'static str,
) -> Flow {
    let seq = cmd.reply_seq();
    // The connection of the previous statement if it is free, so what it
    // knows of it (LAST_INSERT_ID(), warnings, ...) stays with the session.
    let (mut lease, fresh, _) = match lease_for(shared, port, st, c, seq, true).await {
        Ok(l) => l,
        Err(f) => return f,
    };
    if lease.conn().send(&cmd.raw).await.is_err() {
        return lost(shared, c, seq, !fresh).await;
    }
    shared.backends[lease.index()]
        .bytes_to_backend
        .fetch_add(cmd.raw.len() as u64, Ordering::Relaxed);
    shared.counters.pinned.fetch_add(1, Ordering::Relaxed);
    debug!(backend = %lease.addr(), reason = why, "session pinned to its backend connection");
    Flow::Pinned(lease)
}

/// Relays a pinned session byte for byte until either side ends or the
/// backend is marked down; the connection is closed afterwards.
async fn pinned(shared: &Arc<Shared>, c: ClientSide, mut lease: Lease) {
    let b = &shared.backends[lease.index()];
    let (backend, backend_rest) = lease.take_conn().into_parts();
    let Side {
        stream: client,
        buf: client_rest,
        ..
    } = c;
    let mut client = Counted::new(client, &b.bytes_to_client);
    let mut backend = Counted::new(backend, &b.bytes_to_backend);
    let relay = async {
        // Bytes already read past the last command or answer go first.
        write_rest(&mut backend, client_rest).await?;
        write_rest(&mut client, backend_rest).await?;
        tokio::io::copy_bidirectional(&mut client, &mut backend).await
    };
    tokio::select! {
        r = relay => debug!(result = ?r.map(|_| ()), "pinned session ended"),
        _ = lease.down.changed() => {
            shared.counters.killed.fetch_add(1, Ordering::Relaxed);
            debug!("pinned session closed: backend marked down");
        }
    }
}

async fn write_rest<W: tokio::io::AsyncWrite + Unpin>(
    w: &mut W,
    rest: BytesMut,
) -> std::io::Result<()> {
    if !rest.is_empty() {
        w.write_all(&rest).await?;
        w.flush().await?;
    }
    Ok(())
}
