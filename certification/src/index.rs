//! The certification index and the certification decision.
//!
//! # What it holds
//!
//! For every key `(table, pk)` that some passed write-set recorded and that
//! purge has not dropped yet, the index keeps four seqnos: the newest
//! write-set that recorded the key as SHARED, as REFERENCE, as UPDATE and as
//! EXCLUSIVE (0 = never). Because seqnos only grow, the newest per kind is
//! all the certification rule ever needs: an older entry can neither
//! conflict (it is older than the newest one, which already did not) nor
//! raise a dependency above it. Beside the keys it keeps, per table, the
//! seqno of the newest TOI event on it; `last_barrier`, the newest TOI or
//! PA-unsafe event; `horizon`, the purge horizon; and `position`, the seqno
//! of the last ordered event fed in.
//!
//! # The rule (`certify(ws, s)`, with `ls = ws.last_seen_seqno`)
//!
//! Checked in this order; the first failing check gives the reason:
//!
//! 1. `ls >= s`: [`FailReason::FutureSnapshot`] (nobody can have seen
//!    itself).
//! 2. `ls < horizon`: [`FailReason::BelowHorizon`] (entries it might
//!    conflict with are gone).
//! 3. some table the write-set touches (keys or row operations) had a TOI
//!    event at `t > ls`: [`FailReason::Barrier`] with the newest such `t`.
//!    Names are hierarchical (Galera's database / table / row keys): a TOI
//!    on `d` (a database) is a TOI on every table `d.t`, so `DROP DATABASE`
//!    needs no list of the tables it drops, which a node's catalog might
//!    not know yet.
//! 4. for the keys in order, the first key `i` for which some index entry
//!    of the same `(table, pk)`, recorded with kind `f`, has
//!    `KeyKind::check(f, key.kind) == Conflict` and seqno `> ls`:
//!    [`FailReason::Conflict`] `{ key: i, with }`, `with` being the newest
//!    such seqno for that key. The source node does not matter: a
//!    write-set conflicts with its own node's unseen writes too
//!    (first-committer-wins snapshot isolation, stricter than Galera).
//!
//! Otherwise it passes with
//!
//! ```text
//! depends_seqno = s - 1                                   if PA-unsafe
//!               = max( horizon,
//!                      last_barrier,                      (TOI / PA-unsafe events are barriers)
//!                      ls                                 (only if !optimistic_pa)
//!                      every entry seqno of the same (table, pk) whose
//!                      check(found, new) is Dependency or Conflict )
//! ```
//!
//! and its keys are recorded at `s`. A failed write-set changes nothing but
//! the position and the failure counters. `depends_seqno` is floored at the
//! horizon so that dropping entries can never let a write-set be applied
//! before something it depended on (Galera floors it at the oldest
//! unpurged write-set minus one for the same reason); when the horizon
//! follows the cluster's applied horizon, this floor costs nothing.
//!
//! # Invariants
//!
//! * **Determinism.** The index is a function of the sequence of calls
//!   (`certify`, `certify_toi`, `skip`, `purge`) and their arguments only.
//!   Two nodes that fed the same ordered prefix give the same verdicts and
//!   produce byte-identical [`CertSnapshot`]s; the hash seed, the memory
//!   layout and the history of purges that did not change the logical
//!   content do not show.
//! * `horizon <= position`; every live seqno is in `(horizon, position]`
//!   (older ones may linger in memory but can no longer change any
//!   outcome, and snapshots omit them).
//! * `depends_seqno < s`, and `depends_seqno >= horizon`, `>= last_barrier`.
//! * A restored snapshot certifies every later event exactly as the index
//!   it was taken from.
//!
//! # Worked example
//!
//! Two nodes both read at seqno 10 and update row `t/1`:
//!
//! ```text
//! seqno  event                                   verdict
//! 11     ws A  ls=10  t/1:ex  t:sh               pass, depends 0   (nothing before touched t)
//! 12     ws B  ls=10  t/1:ex  t:sh               fail conflict key 0 with 11 (A is unseen by B)
//! 13     ws C  ls=11  t/1:ex  t:sh               pass, depends 11  (saw A; must apply after it)
//! 14     ws D  ls=11  t/2:ex  t:sh               pass, depends 0   (t:sh vs t:sh never interacts)
//! 15     TOI on t                                pass, depends 14  (DDL waits for everything)
//! 16     ws E  ls=14  t/3:ex  t:sh               fail barrier 15   (read t before the DDL)
//! 17     ws F  ls=15  u/1:ex  u:sh               pass, depends 15  (everything after a TOI waits for it)
//! purge(13): horizon 13, drops A's and C's entries for t/1
//! 18     ws G  ls=12  ...                        fail below horizon 13
//! ```
//!
//! (`tests/scenarios/worked_example.txt` replays exactly this.)
//!
//! # Why a plain hash table behind `&mut self`, not `dashmap`
//!
//! Certification is sequential by definition: event `s + 1` is decided
//! against the index as left by event `s`. One task owns the index, so a
//! concurrent map buys nothing and costs a shard lock and a second hash per
//! access. The index is a `hashbrown::HashTable` of entries carrying their
//! own hash: each key is hashed once per certification, looked up once to
//! decide and once to record, and short primary keys (up to 22 bytes, i.e.
//! every integer or UUID key) live inline in the entry, so a lookup costs
//! one cache miss rather than two. Readers on other threads (status
//! variables) should read a copy of [`CertStats`] published by the owner.
//!
//! Memory: about 72 bytes per live entry (plus the pk if longer than 22
//! bytes) and 16 bytes per recorded key until purge reaches its seqno.

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};

