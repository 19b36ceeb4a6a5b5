//! Deterministic write-set certification for trireme.
//!
//! Every node feeds the same totally ordered stream of events into a
//! [`Certifier`] and gets the same [`Verdict`] for each: a write-set passes
//! (and may be applied once everything up to its `depends_seqno` is) or fails
//! (its transaction aborts with ER_LOCK_DEADLOCK on the node that ran it).
//! The crate is pure: no I/O, no clocks, no randomness, no threads.
//!
//! | module | concept |
//! |---|---|
//! | [`writeset`] | the write-set: keys, key kinds and their conflict matrix, row operations |
//! | [`index`] | the certification index, the rule, purge, snapshots, statistics |
//! | [`codec`] | the only place where write-sets and snapshots become bytes |
//!
//! # Feeding the certifier (for the node)
//!
//! Seqnos are dense over *all* ordered events. For each event, in seqno
//! order, on one task:
//!
//! * a write-set: [`Certifier::certify`]`(&ws, seqno)`;
//! * a TOI (DDL) event: [`Certifier::certify_toi`]`(&tables, seqno)` with
//!   the qualified names of the tables it changes (empty for DDL that
//!   changes no table); it always passes with `depends_seqno = seqno - 1`;
//!   run the DDL once everything before it is applied, and every later
//!   write-set will depend on it;
//! * anything else (view change, purge event, ...): [`Certifier::skip`]
//!   `(seqno)` (optional: gaps are allowed, but `position()` stays exact).
//!
//! **Purge.** [`Certifier::purge`]`(upto)` is part of the replicated state:
//! call it only from an ordered event, at the same place on every node (for
//! instance, a periodic "purge" event carrying `upto`, handled right after
//! `skip(its seqno)`). Choose `upto` as the minimum over all current members
//! of what each member reports as "the oldest snapshot still in use": the
//! `last_seen_seqno` of its oldest open transaction, or its applied horizon
//! when none is open. Transactions whose snapshot is older than the horizon
//! fail with [`FailReason::BelowHorizon`], so a lower `upto` only costs
//! memory, a higher one aborts long transactions. `upto` beyond the
//! position is clamped. Since `depends_seqno` never drops below the horizon,
//! purging past what this node has applied is still safe.
//!
//! **State transfer.** [`Certifier::snapshot`] at the checkpoint's seqno,
//! [`codec::encode_snapshot`] into the checkpoint / SST stream, then
//! [`codec::decode_snapshot`] and [`Certifier::restore`] on the joiner: it
//! certifies the next events exactly as the donor. A node with no snapshot
//! can start with [`Certifier::starting_at`]`(position)`; it then fails
//! write-sets whose snapshot predates `position`.
//!
//! **Statistics.** [`Certifier::stats`] gives `wsrep_cert_index_size`,
//! `wsrep_cert_deps_distance` ([`CertStats::deps_distance`]),
//! `wsrep_cert_interval` and failure counts by reason.
//!
//! # Invariants
//!
//! Stated once in [`index`]: nodes that processed the same prefix hold
//! identical indexes (and byte-identical snapshots); the verdict and
//! `depends_seqno` of every event are functions of that prefix only.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod codec;
pub mod index;
pub mod writeset;

/// A position in the total order of events. Dense: 1, 2, 3, ...; 0 means
/// "nothing" (no event, no dependency).
pub type Seqno = u64;

pub use codec::{DecodeError, EncodeError};
pub use index::{
    CertConfig, CertSnapshot, CertStats, Certifier, FailKind, FailReason, FailureCounts,
    RestoreError, Verdict,
};
pub use writeset::{Check, Key, KeyKind, RowOp, RowOpKind, WriteSet};
