//! One run, end to end.
//!
//! 1. Create the results directory and write `run.json` (every option, the
//!    seed, and the command that replays it).
//! 2. Create the network and the node configurations ([`Cluster::create`]);
//!    start the nodes; wait until each answers and, in a cluster, reports
//!    `wsrep_ready = ON` and the full `wsrep_cluster_size`.
//! 3. Create the schema on node 1; wait until every node sees it.
//! 4. Drive the clients (bound to nodes round-robin, each on its node's
//!    [`NsExecutor`]) and the nemesis for `--time`; every operation goes to
//!    `history.jsonl` as it happens.
//! 5. Heal everything (restarting nodes that are down), wait `--recovery`
//!    and (bounded) until every node is ready again, run a final read on
//!    every node (retrying a bounded number of times).
//! 6. Check that every node holds the same databases, table definitions and
//!    rows ([`crate::consistency`]).
//! 7. Stop the nodes, remove the network, check the history, and write
//!    `summary.json`, `summary.txt` and `latency.svg`.
//!
//! # Verdicts
//!
//! | verdict | exit | when |
//! |---|---|---|
//! | `invalid` | 1 | the checker found a forbidden anomaly, nodes diverged, or a node crashed (exited without being killed, or logged a thread panic) |
//! | `harness-failure` | 3 | the run could not test what it claims: the cluster did not start, a fault could not be applied or healed, a nemesis applied no fault at all, the run was interrupted, teardown failed |
//! | `unknown` | 2 | the history does not allow a verdict, typically because a node stayed unavailable for its final read or the consistency snapshot |
//! | `valid` | 0 | none of the above |
//!
//! A harness failure is never downgraded to `unknown`: a run that did not
//! start, or whose faults were not applied, tested nothing.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::availability::{Availability, FaultWindow};
use crate::checker::{CheckResult, Validity};
use crate::cluster::{Cluster, ClusterSpec, NetMode, NsExecutor};
use crate::consistency::Consistency;
use crate::history::{pair, NemesisValue, Op, OpType, Process, Recorder, Value, F};
use crate::monitor::Samples;
use crate::nemesis::{link_grudges, Fault, NemesisKind, Schedule, Target};
use crate::rng::Rng;
use crate::workload::{outcome, ClientConfig, Session, Stage, Workload, WorkloadKind, DB};

/// Everything that defines a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunOpts {
    pub workload: WorkloadKind,
    pub nemesis: NemesisKind,
    pub time_s: u64,
    pub seed: u64,
    pub nodes: usize,
    pub concurrency: usize,
    /// Target operations per second over all clients.
    pub rate: f64,
    /// Mean quiet period and mean fault duration of the nemesis (s).
    pub interval_s: u64,
    /// Wait after the final heal before the final reads (s).
    pub recovery_s: u64,
    pub net: NetMode,
    pub binary: PathBuf,
    pub results_root: PathBuf,
    pub root_password: String,
    pub statement_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    /// Loopback mode: first MySQL port (0: pick a free range).
    pub base_port: u16,
    /// TOML appended to every node's configuration.
    pub extra_config: String,
    /// How long nodes get to start and form the cluster (s).
    pub startup_timeout_s: u64,
    /// Which node single-node faults hit (`leader`: the current leader).
    #[serde(default)]
    pub target: Target,
}

impl RunOpts {
    /// The command line that replays this run.
    pub fn replay_command(&self) -> String {
        let mut s = format!(
            "cargo run -p trireme-tests --bin jepsen -- --workload {} --nemesis {} --time {} --seed {} --nodes {} --concurrency {} --rate {} --interval {} --recovery {} --net {}",
            self.workload.name(),
            self.nemesis.name(),
            self.time_s,
            self.seed,
            self.nodes,
            self.concurrency,
            self.rate,
            self.interval_s,
            self.recovery_s,
            match self.net {
                NetMode::Netns => "netns",
                NetMode::Loopback => "loopback",
            },
        );
        if self.target != Target::Random {
            s.push_str(&format!(" --target {}", self.target.name()));
        }
        if !self.extra_config.is_empty() {
            s.push_str(" --extra-config <same file>");
        }
        s
    }

    /// Problems with the options themselves.
    pub fn validate(&self) -> Result<(), String> {
        if self.nodes == 0 || self.nodes > 9 {
            return Err("--nodes must be 1..=9".into());
        }
        if matches!(self.nemesis, NemesisKind::Partition | NemesisKind::Clog)
            && (self.nodes < 2 || self.net != NetMode::Netns)
        {
            return Err(format!(
                "the {} nemesis needs --nodes >= 2 and --net netns",
                self.nemesis.name()
            ));
        }
        if self.nemesis == NemesisKind::Wipe && self.nodes < 3 {
            return Err(
                "the wipe nemesis needs --nodes >= 3 (a majority must keep the data)".into(),
            );
        }
        if self.nemesis == NemesisKind::Mix && self.net != NetMode::Netns && self.nodes > 1 {
            return Err(
                "the mix nemesis includes partitions: it needs --net netns (or --nodes 1)".into(),
            );
        }
        if self.concurrency == 0 || self.concurrency > 256 {
            return Err("--concurrency must be 1..=256".into());
        }
        if self.rate <= 0.0 || self.rate.is_nan() {
            return Err("--rate must be positive".into());
        }
        if self.time_s == 0 {
            return Err("--time must be at least 1 second".into());
        }
        if !self.binary.exists() {
            return Err(format!(
                "trireme binary {} not found: build it with `cargo build -j2 -p trireme-node` or pass --trireme",
                self.binary.display()
            ));
        }
        Ok(())
    }
}

/// Operation counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub total: u64,
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
}

impl Counts {
    fn add(&mut self, t: OpType) {
        self.total += 1;
        match t {
            OpType::Ok => self.ok += 1,
            OpType::Fail => self.fail += 1,
            _ => self.info += 1,
        }
    }
}

/// The verdict of a run. Ordered from best to worst; a suite reports its
/// worst run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Valid,
    /// The history does not allow a verdict (e.g. a node unavailable for
    /// its final read).
    Unknown,
    /// The run could not start, or its faults were not applied: it tested
    /// nothing, whatever the history says.
    HarnessFailure,
    /// An anomaly, a divergence or a crash.
    Invalid,
}

impl Verdict {
    /// The process exit status for this verdict.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Valid => 0,
            Verdict::Invalid => 1,
            Verdict::Unknown => 2,
            Verdict::HarnessFailure => 3,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Unknown => "unknown",
            Verdict::HarnessFailure => "harness-failure",
            Verdict::Invalid => "invalid",
        }
    }

    /// The worse of two verdicts.
    pub fn and(self, other: Verdict) -> Verdict {
        self.max(other)
    }
}

/// The run's verdict from its parts (see the module docs).
pub fn verdict(s: &Summary) -> Verdict {
    let checker = s.check.as_ref().map_or(Validity::Unknown, |c| c.validity);
    let consistency = s
        .consistency
        .as_ref()
        .map_or(Validity::Unknown, |c| c.validity);
    if checker == Validity::Invalid || consistency == Validity::Invalid || !s.crashes.is_empty() {
        Verdict::Invalid
    } else if !s.harness_errors.is_empty() || no_fault_applied(s) {
        Verdict::HarnessFailure
    } else if checker == Validity::Unknown
        || consistency == Validity::Unknown
        || !s.unavailable.is_empty()
    {
        Verdict::Unknown
    } else {
        Verdict::Valid
    }
}

