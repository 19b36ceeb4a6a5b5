//! The real transport: QUIC (`quinn`) with mutual TLS.
//!
//! # Connections and streams
//!
//! - One connection per peer address, opened on demand and cached; concurrent
//!   callers share the connect attempt. A connection that fails is dropped
//!   from the cache and re-opened by the next call.
//! - Right after the handshake, the connecting side opens a bidirectional
//!   stream and sends a [`Hello`]; the accepting side checks protocol version
//!   and cluster name (also checked in both certificates' OU) and answers
//!   [`HelloReply`]. A refusal closes the connection and is logged on both
//!   ends.
//! - Each request then uses its own bidirectional stream: one request frame,
//!   one response frame. One-way messages use unidirectional streams.
//! - A frame that is oversize, truncated or does not decode closes the whole
//!   connection with a logged error (error code [`CODE_PROTOCOL`]); the member
//!   keeps serving everyone else.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use parking_lot::{Mutex, RwLock};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{Connection, Endpoint, VarInt};
use rustls::pki_types::CertificateDer;

use super::frame::{read_frame, write_frame, FrameError};
use super::proto::{Hello, HelloReply, Request, Response, PROTOCOL_VERSION};
use super::transport::{Faults, Handler, NetError, Peer, Transport};
use crate::codec;
use crate::tls::{self, TlsMaterial, SERVER_NAME};
use crate::types::NodeId;

/// Connection closed: protocol violation (bad frame).
pub const CODE_PROTOCOL: u32 = 1;
/// Connection closed: refused (cluster name, version, certificate).
pub const CODE_REFUSED: u32 = 2;
/// Connection closed: shutting down.
pub const CODE_SHUTDOWN: u32 = 3;

/// Settings of a [`QuicTransport`].
#[derive(Debug, Clone)]
pub struct QuicSettings {
    /// Own id.
    pub id: NodeId,
    /// Own name.
    pub name: String,
    /// Cluster name peers must share.
    pub cluster: String,
    /// Largest frame accepted.
    pub max_frame: usize,
    /// Connect + hello timeout.
    pub connect_timeout: Duration,
    /// QUIC idle timeout.
    pub idle_timeout: Duration,
    /// QUIC keep-alive interval.
    pub keep_alive: Duration,
}

type ConnectFut = futures::future::Shared<BoxFuture<'static, Result<Connection, NetError>>>;

/// Per-address connection state. A connect attempt runs in its own task, so a
/// caller whose RPC times out does not abort it (handshakes in debug builds
/// can take longer than a heartbeat).
#[derive(Default)]
struct Slot {
    conn: Option<Connection>,
    connecting: Option<ConnectFut>,
}

/// QUIC transport of one member.
pub struct QuicTransport {
    endpoint: Mutex<Option<Endpoint>>,
    local: SocketAddr,
    s: QuicSettings,
    conns: Mutex<HashMap<String, Slot>>,
    handler: RwLock<Option<Weak<dyn Handler>>>,
    faults: Arc<Faults>,
    stop: tokio::sync::watch::Sender<bool>,
    me: Weak<QuicTransport>,
}

fn transport_config(s: &QuicSettings) -> quinn::TransportConfig {
    let mut t = quinn::TransportConfig::default();
    t.max_concurrent_bidi_streams(VarInt::from_u32(4096));
    t.max_concurrent_uni_streams(VarInt::from_u32(1024));
    t.keep_alive_interval(Some(s.keep_alive));
    t.max_idle_timeout(Some(
        quinn::IdleTimeout::try_from(s.idle_timeout)
            .unwrap_or_else(|_| VarInt::from_u32(30_000).into()),
    ));
    t.stream_receive_window(VarInt::from_u32(16 << 20));
    t.receive_window(VarInt::from_u32(64 << 20));
    t.send_window(64 << 20);
    t
}

fn peer_cert(conn: &Connection) -> Option<CertificateDer<'static>> {
    let any = conn.peer_identity()?;
    let certs = any.downcast::<Vec<CertificateDer<'static>>>().ok()?;
    certs.first().cloned()
}

