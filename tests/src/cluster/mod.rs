//! The cluster under test: N real `trireme` processes, their network, and
//! the means to hurt them.
//!
//! Two network modes:
//! - [`NetMode::Netns`] (the real thing, needs root): each node in its own
//!   network namespace on a private bridge ([`netns`]); partitions are nft
//!   rules inside the namespaces.
//! - [`NetMode::Loopback`] (development without root): nodes listen on
//!   127.0.0.1 with distinct ports; crashes and pauses work, partitions do
//!   not (there is no way to cut one loopback peer off without touching the
//!   host's firewall, which this harness never does).
//!
//! Everything a run creates is named after its run id (`trj` + 5 hex
//! digits) and listed in a state file under [`STATE_DIR`], so that
//! [`cleanup`] can remove the leftovers of a harness that crashed without
//! touching anything else (including other engineers' live runs).
//!
//! The node configuration comes from one function, [`node_config_toml`], so
//! adapting to a change in trireme's config format is one edit.

pub mod netns;

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

pub use netns::{Network, NsExecutor};

/// Where runs record what they created, for `--cleanup`.
pub const STATE_DIR: &str = "/tmp/trireme-jepsen";

/// MySQL port inside a namespace (each node has its own address).
pub const NETNS_MYSQL_PORT: u16 = 3306;
/// Peer (gcs) port inside a namespace.
pub const NETNS_PEER_PORT: u16 = 4567;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum NetMode {
    /// One network namespace per node on a private bridge (root).
    Netns,
    /// 127.0.0.1 with distinct ports; no partitions (no root needed).
    Loopback,
}

/// Everything needed to start the cluster.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClusterSpec {
    pub run_id: String,
    pub nodes: usize,
    pub net: NetMode,
    /// The `trireme` binary.
    pub binary: PathBuf,
    pub root_password: String,
    /// Per-node directories live under `<dir>/nodes/<name>`.
    pub dir: PathBuf,
    /// Loopback mode: MySQL ports are `base_port + i`, peer ports
    /// `base_port + 100 + i` (see [`free_base_port`]).
    pub base_port: u16,
    /// Extra TOML appended verbatim to every node's configuration.
    pub extra_config: String,
}

/// One node's coordinates.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeSpec {
    /// 1-based.
    pub id: u64,
    /// `n1`, `n2`, ...
    pub name: String,
    pub mysql: SocketAddr,
    pub peer: SocketAddr,
    /// The namespace it runs in (netns mode).
    pub netns: Option<String>,
    pub dir: PathBuf,
}

impl NodeSpec {
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("node.toml")
    }
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("trireme.log")
    }
    /// The configuration a node restarts with after its data directory was
    /// wiped: the same as [`NodeSpec::config_path`] but never bootstrapping,
    /// so the node joins its peers and receives their state.
    pub fn join_config_path(&self) -> PathBuf {
        self.dir.join("node-join.toml")
    }
}

impl ClusterSpec {
    pub fn node_specs(&self) -> Vec<NodeSpec> {
        (0..self.nodes)
            .map(|i| {
                let (ip, mysql_port, peer_port, ns) = match self.net {
                    NetMode::Netns => (
                        IpAddr::V4(netns::node_ip(i)),
                        NETNS_MYSQL_PORT,
                        NETNS_PEER_PORT,
                        Some(Network::names(&self.run_id, self.nodes).1[i].clone()),
                    ),
                    NetMode::Loopback => (
                        IpAddr::V4(Ipv4Addr::LOCALHOST),
                        self.base_port + i as u16,
                        self.base_port + 100 + i as u16,
                        None,
                    ),
                };
                let name = format!("n{}", i + 1);
                NodeSpec {
                    id: i as u64 + 1,
                    dir: self.dir.join("nodes").join(&name),
                    name,
                    mysql: SocketAddr::new(ip, mysql_port),
                    peer: SocketAddr::new(ip, peer_port),
                    netns: ns,
                }
            })
            .collect()
    }

