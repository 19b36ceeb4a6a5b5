//! Node configuration: one TOML file plus command-line overrides. Names
//! follow Galera's where one exists (`applier_threads` is also accepted as
//! `wsrep_slave_threads`).

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Unique id of this node in its cluster (1, 2, 3, ...).
    pub node_id: u64,
    pub node_name: String,
    /// MySQL protocol listen address.
    pub listen: SocketAddr,
    /// The address clients reach this node at, as other members list it in
    /// `wsrep_incoming_addresses` (Galera's `wsrep_node_incoming_address`).
    /// Default: `listen`, or the host of `cluster.advertise` with the
    /// listen port when `listen` is a wildcard address.
    pub incoming_address: Option<String>,
    pub data_dir: PathBuf,
    /// Password of the built-in `root` account (empty: none).
    pub root_password: String,
    /// Start a new cluster from this node (`--wsrep-new-cluster`).
    pub bootstrap: bool,
    /// Start a new cluster from this node only if its data directory is
    /// empty and every other listed member answers that it belongs to no
    /// cluster yet; join when one answers with a cluster; keep asking
    /// (up to `bootstrap_wait_ms`) while any is unreachable. Meant for the
    /// seed node of a deployment, so no flag has to be removed after the
    /// first start (see `bootstrap::seed_decision`).
    pub bootstrap_if_empty: bool,
    /// How long `bootstrap_if_empty` waits for unreachable members before
    /// giving up with an error (ms).
    pub bootstrap_wait_ms: u64,
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
    /// The row store: `engine` ("memory" or "lsm") and `cache_size`.
    pub storage: crate::storage::StorageConfig,
    /// Log lines as `text` (default) or `json` (one object per line).
    pub log_format: LogFormat,
    /// Address of the Prometheus `/metrics` endpoint (off when unset).
    pub metrics_listen: Option<SocketAddr>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("log format {s:?}: expected text or json")),
        }
    }
}

/// The `[cluster]` section.
#[derive(Clone, Debug, Deserialize, Serialize)]
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
#[derive(Clone, Debug, Deserialize, Serialize)]
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

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
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
            bootstrap_if_empty: false,
            bootstrap_wait_ms: 300_000,
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
            storage: crate::storage::StorageConfig::default(),
            log_format: LogFormat::Text,
            metrics_listen: None,
            incoming_address: None,
        }
    }
}

impl Config {
    pub fn from_toml(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// The file (if any) with the `TRIREME_*` overrides of `env` applied.
    /// Also returns the `TRIREME_*` names that match no key, for a warning
    /// (they may belong to another program, such as the proxy).
    pub fn resolve(
        path: Option<&std::path::Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Config, Vec<String>), String> {
        let (mut table, origin) = match path {
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
                let t: toml::Table =
                    toml::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?;
                (t, p.display().to_string())
            }
            None => (toml::Table::new(), "configuration".to_string()),
        };
        let unknown = apply_env(&mut table, env)?;
        let cfg = toml::Value::Table(table)
            .try_into::<Config>()
            .map_err(|e| format!("{origin} with TRIREME_* overrides: {e}"))?;
        Ok((cfg, unknown))
    }

