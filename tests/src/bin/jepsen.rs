//! `jepsen`: run trireme under faults and check what it did.
//!
//! ```text
//! cargo build -j2 -p trireme-node
//! cargo run -p trireme-tests --bin jepsen -- --workload bank --nemesis partition --time 60
//! cargo run -p trireme-tests --bin jepsen -- --suite ci          # the CI set
//! cargo run -p trireme-tests --bin jepsen -- --cleanup           # after a crash
//! cargo run -p trireme-tests --bin jepsen -- --check target/jepsen/latest
//! ```
//!
//! Exit status: 0 valid; 1 invalid (an anomaly, a divergence between
//! nodes, or a node crash); 2 unknown (the history does not allow a
//! verdict, e.g. a node stayed unavailable for its final read); 3 harness
//! failure (bad options, no binary, the cluster did not start, a fault
//! could not be applied or healed, or a nemesis applied no fault at all).
//! A suite exits with its worst run's status (1 before 3 before 2).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use trireme_tests::cluster::{self, NetMode};
use trireme_tests::nemesis::{NemesisKind, Target};
use trireme_tests::rng::Rng;
use trireme_tests::run::{self, RunOpts, Summary, Verdict};
use trireme_tests::workload::WorkloadKind;

#[derive(Parser, Debug)]
#[command(
    name = "jepsen",
    about = "Jepsen-style tests of trireme: real nodes in network namespaces, faults, checked histories",
    after_help = "Workloads: bank (total constant, no negative balances, nodes agree), \
list-append (Elle: G0, G1a, G1b, G1c, G-single, G-nonadjacent forbidden under SI; G2-item reported), \
set (acknowledged inserts survive), ddl (CREATE / ALTER ADD COLUMN / ADD INDEX / DROP TABLE racing with inserts on every node).\n\
Nemeses: none, partition (isolate one | halves | majorities ring, via nft in the namespaces), \
kill (SIGKILL one | majority | all, restart), pause (SIGSTOP one | majority), clog (swizzle-clogging: cut a node set's links one at a time, restore in random order), \
wipe (SIGKILL one node, delete its data directory, restart it without bootstrap; 3+ nodes), mix (all but wipe).\n\
Every run ends with a consistency check: databases, SHOW CREATE TABLE and CHECKSUM TABLE of every user table equal on every node.\n\
Exit status: 0 valid, 1 invalid (anomaly, divergence, crash), 2 unknown (a node unavailable at the end), \
3 harness failure (did not start, fault not applied, no fault at all). Needs root for --net netns."
)]
struct Cli {
    /// What the clients do.
    #[arg(long, short, value_enum, default_value = "bank")]
    workload: WorkloadKind,
    /// What goes wrong.
    #[arg(long, short, value_enum, default_value = "none")]
    nemesis: NemesisKind,
    /// Which node single-node faults hit: random, or the current raft
    /// leader (partition isolates it, kill kills it, pause pauses it).
    #[arg(long, value_enum, default_value = "random")]
    target: Target,
    /// Seconds of workload (soak runs: any length).
    #[arg(long, default_value_t = 60)]
    time: u64,
    /// Seed for every random choice (printed; pass it back to replay).
    #[arg(long)]
    seed: Option<u64>,
    /// Number of trireme nodes.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Number of clients (bound to nodes round-robin). Default: 2 per node, at least 4.
    #[arg(long)]
    concurrency: Option<usize>,
    /// Target operations per second over all clients.
    #[arg(long, default_value_t = 60.0)]
    rate: f64,
    /// Mean seconds between faults, and mean fault duration.
    #[arg(long, default_value_t = 5)]
    interval: u64,
    /// Seconds to wait after the final heal before the final reads.
    #[arg(long, default_value_t = 5)]
    recovery: u64,
    /// netns: one network namespace per node (root); loopback: 127.0.0.1, no partitions.
    #[arg(long, value_enum, default_value = "netns")]
    net: NetMode,
    /// The trireme binary [default: $CARGO_TARGET_DIR/debug/trireme, else target/debug/trireme].
    #[arg(long, env = "TRIREME_BIN")]
    trireme: Option<PathBuf>,
    /// Where result directories go [default: $CARGO_TARGET_DIR/jepsen, else target/jepsen].
    #[arg(long)]
    results: Option<PathBuf>,
    #[arg(long, default_value = "jepsen")]
    root_password: String,
    /// Per-statement timeout (ms); a COMMIT that exceeds it is :info.
    #[arg(long, default_value_t = 5_000)]
    statement_timeout_ms: u64,
    #[arg(long, default_value_t = 2_000)]
    connect_timeout_ms: u64,
    /// Loopback mode: first MySQL port (peers use +100); 0 picks a free range.
    #[arg(long, default_value_t = 0)]
    base_port: u16,
    /// A TOML file appended to every node's configuration.
    #[arg(long)]
    extra_config: Option<PathBuf>,
    /// Seconds nodes get to start and form the cluster.
    #[arg(long, default_value_t = 60)]
    startup_timeout: u64,
    /// Remove what crashed runs left behind (processes, namespaces), then exit.
    #[arg(long)]
    cleanup: bool,
    /// Run a set of tests instead of one: `ci` = bank, list-append and set x
    /// {partition, kill, pause}, bank x wipe, list-append x {partition, kill}
    /// aimed at the leader, ddl x partition (partitions only
    /// with --nodes >= 2 and netns, wipe only with --nodes >= 3), 25 s each
    /// unless --time is given.
    #[arg(long)]
    suite: Option<String>,
    /// Re-check a finished run's directory and rewrite its summary.
    #[arg(long)]
    check: Option<PathBuf>,
}

