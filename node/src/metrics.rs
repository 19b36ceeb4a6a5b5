//! A Prometheus `/metrics` endpoint per node (off unless `metrics_listen`
//! is set): the node's status figures (Galera's wsrep_% names and a few of
//! trireme's own) in the text exposition format, rendered by hand since
//! the format for plain gauges and counters is a few lines of text.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use trireme_sql::show::NodeStatus;
use trireme_storage::value::Value;

use crate::repl::Stats;

/// Figures that only grow (Prometheus counters, named `..._total`).
const COUNTERS: &[&str] = &[
    "questions",
    "wsrep_local_commits",
    "wsrep_local_cert_failures",
    "wsrep_local_bf_aborts",
    "wsrep_received",
    "wsrep_received_bytes",
    "wsrep_replicated",
    "wsrep_replicated_bytes",
    "wsrep_flow_control_recv",
    "wsrep_flow_control_sent",
    "wsrep_flow_control_paused_ns",
];

/// Text figures that become labels of one `trireme_wsrep_info` series.
const INFO: &[&str] = &[
    "wsrep_local_state_comment",
    "wsrep_cluster_status",
    "wsrep_cluster_state_uuid",
    "wsrep_provider_version",
];

fn metric_name(var: &str) -> String {
    let v: String = var
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if v.starts_with("trireme_") {
        v
    } else {
        format!("trireme_{v}")
    }
}

fn label_value(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The exposition text of `status` (a node's SHOW STATUS rows).
pub fn render(status: &[(String, Value)]) -> String {
    let mut out = String::new();
    let mut info = Vec::new();
    for (var, value) in status {
        let lower = var.to_ascii_lowercase();
        // Means of what `trireme_commit_stage_seconds` has in full.
        if lower.starts_with("trireme_commit_") {
            continue;
        }
        if INFO.contains(&lower.as_str()) {
            if let Value::Str(s) = value {
                let key = lower.trim_start_matches("wsrep_");
                info.push(format!("{key}=\"{}\"", label_value(s)));
            }
            continue;
        }
        let number = match value {
            Value::Int(i) => *i as f64,
            Value::UInt(u) => *u as f64,
            Value::Double(d) => *d,
            // wsrep_ready, wsrep_connected.
            Value::Str(s) if s == "ON" => 1.0,
            Value::Str(s) if s == "OFF" => 0.0,
            _ => continue,
        };
        let (name, kind) = if COUNTERS.contains(&lower.as_str()) {
            (format!("{}_total", metric_name(var)), "counter")
        } else {
            (metric_name(var), "gauge")
        };
        let _ = writeln!(out, "# HELP {name} SHOW STATUS {var}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        let _ = writeln!(out, "{name} {number}");
    }
    if !info.is_empty() {
        info.sort();
        let _ = writeln!(
            out,
            "# HELP trireme_wsrep_info The node's state as labels (value 1)"
        );
        let _ = writeln!(out, "# TYPE trireme_wsrep_info gauge");
        let _ = writeln!(out, "trireme_wsrep_info{{{}}} 1", info.join(","));
    }
    out
}

fn response(status: &[(String, Value)], stats: &Stats, request: &[u8]) -> Vec<u8> {
    let line = String::from_utf8_lossy(request);
    let mut parts = line.lines().next().unwrap_or("").split_whitespace();
    let (code, ctype, body) = match (parts.next(), parts.next()) {
        (Some("GET"), Some(p)) if p == "/metrics" || p.starts_with("/metrics?") => {
            ("200 OK", "text/plain; version=0.0.4; charset=utf-8", {
                let mut text = render(status);
                stats.latency.render(&mut text);
                text
            })
        }
        (Some("GET"), Some(_)) => ("404 Not Found", "text/plain", "try /metrics\n".into()),
        _ => ("400 Bad Request", "text/plain", "GET /metrics\n".into()),
    };
    format!(
        "HTTP/1.0 {code}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Serves `/metrics` on `addr` until the process ends; returns the bound
/// address. Requests are read for at most 5 s and 4 KiB, at most 8
/// connections at once (scrapers are few; the rest wait).
pub async fn serve(
    addr: SocketAddr,
    node: Arc<dyn NodeStatus>,
    stats: Arc<Stats>,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let permits = Arc::new(tokio::sync::Semaphore::new(8));
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            let node = node.clone();
            let stats = stats.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let mut buf = vec![0u8; 4096];
                let mut n = 0;
                let read = async {
                    while n < buf.len() {
                        match sock.read(&mut buf[n..]).await {
                            Ok(0) | Err(_) => break,
                            Ok(k) => n += k,
                        }
                        if buf[..n].windows(4).any(|w| w == b"\r\n\r\n")
                            || buf[..n].windows(2).any(|w| w == b"\n\n")
                        {
                            break;
                        }
                    }
                };
                if tokio::time::timeout(Duration::from_secs(5), read)
                    .await
                    .is_err()
                {
                    return;
                }
                let reply = response(&node.status(), &stats, &buf[..n]);
                let _ = tokio::time::timeout(Duration::from_secs(5), sock.write_all(&reply)).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> Vec<(String, Value)> {
        vec![
            ("Questions".into(), Value::UInt(7)),
            ("wsrep_cluster_size".into(), Value::UInt(3)),
            ("wsrep_flow_control_paused".into(), Value::Double(0.25)),
            ("wsrep_local_cert_failures".into(), Value::UInt(2)),
            (
                "wsrep_local_state_comment".into(),
                Value::Str("Synced".into()),
            ),
            ("wsrep_cluster_status".into(), Value::Str("Primary".into())),
            ("wsrep_ready".into(), Value::Str("ON".into())),
            ("wsrep_incoming_addresses".into(), Value::Str("a,b".into())),
            ("trireme_horizon".into(), Value::UInt(40)),
        ]
    }

    #[test]
    fn figures_follow_prometheus_naming() {
        let text = render(&status());
        for line in [
            "# TYPE trireme_questions_total counter",
            "trireme_questions_total 7",
            "# TYPE trireme_wsrep_cluster_size gauge",
            "trireme_wsrep_cluster_size 3",
            "trireme_wsrep_flow_control_paused 0.25",
            "trireme_wsrep_local_cert_failures_total 2",
            "trireme_wsrep_ready 1",
            "trireme_horizon 40",
            "trireme_wsrep_info{cluster_status=\"Primary\",local_state_comment=\"Synced\"} 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from\n{text}"
            );
        }
        assert!(
            !text.contains("incoming_addresses"),
            "text figures other than INFO are left out"
        );
        assert_eq!(label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn only_get_metrics_is_served() {
        let s = status();
        let st = Stats::default();
        st.latency.order.record(Duration::from_millis(2));
        let ok = String::from_utf8(response(
            &s,
            &st,
            b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
        ))
        .unwrap();
        assert!(ok.starts_with("HTTP/1.0 200 OK\r\n"), "{ok}");
        assert!(ok.contains("trireme_wsrep_cluster_size 3"));
        assert!(ok.contains("trireme_commit_stage_seconds_count{stage=\"order\"} 1"));
        let nf = String::from_utf8(response(&s, &st, b"GET / HTTP/1.1\r\n\r\n")).unwrap();
        assert!(nf.starts_with("HTTP/1.0 404"), "{nf}");
        let bad = String::from_utf8(response(&s, &st, b"\xff\x00garbage")).unwrap();
        assert!(bad.starts_with("HTTP/1.0 400"), "{bad}");
    }
}
