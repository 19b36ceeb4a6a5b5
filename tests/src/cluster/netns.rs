//! Network namespaces: the private network the nodes live on, the firewall
//! rules that partition it, and threads that open sockets inside it.
//!
//! # Topology
//!
//! ```text
//!   <run>-br    (namespace holding only the bridge)
//!     br0 ── v1 ═══ eth0  <run>-n1   10.213.0.11/24   trireme n1
//!         ── v2 ═══ eth0  <run>-n2   10.213.0.12/24   trireme n2
//!         ── v3 ═══ eth0  <run>-n3   10.213.0.13/24   trireme n3
//! ```
//!
//! Every interface and address lives inside namespaces this run created; the
//! host's namespace is not touched, so the 10.213.0.0/24 range is visible
//! nowhere else, and concurrent runs (each with its own bridge namespace)
//! cannot collide. Namespace names start with the run id
//! (`trj<5 hex>-`), which is also how `--cleanup` recognises them.
//!
//! # Partitions
//!
//! A partition is a set of *grudges*: node X drops every packet arriving
//! from the nodes it holds a grudge against. The rules live in a table
//! `inet trireme_jepsen` inside X's namespace, so healing is deleting that
//! table. Dropping (not rejecting) is deliberate: peers see silence, as with
//! a real network fault, and must rely on their timeouts. Clients are
//! unaffected: each client connects from inside its node's namespace to the
//! node's own address.
//!
//! # Clients inside namespaces
//!
//! A socket belongs to the network namespace of the thread that created it.
//! [`NsExecutor`] is a thread that joins a node's namespace with `setns(2)`
//! and runs a single-threaded tokio runtime; futures sent to it open their
//! connections inside the namespace. Threads it starts inherit the namespace.

use std::future::Future;
use std::net::Ipv4Addr;
use std::pin::Pin;
use std::process::{Command, Stdio};

use anyhow::{bail, Context};

/// The table holding partition rules in each node namespace.
pub const NFT_TABLE: &str = "trireme_jepsen";

/// Runs `ip` with arguments; fails with its stderr.
pub fn ip(args: &[&str]) -> anyhow::Result<()> {
    run_cmd("ip", args, None)
}

