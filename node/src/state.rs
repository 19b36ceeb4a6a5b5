//! The state file and the start-up decisions it drives (Galera's
//! `grastate.dat`, `safe_to_bootstrap` and `pc.recovery`).
//!
//! `<data_dir>/grastate.toml` records which cluster history the data belongs
//! to (a uuid drawn at random when the cluster was bootstrapped, or adopted
//! from the first member that welcomed this one), the seqno of the last
//! checkpoint, whether this node may bootstrap, and whether this node
//! detected that its data diverged. It is replaced atomically (temp file,
//! fsync, rename, fsync of the directory).
//!
//! At start ([`plan`]):
//! - a node that recorded a divergence refuses to start: its data cannot be
//!   trusted, and replaying the log would only fail again;
//! - a data directory that holds state restarts as a member of its
//!   recorded cluster; `bootstrap` is ignored there, so a seed node keeps
//!   its configuration across restarts;
//! - an empty data directory with `bootstrap` forms a new cluster only if no
//!   listed member of an existing cluster answers (otherwise it would form a
//!   second cluster beside it and acknowledge writes the others never see);
//! - an empty data directory without `bootstrap` joins, adopting the
//!   cluster's uuid at the handshake.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tracing::error;

pub const FILE: &str = "grastate.toml";

/// What the state file holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    pub version: u32,
    /// The cluster history this data belongs to; `None` until this node
    /// has joined one.
    pub cluster_uuid: Option<String>,
    /// The seqno of the last checkpoint written.
    pub seqno: u64,
    /// Whether this node may bootstrap the cluster again from its data
    /// (it was the last member of the primary component to stop cleanly).
    pub safe_to_bootstrap: bool,
    /// Set when this node found it could not apply what its peers applied.
    pub diverged_at: Option<u64>,
    pub diverged_reason: Option<String>,
}

impl State {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(FILE)
    }

    /// Reads the state file; `None` if there is none.
    pub fn load(dir: &Path) -> anyhow::Result<Option<State>> {
        let p = State::path(dir);
        match std::fs::read_to_string(&p) {
            Ok(text) => toml::from_str(&text)
                .map(Some)
                .map_err(|e| anyhow::anyhow!("{}: {e}", p.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(anyhow::anyhow!("{}: {e}", p.display())),
        }
    }

    /// Replaces the state file atomically and durably.
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        let body = toml::to_string(self).map_err(std::io::Error::other)?;
        let text = format!(
            "# trireme node state (like Galera's grastate.dat); written by the node.\n{body}"
        );
        let tmp = dir.join(format!("{FILE}.tmp"));
        {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, State::path(dir))?;
        std::fs::File::open(dir)?.sync_all()
    }
}

/// Whether `dir` holds anything of a previous life: the state file, a
/// checkpoint, or the ordered log.
pub fn has_data(dir: &Path) -> bool {
    let nonempty = |p: PathBuf| {
        std::fs::read_dir(p)
            .map(|mut d| d.next().is_some())
            .unwrap_or(false)
    };
    State::path(dir).exists()
        || dir.join("checkpoint.bin").exists()
        || nonempty(dir.join("gcs").join("gcache"))
}

/// How this node starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Form a new cluster with this uuid.
    Bootstrap { uuid: String },
    /// Restart as a member of the recorded cluster (`None`: this node had
    /// started to join one and learned no uuid yet).
    Restart { uuid: Option<String> },
    /// Join an existing cluster (empty data directory).
    Join,
}

/// What a probe of a listed member found.
pub type Probed = (String, Result<Option<String>, String>);

/// Decides how to start. `members` are the answers of the listed members
/// (only asked when an empty node is told to bootstrap); `legacy_uuid` is
/// what a data directory written before state files existed belongs to.
pub fn plan(
    state: Option<&State>,
    has_data: bool,
    bootstrap: bool,
    members: &[Probed],
    legacy_uuid: &str,
    new_uuid: impl FnOnce() -> String,
) -> Result<Plan, String> {
    if let Some(at) = state.and_then(|s| s.diverged_at) {
        let why = state
            .and_then(|s| s.diverged_reason.clone())
            .unwrap_or_default();
        return Err(format!(
            "this node found at seqno {at} that its data diverged from the cluster ({why}); its data cannot be trusted. Move the data directory away (keep it for analysis) and start the node with an empty one: it rejoins by state transfer"
        ));
    }
    if has_data {
        let uuid = match state {
            Some(s) => s.cluster_uuid.clone(),
            None => Some(legacy_uuid.to_string()),
        };
        return Ok(Plan::Restart { uuid });
    }
    if !bootstrap {
        return Ok(Plan::Join);
    }
    let running: Vec<String> = members
        .iter()
        .filter_map(|(addr, r)| match r {
            Ok(Some(uuid)) => Some(format!("{addr} (cluster {uuid})")),
            _ => None,
        })
        .collect();
    if !running.is_empty() {
        return Err(format!(
            "bootstrap is set but this node's data directory is empty and members of a running cluster answer: {}. Bootstrapping would form a second cluster beside it. Remove `bootstrap` (or --bootstrap) to join it by state transfer",
            running.join(", ")
        ));
    }
    Ok(Plan::Bootstrap { uuid: new_uuid() })
}

