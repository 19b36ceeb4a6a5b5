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
    pub debug: DebugConfig,
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
            applier_threads: 4,
            sync_wait: 0,
            retry_autocommit: 1,
            commit_timeout_ms: 60_000,
            gc_interval_ms: 1_000,
            low_water_interval_ms: 1_000,
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
        let c = Config::from_toml("node_id = 2\nlisten = '127.0.0.1:4000'\nwsrep_slave_threads = 8\n[debug]\napply_delay_ms = 5\n").unwrap();
        assert_eq!(c.node_id, 2);
        assert_eq!(c.applier_threads, 8);
        assert_eq!(c.debug.apply_delay_ms, 5);
        assert!(Config::from_toml("no_such_key = 1").is_err());
        assert!(Config::from_toml("listen = 'not an address'").is_err());
    }
}
