//! Tests of the harness itself against real processes and real namespaces.
//!
//! Behind the `cluster-tests` feature, because they need root (network
//! namespaces, nft), the `trireme` binary (`cargo build -j2 -p
//! trireme-node`; found in `$CARGO_TARGET_DIR/debug`, or `TRIREME_BIN`),
//! and take tens of seconds (CI runs them as root, from `.ci/run`):
//!
//! ```text
//! cargo build -j2 -p trireme-node
//! cargo test -j2 -p trireme-tests --features cluster-tests --test harness
//! ```
#![cfg(feature = "cluster-tests")]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use trireme_tests::cluster::{
    self, netns, Cluster, ClusterSpec, NetMode, Network, NsExecutor, RunState,
};
use trireme_tests::nemesis::NemesisKind;
use trireme_tests::run::{self, RunOpts, Verdict};
use trireme_tests::workload::WorkloadKind;

fn binary() -> PathBuf {
    let b = std::env::var_os("TRIREME_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| trireme_tests::target_dir().join("debug/trireme"));
    assert!(
        b.exists(),
        "{} missing: run `cargo build -j2 -p trireme-node` first",
        b.display()
    );
    b
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Removes a test network even when an assertion fails.
struct NetGuard(Option<Network>);

impl Drop for NetGuard {
    fn drop(&mut self) {
        if let Some(n) = self.0.take() {
            let errs = n.destroy();
            assert!(errs.is_empty() || std::thread::panicking(), "{errs:?}");
        }
    }
}

fn connect_from(ex: &NsExecutor, addr: SocketAddr) -> bool {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let r = ex.spawn(async move {
            matches!(
                tokio::time::timeout(
                    Duration::from_millis(1500),
                    tokio::net::TcpStream::connect(addr)
                )
                .await,
                Ok(Ok(_))
            )
        });
        r.await.unwrap()
    })
}

#[test]
fn namespaces_isolate_addresses_and_partitions_drop_traffic() {
    assert!(is_root(), "this test needs root (network namespaces)");
    let id = cluster::new_run_id();
    let guard = NetGuard(Some(Network::create(&id, 2).expect("create namespaces")));
    let net = guard.0.as_ref().unwrap();
    let names = netns::list_netns().unwrap();
    for (ns, _) in &net.nodes {
        assert!(names.contains(ns), "{ns} missing from {names:?}");
    }
    // A listener inside n2.
    let target: SocketAddr = (net.nodes[1].1, 5000).into();
    let server = NsExecutor::start(Some(&net.nodes[1].0), "test-server").unwrap();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let _accepting = server.spawn(async move {
        let l = tokio::net::TcpListener::bind(target)
            .await
            .expect("bind inside n2");
        ready_tx.send(()).unwrap();
        for _ in 0..100 {
            if l.accept().await.is_err() {
                break;
            }
        }
    });
    ready_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("listener up");
    let client = NsExecutor::start(Some(&net.nodes[0].0), "test-client").unwrap();
    // The private range exists only inside our namespaces. (Checked
    // statically: a packet to it from the host namespace would follow the
    // host's default route off the machine, so we never send one.)
    let host_addrs = netns::cmd_output("ip", &["-br", "addr"]).unwrap();
    assert!(!host_addrs.contains("10.213."), "{host_addrs}");

    assert!(
        connect_from(&client, target),
        "n1 reaches n2 over the bridge"
    );

    net.partition(&[(1, vec![0])]).unwrap();
    assert!(
        !connect_from(&client, target),
        "n2 drops traffic from n1 while partitioned"
    );
    net.heal().unwrap();
    assert!(connect_from(&client, target), "healed");
    // Healing twice is fine.
    net.heal().unwrap();
    drop((client, server));
    drop(guard);
    let after = netns::list_netns().unwrap();
    assert!(
        !after.iter().any(|n| n.starts_with(&id)),
        "namespaces removed: {after:?}"
    );
}

