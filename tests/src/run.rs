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
//! 5. Heal everything, wait `--recovery`, run a final read on every node
//!    (retrying a bounded number of times).
//! 6. Stop the nodes, remove the network, check the history, and write
//!    `summary.json`, `summary.txt` and `latency.svg`.
//!
//! Harness failures (the cluster did not start, a nemesis command failed)
//! are reported apart from what the checker found: they make the verdict
//! `unknown` (or are listed next to a verdict that still stands), never
//! `invalid`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::checker::{CheckResult, Validity};
use crate::cluster::{Cluster, ClusterSpec, NetMode, NsExecutor};
use crate::history::{pair, NemesisValue, Op, OpType, Process, Recorder, Value, F};
use crate::nemesis::{link_grudges, Fault, NemesisKind, Schedule};
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
    /// Client operations (final reads included).
    pub ops: Counts,
    pub by_f: BTreeMap<String, Counts>,
    /// Fault descriptions in order.
    pub faults: Vec<String>,
    pub verdict: Validity,
    pub check: Option<CheckResult>,
    /// Failures of the harness (not of trireme).
    pub harness_errors: Vec<String>,
    pub replay: String,
    pub dir: PathBuf,
}

/// Counts client operations by outcome, and lists faults.
pub fn tally(ops: &[Op]) -> (Counts, BTreeMap<String, Counts>, Vec<String>) {
    let mut all = Counts::default();
    let mut by_f: BTreeMap<String, Counts> = BTreeMap::new();
    let mut faults = Vec::new();
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
                        if c.typ() != OpType::Ok {
                            d.push_str(" (failed to apply)");
                        }
                        faults.push(d);
                    }
                }
            }
        }
    }
    (all, by_f, faults)
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
        self.harness_errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(e);
    }
}

/// Runs one test and writes its results. Returns the summary; errors only
/// when not even the results directory could be written.
pub fn run(opts: &RunOpts) -> anyhow::Result<Summary> {
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
    let harness_errors = shared
        .harness_errors
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let mut verdict = check.validity;
    if completed.is_err() && verdict == Validity::Valid {
        // The run did not complete: a clean history proves nothing.
        verdict = Validity::Unknown;
    }
    let (counts, by_f, faults) = tally(&ops);
    let summary = Summary {
        run_id,
        workload: opts.workload.name().into(),
        nemesis: opts.nemesis.name().into(),
        seed: opts.seed,
        nodes: opts.nodes,
        net: opts.net,
        time_s: opts.time_s,
        ops: counts,
        by_f,
        faults,
        verdict,
        check: Some(check),
        harness_errors,
        replay: opts.replay_command(),
        dir: dir.clone(),
    };
    write_results(&dir, &summary, &ops)?;
    Ok(summary)
}

/// Writes `summary.json`, `summary.txt` and `latency.svg`.
pub fn write_results(dir: &Path, summary: &Summary, ops: &[Op]) -> anyhow::Result<()> {
    std::fs::write(
        dir.join("summary.json"),
        serde_json::to_vec_pretty(summary)?,
    )?;
    std::fs::write(dir.join("summary.txt"), render_summary(summary))?;
    let title = format!(
        "trireme {} x {} ({} nodes, seed {}): {:?}",
        summary.workload, summary.nemesis, summary.nodes, summary.seed, summary.verdict
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
    let _ = writeln!(t, "faults: {}", s.faults.len());
    for f in &s.faults {
        let _ = writeln!(t, "  {f}");
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
    if s.harness_errors.is_empty() {
        let _ = writeln!(t, "harness errors: none");
    } else {
        let _ = writeln!(t, "harness errors:");
        for e in &s.harness_errors {
            let _ = writeln!(t, "  {e}");
        }
    }
    let _ = writeln!(t, "verdict: {:?}", s.verdict);
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
    let result = drive_cluster(opts, &mut cluster, workload, shared).await;
    let errors = cluster.teardown();
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

/// Whether the node at `addr` answers and (in a cluster) is synced with all
/// `n` members. `Err` carries what is still missing.
async fn probe(
    addr: SocketAddr,
    cfg: ClientConfig,
    n: usize,
    db_probe: Option<&'static str>,
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
                probe(cluster.nodes[i].mysql, cfg.clone(), n, db_probe),
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

    // The nemesis, in this task, until the deadline (or Ctrl-C).
    let interrupted = tokio::select! {
        r = nemesis_loop(opts, cluster, &names, &shared, deadline) => { r?; false }
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

    shared.phase("clients done; final heal");
    // Heal everything, recover, final reads.
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
    shared.phase("final reads");
    final_reads(opts, cluster, &executors, &cfg, &workload, &shared).await;
    drop(executors);
    shared.phase("final reads done");
    Ok(())
}

async fn nemesis_loop(
    opts: &RunOpts,
    cluster: &mut Cluster,
    names: &[String],
    shared: &Shared,
    deadline: Instant,
) -> anyhow::Result<()> {
    let mut rng = Rng::derive(opts.seed, 0x6e656d);
    let sched = Schedule {
        interval: Duration::from_secs(opts.interval_s.max(1)),
    };
    let rec = &shared.rec;
    // Bounded: every iteration sleeps at least interval/2 before the deadline.
    for _ in 0..100_000 {
        let wait = sched.next_wait(&mut rng);
        if Instant::now() + wait >= deadline {
            break;
        }
        tokio::time::sleep(wait).await;
        let Some(fault) = Fault::choose(opts.nemesis, names.len(), &mut rng) else {
            continue;
        };
        let v = Value::Nemesis(fault.describe(names));
        rec.record(
            Process::Nemesis,
            OpType::Invoke,
            F::Fault,
            v.clone(),
            None,
            None,
        );
        match apply_fault(cluster, &fault).await {
            Ok(()) => {
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
        tokio::time::sleep_until(until.into()).await;
        rec.record(
            Process::Nemesis,
            OpType::Invoke,
            F::Heal,
            v.clone(),
            None,
            None,
        );
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
    let left = deadline.saturating_duration_since(Instant::now());
    tokio::time::sleep(left).await;
    Ok(())
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
        handles.push(executors[i].spawn(async move {
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
        }));
    }
    let bound = Duration::from_millis((opts.statement_timeout_ms * 4 + 1000) * ATTEMPTS as u64);
    for h in handles {
        if tokio::time::timeout(bound, h).await.is_err() {
            shared.harness_error("a final read did not finish in time".into());
        }
    }
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
        let (f, v) = ctx.workload.generate(&mut rng);
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
/// `history.jsonl`) and rewrites its summary.
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
    let (counts, by_f, faults) = tally(&ops);
    let harness_errors = old
        .as_ref()
        .map(|o| o.harness_errors.clone())
        .unwrap_or_default();
    let mut verdict = check.validity;
    if old.as_ref().is_some_and(|o| o.verdict == Validity::Unknown) && verdict == Validity::Valid {
        verdict = Validity::Unknown;
    }
    let summary = Summary {
        run_id: old.as_ref().map(|o| o.run_id.clone()).unwrap_or_default(),
        workload: opts.workload.name().into(),
        nemesis: opts.nemesis.name().into(),
        seed: opts.seed,
        nodes: opts.nodes,
        net: opts.net,
        time_s: opts.time_s,
        ops: counts,
        by_f,
        faults,
        verdict,
        check: Some(check),
        harness_errors,
        replay: opts.replay_command(),
        dir: dir.to_path_buf(),
    };
    write_results(dir, &summary, &ops)?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let (c, by_f, faults) = tally(&rec.snapshot());
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