/// A run with a nemesis that applied no fault tested nothing.
fn no_fault_applied(s: &Summary) -> bool {
    s.nemesis != NemesisKind::None.name() && s.faults_applied == 0
}

/// What a run produced (`summary.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    pub run_id: String,
    pub workload: String,
    pub nemesis: String,
    pub seed: u64,
    pub nodes: usize,
    pub net: NetMode,
    pub time_s: u64,
    /// Wall-clock seconds the whole run took (start-up to teardown).
    #[serde(default)]
    pub duration_s: f64,
    /// Client operations (final reads included).
    pub ops: Counts,
    pub by_f: BTreeMap<String, Counts>,
    /// Fault descriptions in order.
    pub faults: Vec<String>,
    /// Faults the nemesis applied successfully.
    #[serde(default)]
    pub faults_applied: usize,
    /// Faults the nemesis tried and could not apply (each also in
    /// `harness_errors`).
    #[serde(default)]
    pub faults_failed: usize,
    /// Faults not attempted because their precondition did not hold (a
    /// wipe waits until every node is synced), with why.
    #[serde(default)]
    pub faults_skipped: Vec<String>,
    #[serde(default = "unknown_verdict")]
    pub verdict: Verdict,
    pub check: Option<CheckResult>,
    /// The end-of-run comparison of every node's tables.
    #[serde(default)]
    pub consistency: Option<Consistency>,
    /// Nodes that exited without the harness killing them (a crash, or a
    /// refusal to start), with their status and log tail.
    #[serde(default)]
    pub crashes: Vec<String>,
    /// Failures of the harness (not of trireme): start-up, faults and heals
    /// that did not work, teardown. Any makes the run a harness failure.
    pub harness_errors: Vec<String>,
    /// Nodes that stayed unavailable at the end (not ready after the final
    /// heal, final read not finished): the verdict is at best unknown.
    #[serde(default)]
    pub unavailable: Vec<String>,
    pub replay: String,
    pub dir: PathBuf,
    /// Commit gaps around faults, minority step-down times, leader and
    /// view changes ([`crate::availability`]).
    #[serde(default)]
    pub availability: Option<Availability>,
    /// Which node single-node faults hit.
    #[serde(default)]
    pub target: Target,
}

fn unknown_verdict() -> Verdict {
    Verdict::Unknown
}

/// Operation counts and faults of a history.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    pub ops: Counts,
    pub by_f: BTreeMap<String, Counts>,
    /// Fault descriptions in order.
    pub faults: Vec<String>,
    /// Faults whose application completed `ok`.
    pub applied: usize,
    /// Faults whose application did not.
    pub failed: usize,
}

/// Counts client operations by outcome, and lists faults.
pub fn tally(ops: &[Op]) -> Tally {
    let mut all = Counts::default();
    let mut by_f: BTreeMap<String, Counts> = BTreeMap::new();
    let mut faults = Vec::new();
    let (mut applied, mut failed) = (0, 0);
    for c in pair(ops).unwrap_or_default() {
        match c.invoke.process {
            Process::Client(_) => {
                all.add(c.typ());
                by_f.entry(c.invoke.f.to_string()).or_default().add(c.typ());
            }
            Process::Nemesis => {
                if c.invoke.f == F::Fault {
                    if let Value::Nemesis(n) = &c.invoke.value {
                        let mut d = format!(
                            "{:.1}s {} {}",
                            c.invoke.time as f64 / 1e9,
                            n.kind,
                            n.targets.join(",")
                        );
                        if c.typ() == OpType::Ok {
                            applied += 1;
                        } else {
                            failed += 1;
                            d.push_str(" (failed to apply)");
                        }
                        faults.push(d);
                    }
                }
            }
        }
    }
    Tally {
        ops: all,
        by_f,
        faults,
        applied,
        failed,
    }
}

/// A compact UTC timestamp (`20261122T230501`) for result paths.
pub fn timestamp() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .chars()
        .filter(|c| !matches!(c, '-' | ':' | 'Z'))
        .collect()
}

struct Shared {
    rec: Arc<Recorder>,
    stop: Arc<AtomicBool>,
    harness_errors: Mutex<Vec<String>>,
    crashes: Mutex<Vec<String>>,
    unavailable: Mutex<Vec<String>>,
    skipped: Mutex<Vec<String>>,
    consistency: Mutex<Option<Consistency>>,
    /// The status monitor's samples.
    samples: Arc<Samples>,
    /// Stops the status monitors.
    monitor_stop: Arc<AtomicBool>,
    /// Faults as applied, for the availability figures.
    windows: Mutex<Vec<FaultWindow>>,
    /// `harness.log`: the run's phases with their times (same clock as the
    /// history), to line up with the nodes' logs.
    phases: Mutex<Option<std::fs::File>>,
}

impl Shared {
    fn phase(&self, what: &str) {
        use std::io::Write as _;
        let t = self.rec.now_ns() as f64 / 1e9;
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        if let Some(f) = self
            .phases
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            let _ = writeln!(f, "{t:9.3}s  (unix {wall:.3})  {what}");
        }
    }

    fn harness_error(&self, e: String) {
        tracing::warn!("harness: {e}");
        self.phase(&format!("harness error: {e}"));
        push(&self.harness_errors, e);
    }

    fn crash(&self, e: String) {
        tracing::warn!("crash: {e}");
        self.phase(&format!("node crash: {e}"));
        push(&self.crashes, e);
    }

    fn unavailable(&self, e: String) {
        tracing::warn!("unavailable: {e}");
        self.phase(&format!("unavailable: {e}"));
        push(&self.unavailable, e);
    }

    fn skipped(&self, e: String) {
        self.phase(&format!("fault skipped: {e}"));
        push(&self.skipped, e);
    }
}

fn push<T>(v: &Mutex<Vec<T>>, e: T) {
    v.lock().unwrap_or_else(|p| p.into_inner()).push(e);
}

