//! `sqldiff`: runs the differential SQL corpus against a reference MariaDB
//! and trireme (one node, or several: cluster mode), prints the per-file
//! table and the work list, and checks the expectations.
//!
//! ```text
//! tests/mariadb.sh start /tmp/sqldiff-maria 3390
//! cargo run -p trireme-tests --bin sqldiff -- \
//!     --reference mysql://root:sqldiff@127.0.0.1:3390 \
//!     --target mysql://root:pw@127.0.0.1:3307 [--target ...] [--update]
//! ```
//!
//! Exit status: 0 when every difference is listed or allowed and no listed
//! statement matches; 1 otherwise; 2 when the run itself failed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use trireme_tests::sqldiff;

#[derive(Parser, Debug)]
#[command(about = "Differential SQL test: the corpus on MariaDB and on trireme, answers compared")]
struct Args {
    /// The reference server (MariaDB).
    #[arg(long, env = "SQLDIFF_REFERENCE")]
    reference: String,
    /// A trireme endpoint; repeat (or comma-separate) for cluster mode.
    #[arg(long = "target", required = true, value_delimiter = ',')]
    targets: Vec<String>,
    /// The corpus directory (default: the crate's `corpus/`).
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// Directory of the `<file>.fail` lists (default: `<corpus>/expected`).
    #[arg(long)]
    expected: Option<PathBuf>,
    /// The allow-list (default: `<corpus>/ALLOWED.md`).
    #[arg(long)]
    allowed: Option<PathBuf>,
    /// Only these corpus files (stems, e.g. `collations`); repeatable.
    #[arg(long)]
    only: Vec<String>,
    /// Rewrite the `.fail` lists from this run (of the files it ran).
    #[arg(long)]
    update: bool,
    /// Cluster mode: `wsrep_sync_wait` of every trireme session.
    #[arg(long, default_value_t = 7)]
    sync_wait: i64,
    /// Cluster mode: do not wait for a node to catch up before SHOW /
    /// DESCRIBE (to test trireme's own `wsrep_sync_wait` bit 8).
    #[arg(long)]
    no_show_barrier: bool,
    /// Per-statement timeout, in seconds.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Keep the `sqldiff_*` databases.
    #[arg(long)]
    keep: bool,
    /// Write `<dir>/<file>.diff` with both answers of every differing statement.
    #[arg(long)]
    diff_dir: Option<PathBuf>,
    /// Print each statement as it runs.
    #[arg(long, short)]
    verbose: bool,
    /// List every statement the reference rejected (for reviewing the
    /// corpus: an error there should be the point of the statement).
    #[arg(long)]
    reference_errors: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let corpus = args
        .corpus
        .clone()
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus"));
    let cfg = sqldiff::Config {
        reference: args.reference.clone(),
        targets: args.targets.clone(),
        expected: args
            .expected
            .clone()
            .unwrap_or_else(|| corpus.join("expected")),
        allowed: args
            .allowed
            .clone()
            .unwrap_or_else(|| corpus.join("ALLOWED.md")),
        corpus,
        only: args.only.clone(),
        sync_wait: args.sync_wait,
        show_barrier: !args.no_show_barrier,
        timeout: Duration::from_secs(args.timeout),
        keep: args.keep,
        verbose: args.verbose,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let report = match rt.block_on(sqldiff::run(&cfg)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("sqldiff: {e:#}");
            return ExitCode::from(2);
        }
    };
    let outcome = (|| -> anyhow::Result<bool> {
        if args.update {
            report.update(&cfg.expected, &cfg.allowed)?;
            eprintln!("sqldiff: rewrote the lists in {}", cfg.expected.display());
        }
        if let Some(d) = &args.diff_dir {
            report.write_diffs(d, &cfg.expected, &cfg.allowed)?;
        }
        if args.reference_errors {
            for f in &report.files {
                for r in &f.results {
                    if let sqldiff::exec::Outcome::Error { code, message } = &r.reference {
                        let st = &f.file.statements[r.index];
                        println!(
                            "{}.sql:{}: {code} {message}\n    {}",
                            f.file.stem,
                            st.line,
                            st.excerpt(120)
                        );
                    }
                }
            }
        }
        let j = report.judge(&cfg.expected, &cfg.allowed)?;
        println!(
            "{}",
            sqldiff::render_table(&report.mode, &j, report.elapsed)
        );
        println!("{}", report.worklist(40));
        for p in &j.problems {
            println!("{p}");
        }
        if j.problems.is_empty() {
            println!("sqldiff: OK (every difference is listed or allowed)");
        } else {
            println!("sqldiff: FAILED: {} problems (above)", j.problems.len());
        }
        Ok(j.problems.is_empty())
    })();
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("sqldiff: {e:#}");
            ExitCode::from(2)
        }
    }
}
