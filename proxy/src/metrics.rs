//! Prometheus metrics: `GET /metrics` on the admin port (`admin_listen`),
//! in the text exposition format (version 0.0.4).
//!
//! The admin port already is the proxy's HTTP endpoint for machines
//! (`/health` for load balancers, `/status.json` for scripts), so metrics
//! live there too rather than on a port of their own: one address to bind
//! to a trusted interface, one to scrape.
//!
//! | metric | type | labels | meaning |
//! |---|---|---|---|
//! | `trireme_proxy_backend_up` | gauge | `backend` | 1 when the backend receives new sessions |
//! | `trireme_proxy_backend_writer` | gauge | `backend` | 1 for the current writer (`balance = "single"`) |
//! | `trireme_proxy_backend_active_sessions` | gauge | `backend`, `port` | client sessions on it now (pool mode: backend connections lent or pinned) |
//! | `trireme_proxy_backend_sessions_total` | counter | `backend`, `port` | sessions established (pool mode: statements and transactions served) |
//! | `trireme_proxy_backend_connect_failures_total` | counter | `backend` | client-path connects that failed (refused, timed out, ERR greeting) |
//! | `trireme_proxy_backend_auth_failures_total` | counter | `backend` | logins the backend refused |
//! | `trireme_proxy_backend_health_check_failures_total` | counter | `backend` | failed health checks |
//! | `trireme_proxy_backend_client_to_backend_bytes_total` | counter | `backend` | bytes relayed client to backend |
//! | `trireme_proxy_backend_backend_to_client_bytes_total` | counter | `backend` | bytes relayed backend to client |
//! | `trireme_proxy_client_connections_total` | counter | | client connections accepted |
//! | `trireme_proxy_client_connections_active` | gauge | | client connections open now |
//! | `trireme_proxy_sessions_refused_no_backend_total` | counter | | sessions refused: no backend up or reachable |
//! | `trireme_proxy_sessions_refused_too_many_total` | counter | | sessions refused at `max_connections` |
//! | `trireme_proxy_sessions_closed_by_proxy_total` | counter | | sessions the proxy closed (backend down, writer change, shutdown) |
//! | `trireme_proxy_handshake_failures_total` | counter | | logins that failed for a reason other than a refused password |
//! | `trireme_proxy_writer_changes_total` | counter | | writer changes after the initial election |
//! | `trireme_proxy_pool_connections_open` | gauge | `backend` | pool mode: backend connections open (idle, lent, pinned) |
//! | `trireme_proxy_pool_connections_idle` | gauge | `backend` | pool mode: idle backend connections |
//! | `trireme_proxy_auth_denied_total` | counter | | pool mode: logins the proxy refused |
//! | `trireme_proxy_pool_wait_timeouts_total` | counter | | pool mode: statements that got ERROR 1040 after `pool.wait_timeout_ms` |
//! | `trireme_proxy_pool_pinned_sessions_total` | counter | | pool mode: sessions pinned to one connection |
//! | `trireme_proxy_statement_retries_total` | counter | | pool mode: dead connections or failed connects passed over before a statement ran |
//! | `trireme_proxy_statements_lost_total` | counter | | pool mode: statements or transactions that got ERROR 2013 |
//! | `trireme_proxy_up_backends` | gauge | | backends up now |
//! | `trireme_proxy_uptime_seconds` | gauge | | seconds since start |
//!
//! Bytes are counted as they are written, so a long session's traffic
//! shows before it ends. Figures are read without stopping traffic, so two
//! of them may be a moment apart.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use crate::router::Shared;

/// The `Content-Type` of [`render`]'s output.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// Escapes a label value (backslash, double quote, newline).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

struct Out(String);

impl Out {
    fn head(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"{}\"", label(v));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }

    /// One family with one sample per backend.
    fn per_backend<V: std::fmt::Display>(
        &mut self,
        shared: &Shared,
        name: &str,
        kind: &str,
        help: &str,
        value: impl Fn(usize) -> V,
    ) {
        self.head(name, kind, help);
        for (i, b) in shared.backends.iter().enumerate() {
            self.sample(name, &[("backend", &b.addr)], value(i));
        }
    }

    fn single(&mut self, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
        self.head(name, kind, help);
        self.sample(name, &[], value);
    }
}

