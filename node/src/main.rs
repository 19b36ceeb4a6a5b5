//! The `trireme` command.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use trireme_node::config::Config;

#[derive(Parser)]
#[command(name = "trireme", version, about = "A multi-master, synchronously replicated SQL cluster")]
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
    },
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
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(async move {
                let running = trireme_node::server::start_single(cfg).await?;
                eprintln!("trireme listening on {}", running.addr);
                wait_for_signal().await;
                anyhow::Ok(())
            })
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