    pub fn certs_dir(&self) -> PathBuf {
        self.dir.join("nodes").join("tls")
    }

    pub fn cluster_name(&self) -> String {
        format!("jepsen-{}", self.run_id)
    }
}

fn toml_str(s: &str) -> String {
    // A TOML basic string.
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The configuration file of one node. This is the only place that knows
/// trireme's configuration format (see `node/src/config.rs`).
///
/// Node 1 bootstraps; restarts reuse the same file, relying on trireme to
/// ignore `bootstrap` once the data directory holds cluster state (as
/// Galera's `safe_to_bootstrap` does). A node whose data directory the wipe
/// nemesis deleted restarts with [`join_config_toml`] instead.
pub fn node_config_toml(spec: &ClusterSpec, nodes: &[NodeSpec], me: &NodeSpec) -> String {
    config_toml(spec, nodes, me, me.id == 1)
}

/// The configuration of a node that must join the running cluster (never
/// bootstrap), written next to the normal one as `node-join.toml`.
pub fn join_config_toml(spec: &ClusterSpec, nodes: &[NodeSpec], me: &NodeSpec) -> String {
    config_toml(spec, nodes, me, false)
}

fn config_toml(spec: &ClusterSpec, nodes: &[NodeSpec], me: &NodeSpec, bootstrap: bool) -> String {
    let members: Vec<String> = nodes.iter().map(|n| n.peer.to_string()).collect();
    let cluster_address = if spec.nodes == 1 {
        "gcomm://".to_owned()
    } else {
        format!("gcomm://{}", members.join(","))
    };
    let mut s = format!(
        "# generated by the trireme Jepsen harness, run {run}\n\
         node_id = {id}\n\
         node_name = {name}\n\
         listen = {listen}\n\
         data_dir = {data}\n\
         root_password = {pw}\n\
         bootstrap = {bootstrap}\n\
         \n\
         [cluster]\n\
         cluster_address = {ca}\n\
         listen = {peer}\n\
         cluster_name = {cn}\n\
         certs_dir = {certs}\n",
        run = spec.run_id,
        id = me.id,
        name = toml_str(&me.name),
        listen = toml_str(&me.mysql.to_string()),
        data = toml_str(&me.data_dir().display().to_string()),
        pw = toml_str(&spec.root_password),
        bootstrap = bootstrap,
        ca = toml_str(&cluster_address),
        peer = toml_str(&me.peer.to_string()),
        cn = toml_str(&spec.cluster_name()),
        certs = toml_str(&spec.certs_dir().display().to_string()),
    );
    if !spec.extra_config.is_empty() {
        s.push('\n');
        s.push_str(&spec.extra_config);
        s.push('\n');
    }
    s
}

/// What a run created, recorded for [`cleanup`].
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RunState {
    pub run_id: String,
    /// The harness process; while it lives, cleanup leaves the run alone.
    pub harness_pid: u32,
    pub namespaces: Vec<String>,
    /// Node name -> pid of its current process.
    pub node_pids: BTreeMap<String, u32>,
    pub binary: PathBuf,
}

impl RunState {
    pub fn path(run_id: &str) -> PathBuf {
        Path::new(STATE_DIR).join(format!("{run_id}.json"))
    }

    pub fn save(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(STATE_DIR)?;
        let p = RunState::path(&self.run_id);
        let tmp = p.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?)?;
        std::fs::rename(&tmp, &p)?;
        Ok(())
    }

    pub fn remove(run_id: &str) {
        let _ = std::fs::remove_file(RunState::path(run_id));
    }
}

