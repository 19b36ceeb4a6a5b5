//! One client session: choose a backend, relay the login packet for packet,
//! then relay bytes both ways until either side ends.
//!
//! # The life of a client connection
//!
//! 1. **Choose.** [`Shared::candidates`] lists the `Up` backends for this
//!    port, best first. For each in turn the session reserves it
//!    ([`Shared::reserve`]), connects, and reads its greeting
//!    (HandshakeV10, sequence id 0), all within `backend_connect_timeout`.
//!    A refused or timed-out connect, or an ERR greeting (1040 Too many
//!    connections, 1129 host blocked), moves on to the next candidate: the
//!    client has seen nothing yet. When none is left the client gets an ERR
//!    packet in place of a greeting (1047/08S01 like a non-primary Galera
//!    node, or the last backend's own ERR greeting).
//! 2. **Login relay.** The greeting goes to the client unchanged. The
//!    client's HandshakeResponse (seq 1) goes to the backend unchanged.
//!    Then backend and client packets alternate, each forwarded with its
//!    own sequence id, until the backend sends OK (logged in) or ERR
//!    (refused: the client gets it, e.g. ERROR 1045, and both connections
//!    close). `caching_sha2_password`'s fast-auth-success (`01 03`) is
//!    followed by the backend's OK without a client turn; every other
//!    non-final backend packet (AuthSwitchRequest, more auth data) expects
//!    one client packet. The proxy holds no user table and never sees a
//!    password: authentication is end to end.
//! 3. **TLS.** A 32-byte response with CLIENT_SSL is an SSLRequest: it is
//!    forwarded and the session becomes an opaque byte relay at once, so
//!    TLS runs end to end between client and node (the proxy does not
//!    terminate TLS).
//! 4. **Relay.** Bytes are copied both ways through fixed 32 KiB buffers,
//!    without parsing: commands, result sets, LOAD DATA LOCAL, the
//!    compressed protocol, COM_CHANGE_USER all pass as they are. The
//!    session ends when either side closes or fails (the other is closed
//!    too: a backend that dies mid-session is a lost connection for the
//!    client, never a silent move to another node), or when the proxy
//!    closes it: backend marked down or demoted from writer (with
//!    `shutdown_sessions_on_down`), or proxy shutdown (at any step).
//!
//! # Invariants
//!
//! - Nothing the client or backend sends can panic this code. Login-phase
//!   packets are capped at [`MAX_LOGIN_PACKET`] bytes (the frame header is
//!   checked before the body is buffered, by
//!   [`trireme_wire::PacketCodec`]) and must carry the expected sequence
//!   id; the relay phase holds at most two 32 KiB buffers per session. So
//!   one session's memory is bounded whatever the peers send.
//! - Every wait is bounded: connect and greeting by
//!   `backend_connect_timeout`, the login relay by `handshake_timeout`;
//!   the relay phase has no timeout of its own (the node's `wait_timeout`
//!   applies, and a silent dead node is closed when the monitor marks it
//!   down).
//! - A session is counted on its backend from reservation until it ends.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{debug, info, warn, Instrument};
use trireme_wire::{CapabilityFlags, PacketCodec, WireError};

use crate::config::AuthMode;
use crate::router::{Counters, Port, SessionSlot, Shared};

/// Largest payload accepted from either side during the login relay. The
/// wire server caps login packets at 64 KiB; this leaves room.
pub(crate) const MAX_LOGIN_PACKET: usize = 128 * 1024;

/// Size of each of the two relay buffers of a session.
pub(crate) const RELAY_BUFFER: usize = 32 * 1024;

/// Client turns allowed in one login (auth switch, public key, ...).
const MAX_AUTH_ROUND_TRIPS: usize = 8;

/// ER_UNKNOWN_COM_ERROR, what Galera answers on a node that is not ready.
pub(crate) const ER_NO_BACKEND: u16 = 1047;
/// ER_CON_COUNT_ERROR.
const ER_TOO_MANY: u16 = 1040;

static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