/// The whole exposition.
pub(crate) fn render(shared: &Shared) -> String {
    let mut o = Out(String::with_capacity(4096));
    let writer = shared.writer();
    let bs = &shared.backends;
    o.per_backend(
        shared,
        "trireme_proxy_backend_up",
        "gauge",
        "1 when the backend receives new sessions (health checks passing).",
        |i| u8::from(bs[i].is_up()),
    );
    o.per_backend(
        shared,
        "trireme_proxy_backend_writer",
        "gauge",
        "1 for the current writer of the write port (balance = single).",
        |i| u8::from(writer == Some(i)),
    );
    let name = "trireme_proxy_backend_active_sessions";
    o.head(
        name,
        "gauge",
        "Client sessions using the backend now, per port.",
    );
    for b in bs {
        let a = b.active();
        o.sample(name, &[("backend", &b.addr), ("port", "write")], a[0]);
        o.sample(name, &[("backend", &b.addr), ("port", "read")], a[1]);
    }
    let name = "trireme_proxy_backend_sessions_total";
    o.head(
        name,
        "counter",
        "Client sessions established on the backend, per port.",
    );
    for b in bs {
        let t = b.total();
        o.sample(name, &[("backend", &b.addr), ("port", "write")], t[0]);
        o.sample(name, &[("backend", &b.addr), ("port", "read")], t[1]);
    }
    o.per_backend(
        shared,
        "trireme_proxy_backend_connect_failures_total",
        "counter",
        "Client-path connects to the backend that failed (refused, timed out, ERR greeting).",
        |i| bs[i].connect_failures.load(Ordering::Relaxed),
    );
    o.per_backend(
        shared,
        "trireme_proxy_backend_auth_failures_total",
        "counter",
        "Logins the backend refused.",
        |i| bs[i].auth_failures.load(Ordering::Relaxed),
    );
    o.per_backend(
        shared,
        "trireme_proxy_backend_health_check_failures_total",
        "counter",
        "Failed health checks of the backend.",
        |i| bs[i].checks_failed(),
    );
    o.per_backend(
        shared,
        "trireme_proxy_backend_client_to_backend_bytes_total",
        "counter",
        "Bytes relayed from clients to the backend.",
        |i| bs[i].bytes_to_backend.load(Ordering::Relaxed),
    );
    o.per_backend(
        shared,
        "trireme_proxy_backend_backend_to_client_bytes_total",
        "counter",
        "Bytes relayed from the backend to clients.",
        |i| bs[i].bytes_to_client.load(Ordering::Relaxed),
    );
    o.per_backend(
        shared,
        "trireme_proxy_pool_connections_open",
        "gauge",
        "Pool mode: backend connections open now (idle, lent and pinned).",
        |i| bs[i].pool.open(),
    );
    o.per_backend(
        shared,
        "trireme_proxy_pool_connections_idle",
        "gauge",
        "Pool mode: backend connections idle in the pool now.",
        |i| bs[i].pool.idle(),
    );
    let c = &shared.counters;
    let n = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    o.single(
        "trireme_proxy_client_connections_total",
        "counter",
        "Client connections accepted on any port.",
        n(&c.accepted),
    );
    o.single(
        "trireme_proxy_client_connections_active",
        "gauge",
        "Client connections open now.",
        n(&c.client_active),
    );
    o.single(
        "trireme_proxy_sessions_refused_no_backend_total",
        "counter",
        "Client sessions refused because no backend was up or reachable.",
        n(&c.no_backend),
    );
    o.single(
        "trireme_proxy_sessions_refused_too_many_total",
        "counter",
        "Client connections refused at max_connections.",
        n(&c.too_many),
    );
    o.single(
        "trireme_proxy_sessions_closed_by_proxy_total",
        "counter",
        "Client sessions the proxy closed (backend down, writer change, shutdown).",
        n(&c.killed),
    );
    o.single(
        "trireme_proxy_handshake_failures_total",
        "counter",
        "Logins that failed for a reason other than a refused password.",
        n(&c.handshake_failed),
    );
    o.single(
        "trireme_proxy_writer_changes_total",
        "counter",
        "Writer changes after the initial election.",
        n(&c.writer_changes),
    );
    o.single(
        "trireme_proxy_auth_denied_total",
        "counter",
        "Pool mode: logins the proxy refused (unknown user or wrong password).",
        n(&c.auth_denied),
    );
    o.single(
        "trireme_proxy_pool_wait_timeouts_total",
        "counter",
        "Pool mode: statements that found no free backend connection within pool.wait_timeout_ms.",
        n(&c.pool_wait_timeouts),
    );
    o.single(
        "trireme_proxy_pool_pinned_sessions_total",
        "counter",
        "Pool mode: sessions pinned to one backend connection for good.",
        n(&c.pinned),
    );
    o.single(
        "trireme_proxy_statement_retries_total",
        "counter",
        "Pool mode: dead pooled connections or failed connects a statement moved past before it ran.",
        n(&c.retries),
    );
    o.single(
        "trireme_proxy_statements_lost_total",
        "counter",
        "Pool mode: statements or transactions whose backend died after they were sent (ERROR 2013).",
        n(&c.lost),
    );
    o.single(
        "trireme_proxy_up_backends",
        "gauge",
        "Backends up now.",
        bs.iter().filter(|b| b.is_up()).count(),
    );
    o.single(
        "trireme_proxy_uptime_seconds",
        "gauge",
        "Seconds since the proxy started.",
        format!("{:.3}", shared.started.elapsed().as_secs_f64()),
    );
    o.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        let mut o = Out(String::new());
        o.sample("m", &[("backend", "h:1"), ("port", "read")], 3);
        assert_eq!(o.0, "m{backend=\"h:1\",port=\"read\"} 3\n");
    }

    #[test]
    fn every_family_has_help_and_type_and_counters_end_in_total() {
        let shared = Shared::new(crate::ProxyConfig::new(
            "127.0.0.1:0",
            vec!["127.0.0.1:1".into(), "127.0.0.1:2".into()],
        ));
        let text = render(&shared);
        let mut families = 0;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                families += 1;
                let (name, kind) = rest.split_once(' ').unwrap();
                assert!(name.starts_with("trireme_proxy_"), "{name}");
                assert_eq!(kind == "counter", name.ends_with("_total"), "{name}");
            } else if !line.starts_with("# HELP ") {
                let (series, value) = line.rsplit_once(' ').unwrap();
                assert!(value.parse::<f64>().is_ok(), "{line}");
                assert!(series.starts_with("trireme_proxy_"), "{line}");
            }
        }
        assert!(families >= 17);
        assert!(text.contains("trireme_proxy_backend_up{backend=\"127.0.0.1:2\"} 0\n"));
    }
}