use foldhash::fast::FixedState;
use hashbrown::hash_table::Entry as TableEntry;
use hashbrown::{HashMap, HashTable};
use serde::{Deserialize, Serialize};

use crate::writeset::{Check, KeyKind, WriteSet};
use crate::Seqno;

/// Per-node certification settings. None of them changes a verdict, so they
/// may differ between nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CertConfig {
    /// Galera's `cert.optimistic_pa` (default true): when false,
    /// `depends_seqno` is never below the write-set's `last_seen_seqno`, i.e.
    /// a write-set is applied only after everything its origin had applied
    /// when it took its snapshot. Key dependencies already order everything
    /// the write-set touches, so the default lets disjoint write-sets apply
    /// in parallel.
    pub optimistic_pa: bool,
    /// Seed of the index's hash function. Any value certifies identically;
    /// set a secret per-node value if clients could choose primary keys to
    /// collide under the default seed.
    pub hash_seed: u64,
}

impl Default for CertConfig {
    fn default() -> Self {
        CertConfig {
            optimistic_pa: true,
            hash_seed: 0x7472_6972_656d_6531, // "trireme1"
        }
    }
}

/// The outcome of certifying one ordered event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Commit it: apply once every event `<= depends_seqno` is applied
    /// (0: depends on nothing).
    Pass {
        /// Newest seqno that must be applied first.
        depends_seqno: Seqno,
    },
    /// Abort it (MySQL error 1213 on the originating node); nothing was
    /// recorded.
    Fail(FailReason),
}

impl Verdict {
    /// True for [`Verdict::Pass`].
    pub fn is_pass(&self) -> bool {
        matches!(self, Verdict::Pass { .. })
    }

    /// The dependency of a passed event, `None` for a failure.
    pub fn depends_seqno(&self) -> Option<Seqno> {
        match self {
            Verdict::Pass { depends_seqno } => Some(*depends_seqno),
            Verdict::Fail(_) => None,
        }
    }
}

/// Why a write-set failed certification. See the module docs for the order
/// in which the reasons are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailReason {
    /// `ws.keys[key]` conflicts with an entry recorded at `with`, newer than
    /// the write-set's snapshot (the newest such entry for that key).
    Conflict {
        /// Index into `ws.keys` of the first conflicting key.
        key: usize,
        /// Seqno of the newest conflicting write-set.
        with: Seqno,
    },
    /// A TOI (DDL) event at `toi` on one of the write-set's tables is newer
    /// than its snapshot.
    Barrier {
        /// Newest such TOI seqno.
        toi: Seqno,
    },
    /// The snapshot is older than the purge horizon.
    BelowHorizon {
        /// The horizon at the time.
        horizon: Seqno,
    },
    /// `last_seen_seqno >= seqno`: a malformed write-set.
    FutureSnapshot {
        /// The write-set's `last_seen_seqno`.
        last_seen: Seqno,
    },
}

/// The category of a [`FailReason`], for counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailKind {
    /// [`FailReason::Conflict`].
    Conflict,
    /// [`FailReason::Barrier`].
    Barrier,
    /// [`FailReason::BelowHorizon`].
    BelowHorizon,
    /// [`FailReason::FutureSnapshot`].
    FutureSnapshot,
}

impl FailReason {
    /// The reason's category.
    pub fn kind(&self) -> FailKind {
        match self {
            FailReason::Conflict { .. } => FailKind::Conflict,
            FailReason::Barrier { .. } => FailKind::Barrier,
            FailReason::BelowHorizon { .. } => FailKind::BelowHorizon,
            FailReason::FutureSnapshot { .. } => FailKind::FutureSnapshot,
        }
    }
}

/// Failure counters by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FailureCounts {
    /// Key conflicts.
    pub conflict: u64,
    /// TOI barriers.
    pub barrier: u64,
    /// Snapshots below the purge horizon.
    pub below_horizon: u64,
    /// Malformed snapshots (`last_seen_seqno >= seqno`).
    pub future_snapshot: u64,
}

