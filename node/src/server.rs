//! Starting a node: build the store and the pipeline, start the background
//! tasks, and serve the MySQL protocol.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tracing::{info, warn};
use trireme_wire as wire;

use crate::config::Config;
use crate::node::{ClusterView, Node};
use crate::repl::{LocalOrderer, OpenGate, ReplConfig, Replicator};
use crate::session::{Session, WireSession};
use trireme_sql::vars::GlobalVars;
use trireme_sql::NodeInfo;
use trireme_storage::value::Value;

/// A started node and its listener address.
pub struct Running {
    pub node: Arc<Node>,
    pub addr: std::net::SocketAddr,
}

pub fn globals_for(config: &Config) -> Arc<GlobalVars> {
    let g = GlobalVars::new();
    g.set_server("wsrep_node_name", Value::Str(config.node_name.clone()));
    g.set_server("wsrep_node_address", Value::Str(config.listen.to_string()));
    g.set_server(
        "wsrep_slave_threads",
        Value::Int(config.applier_threads as i64),
    );
    g.set_server("port", Value::Int(i64::from(config.listen.port())));
    g.set_server("datadir", Value::Str(config.data_dir.display().to_string()));
    g.set_server("wsrep_sync_wait", Value::Int(config.sync_wait));
    g.set_server(
        "wsrep_retry_autocommit",
        Value::Int(config.retry_autocommit),
    );
    g
}

/// Starts a single node with the in-process orderer and serves clients.
pub async fn start_single(config: Config) -> anyhow::Result<Running> {
    start_single_with_tap(config, None).await
}

/// As `start_single`, also copying every ordered event to `tap` (tests that
/// replay the order serially).
pub async fn start_single_with_tap(
    config: Config,
    tap: Option<tokio::sync::mpsc::UnboundedSender<crate::repl::Delivery>>,
) -> anyhow::Result<Running> {
    let store = crate::storage::open_store(&config.storage, &config.data_dir)?;
    crate::bootstrap::init_catalog(&store);
    let (orderer, mut deliveries) = LocalOrderer::new(config.node_id, 0);
    let repl = Replicator::new(
        ReplConfig::from_config(&config),
        store.clone(),
        Arc::new(orderer),
        Replicator::default_certifier(0),
        Arc::new(OpenGate),
        Arc::new(crate::schema::SqlSchema),
    );
    let info = NodeInfo {
        node_id: config.node_id,
        auto_increment_increment: 1,
        auto_increment_offset: 1,
    };
    let uuid = crate::bootstrap::new_uuid();
    let node = Node::new(
        store,
        repl.clone(),
        globals_for(&config),
        info,
        ClusterView::single(&uuid, &config.listen.to_string()),
    );
    tokio::spawn(async move {
        while let Some(d) = deliveries.recv().await {
            if let Some(t) = &tap {
                let _ = t.send(d.clone());
            }
            repl.deliver(d);
        }
    });
    spawn_background(&node, &config);
    serve(node, &config).await
}

/// Garbage collection, low-water reports, queue sampling.
pub fn spawn_background(node: &Arc<Node>, config: &Config) {
    let weak = Arc::downgrade(node);
    let gc_every = Duration::from_millis(config.gc_interval_ms.max(10));
    std::thread::Builder::new()
        .name("gc".into())
        .spawn(move || loop {
            std::thread::sleep(gc_every);
            let Some(n) = weak.upgrade() else { return };
            n.store.collect_garbage();
        })
        .expect("spawning the gc thread");
    let weak = Arc::downgrade(node);
    let lw_every = Duration::from_millis(config.low_water_interval_ms.max(10));
    tokio::spawn(async move {
        let mut last = u64::MAX;
        loop {
            tokio::time::sleep(lw_every).await;
            let Some(n) = weak.upgrade() else { return };
            n.sample_recv_queue();
            let low = n.store.oldest_snapshot();
            if low != last && n.is_ready() {
                if let Err(e) = n.repl.report_low_water().await {
                    warn!(error = %e, "low-water report not ordered");
                } else {
                    last = low;
                }
            }
        }
    });
}

/// Serves the MySQL protocol on `config.listen`.
pub async fn serve(node: Arc<Node>, config: &Config) -> anyhow::Result<Running> {
    let listener = TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let root = wire::Credentials::from_password(&config.root_password);
    let users_node = node.clone();
    let users = move |user: &str, host: &str| -> Option<wire::Credentials> {
        if user == "root" {
            return Some(root.clone());
        }
        let cat = users_node.store.catalog();
        let exact = format!("'{user}'@'{host}'");
        let any = format!("'{user}'@'%'");
        let u = cat.users.get(&exact).or_else(|| cat.users.get(&any))?;
        Some(match u.native_hash {
            Some(h) => wire::Credentials::from_native_hash(h),
            None => wire::Credentials::no_password(),
        })
    };
    let mut wcfg = wire::ServerConfig::new(users);
    wcfg.server_version = crate::SERVER_VERSION.to_string();
    let wcfg = Arc::new(wcfg);
    let serve_node = node.clone();
    info!(%addr, node = config.node_id, "serving MySQL protocol");
    tokio::spawn(async move {
        let r = wire::serve(listener, wcfg, move |info: &wire::SessionInfo| {
            let mut session = Session::new(
                serve_node.clone(),
                info.connection_id,
                &info.user,
                &info.host,
                None,
            );
            session.set_client_found_rows(
                info.capabilities
                    .contains(wire::CapabilityFlags::CLIENT_FOUND_ROWS),
            );
            Ok(WireSession { session })
        })
        .await;
        if let Err(e) = r {
            tracing::error!(error = %e, "listener failed");
        }
    });
    Ok(Running { node, addr })
}
