//! The `[storage]` section of the configuration and the store it opens.
//!
//! ```toml
//! [storage]
//! engine = "lsm"          # or "memory" (the default)
//! cache_size = "256MiB"   # block cache of the on-disk engine; bytes or a size string
//! backup_listen = "127.0.0.1:4444"  # serve `trireme backup` and SST (lsm only; unset: a free port)
//! sst_donor = "10.0.0.2:4444,"      # donors a joiner prefers (Galera's wsrep_sst_donor)
//! transfer_max_rate = 0             # bytes/s a donor sends to a joiner (0: unlimited)
//! ```
//!
//! With `lsm`, `<data_dir>/lsm` is kept across restarts: the engine holds the
//! rows, the catalog, the applied horizon and a recovery point (the
//! certification state at a seqno), and the node restarts from it by
//! replaying only the ordered log after the recovery point
//! (`trireme_storage::lsm::recovery`, `cluster::start`). What the directory
//! holds at start decides what happens:
//!
//! - a recovery point: restart from disk;
//! - nothing usable (a new directory, one written before restart from disk
//!   existed, or a state transfer cut short): the engine is emptied and the
//!   node loads its state as the memory engine does (its checkpoint if any,
//!   its local snapshot and ordered log, or a state transfer);
//! - something unreadable or of another layout: the node refuses to start
//!   and says how to recover: move the directory away and start again.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use trireme_storage::lsm::recovery::{self, Found};
use trireme_storage::lsm::LsmEngine;
use trireme_storage::{Engine, Store};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// Every row in memory (version chains in skip lists).
    #[default]
    Memory,
    /// Rows in fjall on disk, with a bounded cache.
    Lsm,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    pub engine: EngineKind,
    /// Bytes of block cache for the `lsm` engine.
    pub cache_size: ByteSize,
    /// Address where an lsm node serves `trireme backup` (`crate::backup`)
    /// and streamed state transfer; unset, a free port on the cluster
    /// listen IP (status `trireme_sst_address`). The stream is
    /// authenticated, not encrypted.
    pub backup_listen: Option<std::net::SocketAddr>,
    /// Donors a joiner asks for a streamed state transfer, as Galera's
    /// `wsrep_sst_donor`: comma-separated backup listener addresses; a
    /// trailing comma lets others be asked after them (`crate::sst`).
    pub sst_donor: String,
    /// Pace of a donor's stream to a joiner, bytes/s (0: unlimited).
    pub transfer_max_rate: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            engine: EngineKind::Memory,
            cache_size: ByteSize(default_cache_size()),
            backup_listen: None,
            sst_donor: String::new(),
            transfer_max_rate: 0,
        }
    }
}

/// A quarter of the machine's memory (fjall's advice for its block cache is
/// 20-25 % of memory unless the data fits); 256 MiB when the size cannot be
/// read. The rest is left to memtables, sessions and the page cache.
fn default_cache_size() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| mem_total(&t))
        .map_or(256 << 20, |total| (total / 4).max(32 << 20))
}

/// `MemTotal` of a /proc/meminfo text, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// A size in bytes, written as a number or a string such as `"256MiB"`,
/// `"1GiB"`, `"512KB"` or `"64M"` (K/M/G/T are powers of 1024, as MySQL
/// reads them; `KB` and `KiB` alike).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl std::str::FromStr for ByteSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: u64 = num.parse().map_err(|_| {
            format!("size {s:?}: expected a number of bytes, optionally with a unit")
        })?;
        let shift = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 0,
            "k" | "kb" | "kib" => 10,
            "m" | "mb" | "mib" => 20,
            "g" | "gb" | "gib" => 30,
            "t" | "tb" | "tib" => 40,
            other => return Err(format!("size {s:?}: unknown unit {other:?}")),
        };
        n.checked_mul(1u64 << shift)
            .map(ByteSize)
            .ok_or_else(|| format!("size {s:?} is too large"))
    }
}

impl std::fmt::Display for ByteSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0;
        for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
            if n != 0 && n.is_multiple_of(1 << shift) {
                return write!(f, "{}{unit}", n >> shift);
            }
        }
        write!(f, "{n}")
    }
}

