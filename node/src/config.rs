//! Node configuration: one TOML file plus command-line overrides. Names
//! follow Galera's where one exists (`applier_threads` is also accepted as
//! `wsrep_slave_threads`).

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Unique id of this node in its cluster (1, 2, 3, ...).
    pub node_id: u64,
    pub node_name: String,
    /// MySQL protocol listen address.
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Password of the built-in `root` account (empty: none).
    pub root_password: String,
    /// Start a new cluster from this node (`--wsrep-new-cluster`).
    pub bootstrap: bool,
    /// `--force-bootstrap` (command line only, one start).
    #[serde(skip)]
    pub force_bootstrap: bool,
    #[serde(alias = "wsrep_slave_threads")]
    pub applier_threads: usize,
    /// Default `wsrep_sync_wait` for new sessions.
    pub sync_wait: i64,
    /// Default `wsrep_retry_autocommit`.
    pub retry_autocommit: i64,
    /// How long a COMMIT waits for ordering before "outcome unknown" (ms).
    pub commit_timeout_ms: u64,
    /// Milliseconds between garbage-collection passes.
    pub gc_interval_ms: u64,
    /// Milliseconds between low-water reports (certification purge).
    pub low_water_interval_ms: u64,
    /// Milliseconds between checkpoints (0: only on state transfer).
    pub checkpoint_interval_ms: u64,
    /// Group communication (membership, total order, gcache, TLS).
    pub cluster: ClusterConfig,
    /// Flow control, named as Galera's `gcs.*` options.
    pub gcs: GcsOptions,
    pub debug: DebugConfig,
}

/// The `[cluster]` section.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// `gcomm://host1:port1,host2:port2`; `gcomm://` with bootstrap for a new
    /// cluster (or a single node).
    pub cluster_address: String,
    /// UDP address of the peer (QUIC) endpoint.
    pub listen: std::net::SocketAddr,
    /// Address other members use to reach this one (default: `listen`).
    pub advertise: Option<String>,
    pub cluster_name: String,
    /// Certificates (PEM). Default: `<data_dir>/tls/{ca.pem,node.pem,node.key}`.
    pub tls: Option<trireme_gcs::TlsPaths>,
    /// Create a development CA and a member certificate in `certs_dir` when
    /// none exist (single-node and demo convenience; production configures
    /// `tls` with its own CA, see `trireme certs`).
    pub dev_certs: bool,
    /// Where development certificates live (default `<data_dir>/tls`). Nodes
    /// of one local cluster share it, so they share the CA.
    pub certs_dir: Option<std::path::PathBuf>,
    /// `always` (group commit, default) or `never`.
    pub fsync: trireme_gcs::FsyncPolicy,
    /// Bytes of ordered log kept for other members' catch-up (`gcache.size`).
    pub gcache_size: u64,
    pub timeouts: trireme_gcs::Timeouts,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            cluster_address: "gcomm://".into(),
            listen: "127.0.0.1:4567".parse().expect("valid default address"),
            advertise: None,
            cluster_name: "trireme".into(),
            tls: None,
            dev_certs: true,
            certs_dir: None,
            fsync: trireme_gcs::FsyncPolicy::Always,
            gcache_size: 128 << 20,
            timeouts: trireme_gcs::Timeouts::default(),
        }
    }
}

/// The `[gcs]` section: Galera's flow-control options.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GcsOptions {
    pub fc_limit: u64,
    pub fc_factor: f64,
    pub fc_single_primary: bool,
    /// How long a COMMIT waits while flow control pauses the cluster before
    /// failing with a clear error (ms).
    pub fc_timeout_ms: u64,
}

impl Default for GcsOptions {
    fn default() -> Self {
        GcsOptions {
            fc_limit: 16,
            fc_factor: 0.5,
            fc_single_primary: false,
            fc_timeout_ms: 60_000,
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DebugConfig {
    /// Delay added to every applied write-set (to exercise flow control).
    pub apply_delay_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            node_id: 1,
            node_name: "node1".into(),
            listen: "127.0.0.1:3307".parse().expect("valid default address"),
            data_dir: PathBuf::from("trireme-data"),
            root_password: String::new(),
            bootstrap: false,
            force_bootstrap: false,
            applier_threads: 4,
            sync_wait: 0,
            retry_autocommit: 1,
            commit_timeout_ms: 10_000,
            gc_interval_ms: 1_000,
            low_water_interval_ms: 1_000,
            checkpoint_interval_ms: 60_000,
            cluster: ClusterConfig::default(),
            gcs: GcsOptions::default(),
            debug: DebugConfig::default(),
        }
    }
}

impl Config {
    pub fn from_toml(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    pub fn load(path: &std::path::Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects_unknown_keys() {
        let c = Config::from_toml(
            "node_id = 2\nlisten = '127.0.0.1:4000'\nwsrep_slave_threads = 8\n\
             [cluster]\ncluster_address = 'gcomm://127.0.0.1:4567'\nlisten = '127.0.0.1:4568'\n\
             [cluster.timeouts]\nsuspect_ms = 30000\n[gcs]\nfc_limit = 32\n[debug]\napply_delay_ms = 5\n",
        )
        .unwrap();
        assert_eq!(c.gcs.fc_limit, 32);
        assert_eq!(c.cluster.timeouts.suspect_ms, 30_000);
        assert_eq!(
            c.cluster.timeouts.heartbeat_ms,
            trireme_gcs::Timeouts::default().heartbeat_ms
        );
        assert_eq!(c.node_id, 2);
        assert_eq!(c.applier_threads, 8);
        assert_eq!(c.debug.apply_delay_ms, 5);
        assert!(Config::from_toml("no_such_key = 1").is_err());
        assert!(Config::from_toml("[gcs]\nfc_limt = 3").is_err());
        assert!(Config::from_toml("listen = 'not an address'").is_err());
    }

    #[test]
    fn the_example_configs_in_deploy_parse() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy");
        for i in 1..=3 {
            let c = Config::load(&dir.join(format!("node{i}.toml"))).unwrap();
            assert_eq!(c.node_id, i);
            assert_eq!(c.bootstrap, i == 1);
        }
    }
}