/// Runs a command, feeding `stdin` if given; fails with its stderr.
pub fn run_cmd(cmd: &str, args: &[&str], stdin: Option<&str>) -> anyhow::Result<()> {
    use std::io::Write;
    let mut c = Command::new(cmd);
    c.args(args).stdout(Stdio::null()).stderr(Stdio::piped());
    c.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = c.spawn().with_context(|| format!("spawning {cmd}"))?;
    if let Some(s) = stdin {
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(s.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "{cmd} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Output of a command (stdout), failing with stderr.
pub fn cmd_output(cmd: &str, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(cmd)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("spawning {cmd}"))?;
    if !out.status.success() {
        bail!(
            "{cmd} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Names of all network namespaces on the machine.
pub fn list_netns() -> anyhow::Result<Vec<String>> {
    let out = cmd_output("ip", &["netns", "list"])?;
    Ok(out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect())
}

/// The private network of one run.
#[derive(Debug)]
pub struct Network {
    pub run_id: String,
    pub bridge_ns: String,
    /// Per node: (namespace, address).
    pub nodes: Vec<(String, Ipv4Addr)>,
}

/// Address of node `i` (0-based).
pub fn node_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 213, 0, 11 + i as u8)
}

impl Network {
    /// Namespace names this run would use (also what cleanup looks for).
    pub fn names(run_id: &str, n: usize) -> (String, Vec<String>) {
        (
            format!("{run_id}-br"),
            (1..=n).map(|i| format!("{run_id}-n{i}")).collect(),
        )
    }

    /// Creates the bridge namespace and one namespace per node. On any
    /// error, removes whatever it had created.
    pub fn create(run_id: &str, n: usize) -> anyhow::Result<Network> {
        assert!(n > 0 && n < 200, "node count");
        let (bridge_ns, node_ns) = Network::names(run_id, n);
        let net = Network {
            run_id: run_id.to_owned(),
            bridge_ns: bridge_ns.clone(),
            nodes: node_ns
                .iter()
                .enumerate()
                .map(|(i, ns)| (ns.clone(), node_ip(i)))
                .collect(),
        };
        match net.build() {
            Ok(()) => Ok(net),
            Err(e) => {
                let _ = net.destroy();
                Err(e)
            }
        }
    }

    fn build(&self) -> anyhow::Result<()> {
        let br = self.bridge_ns.as_str();
        ip(&["netns", "add", br])?;
        ip(&["-n", br, "link", "set", "lo", "up"])?;
        ip(&["-n", br, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", br, "link", "set", "br0", "up"])?;
        for (i, (ns, addr)) in self.nodes.iter().enumerate() {
            let v = format!("v{}", i + 1);
            ip(&["netns", "add", ns])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            ip(&[
                "-n", br, "link", "add", &v, "type", "veth", "peer", "name", "eth0", "netns", ns,
            ])?;
            ip(&["-n", br, "link", "set", &v, "master", "br0"])?;
            ip(&["-n", br, "link", "set", &v, "up"])?;
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                "eth0",
            ])?;
            ip(&["-n", ns, "link", "set", "eth0", "up"])?;
        }
        Ok(())
    }

    /// Deletes this run's namespaces (which removes their interfaces and
    /// rules). Returns the errors, if any, and keeps going past them.
    pub fn destroy(&self) -> Vec<String> {
        let mut errors = Vec::new();
        let existing = list_netns().unwrap_or_default();
        for ns in self
            .nodes
            .iter()
            .map(|(ns, _)| ns)
            .chain(std::iter::once(&self.bridge_ns))
        {
            if existing.iter().any(|e| e == ns) {
                if let Err(e) = ip(&["netns", "del", ns]) {
                    errors.push(e.to_string());
                }
            }
        }
        errors
    }

    /// Installs grudges: for each (node index, indices it drops traffic
    /// from). Replaces any earlier partition. Each namespace's rules are
    /// replaced in one nft transaction, so changing from one partition to
    /// another never passes through a healed state.
    pub fn partition(&self, grudges: &[(usize, Vec<usize>)]) -> anyhow::Result<()> {
        for (i, (ns, _)) in self.nodes.iter().enumerate() {
            let from: Vec<usize> = grudges
                .iter()
                .filter(|(x, _)| *x == i)
                .flat_map(|(_, g)| g.clone())
                .collect();
            // Create-if-missing, delete, recreate: atomic as one script.
            let mut script = format!("table inet {NFT_TABLE}\ndelete table inet {NFT_TABLE}\n");
            if !from.is_empty() {
                let addrs: Vec<String> =
                    from.iter().map(|j| self.nodes[*j].1.to_string()).collect();
                script.push_str(&format!(
                    "table inet {NFT_TABLE} {{\n  chain input {{\n    type filter hook input priority 0; policy accept;\n    ip saddr {{ {} }} drop\n  }}\n}}\n",
                    addrs.join(", ")
                ));
            }
            run_cmd(
                "ip",
                &["netns", "exec", ns, "nft", "-f", "-"],
                Some(&script),
            )?;
        }
        Ok(())
    }

    /// Removes all partition rules.
    pub fn heal(&self) -> anyhow::Result<()> {
        let mut errors = Vec::new();
        for (ns, _) in &self.nodes {
            let tables = cmd_output("ip", &["netns", "exec", ns, "nft", "list", "tables"])?;
            if tables
                .lines()
                .any(|l| l.trim() == format!("table inet {NFT_TABLE}"))
            {
                if let Err(e) = run_cmd(
                    "ip",
                    &[
                        "netns", "exec", ns, "nft", "delete", "table", "inet", NFT_TABLE,
                    ],
                    None,
                ) {
                    errors.push(e.to_string());
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            bail!("heal: {}", errors.join("; "))
        }
    }
}

/// Moves the calling thread into the named network namespace.
pub fn enter_netns(name: &str) -> anyhow::Result<()> {
    use std::os::fd::AsRawFd;
    let path = format!("/run/netns/{name}");
    let f = std::fs::File::open(&path).with_context(|| format!("opening {path}"))?;
    // SAFETY: setns(2) on a valid fd we own; it affects only this thread.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        bail!("setns({path}): {}", std::io::Error::last_os_error());
    }
    Ok(())
}

type Job = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A thread, optionally inside a network namespace, running a
/// single-threaded tokio runtime that executes the futures sent to it.
pub struct NsExecutor {
    tx: Option<tokio::sync::mpsc::UnboundedSender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl NsExecutor {
    pub fn start(netns: Option<&str>, name: &str) -> anyhow::Result<NsExecutor> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Job>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<anyhow::Result<()>>();
        let ns = netns.map(str::to_owned);
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                if let Some(ns) = &ns {
                    if let Err(e) = enter_netns(ns) {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                }
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.into()));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                rt.block_on(async move {
                    while let Some(job) = rx.recv().await {
                        tokio::spawn(job);
                    }
                });
                // Dropping the runtime cancels whatever is still running.
            })?;
        ready_rx.recv().context("executor thread died")??;
        Ok(NsExecutor {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Runs `fut` on the executor; the result comes back on the receiver
    /// (which errors if the executor shut down first).
    pub fn spawn<T, Fut>(&self, fut: Fut) -> tokio::sync::oneshot::Receiver<T>
    where
        T: Send + 'static,
        Fut: Future<Output = T> + Send + 'static,
    {
        let (otx, orx) = tokio::sync::oneshot::channel();
        let job: Job = Box::pin(async move {
            let _ = otx.send(fut.await);
        });
        if let Some(tx) = &self.tx {
            let _ = tx.send(job);
        }
        orx
    }
}

impl Drop for NsExecutor {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
