//! Packet framing: MySQL's 4-byte packet header, sequence ids, 16 MiB
//! fragments, and the `max_allowed_packet` limit.
//!
//! Every MySQL message travels as one *payload*, cut into *frames*:
//!
//! ```text
//! frame   = length:int<3> sequence_id:int<1> body:length bytes
//! payload = body of every frame up to and including the first with length < 0xffffff
//! ```
//!
//! A payload of exactly k·0xffffff bytes is followed by an empty frame. Every
//! frame carries the next sequence id (mod 256); a command starts at 0 and the
//! reply continues from the client's last id.
//!
//! Invariants kept here:
//! - [`PacketCodec::decode`] never allocates more than `max_payload` bytes
//!   (plus one header) for one payload: the limit is checked from each frame
//!   header before its body is buffered, so a hostile length costs nothing.
//! - A frame with an unexpected sequence id is an error
//!   ([`WireError::OutOfOrder`]), as in MySQL (ER_NET_PACKETS_OUT_OF_ORDER).
//! - Nothing here panics on any input; the sans-io [`PacketCodec`] is what
//!   the `packet_decoder` fuzz target drives.
//!
//! [`PacketStream`] wraps any async byte stream with read/write timeouts; the
//! proxy can reuse it for packet-level pass-through after a handshake.

use std::time::Duration;

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::error::WireError;

/// Any byte stream a connection can run on (TCP, TLS, an in-memory duplex).
pub trait AsyncStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> AsyncStream for T {}

/// Replays bytes already buffered before handing reads to the inner stream
/// (the start of a TLS ClientHello may arrive with the SSLRequest); the
/// server, the client and the proxy's pool mode start TLS through it.
pub struct Rewind {
    /// Bytes read ahead, yielded first.
    pub prefix: Bytes,
    /// The stream they came from.
    pub inner: Box<dyn AsyncStream>,
}

impl AsyncRead for Rewind {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            let chunk = self.prefix.split_to(n);
            buf.put_slice(&chunk);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Largest body of a single frame (2^24 - 1).
pub const MAX_FRAME: usize = 0xff_ffff;

/// Sans-io packet framing state: the next expected/used sequence id, the
/// payload being joined, and the size limit.
#[derive(Debug)]
pub struct PacketCodec {
    seq: u8,
    max_payload: usize,
    partial: Option<BytesMut>,
    /// Whether incoming sequence ids are checked.
    check_seq: bool,
}

impl PacketCodec {
    /// A codec accepting payloads up to `max_payload` bytes.
    pub fn new(max_payload: usize) -> Self {
        PacketCodec {
            seq: 0,
            max_payload,
            partial: None,
            check_seq: true,
        }
    }

    /// Disables the sequence-id check on incoming frames (for pass-through
    /// uses that do not track conversations). The id is still followed.
    pub fn without_seq_check(mut self) -> Self {
        self.check_seq = false;
        self
    }

    /// The sequence id the next frame (read or written) must carry.
    pub fn seq(&self) -> u8 {
        self.seq
    }

    /// Sets the next sequence id (0 at the start of every command).
    pub fn set_seq(&mut self, seq: u8) {
        self.seq = seq;
    }

    /// The payload size limit.
    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    /// Changes the payload size limit.
    pub fn set_max_payload(&mut self, max: usize) {
        self.max_payload = max;
    }

    /// True while a multi-frame payload is partly received.
    pub fn in_progress(&self) -> bool {
        self.partial.is_some()
    }

    /// Takes complete frames off the front of `src` and returns the next
    /// complete payload, or `None` when more bytes are needed. Bytes of an
    /// incomplete frame stay in `src`.
    pub fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, WireError> {
        loop {
            if src.len() < 4 {
                return Ok(None);
            }
            let len = usize::from(src[0]) | usize::from(src[1]) << 8 | usize::from(src[2]) << 16;
            let seq = src[3];
            if self.check_seq && seq != self.seq {
                return Err(WireError::OutOfOrder {
                    expected: self.seq,
                    got: seq,
                });
            }
            let so_far = self.partial.as_ref().map_or(0, |p| p.len());
            let total = so_far.saturating_add(len);
            if total > self.max_payload {
                return Err(WireError::PacketTooLarge {
                    got: total,
                    limit: self.max_payload,
                });
            }
            if src.len() < 4 + len {
                // Make room for the whole frame at once (bounded by the check
                // above), so large frames are not read in many small steps.
                src.reserve(4 + len - src.len());
                return Ok(None);
            }
            src.advance(4);
            let body = src.split_to(len);
            self.seq = self.seq.wrapping_add(1);
            if len == MAX_FRAME {
                match &mut self.partial {
                    Some(p) => p.extend_from_slice(&body),
                    None => self.partial = Some(body),
                }
                continue;
            }
            return Ok(Some(match self.partial.take() {
                Some(mut p) => {
                    p.extend_from_slice(&body);
                    p.freeze()
                }
                None => body.freeze(),
            }));
        }
    }