impl QuicTransport {
    /// Bind `listen` and start accepting. Requests are dispatched to the
    /// handler set with [`QuicTransport::set_handler`].
    pub fn bind(
        listen: SocketAddr,
        tls_m: &TlsMaterial,
        s: QuicSettings,
        faults: Arc<Faults>,
    ) -> Result<Arc<Self>, String> {
        let server_tls = tls_m.server_config().map_err(|e| e.to_string())?;
        let client_tls = tls_m.client_config().map_err(|e| e.to_string())?;
        let mut server = quinn::ServerConfig::with_crypto(Arc::new(
            QuicServerConfig::try_from(server_tls).map_err(|e| e.to_string())?,
        ));
        server.transport_config(Arc::new(transport_config(&s)));
        let mut client = quinn::ClientConfig::new(Arc::new(
            QuicClientConfig::try_from(client_tls).map_err(|e| e.to_string())?,
        ));
        client.transport_config(Arc::new(transport_config(&s)));
        let mut endpoint = Endpoint::server(server, listen)
            .map_err(|e| format!("cannot bind QUIC endpoint on {listen}: {e}"))?;
        endpoint.set_default_client_config(client);
        let local = endpoint.local_addr().map_err(|e| e.to_string())?;
        let (stop, _) = tokio::sync::watch::channel(false);
        let t = Arc::new_cyclic(|me| QuicTransport {
            endpoint: Mutex::new(Some(endpoint)),
            local,
            s,
            conns: Mutex::new(HashMap::new()),
            handler: RwLock::new(None),
            faults,
            stop,
            me: me.clone(),
        });
        let t2 = t.clone();
        tokio::spawn(async move { t2.accept_loop().await });
        Ok(t)
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    fn endpoint(&self) -> Option<Endpoint> {
        self.endpoint.lock().clone()
    }

    /// Where incoming requests go.
    pub fn set_handler(&self, h: Weak<dyn Handler>) {
        *self.handler.write() = Some(h);
    }

    async fn accept_loop(self: Arc<Self>) {
        let mut stop = self.stop.subscribe();
        let Some(ep) = self.endpoint() else { return };
        loop {
            let inc = tokio::select! {
                i = ep.accept() => i,
                _ = stop.changed() => break,
            };
            let Some(inc) = inc else { break };
            let me = self.clone();
            tokio::spawn(async move { me.serve_conn(inc).await });
        }
    }

    fn check_cert(&self, conn: &Connection) -> Result<(), String> {
        let cert = peer_cert(conn).ok_or("peer presented no certificate")?;
        match tls::cluster_of(&cert) {
            Some(c) if c == self.s.cluster => Ok(()),
            Some(c) => Err(format!(
                "peer certificate is for cluster {c:?}, not {:?}",
                self.s.cluster
            )),
            None => Err("peer certificate names no cluster (subject OU)".into()),
        }
    }

    async fn serve_conn(self: Arc<Self>, inc: quinn::Incoming) {
        let remote = inc.remote_address();
        let conn = match tokio::time::timeout(self.s.connect_timeout, inc).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                tracing::warn!(%remote, error = %e, "refused incoming peer connection (TLS handshake failed; wrong CA?)");
                return;
            }
            Err(_) => {
                tracing::warn!(%remote, "incoming peer connection timed out in the handshake");
                return;
            }
        };
        if let Err(e) = self.check_cert(&conn) {
            tracing::warn!(%remote, reason = %e, "refused peer");
            conn.close(VarInt::from_u32(CODE_REFUSED), e.as_bytes());
            return;
        }
        // Hello.
        let hello = async {
            let (mut send, mut recv) = conn.accept_bi().await.map_err(|e| e.to_string())?;
            let b = read_frame(&mut recv, 64 << 10)
                .await
                .map_err(|e| e.to_string())?;
            let h: Hello = codec::decode(&b).map_err(|e| e.to_string())?;
            let reply = if h.protocol != PROTOCOL_VERSION {
                Err(format!(
                    "protocol version {} not supported (this member speaks {PROTOCOL_VERSION})",
                    h.protocol
                ))
            } else if h.cluster != self.s.cluster {
                Err(format!(
                    "cluster name {:?} differs from {:?}",
                    h.cluster, self.s.cluster
                ))
            } else {
                Ok(h.id)
            };
            let r = match &reply {
                Ok(_) => HelloReply::Welcome(self.s.id),
                Err(e) => HelloReply::Refused(e.clone()),
            };
            let enc = codec::encode(&r).map_err(|e| e.to_string())?;
            write_frame(&mut send, &enc)
                .await
                .map_err(|e| e.to_string())?;
            let _ = send.finish();
            reply.map(|id| (id, h.name))
        };
        let (peer_id, peer_name) = match tokio::time::timeout(self.s.connect_timeout, hello).await {
            Ok(Ok(x)) => x,
            Ok(Err(e)) => {
                tracing::warn!(%remote, reason = %e, "refused peer in hello");
                // Give the reply a moment to leave before closing.
                tokio::time::sleep(Duration::from_millis(50)).await;
                conn.close(VarInt::from_u32(CODE_REFUSED), e.as_bytes());
                return;
            }
            Err(_) => {
                tracing::warn!(%remote, "peer sent no hello in time; closing");
                conn.close(VarInt::from_u32(CODE_REFUSED), b"no hello");
                return;
            }
        };
        tracing::debug!(%remote, peer_id, %peer_name, "peer connected");
        let mut stop = self.stop.subscribe();
        loop {
            tokio::select! {
                bi = conn.accept_bi() => match bi {
                    Ok((send, recv)) => {
                        let me = self.clone();
                        let c = conn.clone();
                        tokio::spawn(async move { me.serve_stream(c, peer_id, send, recv).await });
                    }
                    Err(e) => {
                        tracing::debug!(%remote, peer_id, error = %e, "peer connection ended");
                        return;
                    }
                },
                uni = conn.accept_uni() => match uni {
                    Ok(recv) => {
                        let me = self.clone();
                        let c = conn.clone();
                        tokio::spawn(async move { me.serve_uni(c, peer_id, recv).await });
                    }
                    Err(e) => {
                        tracing::debug!(%remote, peer_id, error = %e, "peer connection ended");
                        return;
                    }
                },
                _ = stop.changed() => {
                    conn.close(VarInt::from_u32(CODE_SHUTDOWN), b"shutdown");
                    return;
                }
            }
        }
    }

    fn protocol_error(&self, conn: &Connection, peer: NodeId, what: &str) {
        tracing::error!(peer, remote = %conn.remote_address(), error = %what, "bad frame from peer; closing its connection");
        conn.close(VarInt::from_u32(CODE_PROTOCOL), b"bad frame");
    }

    async fn read_request(
        &self,
        conn: &Connection,
        peer: NodeId,
        recv: &mut quinn::RecvStream,
    ) -> Option<Request> {
        match read_frame(recv, self.s.max_frame).await {
            Ok(b) => match codec::decode::<Request>(&b) {
                Ok(r) => Some(r),
                Err(e) => {
                    self.protocol_error(conn, peer, &e.to_string());
                    None
                }
            },
            Err(FrameError::Eof) => {
                self.protocol_error(conn, peer, "stream ended without a request");
                None
            }
            Err(FrameError::Io(e)) => {
                tracing::debug!(peer, error = %e, "request stream failed");
                None
            }
            Err(e) => {
                self.protocol_error(conn, peer, &e.to_string());
                None
            }
        }
    }

    fn handler(&self) -> Option<Arc<dyn Handler>> {
        self.handler.read().as_ref().and_then(|w| w.upgrade())
    }

    async fn serve_stream(
        &self,
        conn: Connection,
        peer: NodeId,
        mut send: quinn::SendStream,
        mut recv: quinn::RecvStream,
    ) {
        let Some(req) = self.read_request(&conn, peer, &mut recv).await else {
            return;
        };
        if !self.faults.allows(Some(peer)) {
            let _ = send.reset(VarInt::from_u32(0));
            return;
        }
        let resp = match self.handler() {
            Some(h) => h.handle(peer, req).await,
            None => Response::Unavailable("member is starting or stopping".into()),
        };
        if !self.faults.allows(Some(peer)) {
            let _ = send.reset(VarInt::from_u32(0));
            return;
        }
        match codec::encode(&resp) {
            Ok(b) => {
                if write_frame(&mut send, &b).await.is_ok() {
                    let _ = send.finish();
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot encode response"),
        }
    }

    async fn serve_uni(&self, conn: Connection, peer: NodeId, mut recv: quinn::RecvStream) {
        let Some(req) = self.read_request(&conn, peer, &mut recv).await else {
            return;
        };
        if !self.faults.allows(Some(peer)) {
            return;
        }
        if let Some(h) = self.handler() {
            let _ = h.handle(peer, req).await;
        }
    }

    async fn connect(&self, addr: &str) -> Result<Connection, NetError> {
        let sa = tokio::net::lookup_host(addr)
            .await
            .map_err(|e| NetError::Unreachable(format!("cannot resolve {addr}: {e}")))?
            .next()
            .ok_or_else(|| NetError::Unreachable(format!("{addr} resolves to nothing")))?;
        let connecting = self
            .endpoint()
            .ok_or_else(|| NetError::Unreachable("transport stopped".into()))?
            .connect(sa, SERVER_NAME)
            .map_err(|e| NetError::Unreachable(format!("connect {addr}: {e}")))?;
        let conn = connecting.await.map_err(|e| match e {
            quinn::ConnectionError::ConnectionClosed(_) | quinn::ConnectionError::TransportError(_) => {
                tracing::warn!(%addr, error = %e, "peer refused our TLS handshake (certificate not from its CA?)");
                NetError::Refused(format!("TLS handshake with {addr} failed: {e}"))
            }
            other => NetError::Unreachable(format!("connect {addr}: {other}")),
        })?;
        if let Err(e) = self.check_cert(&conn) {
            tracing::warn!(%addr, reason = %e, "refusing peer");
            conn.close(VarInt::from_u32(CODE_REFUSED), e.as_bytes());
            return Err(NetError::Refused(e));
        }
        let hello = Hello {
            protocol: PROTOCOL_VERSION,
            cluster: self.s.cluster.clone(),
            id: self.s.id,
            name: self.s.name.clone(),
        };
        let r = async {
            let (mut send, mut recv) = conn.open_bi().await.map_err(|e| e.to_string())?;
            write_frame(
                &mut send,
                &codec::encode(&hello).map_err(|e| e.to_string())?,
            )
            .await
            .map_err(|e| e.to_string())?;
            let _ = send.finish();
            let b = read_frame(&mut recv, 64 << 10)
                .await
                .map_err(|e| e.to_string())?;
            codec::decode::<HelloReply>(&b).map_err(|e| e.to_string())
        }
        .await;
        match r {
            Ok(HelloReply::Welcome(_)) => Ok(conn),
            Ok(HelloReply::Refused(why)) => {
                tracing::warn!(%addr, reason = %why, "peer refused our hello");
                Err(NetError::Refused(why))
            }
            Err(e) => Err(NetError::Unreachable(format!(
                "hello with {addr} failed: {e}"
            ))),
        }
    }

    async fn conn(&self, addr: &str) -> Result<Connection, NetError> {
        let fut = {
            let mut g = self.conns.lock();
            let slot = g.entry(addr.to_string()).or_default();
            if let Some(c) = &slot.conn {
                if c.close_reason().is_none() {
                    return Ok(c.clone());
                }
                slot.conn = None;
            }
            match &slot.connecting {
                Some(f) => f.clone(),
                None => {
                    let Some(me) = self.me.upgrade() else {
                        return Err(NetError::Unreachable("transport stopped".into()));
                    };
                    let a = addr.to_string();
                    let h = tokio::spawn(async move {
                        let r = tokio::time::timeout(me.s.connect_timeout, me.connect(&a))
                            .await
                            .unwrap_or_else(|_| {
                                Err(NetError::Unreachable(format!("connect to {a} timed out")))
                            });
                        let mut g = me.conns.lock();
                        let slot = g.entry(a).or_default();
                        slot.connecting = None;
                        if let Ok(c) = &r {
                            slot.conn = Some(c.clone());
                        }
                        r
                    });
                    let f: BoxFuture<'static, Result<Connection, NetError>> = async move {
                        h.await.unwrap_or_else(|e| {
                            Err(NetError::Unreachable(format!("connect task failed: {e}")))
                        })
                    }
                    .boxed();
                    let f = f.shared();
                    slot.connecting = Some(f.clone());
                    f
                }
            }
        };
        fut.await
    }

    fn forget(&self, addr: &str, conn: &Connection) {
        let mut g = self.conns.lock();
        if let Some(slot) = g.get_mut(addr) {
            if slot
                .conn
                .as_ref()
                .is_some_and(|c| c.stable_id() == conn.stable_id())
            {
                slot.conn = None;
            }
        }
    }

    async fn call_inner(&self, peer: &Peer, body: &[u8]) -> Result<Response, NetError> {
        let conn = self.conn(&peer.addr).await?;
        let (mut send, mut recv) = match conn.open_bi().await {
            Ok(s) => s,
            Err(e) => {
                self.forget(&peer.addr, &conn);
                return Err(NetError::Unreachable(format!(
                    "open stream to {}: {e}",
                    peer.addr
                )));
            }
        };
        if let Err(e) = write_frame(&mut send, body).await {
            self.forget(&peer.addr, &conn);
            return Err(NetError::Io(format!("send to {}: {e}", peer.addr)));
        }
        let _ = send.finish();
        match read_frame(&mut recv, self.s.max_frame).await {
            Ok(b) => codec::decode::<Response>(&b).map_err(|e| {
                tracing::error!(addr = %peer.addr, error = %e, "bad response frame; closing connection");
                conn.close(VarInt::from_u32(CODE_PROTOCOL), b"bad frame");
                NetError::Io(e.to_string())
            }),
            Err(e) => {
                if conn.close_reason().is_some() {
                    self.forget(&peer.addr, &conn);
                }
                Err(NetError::Io(format!("response from {}: {e}", peer.addr)))
            }
        }
    }
}