/// Why a login relay failed (not a clean refusal by the backend).
#[derive(Debug, thiserror::Error)]
pub(crate) enum RelayError {
    #[error("{0}")]
    Wire(#[from] WireError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0} closed the connection during login")]
    Closed(&'static str),
    #[error("timed out {0}")]
    Timeout(&'static str),
    #[error("malformed {0}")]
    Malformed(&'static str),
    #[error("the backend refused: {0}")]
    Refused(String),
}

/// One side of a session: the socket (or a TLS stream over it, pool mode)
/// and bytes read but not yet used.
pub(crate) struct Side<S = TcpStream> {
    pub(crate) stream: S,
    pub(crate) buf: BytesMut,
    name: &'static str,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Side<S> {
    pub(crate) fn new(stream: S, name: &'static str) -> Self {
        Side {
            stream,
            buf: BytesMut::with_capacity(4096),
            name,
        }
    }

    /// Reads one payload that must carry sequence id `seq`.
    pub(crate) async fn read_packet(
        &mut self,
        seq: u8,
        deadline: Instant,
    ) -> Result<Bytes, RelayError> {
        let mut codec = PacketCodec::new(MAX_LOGIN_PACKET);
        codec.set_seq(seq);
        loop {
            if let Some(p) = codec.decode(&mut self.buf)? {
                return Ok(p);
            }
            let n = tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf))
                .await
                .map_err(|_| RelayError::Timeout("reading a login packet"))??;
            if n == 0 {
                return Err(RelayError::Closed(self.name));
            }
        }
    }

    /// Writes `payload` as one packet with sequence id `seq`.
    pub(crate) async fn write_packet(
        &mut self,
        seq: u8,
        payload: &[u8],
        deadline: Instant,
    ) -> Result<(), RelayError> {
        let out = frame(seq, payload);
        tokio::time::timeout_at(deadline, self.stream.write_all(&out))
            .await
            .map_err(|_| RelayError::Timeout("writing a login packet"))??;
        Ok(())
    }
}

/// `payload` framed with sequence id `seq`.
pub(crate) fn frame(seq: u8, payload: &[u8]) -> Vec<u8> {
    let mut codec = PacketCodec::new(usize::MAX);
    codec.set_seq(seq);
    let mut out = Vec::with_capacity(payload.len() + 4);
    codec.encode(payload, &mut out);
    out
}

/// An ERR packet sent in place of a greeting (no SQLSTATE: capabilities
/// are not negotiated yet, as with a server's own pre-handshake errors).
pub(crate) fn greeting_error(code: u16, message: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(3 + message.len());
    p.push(0xff);
    p.extend_from_slice(&code.to_le_bytes());
    p.extend_from_slice(message.as_bytes());
    frame(0, &p)
}

/// The pre-handshake refusal for a listener at `max_connections`.
pub(crate) fn too_many_connections() -> Vec<u8> {
    greeting_error(ER_TOO_MANY, "Too many connections")
}

/// Error code and message of an ERR payload, for logs.
pub(crate) fn err_text(p: &[u8]) -> String {
    if p.len() < 3 {
        return "malformed ERR packet".into();
    }
    let code = u16::from_le_bytes([p[1], p[2]]);
    let mut msg = &p[3..];
    if msg.first() == Some(&b'#') && msg.len() >= 6 {
        msg = &msg[6..];
    }
    format!("ERROR {code}: {}", String::from_utf8_lossy(msg))
}

enum ConnectFailure {
    /// Could not connect or read a greeting.
    Unreachable(String),
    /// The backend answered with an ERR packet instead of a greeting.
    Refused { packet: Bytes, text: String },
}

async fn connect_backend(addr: &str, timeout: Duration) -> Result<(Side, Bytes), ConnectFailure> {
    let deadline = Instant::now() + timeout;
    let stream = tokio::time::timeout_at(deadline, TcpStream::connect(addr))
        .await
        .map_err(|_| ConnectFailure::Unreachable("connect timed out".into()))?
        .map_err(|e| ConnectFailure::Unreachable(format!("connect: {e}")))?;
    let _ = stream.set_nodelay(true);
    let mut side = Side::new(stream, "backend");
    let greeting = side
        .read_packet(0, deadline)
        .await
        .map_err(|e| ConnectFailure::Unreachable(format!("reading the greeting: {e}")))?;
    match greeting.first() {
        Some(10) => Ok((side, greeting)),
        Some(0xff) => Err(ConnectFailure::Refused {
            text: err_text(&greeting),
            packet: greeting,
        }),
        _ => Err(ConnectFailure::Unreachable(
            "not a protocol 10 greeting".into(),
        )),
    }
}

/// How the login relay ended.
enum Login {
    /// The backend sent OK: relay the session.
    Ok { user: String },
    /// The backend refused the login with this ERR packet (not yet sent
    /// to the client).
    Denied {
        user: String,
        text: String,
        packet: Bytes,
        seq: u8,
    },
    /// The client asked for TLS: relay opaque bytes from here.
    Tls,
}

/// The user name of a HandshakeResponse41, for logs (lossy, best effort).
fn response_user(p: &[u8]) -> String {
    p.get(32..)
        .and_then(|rest| rest.split(|&b| b == 0).next())
        .map(|u| String::from_utf8_lossy(u).into_owned())
        .unwrap_or_default()
}

async fn relay_login(
    client: &mut Side,
    backend: &mut Side,
    greeting: &[u8],
    deadline: Instant,
) -> Result<Login, RelayError> {
    client.write_packet(0, greeting, deadline).await?;
    let response = client.read_packet(1, deadline).await?;
    if response.len() < 4 {
        return Err(RelayError::Malformed("handshake response"));
    }
    let caps = CapabilityFlags::from_bits_retain(u32::from_le_bytes([
        response[0],
        response[1],
        response[2],
        response[3],
    ]));
    backend.write_packet(1, &response, deadline).await?;
    if response.len() == 32 && caps.contains(CapabilityFlags::CLIENT_SSL) {
        return Ok(Login::Tls);
    }
    let user = response_user(&response);
    let mut seq: u8 = 2;
    let mut turns = 0;
    loop {
        let p = backend.read_packet(seq, deadline).await?;
        if p.first() == Some(&0xff) {
            // Returned unsent: the caller counts the refusal first.
            return Ok(Login::Denied {
                user,
                text: err_text(&p),
                packet: p,
                seq,
            });
        }
        client.write_packet(seq, &p, deadline).await?;
        seq = seq.wrapping_add(1);
        match p.first() {
            Some(0x00) => return Ok(Login::Ok { user }),
            // caching_sha2_password fast auth success: the OK follows.
            Some(0x01) if p.len() == 2 && p[1] == 0x03 => continue,
            None => return Err(RelayError::Malformed("empty packet from the backend")),
            _ => {}
        }
        turns += 1;
        if turns > MAX_AUTH_ROUND_TRIPS {
            return Err(RelayError::Malformed(
                "login: too many authentication turns",
            ));
        }
        let c = client.read_packet(seq, deadline).await?;
        backend.write_packet(seq, &c, deadline).await?;
        seq = seq.wrapping_add(1);
    }
}

/// The statement that makes a read-port session read its writes.
const SYNC_WAIT: &str = "SET SESSION wsrep_sync_wait = 1";

/// Runs [`SYNC_WAIT`] on a freshly logged-in backend connection, before
/// any client byte is relayed (the client never sees it: its own first
/// command still starts a new sequence).
async fn start_sync_wait(backend: &mut Side, deadline: Instant) -> Result<(), RelayError> {
    let mut q = Vec::with_capacity(1 + SYNC_WAIT.len());
    q.push(0x03); // COM_QUERY
    q.extend_from_slice(SYNC_WAIT.as_bytes());
    backend.write_packet(0, &q, deadline).await?;
    let r = backend.read_packet(1, deadline).await?;
    match r.first() {
        Some(0x00) => Ok(()),
        Some(0xff) => Err(RelayError::Refused(err_text(&r))),
        _ => Err(RelayError::Malformed("reply to SET wsrep_sync_wait")),
    }
}

/// Why a relayed session ended.
#[derive(Debug)]
enum End {
    ClientClosed,
    BackendClosed,
    ClientError(std::io::Error),
    BackendError(std::io::Error),
    Closed(&'static str),
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::ClientClosed => f.write_str("client closed"),
            End::BackendClosed => f.write_str("backend closed"),
            End::ClientError(e) => write!(f, "relaying client to backend failed: {e}"),
            End::BackendError(e) => write!(f, "relaying backend to client failed: {e}"),
            End::Closed(why) => write!(f, "closed by the proxy: {why}"),
        }
    }
}

async fn relay_bytes(
    client: Side,
    backend: Side,
    slot: &mut SessionSlot,
    counters: &Counters,
) -> End {
    let Side {
        stream: mut cs,
        buf: cbuf,
        ..
    } = client;
    let Side {
        stream: mut bs,
        buf: bbuf,
        ..
    } = backend;
    let (cr, cw) = cs.split();
    let (br, bw) = bs.split();
    let shared = slot.shared();
    let b = &shared.backends[slot.index()];
    let mut cw = Counted::new(cw, &b.bytes_to_client);
    let mut bw = Counted::new(bw, &b.bytes_to_backend);
    // Bytes already read past the login (a pipelined first command) go
    // first.
    let mut from_client =
        BufReader::with_capacity(RELAY_BUFFER, std::io::Cursor::new(cbuf.freeze()).chain(cr));
    let mut from_backend =
        BufReader::with_capacity(RELAY_BUFFER, std::io::Cursor::new(bbuf.freeze()).chain(br));
    let demoted = async {
        match slot.demoted.as_mut() {
            Some(d) => {
                let _ = d.changed().await;
            }
            None => std::future::pending().await,
        }
    };
    // Biased: a pending close wins over relaying more bytes, so a session
    // on a backend marked down never starts another command there.
    let end = tokio::select! {
        biased;
        _ = slot.down.changed() => End::Closed("backend marked down"),
        _ = demoted => End::Closed("backend is no longer the writer"),
        r = tokio::io::copy_buf(&mut from_client, &mut bw) => match r {
            Ok(_) => End::ClientClosed,
            Err(e) => End::ClientError(e),
        },
        r = tokio::io::copy_buf(&mut from_backend, &mut cw) => match r {
            Ok(_) => End::BackendClosed,
            Err(e) => End::BackendError(e),
        },
    };
    if let End::Closed(_) = end {
        // Counted while both sockets are still open.
        counters.killed.fetch_add(1, Ordering::Relaxed);
    }
    end
}

/// A writer that adds every byte it writes to a shared counter (the
/// metrics' per-backend byte totals), as it goes, so a long session's
/// traffic shows before the session ends.
pub(crate) struct Counted<'a, W> {
    inner: W,
    counter: &'a AtomicU64,
}

