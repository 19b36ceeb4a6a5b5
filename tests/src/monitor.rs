//! The status monitor: polls every node's `wsrep_cluster_status`,
//! `wsrep_ready`, `wsrep_cluster_conf_id` and its raft leader and term
//! (`trireme_gcs_leader`, `trireme_gcs_term`) a few times a second while
//! the workload runs, from the node's own network namespace (so a partition
//! between nodes does not hide a node from its monitor).
//!
//! The samples feed [`crate::availability`] (leader and view changes, how
//! long a minority claimed Primary) and tell the nemesis which node leads
//! when it targets the leader. They are written to `monitor.jsonl`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::availability::{NodeStatus, Sample};
use crate::history::Recorder;
use crate::workload::{ClientConfig, Session, Stage};

/// Time between two polls of one node.
pub const PERIOD: Duration = Duration::from_millis(200);

/// Bound on one poll (connect and query): a paused node yields an
/// unanswered sample about this often.
pub const POLL_TIMEOUT: Duration = Duration::from_millis(1_000);

/// The samples of all nodes, in arrival order.
#[derive(Default)]
pub struct Samples {
    inner: Mutex<Vec<Sample>>,
}

impl Samples {
    pub fn push(&self, s: Sample) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).push(s);
    }

    pub fn snapshot(&self) -> Vec<Sample> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The leader (node index) that most nodes reported in their latest
    /// answered sample of the last `recent_ns` nanoseconds before `now_ns`,
    /// if any.
    pub fn current_leader(&self, nodes: usize, now_ns: u64, recent_ns: u64) -> Option<usize> {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut latest: BTreeMap<usize, (u64, u64)> = BTreeMap::new();
        for s in g.iter().rev() {
            if now_ns.saturating_sub(s.t_ns) > recent_ns {
                break;
            }
            if let Some(st) = &s.status {
                if st.primary && st.leader != 0 {
                    latest.entry(s.node).or_insert((st.term, st.leader));
                }
            }
        }
        leader_of(latest.values().copied(), nodes)
    }
}

/// The leader reported for the highest term (ties: most votes), as a node
/// index (`node_id - 1`), if it is one of the `nodes`.
fn leader_of(reports: impl Iterator<Item = (u64, u64)>, nodes: usize) -> Option<usize> {
    let mut count: BTreeMap<(u64, u64), usize> = BTreeMap::new();
    for r in reports {
        *count.entry(r).or_insert(0) += 1;
    }
    let ((_, id), _) = count
        .into_iter()
        .max_by(|a, b| a.0 .0.cmp(&b.0 .0).then(a.1.cmp(&b.1)))?;
    let i = usize::try_from(id).ok()?.checked_sub(1)?;
    (i < nodes).then_some(i)
}

/// Parses the status rows of one poll.
pub fn parse_status(rows: &[(String, String)]) -> Option<NodeStatus> {
    let get = |k: &str| {
        rows.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    };
    let num = |k: &str| get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    Some(NodeStatus {
        primary: get("wsrep_cluster_status")? == "Primary",
        ready: get("wsrep_ready")? == "ON",
        conf_id: num("wsrep_cluster_conf_id"),
        leader: num("trireme_gcs_leader"),
        term: num("trireme_gcs_term"),
    })
}

async fn poll(s: &mut Session) -> Option<NodeStatus> {
    let mut rows = s
        .query::<(String, String)>("SHOW GLOBAL STATUS LIKE 'wsrep%'", Stage::Body)
        .await
        .ok()?;
    // Older binaries have no trireme_gcs_* variables: leader 0, term 0.
    if let Ok(more) = s
        .query::<(String, String)>("SHOW GLOBAL STATUS LIKE 'trireme_gcs%'", Stage::Body)
        .await
    {
        rows.extend(more);
    }
    parse_status(&rows)
}

/// Polls one node until `stop`; bounded by `max_polls`.
pub async fn run(
    node: usize,
    addr: SocketAddr,
    mut cfg: ClientConfig,
    rec: Arc<Recorder>,
    samples: Arc<Samples>,
    stop: Arc<AtomicBool>,
    max_polls: u64,
) {
    cfg.connect_timeout = POLL_TIMEOUT;
    cfg.statement_timeout = POLL_TIMEOUT;
    let mut s = Session::new(addr, cfg, None);
    for _ in 0..max_polls {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let status = poll(&mut s).await;
        if status.is_none() {
            s.drop_conn();
        }
        samples.push(Sample {
            t_ns: rec.now_ns(),
            node,
            status,
        });
        tokio::time::sleep(PERIOD).await;
    }
    s.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_rows_parse() {
        let rows: Vec<(String, String)> = [
            ("wsrep_cluster_status", "non-Primary"),
            ("wsrep_ready", "OFF"),
            ("wsrep_cluster_conf_id", "7"),
            ("trireme_gcs_leader", "2"),
            ("trireme_gcs_term", "9"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let st = parse_status(&rows).unwrap();
        assert!(!st.primary && !st.ready);
        assert_eq!((st.conf_id, st.leader, st.term), (7, 2, 9));
        assert_eq!(parse_status(&rows[2..]), None, "status missing");
    }

    #[test]
    fn the_leader_of_the_highest_term_wins() {
        let r = [(3, 1), (4, 2), (4, 2)];
        assert_eq!(leader_of(r.into_iter(), 3), Some(1));
        assert_eq!(leader_of([(5, 9)].into_iter(), 3), None, "not a node");
        assert_eq!(leader_of(std::iter::empty(), 3), None);
    }
}
