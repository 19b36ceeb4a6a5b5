//! `trireme status`: a node's wsrep state, read over the MySQL protocol as
//! any client would, for operators and for container health checks.

use std::net::SocketAddr;
use std::time::Duration;

use trireme_wire::client::{Client, ClientOptions};
use trireme_wire::codec::Timeouts;
use trireme_wire::StmtResult;

/// The figures `trireme status` prints, in this order.
pub const SHOWN: &[&str] = &[
    "wsrep_local_state_comment",
    "wsrep_ready",
    "wsrep_cluster_status",
    "wsrep_cluster_size",
    "wsrep_connected",
    "wsrep_local_index",
    "wsrep_last_committed",
    "wsrep_cluster_state_uuid",
];

/// Where to connect for a node listening on `listen`: a wildcard listen
/// address is reached on loopback.
pub fn client_addr(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        std::net::IpAddr::V4(v) if v.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(v) if v.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// Healthy means what Galera-aware load balancers check: the node is
/// Synced and accepts queries. The error says what is missing.
pub fn verdict(vars: &[(String, String)]) -> Result<(), String> {
    let get = |k: &str| {
        vars.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    };
    let state = get("wsrep_local_state_comment");
    let ready = get("wsrep_ready");
    match (state, ready) {
        (Some("Synced"), Some("ON")) => Ok(()),
        _ => Err(format!(
            "not healthy: wsrep_local_state_comment = {}, wsrep_ready = {} (want Synced and ON)",
            state.unwrap_or("(missing)"),
            ready.unwrap_or("(missing)")
        )),
    }
}

/// Every `wsrep_%` status variable of the node at `addr`.
pub async fn query(
    addr: &str,
    user: &str,
    password: &str,
    timeout: Duration,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut opts = ClientOptions::new(user, password);
    opts.timeouts = Timeouts {
        idle: Some(timeout),
        io: Some(timeout),
    };
    let work = async {
        let mut c = Client::connect(addr, &opts)
            .await
            .map_err(|e| anyhow::anyhow!("{addr}: {e}"))?;
        let r = c
            .query_one("SHOW GLOBAL STATUS LIKE 'wsrep_%'")
            .await
            .map_err(|e| anyhow::anyhow!("{addr}: {e}"))?;
        let _ = c.quit().await;
        let StmtResult::Rows { rows, .. } = r else {
            anyhow::bail!("{addr}: SHOW STATUS returned no rows");
        };
        Ok(rows
            .iter()
            .filter_map(|r| Some((text(r.first()?), text(r.get(1)?))))
            .collect())
    };
    // One bound on the whole exchange: a health check must not hang.
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| anyhow::anyhow!("{addr}: no answer within {} ms", timeout.as_millis()))?
}

fn text(v: &mysql_common::value::Value) -> String {
    match v {
        mysql_common::value::Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        mysql_common::value::Value::NULL => "NULL".into(),
        other => other.as_sql(true).trim_matches('\'').to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(state: &str, ready: &str) -> Vec<(String, String)> {
        vec![
            ("wsrep_local_state_comment".into(), state.into()),
            ("wsrep_ready".into(), ready.into()),
        ]
    }

    #[test]
    fn only_synced_and_ready_is_healthy() {
        assert!(verdict(&vars("Synced", "ON")).is_ok());
        for (s, r) in [
            ("Joining", "ON"),
            ("Donor/Desynced", "ON"),
            ("Synced", "OFF"),
        ] {
            let e = verdict(&vars(s, r)).unwrap_err();
            assert!(e.contains(s) && e.contains(r), "{e}");
        }
        assert!(verdict(&[]).unwrap_err().contains("(missing)"));
    }

    #[test]
    fn wildcard_listen_addresses_are_reached_on_loopback() {
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(client_addr(a("0.0.0.0:3306")), a("127.0.0.1:3306"));
        assert_eq!(client_addr(a("[::]:3306")), a("[::1]:3306"));
        assert_eq!(client_addr(a("10.0.0.5:3307")), a("10.0.0.5:3307"));
    }
}