fn take(v: &Mutex<Vec<String>>) -> Vec<String> {
    v.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Runs one test and writes its results. Returns the summary; errors only
/// when not even the results directory could be written.
pub fn run(opts: &RunOpts) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let run_id = crate::cluster::new_run_id();
    let name = format!(
        "{}-{}-{}-s{}-{}",
        timestamp(),
        opts.workload.name(),
        opts.nemesis.name(),
        opts.seed,
        run_id
    );
    let dir = opts.results_root.join(&name);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(dir.join("run.json"), serde_json::to_vec_pretty(opts)?)?;
    let _ = std::fs::remove_file(opts.results_root.join("latest"));
    let _ = std::os::unix::fs::symlink(&name, opts.results_root.join("latest"));
    let file = std::fs::File::create(dir.join("history.jsonl"))?;
    let shared = Arc::new(Shared {
        rec: Arc::new(Recorder::new(Instant::now(), Some(file))),
        stop: Arc::new(AtomicBool::new(false)),
        harness_errors: Mutex::new(Vec::new()),
        crashes: Mutex::new(Vec::new()),
        unavailable: Mutex::new(Vec::new()),
        skipped: Mutex::new(Vec::new()),
        consistency: Mutex::new(None),
        samples: Arc::new(Samples::default()),
        monitor_stop: Arc::new(AtomicBool::new(false)),
        windows: Mutex::new(Vec::new()),
        phases: Mutex::new(std::fs::File::create(dir.join("harness.log")).ok()),
    });
    eprintln!(
        "run {run_id}: {} x {}, seed {}, results in {}",
        opts.workload.name(),
        opts.nemesis.name(),
        opts.seed,
        dir.display()
    );

    let workload = Arc::new(Workload::new(opts.workload));
    let spec = ClusterSpec {
        run_id: run_id.clone(),
        nodes: opts.nodes,
        net: opts.net,
        binary: opts.binary.clone(),
        root_password: opts.root_password.clone(),
        dir: dir.clone(),
        base_port: match (opts.net, opts.base_port) {
            (NetMode::Loopback, 0) => crate::cluster::free_base_port(opts.nodes)?,
            (_, p) => p,
        },
        extra_config: opts.extra_config.clone(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let completed = rt.block_on(drive(opts, spec, workload.clone(), shared.clone()));
    if let Err(e) = &completed {
        shared.harness_error(format!("{e:#}"));
    }
    if let Err(e) = shared.rec.flush() {
        shared.harness_error(format!("writing history: {e}"));
    }

    let ops = shared.rec.snapshot();
    let names: Vec<String> = (1..=opts.nodes).map(|i| format!("n{i}")).collect();
    let check = workload.check(&ops, &names);
    let samples = shared.samples.snapshot();
    let windows = shared
        .windows
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    if let Err(e) = write_monitor(&dir, &samples, &windows) {
        shared.harness_error(format!("writing monitor.jsonl: {e}"));
    }
    let availability = crate::availability::compute(&ops, &names, &samples, &windows);
    // A run that did not complete has already recorded why (start-up,
    // interruption, teardown) as a harness error: it is a harness failure.
    let t = tally(&ops);
    let mut summary = Summary {
        run_id,
        workload: opts.workload.name().into(),
        nemesis: opts.nemesis.name().into(),
        seed: opts.seed,
        nodes: opts.nodes,
        net: opts.net,
        time_s: opts.time_s,
        duration_s: started.elapsed().as_secs_f64(),
        ops: t.ops,
        by_f: t.by_f,
        faults: t.faults,
        faults_applied: t.applied,
        faults_failed: t.failed,
        faults_skipped: take(&shared.skipped),
        verdict: Verdict::Unknown,
        check: Some(check),
        consistency: shared
            .consistency
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone(),
        crashes: take(&shared.crashes),
        harness_errors: take(&shared.harness_errors),
        unavailable: take(&shared.unavailable),
        replay: opts.replay_command(),
        dir: dir.clone(),
        availability: Some(availability),
        target: opts.target,
    };
    summary.verdict = verdict(&summary);
    write_results(&dir, &summary, &ops)?;
    Ok(summary)
}

/// `monitor.jsonl`: the fault windows, then every status sample.
fn write_monitor(
    dir: &Path,
    samples: &[crate::availability::Sample],
    windows: &[FaultWindow],
) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join("monitor.jsonl"))?);
    for w in windows {
        serde_json::to_writer(&mut f, &serde_json::json!({ "window": w }))?;
        f.write_all(b"\n")?;
    }
    for s in samples {
        serde_json::to_writer(&mut f, s)?;
        f.write_all(b"\n")?;
    }
    f.flush()?;
    Ok(())
}

/// Writes `summary.json`, `summary.txt` and `latency.svg`.
pub fn write_results(dir: &Path, summary: &Summary, ops: &[Op]) -> anyhow::Result<()> {
    std::fs::write(
        dir.join("summary.json"),
        serde_json::to_vec_pretty(summary)?,
    )?;
    std::fs::write(dir.join("summary.txt"), render_summary(summary))?;
    let title = format!(
        "trireme {} x {} ({} nodes, seed {}): {}",
        summary.workload,
        summary.nemesis,
        summary.nodes,
        summary.seed,
        summary.verdict.name()
    );
    std::fs::write(
        dir.join("latency.svg"),
        crate::plot::latency_svg(ops, &title),
    )?;
    Ok(())
}

/// The human-readable summary.
pub fn render_summary(s: &Summary) -> String {
    use std::fmt::Write as _;
    let mut t = String::new();
    let c = |c: &Counts| {
        format!(
            "{} total, {} ok, {} fail, {} info",
            c.total, c.ok, c.fail, c.info
        )
    };
    let _ = writeln!(
        t,
        "trireme jepsen run {}: {} x {}, {} node(s) ({:?}), {} s, seed {}",
        s.run_id, s.workload, s.nemesis, s.nodes, s.net, s.time_s, s.seed
    );
    let _ = writeln!(t, "ops: {}", c(&s.ops));
    for (f, n) in &s.by_f {
        let _ = writeln!(t, "  {f:<10} {}", c(n));
    }
    let _ = writeln!(
        t,
        "faults: {} applied, {} failed to apply, {} skipped",
        s.faults_applied,
        s.faults_failed,
        s.faults_skipped.len()
    );
    for f in &s.faults {
        let _ = writeln!(t, "  {f}");
    }
    for f in &s.faults_skipped {
        let _ = writeln!(t, "  skipped: {f}");
    }
    if no_fault_applied(s) {
        let _ = writeln!(
            t,
            "  the {} nemesis applied no fault: this run tested nothing",
            s.nemesis
        );
    }
    if let Some(ch) = &s.check {
        let _ = writeln!(t, "checker {}: {:?}", ch.checker, ch.validity);
        if ch.anomaly_counts.is_empty() {
            let _ = writeln!(t, "anomalies: none");
        } else {
            let _ = writeln!(t, "anomalies:");
            for (k, n) in &ch.anomaly_counts {
                let forbidden = ch
                    .anomalies
                    .iter()
                    .find(|a| &a.kind == k)
                    .is_none_or(|a| a.forbidden);
                let _ = writeln!(t, "  {k}: {n}{}", if forbidden { "" } else { " (allowed)" });
            }
            // Forbidden anomalies first; a few allowed ones for flavour.
            let _ = writeln!(
                t,
                "examples (all forbidden ones up to 10 per kind, then up to 3 allowed):"
            );
            let mut per_kind: BTreeMap<&str, usize> = BTreeMap::new();
            let forbidden = ch.anomalies.iter().filter(|a| a.forbidden);
            let allowed = ch.anomalies.iter().filter(|a| !a.forbidden).take(3);
            for a in forbidden.chain(allowed) {
                let n = per_kind.entry(a.kind.as_str()).or_insert(0);
                *n += 1;
                if *n <= 10 {
                    let _ = writeln!(
                        t,
                        "  [{}] {}",
                        a.kind,
                        a.description.replace('\n', "\n    ")
                    );
                }
            }
        }
        for (k, v) in &ch.stats {
            let _ = writeln!(t, "  stat {k} = {v}");
        }
        for n in &ch.notes {
            let _ = writeln!(t, "  note: {n}");
        }
    }
    match &s.consistency {
        None => {
            let _ = writeln!(t, "consistency: not checked (the run did not get that far)");
        }
        Some(c) => {
            let _ = writeln!(
                t,
                "consistency: {:?} ({} tables compared on every node; positions {})",
                c.validity,
                c.tables_compared,
                c.positions
                    .iter()
                    .map(|(n, p)| format!("{n}={}", p.map_or("?".into(), |p| p.to_string())))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            for d in &c.divergences {
                let _ = writeln!(t, "  {d}");
            }
            for d in &c.details {
                let _ = writeln!(t, "    {d}");
            }
            for n in &c.notes {
                let _ = writeln!(t, "  note: {n}");
            }
        }
    }
    if s.crashes.is_empty() {
        let _ = writeln!(t, "crashes: none");
    } else {
        let _ = writeln!(t, "crashes:");
        for e in &s.crashes {
            let _ = writeln!(t, "  {}", e.replace('\n', "\n    "));
        }
    }
    if !s.unavailable.is_empty() {
        let _ = writeln!(t, "unavailable at the end:");
        for e in &s.unavailable {
            let _ = writeln!(t, "  {e}");
        }
    }
    if s.harness_errors.is_empty() {
        let _ = writeln!(t, "harness errors: none");
    } else {
        let _ = writeln!(t, "harness errors:");
        for e in &s.harness_errors {
            let _ = writeln!(t, "  {}", e.replace('\n', "\n    "));
        }
    }
    if let Some(a) = &s.availability {
        let secs = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2} s"));
        let _ = writeln!(
            t,
            "availability: longest majority commit gap {}, minority non-Primary after {}, {} leader change(s), {} view change(s) ({} status samples, target {})",
            secs(a.max_gap_s),
            secs(a.max_minority_s),
            a.leader_changes,
            a.view_changes,
            a.samples,
            s.target.name()
        );
        for f in &a.faults {
            let _ = writeln!(
                t,
                "  {:.1}s {}{}: majority gap {}, minority non-Primary after {}{}",
                f.at_s,
                f.kind,
                if f.leader { " (leader)" } else { "" },
                secs(f.majority_gap_s),
                secs(f.minority_nonprimary_s),
                if f.minority_stayed_primary {
                    " (the minority kept claiming Primary)"
                } else {
                    ""
                }
            );
        }
    }
    let _ = writeln!(t, "verdict: {}", s.verdict.name());
    let _ = writeln!(t, "replay: {}", s.replay);
    let _ = writeln!(t, "results: {}", s.dir.display());
    t
}

