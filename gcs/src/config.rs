//! Configuration of one gcs member ([`GcsConfig`]) and the Galera-style
//! `cluster_address` parser.
//!
//! All fields have defaults (`#[serde(default)]`), so a TOML `[gcs]` section
//! only names what differs. [`GcsConfig::validate`] checks cross-field rules
//! and is called by [`crate::Gcs::start`].
//!
//! # Timeout defaults and why
//!
//! Goals (issue 12): after any single-node fault, the leader included, the
//! majority commits again within 3 s, and a cut-off minority stops claiming
//! Primary within 3 s; an idle or loaded cluster without faults never
//! changes leader or view. This project runs on a 2-core shared machine
//! where a process can go without CPU for a second or more, so the short
//! timeouts below are paired with protections against false suspicion:
//! elections start only after a pre-vote that a member still hearing its
//! leader refuses ([`crate::election`]), and every silence check knows
//! when this process itself was frozen ([`crate::stall`]): time we were
//! frozen is not held against a peer where that can only delay a decision
//! (elections, re-dials), and right after a freeze the replies that queued
//! meanwhile are read before the primary state changes (a leader only
//! while its lease still holds in wall time). A stall may cost
//! availability for a moment but never correctness.
//!
//! | field | default | meaning and trade-off |
//! |---|---|---|
//! | `heartbeat_ms` | 200 | leader heartbeat / replication RPC timeout (openraft `heartbeat_interval`). Shorter: faster detection, more idle traffic |
//! | `election_min_ms`..`election_max_ms` | 1200..2000 | a voter that heard from no leader for a random time in this range asks for pre-votes, then starts an election. `election_min_ms` is also the leader lease: a voter that heard from a leader within it refuses both pre-vote and vote. Shorter: faster fail-over; longer: fewer elections after a leader merely stalled |
//! | `suspect_ms` | 1000 | a member that cannot confirm a quorum for this long reports a non-primary view (1047 to statements, `wsrep_ready = OFF`). Keep it below `election_min_ms`: a cut-off leader then stops serving before the majority can elect a successor (a lease), assuming the leader's own process is not frozen between its check and a read. Shorter: faster step-down, more view changes on a starved leader |
//! | `evict_ms` | 60000 | the primary leader removes a member it has not heard from for this long |
//! | `connect_ms` | 5000 | QUIC connect + hello |
//! | `rpc_ms` | 30000 | deadline of `broadcast`, `sync_point`, forwarding, join/leave and snapshot chunks |
//! | `stall_ms` | 400 | a gap of more than this in the ticks of this process's stall clock ([`crate::stall`]) is a *freeze* of this process (no CPU, SIGSTOP). The follower's election timer, its pre-vote answers and the transport's silent-connection check discount such freezes (measure running time), and right after one the supervisor reads the replies that queued meanwhile (one heartbeat round) before it changes the reported primary state; a leader does so only while a majority answered it within `election_min_ms` of wall time. Keep it below `suspect_ms`. Shorter: more scheduling hiccups count as freezes (harmless, they only delay decisions); longer: freezes between it and `suspect_ms` still cost a view change |
//! | `stall_max_ms` | 10000 | a freeze counts for at most this long: a member frozen longer is an outage its peers must be able to act on (and the re-dial and election delays it causes stay bounded) |
//! | `idle_ms` | 30000 | QUIC idle timeout (keep-alives are sent every heartbeat). A connection on which nothing arrived for 4 heartbeats (at least 1 s) is no longer used for new requests and a fresh one is dialed, so a member killed and restarted in place is reached again within seconds, not after `idle_ms` (see [`crate::net::quic`]) |
//!
//! Tests use much shorter values and wait for conditions with generous
//! deadlines instead of sleeping.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Default peer port, as Galera's gcomm.
pub const DEFAULT_PORT: u16 = 4567;

/// When the gcache (ordered log) calls `fsync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FsyncPolicy {
    /// Every append is durable before it is acknowledged; concurrent appends
    /// share one fsync (group commit). The default.
    #[default]
    Always,
    /// Never fsync (the OS flushes eventually). A machine crash can lose
    /// acknowledged entries on this member; raft stays safe only while a
    /// majority does not crash at once.
    Never,
}