impl Serialize for ByteSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(ByteSize(n)),
            Raw::Str(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// The store the configuration asks for. For `lsm`, the engine directory
/// is kept if it holds a state to restart from and emptied otherwise (see
/// the module doc).
pub fn open_store(cfg: &StorageConfig, data_dir: &Path) -> anyhow::Result<Arc<Store>> {
    match cfg.engine {
        EngineKind::Memory => Ok(Store::new()),
        EngineKind::Lsm => {
            let dir = data_dir.join("lsm");
            let engine = LsmEngine::open(&dir, cfg.cache_size.0)
                .map_err(|e| anyhow::anyhow!("{}", damaged(&dir, &e.to_string())))?;
            match recovery::inspect(&engine) {
                Ok(Found::Ready(r)) => tracing::info!(
                    dir = %dir.display(),
                    horizon = r.horizon,
                    recovery_point = r.point.seqno,
                    "storage engine: lsm (fjall), restarting from disk"
                ),
                Ok(Found::Nothing) => {
                    engine
                        .clear(None)
                        .map_err(|e| anyhow::anyhow!("{}", damaged(&dir, &e.to_string())))?;
                    tracing::info!(dir = %dir.display(), "storage engine: lsm (fjall), holds no state to restart from: starting it empty");
                }
                Ok(Found::IncompleteTransfer) => {
                    engine
                        .clear(None)
                        .map_err(|e| anyhow::anyhow!("{}", damaged(&dir, &e.to_string())))?;
                    tracing::warn!(dir = %dir.display(), "storage engine: lsm (fjall), a state transfer into it did not finish: starting it empty");
                }
                Err(e) => anyhow::bail!("{}", damaged(&dir, &e.to_string())),
            }
            tracing::info!(cache_size = %cfg.cache_size, "storage engine cache");
            Ok(Store::with_engine(Engine::Lsm(engine)))
        }
    }
}

/// What the log says when the engine directory cannot be used: why, and
/// the way back.
fn damaged(dir: &Path, why: &str) -> String {
    format!(
        "the storage engine in {d} cannot be used: {why}. Its data is not trusted and this node will not start on it. \
         To rebuild this node, move the directory away (mv {d} {d}.damaged) and start the node again: it then \
         loads its state from its local snapshot and ordered log, or by state transfer from the cluster",
        d = dir.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_as_mysql_reads_them() {
        let p = |s: &str| s.parse::<ByteSize>().map(|b| b.0);
        assert_eq!(p("256MiB"), Ok(256 << 20));
        assert_eq!(p("256M"), Ok(256 << 20));
        assert_eq!(p("1 GiB"), Ok(1 << 30));
        assert_eq!(p("512kb"), Ok(512 << 10));
        assert_eq!(p("1000"), Ok(1000));
        assert!(p("12XB").is_err());
        assert!(p("MiB").is_err());
        assert!(p("99999999999T").is_err());
    }

    #[test]
    fn sizes_print_back_as_they_parse() {
        for n in [1 << 30, 256 << 20, 3 << 10, 1000, 0] {
            let s = ByteSize(n).to_string();
            assert_eq!(s.parse::<ByteSize>(), Ok(ByteSize(n)), "{s}");
        }
    }

    #[test]
    fn the_section_takes_numbers_and_strings() {
        let c: StorageConfig = toml::from_str("engine = 'lsm'\ncache_size = '64MiB'").unwrap();
        assert_eq!((c.engine, c.cache_size.0), (EngineKind::Lsm, 64 << 20));
        let c: StorageConfig = toml::from_str("cache_size = 1048576").unwrap();
        assert_eq!((c.engine, c.cache_size.0), (EngineKind::Memory, 1 << 20));
        assert!(toml::from_str::<StorageConfig>("engine = 'rocks'").is_err());
        assert!(toml::from_str::<StorageConfig>("cache = 1").is_err());
    }

    #[test]
    fn the_environment_can_choose_the_engine() {
        let env = [
            ("TRIREME_STORAGE_ENGINE", "lsm"),
            ("TRIREME_STORAGE_CACHE_SIZE", "8MiB"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let (c, unknown) = crate::config::Config::resolve(None, env).unwrap();
        assert_eq!(c.storage.engine, EngineKind::Lsm);
        assert_eq!(c.storage.cache_size, ByteSize(8 << 20));
        assert!(unknown.is_empty(), "{unknown:?}");
    }

    #[test]
    fn the_environment_can_set_the_backup_and_sst_keys() {
        let env = [
            ("TRIREME_STORAGE_BACKUP_LISTEN", "127.0.0.1:4444"),
            ("TRIREME_STORAGE_SST_DONOR", "10.0.0.2:4444,"),
            ("TRIREME_STORAGE_TRANSFER_MAX_RATE", "1048576"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let (c, unknown) = crate::config::Config::resolve(None, env).unwrap();
        assert!(unknown.is_empty(), "{unknown:?}");
        assert_eq!(
            c.storage.backup_listen,
            Some("127.0.0.1:4444".parse().unwrap())
        );
        assert_eq!(c.storage.sst_donor, "10.0.0.2:4444,");
        assert_eq!(c.storage.transfer_max_rate, 1 << 20);
        // Off by default.
        assert_eq!(StorageConfig::default().backup_listen, None);
    }

    #[test]
    fn an_unusable_engine_directory_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        // A file where the engine's directory should be.
        std::fs::write(dir.path().join("lsm"), b"not a database").unwrap();
        let cfg = StorageConfig {
            engine: EngineKind::Lsm,
            cache_size: ByteSize(1 << 20),
            backup_listen: None,
            sst_donor: String::new(),
            transfer_max_rate: 0,
        };
        let e = open_store(&cfg, dir.path()).err().expect("refused");
        let msg = e.to_string();
        assert!(msg.contains("cannot be used"), "{msg}");
        assert!(msg.contains("move the directory away"), "{msg}");
    }

    #[test]
    fn an_engine_without_a_recovery_point_starts_empty() {
        use trireme_storage::catalog::{ColumnDef, TableDef};
        use trireme_storage::types::{IntWidth, SqlType};
        use trireme_storage::value::Value;
        let int = SqlType::Int {
            width: IntWidth::Int,
            unsigned: false,
        };
        let def = TableDef {
            db: "d".into(),
            name: "t".into(),
            columns: vec![ColumnDef::new("id", int)],
            primary: Some(vec![0]),
            indexes: vec![],
            next_index_id: 1,
            engine: "InnoDB".into(),
            collation: Default::default(),
            comment: String::new(),
            version: 0,
            foreign_keys: Vec::new(),
            checks: Vec::new(),
        };
        let dir = tempfile::tempdir().unwrap();
        let id = {
            // Rows written without a recovery point (as phase 1 left them).
            let e = LsmEngine::open(&dir.path().join("lsm"), 1 << 20).unwrap();
            let t = trireme_storage::Table::create(def.clone(), &Engine::Lsm(e.clone())).unwrap();
            let row: Vec<Value> = vec![Value::Int(1)];
            t.install(b"k", 1, Some(row.into())).unwrap();
            e.persist().unwrap();
            t.lsm_id().unwrap()
        };
        let cfg = StorageConfig {
            engine: EngineKind::Lsm,
            cache_size: ByteSize(1 << 20),
            backup_listen: None,
            sst_donor: String::new(),
            transfer_max_rate: 0,
        };
        let store = open_store(&cfg, dir.path()).unwrap();
        let Engine::Lsm(e) = store.engine() else {
            panic!("not lsm")
        };
        let t = trireme_storage::Table::attach(def, e, id);
        assert!(t.rows_at(5).unwrap().is_empty());
        assert_eq!(e.persisted_horizon(), 0);
    }

    #[test]
    fn mem_total_reads_meminfo() {
        let t = "MemTotal:        8049036 kB\nMemFree:  1 kB\n";
        assert_eq!(mem_total(t), Some(8049036 * 1024));
        assert_eq!(mem_total("MemFree: 1 kB"), None);
    }
}