impl Transport for QuicTransport {
    fn call<'a>(
        &'a self,
        peer: &'a Peer,
        req: &'a Request,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Response, NetError>> {
        async move {
            if !self.faults.allows(peer.id) {
                return Err(NetError::Unreachable("fault injection: link is cut".into()));
            }
            let body = codec::encode(req).map_err(|e| NetError::Unreachable(e.to_string()))?;
            if body.len() > self.s.max_frame {
                return Err(NetError::Unreachable(format!(
                    "request of {} bytes exceeds max_frame_bytes",
                    body.len()
                )));
            }
            match tokio::time::timeout(timeout, self.call_inner(peer, &body)).await {
                Ok(r) => r,
                Err(_) => Err(NetError::Timeout),
            }
        }
        .boxed()
    }

    fn notify(&self, peer: &Peer, req: Request) {
        if !self.faults.allows(peer.id) {
            return;
        }
        let Ok(body) = codec::encode(&req) else {
            return;
        };
        let Some(me) = self.me.upgrade() else { return };
        let addr = peer.addr.clone();
        tokio::spawn(async move {
            let conn = match me.conn(&addr).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::debug!(%addr, error = %e, "one-way message dropped");
                    return;
                }
            };
            if let Ok(mut s) = conn.open_uni().await {
                if write_frame(&mut s, &body).await.is_ok() {
                    let _ = s.finish();
                }
            }
        });
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        async move {
            let _ = self.stop.send(true);
            let ep = self.endpoint.lock().take();
            let conns: Vec<Connection> = self
                .conns
                .lock()
                .drain()
                .filter_map(|(_, s)| s.conn)
                .collect();
            drop(conns);
            if let Some(ep) = ep {
                ep.close(VarInt::from_u32(CODE_SHUTDOWN), b"shutdown");
                let _ = tokio::time::timeout(Duration::from_secs(2), ep.wait_idle()).await;
                drop(ep);
            }
            // The socket closes when quinn's endpoint driver notices the last
            // handle is gone; wait (bounded) until the port is free so a
            // restart on the same address works.
            for _ in 0..100 {
                match std::net::UdpSocket::bind(self.local) {
                    Ok(sock) => {
                        drop(sock);
                        break;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        }
        .boxed()
    }
}
