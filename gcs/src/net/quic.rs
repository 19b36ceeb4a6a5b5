//! The real transport: QUIC (`quinn`) with mutual TLS.
//!
//! # Connections and streams
//!
//! - Right after the handshake, the connecting side opens a bidirectional
//!   stream and sends a [`Hello`]; the accepting side checks protocol version
//!   and cluster name (also checked in both certificates' OU) and answers
//!   [`HelloReply`]. A refusal closes the connection and is logged on both
//!   ends. Both messages carry the sender's member id and *incarnation* (a
//!   random number drawn when its transport starts).
//! - Each request then uses its own bidirectional stream: one request frame,
//!   one response frame. One-way messages use unidirectional streams.
//! - A frame that is oversize, truncated or does not decode closes the whole
//!   connection with a logged error (error code [`CODE_PROTOCOL`]); the member
//!   keeps serving everyone else.
//!
//! # The connection manager
//!
//! Requests to a peer address go over one cached outgoing connection, opened
//! on demand; concurrent callers share the connect attempt, which runs in its
//! own task bounded by `connect_timeout`. A cached connection is replaced by
//! a freshly dialed one when any of these shows it is dead or no longer leads
//! to the member wanted:
//!
//! - **it closed** (error, peer closed it, quinn's idle timeout);
//! - **it went silent**: a live peer sends at least one packet every
//!   keep-alive interval (its own keep-alives, or acks of ours), so a
//!   connection on which nothing arrived for [`QuicTransport::silent_after`]
//!   (4 keep-alives, at least 1 s) of this process's *running* time (a
//!   freeze of our own process is not the peer's silence: what it sent is
//!   queued in our socket, see [`crate::stall`]) is *retired*: not used for new requests,
//!   but not closed either, since requests already in flight on it keep
//!   their own deadlines; it is closed once the last of them is done. This
//!   is what makes a
//!   member killed without a goodbye (SIGKILL, power loss) reachable again
//!   as soon as it is restarted, instead of after the much longer QUIC idle
//!   timeout (which stays long so that multi-second stalls of a live peer do
//!   not break connections carrying requests);
//! - **the member restarted**: a hello (in either direction) with a member id
//!   known under another incarnation proves the previous process is gone;
//!   every connection to the previous incarnation, outgoing (cached or
//!   retired) and incoming, is closed at once (code [`CODE_SUPERSEDED`]),
//!   failing its in-flight requests instead of leaving them to their
//!   deadlines (a snapshot chunk may wait `rpc_ms`).
//!
//! A request for a known member id is refused ([`NetError::Refused`], not
//! delivered) when the member answering at that address has another id.
//!
//! Every wait is bounded: connecting by `connect_timeout`, a request by its
//! caller's timeout (waiting for a connection counts as not delivered), a
//! one-way message by twice `connect_timeout`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::FutureExt;
use parking_lot::{Mutex, RwLock};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{Connection, Endpoint, VarInt};
use rustls::pki_types::CertificateDer;

use super::frame::{read_frame, write_frame, FrameError};
use super::proto::{Hello, HelloReply, HelloV1, HelloV2, Request, Response, PROTOCOL_VERSION};
use super::transport::{Faults, Handler, NetError, Peer, Transport};
use crate::codec;
use crate::identity::ClusterIdentity;
use crate::stall::StallClock;
use crate::tls::{self, TlsMaterial, SERVER_NAME};
use crate::types::NodeId;

/// Connection closed: protocol violation (bad frame).
pub const CODE_PROTOCOL: u32 = 1;
/// Connection closed: refused (cluster name, version, certificate).
pub const CODE_REFUSED: u32 = 2;
/// Connection closed: shutting down.
pub const CODE_SHUTDOWN: u32 = 3;
/// Connection closed: it leads to a previous incarnation of a member that
/// has restarted since.
pub const CODE_SUPERSEDED: u32 = 4;

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
    /// Cluster uuid and application format, checked at every hello.
    pub identity: Arc<ClusterIdentity>,
}

