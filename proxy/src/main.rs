//! `trireme-proxy`: the command-line front end of the proxy library. Reads
//! an optional TOML file, applies command-line overrides, runs until
//! Ctrl-C or SIGTERM, then shuts down cleanly.
//!
//! ```text
//! trireme-proxy --listen 127.0.0.1:3306 \
//!     --backends 127.0.0.1:3307,127.0.0.1:3308,127.0.0.1:3309 \
//!     --monitor-user root --monitor-password PW \
//!     [--read-listen 127.0.0.1:3316] [--admin-listen 127.0.0.1:3390] \
//!     [--balance single|least_conn|round_robin] [--config proxy.toml]
//! trireme-proxy hash-password [PASSWORD]   # the password_hash for [[users]]
//! ```

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use trireme_proxy::{AuthMode, Balance, ProxyConfig};

/// MySQL-wire proxy for a trireme (Galera-style) cluster: health checks on
/// wsrep_% state, single-writer or balanced routing, failover.
#[derive(Debug, Parser)]
#[command(name = "trireme-proxy", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// TOML configuration file; flags below override its values.
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// Read-write client listener (host:port).
    #[arg(long)]
    listen: Option<String>,
    /// Read-only client listener (host:port).
    #[arg(long)]
    read_listen: Option<String>,
    /// Read-port sessions read their writes (wsrep_sync_wait = 1).
    #[arg(long)]
    read_your_writes: bool,
    /// Admin/status listener (HTTP: /, /status.json, /health).
    #[arg(long)]
    admin_listen: Option<String>,
    /// Backends' MySQL addresses, comma-separated, in order of preference.
    #[arg(long, value_delimiter = ',')]
    backends: Option<Vec<String>>,
    /// User for health checks.
    #[arg(long)]
    monitor_user: Option<String>,
    /// Password for health checks.
    #[arg(long, env = "TRIREME_PROXY_MONITOR_PASSWORD", hide_env_values = true)]
    monitor_password: Option<String>,
    /// Write-port routing: single (one writer, failover), least_conn, round_robin.
    #[arg(long)]
    balance: Option<Balance>,
    /// Read-port routing: round_robin, least_conn, single.
    #[arg(long)]
    read_balance: Option<Balance>,
    /// Milliseconds between health checks.
    #[arg(long)]
    check_interval_ms: Option<u64>,
    /// Bound on one health check, in milliseconds.
    #[arg(long)]
    check_timeout_ms: Option<u64>,
    /// Good checks in a row that bring a backend up.
    #[arg(long)]
    rise: Option<u32>,
    /// Failed checks in a row that take a backend down.
    #[arg(long)]
    fall: Option<u32>,
    /// Count Donor/Desynced (wsrep_local_state 2) as healthy.
    #[arg(long)]
    available_when_donor: bool,
    /// Log filter (tracing EnvFilter syntax); RUST_LOG is used when unset.
    #[arg(long)]
    log: Option<String>,
    /// Client logins: passthrough (end to end, one backend connection per
    /// client) or pool (the proxy checks [[users]] and shares a pool of
    /// backend connections).
    #[arg(long, value_parser = parse_auth)]
    auth: Option<AuthMode>,
    /// Password of the pool's backend account ([pool] user).
    #[arg(long, env = "TRIREME_PROXY_POOL_PASSWORD", hide_env_values = true)]
    pool_password: Option<String>,
    /// Threads, each with its own scheduler; sessions are spread over them
    /// as they connect: 1 (default) = one thread for everything, 0 = one
    /// per core.
    #[arg(long, env = "TRIREME_PROXY_WORKER_THREADS")]
    worker_threads: Option<usize>,
    /// Print the effective configuration (passwords redacted) and exit.
    #[arg(long)]
    print_config: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Prints the password_hash of a [[users]] entry (mysql_native_password's
    /// stored form, `*` and 40 hex digits of SHA1(SHA1(password))). Reads
    /// the password from standard input when not given.
    HashPassword {
        /// The password (prefer standard input: arguments show in `ps`).
        password: Option<String>,
    },
}

