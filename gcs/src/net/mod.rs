//! Member-to-member communication.
//!
//! - [`proto`]: the request/response messages (encoded by [`crate::codec`]).
//! - [`frame`]: length-prefixed frames with a maximum size.
//! - [`transport`]: the [`Transport`] seam with its written contract, the
//!   fault switches ([`Faults`]) both implementations honour.
//! - [`quic`]: the real transport, QUIC with mutual TLS.
//! - [`mem`]: an in-process router for fast tests.
//! - `raft_net`: openraft's `RaftNetworkFactory`/`RaftNetwork` over any
//!   [`Transport`].

pub mod frame;
pub mod mem;
pub(crate) mod peer_health;
pub mod proto;
pub mod quic;
pub(crate) mod raft_net;
pub mod transport;

pub use transport::{Faults, Handler, NetError, Peer, Transport};