    pub fn load(path: &std::path::Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// Environment overrides: every key of the file can be set as
/// `TRIREME_<SECTION>_<KEY>`, upper case, dots as underscores
/// (`cluster.timeouts.suspect_ms` is `TRIREME_CLUSTER_TIMEOUTS_SUSPECT_MS`).
/// Containers can then be configured without bind-mounted files.
pub const ENV_PREFIX: &str = "TRIREME_";

/// Keys without a default value (absent from the serialized default).
const OPTIONAL_STRING_KEYS: &[&str] = &[
    "metrics_listen",
    "incoming_address",
    "cluster.advertise",
    "cluster.certs_dir",
    "cluster.tls.ca_cert",
    "cluster.tls.cert",
    "cluster.tls.key",
    "storage.backup_listen",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Str,
    Int,
    Float,
    Bool,
}

/// Every configuration key as a dotted path, with the type of its value,
/// read off the default configuration so that a new key is covered
/// without being listed here.
fn keys() -> Vec<(String, Kind)> {
    fn walk(t: &toml::Table, prefix: &str, out: &mut Vec<(String, Kind)>) {
        for (k, v) in t {
            let path = format!("{prefix}{k}");
            let kind = match v {
                toml::Value::Table(sub) => {
                    walk(sub, &format!("{path}."), out);
                    continue;
                }
                toml::Value::Integer(_) => Kind::Int,
                toml::Value::Float(_) => Kind::Float,
                toml::Value::Boolean(_) => Kind::Bool,
                _ => Kind::Str,
            };
            out.push((path, kind));
        }
    }
    let default = toml::Table::try_from(Config::default()).expect("the default config serializes");
    let mut out = Vec::new();
    walk(&default, "", &mut out);
    for k in OPTIONAL_STRING_KEYS {
        if !out.iter().any(|(p, _)| p == k) {
            out.push((k.to_string(), Kind::Str));
        }
    }
    out
}

/// The environment variable that overrides `key` (a dotted path).
pub fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.replace('.', "_").to_ascii_uppercase())
}

/// Every override variable with its key, sorted by name (for `--help`
/// style listings and the documentation).
pub fn env_names() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = keys().into_iter().map(|(k, _)| (env_name(&k), k)).collect();
    v.sort();
    v
}

fn typed(name: &str, kind: Kind, raw: &str) -> Result<toml::Value, String> {
    let bad = |what: &str| format!("{name}={raw:?}: expected {what}");
    Ok(match kind {
        Kind::Str => toml::Value::String(raw.to_string()),
        Kind::Int => toml::Value::Integer(raw.trim().parse().map_err(|_| bad("an integer"))?),
        Kind::Float => toml::Value::Float(raw.trim().parse().map_err(|_| bad("a number"))?),
        Kind::Bool => toml::Value::Boolean(match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => return Err(bad("true or false")),
        }),
    })
}