/// Every timeout of a member, in milliseconds. See the module docs for the
/// defaults and the reasons behind them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Timeouts {
    /// Leader heartbeat interval; also the per-RPC timeout of replication.
    pub heartbeat_ms: u64,
    /// Lower bound of the randomized election timeout; also the leader
    /// lease (a voter that heard from a leader within it refuses to vote).
    pub election_min_ms: u64,
    /// Upper bound of the randomized election timeout.
    pub election_max_ms: u64,
    /// Without quorum confirmation for this long, a member reports non-primary.
    pub suspect_ms: u64,
    /// The primary leader evicts a member silent for this long.
    pub evict_ms: u64,
    /// QUIC connect plus hello exchange.
    pub connect_ms: u64,
    /// Deadline of client-level operations (broadcast, sync_point, join, leave,
    /// forwarding, one snapshot chunk).
    pub rpc_ms: u64,
    /// QUIC connection idle timeout.
    pub idle_ms: u64,
    /// A gap above this in this process's stall clock is a freeze of this
    /// process (see [`crate::stall`]).
    pub stall_ms: u64,
    /// A freeze counts for at most this long.
    pub stall_max_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            heartbeat_ms: 200,
            election_min_ms: 1_200,
            election_max_ms: 2_000,
            suspect_ms: 1_000,
            evict_ms: 60_000,
            connect_ms: 5_000,
            rpc_ms: 30_000,
            idle_ms: 30_000,
            stall_ms: 400,
            stall_max_ms: 10_000,
        }
    }
}

impl Timeouts {
    /// Short timeouts for tests on loopback (still tolerant of multi-second
    /// stalls where correctness is concerned: only availability is affected).
    pub fn for_tests() -> Self {
        Timeouts {
            heartbeat_ms: 100,
            election_min_ms: 1_000,
            election_max_ms: 2_000,
            suspect_ms: 2_500,
            evict_ms: 120_000,
            connect_ms: 2_000,
            rpc_ms: 60_000,
            idle_ms: 60_000,
            stall_ms: 400,
            stall_max_ms: 10_000,
        }
    }

    pub(crate) fn d(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }
}

/// Where the member's TLS material lives (PEM files).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsPaths {
    /// The cluster CA certificate every member's certificate must chain to.
    pub ca_cert: PathBuf,
    /// This member's certificate (signed by the cluster CA).
    pub cert: PathBuf,
    /// This member's private key.
    pub key: PathBuf,
}

/// Configuration of one member. Field names follow Galera where one exists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GcsConfig {
    /// Unique, stable, non-zero id of this member (the raft node id).
    pub node_id: u64,
    /// Human readable name (`wsrep_node_name`).
    pub node_name: String,
    /// UDP address the QUIC endpoint binds. Port 0 picks a free port.
    pub listen: SocketAddr,
    /// Address other members use to reach this one (`host:port`). Default:
    /// the bound listen address (must then not be unspecified, e.g. 0.0.0.0).
    pub advertise: Option<String>,
    /// `gcomm://host1:port1,host2:port2` — members to contact when joining.
    /// `gcomm://` (empty) is allowed only with `bootstrap = true`.
    pub cluster_address: String,
    /// Cluster name; peers with another name are refused.
    pub cluster_name: String,
    /// Directory for the gcache, the vote and snapshots.
    pub data_dir: PathBuf,
    /// Start a new cluster with this member as the only voter
    /// (`--wsrep-new-cluster`). Ignored when the data directory already holds
    /// a cluster state.
    pub bootstrap: bool,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// fsync policy of the gcache.
    pub fsync: FsyncPolicy,
    /// Bytes of ordered log to keep for catch-up of other members after the
    /// local node allowed purging (`gcache.size`).
    pub gcache_size: u64,
    /// TLS material. `None`: `<data_dir>/tls/{ca.pem,node.pem,node.key}`.
    pub tls: Option<TlsPaths>,
    /// Largest payload `broadcast` accepts.
    pub max_payload_bytes: usize,
    /// Largest frame accepted on the peer port; larger frames close the
    /// connection.
    pub max_frame_bytes: usize,
    /// Coalescing: most bytes of payload in one raft entry.
    pub batch_max_bytes: usize,
    /// Coalescing: most payloads in one raft entry.
    pub batch_max_payloads: usize,
    /// Most raft entries (batches) in flight from this member at once.
    pub max_inflight_batches: usize,
    /// Capacity of the ordered event queue towards the node.
    pub event_queue: usize,
    /// Snapshot chunk size for state transfer.
    pub snapshot_chunk_bytes: u64,
    /// gcache segment file size before rotating.
    pub segment_bytes: u64,
}