/// Steps 2 to 5. The cluster is torn down on every path (explicitly, and
/// by `Drop` if this panics).
async fn drive(
    opts: &RunOpts,
    spec: ClusterSpec,
    workload: Arc<Workload>,
    shared: Arc<Shared>,
) -> anyhow::Result<()> {
    // Cluster operations are short commands (`ip`, `nft`, `kill`); they run
    // inline on this single-threaded runtime.
    let mut cluster = Cluster::create(spec)?;
    let result = drive_cluster(opts, &mut cluster, workload, shared.clone()).await;
    let errors = cluster.teardown();
    // A thread that panicked inside a node that kept running (e.g. its raft
    // core) is a crash too; the logs cover every restart.
    for i in 0..cluster.nodes.len() {
        for p in cluster.log_panics(i, 3) {
            shared.crash(format!("{}: a thread panicked: {p}", cluster.nodes[i].name));
        }
    }
    for n in 0..cluster.nodes.len() {
        tracing::debug!(
            "{} log tail:\n{}",
            cluster.nodes[n].name,
            cluster.log_tail(n, 5)
        );
    }
    if !errors.is_empty() {
        anyhow::bail!("teardown: {}", errors.join("; "));
    }
    result
}

fn client_config(opts: &RunOpts) -> ClientConfig {
    ClientConfig {
        user: "root".into(),
        password: opts.root_password.clone(),
        connect_timeout: Duration::from_millis(opts.connect_timeout_ms),
        statement_timeout: Duration::from_millis(opts.statement_timeout_ms),
    }
}

/// Runs `fut` on executor `ex` and waits for it.
async fn on<T: Send + 'static>(
    ex: &NsExecutor,
    fut: impl std::future::Future<Output = T> + Send + 'static,
) -> anyhow::Result<T> {
    ex.spawn(fut)
        .await
        .map_err(|_| anyhow::anyhow!("executor stopped"))
}

/// Whether the node at `addr` answers and (in a cluster) is ready with all
/// `n` members (and, with `synced`, reports `Synced`). `Err` carries what
/// is still missing.
async fn probe(
    addr: SocketAddr,
    cfg: ClientConfig,
    n: usize,
    db_probe: Option<&'static str>,
    synced: bool,
) -> Result<(), String> {
    let mut s = Session::new(addr, cfg, db_probe.map(|_| DB));
    let r = async {
        s.query::<i64>("SELECT 1", Stage::Body)
            .await
            .map_err(|e| e.msg)?;
        if let Some(q) = db_probe {
            s.query::<i64>(q, Stage::Body).await.map_err(|e| e.msg)?;
        }
        let status: BTreeMap<String, String> = s
            .query::<(String, String)>("SHOW GLOBAL STATUS LIKE 'wsrep%'", Stage::Body)
            .await
            .map_err(|e| e.msg)?
            .into_iter()
            .collect();
        if let Some(ready) = status.get("wsrep_ready") {
            if ready != "ON" {
                return Err(format!("wsrep_ready = {ready}"));
            }
        }
        if let Some(size) = status.get("wsrep_cluster_size") {
            if size.parse::<usize>().ok() != Some(n) {
                return Err(format!("wsrep_cluster_size = {size}, want {n}"));
            }
        }
        if synced {
            if let Some(state) = status.get("wsrep_local_state_comment") {
                if state != "Synced" {
                    return Err(format!("wsrep_local_state_comment = {state}"));
                }
            }
        }
        Ok(())
    }
    .await;
    s.close().await;
    r
}

/// The node's process list and wsrep status, as text (best effort).
async fn diagnose(addr: SocketAddr, cfg: ClientConfig) -> String {
    let mut s = Session::new(addr, cfg, None);
    let mut out = String::new();
    for q in ["SHOW FULL PROCESSLIST", "SHOW GLOBAL STATUS LIKE 'wsrep%'"] {
        match s.query::<mysql_async::Row>(q, Stage::Body).await {
            Ok(rows) => {
                out.push_str(&format!("{q}:\n"));
                for r in rows {
                    let vals: Vec<String> =
                        r.unwrap().into_iter().map(|v| v.as_sql(true)).collect();
                    out.push_str(&format!("  {}\n", vals.join(" | ")));
                }
            }
            Err(e) => out.push_str(&format!("{q}: {}\n", e.msg)),
        }
    }
    s.close().await;
    out
}