#[test]
fn cleanup_removes_what_a_dead_harness_left() {
    assert!(is_root(), "this test needs root (network namespaces)");
    let id = cluster::new_run_id();
    let net = Network::create(&id, 1).expect("create namespaces");
    // A pid that certainly belongs to no live process: a child we reaped.
    let mut c = std::process::Command::new("true").spawn().unwrap();
    let dead = c.id();
    c.wait().unwrap();
    RunState {
        run_id: id.clone(),
        harness_pid: dead,
        namespaces: std::iter::once(net.bridge_ns.clone())
            .chain(net.nodes.iter().map(|n| n.0.clone()))
            .collect(),
        node_pids: Default::default(),
        binary: "/nonexistent/trireme".into(),
    }
    .save()
    .unwrap();
    let done = cluster::cleanup(Some(&id)).unwrap();
    assert!(
        done.iter().any(|d| d.contains("deleted namespace")),
        "{done:?}"
    );
    let after = netns::list_netns().unwrap();
    assert!(!after.iter().any(|n| n.starts_with(&id)), "{after:?}");
    assert!(!RunState::path(&id).exists());
}

fn opts(
    workload: WorkloadKind,
    nemesis: NemesisKind,
    nodes: usize,
    net: NetMode,
    time_s: u64,
) -> RunOpts {
    RunOpts {
        workload,
        nemesis,
        time_s,
        seed: 42,
        nodes,
        concurrency: 4,
        rate: 40.0,
        interval_s: 2,
        recovery_s: 2,
        net,
        binary: binary(),
        results_root: trireme_tests::target_dir().join("jepsen-tests"),
        root_password: "jepsen".into(),
        statement_timeout_ms: 3_000,
        connect_timeout_ms: 1_000,
        base_port: 0,
        extra_config: String::new(),
        startup_timeout_s: 30,
        target: Default::default(),
    }
}

fn assert_valid(s: &run::Summary) {
    assert_eq!(
        s.verdict,
        Verdict::Valid,
        "{}\n(history: {})",
        run::render_summary(s),
        s.dir.join("history.jsonl").display()
    );
    assert!(s.ops.ok > 0, "no operation succeeded");
    for f in [
        "history.jsonl",
        "summary.json",
        "summary.txt",
        "latency.svg",
        "run.json",
    ] {
        assert!(s.dir.join(f).exists(), "{f} missing");
    }
}

#[test]
fn one_node_on_loopback_runs_and_checks_every_workload() {
    for w in [
        WorkloadKind::Bank,
        WorkloadKind::Set,
        WorkloadKind::ListAppend,
        WorkloadKind::Ddl,
    ] {
        let s = run::run(&opts(w, NemesisKind::None, 1, NetMode::Loopback, 3)).unwrap();
        assert_valid(&s);
        assert!(s.by_f.contains_key("final-read"));
    }
}

#[test]
fn one_node_in_a_namespace_survives_kills_and_pauses() {
    assert!(is_root(), "this test needs root (network namespaces)");
    let s = run::run(&opts(
        WorkloadKind::Set,
        NemesisKind::Mix,
        1,
        NetMode::Netns,
        8,
    ))
    .unwrap();
    assert_valid(&s);
    assert!(!s.faults.is_empty(), "the nemesis acted");
    assert!(s.faults_applied > 0, "faults were applied");
    assert!(s.harness_errors.is_empty(), "{:?}", s.harness_errors);
    assert!(s.crashes.is_empty(), "{:?}", s.crashes);
    assert!(s.consistency.is_some(), "the consistency check ran");
}

