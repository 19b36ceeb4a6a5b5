//! The `trireme` command.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use trireme_node::config::{Config, LogFormat};
use trireme_node::health;

// Many short-lived allocations per statement (plans, rows, packets) from
// every worker thread: glibc malloc spent about a fifth of a point select's
// CPU in its own bookkeeping; mimalloc's per-thread pages do not.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "trireme",
    version,
    about = "A multi-master, synchronously replicated SQL cluster"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a node. Every key of the configuration file can also be set
    /// by a `TRIREME_*` environment variable (see `trireme env`), which
    /// wins over the file; command-line options win over both.
    Start {
        /// TOML configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// MySQL protocol address (overrides the file).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Data directory (overrides the file).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Password of the root account (overrides the file).
        #[arg(long)]
        root_password: Option<String>,
        /// Bootstrap a new cluster from this node.
        #[arg(long)]
        bootstrap: bool,
        /// Bootstrap only when the data directory is empty and every other
        /// listed member answers that it belongs to no cluster; join when
        /// one does (the seed node of a deployment; see DESIGN.md).
        #[arg(long)]
        bootstrap_if_empty: bool,
        /// Recover from the loss of a majority: make this node, with the
        /// data it has, a cluster of its own under a new cluster uuid.
        /// Transactions the lost majority committed after this node's last
        /// entry are lost; the other members must be emptied to rejoin.
        /// Use once, on the most advanced survivor (see grastate.toml).
        #[arg(long)]
        force_bootstrap: bool,
    },
    /// Print a node's wsrep state; exit 0 when it is Synced and ready,
    /// 1 when it answers but is not, 2 when it cannot be asked. The node
    /// and password come from the same file and TRIREME_* variables as
    /// `start`, so in a container `trireme status` needs no arguments.
    Status {
        /// The node's configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// MySQL address to ask (default: the configured `listen`).
        #[arg(long)]
        addr: Option<String>,
        #[arg(long, default_value = "root")]
        user: String,
        /// Password (default: the configured root password).
        #[arg(long)]
        password: Option<String>,
        /// Bound on connecting and asking, in milliseconds.
        #[arg(long, default_value_t = 5000)]
        timeout_ms: u64,
    },
    /// Copy a running lsm node, online, into a new data directory that
    /// seeds a new cluster (`trireme start --bootstrap --data-dir DIR`).
    /// The node must serve backups (`[storage] backup_listen`); the copy
    /// is authenticated with its root password but NOT encrypted.
    Backup {
        /// The node's backup listener (`[storage] backup_listen`).
        #[arg(long)]
        from: String,
        /// The directory to write; must not exist or be empty.
        #[arg(long)]
        to: PathBuf,
        /// The node's configuration file (for its root password).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The node's root password (default: the configured one).
        #[arg(long)]
        password: Option<String>,
        /// Bound on connecting and on each read, in milliseconds.
        #[arg(long, default_value_t = 60000)]
        timeout_ms: u64,
    },
    /// List the TRIREME_* environment variables and the keys they set.
    Env,
    /// Run a local three-node cluster (child processes) with the proxy.
    Demo {
        /// MySQL port of node 1; nodes use P, P+1, P+2.
        #[arg(long, default_value_t = 3307)]
        base_port: u16,
        /// Peer (group communication) port of node 1.
        #[arg(long, default_value_t = 4567)]
        peer_base_port: u16,
        /// Port of the proxy in front of the cluster.
        #[arg(long, default_value_t = 3306)]
        proxy_port: u16,
        /// Password of root on every node.
        #[arg(long, default_value = "")]
        root_password: String,
        /// Where the nodes keep their data and logs.
        #[arg(long, default_value = "demo-data")]
        data_dir: PathBuf,
        /// Port of the proxy's HTTP status page.
        #[arg(long, default_value_t = 3390)]
        admin_port: u16,
        /// Port of the proxy's read-only, read-your-writes listener.
        #[arg(long, default_value_t = 3316)]
        read_port: u16,
        /// Seconds before a node (or the proxy) that died is started again.
        #[arg(long, default_value_t = 10.0)]
        restart_delay: f64,
    },
    /// Create a cluster CA (if missing) and a member certificate.
    Certs {
        /// Directory holding the CA bundle and member certificates.
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value = "trireme")]
        cluster_name: String,
        /// Member name (the certificate is <dir>/<name>.pem).
        #[arg(long)]
        node_name: String,
    },
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Logs go to stderr, coloured only on a terminal (log files and
/// container logs get no escape codes), as text or one JSON object a line.
fn init_logging(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        // openraft logs every failed replication RPC to a peer that is
        // down; gcs reports peers going down and up itself.
        tracing_subscriber::EnvFilter::new(format!("info,{}", trireme_gcs::LOG_DIRECTIVES))
    });
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    match format {
        LogFormat::Text => b.init(),
        LogFormat::Json => b.json().init(),
    }
}

