//! Checkers: read a history, say whether it is consistent, and name every
//! anomaly with the operations that show it.
//!
//! | checker | workload | what it proves |
//! |---|---|---|
//! | [`bank`] | transfers + reads of all balances | the total never changes, no balance goes negative, all nodes agree at the end |
//! | [`set`] | unique inserts + reads | every acknowledged insert survives, nothing unattempted appears, nothing reported failed appears |
//! | [`ddl`] | DDL (create / alter / drop) racing with inserts on every node | every acknowledged insert survives unless its table was dropped; nothing failed or unattempted appears |
//! | [`list_append`] | Elle-style transactions over append-only lists | no G0, G1a, G1b, G1c, G-single, G-nonadjacent (forbidden under snapshot isolation); G2-item reported, allowed |
//!
//! Every checker returns a [`CheckResult`]. Its [`Validity`] is
//! - `Invalid` when at least one *forbidden* anomaly was found,
//! - `Unknown` when the history does not allow a verdict (no final read
//!   succeeded, the history is malformed, a search budget ran out), with the
//!   reason in `notes`,
//! - `Valid` otherwise.
//!
//! Anomalies that the claimed model allows (G2-item under snapshot
//! isolation) are reported with `forbidden: false` and do not affect the
//! verdict.

pub mod bank;
pub mod ddl;
pub mod list_append;
pub mod set;

#[cfg(test)]
mod sim_tests;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The verdict of one checker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Validity {
    Valid,
    Unknown,
    Invalid,
}

impl Validity {
    /// The worse of two verdicts (Invalid > Unknown > Valid).
    pub fn and(self, other: Validity) -> Validity {
        self.max(other)
    }
}

/// One anomaly, with the history indices of the operations that show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    /// `G-single`, `lost`, `wrong-total`, ...
    pub kind: String,
    /// Whether the claimed consistency model forbids it.
    pub forbidden: bool,
    /// What happened, in words, naming the operations.
    pub description: String,
    /// Indices (in the history) of the operations involved.
    pub ops: Vec<u64>,
}

/// How many examples of one anomaly kind a result keeps in full; the count
/// in `anomaly_counts` is always complete.
pub const MAX_EXAMPLES_PER_KIND: usize = 16;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckResult {
    pub checker: String,
    pub validity: Validity,
    /// Total number of anomalies found, by kind.
    pub anomaly_counts: BTreeMap<String, usize>,
    /// Up to [`MAX_EXAMPLES_PER_KIND`] examples per kind.
    pub anomalies: Vec<Anomaly>,
    /// Why the verdict is `Unknown`, and other remarks.
    pub notes: Vec<String>,
    /// Checker-specific figures (reads checked, elements lost, ...).
    pub stats: BTreeMap<String, serde_json::Value>,
}

impl CheckResult {
    pub fn new(checker: &str) -> CheckResult {
        CheckResult {
            checker: checker.to_owned(),
            validity: Validity::Valid,
            anomaly_counts: BTreeMap::new(),
            anomalies: Vec::new(),
            notes: Vec::new(),
            stats: BTreeMap::new(),
        }
    }

    pub fn add(&mut self, kind: &str, forbidden: bool, description: String, ops: Vec<u64>) {
        let n = self.anomaly_counts.entry(kind.to_owned()).or_insert(0);
        *n += 1;
        if *n <= MAX_EXAMPLES_PER_KIND {
            self.anomalies.push(Anomaly {
                kind: kind.to_owned(),
                forbidden,
                description,
                ops,
            });
        }
        if forbidden {
            self.validity = Validity::Invalid;
        }
    }

    /// The verdict cannot be given; say why.
    pub fn unknown(&mut self, why: String) {
        self.notes.push(why);
        self.validity = self.validity.and(Validity::Unknown);
    }

    pub fn note(&mut self, what: String) {
        self.notes.push(what);
    }

    pub fn stat(&mut self, name: &str, v: impl Into<serde_json::Value>) {
        self.stats.insert(name.to_owned(), v.into());
    }

    /// Whether an anomaly of this kind was found.
    pub fn has(&self, kind: &str) -> bool {
        self.anomaly_counts.get(kind).copied().unwrap_or(0) > 0
    }

    /// Kinds found that are forbidden.
    pub fn forbidden_kinds(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .anomalies
            .iter()
            .filter(|a| a.forbidden)
            .map(|a| a.kind.clone())
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

/// Formats a list of integers the way reports print them: `[1 2 3]`.
pub(crate) fn fmt_list(v: &[u64]) -> String {
    let inner: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    format!("[{}]", inner.join(" "))
}