impl<'a, W> Counted<'a, W> {
    pub(crate) fn new(inner: W, counter: &'a AtomicU64) -> Self {
        Counted { inner, counter }
    }
}

impl<W: AsyncRead + Unpin> AsyncRead for Counted<'_, W> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for Counted<'_, W> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let r = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        if let std::task::Poll::Ready(Ok(n)) = &r {
            self.counter.fetch_add(*n as u64, Ordering::Relaxed);
        }
        r
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Serves one accepted client connection to its end.
pub(crate) async fn serve_client(
    shared: Arc<Shared>,
    port: Port,
    client: TcpStream,
    peer: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
) {
    let id = NEXT_SESSION.fetch_add(1, Ordering::Relaxed);
    let span = tracing::debug_span!("session", id, %peer, port = port.name());
    async move {
        tokio::select! {
            _ = async {
                match shared.config.auth {
                    AuthMode::Passthrough => session(&shared, port, client).await,
                    AuthMode::Pool => crate::pooled::session(&shared, port, client, id).await,
                }
            } => {}
            _ = crate::stopped(&mut shutdown) => {
                shared.counters.killed.fetch_add(1, Ordering::Relaxed);
                debug!("closed: proxy shutting down");
            }
        }
    }
    .instrument(span)
    .await
}

