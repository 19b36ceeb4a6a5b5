#!/usr/bin/env python3
"""Same-run sysbench comparison of trireme against MariaDB Galera.

Starts a `trireme demo` cluster on free loopback ports (stopped by pid at
the end) and, when one answers, uses a running Galera cluster (the scripts
in ../shared/bench/galera set one up on 127.0.0.1:3311-3313). Every
scenario runs on both systems back to back (Galera, trireme, Galera, ...)
for each round, so the noise of a shared machine hits both alike; the
table shows medians over the rounds and trireme / Galera ratios.

    bench/compare.py [--rounds N] [--time S] [--fsync always|never]
                     [--plan "oltp_write_only 16 single; ..."]
                     [--galera HOST:PORT,...] [--no-galera] [--json FILE]
                     [--perf-dir DIR]

A plan entry is `TEST THREADS single|spread [rc]`: `single` sends every
connection to the first node, `spread` spreads them over all three, `rc`
runs it with tx_isolation = READ-COMMITTED (set globally on every
node for that run). Before each trireme run the status counters are reset,
and after it the commit-latency breakdown and node1's CPU time and context
switches per transaction are printed.

With --perf-dir, each trireme run of the first round is also profiled
(perf, DWARF call graphs, node1) and drawn as DIR/<scenario>.svg by
inferno (`cargo install inferno`); profiling slows the run, so take the
table from a run without it.

Needs sysbench and the mariadb client (tests/deps.sh) and release binaries:
    cargo build --release -j2 -p trireme-node -p trireme-proxy
Not a test: numbers only (see BENCHMARKS.md).
"""

import argparse
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