impl Default for GcsConfig {
    fn default() -> Self {
        GcsConfig {
            node_id: 1,
            node_name: "node1".into(),
            listen: SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT)),
            advertise: None,
            cluster_address: "gcomm://".into(),
            cluster_name: "trireme".into(),
            data_dir: PathBuf::from("data"),
            bootstrap: false,
            timeouts: Timeouts::default(),
            fsync: FsyncPolicy::Always,
            gcache_size: 128 << 20,
            tls: None,
            max_payload_bytes: 32 << 20,
            max_frame_bytes: 96 << 20,
            batch_max_bytes: 1 << 20,
            batch_max_payloads: 4096,
            max_inflight_batches: 8,
            event_queue: 1 << 16,
            snapshot_chunk_bytes: 1 << 20,
            segment_bytes: 64 << 20,
        }
    }
}

/// A configuration error; the message names the field and what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid gcs configuration: {0}")]
pub struct ConfigError(pub String);

impl GcsConfig {
    /// Check cross-field rules. Returns the parsed peer list.
    pub fn validate(&self) -> Result<Vec<String>, ConfigError> {
        let e = |s: String| Err(ConfigError(s));
        if self.node_id == 0 {
            return e("node_id must be a non-zero integer unique in the cluster".into());
        }
        if self.cluster_name.is_empty() {
            return e("cluster_name must not be empty".into());
        }
        let peers = parse_cluster_address(&self.cluster_address)?;
        if peers.is_empty() && !self.bootstrap {
            return e(format!(
                "cluster_address {:?} lists no member to join; list at least one member, or set bootstrap = true to start a new cluster",
                self.cluster_address
            ));
        }
        let t = &self.timeouts;
        if t.heartbeat_ms == 0 {
            return e("timeouts.heartbeat_ms must be > 0".into());
        }
        if t.election_min_ms <= t.heartbeat_ms || t.election_max_ms <= t.election_min_ms {
            return e(format!(
                "timeouts must satisfy heartbeat_ms ({}) < election_min_ms ({}) < election_max_ms ({})",
                t.heartbeat_ms, t.election_min_ms, t.election_max_ms
            ));
        }
        if t.suspect_ms <= t.heartbeat_ms {
            return e("timeouts.suspect_ms must be larger than heartbeat_ms".into());
        }
        if t.evict_ms < t.suspect_ms {
            return e("timeouts.evict_ms must be >= suspect_ms".into());
        }
        if t.stall_ms < 20 || t.stall_ms >= t.suspect_ms {
            return e(format!(
                "timeouts.stall_ms ({}) must be at least 20 and below suspect_ms ({}): a freeze must be noticed before a silence is judged",
                t.stall_ms, t.suspect_ms
            ));
        }
        if t.stall_max_ms < t.stall_ms {
            return e("timeouts.stall_max_ms must be >= stall_ms".into());
        }
        if t.connect_ms == 0 || t.rpc_ms == 0 || t.idle_ms <= t.heartbeat_ms {
            return e(
                "timeouts.connect_ms and rpc_ms must be > 0 and idle_ms > heartbeat_ms".into(),
            );
        }
        if self.max_payload_bytes == 0 || self.max_frame_bytes < self.max_payload_bytes + 4096 {
            return e("max_frame_bytes must exceed max_payload_bytes by at least 4096".into());
        }
        if (self.snapshot_chunk_bytes as usize) + 4096 > self.max_frame_bytes {
            return e("snapshot_chunk_bytes must be smaller than max_frame_bytes".into());
        }
        if self.batch_max_payloads == 0 || self.max_inflight_batches == 0 || self.event_queue < 16 {
            return e(
                "batch_max_payloads, max_inflight_batches must be > 0 and event_queue >= 16".into(),
            );
        }
        Ok(peers)
    }

    /// TLS paths, applying the `<data_dir>/tls` default.
    pub fn tls_paths(&self) -> TlsPaths {
        self.tls.clone().unwrap_or_else(|| {
            let d = self.data_dir.join("tls");
            TlsPaths {
                ca_cert: d.join("ca.pem"),
                cert: d.join("node.pem"),
                key: d.join("node.key"),
            }
        })
    }
}