/// Applies the `TRIREME_*` variables of `env` to a parsed configuration
/// file; returns the `TRIREME_*` names that match no key.
pub fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<String>, String> {
    let keys = keys();
    let mut unknown = Vec::new();
    for (name, raw) in env {
        if !name.starts_with(ENV_PREFIX) {
            continue;
        }
        let Some((key, kind)) = keys.iter().find(|(k, _)| env_name(k) == name) else {
            unknown.push(name);
            continue;
        };
        let value = typed(&name, *kind, &raw)?;
        let mut parts: Vec<&str> = key.split('.').collect();
        let leaf = parts.pop().expect("a key has a name");
        let mut t = &mut *table;
        for p in parts {
            let entry = t
                .entry(p.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            t = match entry {
                toml::Value::Table(sub) => sub,
                _ => return Err(format!("{name}: `{p}` in the file is not a section")),
            };
        }
        if leaf == "applier_threads" {
            // The Galera alias would otherwise count as a second value.
            t.remove("wsrep_slave_threads");
        }
        t.insert(leaf.to_string(), value);
    }
    unknown.sort();
    Ok(unknown)
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
            assert!(!c.bootstrap, "no permanent bootstrap flag");
            assert_eq!(c.bootstrap_if_empty, i == 1);
        }
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_key_has_one_distinct_environment_name() {
        let names = env_names();
        let mut distinct: Vec<&String> = names.iter().map(|(n, _)| n).collect();
        distinct.dedup();
        assert_eq!(distinct.len(), names.len(), "{names:?}");
        let has = |n: &str| names.iter().any(|(x, _)| x == n);
        for n in [
            "TRIREME_NODE_ID",
            "TRIREME_ROOT_PASSWORD",
            "TRIREME_BOOTSTRAP_IF_EMPTY",
            "TRIREME_LOG_FORMAT",
            "TRIREME_METRICS_LISTEN",
            "TRIREME_CLUSTER_CLUSTER_ADDRESS",
            "TRIREME_CLUSTER_ADVERTISE",
            "TRIREME_CLUSTER_TLS_CA_CERT",
            "TRIREME_CLUSTER_TIMEOUTS_SUSPECT_MS",
            "TRIREME_GCS_FC_FACTOR",
            "TRIREME_DEBUG_APPLY_DELAY_MS",
        ] {
            assert!(has(n), "{n} missing from {names:?}");
        }
        assert!(!has("TRIREME_FORCE_BOOTSTRAP"), "command line only");
    }

    #[test]
    fn environment_overrides_the_file_in_every_section() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.toml");
        std::fs::write(
            &path,
            "node_id = 2\nroot_password = 'file'\nwsrep_slave_threads = 8\n[cluster]\ncluster_name = 'x'\n",
        )
        .unwrap();
        let (c, unknown) = Config::resolve(
            Some(&path),
            env(&[
                ("TRIREME_ROOT_PASSWORD", "123"),
                ("TRIREME_APPLIER_THREADS", "2"),
                ("TRIREME_LISTEN", "0.0.0.0:3306"),
                ("TRIREME_BOOTSTRAP_IF_EMPTY", "on"),
                ("TRIREME_LOG_FORMAT", "json"),
                ("TRIREME_CLUSTER_CLUSTER_ADDRESS", "gcomm://a:4567,b:4567"),
                ("TRIREME_CLUSTER_ADVERTISE", "a:4567"),
                ("TRIREME_CLUSTER_FSYNC", "never"),
                ("TRIREME_CLUSTER_TIMEOUTS_SUSPECT_MS", "30000"),
                ("TRIREME_CLUSTER_TLS_CA_CERT", "/c/ca.pem"),
                ("TRIREME_CLUSTER_TLS_CERT", "/c/n.pem"),
                ("TRIREME_CLUSTER_TLS_KEY", "/c/n.key"),
                ("TRIREME_GCS_FC_FACTOR", "0.25"),
                ("TRIREME_DEBUG_APPLY_DELAY_MS", "3"),
                ("TRIREME_PROXY_MONITOR_PASSWORD", "p"),
                ("PATH", "/bin"),
            ]),
        )
        .unwrap();
        assert_eq!(c.node_id, 2, "the file's value stays");
        assert_eq!(
            c.root_password, "123",
            "a string, even when it looks like a number"
        );
        assert_eq!(
            c.applier_threads, 2,
            "the variable wins over the Galera alias"
        );
        assert_eq!(c.listen.port(), 3306);
        assert!(c.bootstrap_if_empty);
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.cluster.cluster_name, "x");
        assert_eq!(c.cluster.cluster_address, "gcomm://a:4567,b:4567");
        assert_eq!(c.cluster.advertise.as_deref(), Some("a:4567"));
        assert_eq!(c.cluster.fsync, trireme_gcs::FsyncPolicy::Never);
        assert_eq!(c.cluster.timeouts.suspect_ms, 30_000);
        assert_eq!(
            c.cluster.tls.as_ref().map(|t| t.key.clone()),
            Some(PathBuf::from("/c/n.key"))
        );
        assert_eq!(c.gcs.fc_factor, 0.25);
        assert_eq!(c.debug.apply_delay_ms, 3);
        assert_eq!(unknown, vec!["TRIREME_PROXY_MONITOR_PASSWORD".to_string()]);
    }

    #[test]
    fn environment_alone_configures_a_node_and_bad_values_say_which_variable() {
        let (c, _) = Config::resolve(None, env(&[("TRIREME_NODE_NAME", "n7")])).unwrap();
        assert_eq!(c.node_name, "n7");
        assert_eq!(c.node_id, Config::default().node_id);
        for (name, value) in [
            ("TRIREME_NODE_ID", "seven"),
            ("TRIREME_BOOTSTRAP", "maybe"),
            ("TRIREME_GCS_FC_FACTOR", "half"),
        ] {
            let e = Config::resolve(None, env(&[(name, value)])).unwrap_err();
            assert!(e.contains(name), "{e}");
        }
        let e = Config::resolve(None, env(&[("TRIREME_LISTEN", "nowhere")])).unwrap_err();
        assert!(e.contains("TRIREME_* overrides"), "{e}");
        let e = Config::resolve(None, env(&[("TRIREME_LOG_FORMAT", "xml")])).unwrap_err();
        assert!(e.contains("xml"), "{e}");
    }
}
