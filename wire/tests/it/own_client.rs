//! The crate's own client against the server: status flags as the protocol
//! carries them, multi-results, and TLS (also with the mariadb CLI).

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use trireme_wire::client::{Client, ClientError, ClientOptions, ClientTls};
use trireme_wire::{StatusFlags, StmtResult, Value};

use crate::common::{self, PASSWORD, USER};

const IN_TRANS: StatusFlags = StatusFlags::SERVER_STATUS_IN_TRANS;
const AUTOCOMMIT: StatusFlags = StatusFlags::SERVER_STATUS_AUTOCOMMIT;

fn rows(r: &StmtResult) -> &Vec<Vec<Value>> {
    match r {
        StmtResult::Rows { rows, .. } => rows,
        other => panic!("expected rows, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_flags_follow_the_session() {
    let server = common::start(common::config()).await;
    // With OK packets ending result sets (DEPRECATE_EOF) and with EOF packets.
    for deprecate_eof in [true, false] {
        let mut opts = ClientOptions::new(USER, PASSWORD);
        opts.deprecate_eof = deprecate_eof;
        status_flags_session(&server, &opts).await;
    }
}

async fn status_flags_session(server: &common::TestServer, opts: &ClientOptions) {
    let mut c = Client::connect(&server.addr.to_string(), opts)
        .await
        .unwrap();
    assert_eq!(c.status(), AUTOCOMMIT);
    assert_eq!(c.server_version(), "10.11.99-MariaDB-trireme");
    c.query_one("BEGIN").await.unwrap();
    assert_eq!(c.status(), AUTOCOMMIT | IN_TRANS);
    // The EOF/OK that ends a result set carries the flags too.
    c.query_one("SELECT 1").await.unwrap();
    assert_eq!(c.status(), AUTOCOMMIT | IN_TRANS);
    c.query_one("COMMIT").await.unwrap();
    assert_eq!(c.status(), AUTOCOMMIT);
    c.query_one("SET autocommit=0").await.unwrap();
    assert_eq!(c.status(), StatusFlags::empty());
    c.query_one("SET autocommit=1").await.unwrap();

    // Multi-statements: every result but the last says more follow.
    let results = c
        .query("SELECT 1; AFFECT 2 0; SELECT 'x', NULL; FAIL 1213 40001 deadlock; SELECT 2")
        .await
        .unwrap();
    assert_eq!(results.len(), 4);
    assert_eq!(
        rows(results[0].as_ref().unwrap()),
        &vec![vec![Value::Bytes(b"1".to_vec())]]
    );
    assert!(matches!(&results[1], Ok(StmtResult::Ok(ok)) if ok.affected_rows == 2));
    assert_eq!(
        rows(results[2].as_ref().unwrap()),
        &vec![vec![Value::Bytes(b"x".to_vec()), Value::NULL]]
    );
    let e = results[3].as_ref().unwrap_err();
    assert_eq!((e.code, e.sqlstate_str()), (1213, "40001"));
    // Nothing is left over on the wire.
    c.ping().await.unwrap();
    assert!(matches!(
        c.init_db("nope").await,
        Err(ClientError::Server(ref e)) if e.code == 1049
    ));
    c.init_db("test").await.unwrap();
    let r = c.query_one("SELECT DATABASE()").await.unwrap();
    assert_eq!(rows(&r), &vec![vec![Value::Bytes(b"test".to_vec())]]);
    c.quit().await.unwrap();
}

struct Certs {
    server: Arc<rustls::ServerConfig>,
    client: Arc<rustls::ClientConfig>,
    pem: String,
}

fn certs() -> Certs {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = CertificateDer::from(ck.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Certs {
        server: Arc::new(server),
        client: Arc::new(client),
        pem: ck.cert.pem(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_login_and_require_secure_transport() {
    let certs = certs();
    let mut config = common::config();
    config.tls = Some(certs.server.clone());
    config.require_secure_transport = true;
    config.default_auth_plugin = trireme_wire::AuthPlugin::CachingSha2Password;
    let server = common::start(config).await;
    let addr = server.addr.to_string();

    let mut opts = ClientOptions::new(USER, PASSWORD);
    opts.tls = Some(ClientTls {
        config: certs.client.clone(),
        server_name: ServerName::try_from("localhost").unwrap(),
    });
    let mut c = Client::connect(&addr, &opts).await.unwrap();
    let r = c.query_one("SELECT 1").await.unwrap();
    assert_eq!(rows(&r).len(), 1);
    // Big results over TLS.
    let r = c.query_one("SELECT BIG(20000000)").await.unwrap();
    assert!(matches!(&rows(&r)[0][0], Value::Bytes(b) if b.len() == 20_000_000));
    c.quit().await.unwrap();

    // Without TLS: refused.
    let e = Client::connect(&addr, &ClientOptions::new(USER, PASSWORD))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(e, ClientError::Server(ref m) if m.code == 3159),
        "{e:?}"
    );

    // The mariadb CLI over TLS, verifying our certificate.
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &certs.pem).unwrap();
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        tokio::process::Command::new("mariadb")
            .arg("--no-defaults")
            .arg("--protocol=TCP")
            .arg("--host=127.0.0.1")
            .arg(format!("--port={}", server.port()))
            .arg(format!("--user={USER}"))
            .arg(format!("--password={PASSWORD}"))
            .arg("--ssl")
            .arg(format!("--ssl-ca={}", ca.display()))
            .arg("--batch")
            .arg("-e")
            .arg("status")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("mariadb finished")
    .expect("mariadb ran");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Cipher in use is"), "{stdout}");
}
