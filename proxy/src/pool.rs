//! Pool mode's backend side: a bounded pool of logged-in connections per
//! backend, leases of one connection to one client, and the relay of one
//! command's response, packet by packet, so the proxy knows where it ends
//! and what the server's status flags say afterwards.
//!
//! # Invariants
//!
//! - A backend never has more than `pool.size` connections from this pool
//!   (idle, lent and pinned together): a connection is opened only by a
//!   holder of one of the pool's `size` semaphore permits, and only when
//!   no idle one is left; a lent connection holds its permit until it is
//!   returned or closed ([`Lease`]).
//! - An idle connection is between commands, outside any transaction and
//!   with autocommit on: it is returned to the pool only after an OK or
//!   EOF without `SERVER_STATUS_IN_TRANS` and with
//!   `SERVER_STATUS_AUTOCOMMIT`, or after COM_RESET_CONNECTION answered
//!   OK. Anything else (an error mid-response, a client gone mid-result)
//!   closes it.
//! - Backend connections are logged in without CLIENT_DEPRECATE_EOF, and
//!   the proxy does not offer it to clients, so every client reads result
//!   sets in the one format the pool speaks.
//! - An idle connection is checked for a close or reset from the backend
//!   (a non-blocking read) before it is lent, so a connection to a killed
//!   node is never handed a statement.
//! - Idle connections are lent oldest-returned first, and each counts the
//!   commands it has run ([`BackendConn::uses`]): a session whose next
//!   statement asks about its previous one (`LAST_INSERT_ID()`,
//!   `ROW_COUNT()`, ...) takes back the very connection that ran it
//!   ([`reclaim`]) only when nothing ran there since.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Context;

use bytes::{Buf, BytesMut};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use trireme_wire::client::{Client, ClientError, ClientOptions};
use trireme_wire::codec::AsyncStream;
use trireme_wire::{StatusFlags, Timeouts};

use crate::router::{Port, Shared};

/// A client is sent its output once this much is queued.
const FLUSH_AT: usize = 64 * 1024;
/// Payload bytes a response packet's type and status are read from (an OK
/// packet's status ends by byte 21).
const HEAD: usize = 32;

/// Errors a server sends as it closes a connection (ER_SERVER_SHUTDOWN,
/// ER_CONNECTION_KILLED): the connection is lost, not the statement
/// refused.
const CLOSING: [u16; 2] = [1053, 1927];

/// The pool of one backend.
pub(crate) struct Pool {
    permits: Arc<Semaphore>,
    /// Oldest returned first.
    idle: Mutex<VecDeque<BackendConn>>,
    /// Connections open now (idle, lent, pinned).
    open: AtomicUsize,
}

impl Pool {
    pub(crate) fn new(size: usize) -> Self {
        Pool {
            permits: Arc::new(Semaphore::new(size.max(1))),
            idle: Mutex::new(VecDeque::new()),
            open: AtomicUsize::new(0),
        }
    }

    /// Connections open now.
    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Idle connections now.
    pub(crate) fn idle(&self) -> usize {
        self.idle.lock().len()
    }
}

/// Identities of pool connections, unique in the process.
static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

/// One logged-in backend connection.
pub(crate) struct BackendConn {
    io: Box<dyn AsyncStream>,
    rbuf: BytesMut,
    /// This connection's identity.
    pub(crate) id: u64,
    /// Commands sent on it so far (the proxy's own included).
    pub(crate) uses: u64,
    /// The last-insert-id of its last OK packet.
    pub(crate) insert_id: u64,
    /// The current database ("" for none).
    pub(crate) db: String,
    /// Status flags of the last OK or EOF.
    pub(crate) status: StatusFlags,
}

/// Why a backend connection could not be lent.
pub(crate) enum OpenError {
    /// Connect or login failed (refused, timed out, ERR).
    Failed(String),
}

impl BackendConn {
    async fn open(shared: &Shared, index: usize) -> Result<BackendConn, OpenError> {
        let (user, password) = shared.config.pool_login();
        let mut opts = ClientOptions::new(user, password);
        let t = Some(shared.config.backend_connect_timeout());
        opts.timeouts = Timeouts { idle: t, io: t };
        opts.deprecate_eof = false;
        if !shared.config.pool.database.is_empty() {
            opts.database = Some(shared.config.pool.database.clone());
        }
        let addr = &shared.backends[index].addr;
        let client = Client::connect(addr, &opts).await.map_err(|e| {
            OpenError::Failed(match e {
                ClientError::Server(m) => format!("ERROR {}: {}", m.code, m.message),
                ClientError::Wire(w) => w.to_string(),
            })
        })?;
        let status = client.status();
        let (io, rbuf, _) = client.into_packet_stream().into_parts();
        Ok(BackendConn {
            io,
            rbuf,
            id: NEXT_CONN.fetch_add(1, Ordering::Relaxed),
            uses: 0,
            insert_id: 0,
            db: shared.config.pool.database.clone(),
            status,
        })
    }