/// An established outgoing connection and whom it leads to (from the
/// peer's [`HelloReply::Welcome`]). Every request holds a clone while it
/// runs, so `uses` tells whether requests are still in flight on it.
#[derive(Clone)]
struct Out {
    conn: Connection,
    peer: NodeId,
    incarnation: u64,
    uses: Arc<()>,
}

type ConnectFut = futures::future::Shared<BoxFuture<'static, Result<Out, NetError>>>;

/// A cached outgoing connection with its liveness bookkeeping: the number of
/// datagrams received on it when last looked at, and when that number last
/// changed.
struct Live {
    out: Out,
    rx_seen: u64,
    rx_at: Instant,
}

/// Per-address connection state. A connect attempt runs in its own task, so a
/// caller whose RPC times out does not abort it (handshakes in debug builds
/// can take longer than a heartbeat).
#[derive(Default)]
struct Slot {
    live: Option<Live>,
    connecting: Option<ConnectFut>,
}

/// QUIC transport of one member.
pub struct QuicTransport {
    endpoint: Mutex<Option<Endpoint>>,
    local: SocketAddr,
    s: QuicSettings,
    incarnation: u64,
    conns: Mutex<HashMap<String, Slot>>,
    /// Latest incarnation seen of each member.
    incarnations: Mutex<HashMap<NodeId, u64>>,
    /// Bumped when a member is seen under a new incarnation; wakes the tasks
    /// serving incoming connections so those of the old one close.
    restarts: tokio::sync::watch::Sender<u64>,
    handler: RwLock<Option<Weak<dyn Handler>>>,
    faults: Arc<Faults>,
    stop: tokio::sync::watch::Sender<bool>,
    /// This process's freezes, not held against a peer's silence.
    stall: RwLock<Option<StallClock>>,
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
        let (restarts, _) = tokio::sync::watch::channel(0);
        let t = Arc::new_cyclic(|me| QuicTransport {
            endpoint: Mutex::new(Some(endpoint)),
            local,
            s,
            incarnation: rand::random::<u64>(),
            conns: Mutex::new(HashMap::new()),
            incarnations: Mutex::new(HashMap::new()),
            restarts,
            handler: RwLock::new(None),
            faults,
            stop,
            stall: RwLock::new(None),
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

    /// This transport's incarnation (random, drawn at bind).
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// A cached connection on which nothing arrived for this long is not used
    /// for new requests: 4 keep-alive intervals, at least 1 s, at most the
    /// idle timeout.
    pub fn silent_after(&self) -> Duration {
        (self.s.keep_alive * 4)
            .max(Duration::from_secs(1))
            .min(self.s.idle_timeout)
    }

    /// Record that member `id` answered a hello as `incarnation`. If it was
    /// known under another incarnation, it restarted: close every connection
    /// to the previous one (the cached outgoing one here; retired and
    /// incoming ones by the tasks watching them, woken through `restarts`).
    fn note_incarnation(&self, id: NodeId, incarnation: u64) {
        let previous = self.incarnations.lock().insert(id, incarnation);
        if previous.is_none_or(|p| p == incarnation) {
            return;
        }
        tracing::info!(
            peer = id,
            "member restarted (new incarnation); closing connections to its previous incarnation"
        );
        let stale: Vec<Connection> = self
            .conns
            .lock()
            .values_mut()
            .filter_map(|slot| {
                let old = slot
                    .live
                    .as_ref()
                    .is_some_and(|l| l.out.peer == id && l.out.incarnation != incarnation);
                if old {
                    slot.live.take().map(|l| l.out.conn)
                } else {
                    None
                }
            })
            .collect();
        for c in stale {
            c.close(VarInt::from_u32(CODE_SUPERSEDED), b"peer restarted");
        }
        self.restarts.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Whether `incarnation` is (still) the latest one known of member `id`.
    fn is_current(&self, id: NodeId, incarnation: u64) -> bool {
        self.incarnations
            .lock()
            .get(&id)
            .is_none_or(|i| *i == incarnation)
    }

    fn endpoint(&self) -> Option<Endpoint> {
        self.endpoint.lock().clone()
    }

    /// Measure connection silence in running time of this process: time it
    /// was frozen itself does not count (see [`crate::stall`]).
    pub fn set_stall_clock(&self, c: StallClock) {
        *self.stall.write() = Some(c);
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
            let h: Hello = match codec::decode(&b) {
                Ok(h) => h,
                Err(e) => {
                    // Name the version of an older peer instead of failing
                    // on its shorter hello.
                    let (protocol, cluster, id, name) = match codec::decode::<HelloV2>(&b) {
                        Ok(v2) => (v2.protocol, v2.cluster, v2.id, v2.name),
                        Err(_) => {
                            let v1 = codec::decode::<HelloV1>(&b).map_err(|_| e.to_string())?;
                            (v1.protocol, v1.cluster, v1.id, v1.name)
                        }
                    };
                    Hello {
                        protocol,
                        cluster,
                        id,
                        name,
                        incarnation: 0,
                        cluster_uuid: None,
                        app_version: 0,
                        probe: false,
                    }
                }
            };
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
            } else if h.probe {
                Ok(h.id)
            } else {
                self.s
                    .identity
                    .admit(h.cluster_uuid.as_deref(), h.app_version)
                    .map(|()| h.id)
            };
            let r = match &reply {
                Ok(_) => HelloReply::Welcome {
                    id: self.s.id,
                    incarnation: self.incarnation,
                    cluster_uuid: self.s.identity.uuid(),
                    app_version: self.s.identity.app_version(),
                },
                Err(e) => HelloReply::Refused(e.clone()),
            };
            let enc = codec::encode(&r).map_err(|e| e.to_string())?;
            write_frame(&mut send, &enc)
                .await
                .map_err(|e| e.to_string())?;
            let _ = send.finish();
            reply.map(|id| (id, h.name, h.incarnation, h.probe))
        };
        let (peer_id, peer_name, peer_inc, probe) =
            match tokio::time::timeout(self.s.connect_timeout, hello).await {
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
        if probe {
            // A probe learns who answers and leaves; give the reply a moment.
            tracing::info!(%remote, peer_id, %peer_name, "answered a bootstrap probe");
            tokio::time::sleep(Duration::from_millis(200)).await;
            conn.close(VarInt::from_u32(CODE_SHUTDOWN), b"probe answered");
            return;
        }
        tracing::debug!(%remote, peer_id, %peer_name, "peer connected");
        let mut stop = self.stop.subscribe();
        let mut restarts = self.restarts.subscribe();
        self.note_incarnation(peer_id, peer_inc);
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
                r = restarts.changed() => {
                    if r.is_err() || !self.is_current(peer_id, peer_inc) {
                        tracing::debug!(%remote, peer_id, "closing incoming connection of a previous incarnation");
                        conn.close(VarInt::from_u32(CODE_SUPERSEDED), b"peer restarted");
                        return;
                    }
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

    async fn connect(&self, addr: &str) -> Result<Out, NetError> {
        let (out, uuid, app) = self.hello(addr, false).await?;
        if let Err(why) = self.s.identity.admit(uuid.as_deref(), app) {
            tracing::warn!(%addr, reason = %why, "refusing peer");
            out.conn
                .close(VarInt::from_u32(CODE_REFUSED), why.as_bytes());
            return Err(NetError::Refused(why));
        }
        self.note_incarnation(out.peer, out.incarnation);
        Ok(out)
    }

    /// Asks the member at `addr` which cluster it belongs to, without
    /// joining it or adopting anything: `Ok(None)` is a member with no
    /// history yet. Bootstrap safety: a new cluster must not be formed while
    /// a member of an existing one answers.
    pub async fn probe(&self, addr: &str) -> Result<Option<String>, NetError> {
        let (out, uuid, _) = self.hello(addr, true).await?;
        out.conn
            .close(VarInt::from_u32(CODE_SHUTDOWN), b"probe done");
        Ok(uuid)
    }

    /// Connects and exchanges hellos; returns the connection with the
    /// peer's cluster uuid and application format.
    async fn hello(&self, addr: &str, probe: bool) -> Result<(Out, Option<String>, u32), NetError> {
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
            incarnation: self.incarnation,
            cluster_uuid: self.s.identity.uuid(),
            app_version: self.s.identity.app_version(),
            probe,
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
            Ok(HelloReply::Welcome {
                id,
                incarnation,
                cluster_uuid,
                app_version,
            }) => Ok((
                Out {
                    conn,
                    peer: id,
                    incarnation,
                    uses: Arc::new(()),
                },
                cluster_uuid,
                app_version,
            )),
            Ok(HelloReply::Refused(why)) => {
                tracing::warn!(%addr, reason = %why, "peer refused our hello");
                Err(NetError::Refused(why))
            }
            Err(e) => Err(NetError::Unreachable(format!(
                "hello with {addr} failed: {e}"
            ))),
        }
    }

    /// The connection to `addr`: the cached one while it is open and not
    /// silent, else a fresh one (see the module docs).
    async fn conn(&self, addr: &str) -> Result<Out, NetError> {
        let fut = {
            let mut g = self.conns.lock();
            let slot = g.entry(addr.to_string()).or_default();
            if let Some(l) = &mut slot.live {
                if l.out.conn.close_reason().is_none() {
                    let now = Instant::now();
                    let rx = l.out.conn.stats().udp_rx.datagrams;
                    if rx != l.rx_seen {
                        l.rx_seen = rx;
                        l.rx_at = now;
                    }
                    // Our own freezes do not count: datagrams that arrived
                    // meanwhile are still queued in the socket, unread.
                    let silent = match &*self.stall.read() {
                        Some(c) => c.running_between(l.rx_at, now),
                        None => now.duration_since(l.rx_at),
                    };
                    if silent <= self.silent_after() {
                        return Ok(l.out.clone());
                    }
                    tracing::info!(
                        %addr,
                        peer = l.out.peer,
                        silent_ms = silent.as_millis() as u64,
                        "nothing received from peer on its connection; dialing a fresh one"
                    );
                }
                if let Some(l) = slot.live.take() {
                    self.retire(l.out);
                }
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
                        if let Ok(out) = &r {
                            // A restart noticed meanwhile may have made it stale.
                            if me.is_current(out.peer, out.incarnation) {
                                slot.live = Some(Live {
                                    rx_seen: out.conn.stats().udp_rx.datagrams,
                                    rx_at: Instant::now(),
                                    out: out.clone(),
                                });
                            }
                        }
                        r
                    });
                    let f: BoxFuture<'static, Result<Out, NetError>> = async move {
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

    /// The connection to `peer`, checked to lead to the member wanted, within
    /// `deadline`. Errors mean the request was not delivered.
    async fn conn_for(&self, peer: &Peer, deadline: tokio::time::Instant) -> Result<Out, NetError> {
        let out = match tokio::time::timeout_at(deadline, self.conn(&peer.addr)).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(NetError::Unreachable(format!(
                    "no connection to {} in time",
                    peer.addr
                )))
            }
        };
        match peer.id {
            Some(want) if want != out.peer => Err(NetError::Refused(format!(
                "{} is member {}, not member {want}",
                peer.addr, out.peer
            ))),
            _ => Ok(out),
        }
    }

    /// Stop using `conn` for new requests to `addr` (it failed).
    fn forget(&self, addr: &str, conn: &Connection) {
        let old = {
            let mut g = self.conns.lock();
            g.get_mut(addr).and_then(|slot| {
                if slot
                    .live
                    .as_ref()
                    .is_some_and(|l| l.out.conn.stable_id() == conn.stable_id())
                {
                    slot.live.take()
                } else {
                    None
                }
            })
        };
        if let Some(l) = old {
            self.retire(l.out);
        }
    }

    /// Watch a connection no longer handed out: close it once no request is
    /// in flight on it any more, or at once when its member restarted.
    fn retire(&self, out: Out) {
        let Some(me) = self.me.upgrade() else { return };
        tokio::spawn(async move {
            let mut restarts = me.restarts.subscribe();
            let mut stop = me.stop.subscribe();
            loop {
                if out.conn.close_reason().is_some() {
                    return;
                }
                if !me.is_current(out.peer, out.incarnation) {
                    out.conn
                        .close(VarInt::from_u32(CODE_SUPERSEDED), b"peer restarted");
                    return;
                }
                // Only this task's clone left: nothing in flight.
                if Arc::strong_count(&out.uses) == 1 {
                    out.conn.close(VarInt::from_u32(0), b"retired");
                    return;
                }
                tokio::select! {
                    _ = out.conn.closed() => return,
                    r = restarts.changed() => if r.is_err() { return },
                    _ = stop.changed() => return,
                    // In-flight requests end by their own deadlines; look
                    // again now and then.
                    _ = tokio::time::sleep(me.silent_after()) => {}
                }
            }
        });
    }

    /// One request/response exchange on `conn`.
    async fn exchange(
        &self,
        addr: &str,
        conn: &Connection,
        body: &[u8],
    ) -> Result<Response, NetError> {
        let (mut send, mut recv) = match conn.open_bi().await {
            Ok(s) => s,
            Err(e) => {
                self.forget(addr, conn);
                return Err(NetError::Unreachable(format!("open stream to {addr}: {e}")));
            }
        };
        if let Err(e) = write_frame(&mut send, body).await {
            self.forget(addr, conn);
            return Err(NetError::Io(format!("send to {addr}: {e}")));
        }
        let _ = send.finish();
        match read_frame(&mut recv, self.s.max_frame).await {
            Ok(b) => codec::decode::<Response>(&b).map_err(|e| {
                tracing::error!(%addr, error = %e, "bad response frame; closing connection");
                conn.close(VarInt::from_u32(CODE_PROTOCOL), b"bad frame");
                NetError::Io(e.to_string())
            }),
            Err(e) => {
                if conn.close_reason().is_some() {
                    self.forget(addr, conn);
                }
                Err(NetError::Io(format!("response from {addr}: {e}")))
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
            let deadline = tokio::time::Instant::now() + timeout;
            let out = self.conn_for(peer, deadline).await?;
            match tokio::time::timeout_at(deadline, self.exchange(&peer.addr, &out.conn, &body))
                .await
            {
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
        let peer = peer.clone();
        tokio::spawn(async move {
            let limit = me.s.connect_timeout * 2;
            let deadline = tokio::time::Instant::now() + limit;
            let sent = async {
                let out = me.conn_for(&peer, deadline).await?;
                let mut s = out
                    .conn
                    .open_uni()
                    .await
                    .map_err(|e| NetError::Unreachable(e.to_string()))?;
                write_frame(&mut s, &body)
                    .await
                    .map_err(|e| NetError::Io(e.to_string()))?;
                let _ = s.finish();
                Ok::<(), NetError>(())
            };
            let r = tokio::time::timeout_at(deadline, sent)
                .await
                .unwrap_or(Err(NetError::Timeout));
            if let Err(e) = r {
                tracing::debug!(addr = %peer.addr, error = %e, "one-way message dropped");
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
                .filter_map(|(_, s)| s.live.map(|l| l.out.conn))
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