/// The state file of a running node. One per process: the paths that find
/// this node diverged (`diverged`) have no handle to pass it through.
pub struct StateStore {
    dir: PathBuf,
    cur: Mutex<State>,
}

static CURRENT: OnceLock<Arc<StateStore>> = OnceLock::new();

impl StateStore {
    /// Opens (or starts) the state file of `dir` and makes it this
    /// process's.
    pub fn open(dir: &Path, initial: State) -> std::io::Result<Arc<StateStore>> {
        let s = Arc::new(StateStore {
            dir: dir.to_path_buf(),
            cur: Mutex::new(State {
                version: 1,
                ..initial
            }),
        });
        s.cur.lock().save(dir)?;
        let _ = CURRENT.set(s.clone());
        Ok(s)
    }

    pub fn get(&self) -> State {
        self.cur.lock().clone()
    }

    /// Changes the state and writes it before returning.
    pub fn update(&self, f: impl FnOnce(&mut State)) -> std::io::Result<()> {
        let mut cur = self.cur.lock();
        let mut next = cur.clone();
        f(&mut next);
        if next != *cur {
            next.save(&self.dir)?;
            *cur = next;
        }
        Ok(())
    }
}

/// This node cannot apply what its peers applied at `seqno`: record it (so
/// the node does not come back with this data), say so, and leave the
/// cluster by stopping. The others go on; they hold a quorum without it.
pub fn diverged(seqno: u64, what: &str) -> ! {
    error!(
        seqno,
        "INCONSISTENCY DETECTED: {what}. This node's data no longer matches the cluster's; it leaves the cluster and stops. Move its data directory away and restart it to rejoin by state transfer"
    );
    if let Some(s) = CURRENT.get() {
        let r = s.update(|st| {
            st.diverged_at = Some(seqno);
            st.diverged_reason = Some(what.to_string());
            st.safe_to_bootstrap = false;
        });
        if let Err(e) = r {
            error!(error = %e, "could not record the divergence in the state file");
        }
    }
    std::process::exit(70);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> String {
        "new-uuid".into()
    }

    #[test]
    fn a_node_with_data_restarts_in_its_cluster_whatever_bootstrap_says() {
        let st = State {
            cluster_uuid: Some("u1".into()),
            ..State::default()
        };
        for boot in [false, true] {
            assert_eq!(
                plan(Some(&st), true, boot, &[], "legacy", fresh),
                Ok(Plan::Restart {
                    uuid: Some("u1".into())
                })
            );
        }
        // Data written before state files: the uuid every such node used.
        assert_eq!(
            plan(None, true, true, &[], "legacy", fresh),
            Ok(Plan::Restart {
                uuid: Some("legacy".into())
            })
        );
        // A joiner that stopped before it learned the uuid adopts it later.
        assert_eq!(
            plan(Some(&State::default()), true, true, &[], "legacy", fresh),
            Ok(Plan::Restart { uuid: None })
        );
    }

    #[test]
    fn an_empty_seed_refuses_to_bootstrap_beside_a_running_cluster() {
        let answers = vec![
            ("b:4567".to_string(), Err("no answer in time".to_string())),
            ("c:4567".to_string(), Ok(Some("u1".to_string()))),
        ];
        let e = plan(None, false, true, &answers, "legacy", fresh).unwrap_err();
        assert!(e.contains("c:4567 (cluster u1)"), "{e}");
        assert!(e.contains("Remove `bootstrap`"), "{e}");
        // Members that have no history yet (a first start of all nodes at
        // once) do not stop the bootstrap, nor do silent ones.
        let answers = vec![
            ("b:4567".to_string(), Ok(None)),
            ("c:4567".to_string(), Err("unreachable".to_string())),
        ];
        assert_eq!(
            plan(None, false, true, &answers, "legacy", fresh),
            Ok(Plan::Bootstrap {
                uuid: "new-uuid".into()
            })
        );
        assert_eq!(
            plan(None, false, false, &answers, "legacy", fresh),
            Ok(Plan::Join)
        );
    }

    #[test]
    fn a_node_that_diverged_does_not_start() {
        let st = State {
            cluster_uuid: Some("u1".into()),
            diverged_at: Some(42),
            diverged_reason: Some("table d.t missing".into()),
            ..State::default()
        };
        let e = plan(Some(&st), true, false, &[], "legacy", fresh).unwrap_err();
        assert!(e.contains("seqno 42") && e.contains("d.t missing"), "{e}");
    }

    #[test]
    fn the_state_file_round_trips_and_is_replaced_whole() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(State::load(d.path()).unwrap(), None);
        assert!(!has_data(d.path()));
        let st = State {
            version: 1,
            cluster_uuid: Some("u1".into()),
            seqno: 7,
            safe_to_bootstrap: true,
            diverged_at: None,
            diverged_reason: None,
        };
        st.save(d.path()).unwrap();
        assert_eq!(State::load(d.path()).unwrap(), Some(st.clone()));
        assert!(has_data(d.path()));
        assert!(!d.path().join(format!("{FILE}.tmp")).exists());
        std::fs::write(State::path(d.path()), "seqno = \"x\"").unwrap();
        assert!(State::load(d.path()).is_err());
    }
}