    /// False when the backend closed or reset the connection, or sent
    /// something unasked (ERR 1927 before closing), while it sat idle.
    pub(crate) fn is_alive(&mut self) -> bool {
        if !self.rbuf.is_empty() {
            return false;
        }
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut byte = [0u8; 1];
        let mut buf = ReadBuf::new(&mut byte);
        // Pending is the only healthy answer: data or EOF or an error on an
        // idle connection all mean the server is done with it.
        std::pin::Pin::new(&mut self.io)
            .poll_read(&mut cx, &mut buf)
            .is_pending()
    }

    /// Writes a whole command (frames as the client sent them).
    pub(crate) async fn send(&mut self, raw: &[u8]) -> std::io::Result<()> {
        self.uses += 1;
        self.insert_id = 0;
        self.io.write_all(raw).await?;
        self.io.flush().await
    }

    async fn fill(&mut self, n: usize) -> std::io::Result<()> {
        while self.rbuf.len() < n {
            self.rbuf.reserve(n.max(8192));
            if self.io.read_buf(&mut self.rbuf).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(())
    }

    /// Runs an internal command (sequence id 0) whose answer is OK or ERR.
    /// `Ok(Err(text))`: the server refused.
    pub(crate) async fn simple(&mut self, payload: &[u8]) -> Result<Result<(), String>, Fail> {
        self.internal(payload, Response::Simple).await
    }

    /// Runs an internal COM_QUERY whose result set, if any, is dropped.
    pub(crate) async fn internal_query(&mut self, sql: &[u8]) -> Result<Result<(), String>, Fail> {
        let mut payload = Vec::with_capacity(sql.len() + 1);
        payload.push(0x03);
        payload.extend_from_slice(sql);
        self.internal(&payload, Response::Query).await
    }

    async fn internal(
        &mut self,
        payload: &[u8],
        kind: Response,
    ) -> Result<Result<(), String>, Fail> {
        let mut raw = Vec::with_capacity(payload.len() + 4);
        raw.extend_from_slice(&(payload.len() as u32).to_le_bytes()[..3]);
        raw.push(0);
        raw.extend_from_slice(payload);
        self.send(&raw).await.map_err(Fail::BackendWrite)?;
        let mut sink = Sink::Discard;
        match self.response(kind, &mut sink).await? {
            Some(_) => Ok(Ok(())),
            None => Ok(Err(sink.error_text())),
        }
    }

    /// Relays one response to `out`; returns the final status flags, or
    /// `None` when it ended with ERR.
    pub(crate) async fn response(
        &mut self,
        kind: Response,
        out: &mut Sink<'_>,
    ) -> Result<Option<StatusFlags>, Fail> {
        loop {
            let (head, len) = self.packet(out).await?;
            let first = head.first().copied();
            match (kind, first) {
                (Response::Single, _) => return Ok(Some(self.status)),
                (_, Some(0xff)) => {
                    if let Some(code) = head.get(1..3) {
                        if CLOSING.contains(&u16::from_le_bytes([code[0], code[1]])) {
                            return Err(out.backend_failed(std::io::Error::other(
                                "the server closed the connection",
                            )));
                        }
                    }
                    out.note_error(&head);
                    return Ok(None);
                }
                (_, Some(0x00)) => {
                    let status = ok_status(&head).ok_or(Fail::Protocol("short OK packet"))?;
                    self.status = status;
                    self.insert_id = ok_insert_id(&head).unwrap_or(0);
                    if kind == Response::Query
                        && status.contains(StatusFlags::SERVER_MORE_RESULTS_EXISTS)
                    {
                        continue;
                    }
                    return Ok(Some(status));
                }
                (Response::Simple, _) => return Err(Fail::Protocol("expected OK or ERR")),
                (Response::Query, Some(0xfb)) => {
                    return Err(Fail::Protocol("LOCAL INFILE request (not negotiated)"))
                }
                (Response::Query, _) => {
                    let columns = lenenc(&head).ok_or(Fail::Protocol("column count"))?;
                    if columns == 0 || columns > 4096 || len > 9 {
                        return Err(Fail::Protocol("column count"));
                    }
                    for _ in 0..columns {
                        self.packet(out).await?;
                    }
                    let (eof, _) = self.packet(out).await?;
                    if eof.first() != Some(&0xfe) {
                        return Err(Fail::Protocol("no EOF after the column definitions"));
                    }
                    let status = loop {
                        let (row, len) = self.packet(out).await?;
                        match row.first() {
                            Some(0xff) => {
                                out.note_error(&row);
                                return Ok(None);
                            }
                            Some(0xfe) if len < 9 => {
                                break eof_status(&row).ok_or(Fail::Protocol("short EOF"))?
                            }
                            _ => {}
                        }
                    };
                    self.status = status;
                    if !status.contains(StatusFlags::SERVER_MORE_RESULTS_EXISTS) {
                        return Ok(Some(status));
                    }
                }
            }
        }
    }

    /// Relays one logical packet (all its frames) to `out`; returns its
    /// first [`HEAD`] payload bytes and its payload length.
    async fn packet(&mut self, out: &mut Sink<'_>) -> Result<(Vec<u8>, usize), Fail> {
        let mut head = Vec::new();
        let mut total = 0usize;
        out.begin_packet();
        loop {
            self.fill(4).await.map_err(|e| out.backend_failed(e))?;
            let len = usize::from(self.rbuf[0])
                | usize::from(self.rbuf[1]) << 8
                | usize::from(self.rbuf[2]) << 16;
            if total == 0 {
                let want = len.min(HEAD);
                self.fill(4 + want)
                    .await
                    .map_err(|e| out.backend_failed(e))?;
                head.extend_from_slice(&self.rbuf[4..4 + want]);
            }
            let mut left = 4 + len;
            while left > 0 {
                if self.rbuf.is_empty() {
                    out.flush().await?;
                    self.fill(1).await.map_err(|e| out.backend_failed(e))?;
                }
                let n = left.min(self.rbuf.len());
                out.put(&self.rbuf[..n]).await?;
                self.rbuf.advance(n);
                left -= n;
            }
            total += len;
            if len < 0xff_ffff {
                return Ok((head, total));
            }
        }
    }

    /// Unwraps the stream and any bytes read past the last response (for
    /// the byte relay of a pinned session).
    pub(crate) fn into_parts(self) -> (Box<dyn AsyncStream>, BytesMut) {
        (self.io, self.rbuf)
    }
}

/// What kind of answer a command gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Response {
    /// COM_QUERY: OK, ERR, or result sets, possibly several.
    Query,
    /// OK or ERR (COM_INIT_DB, COM_PING, COM_RESET_CONNECTION).
    Simple,
    /// Exactly one packet of any content (COM_STATISTICS).
    Single,
}

