//! Streaming state transfer (SST) for lsm members.
//!
//! gcs hands a joiner the raft snapshot. For an lsm leader with a backup
//! listener (`[storage] backup_listen`) that snapshot is no longer a full
//! image of the data but a small [`Descriptor`]: the seqno `S` it was taken
//! at, the certification index and low-water map at `S`, and the address of
//! the leader's listener. The joiner then:
//!
//! 1. picks donors ([`donor_order`]: `[storage] sst_donor` first, with
//!    Galera's `wsrep_sst_donor` meaning, never itself);
//! 2. asks one for a copy of its engine at `S' >= S` (the donor waits until
//!    it has applied `S`) and writes the stream straight into its own engine
//!    (`trireme_storage::lsm::export`, under the `transfer` marker, with a
//!    recovery point at `S`);
//! 3. resumes exactly as a restart from disk does (`Replicator::resume`):
//!    the certification index at `S`, log events `S+1..=S'` certified only
//!    (their rows are in the copy), events above `S'` applied.
//!
//! A joiner killed mid-transfer finds the `transfer` marker at its next
//! start, empties its engine, and gets the descriptor again from gcs.
//! The pure parts (descriptor codec, donor order, pacing) are tested here;
//! the transfer itself in `node/tests/lsm_sst.rs`.

use std::io::{BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use trireme_storage::lsm::export::{ImportOptions, Imported, Importer};
use trireme_storage::lsm::recovery::RecoveryPoint;
use trireme_storage::lsm::LsmEngine;

use crate::backup::proto;

const MAGIC: &[u8; 3] = b"TSD";
const VERSION: u8 = 2;

/// What the raft snapshot of an lsm leader holds instead of an image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    /// The recovery point at `S`: seqno, certification index, low-water map.
    pub point: RecoveryPoint,
    /// The backup listener of the member that built it.
    pub donor: String,
    /// Every member that builder had heard of: its name and listener (the
    /// joiner resolves `[storage] sst_donor` names with it: it has not
    /// heard the members' announcements itself when the snapshot comes).
    pub members: Vec<(String, Option<String>)>,
}

impl Descriptor {
    pub fn encode(&self) -> anyhow::Result<Vec<u8>> {
        trireme_storage::codec::encode(MAGIC, VERSION, self)
            .map_err(|e| anyhow::anyhow!("encoding the SST descriptor: {e}"))
    }

    /// `None` when `bytes` is not a descriptor (a full image); `Some(Err)`
    /// for a descriptor that does not decode.
    pub fn decode(bytes: &[u8]) -> Option<anyhow::Result<Descriptor>> {
        if bytes.get(..3) != Some(&MAGIC[..]) {
            return None;
        }
        Some(
            trireme_storage::codec::decode(MAGIC, VERSION, "SST descriptor", bytes)
                .map_err(|e| anyhow::anyhow!("{e}")),
        )
    }
}