/// Parse a Galera-style `gcomm://host1:port1,host2,[::1]:4568` address into
/// `host:port` strings (a missing port means 4567). `gcomm://` yields an empty
/// list. Options after `?` are not supported and rejected.
pub fn parse_cluster_address(s: &str) -> Result<Vec<String>, ConfigError> {
    let s = s.trim();
    let rest = s.strip_prefix("gcomm://").ok_or_else(|| {
        ConfigError(format!("cluster_address {s:?} must start with gcomm://, e.g. gcomm://10.0.0.1:4567,10.0.0.2:4567"))
    })?;
    if rest.contains('?') {
        return Err(ConfigError(format!(
            "cluster_address {s:?}: options after '?' are not supported; set them in the [gcs] section"
        )));
    }
    let mut out: Vec<String> = Vec::new();
    if rest.trim().is_empty() {
        return Ok(out);
    }
    for part in rest.split(',') {
        let p = part.trim();
        if p.is_empty() {
            return Err(ConfigError(format!(
                "cluster_address {s:?} has an empty member between commas"
            )));
        }
        let (host, port) = if let Some(v6) = p.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| {
                ConfigError(format!(
                    "cluster_address member {p:?}: missing ']' in IPv6 address"
                ))
            })?;
            let port = match after {
                "" => None,
                a => Some(a.strip_prefix(':').ok_or_else(|| {
                    ConfigError(format!(
                        "cluster_address member {p:?}: expected ':port' after ']'"
                    ))
                })?),
            };
            if h.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(ConfigError(format!(
                    "cluster_address member {p:?}: {h:?} is not an IPv6 address"
                )));
            }
            (format!("[{h}]"), port)
        } else {
            match p.rsplit_once(':') {
                Some((h, port)) => (h.to_string(), Some(port)),
                None => (p.to_string(), None),
            }
        };
        if host.is_empty() || host.contains(char::is_whitespace) || host.contains('/') {
            return Err(ConfigError(format!(
                "cluster_address member {p:?}: bad host"
            )));
        }
        let port: u16 = match port {
            None => DEFAULT_PORT,
            Some(ps) => match ps.parse::<u16>() {
                Ok(v) if v != 0 => v,
                _ => {
                    return Err(ConfigError(format!(
                        "cluster_address member {p:?}: port {ps:?} is not a number in 1..=65535"
                    )))
                }
            },
        };
        let hp = format!("{host}:{port}");
        if !out.contains(&hp) {
            out.push(hp);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_galera_addresses() {
        assert_eq!(
            parse_cluster_address("gcomm://").unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(
            parse_cluster_address("gcomm://a:1,b , 10.0.0.3:4568,[::1]:9,[fe80::1]").unwrap(),
            vec![
                "a:1",
                "b:4567",
                "10.0.0.3:4568",
                "[::1]:9",
                "[fe80::1]:4567"
            ]
        );
        assert_eq!(
            parse_cluster_address(" gcomm://a:1,a:1 ").unwrap(),
            vec!["a:1"]
        );
    }

    #[test]
    fn rejects_bad_addresses_with_a_reason() {
        for bad in [
            "a:1",
            "http://a:1",
            "gcomm://a:1,,b:2",
            "gcomm://a:0",
            "gcomm://a:70000",
            "gcomm://a:x",
            "gcomm://[::1",
            "gcomm://[zz]:1",
            "gcomm://[::1]x",
            "gcomm://a:1?pc.wait_prim=no",
            "gcomm://:5",
        ] {
            let err = parse_cluster_address(bad).unwrap_err();
            assert!(err.0.contains("cluster_address"), "{bad}: {err}");
        }
    }

    #[test]
    fn validate_rules() {
        let mut c = GcsConfig::default();
        assert!(c.validate().is_err(), "empty peers without bootstrap");
        c.bootstrap = true;
        c.validate().unwrap();
        c.timeouts.election_min_ms = 100;
        assert!(c.validate().is_err());
        c.timeouts = Timeouts::for_tests();
        c.validate().unwrap();
        c.timeouts.stall_ms = c.timeouts.suspect_ms;
        let err = c.validate().unwrap_err();
        assert!(err.0.contains("stall_ms"), "{err}");
        c.timeouts.stall_ms = 10;
        assert!(c.validate().is_err());
        c.timeouts = Timeouts::for_tests();
        c.timeouts.stall_max_ms = c.timeouts.stall_ms - 1;
        assert!(c.validate().is_err());
        c.timeouts = Timeouts::for_tests();
        c.node_id = 0;
        assert!(c.validate().is_err());
    }

    #[test]
    fn deserializes_with_defaults() {
        let c: GcsConfig = serde_json::from_str(
            r#"{"node_id": 3, "fsync": "never", "timeouts": {"heartbeat_ms": 300}, "bootstrap": true}"#,
        )
        .unwrap();
        assert_eq!(c.node_id, 3);
        assert_eq!(c.fsync, FsyncPolicy::Never);
        assert_eq!(c.timeouts.heartbeat_ms, 300);
        assert_eq!(c.timeouts.election_min_ms, 1_200);
        assert_eq!(c.gcache_size, 128 << 20);
    }
}
