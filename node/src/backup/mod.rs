//! Online backup of an lsm node (`trireme backup`) and the listener that
//! serves it (`[storage] backup_listen`).
//!
//! | module | what it owns |
//! |---|---|
//! | [`proto`] | the handshake before the stream (pure) |
//! | [`serve`] | the node side: authenticate, stream a snapshot |
//! | [`client`] | the `trireme backup` side: receive into a new data dir |
//!
//! The stream itself (a consistent copy at the donor's horizon, chunked
//! and CRC-framed) is `trireme_storage::lsm::export`. A backup directory
//! seeds a new cluster only: its history is restarted at seqno 0, so it has
//! nothing in common with the cluster it was taken from, and joining any
//! cluster would replace its data by state transfer. [`RestoredBackup`]
//! (the file `backup.toml`) makes `trireme start` refuse it unless the node
//! bootstraps; it is removed once the node has formed its cluster.

pub mod client;
pub mod proto;
pub mod serve;

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The file `trireme backup` leaves in the directory it writes.
pub const MARKER: &str = "backup.toml";

/// Where a backup directory came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoredBackup {
    /// The backup listener it was taken from.
    pub source: String,
    /// The donor's horizon `S`: the copy holds every transaction up to it.
    pub source_seqno: u64,
    pub rows: u64,
    pub taken_at_unix: u64,
}

impl RestoredBackup {
    pub fn save(&self, dir: &Path) -> anyhow::Result<()> {
        let text = toml::to_string(self)?;
        let tmp = dir.join("backup.toml.tmp");
        std::fs::write(&tmp, text)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, dir.join(MARKER))?;
        std::fs::File::open(dir)?.sync_all()?;
        Ok(())
    }

    /// The marker of `dir`, if it has one.
    pub fn load(dir: &Path) -> anyhow::Result<Option<RestoredBackup>> {
        let p = dir.join(MARKER);
        match std::fs::read_to_string(&p) {
            Ok(t) => Ok(Some(
                toml::from_str(&t).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(anyhow::anyhow!("{}: {e}", p.display())),
        }
    }

    pub fn remove(dir: &Path) -> anyhow::Result<()> {
        std::fs::remove_file(dir.join(MARKER))?;
        Ok(())
    }

    /// Why a node may not start on this backup (None: it may), given
    /// whether it is about to bootstrap a new cluster and whether its
    /// configured engine is lsm.
    pub fn refusal(&self, bootstrap: bool, lsm: bool) -> Option<String> {
        let what = format!(
            "this data directory is a backup taken by `trireme backup` from {} at seqno {}",
            self.source, self.source_seqno
        );
        if !lsm {
            return Some(format!(
                "{what}; it holds an lsm engine: set [storage] engine = \"lsm\""
            ));
        }
        if !bootstrap {
            return Some(format!(
                "{what}. A backup seeds a NEW cluster only (its history restarts at seqno 0): start this node with --bootstrap \
                 while no member of another cluster is listed in cluster_address, then add members by state transfer. \
                 Joining an existing cluster would replace this data; to do that, empty the directory first"
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_starts_only_a_new_cluster_on_lsm() {
        let b = RestoredBackup {
            source: "n1:4444".into(),
            source_seqno: 42,
            rows: 7,
            taken_at_unix: 1,
        };
        assert_eq!(b.refusal(true, true), None);
        let join = b.refusal(false, true).unwrap();
        assert!(
            join.contains("--bootstrap") && join.contains("seqno 42"),
            "{join}"
        );
        assert!(b.refusal(true, false).unwrap().contains("engine = \"lsm\""));
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(RestoredBackup::load(dir.path()).unwrap(), None);
        b.save(dir.path()).unwrap();
        assert_eq!(RestoredBackup::load(dir.path()).unwrap(), Some(b));
        RestoredBackup::remove(dir.path()).unwrap();
        assert_eq!(RestoredBackup::load(dir.path()).unwrap(), None);
    }
}