    /// Appends `payload` to `dst` as one or more frames, advancing the
    /// sequence id per frame.
    pub fn encode(&mut self, payload: &[u8], dst: &mut Vec<u8>) {
        let mut rest = payload;
        loop {
            let n = rest.len().min(MAX_FRAME);
            dst.extend_from_slice(&(n as u32).to_le_bytes()[..3]);
            dst.push(self.seq);
            self.seq = self.seq.wrapping_add(1);
            dst.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if n < MAX_FRAME {
                break;
            }
        }
    }
}

/// Timeouts applied by [`PacketStream`]; `None` waits forever.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Waiting for the first byte of the next payload (idle time between
    /// commands; MySQL's `wait_timeout`).
    pub idle: Option<Duration>,
    /// Waiting for the rest of a payload once it started, and for each write
    /// (MySQL's `net_read_timeout` / `net_write_timeout`).
    pub io: Option<Duration>,
}

/// An async byte stream that speaks in payloads.
///
/// Reads are buffered; writes are buffered until [`PacketStream::flush`].
#[derive(Debug)]
pub struct PacketStream<S> {
    stream: S,
    rbuf: BytesMut,
    wbuf: Vec<u8>,
    codec: PacketCodec,
    /// Current timeouts.
    pub timeouts: Timeouts,
}

/// Flush the write buffer early once it holds this much.
const WRITE_HIGH_WATER: usize = 256 * 1024;

impl<S: AsyncRead + AsyncWrite + Unpin> PacketStream<S> {
    /// Wraps `stream`, accepting payloads up to `max_payload` bytes.
    pub fn new(stream: S, max_payload: usize, timeouts: Timeouts) -> Self {
        Self::with_buffer(stream, BytesMut::with_capacity(8192), max_payload, timeouts)
    }

    /// Like [`PacketStream::new`], with bytes already read from `stream`.
    pub fn with_buffer(stream: S, rbuf: BytesMut, max_payload: usize, timeouts: Timeouts) -> Self {
        PacketStream {
            stream,
            rbuf,
            wbuf: Vec::with_capacity(8192),
            codec: PacketCodec::new(max_payload),
            timeouts,
        }
    }

    /// The framing state (sequence id, limit).
    pub fn codec(&mut self) -> &mut PacketCodec {
        &mut self.codec
    }

    /// The next sequence id.
    pub fn seq(&self) -> u8 {
        self.codec.seq()
    }

    /// Sets the next sequence id.
    pub fn set_seq(&mut self, seq: u8) {
        self.codec.set_seq(seq);
    }

    /// Reads the next payload. `Ok(None)` means the peer closed the stream
    /// cleanly between payloads.
    pub async fn read_packet(&mut self) -> Result<Option<Bytes>, WireError> {
        loop {
            if let Some(p) = self.codec.decode(&mut self.rbuf)? {
                return Ok(Some(p));
            }
            let between = self.rbuf.is_empty() && !self.codec.in_progress();
            let limit = if between {
                self.timeouts.idle
            } else {
                self.timeouts.io
            };
            if self.rbuf.capacity() - self.rbuf.len() < 4096 {
                self.rbuf.reserve(8192);
            }
            let read = self.stream.read_buf(&mut self.rbuf);
            let n = match limit {
                Some(d) => tokio::time::timeout(d, read)
                    .await
                    .map_err(|_| WireError::Timeout("reading a packet"))??,
                None => read.await?,
            };
            if n == 0 {
                if between {
                    return Ok(None);
                }
                return Err(WireError::Io(std::io::ErrorKind::UnexpectedEof.into()));
            }
        }
    }

    /// Queues `payload` as the next packet; writes out early when the buffer
    /// grows large.
    pub async fn write_packet(&mut self, payload: &[u8]) -> Result<(), WireError> {
        self.codec.encode(payload, &mut self.wbuf);
        if self.wbuf.len() >= WRITE_HIGH_WATER {
            self.write_out().await?;
        }
        Ok(())
    }

    /// Queues `payload` without flushing, whatever its size.
    pub fn queue_packet(&mut self, payload: &[u8]) {
        self.codec.encode(payload, &mut self.wbuf);
    }

