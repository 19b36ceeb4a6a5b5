//! `trireme-tests`: the Jepsen-style harness for trireme.
//!
//! What Jepsen does to databases, this crate does to trireme: run real
//! `trireme` processes (each in its own network namespace), drive concurrent
//! clients against them, inject faults (partitions, crashes, pauses), record
//! every operation with an honest outcome, and check the history for
//! anomalies.
//!
//! | module | what it owns |
//! |---|---|
//! | [`history`] | operation records (invoke / ok / fail / info), JSON lines, the recorder |
//! | [`checker`] | bank, set and Elle-style list-append checkers; each tested on hand-written histories |
//! | [`rng`] | replayable randomness: one seed fixes every choice the harness makes |
//! | [`cluster`] | network namespaces, bridge and veth pairs, nft partitions, node processes, `--cleanup` |
//! | [`nemesis`] | fault / heal schedules: partition, kill, pause, swizzle-clog, mix |
//! | [`workload`] | bank, set and list-append clients with honest error classification |
//! | [`consistency`] | end of run: databases, table definitions and `CHECKSUM TABLE` equal on every node |
//! | [`monitor`] | polls every node's Primary / ready / conf id / raft leader and term during a run |
//! | [`availability`] | commit gaps around faults, minority step-down times, leader and view changes |
//! | [`run`] | one run end to end: set up, drive, heal, final reads, consistency, check, write results |
//! | [`plot`] | the latency-over-time SVG with fault periods shaded |
//! | [`sqldiff`] | differential SQL testing: the `corpus/` on MariaDB and on trireme, answers compared |
//!
//! The binaries `jepsen` (`src/bin/jepsen.rs`) and `sqldiff` (`src/bin/sqldiff.rs`)
//! are thin CLIs over [`run`] and [`sqldiff`].

pub mod availability;
pub mod checker;
pub mod cluster;
pub mod consistency;
pub mod history;
pub mod monitor;
pub mod nemesis;
pub mod plot;
pub mod rng;
pub mod run;
pub mod sqldiff;
pub mod workload;

/// The cargo target directory: `$CARGO_TARGET_DIR` (relative to the
/// workspace when relative), else `<workspace>/target`. The harness finds
/// the `trireme` binary (`<target>/debug/trireme`) and writes results
/// (`<target>/jepsen`) there.
pub fn target_dir() -> std::path::PathBuf {
    let workspace = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(std::path::PathBuf::from)
        .unwrap_or_default();
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => workspace.join(d),
        _ => workspace.join("target"),
    }
}