impl FailureCounts {
    /// Sum of all counters (Galera's `wsrep_local_cert_failures` counts the
    /// local share of this).
    pub fn total(&self) -> u64 {
        self.conflict + self.barrier + self.below_horizon + self.future_snapshot
    }

    fn bump(&mut self, kind: FailKind) {
        match kind {
            FailKind::Conflict => self.conflict += 1,
            FailKind::Barrier => self.barrier += 1,
            FailKind::BelowHorizon => self.below_horizon += 1,
            FailKind::FutureSnapshot => self.future_snapshot += 1,
        }
    }
}

/// Certification statistics. Counters cover the time since creation or the
/// last [`Certifier::reset_stats`]; `position`, `horizon` and `index_size`
/// are current values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CertStats {
    /// Seqno of the last ordered event fed in.
    pub position: Seqno,
    /// Purge horizon.
    pub horizon: Seqno,
    /// Number of `(table, pk)` entries (`wsrep_cert_index_size`).
    pub index_size: usize,
    /// Write-sets that passed.
    pub passes: u64,
    /// Write-sets that failed, by reason.
    pub failures: FailureCounts,
    /// TOI events certified.
    pub toi_events: u64,
    /// Sum of `seqno - depends_seqno` over passed write-sets.
    pub deps_distance_sum: u64,
    /// Sum of `seqno - last_seen_seqno - 1` over passed write-sets.
    pub cert_interval_sum: u64,
}

impl CertStats {
    /// Average `seqno - depends_seqno` over passed write-sets
    /// (`wsrep_cert_deps_distance`): how many write-sets could be applied
    /// in parallel, on average. 0 when nothing passed.
    pub fn deps_distance(&self) -> f64 {
        if self.passes == 0 {
            0.0
        } else {
            self.deps_distance_sum as f64 / self.passes as f64
        }
    }

    /// Average number of events between a passed write-set's snapshot and
    /// its seqno (`wsrep_cert_interval`).
    pub fn cert_interval(&self) -> f64 {
        if self.passes == 0 {
            0.0
        } else {
            self.cert_interval_sum as f64 / self.passes as f64
        }
    }
}

/// Why a snapshot cannot be restored. The snapshot decoded but does not
/// describe a state an index can be in: it is corrupt or was forged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    /// `horizon > position`.
    #[error("snapshot horizon {horizon} is after its position {position}")]
    HorizonAfterPosition {
        /// The horizon.
        horizon: Seqno,
        /// The position.
        position: Seqno,
    },
    /// A live seqno outside `(horizon, position]`.
    #[error("snapshot seqno {seqno} is outside ({horizon}, {position}]")]
    SeqnoOutOfRange {
        /// The offending seqno.
        seqno: Seqno,
        /// The horizon.
        horizon: Seqno,
        /// The position.
        position: Seqno,
    },
    /// The snapshot is not in canonical form (unsorted, duplicated or empty
    /// entries).
    #[error("snapshot is not canonical: {0}")]
    NotCanonical(&'static str),
}