/// Waits until every node passes [`probe`], or fails naming the laggards.
async fn wait_ready(
    cluster: &mut Cluster,
    executors: &[NsExecutor],
    cfg: &ClientConfig,
    timeout: Duration,
    db_probe: Option<&'static str>,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let n = cluster.nodes.len();
    let mut pending: Vec<usize> = (0..n).collect();
    let mut last: BTreeMap<usize, String> = BTreeMap::new();
    for _round in 0..10_000 {
        let mut still = Vec::new();
        for &i in &pending {
            if !cluster.is_running(i) {
                anyhow::bail!(
                    "{} exited during start-up; log tail:\n{}",
                    cluster.nodes[i].name,
                    cluster.log_tail(i, 15)
                );
            }
            let r = on(
                &executors[i],
                probe(cluster.nodes[i].mysql, cfg.clone(), n, db_probe, false),
            )
            .await?;
            if let Err(e) = r {
                last.insert(i, e);
                still.push(i);
            }
        }
        pending = still;
        if pending.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let why: Vec<String> = pending
                .iter()
                .map(|i| {
                    format!(
                        "{}: {}",
                        cluster.nodes[*i].name,
                        last.get(i).cloned().unwrap_or_default()
                    )
                })
                .collect();
            anyhow::bail!("nodes not ready after {:?}: {}", timeout, why.join("; "));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    anyhow::bail!("readiness loop bound reached")
}

async fn drive_cluster(
    opts: &RunOpts,
    cluster: &mut Cluster,
    workload: Arc<Workload>,
    shared: Arc<Shared>,
) -> anyhow::Result<()> {
    let cfg = client_config(opts);
    let executors: Vec<NsExecutor> = cluster
        .nodes
        .iter()
        .map(|n| NsExecutor::start(n.netns.as_deref(), &format!("clients-{}", n.name)))
        .collect::<anyhow::Result<_>>()?;
    let names: Vec<String> = cluster.nodes.iter().map(|n| n.name.clone()).collect();

    // Start-up: node 1 first (it bootstraps), then the others.
    let startup = Duration::from_secs(opts.startup_timeout_s);
    cluster.start(0)?;
    for i in 1..cluster.nodes.len() {
        cluster.start(i)?;
    }
    shared.phase("nodes started");
    wait_ready(cluster, &executors, &cfg, startup, None)
        .await
        .context("starting the cluster")?;
    shared.phase("every node ready (wsrep_ready = ON, full cluster size)");

    // Schema on node 1, then visible everywhere.
    let mut setup = vec![format!("CREATE DATABASE {DB}"), format!("USE {DB}")];
    setup.extend(workload.setup());
    let addr = cluster.nodes[0].mysql;
    let c2 = cfg.clone();
    let c3 = cfg.clone();
    on(&executors[0], async move {
        let mut s = Session::new(addr, c2, None);
        for stmt in &setup {
            if let Err(e) = s.exec(stmt, Stage::Body).await {
                // Say what the node was doing, for whoever debugs this.
                let diag = diagnose(addr, c3).await;
                anyhow::bail!("setup `{stmt}`: {}\n{diag}", e.msg);
            }
        }
        s.close().await;
        anyhow::Ok(())
    })
    .await??;
    shared.phase("schema created on n1");
    wait_ready(
        cluster,
        &executors,
        &cfg,
        startup,
        Some(workload.ready_probe()),
    )
    .await
    .context("schema setup")?;
    shared.phase("schema visible on every node; clients start");

    // Clients.
    let deadline = Instant::now() + Duration::from_secs(opts.time_s);
    let mean_delay = Duration::from_secs_f64(opts.concurrency as f64 / opts.rate);
    let mut clients = Vec::new();
    for slot in 0..opts.concurrency {
        let i = slot % cluster.nodes.len();
        let ctx = ClientCtx {
            slot,
            concurrency: opts.concurrency,
            node: cluster.nodes[i].name.clone(),
            addr: cluster.nodes[i].mysql,
            cfg: cfg.clone(),
            workload: workload.clone(),
            rec: shared.rec.clone(),
            deadline,
            stop: shared.stop.clone(),
            seed: opts.seed,
            mean_delay,
            max_ops: (opts.time_s + 1) * 2_000,
        };
        clients.push(executors[i].spawn(client_loop(ctx)));
    }
    let mut monitors = Vec::new();
    for (i, node) in cluster.nodes.iter().enumerate() {
        monitors.push(executors[i].spawn(crate::monitor::run(
            i,
            node.mysql,
            cfg.clone(),
            shared.rec.clone(),
            shared.samples.clone(),
            shared.monitor_stop.clone(),
            (opts.time_s + 120) * 10,
        )));
    }

    // The nemesis, in this task, until the deadline (or Ctrl-C).
    let interrupted = tokio::select! {
        r = nemesis_loop(opts, cluster, &executors, &cfg, &names, &shared, deadline) => { r?; false }
        _ = tokio::signal::ctrl_c() => true,
    };
    if interrupted {
        shared.stop.store(true, Ordering::SeqCst);
        shared.harness_error("interrupted (Ctrl-C): the run is incomplete".into());
    }
    // Clients finish their current operation (bounded by their timeouts).
    let grace = Duration::from_millis(opts.statement_timeout_ms * 8 + opts.connect_timeout_ms)
        + Duration::from_secs(5);
    for c in clients {
        match tokio::time::timeout(grace, c).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => shared.harness_error("a client task died".into()),
            Err(_) => {
                shared.harness_error("a client did not finish within its grace period".into())
            }
        }
    }

    shared.monitor_stop.store(true, Ordering::SeqCst);
    for m in monitors {
        if tokio::time::timeout(Duration::from_secs(10), m)
            .await
            .is_err()
        {
            shared.harness_error("a status monitor did not stop".into());
        }
    }
    shared.phase("clients done; final heal");
    // Nodes that died by themselves are crashes, whatever the heal does.
    reap_crashes(cluster, &shared, &mut BTreeMap::new(), false);
    // Heal everything (restarting dead nodes), recover, final reads.
    let rec = &shared.rec;
    let all = Value::Nemesis(NemesisValue {
        kind: "final-heal".into(),
        targets: names.clone(),
        detail: "heal all".into(),
    });
    rec.record(
        Process::Nemesis,
        OpType::Invoke,
        F::Heal,
        all.clone(),
        None,
        None,
    );
    match cluster.heal_all() {
        Ok(did) => {
            if !did.is_empty() {
                shared.phase(&format!("final heal: {}", did.join("; ")));
            }
            let v = Value::Nemesis(NemesisValue {
                kind: "final-heal".into(),
                targets: names.clone(),
                detail: did.join("; "),
            });
            rec.record(Process::Nemesis, OpType::Ok, F::Heal, v, None, None);
        }
        Err(e) => {
            rec.record(
                Process::Nemesis,
                OpType::Info,
                F::Heal,
                all,
                None,
                Some(e.to_string()),
            );
            shared.harness_error(format!("final heal: {e:#}"));
        }
    }
    if interrupted {
        anyhow::bail!("interrupted");
    }
    tokio::time::sleep(Duration::from_secs(opts.recovery_s)).await;
    // Every node back and ready (bounded): a restarted or wiped node may
    // need a state transfer first. One that does not make it is reported
    // unavailable (its final read will tell the rest).
    let recovery = Duration::from_secs(opts.startup_timeout_s.max(30));
    if let Err(e) = wait_all(cluster, &executors, &cfg, recovery, None, false).await {
        shared.unavailable(format!("after the final heal: {e}"));
    }
    reap_crashes(cluster, &shared, &mut BTreeMap::new(), false);
    shared.phase("final reads");
    final_reads(opts, cluster, &executors, &cfg, &workload, &shared).await;
    shared.phase("final reads done; consistency check");
    let c = consistency_check(cluster, &executors, &cfg, &shared).await;
    for d in &c.divergences {
        shared.phase(d);
    }
    *shared.consistency.lock().unwrap_or_else(|p| p.into_inner()) = Some(c);
    reap_crashes(cluster, &shared, &mut BTreeMap::new(), false);
    drop(executors);
    shared.phase("consistency check done");
    Ok(())
}

/// How often a node that crashed during the run is restarted by the
/// harness (after that it stays down until the final heal).
const CRASH_RESTARTS: usize = 3;

/// Records every node that exited without the harness killing it as a
/// crash; with `restart`, starts it again (at most [`CRASH_RESTARTS`] times
/// per node, counted in `restarts`).
fn reap_crashes(
    cluster: &mut Cluster,
    shared: &Shared,
    restarts: &mut BTreeMap<usize, usize>,
    restart: bool,
) {
    for (i, status) in cluster.reap_exited() {
        let name = cluster.nodes[i].name.clone();
        let t = shared.rec.now_ns() as f64 / 1e9;
        shared.crash(format!(
            "{name} exited without being killed, seen at {t:.1}s ({status}){}; log tail:\n{}",
            if cluster.is_wiped(i) {
                " after its data directory was wiped"
            } else {
                ""
            },
            cluster.log_tail(i, 12)
        ));
        let n = restarts.entry(i).or_insert(0);
        if restart && *n < CRASH_RESTARTS {
            *n += 1;
            match cluster.start(i) {
                Ok(()) => shared.phase(&format!("restarted {name} after its crash")),
                Err(e) => shared.harness_error(format!("restarting {name} after its crash: {e:#}")),
            }
        }
    }
}