/// A base port for loopback mode such that, for `n` nodes, the MySQL ports
/// `base..base+n` (TCP) and peer ports `base+100..base+100+n` (UDP) are all
/// free right now on 127.0.0.1. Scans a bounded number of candidates.
pub fn free_base_port(n: usize) -> anyhow::Result<u16> {
    // Tests of one process pick ranges concurrently, before any node binds
    // them: each call must start from a different candidate.
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut rng = crate::rng::Rng::new(
        (std::process::id() as u64) ^ 0x5eed ^ nanos ^ call.wrapping_mul(0x9E37_79B9_7F4A_7C15),
    );
    // Stay below the kernel's ephemeral range: an outgoing connection of
    // another test (or of this one, polling the nodes) can take a port in it
    // between this check and the node's bind, and the node then fails to
    // start (a cluster that never forms).
    let (lo, hi) = (10_000, ephemeral_low().saturating_sub(200).max(12_000));
    for _ in 0..200 {
        let base = rng.range(lo, hi) as u16;
        let tcp_free =
            (0..n).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i as u16)).is_ok());
        let udp_free =
            (0..n).all(|i| std::net::UdpSocket::bind(("127.0.0.1", base + 100 + i as u16)).is_ok());
        if tcp_free && udp_free {
            return Ok(base);
        }
    }
    bail!("no free port range found on 127.0.0.1")
}

/// The lowest port of the kernel's ephemeral (outgoing) range.
fn ephemeral_low() -> u64 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

/// A fresh run id: `trj` and 5 hex digits (short, because namespace and
/// interface names are limited to 15 characters).
pub fn new_run_id() -> String {
    let mut r = crate::rng::Rng::new(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
            ^ ((std::process::id() as u64) << 40),
    );
    format!("trj{:05x}", r.next_u64() & 0xF_FFFF)
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Whether `pid` currently runs `binary` (guards against a recycled pid).
fn pid_runs(pid: u32, binary: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let bin = binary.display().to_string();
    cmdline
        .split(|b| *b == 0)
        .any(|arg| String::from_utf8_lossy(arg) == bin)
}

fn signal(pid: u32, sig: i32) -> anyhow::Result<()> {
    // SAFETY: kill(2) on a pid we started (callers check).
    let rc = unsafe { libc::kill(pid as i32, sig) };
    if rc != 0 {
        bail!("kill({pid}, {sig}): {}", std::io::Error::last_os_error());
    }
    Ok(())
}

/// `s` without ANSI escape sequences (`ESC [ ... letter`).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Removes what crashed runs left behind: for every state file whose
/// harness is no longer alive (or only `only_run` if given), kill the node
/// processes it recorded (checking they still run the recorded binary) and
/// any process inside its namespaces, then delete the namespaces and the
/// state file. Returns a line per action.
pub fn cleanup(only_run: Option<&str>) -> anyhow::Result<Vec<String>> {
    let mut done = Vec::new();
    let dir = Path::new(STATE_DIR);
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e.collect::<Result<Vec<_>, _>>()?,
        Err(_) => Vec::new(),
    };
    for e in entries {
        let p = e.path();
        if p.extension().and_then(|x| x.to_str()) != Some("json") {
            continue;
        }
        let st: RunState = match std::fs::read(&p)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
        {
            Some(s) => s,
            None => {
                done.push(format!("skipping unreadable state file {}", p.display()));
                continue;
            }
        };
        if let Some(r) = only_run {
            if st.run_id != r {
                continue;
            }
        }
        if st.harness_pid != std::process::id()
            && pid_alive(st.harness_pid)
            && pid_runs_harness(st.harness_pid)
        {
            done.push(format!(
                "run {} is still live (harness pid {}); left alone",
                st.run_id, st.harness_pid
            ));
            continue;
        }
        for (name, pid) in &st.node_pids {
            if pid_runs(*pid, &st.binary) {
                let _ = signal(*pid, libc::SIGCONT);
                match signal(*pid, libc::SIGKILL) {
                    Ok(()) => done.push(format!("killed {name} (pid {pid}) of run {}", st.run_id)),
                    Err(e) => done.push(format!("could not kill {name} (pid {pid}): {e}")),
                }
            }
        }
        let existing = netns::list_netns().unwrap_or_default();
        for ns in &st.namespaces {
            if !existing.contains(ns) {
                continue;
            }
            if let Ok(pids) = netns::cmd_output("ip", &["netns", "pids", ns]) {
                for pid in pids
                    .split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok())
                {
                    if pid_runs(pid, &st.binary) && signal(pid, libc::SIGKILL).is_ok() {
                        done.push(format!("killed pid {pid} in namespace {ns}"));
                    }
                }
            }
            match netns::ip(&["netns", "del", ns]) {
                Ok(()) => done.push(format!("deleted namespace {ns}")),
                Err(e) => done.push(format!("could not delete namespace {ns}: {e}")),
            }
        }
        RunState::remove(&st.run_id);
        done.push(format!("removed state of run {}", st.run_id));
    }
    Ok(done)
}