async fn session(shared: &Arc<Shared>, port: Port, client: TcpStream) {
    let _ = client.set_nodelay(true);
    let mut client = Side::new(client, "client");
    let candidates = shared.candidates(port);
    let timeout = shared.config.backend_connect_timeout();
    let mut refusal: Option<Bytes> = None;
    let mut reasons = Vec::new();
    let mut chosen = None;
    for index in candidates {
        let Some(slot) = shared.reserve(index, port) else {
            continue;
        };
        let addr = slot.backend().addr.clone();
        match connect_backend(&addr, timeout).await {
            Ok((side, greeting)) => {
                chosen = Some((slot, side, greeting));
                break;
            }
            Err(f) => {
                slot.backend()
                    .connect_failures
                    .fetch_add(1, Ordering::Relaxed);
                let text = match f {
                    ConnectFailure::Unreachable(t) => {
                        shared.suspect(index);
                        t
                    }
                    ConnectFailure::Refused { packet, text } => {
                        refusal = Some(packet);
                        text
                    }
                };
                info!(backend = %addr, reason = %text, "backend unusable for a new session; trying the next");
                reasons.push(format!("{addr}: {text}"));
            }
        }
    }
    let Some((mut slot, mut backend, greeting)) = chosen else {
        shared.counters.no_backend.fetch_add(1, Ordering::Relaxed);
        let packet = match refusal {
            Some(p) => frame(0, &p),
            None => {
                let up = shared.backends.iter().filter(|b| b.is_up()).count();
                let msg = if reasons.is_empty() {
                    format!(
                        "trireme-proxy: no healthy backend for the {} port (0 of {} up)",
                        port.name(),
                        shared.backends.len()
                    )
                } else {
                    format!(
                        "trireme-proxy: no backend reachable for the {} port ({up} up): {}",
                        port.name(),
                        reasons.join("; ")
                    )
                };
                greeting_error(ER_NO_BACKEND, &msg)
            }
        };
        debug!("refused: no backend");
        let _ =
            tokio::time::timeout(Duration::from_secs(5), client.stream.write_all(&packet)).await;
        return;
    };
    slot.established();
    let backend_addr = slot.backend().addr.clone();
    let deadline = Instant::now() + shared.config.handshake_timeout();
    let login = relay_login(&mut client, &mut backend, &greeting, deadline).await;
    match login {
        Ok(Login::Ok { user }) => {
            debug!(backend = %backend_addr, %user, "logged in; relaying");
            if port == Port::Read && shared.config.read_your_writes {
                if let Err(e) = start_sync_wait(&mut backend, deadline).await {
                    // The client already has its OK: closing is the one
                    // clear answer left (it sees a lost connection).
                    warn!(backend = %backend_addr, error = %e, "cannot enable read-your-writes; closing the session");
                    return;
                }
            }
        }
        Ok(Login::Tls) => {
            shared
                .counters
                .tls_passthrough
                .fetch_add(1, Ordering::Relaxed);
            debug!(backend = %backend_addr, "TLS requested; relaying opaque bytes");
        }
        Ok(Login::Denied {
            user,
            text,
            packet,
            seq,
        }) => {
            slot.backend().auth_failures.fetch_add(1, Ordering::Relaxed);
            debug!(backend = %backend_addr, %user, reason = %text, "login refused by the backend");
            if client.write_packet(seq, &packet, deadline).await.is_ok() {
                let _ = client.stream.shutdown().await;
            }
            return;
        }
        Err(e) => {
            shared
                .counters
                .handshake_failed
                .fetch_add(1, Ordering::Relaxed);
            debug!(backend = %backend_addr, error = %e, "login relay failed");
            return;
        }
    }
    let end = relay_bytes(client, backend, &mut slot, &shared.counters).await;
    if matches!(end, End::BackendClosed | End::BackendError(_)) {
        // Usually a client's own KILL or an idle timeout, but also how a
        // killed node shows: let its monitor look now.
        shared.suspect(slot.index());
    }
    debug!(backend = %backend_addr, %end, "session ended");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_error_packets() {
        assert_eq!(frame(3, b"ab"), vec![2, 0, 0, 3, b'a', b'b']);
        let p = greeting_error(1040, "Too many connections");
        assert_eq!(&p[..7], &[23, 0, 0, 0, 0xff, 0x10, 0x04]);
        assert_eq!(err_text(&p[4..]), "ERROR 1040: Too many connections");
        assert_eq!(
            err_text(b"\xff\x15\x04#28000Access denied"),
            "ERROR 1045: Access denied"
        );
        assert_eq!(err_text(b"\xff"), "malformed ERR packet");
    }

    #[test]
    fn user_of_a_handshake_response() {
        let mut p = vec![0u8; 32];
        p.extend_from_slice(b"root\0rest");
        assert_eq!(response_user(&p), "root");
        assert_eq!(response_user(&[1, 2, 3]), "");
    }
}