/// Waits (bounded) until every node answers, is ready with the full
/// cluster size (and, with `synced`, is Synced). `Err` names the laggards.
/// Unlike start-up, a node that is down is not an error here: it is simply
/// not ready.
async fn wait_all(
    cluster: &mut Cluster,
    executors: &[NsExecutor],
    cfg: &ClientConfig,
    timeout: Duration,
    db_probe: Option<&'static str>,
    synced: bool,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let n = cluster.nodes.len();
    let mut last: BTreeMap<usize, String> = BTreeMap::new();
    for _round in 0..10_000 {
        last.clear();
        for (i, ex) in executors.iter().enumerate() {
            if !cluster.is_running(i) {
                last.insert(i, "not running".into());
                continue;
            }
            let r = on(
                ex,
                probe(cluster.nodes[i].mysql, cfg.clone(), n, db_probe, synced),
            )
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r);
            if let Err(e) = r {
                last.insert(i, e);
            }
        }
        if last.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let why: Vec<String> = last
        .iter()
        .map(|(i, e)| format!("{}: {e}", cluster.nodes[*i].name))
        .collect();
    Err(format!("not ready after {timeout:?}: {}", why.join("; ")))
}

/// How long a wipe waits for every node to be synced before it is skipped.
const WIPE_PRECONDITION: Duration = Duration::from_secs(60);