/// The donors to ask, in order. `preferred` is `[storage] sst_donor`, as
/// Galera's `wsrep_sst_donor`: comma-separated member names (resolved to
/// the listener each member announced, see `crate::members`) or listener
/// addresses; with a trailing comma, others may be asked after them;
/// without one, only the listed ones. The others are the descriptor's
/// donor (the member that built the snapshot), then every other member
/// that announced a listener, in `members` order. `members` holds each
/// member's name and announced listener; `own` (this node's listener) is
/// never asked. A listed name no member has (or whose listener is not
/// known yet) is skipped.
pub fn donor_order(
    preferred: &str,
    descriptor_donor: &str,
    own: Option<&str>,
    members: &[(String, Option<String>)],
) -> Vec<String> {
    let trimmed = preferred.trim();
    let listed: Vec<&str> = trimmed
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let others_allowed = listed.is_empty() || trimmed.ends_with(',');
    let resolve = |entry: &str| -> Option<String> {
        match members.iter().find(|(name, _)| name == entry) {
            Some((_, addr)) => addr.clone(),
            None if entry.contains(':') => Some(entry.to_string()),
            None => None,
        }
    };
    let others = std::iter::once(Some(descriptor_donor.to_string()))
        .chain(members.iter().map(|(_, a)| a.clone()))
        .flatten();
    let mut out: Vec<String> = Vec::new();
    let candidates = listed
        .into_iter()
        .filter_map(resolve)
        .chain(others.filter(|_| others_allowed));
    for d in candidates {
        if Some(d.as_str()) != own && !d.is_empty() && !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

/// Pacing of a donor's stream (`[storage] transfer_max_rate`, bytes/s,
/// 0 = unlimited): how long to wait before sending more, given what has
/// been sent and how long it has been. Pure: the caller sleeps.
#[derive(Clone, Copy, Debug)]
pub struct Pacer {
    pub rate: u64,
}

impl Pacer {
    pub fn delay(&self, sent: u64, elapsed: Duration) -> Duration {
        if self.rate == 0 {
            return Duration::ZERO;
        }
        let due = Duration::from_secs_f64(sent as f64 / self.rate as f64);
        due.saturating_sub(elapsed)
    }
}

/// Counters and the current phase, for SHOW STATUS.
#[derive(Default)]
pub struct SstStats {
    pub donations: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub bytes_received: AtomicU64,
    /// "Joiner" / "Donor" while a transfer runs, with its bytes counter.
    phase: Mutex<Option<(&'static str, Arc<AtomicU64>)>>,
    donating: AtomicU64,
    /// Where this node serves backups and state transfers (the address
    /// joiners are told), when it does.
    pub address: Mutex<Option<String>>,
}

impl SstStats {
    /// `wsrep_local_state_comment` while a transfer runs.
    pub fn comment(&self) -> Option<String> {
        let p = self.phase.lock();
        let (what, bytes) = p.as_ref()?;
        let n = bytes.load(Ordering::Relaxed);
        Some(format!("{what}: {:.1} MiB", n as f64 / (1 << 20) as f64))
    }

    /// Marks a donation as running until the returned guard drops.
    pub fn donating(self: &Arc<Self>) -> (Arc<AtomicU64>, PhaseGuard) {
        let bytes = Arc::new(AtomicU64::new(0));
        self.donating.fetch_add(1, Ordering::AcqRel);
        *self.phase.lock() = Some(("Donor", bytes.clone()));
        (
            bytes,
            PhaseGuard {
                stats: self.clone(),
                donor: true,
            },
        )
    }

    fn joining(self: &Arc<Self>) -> (Arc<AtomicU64>, PhaseGuard) {
        let bytes = Arc::new(AtomicU64::new(0));
        *self.phase.lock() = Some(("Joiner", bytes.clone()));
        (
            bytes,
            PhaseGuard {
                stats: self.clone(),
                donor: false,
            },
        )
    }
}

/// Clears the phase when a transfer ends, however it ends.
pub struct PhaseGuard {
    stats: Arc<SstStats>,
    donor: bool,
}

impl Drop for PhaseGuard {
    fn drop(&mut self) {
        if self.donor && self.stats.donating.fetch_sub(1, Ordering::AcqRel) > 1 {
            return;
        }
        *self.stats.phase.lock() = None;
    }
}

/// Counts bytes into the node's counters as they are read.
struct Counting<R> {
    inner: R,
    total: Arc<AtomicU64>,
    stats: Arc<SstStats>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.total.fetch_add(n as u64, Ordering::Relaxed);
        self.stats
            .bytes_received
            .fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Pulls a copy at `S' >= point.seqno` from the first donor that serves
/// one, into `engine` (emptied first). Blocking.
pub fn receive(
    donors: &[String],
    point: &RecoveryPoint,
    engine: &Arc<LsmEngine>,
    password: &str,
    stats: &Arc<SstStats>,
) -> anyhow::Result<Imported> {
    if donors.is_empty() {
        anyhow::bail!(
            "no donor to ask: the snapshot names no backup listener other than this node's, and [storage] sst_donor lists none"
        );
    }
    let (total, _phase) = stats.joining();
    // The engine is marked incomplete before any donor is asked, so a
    // joiner killed at any point after deciding to transfer empties its
    // engine at the next start rather than trusting a partial copy.
    let importer = Importer::begin(
        engine,
        ImportOptions {
            rebase: false,
            point: Some(point.clone()),
        },
    )
    .map_err(|e| anyhow::anyhow!("SST: preparing the engine: {e}"))?;
    let mut errors = Vec::new();
    for d in donors {
        tracing::info!(donor = %d, seqno = point.seqno, "SST: asking for a copy of the engine");
        let stream = match crate::backup::client::request(
            d,
            password,
            proto::Kind::Sst,
            point.seqno,
            Duration::from_secs(120),
        ) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(donor = %d, error = %format!("{e:#}"), "SST: donor not usable");
                errors.push(format!("{d}: {e:#}"));
                continue;
            }
        };
        let mut input = Counting {
            inner: BufReader::with_capacity(256 << 10, stream),
            total: total.clone(),
            stats: stats.clone(),
        };
        // A stream that breaks is not retried from another donor here: the
        // engine is marked incomplete and the node exits; its restart
        // empties the engine and asks again.
        let got = importer
            .read_all(&mut input)
            .map_err(|e| anyhow::anyhow!("SST from {d}: {e}"))?;
        tracing::info!(donor = %d, seqno = point.seqno, copy_seqno = got.source_horizon, rows = got.rows, bytes = total.load(Ordering::Relaxed), "SST: copy received");
        return Ok(got);
    }
    anyhow::bail!("no donor served a copy: {}", errors.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn donors_follow_wsrep_sst_donor() {
        let l = "10.0.0.1:4444";
        let none: &[(String, Option<String>)] = &[];
        // Nothing preferred: the snapshot's donor.
        assert_eq!(donor_order("", l, None, none), vec![l.to_string()]);
        // A list without a trailing comma: only those.
        assert_eq!(
            donor_order("a:1, b:2", l, None, none),
            vec!["a:1".to_string(), "b:2".to_string()]
        );
        // A trailing comma: the listed ones, then others.
        assert_eq!(
            donor_order("a:1,", l, None, none),
            vec!["a:1".to_string(), l.to_string()]
        );
        // Never itself, never twice.
        assert_eq!(
            donor_order("a:1,a:1,", "a:1", Some("x:9"), none),
            vec!["a:1"]
        );
        assert_eq!(
            donor_order("me:1,", "me:1", Some("me:1"), none),
            Vec::<String>::new()
        );
        assert_eq!(donor_order("me:1,b:2", l, Some("me:1"), none), vec!["b:2"]);
    }

    #[test]
    fn donors_are_named_as_galera_names_them() {
        let members = vec![
            ("node1".to_string(), Some("10.0.0.1:4444".to_string())),
            ("node2".to_string(), Some("10.0.0.2:4444".to_string())),
            ("node3".to_string(), Some("10.0.0.3:4444".to_string())),
            ("node4".to_string(), None),
        ];
        let leader = "10.0.0.1:4444";
        let own = Some("10.0.0.3:4444");
        // A name resolves to the listener its member announced.
        assert_eq!(
            donor_order("node2", leader, own, &members),
            vec!["10.0.0.2:4444"]
        );
        // Nothing preferred: the leader's, then every other member's.
        assert_eq!(
            donor_order("", leader, own, &members),
            vec!["10.0.0.1:4444", "10.0.0.2:4444"]
        );
        // A name not announced (or unknown) is skipped; with a trailing
        // comma the others follow.
        assert_eq!(
            donor_order("node4,nobody,", leader, own, &members),
            vec!["10.0.0.1:4444", "10.0.0.2:4444"]
        );
        assert_eq!(
            donor_order("node4", leader, own, &members),
            Vec::<String>::new()
        );
        // Names and addresses mix; never itself.
        assert_eq!(
            donor_order("node3, 10.9.9.9:1,node2,", leader, own, &members),
            vec!["10.9.9.9:1", "10.0.0.2:4444", "10.0.0.1:4444"]
        );
    }

    #[test]
    fn pacing_holds_the_stream_to_the_rate() {
        let unlimited = Pacer { rate: 0 };
        assert_eq!(unlimited.delay(1 << 30, Duration::ZERO), Duration::ZERO);
        let p = Pacer { rate: 1 << 20 };
        // 2 MiB at 1 MiB/s are due at 2 s: after 0.5 s, wait 1.5 s.
        assert_eq!(
            p.delay(2 << 20, Duration::from_millis(500)),
            Duration::from_millis(1500)
        );
        // Behind schedule: no wait.
        assert_eq!(p.delay(1 << 20, Duration::from_secs(3)), Duration::ZERO);
    }

    #[test]
    fn descriptors_round_trip_and_images_are_not_descriptors() {
        let d = Descriptor {
            point: RecoveryPoint {
                seqno: 9,
                state_uuid: "u".into(),
                cert: vec![1, 2],
                low_water: vec![(1, 9)],
            },
            donor: "127.0.0.1:1".into(),
            members: vec![("node2".into(), Some("127.0.0.1:2".into()))],
        };
        let b = d.encode().unwrap();
        assert_eq!(Descriptor::decode(&b).unwrap().unwrap(), d);
        assert!(Descriptor::decode(b"TCK\x03whatever").is_none());
        assert!(Descriptor::decode(b"TSD\x09").unwrap().is_err());
    }

    #[test]
    fn the_phase_shows_while_a_transfer_runs() {
        let s = Arc::new(SstStats::default());
        assert_eq!(s.comment(), None);
        let (bytes, g) = s.donating();
        bytes.store(3 << 20, Ordering::Relaxed);
        assert_eq!(s.comment().as_deref(), Some("Donor: 3.0 MiB"));
        drop(g);
        assert_eq!(s.comment(), None);
    }
}