/// Why relaying a response failed.
#[derive(Debug)]
pub(crate) enum Fail {
    /// Writing the command to the backend failed: it never ran (retryable).
    BackendWrite(std::io::Error),
    /// The backend failed before any of its answer reached the client.
    BackendBeforeReply(std::io::Error),
    /// The backend failed after part of its answer reached the client.
    BackendMidReply(std::io::Error),
    /// Writing to the client failed.
    Client(std::io::Error),
    /// The backend broke the protocol.
    Protocol(&'static str),
}

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fail::BackendWrite(e) => write!(f, "sending the command to the backend failed: {e}"),
            Fail::BackendBeforeReply(e) => write!(f, "the backend failed before answering: {e}"),
            Fail::BackendMidReply(e) => write!(f, "the backend failed mid-answer: {e}"),
            Fail::Client(e) => write!(f, "writing to the client failed: {e}"),
            Fail::Protocol(what) => write!(f, "backend protocol error: {what}"),
        }
    }
}

/// Where a response goes: to a client (counted), or nowhere (internal
/// commands).
pub(crate) enum Sink<'a> {
    /// Internal command: the answer is dropped; an ERR's text is kept.
    Discard,
    /// Internal command whose ERR was seen.
    Refused(String),
    /// A client.
    Client {
        stream: &'a mut Box<dyn AsyncStream>,
        out: Vec<u8>,
        /// Bytes already written to the client for this response.
        sent: u64,
        counter: &'a std::sync::atomic::AtomicU64,
        /// Packets of this response seen so far.
        packets: u32,
        /// The code of an ERR that is the whole response, still unsent.
        refused: Option<u16>,
    },
}