fn parse_auth(s: &str) -> Result<AuthMode, String> {
    match s {
        "passthrough" => Ok(AuthMode::Passthrough),
        "pool" => Ok(AuthMode::Pool),
        other => Err(format!(
            "unknown auth mode {other:?} (expected passthrough or pool)"
        )),
    }
}

fn config_from(cli: &Cli) -> anyhow::Result<ProxyConfig> {
    let mut c = match &cli.config {
        Some(p) => ProxyConfig::load(p)?,
        None => ProxyConfig::default(),
    };
    if let Some(v) = &cli.listen {
        c.listen = v.clone();
    }
    if let Some(v) = &cli.read_listen {
        c.read_listen = Some(v.clone());
    }
    if cli.read_your_writes {
        c.read_your_writes = true;
    }
    if let Some(v) = &cli.admin_listen {
        c.admin_listen = Some(v.clone());
    }
    if let Some(v) = &cli.backends {
        c.backends = v
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
    }
    if let Some(v) = &cli.monitor_user {
        c.monitor.user = v.clone();
    }
    if let Some(v) = &cli.monitor_password {
        c.monitor.password = v.clone();
    }
    if let Some(v) = cli.balance {
        c.balance = v;
    }
    if let Some(v) = cli.read_balance {
        c.read_balance = v;
    }
    if let Some(v) = cli.check_interval_ms {
        c.monitor.check_interval_ms = v;
    }
    if let Some(v) = cli.check_timeout_ms {
        c.monitor.check_timeout_ms = v;
    }
    if let Some(v) = cli.rise {
        c.monitor.rise = v;
    }
    if let Some(v) = cli.fall {
        c.monitor.fall = v;
    }
    if cli.available_when_donor {
        c.monitor.available_when_donor = true;
    }
    if let Some(v) = cli.auth {
        c.auth = v;
    }
    if let Some(v) = &cli.pool_password {
        c.pool.password = v.clone();
    }
    if let Some(v) = cli.worker_threads {
        c.worker_threads = v;
    }
    c.validate()?;
    Ok(c)
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match term.as_mut() {
                Some(t) => { t.recv().await; }
                None => std::future::pending().await,
            }
        } => {}
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::HashPassword { password }) = &cli.command {
        let password = match password {
            Some(p) => p.clone(),
            None => {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                line.trim_end_matches(['\r', '\n']).to_string()
            }
        };
        println!("{}", trireme_proxy::hash_password(&password));
        return Ok(());
    }
    let filter = match &cli.log {
        Some(f) => tracing_subscriber::EnvFilter::try_new(f)?,
        None => tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
    };
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let config = config_from(&cli)?;
    if cli.print_config {
        let mut shown = config.clone();
        if !shown.monitor.password.is_empty() {
            shown.monitor.password = "<redacted>".into();
        }
        if !shown.pool.password.is_empty() {
            shown.pool.password = "<redacted>".into();
        }
        for u in &mut shown.users {
            if !u.password_hash.is_empty() {
                u.password_hash = "<redacted>".into();
            }
        }
        print!("{}", toml::to_string(&shown)?);
        return Ok(());
    }
    // One single-threaded runtime per thread, sessions spread over them
    // (see `trireme_proxy::run_on`): the main thread's runtime also
    // accepts and runs the health checks.
    let threads = match config.worker_threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut handles = vec![runtime.handle().clone()];
    let mut joins = Vec::new();
    for i in 1..threads {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        handles.push(rt.handle().clone());
        let mut stopped = stopped.clone();
        joins.push(
            std::thread::Builder::new()
                .name(format!("trireme-proxy-{i}"))
                .spawn(move || {
                    rt.block_on(async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    });
                })?,
        );
    }
    let result = runtime.block_on(async {
        let proxy = trireme_proxy::run_on(config, handles).await?;
        eprint!("{}", proxy.status());
        wait_for_signal().await;
        tracing::info!("signal received; shutting down");
        proxy.shutdown().await;
        Ok(())
    });
    let _ = stop.send(true);
    for j in joins {
        let _ = j.join();
    }
    result
}