    async fn write_out(&mut self) -> Result<(), WireError> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        let write = self.stream.write_all(&self.wbuf);
        match self.timeouts.io {
            Some(d) => tokio::time::timeout(d, write)
                .await
                .map_err(|_| WireError::Timeout("writing a packet"))??,
            None => write.await?,
        }
        self.wbuf.clear();
        if self.wbuf.capacity() > 4 * WRITE_HIGH_WATER {
            self.wbuf.shrink_to(WRITE_HIGH_WATER);
        }
        Ok(())
    }

    /// Writes out everything queued and flushes the stream.
    pub async fn flush(&mut self) -> Result<(), WireError> {
        self.write_out().await?;
        let flush = self.stream.flush();
        match self.timeouts.io {
            Some(d) => tokio::time::timeout(d, flush)
                .await
                .map_err(|_| WireError::Timeout("flushing"))??,
            None => flush.await?,
        }
        Ok(())
    }

    /// Unwraps the stream and any bytes read but not yet decoded (for a TLS
    /// upgrade or a raw pass-through). Queued writes are dropped: flush first.
    pub fn into_parts(self) -> (S, BytesMut, PacketCodec) {
        (self.stream, self.rbuf, self.codec)
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(codec: &mut PacketCodec, bytes: &[u8]) -> Result<Vec<Bytes>, WireError> {
        let mut src = BytesMut::from(bytes);
        let mut out = Vec::new();
        while let Some(p) = codec.decode(&mut src)? {
            out.push(p);
        }
        Ok(out)
    }

    #[test]
    fn split_and_join_around_16mib() {
        for len in [0, 1, MAX_FRAME - 1, MAX_FRAME, MAX_FRAME + 1, 2 * MAX_FRAME] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut enc = PacketCodec::new(usize::MAX);
            let mut wire = Vec::new();
            enc.encode(&payload, &mut wire);
            let frames = len / MAX_FRAME + 1;
            assert_eq!(wire.len(), len + 4 * frames, "len {len}");
            assert_eq!(enc.seq() as usize, frames);
            let mut dec = PacketCodec::new(usize::MAX);
            let got = decode_all(&mut dec, &wire).unwrap();
            assert_eq!(got.len(), 1);
            assert!(got[0][..] == payload[..], "len {len}");
        }
    }

    #[test]
    fn limit_is_checked_from_the_header() {
        let mut dec = PacketCodec::new(100);
        let mut src = BytesMut::from(&[0xff, 0xff, 0xff, 0][..]);
        assert!(matches!(
            dec.decode(&mut src),
            Err(WireError::PacketTooLarge { .. })
        ));
    }

    #[test]
    fn wrong_sequence_id_is_refused() {
        let mut dec = PacketCodec::new(100);
        let mut src = BytesMut::from(&[1, 0, 0, 7, 3][..]);
        assert!(matches!(
            dec.decode(&mut src),
            Err(WireError::OutOfOrder {
                expected: 0,
                got: 7
            })
        ));
    }

    proptest::proptest! {
        /// Any sequence of payloads, framed and then cut at arbitrary
        /// points, decodes back to the same payloads in order.
        #[test]
        fn framing_survives_any_chunking(
            payloads in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..300), 0..20),
            cuts in proptest::collection::vec(1usize..64, 1..50),
        ) {
            let mut enc = PacketCodec::new(usize::MAX);
            let mut wire = Vec::new();
            for p in &payloads {
                enc.set_seq(0);
                enc.encode(p, &mut wire);
            }
            let mut dec = PacketCodec::new(300);
            let mut src = BytesMut::new();
            let mut got = Vec::new();
            let mut rest = &wire[..];
            let mut i = 0;
            while !rest.is_empty() {
                let n = cuts[i % cuts.len()].min(rest.len());
                i += 1;
                src.extend_from_slice(&rest[..n]);
                rest = &rest[n..];
                dec.set_seq(0);
                while let Some(p) = dec.decode(&mut src).unwrap() {
                    got.push(p.to_vec());
                    dec.set_seq(0);
                }
            }
            proptest::prop_assert_eq!(got, payloads);
        }
    }

    #[test]
    fn partial_frames_wait_for_more() {
        let mut dec = PacketCodec::new(100);
        let mut src = BytesMut::from(&[3, 0, 0, 0, b'a'][..]);
        assert!(dec.decode(&mut src).unwrap().is_none());
        src.extend_from_slice(b"bc");
        assert_eq!(&dec.decode(&mut src).unwrap().unwrap()[..], b"abc");
    }
}
