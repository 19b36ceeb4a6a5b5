//! The `trireme-proxy` binary: flags and config file are wired to the
//! library, it serves (on several threads), and it stops cleanly on
//! SIGTERM.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_trireme-proxy");

#[test]
fn print_config_merges_file_and_flags() {
    let dir = std::env::temp_dir().join(format!("trireme-proxy-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("proxy.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:4000\"\nbackends = [\"127.0.0.1:1\"]\n[monitor]\nfall = 5\npassword = \"hidden\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["--config", file.to_str().unwrap()])
        .args([
            "--backends",
            "127.0.0.1:7001,127.0.0.1:7002",
            "--balance",
            "least_conn",
        ])
        .args(["--rise", "4", "--print-config"])
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let shown = trireme_proxy::ProxyConfig::from_toml(&text).unwrap();
    assert_eq!(shown.listen, "127.0.0.1:4000");
    assert_eq!(shown.backends, ["127.0.0.1:7001", "127.0.0.1:7002"]);
    assert_eq!(shown.balance, trireme_proxy::Balance::LeastConn);
    assert_eq!((shown.monitor.rise, shown.monitor.fall), (4, 5));
    assert!(!text.contains("hidden"));

    let bad = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!bad.status.success(), "no backends must be an error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_serves_and_stops_on_sigterm() {
    bounded(async {
        let a = ToyNode::start(9).await;
        let mut child = Command::new(BIN)
            .args(["--listen", "127.0.0.1:0", "--backends", &a.addr.to_string()])
            .args([
                "--monitor-user",
                MONITOR_USER,
                "--monitor-password",
                MONITOR_PASSWORD,
            ])
            .args(["--log", "warn"])
            // Sessions spread over three single-threaded runtimes.
            .args(["--worker-threads", "3"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        // The first status line names the bound port.
        let port = tokio::task::spawn_blocking(move || {
            let mut lines = BufReader::new(stderr).lines();
            loop {
                let line = lines.next().expect("status line").unwrap();
                if let Some(rest) = line.split("write 127.0.0.1:").nth(1) {
                    let port: u16 = rest.split_whitespace().next().unwrap().parse().unwrap();
                    // Keep draining so the child never blocks on a full pipe.
                    std::thread::spawn(move || for _ in lines.by_ref() {});
                    return port;
                }
            }
        })
        .await
        .unwrap();
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        assert_eq!(lands_on(addr).await, 9);
        // Sessions open at once (so on every thread) all work, and the
        // threads stop with the proxy.
        let mut conns = Vec::new();
        for _ in 0..6 {
            conns.push(connect(addr).await.unwrap());
        }
        for c in &mut conns {
            assert_eq!(server_id(c).await.unwrap(), 9);
        }
        drop(conns);

        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = tokio::task::spawn_blocking(move || child.wait().unwrap())
            .await
            .unwrap();
        assert!(exit.success(), "{exit:?}");
    })
    .await;
}

/// `hash-password` prints the `[[users]]` password_hash (MySQL's
/// `PASSWORD('secret')`), from an argument or standard input; the
/// effective configuration never shows pool passwords or user hashes.
#[test]
fn hash_password_and_pool_config() {
    let out = Command::new(BIN)
        .args(["hash-password", "secret"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "*14E65567ABDB5135D0CFD9A70B3032C179A49EE7\n"
    );
    let mut child = Command::new(BIN)
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"secret\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "*14E65567ABDB5135D0CFD9A70B3032C179A49EE7\n"
    );

    let dir = std::env::temp_dir().join(format!("trireme-proxy-cli-pool-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("proxy.toml");
    std::fs::write(
        &file,
        "backends = [\"127.0.0.1:1\"]\n\
         [[users]]\nname = \"app\"\npassword_hash = \"*14E65567ABDB5135D0CFD9A70B3032C179A49EE7\"\n\
         [pool]\nuser = \"proxy\"\nsize = 30\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["--config", file.to_str().unwrap()])
        .args(["--auth", "pool", "--print-config"])
        .env("TRIREME_PROXY_POOL_PASSWORD", "pool-secret")
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("pool-secret"), "{text}");
    assert!(!text.contains("14E655"), "{text}");
    let shown = trireme_proxy::ProxyConfig::from_toml(&text).unwrap();
    assert_eq!(shown.auth, trireme_proxy::AuthMode::Pool);
    assert_eq!((shown.pool.user.as_str(), shown.pool.size), ("proxy", 30));
}