/// The log format before a configuration is read (commands other than
/// `start`): `TRIREME_LOG_FORMAT`, else text.
fn env_log_format() -> LogFormat {
    std::env::var("TRIREME_LOG_FORMAT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_default()
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Start {
            config,
            listen,
            data_dir,
            root_password,
            bootstrap,
            bootstrap_if_empty,
            force_bootstrap,
        } => {
            let (mut cfg, unknown) = match Config::resolve(config.as_deref(), std::env::vars()) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("trireme: cannot start: {e}");
                    std::process::exit(1);
                }
            };
            init_logging(cfg.log_format);
            for name in unknown.iter().filter(|n| !n.starts_with("TRIREME_PROXY_")) {
                tracing::warn!("{name} names no configuration key (see `trireme env`); ignored");
            }
            if let Some(l) = listen {
                cfg.listen = l;
            }
            if let Some(d) = data_dir {
                cfg.data_dir = d;
            }
            if let Some(p) = root_password {
                cfg.root_password = p;
            }
            cfg.bootstrap |= bootstrap;
            cfg.bootstrap_if_empty |= bootstrap_if_empty;
            cfg.force_bootstrap = force_bootstrap;
            if cfg.root_password.is_empty() {
                tracing::warn!("root has no password");
            }
            let metrics_listen = cfg.metrics_listen;
            let r = runtime()?.block_on(async move {
                let running = trireme_node::cluster::start(cfg).await?;
                eprintln!("trireme listening on {}", running.addr);
                if let Some(addr) = metrics_listen {
                    let bound = trireme_node::metrics::serve(
                        addr,
                        running.node.clone(),
                        running.node.repl.stats.clone(),
                    )
                    .await
                    .map_err(|e| anyhow::anyhow!("metrics_listen {addr}: {e}"))?;
                    tracing::info!(%bound, "Prometheus metrics at http://{bound}/metrics");
                }
                wait_for_signal().await;
                running.node.shutdown().await;
                anyhow::Ok(())
            });
            if let Err(e) = r {
                // A refusal to start is an operator's message, not a crash:
                // one line that says what to do, no backtrace.
                tracing::error!("cannot start: {e:#}");
                eprintln!("trireme: cannot start: {e:#}");
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Status {
            config,
            addr,
            user,
            password,
            timeout_ms,
        } => {
            let cfg = match Config::resolve(config.as_deref(), std::env::vars()) {
                Ok((c, _)) => c,
                Err(e) => {
                    eprintln!("trireme status: {e}");
                    std::process::exit(2);
                }
            };
            let addr = addr.unwrap_or_else(|| health::client_addr(cfg.listen).to_string());
            let password = password.unwrap_or(cfg.root_password);
            let timeout = std::time::Duration::from_millis(timeout_ms);
            let vars = runtime()?
                .block_on(async { health::query(&addr, &user, &password, timeout).await });
            let vars = match vars {
                Ok(v) => v,
                Err(e) => {
                    eprintln!("trireme status: cannot ask the node: {e:#}");
                    std::process::exit(2);
                }
            };
            for name in health::SHOWN {
                if let Some((n, v)) = vars.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
                    println!("{n:<28} {v}");
                }
            }
            if let Err(e) = health::verdict(&vars) {
                eprintln!("trireme status: {addr}: {e}");
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Backup {
            from,
            to,
            config,
            password,
            timeout_ms,
        } => {
            init_logging(env_log_format());
            let password = match password {
                Some(p) => p,
                None => match Config::resolve(config.as_deref(), std::env::vars()) {
                    Ok((c, _)) => c.root_password,
                    Err(e) => {
                        eprintln!("trireme backup: {e}");
                        std::process::exit(1);
                    }
                },
            };
            let timeout = std::time::Duration::from_millis(timeout_ms.max(1));
            match trireme_node::backup::client::take(&from, &to, &password, timeout) {
                Ok(s) => {
                    println!(
                        "backup of {from} at seqno {} written to {}: {} rows, {} chunks, {} bytes in {:.1} s",
                        s.seqno,
                        to.display(),
                        s.rows,
                        s.chunks,
                        s.bytes,
                        s.elapsed.as_secs_f64()
                    );
                    println!(
                        "start a new cluster on it with: trireme start --bootstrap --data-dir {} (with [storage] engine = \"lsm\")",
                        to.display()
                    );
                    Ok(())
                }
                Err(e) => {
                    eprintln!("trireme backup: {e:#}");
                    std::process::exit(1);
                }
            }
        }
        Command::Env => {
            for (name, key) in trireme_node::config::env_names() {
                println!("{name:<40} {key}");
            }
            Ok(())
        }
        Command::Demo {
            base_port,
            peer_base_port,
            proxy_port,
            root_password,
            data_dir,
            admin_port,
            read_port,
            restart_delay,
        } => {
            init_logging(env_log_format());
            runtime()?.block_on(trireme_node::demo::run(trireme_node::demo::DemoArgs {
                base_port,
                peer_base_port,
                proxy_port,
                admin_port,
                read_port,
                root_password,
                data_dir,
                nodes: 3,
                restart_delay: std::time::Duration::try_from_secs_f64(restart_delay)
                    .map_err(|e| anyhow::anyhow!("--restart-delay {restart_delay}: {e}"))?,
            }))
        }
        Command::Certs {
            dir,
            cluster_name,
            node_name,
        } => {
            init_logging(env_log_format());
            let p = trireme_gcs::tls::ensure_dev_certs(&dir, &cluster_name, &node_name)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "[cluster.tls]\nca_cert = {:?}\ncert = {:?}\nkey = {:?}",
                p.ca_cert, p.cert, p.key
            );
            Ok(())
        }
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
