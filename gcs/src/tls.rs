//! Certificates and TLS configuration for the peer port.
//!
//! Trust model: a cluster has one CA. Every member presents a certificate
//! signed by it (mutual TLS, TLS 1.3 only, `ring` provider). The cluster name
//! is written into each certificate's subject as the organizational unit (OU)
//! and is checked on both ends after the handshake, and again in the hello
//! frame: a peer from another CA fails the handshake, a peer from the same CA
//! but another cluster is refused. Every refusal is logged with the reason.
//!
//! Member certificates carry the DNS name [`SERVER_NAME`] (members are reached
//! by address, so the name is fixed) and are valid for server and client
//! authentication.

use std::fs;
use std::io;
use std::path::Path;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsPaths;

/// Fixed TLS server name of every member certificate.
pub const SERVER_NAME: &str = "member.trireme.internal";
/// ALPN protocol id of the peer port.
pub const ALPN: &[u8] = b"trireme-gcs/1";

/// TLS setup failed; the message says which file or step.
#[derive(Debug, thiserror::Error)]
#[error("TLS: {0}")]
pub struct TlsError(pub String);

fn te(ctx: &str) -> impl Fn(&dyn std::fmt::Display) -> TlsError + '_ {
    move |e| TlsError(format!("{ctx}: {e}"))
}

/// PEM text of a certificate and its private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertPem {
    /// Certificate, PEM.
    pub cert: String,
    /// Private key (PKCS#8), PEM.
    pub key: String,
}

fn dn(common_name: &str, cluster_name: &str) -> DistinguishedName {
    let mut d = DistinguishedName::new();
    d.push(DnType::OrganizationName, "trireme");
    d.push(DnType::OrganizationalUnitName, cluster_name);
    d.push(DnType::CommonName, common_name);
    d
}

