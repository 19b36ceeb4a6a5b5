//! Pool mode's client TLS: the proxy's own certificate and key, loaded
//! once at start. Passthrough mode never needs this: there the client's
//! TLS runs end to end with the node.

use std::sync::Arc;

use anyhow::Context as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
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