impl<'a> Sink<'a> {
    pub(crate) fn client(
        stream: &'a mut Box<dyn AsyncStream>,
        counter: &'a std::sync::atomic::AtomicU64,
    ) -> Self {
        Sink::Client {
            stream,
            out: Vec::with_capacity(4096),
            sent: 0,
            counter,
            packets: 0,
            refused: None,
        }
    }

    fn begin_packet(&mut self) {
        if let Sink::Client { packets, .. } = self {
            *packets += 1;
        }
    }

    /// The error code when the response was a lone ERR not yet written to
    /// the client (so it can still be withheld and the command retried).
    pub(crate) fn unsent_refusal(&self) -> Option<u16> {
        match self {
            Sink::Client { refused, .. } => *refused,
            _ => None,
        }
    }

    /// Drops what is queued for the client.
    pub(crate) fn withhold(&mut self) {
        if let Sink::Client { out, refused, .. } = self {
            out.clear();
            *refused = None;
        }
    }

    async fn put(&mut self, bytes: &[u8]) -> Result<(), Fail> {
        if let Sink::Client { out, .. } = self {
            out.extend_from_slice(bytes);
            if out.len() >= FLUSH_AT {
                self.flush().await?;
            }
        }
        Ok(())
    }

    /// Writes out what is queued.
    pub(crate) async fn flush(&mut self) -> Result<(), Fail> {
        if let Sink::Client {
            stream,
            out,
            sent,
            counter,
            ..
        } = self
        {
            if !out.is_empty() {
                stream.write_all(out).await.map_err(Fail::Client)?;
                *sent += out.len() as u64;
                counter.fetch_add(out.len() as u64, Ordering::Relaxed);
                out.clear();
            }
        }
        Ok(())
    }

    /// Classifies a backend read failure by whether the client saw any of
    /// the answer yet (queued bytes are dropped: the client gets a clean
    /// error instead).
    pub(crate) fn backend_failed(&mut self, e: std::io::Error) -> Fail {
        match self {
            Sink::Client { sent, out, .. } if *sent == 0 => {
                out.clear();
                Fail::BackendBeforeReply(e)
            }
            Sink::Client { .. } => Fail::BackendMidReply(e),
            _ => Fail::BackendBeforeReply(e),
        }
    }

    fn note_error(&mut self, err: &[u8]) {
        match self {
            Sink::Discard => *self = Sink::Refused(crate::relay::err_text(err)),
            Sink::Client {
                sent: 0,
                packets: 1,
                refused,
                ..
            } => *refused = err.get(1..3).map(|c| u16::from_le_bytes([c[0], c[1]])),
            _ => {}
        }
    }

    fn error_text(&self) -> String {
        match self {
            Sink::Refused(t) => t.clone(),
            _ => "ERR".into(),
        }
    }
}

/// `lenenc` integer at the start of `p`.
fn lenenc(p: &[u8]) -> Option<u64> {
    let le = |b: &[u8]| b.iter().rev().fold(0u64, |acc, &x| acc << 8 | u64::from(x));
    match *p.first()? {
        n @ 0..=0xfa => Some(u64::from(n)),
        0xfc => p.get(1..3).map(le),
        0xfd => p.get(1..4).map(le),
        0xfe => p.get(1..9).map(le),
        _ => None,
    }
}

fn lenenc_size(first: u8) -> usize {
    match first {
        0xfc => 3,
        0xfd => 4,
        0xfe => 9,
        _ => 1,
    }
}

/// The status flags of an OK packet's head.
fn ok_status(p: &[u8]) -> Option<StatusFlags> {
    let mut at = 1;
    for _ in 0..2 {
        at += lenenc_size(*p.get(at)?);
    }
    let s = p.get(at..at + 2)?;
    Some(StatusFlags::from_bits_retain(u16::from_le_bytes([
        s[0], s[1],
    ])))
}

/// The last-insert-id of an OK packet's head.
fn ok_insert_id(p: &[u8]) -> Option<u64> {
    let at = 1 + lenenc_size(*p.get(1)?);
    lenenc(p.get(at..)?)
}

/// The status flags of an EOF packet.
fn eof_status(p: &[u8]) -> Option<StatusFlags> {
    let s = p.get(3..5)?;
    Some(StatusFlags::from_bits_retain(u16::from_le_bytes([
        s[0], s[1],
    ])))
}

