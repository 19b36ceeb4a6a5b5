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
//! Exit status: 0 valid, 1 invalid (an anomaly was found), 2 unknown (the
//! history does not allow a verdict, or the run did not complete), 3 the
//! harness could not run at all (bad options, no binary, no results dir).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use trireme_tests::checker::Validity;
use trireme_tests::cluster::{self, NetMode};
use trireme_tests::nemesis::NemesisKind;
use trireme_tests::rng::Rng;
use trireme_tests::run::{self, RunOpts, Summary};
use trireme_tests::workload::WorkloadKind;

fn workspace_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

#[derive(Parser, Debug)]
#[command(
    name = "jepsen",
    about = "Jepsen-style tests of trireme: real nodes in network namespaces, faults, checked histories",
    after_help = "Workloads: bank (total constant, no negative balances, nodes agree), \
list-append (Elle: G0, G1a, G1b, G1c, G-single, G-nonadjacent forbidden under SI; G2-item reported), \
set (acknowledged inserts survive).\n\
Nemeses: none, partition (isolate one | halves | majorities ring, via nft in the namespaces), \
kill (SIGKILL one | majority | all, restart), pause (SIGSTOP one | majority), clog (swizzle-clogging: cut a node set's links one at a time, restore in random order), mix.\n\
Exit status: 0 valid, 1 invalid, 2 unknown, 3 harness failure. Needs root for --net netns."
)]
struct Cli {
    /// What the clients do.
    #[arg(long, short, value_enum, default_value = "bank")]
    workload: WorkloadKind,
    /// What goes wrong.
    #[arg(long, short, value_enum, default_value = "none")]
    nemesis: NemesisKind,
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
    /// The trireme binary.
    #[arg(long, env = "TRIREME_BIN")]
    trireme: Option<PathBuf>,
    /// Where result directories go.
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
    /// Run a set of tests instead of one: `ci` = every workload x
    /// {partition, kill, pause} (partition only with --nodes >= 2 and netns), 30 s each unless --time is given.
    #[arg(long)]
    suite: Option<String>,
    /// Re-check a finished run's directory and rewrite its summary.
    #[arg(long)]
    check: Option<PathBuf>,
}

fn exit_for(v: Validity) -> ExitCode {
    ExitCode::from(match v {
        Validity::Valid => 0,
        Validity::Invalid => 1,
        Validity::Unknown => 2,
    })
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
            .unwrap_or_else(|| workspace_dir().join("target/debug/trireme")),
        results_root: cli
            .results
            .clone()
            .unwrap_or_else(|| workspace_dir().join("target/jepsen")),
        root_password: cli.root_password.clone(),
        statement_timeout_ms: cli.statement_timeout_ms,
        connect_timeout_ms: cli.connect_timeout_ms,
        base_port: cli.base_port,
        extra_config,
        startup_timeout_s: cli.startup_timeout,
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

/// Every workload against partition (when possible), kill and pause.
fn ci_suite(mut base: RunOpts, explicit_time: bool) -> anyhow::Result<ExitCode> {
    if !explicit_time {
        base.time_s = 30;
    }
    let mut nemeses = Vec::new();
    if base.nodes >= 2 && base.net == NetMode::Netns {
        nemeses.push(NemesisKind::Partition);
    }
    nemeses.extend([NemesisKind::Kill, NemesisKind::Pause]);
    let mut results: Vec<Summary> = Vec::new();
    let mut worst = Validity::Valid;
    for w in [
        WorkloadKind::Bank,
        WorkloadKind::ListAppend,
        WorkloadKind::Set,
    ] {
        for n in &nemeses {
            let mut o = base.clone();
            o.workload = w;
            o.nemesis = *n;
            if let Err(e) = o.validate() {
                anyhow::bail!("{e}");
            }
            let s = run::run(&o)?;
            eprintln!(
                "{} x {}: {:?} ({})",
                w.name(),
                n.name(),
                s.verdict,
                s.dir.display()
            );
            worst = worst.and(s.verdict);
            results.push(s);
        }
    }
    let table = ci_table(&results);
    let path = base
        .results_root
        .join(format!("ci-{}.md", run::timestamp()));
    std::fs::write(&path, &table)?;
    print!("{table}");
    println!("table written to {}", path.display());
    Ok(exit_for(worst))
}

fn ci_table(results: &[Summary]) -> String {
    let mut t = String::from(
        "| workload | nemesis | nodes | ops | ok | fail | info | faults | anomalies | verdict | results |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
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
        t.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:?} | {} |\n",
            s.workload,
            s.nemesis,
            s.nodes,
            s.ops.total,
            s.ops.ok,
            s.ops.fail,
            s.ops.info,
            s.faults.len(),
            anomalies,
            s.verdict,
            s.dir.display()
        ));
    }
    t
}
