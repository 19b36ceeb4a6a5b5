//! The proxy's Prometheus endpoint (`GET /metrics` on the admin port),
//! scraped over a real socket while real sessions (mysql_async through the
//! proxy to toy nodes, see `support`) move the figures.

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use mysql_async::prelude::Queryable;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `GET path` over HTTP/1.0; returns (status line, content type, body).
async fn get(addr: SocketAddr, path: &str) -> (String, String, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let (head, body) = out.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head.lines().next().unwrap_or("").to_string();
    let kind = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Type: "))
        .unwrap_or("")
        .to_string();
    (status, kind, body.to_string())
}

/// Every sample of a scrape, by its series (`name{labels}`).
async fn scrape(admin: SocketAddr) -> BTreeMap<String, f64> {
    let (status, kind, body) = get(admin, "/metrics").await;
    assert!(status.contains("200"), "{status}");
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("series value");
            (series.to_string(), value.parse().expect("a number"))
        })
        .collect()
}

fn at(m: &BTreeMap<String, f64>, series: &str) -> f64 {
    *m.get(series)
        .unwrap_or_else(|| panic!("{series} missing from {m:#?}"))
}

/// Sessions, bytes, connections, health-check failures, writer changes
/// and refusals all move, and each backend has its own series.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_with_sessions_failures_and_failover() {
    bounded(async {
        let (a, b) = (ToyNode::start(1).await, ToyNode::start(2).await);
        let mut cfg = config(&[&a, &b]);
        cfg.admin_listen = Some("127.0.0.1:0".into());
        let proxy = trireme_proxy::run(cfg).await.unwrap();
        let admin = proxy.admin_addr().unwrap();
        let (ba, bb) = (
            format!("backend=\"{}\"", a.addr),
            format!("backend=\"{}\"", b.addr),
        );
        let before = scrape(admin).await;
        assert_eq!(
            at(&before, &format!("trireme_proxy_backend_up{{{ba}}}")),
            1.0
        );
        assert_eq!(
            at(&before, &format!("trireme_proxy_backend_up{{{bb}}}")),
            1.0
        );
        assert_eq!(
            at(&before, &format!("trireme_proxy_backend_writer{{{ba}}}")),
            1.0
        );
        assert_eq!(
            at(&before, &format!("trireme_proxy_backend_writer{{{bb}}}")),
            0.0
        );
        assert_eq!(at(&before, "trireme_proxy_client_connections_active"), 0.0);

        // One session held open, one finished.
        let mut held = connect(proxy.listen_addr()).await.unwrap();
        assert_eq!(server_id(&mut held).await.unwrap(), 1);
        let mut done = connect(proxy.listen_addr()).await.unwrap();
        done.query_drop("SELECT 'some bytes to relay'")
            .await
            .unwrap();
        done.disconnect().await.unwrap();
        // The finished session's end reaches the proxy asynchronously.
        let active = format!("trireme_proxy_backend_active_sessions{{{ba},port=\"write\"}}");
        let mut during = scrape(admin).await;
        for _ in 0..1200 {
            if at(&during, &active) == 1.0
                && at(&during, "trireme_proxy_client_connections_active") == 1.0
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            during = scrape(admin).await;
        }
        assert_eq!(at(&during, &active), 1.0);
        assert_eq!(at(&during, "trireme_proxy_client_connections_active"), 1.0);
        let sessions = format!("trireme_proxy_backend_sessions_total{{{ba},port=\"write\"}}");
        assert_eq!(at(&during, &sessions) - at(&before, &sessions), 2.0);
        assert_eq!(
            at(&during, "trireme_proxy_client_connections_total")
                - at(&before, "trireme_proxy_client_connections_total"),
            2.0
        );
        for dir in ["client_to_backend", "backend_to_client"] {
            let s = format!("trireme_proxy_backend_{dir}_bytes_total{{{ba}}}");
            assert!(at(&during, &s) > at(&before, &s) + 20.0, "{s} did not grow");
            let s = format!("trireme_proxy_backend_{dir}_bytes_total{{{bb}}}");
            assert_eq!(at(&during, &s), 0.0, "{s}");
        }

        // The writer leaves Synced: failed checks count, it goes down after
        // `fall`, the writer moves, its session is closed.
        a.set_local_state(2);
        for _ in 0..3 {
            proxy.check_now().await;
        }
        let after = scrape(admin).await;
        let failures = format!("trireme_proxy_backend_health_check_failures_total{{{ba}}}");
        assert_eq!(at(&after, &failures) - at(&during, &failures), 3.0);
        assert_eq!(
            at(&after, &format!("trireme_proxy_backend_up{{{ba}}}")),
            0.0
        );
        assert_eq!(
            at(&after, &format!("trireme_proxy_backend_writer{{{bb}}}")),
            1.0
        );
        assert_eq!(at(&after, "trireme_proxy_writer_changes_total"), 1.0);
        assert_eq!(at(&after, "trireme_proxy_up_backends"), 1.0);
        assert!(at(&after, "trireme_proxy_sessions_closed_by_proxy_total") >= 1.0);
        drop(held);

        // Nothing up: a new session is refused and counted.
        b.set_local_state(2);
        for _ in 0..3 {
            proxy.check_now().await;
        }
        assert!(connect(proxy.listen_addr()).await.is_err());
        let none = scrape(admin).await;
        assert_eq!(
            at(&none, "trireme_proxy_sessions_refused_no_backend_total"),
            1.0
        );
        assert_eq!(at(&none, "trireme_proxy_up_backends"), 0.0);
        eventually(|| {
            proxy
                .status()
                .backends
                .iter()
                .all(|b| b.active_write_sessions == 0)
        })
        .await;
        proxy.shutdown().await;
    })
    .await;
}