fn pid_runs_harness(pid: u32) -> bool {
    // The harness is our own binary (or a test binary of this crate).
    let Ok(exe) = std::fs::read_link(format!("/proc/{pid}/exe")) else {
        return false;
    };
    let s = exe.display().to_string();
    s.contains("jepsen") || s.contains("trireme_tests") || s.contains("trireme-tests")
}

/// A running node process.
struct Proc {
    child: Child,
    paused: bool,
}

/// The cluster: network, node processes, and the state file.
pub struct Cluster {
    pub spec: ClusterSpec,
    pub nodes: Vec<NodeSpec>,
    pub network: Option<Network>,
    procs: Vec<Option<Proc>>,
    /// Per node: restart with `node-join.toml` (its data was wiped).
    join: Vec<bool>,
    state: RunState,
}

impl Cluster {
    /// Creates the network and writes configurations; starts nothing yet.
    pub fn create(spec: ClusterSpec) -> anyhow::Result<Cluster> {
        let nodes = spec.node_specs();
        let mut state = RunState {
            run_id: spec.run_id.clone(),
            harness_pid: std::process::id(),
            binary: spec.binary.clone(),
            ..Default::default()
        };
        if spec.net == NetMode::Netns {
            let (br, ns) = Network::names(&spec.run_id, spec.nodes);
            state.namespaces = std::iter::once(br).chain(ns).collect();
        }
        // Record intent before creating anything, so a crash mid-way is
        // still cleaned up.
        state.save()?;
        let network = match spec.net {
            NetMode::Netns => match Network::create(&spec.run_id, spec.nodes) {
                Ok(n) => Some(n),
                Err(e) => {
                    RunState::remove(&spec.run_id);
                    return Err(
                        e.context("creating network namespaces (needs root, iproute2, nftables)")
                    );
                }
            },
            NetMode::Loopback => None,
        };
        let mut c = Cluster {
            procs: nodes.iter().map(|_| None).collect(),
            join: nodes.iter().map(|_| false).collect(),
            spec,
            nodes,
            network,
            state,
        };
        for n in c.nodes.clone() {
            std::fs::create_dir_all(n.data_dir())?;
            std::fs::write(n.config_path(), node_config_toml(&c.spec, &c.nodes, &n))?;
            if c.spec.nodes > 1 {
                std::fs::write(
                    n.join_config_path(),
                    join_config_toml(&c.spec, &c.nodes, &n),
                )?;
            }
        }
        if c.spec.nodes > 1 {
            c.make_certs()?;
        }
        Ok(c)
    }

    /// Creates the shared development CA and each member's certificate up
    /// front, one after the other, so nodes starting at once do not race to
    /// create the CA.
    fn make_certs(&mut self) -> anyhow::Result<()> {
        let dir = self.spec.certs_dir();
        for n in &self.nodes {
            let out = Command::new(&self.spec.binary)
                .args(["certs", "--dir"])
                .arg(&dir)
                .args([
                    "--cluster-name",
                    &self.spec.cluster_name(),
                    "--node-name",
                    &n.name,
                ])
                .stdin(Stdio::null())
                .output()
                .context("running trireme certs")?;
            if !out.status.success() {
                bail!(
                    "trireme certs for {}: {}",
                    n.name,
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
        }
        Ok(())
    }

    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// The command that starts node `i` (also used for restarts; a wiped
    /// node restarts with its join configuration, which never bootstraps).
    fn command(&self, i: usize) -> Command {
        let n = &self.nodes[i];
        let mut c = match &n.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(&self.spec.binary);
                c
            }
            None => Command::new(&self.spec.binary),
        };
        let config = if self.join[i] {
            n.join_config_path()
        } else {
            n.config_path()
        };
        c.arg("start").arg("--config").arg(config);
        c
    }