fn exit_for(v: Verdict) -> ExitCode {
    ExitCode::from(v.exit_code())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match real_main(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("jepsen: {e:#}");
            ExitCode::from(3)
        }
    }
}

fn real_main(cli: Cli) -> anyhow::Result<ExitCode> {
    if cli.cleanup {
        let done = cluster::cleanup(None)?;
        if done.is_empty() {
            println!("nothing to clean up");
        }
        for d in done {
            println!("{d}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(dir) = &cli.check {
        let s = run::recheck(dir)?;
        print!("{}", run::render_summary(&s));
        return Ok(exit_for(s.verdict));
    }
    let seed = cli.seed.unwrap_or_else(Rng::fresh_seed);
    let extra_config = match &cli.extra_config {
        Some(p) => {
            std::fs::read_to_string(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?
        }
        None => String::new(),
    };
    let base = RunOpts {
        workload: cli.workload,
        nemesis: cli.nemesis,
        time_s: cli.time,
        seed,
        nodes: cli.nodes,
        concurrency: cli.concurrency.unwrap_or((2 * cli.nodes).max(4)),
        rate: cli.rate,
        interval_s: cli.interval,
        recovery_s: cli.recovery,
        net: cli.net,
        binary: cli
            .trireme
            .clone()
            .unwrap_or_else(|| trireme_tests::target_dir().join("debug/trireme")),
        results_root: cli
            .results
            .clone()
            .unwrap_or_else(|| trireme_tests::target_dir().join("jepsen")),
        root_password: cli.root_password.clone(),
        statement_timeout_ms: cli.statement_timeout_ms,
        connect_timeout_ms: cli.connect_timeout_ms,
        base_port: cli.base_port,
        extra_config,
        startup_timeout_s: cli.startup_timeout,
        target: cli.target,
    };
    match cli.suite.as_deref() {
        None => {
            if let Err(e) = base.validate() {
                anyhow::bail!("{e}");
            }
            eprintln!("seed {seed} (replay with --seed {seed})");
            let s = run::run(&base)?;
            print!("{}", run::render_summary(&s));
            Ok(exit_for(s.verdict))
        }
        Some("ci") => {
            let explicit_time = std::env::args().any(|a| a == "--time" || a.starts_with("--time="));
            ci_suite(base, explicit_time)
        }
        Some(other) => anyhow::bail!("unknown suite {other:?} (known: ci)"),
    }
}

/// The runs of the CI set for this many nodes and this network.
fn ci_runs(nodes: usize, net: NetMode) -> Vec<(WorkloadKind, NemesisKind, Target)> {
    let partitions = nodes >= 2 && net == NetMode::Netns;
    let mut nemeses = Vec::new();
    if partitions {
        nemeses.push(NemesisKind::Partition);
    }
    nemeses.extend([NemesisKind::Kill, NemesisKind::Pause]);
    let mut runs = Vec::new();
    for w in [
        WorkloadKind::Bank,
        WorkloadKind::ListAppend,
        WorkloadKind::Set,
    ] {
        for n in &nemeses {
            runs.push((w, *n, Target::Random));
        }
    }
    if nodes >= 3 {
        runs.push((WorkloadKind::Bank, NemesisKind::Wipe, Target::Random));
        // Availability: the leader itself cut off, and killed.
        if partitions {
            runs.push((
                WorkloadKind::ListAppend,
                NemesisKind::Partition,
                Target::Leader,
            ));
        }
        runs.push((WorkloadKind::ListAppend, NemesisKind::Kill, Target::Leader));
    }
    runs.push((
        WorkloadKind::Ddl,
        if partitions {
            NemesisKind::Partition
        } else {
            NemesisKind::Kill
        },
        Target::Random,
    ));
    runs
}

/// The CI set ([`ci_runs`]), one run after the other; a table of results.
fn ci_suite(mut base: RunOpts, explicit_time: bool) -> anyhow::Result<ExitCode> {
    if !explicit_time {
        base.time_s = 25;
    }
    let started = std::time::Instant::now();
    let mut results: Vec<Summary> = Vec::new();
    let mut worst = Verdict::Valid;
    for (w, n, target) in ci_runs(base.nodes, base.net) {
        let mut o = base.clone();
        o.workload = w;
        o.nemesis = n;
        o.target = target;
        if let Err(e) = o.validate() {
            anyhow::bail!("{e}");
        }
        let s = run::run(&o)?;
        eprintln!(
            "{} x {}: {} in {:.0} s, {} fault(s) applied ({})",
            w.name(),
            n.name(),
            s.verdict.name(),
            s.duration_s,
            s.faults_applied,
            s.dir.display()
        );
        for line in problems(&s) {
            eprintln!("  {line}");
        }
        worst = worst.and(s.verdict);
        results.push(s);
    }
    let mut table = ci_table(&results);
    table.push_str(&format!(
        "\n{} runs in {:.0} s; worst verdict: {} (exit {})\n",
        results.len(),
        started.elapsed().as_secs_f64(),
        worst.name(),
        worst.exit_code()
    ));
    let problem_lines: Vec<String> = results
        .iter()
        .flat_map(|s| {
            problems(s)
                .into_iter()
                .map(move |p| format!("- {} x {}: {p}", s.workload, s.nemesis))
        })
        .collect();
    if !problem_lines.is_empty() {
        table.push_str("\nProblems:\n");
        for p in problem_lines {
            table.push_str(&p);
            table.push('\n');
        }
    }
    let path = base
        .results_root
        .join(format!("ci-{}.md", run::timestamp()));
    std::fs::write(&path, &table)?;
    print!("{table}");
    println!("table written to {}", path.display());
    Ok(exit_for(worst))
}

/// One line per thing that went wrong in a run (first line of each).
fn problems(s: &Summary) -> Vec<String> {
    let first = |e: &String| e.lines().next().unwrap_or_default().to_owned();
    let mut out = Vec::new();
    out.extend(
        s.harness_errors
            .iter()
            .map(|e| format!("harness: {}", first(e))),
    );
    out.extend(s.crashes.iter().map(|e| format!("crash: {}", first(e))));
    if let Some(c) = &s.consistency {
        out.extend(c.divergences.iter().cloned());
    }
    if let Some(c) = &s.check {
        out.extend(
            c.anomaly_counts
                .iter()
                .filter(|(k, _)| {
                    c.anomalies
                        .iter()
                        .find(|a| &a.kind == *k)
                        .is_none_or(|a| a.forbidden)
                })
                .map(|(k, n)| format!("anomaly {k}: {n}")),
        );
    }
    if s.verdict == Verdict::Unknown {
        out.extend(
            s.unavailable
                .iter()
                .map(|e| format!("unavailable: {}", first(e))),
        );
        if let Some(c) = &s.check {
            out.extend(c.notes.iter().map(|n| format!("checker: {n}")));
        }
        if let Some(c) = &s.consistency {
            out.extend(c.notes.iter().map(|n| format!("consistency: {n}")));
        }
    }
    if s.nemesis != "none" && s.faults_applied == 0 {
        out.push(format!("the {} nemesis applied no fault", s.nemesis));
    }
    out
}

fn ci_table(results: &[Summary]) -> String {
    let mut t = String::from(
        "| workload | nemesis | target | nodes | time (s) | ops | ok | fail | info | faults applied | longest majority commit gap (s) | minority non-Primary after (s) | leader / view changes | crashes | anomalies | consistency | verdict | results |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for s in results {
        let anomalies = s
            .check
            .as_ref()
            .map(|c| {
                if c.anomaly_counts.is_empty() {
                    "none".to_owned()
                } else {
                    c.anomaly_counts
                        .iter()
                        .map(|(k, n)| format!("{k}: {n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            })
            .unwrap_or_default();
        let consistency = match &s.consistency {
            None => "not checked".to_owned(),
            Some(c) if !c.divergences.is_empty() => {
                format!("{} divergence(s)", c.divergences.len())
            }
            Some(c) => format!("{:?}, {} tables", c.validity, c.tables_compared).to_lowercase(),
        };
        let attempted = s.faults_applied + s.faults_failed;
        let secs = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2}"));
        let (gap, minority, changes) = match &s.availability {
            Some(a) => (
                secs(a.max_gap_s),
                secs(a.max_minority_s),
                format!("{} / {}", a.leader_changes, a.view_changes),
            ),
            None => ("-".into(), "-".into(), "-".into()),
        };
        t.push_str(&format!(
            "| {} | {} | {} | {} | {:.0} | {} | {} | {} | {} | {}/{}{} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            s.workload,
            s.nemesis,
            s.target.name(),
            s.nodes,
            s.duration_s,
            s.ops.total,
            s.ops.ok,
            s.ops.fail,
            s.ops.info,
            s.faults_applied,
            attempted,
            if s.faults_skipped.is_empty() {
                String::new()
            } else {
                format!(" ({} skipped)", s.faults_skipped.len())
            },
            gap,
            minority,
            changes,
            s.crashes.len(),
            anomalies,
            consistency,
            s.verdict.name(),
            s.dir.display()
        ));
    }
    t
}
