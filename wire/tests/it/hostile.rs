//! Hostile and malformed input: random bytes before and after login (the
//! real connection state machine, in process and over TCP), and one test per
//! protocol violation with the exact error the client must see.
//!
//! Random tests print their seed; set `WIRE_FUZZ_SEED=<seed>` to replay one.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use trireme_wire::client::{Client, ClientError, ClientOptions};
use trireme_wire::fuzzing::{decode_everything, run_session};
use trireme_wire::PacketCodec;

use crate::common::{self, PASSWORD, USER};

fn seed() -> u64 {
    match std::env::var("WIRE_FUZZ_SEED") {
        Ok(s) => s.parse().expect("WIRE_FUZZ_SEED must be a number"),
        Err(_) => rand::rng().next_u64(),
    }
}

/// Random inputs that look a bit like MySQL traffic: mostly well-framed,
/// with command bytes and lengths near the interesting values.
fn random_input(rng: &mut StdRng) -> Vec<u8> {
    let mut out = vec![rng.random::<u8>()];
    let n = rng.random_range(0..40);
    for _ in 0..n {
        let len: u8 = rng.random_range(0..=60);
        out.push(len);
        let cmd = *[
            0x00u8, 0x01, 0x02, 0x03, 0x04, 0x09, 0x0e, 0x11, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b,
            0x1c, 0x1f, 0xfa, 0xff,
        ]
        .get(rng.random_range(0..18))
        .unwrap_or(&0x03);
        out.push(cmd);
        match cmd {
            0x16 if rng.random_bool(0.7) => {
                let q = ["r ?", "?, ?, ?", "select", "?"][rng.random_range(0..4)];
                out.extend_from_slice(q.as_bytes());
            }
            0x17..=0x1a if rng.random_bool(0.7) => {
                out.extend_from_slice(&rng.random_range(0u32..4).to_le_bytes());
            }
            0x03 if rng.random_bool(0.5) => {
                let q = ["r", "b; r; e; r", "e", "r;r;r"][rng.random_range(0..4)];
                out.extend_from_slice(q.as_bytes());
            }
            _ => {}
        }
        for _ in 0..rng.random_range(0..len as usize + 1) {
            out.push(if rng.random_bool(0.3) {
                *[0u8, 1, 0xfb, 0xfc, 0xfd, 0xfe, 0xff, 0x80]
                    .get(rng.random_range(0..8))
                    .unwrap_or(&0)
            } else {
                rng.random()
            });
        }
    }
    out
}