/// A serializable image of the whole index, for checkpoints and state
/// transfer. Canonical: indexes that certify alike give equal snapshots
/// (and, through [`crate::codec::encode_snapshot`], equal bytes), so
/// snapshots can also be compared across nodes to detect divergence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertSnapshot {
    position: Seqno,
    horizon: Seqno,
    last_barrier: Seqno,
    /// Sorted by name; only tables with live keys or a live TOI.
    tables: Vec<TableSnapshot>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct TableSnapshot {
    name: String,
    /// Newest TOI on the table if live, else 0.
    toi: Seqno,
    /// Sorted by pk.
    keys: Vec<KeySnapshot>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct KeySnapshot {
    #[serde(with = "crate::codec::bytes")]
    pk: Vec<u8>,
    /// Newest seqno per kind if live, else 0.
    seqnos: [Seqno; 4],
}

impl CertSnapshot {
    /// Seqno of the last ordered event the snapshot includes; the restored
    /// index expects events after it.
    pub fn position(&self) -> Seqno {
        self.position
    }

    /// Purge horizon at the snapshot.
    pub fn horizon(&self) -> Seqno {
        self.horizon
    }

    /// Number of `(table, pk)` entries.
    pub fn key_count(&self) -> usize {
        self.tables.iter().map(|t| t.keys.len()).sum()
    }
}

/// Sentinel table id: "table not interned yet".
const NO_TABLE: u32 = u32::MAX;

/// Primary-key bytes, inline when short.
#[derive(Clone, Debug)]
enum Pk {
    Inline { len: u8, buf: [u8; Pk::INLINE] },
    Heap(Box<[u8]>),
}

impl Pk {
    const INLINE: usize = 22;

    fn new(bytes: &[u8]) -> Pk {
        if bytes.len() <= Pk::INLINE {
            let mut buf = [0u8; Pk::INLINE];
            buf[..bytes.len()].copy_from_slice(bytes);
            Pk::Inline {
                len: bytes.len() as u8,
                buf,
            }
        } else {
            Pk::Heap(bytes.into())
        }
    }

    #[inline]
    fn as_slice(&self) -> &[u8] {
        match self {
            Pk::Inline { len, buf } => &buf[..*len as usize],
            Pk::Heap(b) => b,
        }
    }
}

/// One `(table, pk)` entry.
#[derive(Clone, Debug)]
struct Entry {
    hash: u64,
    /// Newest seqno per [`KeyKind`] index; 0 = none.
    seqnos: [Seqno; 4],
    table: u32,
    pk: Pk,
}

impl Entry {
    #[inline]
    fn newest(&self) -> Seqno {
        self.seqnos.iter().copied().max().unwrap_or(0)
    }
}

/// Per-key lookup result kept between the decide and record passes.
#[derive(Clone, Copy)]
struct Probe {
    hash: u64,
    table: u32,
}

#[inline]
fn key_hash(hasher: &FixedState, table: u32, pk: &[u8]) -> u64 {
    let mut h = hasher.build_hasher();
    h.write_u32(table);
    h.write(pk);
    h.finish()
}

/// The certification index. Feed it every ordered event, in seqno order,
/// from one task; see the module docs for the rule and its invariants.
#[derive(Clone)]
pub struct Certifier {
    config: CertConfig,
    hasher: FixedState,
    /// Interned table names: name -> id, id -> name, id -> newest TOI.
    table_ids: HashMap<Box<str>, u32, FixedState>,
    table_names: Vec<Box<str>>,
    table_toi: Vec<Seqno>,
    /// Newest TOI seqno on any table (0: none), to skip the barrier check.
    max_toi: Seqno,
    entries: HashTable<Entry>,
    /// `(seqno, key hash)` for every key recorded, in seqno order: purge
    /// walks it from the front. An entry is dropped when the record of its
    /// newest seqno is purged.
    log: VecDeque<(Seqno, u64)>,
    position: Seqno,
    horizon: Seqno,
    last_barrier: Seqno,
    stats: CertStats,
    probes: Vec<Probe>,
}

impl std::fmt::Debug for Certifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certifier")
            .field("position", &self.position)
            .field("horizon", &self.horizon)
            .field("last_barrier", &self.last_barrier)
            .field("index_size", &self.entries.len())
            .field("tables", &self.table_names.len())
            .finish_non_exhaustive()
    }
}

impl Default for Certifier {
    fn default() -> Self {
        Certifier::new(CertConfig::default())
    }
}

impl Certifier {
    /// An empty index at position 0: the first event is seqno 1 or later.
    pub fn new(config: CertConfig) -> Certifier {
        Certifier::starting_at(config, 0)
    }