DEFAULT_PLAN = (
    "oltp_point_select 8 single; oltp_read_write 8 single; "
    "oltp_read_write 8 single rc; oltp_write_only 1 single; "
    "oltp_write_only 16 single; oltp_write_only 16 spread; "
    "oltp_write_only 64 single; oltp_write_only 256 single"
)
TABLES = 4
TABLE_SIZE = 10000
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class System:
    def __init__(self, label, hosts, user, password):
        self.label = label
        self.hosts = hosts  # ["127.0.0.1:3307", ...]
        self.user = user
        self.password = password

    def sql(self, host, stmt, check=True):
        h, p = host.split(":")
        r = subprocess.run(
            ["mariadb", "-h", h, "-P", p, "-u", self.user,
             f"-p{self.password}", "-N", "-B", "-e", stmt],
            capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise RuntimeError(f"{self.label} {host}: {stmt}: {r.stderr.strip()}")
        return r.stdout

    def answers(self):
        try:
            self.sql(self.hosts[0], "SELECT 1")
            return True
        except Exception:
            return False


def sysbench_args(system, test, threads, spread, secs):
    hosts = system.hosts if spread else system.hosts[:1]
    return [
        "sysbench", test, "--db-driver=mysql",
        "--mysql-host=" + ",".join(h.split(":")[0] for h in hosts),
        "--mysql-port=" + ",".join(h.split(":")[1] for h in hosts),
        f"--mysql-user={system.user}", f"--mysql-password={system.password}",
        "--mysql-db=sbtest", f"--tables={TABLES}", f"--table-size={TABLE_SIZE}",
        "--auto_inc=off", f"--threads={threads}", f"--time={secs}",
        "--report-interval=0", "--mysql-ignore-errors=all",
    ]


def prepare(system):
    """Creates the sysbench tables unless they are there with every row."""
    first = system.hosts[0]
    system.sql(first, "CREATE DATABASE IF NOT EXISTS sbtest")
    try:
        counts = [int(system.sql(first, f"SELECT COUNT(*) FROM sbtest.sbtest{i}").strip())
                  for i in range(1, TABLES + 1)]
        if all(c == TABLE_SIZE for c in counts):
            return
    except Exception:
        pass
    for i in range(1, TABLES + 1):
        system.sql(first, f"DROP TABLE IF EXISTS sbtest.sbtest{i}")
    r = subprocess.run(sysbench_args(system, "oltp_read_write", 1, False, 1) + ["prepare"],
                       capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise RuntimeError(f"{system.label}: sysbench prepare failed: {r.stderr[-2000:]}")


def parse(out):
    def num(pattern):
        m = re.search(pattern, out)
        return float(m.group(1)) if m else None
    return {
        "tps": num(r"transactions:\s+\d+\s+\(([\d.]+) per sec"),
        "errors": num(r"ignored errors:\s+(\d+)"),
        "avg_ms": num(r"avg:\s+([\d.]+)"),
        "p95_ms": num(r"95th percentile:\s+([\d.]+)"),
    }


def proc_times(pid):
    """(CPU seconds, context switches) of a process and its threads."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / tick
    csw = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{t}/status") as f:
                for line in f:
                    if "ctxt_switches" in line:
                        csw += int(line.split()[1])
        except FileNotFoundError:
            pass
    return cpu, csw


def start_profile(pid, secs, out):
    """perf on node1 for most of a run (its first and last second are
    connection set-up and tear-down)."""
    return subprocess.Popen(
        ["perf", "record", "-F", "199", "--call-graph", "dwarf,8192", "-p", str(pid),
         "-o", out, "--", "sleep", str(max(1, secs - 2))],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def draw_profile(data, svg, title):
    script = subprocess.Popen(["perf", "script", "-i", data], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL)
    folded = subprocess.run(["inferno-collapse-perf"], stdin=script.stdout,
                            capture_output=True, timeout=1800)
    script.wait()
    with open(svg, "wb") as f:
        # Frames under 0.2 % of the samples are left out: they make the
        # file large and cannot be read at that width anyway.
        subprocess.run(["inferno-flamegraph", "--minwidth", "0.2", "--title", title], input=folded.stdout,
                       stdout=f, timeout=600, check=True)
    os.remove(data)


def run_one(system, scenario, secs, node1_pid=None, profile=None):
    test, threads, mode, rc = scenario
    if rc:
        for h in system.hosts:
            system.sql(h, "SET GLOBAL tx_isolation = 'READ-COMMITTED'")
    if node1_pid:
        before = proc_times(node1_pid)
        status_before = commit_status(system)
    perf = None
    try:
        bench = subprocess.Popen(
            sysbench_args(system, test, threads, mode == "spread", secs) + ["run"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if profile and node1_pid:
            time.sleep(1)
            perf = start_profile(node1_pid, secs, profile + ".data")
        out, err = bench.communicate(timeout=secs + 300)
    finally:
        if rc:
            for h in system.hosts:
                system.sql(h, "SET GLOBAL tx_isolation = 'REPEATABLE-READ'", check=False)
    res = parse(out)
    if res["tps"] is None:
        res["failed"] = (out + err)[-600:]
    if node1_pid and res["tps"]:
        # Read before drawing a profile, which takes a while after the run.
        after = proc_times(node1_pid)
        txns = res["tps"] * secs
        res["node1_cpu_us_per_txn"] = (after[0] - before[0]) * 1e6 / txns
        res["node1_csw_per_txn"] = (after[1] - before[1]) / txns
        res.update(commit_breakdown(status_before, commit_status(system)))
    if perf:
        perf.wait(timeout=60)
        draw_profile(profile + ".data", profile + ".svg", f"trireme node1: {name(scenario)}")
    return res


def commit_status(system):
    """trireme_commit_* status variables of the first node."""
    out = {}
    status = system.sql(system.hosts[0], "SHOW STATUS LIKE 'trireme_commit%'", check=False)
    for line in status.splitlines():
        k, _, v = line.partition("\t")
        try:
            out[k] = float(v)
        except ValueError:
            pass
    return out


def commit_breakdown(before, after):
    """Mean time per stage over the runs between two status reads (the
    status shows means since start with the count behind each)."""
    out = {}
    for k, v in after.items():
        if not k.endswith("_avg_us"):
            continue
        count = k[: -len("_avg_us")] + "_count"
        n0, n1 = before.get(count, 0), after.get(count, 0)
        if n1 > n0:
            out[k] = (v * n1 - before.get(k, 0) * n0) / (n1 - n0)
    return out


def start_trireme(fsync):
    bin_dir = os.path.join(ROOT, "target", "release")
    exe = os.path.join(bin_dir, "trireme")
    if not (os.access(exe, os.X_OK) and os.access(os.path.join(bin_dir, "trireme-proxy"), os.X_OK)):
        sys.exit("no release binaries: cargo build --release -j2 -p trireme-node -p trireme-proxy")
    base = 24000 + random.randrange(0, 2000) * 5
    data = tempfile.mkdtemp(prefix="trireme-compare.")
    env = dict(os.environ, TRIREME_CLUSTER_FSYNC=fsync)
    log = open(os.path.join(data, "demo.out"), "w")
    proc = subprocess.Popen(
        [exe, "demo", "--base-port", str(base), "--peer-base-port", str(base + 10),
         "--proxy-port", str(base + 20), "--admin-port", str(base + 21),
         "--read-port", str(base + 22), "--root-password", "pw",
         "--data-dir", os.path.join(data, "demo")],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    deadline = time.time() + 180
    while time.time() < deadline:
        with open(os.path.join(data, "demo.out")) as f:
            if "cluster is up" in f.read():
                break
        if proc.poll() is not None:
            sys.exit(f"trireme demo exited; see {data}/demo.out")
        time.sleep(0.5)
    else:
        stop(proc)
        sys.exit(f"trireme demo not up in 180 s; see {data}/demo.out")
    hosts = [f"127.0.0.1:{base + i}" for i in range(3)]
    pid = None
    with open(os.path.join(data, "demo.out")) as f:
        m = re.search(r"started node1 \(pid (\d+)\)", f.read())
        if m:
            pid = int(m.group(1))
    return proc, data, System("trireme", hosts, "root", "pw"), pid


def stop(proc):
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=30)
    except Exception:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except Exception:
            pass


def parse_plan(text):
    plan = []
    for entry in text.split(";"):
        words = entry.split()
        if not words:
            continue
        if len(words) < 3 or words[2] not in ("single", "spread"):
            sys.exit(f"bad plan entry {entry!r}: TEST THREADS single|spread [rc]")
        plan.append((words[0], int(words[1]), words[2], "rc" in words[3:]))
    return plan


def name(s):
    test, threads, mode, rc = s
    return f"{test.replace('oltp_', '')} {threads} thr {mode}" + (" RC" if rc else "")


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--time", type=int, default=20)
    ap.add_argument("--fsync", choices=["always", "never"], default="always")
    ap.add_argument("--plan", default=DEFAULT_PLAN)
    ap.add_argument("--galera", default="127.0.0.1:3311,127.0.0.1:3312,127.0.0.1:3313")
    ap.add_argument("--galera-user", default="sbtest")
    ap.add_argument("--galera-password", default="sbtest")
    ap.add_argument("--no-galera", action="store_true")
    ap.add_argument("--json", help="also write every run's numbers here")
    ap.add_argument("--perf-dir", help="profile trireme's node1 in round 1, flame graphs here")
    a = ap.parse_args()
    tools = ["sysbench", "mariadb"]
    if a.perf_dir:
        tools += ["perf", "inferno-collapse-perf", "inferno-flamegraph"]
    for tool in tools:
        if shutil.which(tool) is None:
            sys.exit(f"{tool} missing: tests/deps.sh installs sysbench and mariadb;"
                     " perf is Debian's linux-perf, inferno is `cargo install inferno`")
    plan = parse_plan(a.plan)

    systems = []
    galera = None
    if not a.no_galera:
        galera = System("galera", a.galera.split(","), a.galera_user, a.galera_password)
        if galera.answers():
            systems.append(galera)
        else:
            print(f"# no Galera at {a.galera}: trireme only", file=sys.stderr)
            galera = None
    proc, data, trireme, node1_pid = start_trireme(a.fsync)
    systems.append(trireme)
    results = {(s.label, sc): [] for s in systems for sc in plan}
    try:
        for s in systems:
            prepare(s)
        for rnd in range(1, a.rounds + 1):
            for sc in plan:
                for s in systems:
                    profile = None
                    if a.perf_dir and s is trireme and rnd == 1:
                        os.makedirs(a.perf_dir, exist_ok=True)
                        slug = re.sub(r"[^a-z0-9]+", "_", name(sc).lower()).strip("_")
                        profile = os.path.join(a.perf_dir, slug)
                    res = run_one(s, sc, a.time, node1_pid if s is trireme else None, profile)
                    results[(s.label, sc)].append(res)
                    extra = ""
                    if "trireme_commit_order_avg_us" in res:
                        extra = (f" commit us: gate {res.get('trireme_commit_fc_gate_avg_us', 0):.0f}"
                                 f" order {res['trireme_commit_order_avg_us']:.0f}"
                                 f" certify {res.get('trireme_commit_certify_avg_us', 0):.0f}"
                                 f" apply_wait {res.get('trireme_commit_apply_wait_avg_us', 0):.0f}"
                                 f" total {res.get('trireme_commit_total_avg_us', 0):.0f};")
                    if "node1_cpu_us_per_txn" in res:
                        extra += (f" node1 {res['node1_cpu_us_per_txn']:.0f} cpu us/txn,"
                                  f" {res['node1_csw_per_txn']:.1f} csw/txn")
                    print(f"round {rnd} {s.label:8} {name(sc):32} tps {fmt(res['tps'], '.1f')}"
                          f" errors {fmt(res['errors'], '.0f')} avg {fmt(res['avg_ms'], '.2f')} ms"
                          + (" FAILED: " + res["failed"].replace("\n", " ") if "failed" in res else "")
                          + extra, flush=True)
    finally:
        stop(proc)
        shutil.rmtree(data, ignore_errors=True)

    def med(label, sc, key):
        vals = [r[key] for r in results.get((label, sc), []) if r.get(key) is not None]
        return statistics.median(vals) if vals else None

    print()
    print(f"trireme demo (fsync = {a.fsync}, memory engine) vs "
          + ("Galera at " + a.galera if galera else "no Galera")
          + f"; sysbench {TABLES} x {TABLE_SIZE} rows, {a.time} s, median of {a.rounds} rounds")
    print()
    print("| scenario | Galera tps (errors) | trireme tps (errors) | trireme / Galera |")
    print("|---|---|---|---|")
    for sc in plan:
        g, t = med("galera", sc, "tps"), med("trireme", sc, "tps")
        ge, te = med("galera", sc, "errors"), med("trireme", sc, "errors")
        ratio = f"{t / g:.2f}x" if g and t else "-"
        print(f"| {name(sc)} | {fmt(g, '.0f')} ({fmt(ge, '.0f')}) | {fmt(t, '.0f')} ({fmt(te, '.0f')}) | {ratio} |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump([{"system": k[0], "scenario": name(k[1]), "runs": v}
                       for k, v in results.items()], f, indent=1)


if __name__ == "__main__":
    main()