#[test]
fn random_bytes_never_panic_the_decoders_or_the_state_machine() {
    let seed = seed();
    println!("WIRE_FUZZ_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    for i in 0..4000 {
        let mut data = random_input(&mut rng);
        if i % 3 == 0 {
            // Pure noise too.
            data = (0..rng.random_range(0..300))
                .map(|_| rng.random())
                .collect();
        }
        decode_everything(&data);
        run_session(&data);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_over_tcp_then_the_server_still_serves() {
    let mut config = common::config();
    config.connect_timeout = Duration::from_secs(20);
    let server = common::start(config).await;
    let seed = seed();
    println!("WIRE_FUZZ_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let garbage: Vec<u8> = (0..rng.random_range(1..5000))
            .map(|_| rng.random())
            .collect();
        let addr = server.addr;
        tasks.push(tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            let _ = s.write_all(&garbage).await;
            let _ = s.shutdown().await;
            // The server must close its side (EOF or reset), never hang.
            let mut buf = vec![0u8; 4096];
            let end = tokio::time::timeout(Duration::from_secs(120), async {
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
            })
            .await;
            assert!(end.is_ok(), "server kept a garbage connection open");
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // Still accepting and serving.
    let addr = server.addr.to_string();
    let mut c = Client::connect(&addr, &ClientOptions::new(USER, PASSWORD))
        .await
        .unwrap();
    c.ping().await.unwrap();
}

/// A logged-in raw packet stream.
async fn raw(port: u16) -> trireme_wire::PacketStream<Box<dyn trireme_wire::codec::AsyncStream>> {
    let c = Client::connect(
        &format!("127.0.0.1:{port}"),
        &ClientOptions::new(USER, PASSWORD),
    )
    .await
    .unwrap();
    c.into_packet_stream()
}

async fn roundtrip(
    io: &mut trireme_wire::PacketStream<Box<dyn trireme_wire::codec::AsyncStream>>,
    payload: &[u8],
) -> bytes::Bytes {
    io.set_seq(0);
    io.write_packet(payload).await.unwrap();
    io.flush().await.unwrap();
    io.read_packet().await.unwrap().expect("a reply")
}

fn err_code(p: &[u8]) -> Option<u16> {
    (p.first() == Some(&0xff)).then(|| u16::from_le_bytes([p[1], p[2]]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_violations_get_the_right_errors() {
    let server = common::start(common::config()).await;
    let mut io = raw(server.port()).await;

    // Unknown and unsupported commands: ERR 1047, connection stays.
    assert_eq!(err_code(&roundtrip(&mut io, &[0x63]).await), Some(1047));
    assert_eq!(
        err_code(&roundtrip(&mut io, &[0x04, b't', 0]).await),
        Some(1047)
    );
    // Unknown statement, truncated execute, no cursor.
    let mut exec = vec![0x17];
    exec.extend_from_slice(&77u32.to_le_bytes());
    exec.extend_from_slice(&[0, 1, 0, 0, 0]);
    assert_eq!(err_code(&roundtrip(&mut io, &exec).await), Some(1243));
    assert_eq!(err_code(&roundtrip(&mut io, &[0x17, 1]).await), Some(1210));
    let mut fetch = vec![0x1c];
    fetch.extend_from_slice(&[1, 0, 0, 0, 1, 0, 0, 0]);
    assert_eq!(err_code(&roundtrip(&mut io, &fetch).await), Some(1421));
    // Reset of an unknown statement.
    assert_eq!(
        err_code(&roundtrip(&mut io, &[0x1a, 9, 0, 0, 0]).await),
        Some(1243)
    );
    // Invalid UTF-8 in a query.
    assert_eq!(
        err_code(&roundtrip(&mut io, &[0x03, b'S', 0xff, 0xfe]).await),
        Some(1300)
    );

    // A statement executed without ever binding parameter types.
    let mut prep = vec![0x16];
    prep.extend_from_slice(b"SELECT ?, ?");
    let ok = roundtrip(&mut io, &prep).await;
    assert_eq!(ok[0], 0);
    let id = u32::from_le_bytes([ok[1], ok[2], ok[3], ok[4]]);
    // Two param definitions and two column definitions follow (DEPRECATE_EOF).
    for _ in 0..4 {
        io.read_packet().await.unwrap().unwrap();
    }
    let mut exec = vec![0x17];
    exec.extend_from_slice(&id.to_le_bytes());
    exec.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0 /* not bound */]);
    assert_eq!(err_code(&roundtrip(&mut io, &exec).await), Some(1210));
    // COM_STATISTICS is a bare string.
    let stats = roundtrip(&mut io, &[0x09]).await;
    assert!(stats.starts_with(b"Uptime:"));
    // Still fine.
    let ok = roundtrip(&mut io, &[0x0e]).await;
    assert_eq!(ok[0], 0);

    // A sequence id out of order ends the connection with 1156.
    io.set_seq(5);
    io.write_packet(&[0x0e]).await.unwrap();
    io.flush().await.unwrap();
    let p = io.read_packet().await.unwrap().unwrap();
    assert_eq!(err_code(&p), Some(1156));
    assert!(io.read_packet().await.map(|p| p.is_none()).unwrap_or(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packets_over_max_allowed_packet_get_1153() {
    let mut config = common::config();
    config.max_allowed_packet = 1 << 20;
    let server = common::start(config).await;

    // One frame announcing more than the limit: refused from the header,
    // before the body is read.
    let mut io = raw(server.port()).await;
    let mut codec = PacketCodec::new(usize::MAX);
    let mut frames = Vec::new();
    codec.encode(&vec![0x03; (1 << 20) + 1], &mut frames);
    let (mut stream, _, _) = io.into_parts();
    stream.write_all(&frames[..4096]).await.unwrap();
    let mut back = trireme_wire::PacketStream::new(
        stream,
        1 << 20,
        trireme_wire::Timeouts {
            idle: Some(Duration::from_secs(60)),
            io: Some(Duration::from_secs(60)),
        },
    );
    back.set_seq(1);
    let p = back.read_packet().await.unwrap().unwrap();
    assert_eq!(err_code(&p), Some(1153));

    // Long data beyond the limit: the execute fails with 1153.
    io = raw(server.port()).await;
    let mut prep = vec![0x16];
    prep.extend_from_slice(b"SELECT ?");
    let ok = roundtrip(&mut io, &prep).await;
    let id = u32::from_le_bytes([ok[1], ok[2], ok[3], ok[4]]);
    for _ in 0..2 {
        io.read_packet().await.unwrap().unwrap();
    }
    for _ in 0..3 {
        let mut ld = vec![0x18];
        ld.extend_from_slice(&id.to_le_bytes());
        ld.extend_from_slice(&0u16.to_le_bytes());
        ld.extend_from_slice(&vec![b'x'; 500_000]);
        io.set_seq(0);
        io.write_packet(&ld).await.unwrap();
    }
    let mut exec = vec![0x17];
    exec.extend_from_slice(&id.to_le_bytes());
    exec.extend_from_slice(&[0, 1, 0, 0, 0, 0, 1, 253, 0]);
    assert_eq!(err_code(&roundtrip(&mut io, &exec).await), Some(1153));
    let ok = roundtrip(&mut io, &[0x0e]).await;
    assert_eq!(ok[0], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_violations() {
    let mut config = common::config();
    config.connect_timeout = Duration::from_secs(30);
    let server = common::start(config).await;
    // A handshake response that is too short: "Bad handshake", then close.
    let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut io = trireme_wire::PacketStream::new(
        s,
        1 << 20,
        trireme_wire::Timeouts {
            idle: Some(Duration::from_secs(60)),
            io: Some(Duration::from_secs(60)),
        },
    );
    let greeting = io.read_packet().await.unwrap().unwrap();
    assert_eq!(greeting[0], 10);
    io.write_packet(&[1, 2, 3]).await.unwrap();
    io.flush().await.unwrap();
    let p = io.read_packet().await.unwrap().unwrap();
    assert_eq!(err_code(&p), Some(1043));
    // SSLRequest without TLS configured.
    s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut io = trireme_wire::PacketStream::new(
        s,
        1 << 20,
        trireme_wire::Timeouts {
            idle: Some(Duration::from_secs(60)),
            io: Some(Duration::from_secs(60)),
        },
    );
    io.read_packet().await.unwrap().unwrap();
    let mut ssl = (0x0200u32 | 0x0800 | 0x8000).to_le_bytes().to_vec();
    ssl.extend_from_slice(&[0; 28]);
    io.write_packet(&ssl).await.unwrap();
    io.flush().await.unwrap();
    let p = io.read_packet().await.unwrap().unwrap();
    assert_eq!(err_code(&p), Some(1043));
    // The client type is still useful after a refused login.
    let e = Client::connect(&server.addr.to_string(), &ClientOptions::new("nobody", ""))
        .await
        .err()
        .unwrap();
    assert!(matches!(e, ClientError::Server(ref m) if m.code == 1045));
}

/// Logs in by hand with a plugin the server does not know: the server
/// switches to mysql_native_password, for known and unknown users alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_client_plugin_gets_an_auth_switch() {
    let server = common::start(common::config()).await;
    for (user, expect_ok) in [(USER, true), ("nobody", false)] {
        let s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let t = Some(Duration::from_secs(60));
        let mut io =
            trireme_wire::PacketStream::new(s, 1 << 20, trireme_wire::Timeouts { idle: t, io: t });
        let greeting = io.read_packet().await.unwrap().unwrap();
        // Salt: 8 bytes after version and id, then 12 more after the fixed part.
        let ver_end = greeting.iter().position(|&b| b == 0).unwrap();
        let p1 = &greeting[ver_end + 5..ver_end + 13];
        let p2 = &greeting[ver_end + 13 + 1 + 2 + 1 + 2 + 2 + 1 + 10..][..12];
        let salt = [p1, p2].concat();
        let caps: u32 = 0x0200 | 0x8000 | 0x0008_0000 | 0x0020_0000; // 41, secure, plugin, lenenc
        let mut resp = caps.to_le_bytes().to_vec();
        resp.extend_from_slice(&(1u32 << 24).to_le_bytes());
        resp.push(45);
        resp.extend_from_slice(&[0; 23]);
        resp.extend_from_slice(user.as_bytes());
        resp.push(0);
        resp.extend_from_slice(&[4, 1, 2, 3, 4]);
        resp.extend_from_slice(b"client_ed25519\0");
        io.write_packet(&resp).await.unwrap();
        io.flush().await.unwrap();
        let switch = io.read_packet().await.unwrap().unwrap();
        assert_eq!(switch[0], 0xfe);
        assert!(switch[1..].starts_with(b"mysql_native_password\0"));
        assert_eq!(&switch[23..43], &salt[..]);
        let scramble = mysql_common_scramble(&salt, PASSWORD);
        io.write_packet(&scramble).await.unwrap();
        io.flush().await.unwrap();
        let reply = io.read_packet().await.unwrap().unwrap();
        if expect_ok {
            assert_eq!(reply[0], 0x00, "{reply:?}");
        } else {
            assert_eq!(err_code(&reply), Some(1045));
        }
    }
}

fn mysql_common_scramble(salt: &[u8], password: &str) -> Vec<u8> {
    use sha1::{Digest, Sha1};
    let h1 = Sha1::digest(password.as_bytes());
    let h2 = Sha1::digest(h1);
    let mut h = Sha1::new();
    h.update(salt);
    h.update(h2);
    let mask = h.finalize();
    h1.iter().zip(mask.iter()).map(|(a, b)| a ^ b).collect()
}