    /// An empty index for a node that starts certifying after `position`
    /// without knowing the history before it (Galera's "initial
    /// position"): the horizon is `position`, so write-sets whose snapshot
    /// predates it fail with [`FailReason::BelowHorizon`]. Prefer
    /// [`Certifier::restore`] from the donor's snapshot, which certifies
    /// like the donor.
    pub fn starting_at(config: CertConfig, position: Seqno) -> Certifier {
        let hasher = FixedState::with_seed(config.hash_seed);
        Certifier {
            config,
            table_ids: HashMap::with_hasher(hasher.clone()),
            hasher,
            table_names: Vec::new(),
            table_toi: Vec::new(),
            max_toi: 0,
            entries: HashTable::new(),
            log: VecDeque::new(),
            position,
            horizon: position,
            last_barrier: 0,
            stats: CertStats {
                position,
                horizon: position,
                ..CertStats::default()
            },
            probes: Vec::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> CertConfig {
        self.config
    }

    /// Seqno of the last ordered event fed in.
    pub fn position(&self) -> Seqno {
        self.position
    }

    /// The purge horizon: write-sets with `last_seen_seqno` below it fail.
    pub fn horizon(&self) -> Seqno {
        self.horizon
    }

    /// Number of `(table, pk)` entries.
    pub fn index_size(&self) -> usize {
        self.entries.len()
    }

    /// Newest seqno per kind (indexed by [`KeyKind::index`], 0 = none)
    /// recorded for `(table, pk)`, if the key is in the index. Seqnos at or
    /// below the horizon may show here; they no longer matter.
    pub fn lookup(&self, table: &str, pk: &[u8]) -> Option<[Seqno; 4]> {
        let tid = *self.table_ids.get(table)?;
        let h = key_hash(&self.hasher, tid, pk);
        self.entries
            .find(h, |e| {
                e.hash == h && e.table == tid && e.pk.as_slice() == pk
            })
            .map(|e| e.seqnos)
    }

    /// Statistics, see [`CertStats`].
    pub fn stats(&self) -> CertStats {
        CertStats {
            position: self.position,
            horizon: self.horizon,
            index_size: self.entries.len(),
            ..self.stats
        }
    }

    /// Zeroes the counters of [`CertStats`] (like `FLUSH STATUS`).
    pub fn reset_stats(&mut self) {
        self.stats = CertStats::default();
    }

    fn advance(&mut self, seqno: Seqno, what: &str) {
        assert!(
            seqno > self.position,
            "{what}: ordered events must be fed in increasing seqno order, \
             got seqno {seqno} at position {}",
            self.position
        );
        self.position = seqno;
    }

    /// Certifies write-set `ws` delivered at `seqno` and, if it passes,
    /// records its keys at `seqno`.
    ///
    /// Seqnos must increase from call to call (across `certify`,
    /// `certify_toi` and `skip`); a gap is the same as a [`Certifier::skip`]
    /// of each missing seqno.
    ///
    /// # Panics
    ///
    /// If `seqno <= self.position()`: feeding an event twice or out of order
    /// is a bug in the caller, and going on would make this node diverge.
    pub fn certify(&mut self, ws: &WriteSet, seqno: Seqno) -> Verdict {
        self.advance(seqno, "certify");
        let verdict = self.decide(ws, seqno);
        match verdict {
            Verdict::Pass { depends_seqno } => {
                self.record(ws, seqno);
                if ws.is_pa_unsafe() {
                    self.last_barrier = seqno;
                }
                self.stats.passes += 1;
                self.stats.deps_distance_sum += seqno - depends_seqno;
                self.stats.cert_interval_sum += seqno - ws.last_seen_seqno - 1;
            }
            Verdict::Fail(reason) => self.stats.failures.bump(reason.kind()),
        }
        verdict
    }

    /// Certifies a TOI (DDL) event on `tables` at `seqno`. It always passes
    /// with `depends_seqno = seqno - 1` (DDL runs alone, after everything
    /// before it). Afterwards, write-sets touching one of `tables` whose
    /// snapshot predates `seqno` fail with [`FailReason::Barrier`], and every
    /// later event depends on it. An empty `tables` (e.g. `CREATE USER`) is
    /// a barrier for ordering only.
    ///
    /// # Panics
    ///
    /// As [`Certifier::certify`].
    pub fn certify_toi<S: AsRef<str>>(&mut self, tables: &[S], seqno: Seqno) -> Verdict {
        self.advance(seqno, "certify_toi");
        for t in tables {
            let id = self.intern(t.as_ref());
            self.table_toi[id as usize] = seqno;
            self.max_toi = seqno;
        }
        self.last_barrier = seqno;
        self.stats.toi_events += 1;
        Verdict::Pass {
            depends_seqno: seqno - 1,
        }
    }

    /// Moves the position to `seqno` for an ordered event that is neither a
    /// write-set nor TOI (view change, purge event, ...). Optional — gaps
    /// are allowed — but it keeps [`Certifier::position`] exact.
    ///
    /// # Panics
    ///
    /// As [`Certifier::certify`].
    pub fn skip(&mut self, seqno: Seqno) {
        self.advance(seqno, "skip");
    }

    /// Drops every entry whose newest seqno is `<= upto` and raises the
    /// horizon to `upto` (clamped to the position; a lower `upto` than the
    /// current horizon is a no-op). Returns the number of entries dropped.
    ///
    /// Call it at the same point of the ordered stream on every node (it is
    /// part of the replicated state). Cost: proportional to the number of
    /// keys recorded in `(old horizon, upto]`.
    pub fn purge(&mut self, upto: Seqno) -> usize {
        let upto = upto.min(self.position);
        if upto <= self.horizon {
            return 0;
        }
        self.horizon = upto;
        let mut dropped = 0;
        while let Some(&(seqno, h)) = self.log.front() {
            if seqno > upto {
                break;
            }
            self.log.pop_front();
            // Every entry with this hash whose newest seqno is purged goes:
            // that is exactly the set purge must drop, whichever log record
            // leads to it first.
            while let Ok(found) = self
                .entries
                .find_entry(h, |e| e.hash == h && e.newest() <= upto)
            {
                found.remove();
                dropped += 1;
            }
        }
        dropped
    }

    fn intern(&mut self, table: &str) -> u32 {
        if let Some(&id) = self.table_ids.get(table) {
            return id;
        }
        let id = u32::try_from(self.table_names.len())
            .ok()
            .filter(|&id| id != NO_TABLE)
            .expect("more than 4 billion distinct tables");
        self.table_ids.insert(table.into(), id);
        self.table_names.push(table.into());
        self.table_toi.push(0);
        id
    }

    /// Decides without changing the index; fills `self.probes` for
    /// `record` when it passes.
    fn decide(&mut self, ws: &WriteSet, seqno: Seqno) -> Verdict {
        let ls = ws.last_seen_seqno;
        if ls >= seqno {
            return Verdict::Fail(FailReason::FutureSnapshot { last_seen: ls });
        }
        if ls < self.horizon {
            return Verdict::Fail(FailReason::BelowHorizon {
                horizon: self.horizon,
            });
        }
        if self.max_toi > ls {
            let toi = self.newest_barrier(ws, ls);
            if toi > 0 {
                return Verdict::Fail(FailReason::Barrier { toi });
            }
        }

        let mut deps = self.horizon.max(self.last_barrier);
        if !self.config.optimistic_pa {
            deps = deps.max(ls);
        }
        self.probes.clear();
        let mut prev: Option<(&str, u32)> = None;
        for (i, key) in ws.keys.iter().enumerate() {
            let tid = match prev {
                Some((name, id)) if name == key.table => id,
                _ => {
                    let id = self
                        .table_ids
                        .get(key.table.as_str())
                        .copied()
                        .unwrap_or(NO_TABLE);
                    prev = Some((key.table.as_str(), id));
                    id
                }
            };
            if tid == NO_TABLE {
                // Table never seen: no entry can exist.
                self.probes.push(Probe {
                    hash: 0,
                    table: NO_TABLE,
                });
                continue;
            }
            let h = key_hash(&self.hasher, tid, &key.pk);
            self.probes.push(Probe {
                hash: h,
                table: tid,
            });
            let pk = key.pk.as_slice();
            let Some(e) = self.entries.find(h, |e| {
                e.hash == h && e.table == tid && e.pk.as_slice() == pk
            }) else {
                continue;
            };
            let mut conflict_with = 0;
            for found in KeyKind::ALL {
                let s = e.seqnos[found.index()];
                if s == 0 {
                    continue;
                }
                match KeyKind::check(found, key.kind) {
                    Check::Nothing => {}
                    Check::Dependency => deps = deps.max(s),
                    Check::Conflict => {
                        if s > ls {
                            conflict_with = conflict_with.max(s);
                        } else {
                            deps = deps.max(s);
                        }
                    }
                }
            }
            if conflict_with > 0 {
                return Verdict::Fail(FailReason::Conflict {
                    key: i,
                    with: conflict_with,
                });
            }
        }
        if ws.is_pa_unsafe() {
            deps = seqno - 1;
        }
        Verdict::Pass {
            depends_seqno: deps,
        }
    }

    /// Newest TOI seqno `> ls` among the tables `ws` touches, 0 if none.
    fn newest_barrier(&self, ws: &WriteSet, ls: Seqno) -> Seqno {
        let mut newest = 0;
        let mut prev: Option<&str> = None;
        let names = ws
            .keys
            .iter()
            .map(|k| k.table.as_str())
            .chain(ws.ops.iter().map(|o| o.table.as_str()));
        for name in names {
            if prev == Some(name) {
                continue;
            }
            prev = Some(name);
            // Names are hierarchical: a TOI on database `d` is a barrier for
            // every table `d.t`, whatever tables the issuing node knew of.
            let parent = name.split_once('.').map(|(db, _)| db);
            for n in std::iter::once(name).chain(parent) {
                if let Some(&id) = self.table_ids.get(n) {
                    let t = self.table_toi[id as usize];
                    if t > ls {
                        newest = newest.max(t);
                    }
                }
            }
        }
        newest
    }

    /// Records the keys of a write-set that passed at `seqno`, using the
    /// probes `decide` left.
    fn record(&mut self, ws: &WriteSet, seqno: Seqno) {
        let probes = std::mem::take(&mut self.probes);
        for (key, probe) in ws.keys.iter().zip(probes.iter()) {
            let (tid, h) = if probe.table == NO_TABLE {
                let tid = self.intern(&key.table);
                (tid, key_hash(&self.hasher, tid, &key.pk))
            } else {
                (probe.table, probe.hash)
            };
            let pk = key.pk.as_slice();
            let kind = key.kind.index();
            match self.entries.entry(
                h,
                |e| e.hash == h && e.table == tid && e.pk.as_slice() == pk,
                |e| e.hash,
            ) {
                TableEntry::Occupied(mut o) => o.get_mut().seqnos[kind] = seqno,
                TableEntry::Vacant(v) => {
                    let mut seqnos = [0; 4];
                    seqnos[kind] = seqno;
                    v.insert(Entry {
                        hash: h,
                        seqnos,
                        table: tid,
                        pk: Pk::new(pk),
                    });
                }
            }
            self.log.push_back((seqno, h));
        }
        self.probes = probes;
    }

    /// A canonical image of the index (see [`CertSnapshot`]). Cost: a copy
    /// of every entry plus a sort.
    pub fn snapshot(&self) -> CertSnapshot {
        let h = self.horizon;
        let live = |s: Seqno| if s > h { s } else { 0 };
        let mut keys: Vec<Vec<KeySnapshot>> = vec![Vec::new(); self.table_names.len()];
        for e in self.entries.iter() {
            let seqnos = e.seqnos.map(live);
            if seqnos.iter().all(|&s| s == 0) {
                continue;
            }
            keys[e.table as usize].push(KeySnapshot {
                pk: e.pk.as_slice().to_vec(),
                seqnos,
            });
        }
        let mut tables = Vec::new();
        for (id, mut keys) in keys.into_iter().enumerate() {
            let toi = live(self.table_toi[id]);
            if keys.is_empty() && toi == 0 {
                continue;
            }
            keys.sort_unstable_by(|a, b| a.pk.cmp(&b.pk));
            tables.push(TableSnapshot {
                name: self.table_names[id].to_string(),
                toi,
                keys,
            });
        }
        tables.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        CertSnapshot {
            position: self.position,
            horizon: self.horizon,
            last_barrier: live(self.last_barrier),
            tables,
        }
    }

    /// Rebuilds an index from a snapshot, checking that it describes a
    /// state an index can be in. The result certifies every later event
    /// exactly as the index the snapshot was taken from; statistics start
    /// at zero.
    pub fn restore(snapshot: &CertSnapshot, config: CertConfig) -> Result<Certifier, RestoreError> {
        let (position, horizon) = (snapshot.position, snapshot.horizon);
        if horizon > position {
            return Err(RestoreError::HorizonAfterPosition { horizon, position });
        }
        let in_range = |s: Seqno| -> Result<(), RestoreError> {
            if s != 0 && (s <= horizon || s > position) {
                Err(RestoreError::SeqnoOutOfRange {
                    seqno: s,
                    horizon,
                    position,
                })
            } else {
                Ok(())
            }
        };
        in_range(snapshot.last_barrier)?;

        let mut c = Certifier::starting_at(config, position);
        c.horizon = horizon;
        c.last_barrier = snapshot.last_barrier;
        let mut prev_name: Option<&str> = None;
        let mut log = Vec::with_capacity(snapshot.key_count());
        for t in &snapshot.tables {
            if prev_name.is_some_and(|p| p >= t.name.as_str()) {
                return Err(RestoreError::NotCanonical("tables not strictly sorted"));
            }
            prev_name = Some(&t.name);
            in_range(t.toi)?;
            if t.keys.is_empty() && t.toi == 0 {
                return Err(RestoreError::NotCanonical("table without keys or TOI"));
            }
            let tid = c.intern(&t.name);
            c.table_toi[tid as usize] = t.toi;
            c.max_toi = c.max_toi.max(t.toi);
            let mut prev_pk: Option<&[u8]> = None;
            for k in &t.keys {
                if prev_pk.is_some_and(|p| p >= k.pk.as_slice()) {
                    return Err(RestoreError::NotCanonical("keys not strictly sorted"));
                }
                prev_pk = Some(&k.pk);
                for &s in &k.seqnos {
                    in_range(s)?;
                }
                let newest = k.seqnos.iter().copied().max().unwrap_or(0);
                if newest == 0 {
                    return Err(RestoreError::NotCanonical("key without live seqno"));
                }
                let h = key_hash(&c.hasher, tid, &k.pk);
                c.entries.insert_unique(
                    h,
                    Entry {
                        hash: h,
                        seqnos: k.seqnos,
                        table: tid,
                        pk: Pk::new(&k.pk),
                    },
                    |e| e.hash,
                );
                log.push((newest, h));
            }
        }
        log.sort_unstable();
        c.log = log.into();
        c.stats = CertStats::default();
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::writeset::Key;

    fn ws(ls: Seqno, keys: Vec<Key>) -> WriteSet {
        WriteSet {
            last_seen_seqno: ls,
            keys,
            ..WriteSet::default()
        }
    }

    #[test]
    fn pk_inline_and_heap_round_trip() {
        for len in [0, 1, 21, 22, 23, 100] {
            let bytes: Vec<u8> = (0..len as u8).collect();
            assert_eq!(Pk::new(&bytes).as_slice(), bytes.as_slice());
        }
        assert_eq!(std::mem::size_of::<Pk>(), 24);
    }

    #[test]
    fn same_node_conflicts_fail_too() {
        let mut c = Certifier::default();
        let a = WriteSet {
            source: 7,
            ..ws(0, vec![Key::row("d.t", *b"1", KeyKind::Exclusive)])
        };
        assert_eq!(c.certify(&a, 1), Verdict::Pass { depends_seqno: 0 });
        // Same source, same snapshot: still first-committer-wins.
        assert_eq!(
            c.certify(&a, 2),
            Verdict::Fail(FailReason::Conflict { key: 0, with: 1 })
        );
        assert_eq!(c.stats().failures.conflict, 1);
        assert_eq!(c.index_size(), 1);
    }

    #[test]
    fn failed_write_set_records_nothing() {
        let mut c = Certifier::default();
        c.certify(&ws(0, vec![Key::row("d.t", *b"1", KeyKind::Exclusive)]), 1);
        let before = c.snapshot();
        let v = c.certify(
            &ws(
                0,
                vec![
                    Key::row("d.new", *b"9", KeyKind::Exclusive),
                    Key::row("d.t", *b"1", KeyKind::Exclusive),
                ],
            ),
            2,
        );
        assert_eq!(v, Verdict::Fail(FailReason::Conflict { key: 1, with: 1 }));
        let mut after = c.snapshot();
        assert_eq!(after.position, 2);
        after.position = before.position;
        assert_eq!(after, before);
    }

    #[test]
    fn purge_drops_entries_and_floors_dependencies() {
        let mut c = Certifier::default();
        c.certify(&ws(0, vec![Key::row("d.t", *b"1", KeyKind::Exclusive)]), 1);
        c.certify(&ws(1, vec![Key::row("d.t", *b"2", KeyKind::Exclusive)]), 2);
        c.certify(&ws(2, vec![Key::row("d.t", *b"1", KeyKind::Exclusive)]), 3);
        assert_eq!(c.index_size(), 2);
        assert_eq!(c.purge(2), 1); // t/2 (newest 2) goes, t/1 (newest 3) stays
        assert_eq!(c.horizon(), 2);
        assert_eq!(c.lookup("d.t", b"2"), None);
        assert_eq!(c.lookup("d.t", b"1"), Some([0, 0, 0, 3]));
        // Snapshot below the horizon.
        assert_eq!(
            c.certify(&ws(1, vec![]), 4),
            Verdict::Fail(FailReason::BelowHorizon { horizon: 2 })
        );
        // A key-less write-set still depends on the horizon.
        assert_eq!(
            c.certify(&ws(2, vec![]), 5),
            Verdict::Pass { depends_seqno: 2 }
        );
        // Purge beyond the position is clamped.
        c.purge(1000);
        assert_eq!(c.horizon(), 5);
        assert_eq!(c.index_size(), 0);
    }

    #[test]
    #[should_panic(expected = "increasing seqno order")]
    fn out_of_order_seqno_panics() {
        let mut c = Certifier::default();
        c.skip(5);
        c.certify(&WriteSet::default(), 5);
    }

    #[test]
    fn starting_at_refuses_older_snapshots() {
        let mut c = Certifier::starting_at(CertConfig::default(), 100);
        assert_eq!(
            c.certify(&ws(99, vec![]), 101),
            Verdict::Fail(FailReason::BelowHorizon { horizon: 100 })
        );
        assert_eq!(
            c.certify(&ws(100, vec![]), 102),
            Verdict::Pass { depends_seqno: 100 }
        );
    }

    #[test]
    fn restore_rejects_inconsistent_snapshots() {
        let mut c = Certifier::default();
        c.certify(&ws(0, vec![Key::row("d.t", *b"1", KeyKind::Exclusive)]), 1);
        c.certify_toi(&["d.u"], 2);
        let good = c.snapshot();
        assert!(Certifier::restore(&good, CertConfig::default()).is_ok());

        let mut bad = good.clone();
        bad.horizon = 3;
        assert!(matches!(
            Certifier::restore(&bad, CertConfig::default()),
            Err(RestoreError::HorizonAfterPosition { .. })
        ));
        let mut bad = good.clone();
        bad.tables[0].keys[0].seqnos[0] = 9;
        assert!(matches!(
            Certifier::restore(&bad, CertConfig::default()),
            Err(RestoreError::SeqnoOutOfRange { seqno: 9, .. })
        ));
        let mut bad = good.clone();
        bad.tables.swap(0, 1);
        assert!(matches!(
            Certifier::restore(&bad, CertConfig::default()),
            Err(RestoreError::NotCanonical(_))
        ));
        let mut bad = good.clone();
        let k = bad.tables[0].keys[0].clone();
        bad.tables[0].keys.push(k);
        assert!(matches!(
            Certifier::restore(&bad, CertConfig::default()),
            Err(RestoreError::NotCanonical(_))
        ));
        let mut bad = good;
        bad.tables[0].keys[0].seqnos = [0; 4];
        assert!(matches!(
            Certifier::restore(&bad, CertConfig::default()),
            Err(RestoreError::NotCanonical(_))
        ));
    }
}