/// One backend connection lent to one client: holds a pool permit and
/// counts as an active session on the backend until returned or dropped
/// (dropping closes the connection).
pub(crate) struct Lease {
    conn: Option<BackendConn>,
    /// Whether this lease still counts its connection as open (false once
    /// it went back to the idle list).
    holds_open: bool,
    shared: Arc<Shared>,
    index: usize,
    port: Port,
    _permit: OwnedSemaphorePermit,
    /// Fires when the backend is marked down.
    pub(crate) down: watch::Receiver<u64>,
}

impl Lease {
    pub(crate) fn conn(&mut self) -> &mut BackendConn {
        self.conn
            .as_mut()
            .expect("a lease holds its connection until consumed")
    }

    /// The connection and the backend's down signal, borrowed together.
    pub(crate) fn parts(&mut self) -> (&mut BackendConn, &mut watch::Receiver<u64>) {
        (
            self.conn
                .as_mut()
                .expect("a lease holds its connection until consumed"),
            &mut self.down,
        )
    }

    /// The backend's index.
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// The backend's address.
    pub(crate) fn addr(&self) -> &str {
        &self.shared.backends[self.index].addr
    }

    /// Returns the connection to the pool, after COM_RESET_CONNECTION when
    /// `reset` (a transaction or session state was on it); a connection
    /// whose reset fails is closed instead.
    pub(crate) async fn release(mut self, reset: bool) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        if reset && !matches!(conn.simple(&[0x1f]).await, Ok(Ok(()))) {
            return;
        }
        if conn.status.contains(StatusFlags::SERVER_STATUS_IN_TRANS)
            || !conn.status.contains(StatusFlags::SERVER_STATUS_AUTOCOMMIT)
        {
            // Not reusable as is; see the module invariants.
            return;
        }
        // A database cannot be unselected: with no pool default, a
        // connection that has one is not handed to clients that chose none.
        if self.shared.config.pool.database.is_empty() && !conn.db.is_empty() {
            return;
        }
        self.holds_open = false;
        self.shared.backends[self.index]
            .pool
            .idle
            .lock()
            .push_back(conn);
    }

    /// Takes the connection out for good (a pinned session); it is no
    /// longer pooled, but still counted until the lease drops.
    pub(crate) fn take_conn(&mut self) -> BackendConn {
        self.conn
            .take()
            .expect("a lease holds its connection until consumed")
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let b = &self.shared.backends[self.index];
        if self.holds_open {
            // The connection (if not already dropped) closes with it.
            b.pool.open.fetch_sub(1, Ordering::Relaxed);
        }
        b.lease_ended(self.port);
    }
}

/// Lends connection `id` of backend `index` again if it is idle, alive,
/// has run nothing since its `uses`-th command, and the backend is still
/// routable for `port`; `None` otherwise.
pub(crate) fn reclaim(
    shared: &Arc<Shared>,
    port: Port,
    index: usize,
    id: u64,
    uses: u64,
) -> Option<Lease> {
    if !shared.candidates(port).contains(&index) {
        return None;
    }
    let b = &shared.backends[index];
    // An idle connection holds no permit, so one is free while it is idle
    // (unless another checkout races for it: then this one gives up).
    let permit = b.pool.permits.clone().try_acquire_owned().ok()?;
    let mut conn = {
        let mut idle = b.pool.idle.lock();
        let at = idle.iter().position(|c| c.id == id && c.uses == uses)?;
        idle.remove(at)?
    };
    if !conn.is_alive() {
        b.pool.open.fetch_sub(1, Ordering::Relaxed);
        shared.suspect(index);
        return None;
    }
    b.lease_started(port);
    Some(Lease {
        conn: Some(conn),
        holds_open: true,
        shared: shared.clone(),
        index,
        port,
        _permit: permit,
        down: b.down_watch(),
    })
}

/// Why no connection could be lent.
pub(crate) enum CheckoutError {
    /// No backend is up, or none could be connected to.
    NoBackend(String),
    /// Every candidate's pool stayed full for `pool.wait_timeout_ms`.
    Timeout,
}