/// Create a new cluster CA (self-signed, valid ~10 years).
pub fn generate_ca(cluster_name: &str) -> Result<CertPem, TlsError> {
    let key = KeyPair::generate().map_err(|e| te("generate CA key")(&e))?;
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(|e| te("CA params")(&e))?;
    p.distinguished_name = dn(&format!("trireme CA {cluster_name}"), cluster_name);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.not_before = rcgen::date_time_ymd(2024, 1, 1);
    p.not_after = rcgen::date_time_ymd(2036, 1, 1);
    let cert = p.self_signed(&key).map_err(|e| te("self-sign CA")(&e))?;
    Ok(CertPem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// Create a member certificate for `node_name` in `cluster_name`, signed by
/// the CA given as PEM.
pub fn generate_member(
    ca: &CertPem,
    cluster_name: &str,
    node_name: &str,
) -> Result<CertPem, TlsError> {
    let ca_key = KeyPair::from_pem(&ca.key).map_err(|e| te("read CA key")(&e))?;
    let issuer =
        Issuer::from_ca_cert_pem(&ca.cert, ca_key).map_err(|e| te("read CA certificate")(&e))?;
    let key = KeyPair::generate().map_err(|e| te("generate member key")(&e))?;
    let mut p = CertificateParams::new(vec![SERVER_NAME.to_string()])
        .map_err(|e| te("member params")(&e))?;
    p.distinguished_name = dn(node_name, cluster_name);
    p.is_ca = IsCa::NoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    p.not_before = rcgen::date_time_ymd(2024, 1, 1);
    p.not_after = rcgen::date_time_ymd(2036, 1, 1);
    let cert = p
        .signed_by(&key, &issuer)
        .map_err(|e| te("sign member certificate")(&e))?;
    Ok(CertPem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// Writes a file only its owner can read (0600 on Unix): private keys, and
/// the bundle that holds the CA's key. Created with that mode, so the key is
/// never readable by others, not even for a moment.
fn write_secret(path: &Path, data: &str) -> io::Result<()> {
    use std::io::Write;
    let mut o = fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(path)?;
    // A file that already existed keeps its mode: tighten it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(data.as_bytes())?;
    f.sync_all()
}

fn write_new(path: &Path, data: &str) -> io::Result<bool> {
    // Create atomically: write a temp file, then hard-link it into place,
    // which fails if another process won the race.
    let tmp = path.with_extension(format!("tmp{}", rand::random::<u32>()));
    write_secret(&tmp, data)?;
    let r = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match r {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// Development/test convenience: make sure `dir` holds a cluster CA
/// (`ca.pem`, `ca.key`; created once and shared by every node of a local
/// demo, safe against concurrent callers) and a certificate for `node_name`
/// (`<node_name>.pem`, `<node_name>.key`). Returns the paths to configure.
pub fn ensure_dev_certs(
    dir: &Path,
    cluster_name: &str,
    node_name: &str,
) -> Result<TlsPaths, TlsError> {
    fs::create_dir_all(dir).map_err(|e| te("create certificate directory")(&e))?;
    let bundle = dir.join("ca.bundle");
    if !bundle.exists() {
        let ca = generate_ca(cluster_name)?;
        write_new(&bundle, &format!("{}{}", ca.key, ca.cert))
            .map_err(|e| te("write ca.bundle")(&e))?;
    }
    let text = fs::read_to_string(&bundle).map_err(|e| te("read ca.bundle")(&e))?;
    let split = text
        .find("-----BEGIN CERTIFICATE-----")
        .ok_or_else(|| TlsError("ca.bundle has no certificate".into()))?;
    let ca = CertPem {
        key: text[..split].to_string(),
        cert: text[split..].to_string(),
    };
    let ca_pem = dir.join("ca.pem");
    if fs::read_to_string(&ca_pem).ok().as_deref() != Some(ca.cert.as_str()) {
        let tmp = dir.join(format!("ca.pem.tmp{}", rand::random::<u32>()));
        fs::write(&tmp, &ca.cert).map_err(|e| te("write ca.pem")(&e))?;
        fs::rename(&tmp, &ca_pem).map_err(|e| te("write ca.pem")(&e))?;
        let _ = write_secret(&dir.join("ca.key"), &ca.key);
    }
    let cert = dir.join(format!("{node_name}.pem"));
    let key = dir.join(format!("{node_name}.key"));
    if !(cert.exists() && key.exists()) {
        let m = generate_member(&ca, cluster_name, node_name)?;
        write_secret(&key, &m.key).map_err(|e| te("write member key")(&e))?;
        fs::write(&cert, &m.cert).map_err(|e| te("write member certificate")(&e))?;
    }
    Ok(TlsPaths {
        ca_cert: ca_pem,
        cert,
        key,
    })
}

/// Loaded TLS material of one member.
#[derive(Debug)]
pub struct TlsMaterial {
    /// CA certificate.
    pub ca: CertificateDer<'static>,
    /// Member certificate chain.
    pub chain: Vec<CertificateDer<'static>>,
    /// Member key.
    pub key: PrivateKeyDer<'static>,
}

impl Clone for TlsMaterial {
    fn clone(&self) -> Self {
        TlsMaterial {
            ca: self.ca.clone(),
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl TlsMaterial {
    /// Load PEM files.
    pub fn load(p: &TlsPaths) -> Result<Self, TlsError> {
        let ca = CertificateDer::from_pem_file(&p.ca_cert)
            .map_err(|e| TlsError(format!("CA certificate {}: {e}", p.ca_cert.display())))?;
        let chain = CertificateDer::pem_file_iter(&p.cert)
            .map_err(|e| TlsError(format!("certificate {}: {e}", p.cert.display())))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError(format!("certificate {}: {e}", p.cert.display())))?;
        if chain.is_empty() {
            return Err(TlsError(format!(
                "certificate {}: no certificate found",
                p.cert.display()
            )));
        }
        let key = PrivateKeyDer::from_pem_file(&p.key)
            .map_err(|e| TlsError(format!("key {}: {e}", p.key.display())))?;
        Ok(TlsMaterial { ca, chain, key })
    }

    /// From PEM text.
    pub fn from_pem(ca_cert: &str, member: &CertPem) -> Result<Self, TlsError> {
        let ca = CertificateDer::from_pem_slice(ca_cert.as_bytes())
            .map_err(|e| te("CA certificate")(&e))?;
        let chain = vec![CertificateDer::from_pem_slice(member.cert.as_bytes())
            .map_err(|e| te("certificate")(&e))?];
        let key =
            PrivateKeyDer::from_pem_slice(member.key.as_bytes()).map_err(|e| te("key")(&e))?;
        Ok(TlsMaterial { ca, chain, key })
    }

    fn roots(&self) -> Result<rustls::RootCertStore, TlsError> {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(self.ca.clone())
            .map_err(|e| te("CA certificate")(&e))?;
        Ok(roots)
    }

    /// rustls server config: requires a client certificate from the CA.
    pub fn server_config(&self) -> Result<rustls::ServerConfig, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(self.roots()?),
            provider.clone(),
        )
        .build()
        .map_err(|e| te("client verifier")(&e))?;
        let mut c = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| te("TLS versions")(&e))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| te("server certificate")(&e))?;
        c.alpn_protocols = vec![ALPN.to_vec()];
        Ok(c)
    }

    /// rustls client config: trusts only the CA, presents our certificate.
    pub fn client_config(&self) -> Result<rustls::ClientConfig, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut c = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| te("TLS versions")(&e))?
            .with_root_certificates(self.roots()?)
            .with_client_auth_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| te("client certificate")(&e))?;
        c.alpn_protocols = vec![ALPN.to_vec()];
        Ok(c)
    }
}

/// The cluster name (subject OU) of a DER certificate.
pub fn cluster_of(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, c) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let ou = c
        .subject()
        .iter_organizational_unit()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    Some(ou)
}

/// The member name (subject CN) of a DER certificate.
pub fn name_of(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, c) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let cn = c
        .subject()
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    Some(cn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_certs_carry_cluster_and_name() {
        let ca = generate_ca("alpha").unwrap();
        let m = generate_member(&ca, "alpha", "n1").unwrap();
        let mat = TlsMaterial::from_pem(&ca.cert, &m).unwrap();
        assert_eq!(cluster_of(&mat.chain[0]).as_deref(), Some("alpha"));
        assert_eq!(name_of(&mat.chain[0]).as_deref(), Some("n1"));
        mat.server_config().unwrap();
        mat.client_config().unwrap();
    }

    #[test]
    fn dev_certs_share_one_ca() {
        let d = tempfile::tempdir().unwrap();
        let a = ensure_dev_certs(d.path(), "c", "a").unwrap();
        let b = ensure_dev_certs(d.path(), "c", "b").unwrap();
        assert_eq!(a.ca_cert, b.ca_cert);
        let again = ensure_dev_certs(d.path(), "c", "a").unwrap();
        assert_eq!(fs::read(&a.cert).unwrap(), fs::read(&again.cert).unwrap());
        TlsMaterial::load(&a).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn private_keys_are_readable_by_their_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = ensure_dev_certs(d.path(), "c", "a").unwrap();
        for f in [
            p.key.clone(),
            d.path().join("ca.key"),
            d.path().join("ca.bundle"),
        ] {
            let mode = fs::metadata(&f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", f.display());
        }
        // Certificates are public.
        let mode = fs::metadata(&p.cert).unwrap().permissions().mode() & 0o777;
        assert_ne!(mode & 0o044, 0);
    }
}