#[test]
fn a_cluster_that_cannot_start_is_a_harness_failure_not_unknown() {
    // `false` exits at once: the node "crashes" during start-up.
    let mut o = opts(
        WorkloadKind::Set,
        NemesisKind::None,
        1,
        NetMode::Loopback,
        2,
    );
    o.binary = PathBuf::from("/bin/false");
    o.startup_timeout_s = 5;
    let s = run::run(&o).unwrap();
    assert_eq!(
        s.verdict,
        Verdict::HarnessFailure,
        "{}",
        run::render_summary(&s)
    );
    assert_eq!(s.verdict.exit_code(), 3);
    assert!(
        s.harness_errors.iter().any(|e| e.contains("start")),
        "{:?}",
        s.harness_errors
    );
}

#[test]
fn a_nemesis_that_applied_no_fault_is_a_harness_failure() {
    // One second of workload is shorter than any quiet period of a 2 s
    // interval: the kill nemesis never acts.
    let s = run::run(&opts(
        WorkloadKind::Set,
        NemesisKind::Kill,
        1,
        NetMode::Loopback,
        1,
    ))
    .unwrap();
    assert_eq!(s.faults_applied, 0);
    assert_eq!(
        s.verdict,
        Verdict::HarnessFailure,
        "{}",
        run::render_summary(&s)
    );
    assert!(run::render_summary(&s).contains("applied no fault"));
}

#[test]
fn killing_a_node_that_is_not_running_fails() {
    let dir = trireme_tests::target_dir()
        .join("jepsen-tests")
        .join(format!("kill-{}", cluster::new_run_id()));
    let spec = ClusterSpec {
        run_id: cluster::new_run_id(),
        nodes: 1,
        net: NetMode::Loopback,
        binary: binary(),
        root_password: "jepsen".into(),
        dir: dir.clone(),
        base_port: cluster::free_base_port(1).unwrap(),
        extra_config: String::new(),
    };
    let mut c = Cluster::create(spec).unwrap();
    let e = c.kill(0).unwrap_err().to_string();
    assert!(e.contains("no running process"), "{e}");
    c.start(0).unwrap();
    c.kill(0).expect("a running node can be killed");
    assert!(c.kill(0).is_err(), "a killed node cannot be killed again");
    assert!(c.wipe(0).is_err(), "the only node is never wiped");
    assert!(c.teardown().is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn wiping_a_node_deletes_its_data_and_restarts_it_without_bootstrap() {
    // Harness mechanics only (loopback, no readiness wait): whether the
    // wiped node then rejoins is what the wipe nemesis runs test.
    let dir = trireme_tests::target_dir()
        .join("jepsen-tests")
        .join(format!("wipe-{}", cluster::new_run_id()));
    let spec = ClusterSpec {
        run_id: cluster::new_run_id(),
        nodes: 3,
        net: NetMode::Loopback,
        binary: binary(),
        root_password: "jepsen".into(),
        dir: dir.clone(),
        base_port: cluster::free_base_port(3).unwrap(),
        extra_config: String::new(),
    };
    let mut c = Cluster::create(spec).unwrap();
    let join = std::fs::read_to_string(c.nodes[0].join_config_path()).unwrap();
    assert!(join.contains("bootstrap = false"), "{join}");
    c.start_all().unwrap();
    assert!(c.nodes[0].data_dir().exists());
    c.wipe(0).unwrap();
    assert!(
        !c.nodes[0].data_dir().exists(),
        "the data directory is gone"
    );
    assert!(c.is_wiped(0) && !c.is_running(0));
    c.start(0).unwrap();
    let pid = c.pid(0).unwrap();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    assert!(cmdline.contains("node-join.toml"), "{cmdline}");
    assert!(!cmdline.contains("--bootstrap"), "{cmdline}");
    // The other nodes still start with their own configuration.
    let other = c.pid(1).unwrap();
    let cmdline =
        String::from_utf8_lossy(&std::fs::read(format!("/proc/{other}/cmdline")).unwrap())
            .replace('\0', " ");
    assert!(cmdline.contains("node.toml"), "{cmdline}");
    assert!(c.teardown().is_empty());
    let _ = std::fs::remove_dir_all(dir);
}