    /// Starts node `i` (appending to its log).
    pub fn start(&mut self, i: usize) -> anyhow::Result<()> {
        if let Some(p) = &mut self.procs[i] {
            if p.child.try_wait()?.is_none() {
                return Ok(());
            }
        }
        let n = &self.nodes[i];
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(n.log_path())?;
        let mut cmd = self.command(i);
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // `ip netns exec` execs the binary, so the pid is trireme's own.
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", n.name))?;
        self.state.node_pids.insert(n.name.clone(), child.id());
        self.state.save()?;
        self.procs[i] = Some(Proc {
            child,
            paused: false,
        });
        Ok(())
    }

    pub fn start_all(&mut self) -> anyhow::Result<()> {
        for i in 0..self.nodes.len() {
            self.start(i)?;
        }
        Ok(())
    }

    /// Whether node `i`'s process is running (paused counts as running).
    pub fn is_running(&mut self, i: usize) -> bool {
        match &mut self.procs[i] {
            Some(p) => matches!(p.child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// SIGKILL node `i` and reap it. Fails (the fault was not applied) when
    /// there is no running process to kill: never started, already killed,
    /// or it exited by itself (then the error says with which status).
    pub fn kill(&mut self, i: usize) -> anyhow::Result<()> {
        let name = &self.nodes[i].name;
        let Some(mut p) = self.procs[i].take() else {
            bail!("{name} has no running process to kill");
        };
        if let Some(status) = p.child.try_wait()? {
            bail!("{name} had already exited ({status}) before the kill");
        }
        signal(p.child.id(), libc::SIGKILL)?;
        p.child.wait()?;
        Ok(())
    }

    /// The wipe fault: SIGKILL node `i`, delete its data directory
    /// entirely, and make its next start use the join configuration (no
    /// bootstrap), so it comes back empty and rejoins by state transfer.
    pub fn wipe(&mut self, i: usize) -> anyhow::Result<()> {
        if self.spec.nodes < 2 {
            bail!("wiping the only node would destroy the cluster");
        }
        self.kill(i)?;
        let dir = self.nodes[i].data_dir();
        std::fs::remove_dir_all(&dir).with_context(|| format!("deleting {}", dir.display()))?;
        self.join[i] = true;
        Ok(())
    }

    /// The pid of node `i`'s current process, if it has one.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.procs[i].as_ref().map(|p| p.child.id())
    }

    /// Whether node `i` restarts with its join configuration.
    pub fn is_wiped(&self, i: usize) -> bool {
        self.join[i]
    }

    /// Nodes whose process exited although the harness did not kill it (a
    /// crash, or a refusal to start): reaps them and returns each with its
    /// exit status. A reaped node counts as not running; [`Cluster::start`]
    /// or [`Cluster::heal_all`] brings it back.
    pub fn reap_exited(&mut self) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        for i in 0..self.procs.len() {
            let exited = match &mut self.procs[i] {
                Some(p) => match p.child.try_wait() {
                    Ok(Some(status)) => Some(status.to_string()),
                    Ok(None) => None,
                    Err(e) => Some(format!("unknown status ({e})")),
                },
                None => None,
            };
            if let Some(status) = exited {
                self.procs[i] = None;
                out.push((i, status));
            }
        }
        out
    }

    /// SIGSTOP node `i`.
    pub fn pause(&mut self, i: usize) -> anyhow::Result<()> {
        if !self.is_running(i) {
            bail!("{} is not running", self.nodes[i].name);
        }
        let p = self.procs[i].as_mut().expect("running");
        signal(p.child.id(), libc::SIGSTOP)?;
        p.paused = true;
        Ok(())
    }

    /// SIGCONT node `i` (no-op when it is not paused).
    pub fn resume(&mut self, i: usize) -> anyhow::Result<()> {
        if let Some(p) = &mut self.procs[i] {
            if p.paused && p.child.try_wait()?.is_none() {
                signal(p.child.id(), libc::SIGCONT)?;
            }
            p.paused = false;
        }
        Ok(())
    }

    /// Partition by grudges (node index -> indices it drops traffic from).
    pub fn partition(&self, grudges: &[(usize, Vec<usize>)]) -> anyhow::Result<()> {
        match &self.network {
            Some(n) => n.partition(grudges),
            None => bail!("partitions need --net netns"),
        }
    }

    pub fn heal_network(&self) -> anyhow::Result<()> {
        match &self.network {
            Some(n) => n.heal(),
            None => Ok(()),
        }
    }

    /// Brings everything back: network healed, paused nodes resumed, dead
    /// nodes restarted. Returns what it had to do.
    pub fn heal_all(&mut self) -> anyhow::Result<Vec<String>> {
        let mut did = Vec::new();
        self.heal_network()?;
        for i in 0..self.nodes.len() {
            if self.procs[i].as_ref().is_some_and(|p| p.paused) {
                self.resume(i)?;
                did.push(format!("resumed {}", self.nodes[i].name));
            }
            if !self.is_running(i) {
                self.start(i)?;
                did.push(format!("restarted {}", self.nodes[i].name));
            }
        }
        Ok(did)
    }

    /// Stops node `i` gracefully: SIGCONT, SIGTERM, then SIGKILL if it has
    /// not exited after `grace`. Returns whether it exited by itself.
    pub fn stop(&mut self, i: usize, grace: Duration) -> anyhow::Result<bool> {
        let Some(mut p) = self.procs[i].take() else {
            bail!("{} has no running process", self.nodes[i].name);
        };
        if let Ok(None) = p.child.try_wait() {
            let _ = signal(p.child.id(), libc::SIGCONT);
            signal(p.child.id(), libc::SIGTERM)?;
        }
        let deadline = Instant::now() + grace;
        // Bounded by `grace`: 50 ms steps.
        loop {
            match p.child.try_wait()? {
                Some(_) => return Ok(true),
                None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
                None => {
                    let _ = p.child.kill();
                    let _ = p.child.wait();
                    return Ok(false);
                }
            }
        }
    }

    /// Stops every node: SIGCONT, SIGTERM, then SIGKILL after `grace`.
    pub fn stop_all(&mut self, grace: Duration) {
        for p in self.procs.iter_mut().flatten() {
            if let Ok(None) = p.child.try_wait() {
                let _ = signal(p.child.id(), libc::SIGCONT);
                let _ = signal(p.child.id(), libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + grace;
        for slot in self.procs.iter_mut() {
            if let Some(mut p) = slot.take() {
                loop {
                    match p.child.try_wait() {
                        Ok(Some(_)) => break,
                        Ok(None) if Instant::now() < deadline => {
                            std::thread::sleep(Duration::from_millis(50))
                        }
                        _ => {
                            let _ = p.child.kill();
                            let _ = p.child.wait();
                            break;
                        }
                    }
                }
            }
        }
    }

    /// Stops the nodes and removes the network and the state file.
    pub fn teardown(&mut self) -> Vec<String> {
        self.stop_all(Duration::from_secs(5));
        let mut errors = Vec::new();
        if let Some(n) = self.network.take() {
            errors.extend(n.destroy());
        }
        RunState::remove(&self.spec.run_id);
        errors
    }

    /// The last lines of node `i`'s log (for error messages), without
    /// backtrace frames and colours.
    pub fn log_tail(&self, i: usize, lines: usize) -> String {
        let text =
            strip_ansi(&std::fs::read_to_string(self.nodes[i].log_path()).unwrap_or_default());
        let v: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with(' ') && !l.trim().is_empty() && !l.contains("openraft"))
            .collect();
        v[v.len().saturating_sub(lines)..].join("\n")
    }

    /// Panics node `i` logged (any thread, over all its restarts): each
    /// `panicked at <place>` line with the message line after it, at most
    /// `max`, duplicates removed. A panicking thread inside a process that
    /// keeps running (e.g. the raft core) is a crash all the same.
    pub fn log_panics(&self, i: usize, max: usize) -> Vec<String> {
        let text =
            strip_ansi(&std::fs::read_to_string(self.nodes[i].log_path()).unwrap_or_default());
        let lines: Vec<&str> = text.lines().collect();
        let mut out: Vec<String> = Vec::new();
        for (k, l) in lines.iter().enumerate() {
            if !l.contains("panicked at") {
                continue;
            }
            let msg = lines.get(k + 1).copied().unwrap_or_default();
            let p = format!("{} {}", l.trim(), msg.trim());
            if !out.contains(&p) {
                out.push(p);
            }
            if out.len() == max {
                break;
            }
        }
        out
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.procs.iter().any(Option::is_some) || self.network.is_some() {
            let _ = self.teardown();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(n: usize, net: NetMode) -> ClusterSpec {
        ClusterSpec {
            run_id: "trjabcde".into(),
            nodes: n,
            net,
            binary: "/bin/trireme".into(),
            root_password: "p\"w".into(),
            dir: "/tmp/x".into(),
            base_port: 23000,
            extra_config: "[gcs]\nfc_limit = 32".into(),
        }
    }

    #[test]
    fn three_node_netns_config_names_every_member() {
        let s = spec(3, NetMode::Netns);
        let nodes = s.node_specs();
        assert_eq!(nodes[1].netns.as_deref(), Some("trjabcde-n2"));
        let t = node_config_toml(&s, &nodes, &nodes[1]);
        assert!(t.contains("node_id = 2\n"), "{t}");
        assert!(t.contains("listen = \"10.213.0.12:3306\""), "{t}");
        assert!(t.contains(
            "cluster_address = \"gcomm://10.213.0.11:4567,10.213.0.12:4567,10.213.0.13:4567\""
        ));
        assert!(t.contains("bootstrap = false"));
        assert!(t.contains("root_password = \"p\\\"w\""));
        assert!(t.ends_with("[gcs]\nfc_limit = 32\n"));
        let first = node_config_toml(&s, &nodes, &nodes[0]);
        assert!(first.contains("bootstrap = true"));
        // It is valid TOML (parsed generically here; the node's own parser
        // is exercised by the harness runs).
        let v: toml::Table = toml::from_str(&t).unwrap();
        assert_eq!(v["cluster"]["listen"].as_str(), Some("10.213.0.12:4567"));
    }

    #[test]
    fn single_loopback_node_bootstraps_alone() {
        let s = spec(1, NetMode::Loopback);
        let nodes = s.node_specs();
        assert_eq!(nodes[0].mysql.to_string(), "127.0.0.1:23000");
        assert!(nodes[0].netns.is_none());
        let t = node_config_toml(&s, &nodes, &nodes[0]);
        assert!(t.contains("cluster_address = \"gcomm://\""));
        assert!(t.contains("listen = \"127.0.0.1:23100\""));
    }

    #[test]
    fn ansi_colours_are_stripped() {
        assert_eq!(
            strip_ansi("\u{1b}[2m2026\u{1b}[0m \u{1b}[33m WARN\u{1b}[0m x"),
            "2026  WARN x"
        );
    }

    #[test]
    fn run_ids_fit_interface_name_limits() {
        let id = new_run_id();
        assert!(id.starts_with("trj") && id.len() == 8, "{id}");
        let (br, ns) = Network::names(&id, 9);
        assert!(br.len() <= 15 && ns.iter().all(|n| n.len() <= 15));
    }
}