/// Lends a connection to a backend chosen for `port` (its healthy
/// backends in routing order; a backend whose connect fails is skipped
/// for this checkout and its monitor woken). Returns the lease and the
/// number of dead idle connections or failed connects passed over (each a
/// statement retry avoided a client error for).
pub(crate) async fn checkout(
    shared: &Arc<Shared>,
    port: Port,
) -> Result<(Lease, u64), CheckoutError> {
    let deadline = tokio::time::Instant::now() + shared.config.pool_wait();
    let mut skipped: Vec<usize> = Vec::new();
    let mut reasons: Vec<String> = Vec::new();
    let mut passed_over = 0u64;
    loop {
        let candidates: Vec<usize> = shared
            .candidates(port)
            .into_iter()
            .filter(|i| !skipped.contains(i))
            .collect();
        let Some(&first) = candidates.first() else {
            let why = if reasons.is_empty() {
                format!(
                    "no healthy backend for the {} port (0 of {} up)",
                    port.name(),
                    shared.backends.len()
                )
            } else {
                format!("no backend reachable: {}", reasons.join("; "))
            };
            return Err(CheckoutError::NoBackend(why));
        };
        // Single-writer routing waits for the writer's pool rather than
        // spill statements onto other nodes; balanced routing takes any
        // free connection, best candidate first.
        let spill = shared.policy(port) != crate::config::Balance::Single;
        let mut got = None;
        for &i in candidates
            .iter()
            .take(if spill { candidates.len() } else { 1 })
        {
            if let Ok(p) = shared.backends[i].pool.permits.clone().try_acquire_owned() {
                got = Some((i, p));
                break;
            }
        }
        let (index, permit) = match got {
            Some(g) => g,
            None => {
                let sem = shared.backends[first].pool.permits.clone();
                match tokio::time::timeout_at(deadline, sem.acquire_owned()).await {
                    Ok(Ok(p)) => (first, p),
                    Ok(Err(_)) | Err(_) => return Err(CheckoutError::Timeout),
                }
            }
        };
        let b = &shared.backends[index];
        if !b.is_up() {
            skipped.push(index);
            continue;
        }
        let mut conn = None;
        loop {
            let Some(mut c) = b.pool.idle.lock().pop_front() else {
                break;
            };
            if c.is_alive() {
                conn = Some(c);
                break;
            }
            b.pool.open.fetch_sub(1, Ordering::Relaxed);
            passed_over += 1;
            // The node closed it: perhaps the node is gone.
            shared.suspect(index);
        }
        let conn = match conn {
            Some(c) => c,
            None => {
                b.pool.open.fetch_add(1, Ordering::Relaxed);
                match BackendConn::open(shared, index).await {
                    Ok(c) => c,
                    Err(OpenError::Failed(why)) => {
                        b.pool.open.fetch_sub(1, Ordering::Relaxed);
                        b.connect_failures.fetch_add(1, Ordering::Relaxed);
                        shared.suspect(index);
                        tracing::info!(backend = %b.addr, reason = %why, "pool connect failed; trying the next backend");
                        reasons.push(format!("{}: {why}", b.addr));
                        skipped.push(index);
                        passed_over += 1;
                        continue;
                    }
                }
            }
        };
        b.lease_started(port);
        let down = b.down_watch();
        return Ok((
            Lease {
                conn: Some(conn),
                holds_open: true,
                shared: shared.clone(),
                index,
                port,
                _permit: permit,
                down,
            },
            passed_over,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ok_and_eof_status() {
        // OK: affected 1, last id 0xfc 0x10 0x27 (10000), status 0x0003.
        let ok = [0x00, 0x01, 0xfc, 0x10, 0x27, 0x03, 0x00, 0x00, 0x00];
        let s = ok_status(&ok).unwrap();
        assert!(s.contains(StatusFlags::SERVER_STATUS_IN_TRANS));
        assert!(s.contains(StatusFlags::SERVER_STATUS_AUTOCOMMIT));
        assert_eq!(ok_status(&[0x00, 0x01]), None);
        assert_eq!(ok_insert_id(&ok), Some(10000));
        assert_eq!(ok_insert_id(&[0x00, 0x00, 0x07, 0x02, 0x00]), Some(7));
        assert_eq!(ok_insert_id(&[0x00, 0x01]), None);
        assert_eq!(ok_insert_id(&[0x00, 0xfc, 0x01]), None);
        assert_eq!(ok_status(&[0x00, 0xfe, 1]), None);
        let eof = [0xfe, 0, 0, 0x08, 0x00];
        assert!(eof_status(&eof)
            .unwrap()
            .contains(StatusFlags::SERVER_MORE_RESULTS_EXISTS));
        assert_eq!(eof_status(&[0xfe, 0]), None);
        assert_eq!(lenenc(&[3]), Some(3));
        assert_eq!(lenenc(&[0xfc, 0x00, 0x01]), Some(256));
        assert_eq!(lenenc(&[0xfc, 0x00]), None);
        assert_eq!(lenenc(&[0xff]), None);
        assert_eq!(lenenc(&[]), None);
    }
}