async fn nemesis_loop(
    opts: &RunOpts,
    cluster: &mut Cluster,
    executors: &[NsExecutor],
    cfg: &ClientConfig,
    names: &[String],
    shared: &Shared,
    deadline: Instant,
) -> anyhow::Result<()> {
    let mut rng = Rng::derive(opts.seed, 0x6e656d);
    let sched = Schedule {
        interval: Duration::from_secs(opts.interval_s.max(1)),
    };
    let rec = &shared.rec;
    let mut restarts = BTreeMap::new();
    // Bounded: every iteration sleeps at least interval/2 before the deadline.
    for _ in 0..100_000 {
        let wait = sched.next_wait(&mut rng);
        if Instant::now() + wait >= deadline {
            break;
        }
        sleep_watching(cluster, shared, &mut restarts, Instant::now() + wait).await;
        let leader = shared.samples.current_leader(
            names.len(),
            rec.now_ns(),
            (crate::monitor::POLL_TIMEOUT * 3).as_nanos() as u64,
        );
        let fault = match (opts.target, leader) {
            (Target::Leader, Some(l)) => {
                Fault::choose_for_leader(opts.nemesis, names.len(), l, &mut rng)
            }
            (Target::Leader, None) => {
                let t = rec.now_ns() as f64 / 1e9;
                shared.skipped(format!("{t:.1}s: no node reported a leader"));
                continue;
            }
            (Target::Random, _) => Fault::choose(opts.nemesis, names.len(), &mut rng),
        };
        let Some(fault) = fault else {
            continue;
        };
        let v = Value::Nemesis(fault.describe(names));
        if let Fault::Wipe(_) = fault {
            // Wiping a node while another one still lacks the data (e.g.
            // the previous wipe's victim is still receiving its state)
            // could destroy the last copy: that tests the harness, not
            // trireme. Wait until every node is synced, else skip.
            let bound = WIPE_PRECONDITION.min(deadline.saturating_duration_since(Instant::now()));
            let t = rec.now_ns() as f64 / 1e9;
            if let Err(e) = wait_all(cluster, executors, cfg, bound, None, true).await {
                shared.skipped(format!("{t:.1}s {v}: not every node synced ({e})"));
                continue;
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        reap_crashes(cluster, shared, &mut restarts, true);
        rec.record(
            Process::Nemesis,
            OpType::Invoke,
            F::Fault,
            v.clone(),
            None,
            None,
        );
        let applied_at = rec.now_ns();
        let mut window = None;
        match apply_fault(cluster, &fault).await {
            Ok(()) => {
                let (minority, minority_running) = fault.minority(names.len());
                window = Some(FaultWindow {
                    start_ns: applied_at,
                    end_ns: applied_at,
                    kind: fault.describe(names).kind,
                    leader: leader.is_some_and(|l| minority.contains(&l)),
                    minority,
                    minority_running,
                });
                rec.record(
                    Process::Nemesis,
                    OpType::Ok,
                    F::Fault,
                    v.clone(),
                    None,
                    None,
                );
            }
            Err(e) => {
                rec.record(
                    Process::Nemesis,
                    OpType::Info,
                    F::Fault,
                    v.clone(),
                    None,
                    Some(e.to_string()),
                );
                shared.harness_error(format!("nemesis could not apply {v}: {e:#}"));
            }
        }
        let hold = sched.next_wait(&mut rng);
        let until = (Instant::now() + hold).min(deadline);
        sleep_watching(cluster, shared, &mut restarts, until).await;
        rec.record(
            Process::Nemesis,
            OpType::Invoke,
            F::Heal,
            v.clone(),
            None,
            None,
        );
        let heal_at = rec.now_ns();
        if let Some(mut w) = window {
            w.end_ns = heal_at;
            push(&shared.windows, w);
        }
        match heal_fault(cluster, &fault).await {
            Ok(()) => {
                rec.record(Process::Nemesis, OpType::Ok, F::Heal, v, None, None);
            }
            Err(e) => {
                rec.record(
                    Process::Nemesis,
                    OpType::Info,
                    F::Heal,
                    v.clone(),
                    None,
                    Some(e.to_string()),
                );
                shared.harness_error(format!("nemesis could not heal {v}: {e:#}"));
            }
        }
    }
    sleep_watching(cluster, shared, &mut restarts, deadline).await;
    Ok(())
}

/// Sleeps until `until`, looking for crashed nodes every second.
async fn sleep_watching(
    cluster: &mut Cluster,
    shared: &Shared,
    restarts: &mut BTreeMap<usize, usize>,
    until: Instant,
) {
    // Bounded: each step sleeps up to a second, until `until`.
    for _ in 0..100_000 {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        tokio::time::sleep(left.min(Duration::from_secs(1))).await;
        reap_crashes(cluster, shared, restarts, true);
    }
}

/// Time between the single link changes of a clog.
const CLOG_STEP: Duration = Duration::from_millis(300);

async fn apply_fault(cluster: &mut Cluster, fault: &Fault) -> anyhow::Result<()> {
    match fault {
        Fault::Clog { cut, .. } => {
            for k in 1..=cut.len() {
                cluster.partition(&link_grudges(cluster.nodes.len(), &cut[..k]))?;
                tokio::time::sleep(CLOG_STEP).await;
            }
            Ok(())
        }
        f => f.apply(cluster),
    }
}

async fn heal_fault(cluster: &mut Cluster, fault: &Fault) -> anyhow::Result<()> {
    match fault {
        Fault::Clog { restore, .. } => {
            for k in 1..restore.len() {
                cluster.partition(&link_grudges(cluster.nodes.len(), &restore[k..]))?;
                tokio::time::sleep(CLOG_STEP).await;
            }
            cluster.heal_network()
        }
        f => f.heal(cluster),
    }
}

async fn final_reads(
    opts: &RunOpts,
    cluster: &mut Cluster,
    executors: &[NsExecutor],
    cfg: &ClientConfig,
    workload: &Arc<Workload>,
    shared: &Arc<Shared>,
) {
    const ATTEMPTS: usize = 15;
    let mut handles = Vec::new();
    for (i, node) in cluster.nodes.iter().enumerate() {
        let (w, rec, cfg, addr, name) = (
            workload.clone(),
            shared.rec.clone(),
            cfg.clone(),
            node.mysql,
            node.name.clone(),
        );
        let process = Process::Client(1_000_000 + i as u64);
        handles.push((
            node.name.clone(),
            executors[i].spawn(async move {
                let mut s = Session::new(addr, cfg, Some(DB));
                for attempt in 0..ATTEMPTS {
                    // Make the read wait until this node has applied everything
                    // the cluster ordered (ignored if unsupported).
                    let _ = s.exec("SET SESSION wsrep_sync_wait = 1", Stage::Body).await;
                    let v = w.final_read();
                    rec.record(
                        process,
                        OpType::Invoke,
                        F::FinalRead,
                        v.clone(),
                        Some(&name),
                        None,
                    );
                    match w.invoke(&mut s, F::FinalRead, &v).await {
                        Ok(done) => {
                            rec.record(process, OpType::Ok, F::FinalRead, done, Some(&name), None);
                            break;
                        }
                        Err(e) => {
                            let t = outcome(&e, true);
                            rec.record(process, t, F::FinalRead, v, Some(&name), Some(e.msg));
                            if attempt + 1 < ATTEMPTS {
                                tokio::time::sleep(Duration::from_secs(1)).await;
                            }
                        }
                    }
                }
                s.close().await;
            }),
        ));
    }
    let bound = Duration::from_millis((opts.statement_timeout_ms * 4 + 1000) * ATTEMPTS as u64);
    for (name, h) in handles {
        if tokio::time::timeout(bound, h).await.is_err() {
            shared.unavailable(format!(
                "{name}: the final read did not finish in {bound:?}"
            ));
        }
    }
}

/// The end-of-run comparison ([`crate::consistency`]): waits (bounded)
/// until every node reports the same `wsrep_last_committed`, then takes
/// each node's snapshot; when it finds differences while the nodes were not
/// at one position, tries again (up to three rounds, 2 s apart) and
/// calls differences that persist a divergence.
async fn consistency_check(
    cluster: &mut Cluster,
    executors: &[NsExecutor],
    cfg: &ClientConfig,
    shared: &Shared,
) -> Consistency {
    use crate::consistency::{
        compare, confirm_persistent, position, row_differences, snapshot, table_rows, NodeSnapshot,
    };
    const ROUNDS: usize = 3;
    const CONVERGE: Duration = Duration::from_secs(30);
    const SNAPSHOT_ATTEMPTS: usize = 5;
    let mut result = None;
    let mut previous: Option<Consistency> = None;
    for round in 0..ROUNDS {
        // Same position everywhere (bounded).
        let deadline = Instant::now() + CONVERGE;
        let mut positions: Vec<Result<u64, String>> = Vec::new();
        for _ in 0..1_000 {
            positions.clear();
            for (i, ex) in executors.iter().enumerate() {
                let p = on(ex, position(cluster.nodes[i].mysql, cfg.clone()))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r);
                positions.push(p);
            }
            let first = positions[0].as_ref().ok();
            if first.is_some() && positions.iter().all(|p| p.as_ref().ok() == first) {
                break;
            }
            if Instant::now() >= deadline {
                let parts: Vec<String> = positions
                    .iter()
                    .zip(&cluster.nodes)
                    .map(|(p, node)| match p {
                        Ok(p) => format!("{}={p}", node.name),
                        Err(e) => format!("{}: {e}", node.name),
                    })
                    .collect();
                shared.phase(&format!(
                    "consistency round {}: wsrep_last_committed not equal after {CONVERGE:?}: {}",
                    round + 1,
                    parts.join(", ")
                ));
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        // Each node's snapshot, retried a bounded number of times.
        let mut snaps: BTreeMap<String, Result<NodeSnapshot, String>> = BTreeMap::new();
        for (i, ex) in executors.iter().enumerate() {
            let mut last = Err("not attempted".to_owned());
            for attempt in 0..SNAPSHOT_ATTEMPTS {
                last = on(ex, snapshot(cluster.nodes[i].mysql, cfg.clone()))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r);
                if last.is_ok() {
                    break;
                }
                if attempt + 1 < SNAPSHOT_ATTEMPTS {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
            snaps.insert(cluster.nodes[i].name.clone(), last);
        }
        let mut c = compare(&snaps);
        for t in c.checksum_diverged.clone() {
            let mut rows = BTreeMap::new();
            for (i, ex) in executors.iter().enumerate() {
                let r = on(
                    ex,
                    table_rows(cluster.nodes[i].mysql, cfg.clone(), t.clone()),
                )
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r);
                rows.insert(cluster.nodes[i].name.clone(), r);
            }
            c.details.extend(row_differences(&t, &rows, 6));
        }
        if let Some(p) = &previous {
            confirm_persistent(p, &mut c);
        }
        let settled = c.validity != Validity::Unknown
            || snaps.values().any(|s| s.is_err())
            || round + 1 == ROUNDS;
        if settled {
            result = Some(c);
            break;
        }
        shared.phase(&format!(
            "consistency round {}: nodes not at one position, again: {}",
            round + 1,
            c.notes.join("; ")
        ));
        previous = Some(c);
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    result.expect("the last round always settles")
}

struct ClientCtx {
    slot: usize,
    concurrency: usize,
    node: String,
    addr: SocketAddr,
    cfg: ClientConfig,
    workload: Arc<Workload>,
    rec: Arc<Recorder>,
    deadline: Instant,
    stop: Arc<AtomicBool>,
    seed: u64,
    mean_delay: Duration,
    max_ops: u64,
}

/// One client: invoke, complete, pause, until the deadline. A process whose
/// operation ended `info` is retired; the client continues as a new one.
async fn client_loop(ctx: ClientCtx) {
    let mut rng = Rng::derive(ctx.seed, 1_000 + ctx.slot as u64);
    let mut process = ctx.slot as u64;
    let mut s = Session::new(ctx.addr, ctx.cfg.clone(), Some(DB));
    for _ in 0..ctx.max_ops {
        if Instant::now() >= ctx.deadline || ctx.stop.load(Ordering::SeqCst) {
            break;
        }
        let (f, v) = ctx.workload.generate(ctx.slot, &mut rng);
        ctx.rec.record(
            Process::Client(process),
            OpType::Invoke,
            f,
            v.clone(),
            Some(&ctx.node),
            None,
        );
        let mut backoff = Duration::ZERO;
        match ctx.workload.invoke(&mut s, f, &v).await {
            Ok(done) => {
                ctx.rec.record(
                    Process::Client(process),
                    OpType::Ok,
                    f,
                    done,
                    Some(&ctx.node),
                    None,
                );
            }
            Err(e) => {
                let t = outcome(&e, Workload::read_only(f, &v));
                ctx.rec.record(
                    Process::Client(process),
                    t,
                    f,
                    v,
                    Some(&ctx.node),
                    Some(e.msg.clone()),
                );
                if t == OpType::Info {
                    process += ctx.concurrency as u64;
                    s.drop_conn();
                }
                if e.stage == Stage::Connect {
                    backoff = Duration::from_millis(rng.range(100, 500));
                }
            }
        }
        let ms = ctx.mean_delay.as_millis() as u64;
        let pause = Duration::from_millis(rng.range(0, ms * 2)) + backoff;
        let left = ctx.deadline.saturating_duration_since(Instant::now());
        tokio::time::sleep(pause.min(left)).await;
    }
    s.close().await;
}

/// Re-checks a finished run from its directory (`run.json` +
/// `history.jsonl`) and rewrites its summary. What the history does not
/// hold (harness errors, crashes, the consistency check) is kept from the
/// old summary.
pub fn recheck(dir: &Path) -> anyhow::Result<Summary> {
    let opts: RunOpts =
        serde_json::from_slice(&std::fs::read(dir.join("run.json")).context("reading run.json")?)?;
    let (ops, notes) = crate::history::read_jsonl(&dir.join("history.jsonl"))?;
    let names: Vec<String> = (1..=opts.nodes).map(|i| format!("n{i}")).collect();
    let mut check = Workload::new(opts.workload).check(&ops, &names);
    for n in notes {
        check.note(n);
    }
    let old: Option<Summary> = std::fs::read(dir.join("summary.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let t = tally(&ops);
    let mut summary = Summary {
        run_id: old.as_ref().map(|o| o.run_id.clone()).unwrap_or_default(),
        workload: opts.workload.name().into(),
        nemesis: opts.nemesis.name().into(),
        seed: opts.seed,
        nodes: opts.nodes,
        net: opts.net,
        time_s: opts.time_s,
        duration_s: old.as_ref().map_or(0.0, |o| o.duration_s),
        ops: t.ops,
        by_f: t.by_f,
        faults: t.faults,
        faults_applied: t.applied,
        faults_failed: t.failed,
        faults_skipped: old
            .as_ref()
            .map(|o| o.faults_skipped.clone())
            .unwrap_or_default(),
        verdict: Verdict::Unknown,
        check: Some(check),
        consistency: old.as_ref().and_then(|o| o.consistency.clone()),
        crashes: old.as_ref().map(|o| o.crashes.clone()).unwrap_or_default(),
        harness_errors: old
            .as_ref()
            .map(|o| o.harness_errors.clone())
            .unwrap_or_default(),
        unavailable: old
            .as_ref()
            .map(|o| o.unavailable.clone())
            .unwrap_or_default(),
        replay: opts.replay_command(),
        dir: dir.to_path_buf(),
        availability: old.as_ref().and_then(|o| o.availability.clone()),
        target: opts.target,
    };
    summary.verdict = verdict(&summary);
    write_results(dir, &summary, &ops)?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(nemesis: &str, checker: Validity, consistency: Option<Validity>) -> Summary {
        let mut check = CheckResult::new("test");
        check.validity = checker;
        Summary {
            run_id: "trjtest0".into(),
            workload: "set".into(),
            nemesis: nemesis.into(),
            seed: 1,
            nodes: 3,
            net: NetMode::Netns,
            time_s: 1,
            duration_s: 1.0,
            ops: Counts::default(),
            by_f: BTreeMap::new(),
            faults: vec![],
            faults_applied: 2,
            faults_failed: 0,
            faults_skipped: vec![],
            verdict: Verdict::Unknown,
            check: Some(check),
            consistency: consistency.map(|v| Consistency {
                validity: v,
                divergences: vec![],
                notes: vec![],
                tables_compared: 1,
                positions: BTreeMap::new(),
                checksum_diverged: vec![],
                details: vec![],
            }),
            crashes: vec![],
            harness_errors: vec![],
            unavailable: vec![],
            replay: String::new(),
            dir: PathBuf::new(),
            availability: None,
            target: Target::Random,
        }
    }

    #[test]
    fn verdicts_put_harness_failures_above_unknown_and_below_invalid() {
        let ok = Some(Validity::Valid);
        assert_eq!(
            verdict(&summary("kill", Validity::Valid, ok)),
            Verdict::Valid
        );
        // A genuine unknown: a node unavailable for its final read.
        assert_eq!(
            verdict(&summary("kill", Validity::Unknown, ok)),
            Verdict::Unknown
        );
        let mut s = summary("kill", Validity::Valid, ok);
        s.unavailable.push("n2: not ready".into());
        assert_eq!(verdict(&s), Verdict::Unknown);
        // Start-up or fault failures never hide behind unknown.
        let mut s = summary("kill", Validity::Unknown, None);
        s.harness_errors
            .push("starting the cluster: n1 exited".into());
        assert_eq!(verdict(&s), Verdict::HarnessFailure);
        assert_eq!(verdict(&s).exit_code(), 3);
        let mut s = summary("partition", Validity::Valid, ok);
        s.faults_applied = 0;
        assert_eq!(verdict(&s), Verdict::HarnessFailure, "no fault applied");
        s.nemesis = "none".into();
        assert_eq!(verdict(&s), Verdict::Valid, "no nemesis, no fault needed");
        // Anomalies, divergences and crashes are invalid whatever else.
        let mut s = summary("kill", Validity::Invalid, None);
        s.harness_errors.push("nemesis could not apply".into());
        assert_eq!(verdict(&s), Verdict::Invalid);
        assert_eq!(
            verdict(&summary("kill", Validity::Valid, Some(Validity::Invalid))),
            Verdict::Invalid
        );
        let mut s = summary("kill", Validity::Unknown, ok);
        s.crashes.push("n3 exited".into());
        assert_eq!(verdict(&s), Verdict::Invalid);
        assert_eq!(
            Verdict::Unknown.and(Verdict::HarnessFailure),
            Verdict::HarnessFailure
        );
        assert_eq!(
            Verdict::Invalid.and(Verdict::HarnessFailure),
            Verdict::Invalid
        );
    }

    #[test]
    fn old_summaries_still_parse() {
        let s = summary("kill", Validity::Valid, None);
        let mut v = serde_json::to_value(&s).unwrap();
        let o = v.as_object_mut().unwrap();
        for k in [
            "duration_s",
            "faults_applied",
            "faults_failed",
            "faults_skipped",
            "consistency",
            "crashes",
            "unavailable",
        ] {
            o.remove(k);
        }
        o.insert("verdict".into(), "valid".into());
        let back: Summary = serde_json::from_value(v).unwrap();
        assert_eq!(back.verdict, Verdict::Valid);
        assert_eq!(back.faults_applied, 0);
    }

    #[test]
    fn timestamp_has_the_expected_shape() {
        let t = timestamp();
        assert_eq!(t.len(), 15, "{t}");
        assert_eq!(&t[8..9], "T");
        assert!(t[..4].parse::<u32>().unwrap() >= 2024);
    }

    #[test]
    fn tally_counts_client_outcomes_and_lists_faults() {
        let rec = Recorder::new(Instant::now(), None);
        let nv = Value::Nemesis(NemesisValue {
            kind: "pause".into(),
            targets: vec!["n2".into()],
            detail: String::new(),
        });
        rec.record(
            Process::Client(0),
            OpType::Invoke,
            F::Add,
            Value::Element(1),
            None,
            None,
        );
        rec.record(
            Process::Client(0),
            OpType::Ok,
            F::Add,
            Value::Element(1),
            None,
            None,
        );
        rec.record(
            Process::Client(1),
            OpType::Invoke,
            F::Add,
            Value::Element(2),
            None,
            None,
        );
        rec.record(
            Process::Nemesis,
            OpType::Invoke,
            F::Fault,
            nv.clone(),
            None,
            None,
        );
        rec.record(Process::Nemesis, OpType::Ok, F::Fault, nv, None, None);
        let t = tally(&rec.snapshot());
        let (c, by_f, faults) = (t.ops, t.by_f, t.faults);
        assert_eq!(t.applied, 1);
        assert_eq!(t.failed, 0);
        assert_eq!(
            c,
            Counts {
                total: 2,
                ok: 1,
                fail: 0,
                info: 1
            }
        );
        assert_eq!(by_f["add"].total, 2);
        assert_eq!(faults.len(), 1);
        assert!(faults[0].ends_with("pause n2"), "{}", faults[0]);
    }
}
