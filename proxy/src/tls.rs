//! Pool mode's client TLS: the proxy's own certificate and key, loaded
//! once at start. Passthrough mode never needs this: there the client's
//! TLS runs end to end with the node.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use anyhow::Context as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::TlsAcceptor;

/// A TLS acceptor for the PEM certificate chain at `cert` and the PEM
/// private key at `key` (ring provider, TLS 1.2 and 1.3, no client
/// certificates).
pub(crate) fn acceptor(cert: &str, key: &str) -> anyhow::Result<TlsAcceptor> {
    let pem = std::fs::read(cert).with_context(|| format!("reading pool.tls_cert {cert}"))?;
    let chain: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<_, _>>()
        .with_context(|| format!("parsing pool.tls_cert {cert}"))?;
    if chain.is_empty() {
        anyhow::bail!("pool.tls_cert {cert} holds no certificate");
    }
    let pem = std::fs::read(key).with_context(|| format!("reading pool.tls_key {key}"))?;
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut pem.as_slice())
        .with_context(|| format!("parsing pool.tls_key {key}"))?
        .ok_or_else(|| anyhow::anyhow!("pool.tls_key {key} holds no private key"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("pool.tls_cert and pool.tls_key do not make a usable certificate")?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A stream that first yields bytes already read from it (the start of a
/// TLS ClientHello can arrive in the same read as the SSLRequest).
pub(crate) struct Replay<S> {
    pub(crate) read: bytes::Bytes,
    pub(crate) inner: S,
}

impl<S: AsyncRead + Unpin> AsyncRead for Replay<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.read.is_empty() {
            return Pin::new(&mut self.inner).poll_read(cx, buf);
        }
        let n = self.read.len().min(buf.remaining());
        let head = self.read.split_to(n);
        buf.put_slice(&head);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Replay<S> {
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
