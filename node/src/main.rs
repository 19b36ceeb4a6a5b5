//! The `trireme` command.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use trireme_node::config::Config;

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
    /// Start a node.
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
        /// Recover from the loss of a majority: make this node, with the
        /// data it has, a cluster of its own under a new cluster uuid.
        /// Transactions the lost majority committed after this node's last
        /// entry are lost; the other members must be emptied to rejoin.
        /// Use once, on the most advanced survivor (see grastate.toml).
        #[arg(long)]
        force_bootstrap: bool,
    },
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

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Start {
            config,
            listen,
            data_dir,
            root_password,
            bootstrap,
            force_bootstrap,
        } => {
            let mut cfg = match config {
                Some(p) => Config::load(&p).map_err(anyhow::Error::msg)?,
                None => Config::default(),
            };
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
            cfg.force_bootstrap = force_bootstrap;
            if cfg.root_password.is_empty() {
                tracing::warn!("root has no password");
            }
            let r = runtime()?.block_on(async move {
                let running = trireme_node::cluster::start(cfg).await?;
                eprintln!("trireme listening on {}", running.addr);
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
        Command::Demo {
            base_port,
            peer_base_port,
            proxy_port,
            root_password,
            data_dir,
            admin_port,
            read_port,
            restart_delay,
        } => runtime()?.block_on(trireme_node::demo::run(trireme_node::demo::DemoArgs {
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
        })),
        Command::Certs {
            dir,
            cluster_name,
            node_name,
        } => {
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
