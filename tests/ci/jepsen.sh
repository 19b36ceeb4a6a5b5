#!/usr/bin/env bash
# The Jepsen CI set: bank, list-append and set against the partition, kill
# and pause nemeses, bank against the wipe nemesis (a node loses its data
# directory and rejoins by state transfer), list-append with the current
# leader partitioned away and killed (availability: each run reports its
# longest majority commit gap, how soon the minority reported non-Primary,
# and its leader and view changes), and the DDL workload under
# partitions; 25 s of workload each (about 10 minutes in total on 2 cores),
# each node in its own network namespace. Every run ends by comparing the
# databases, table definitions and CHECKSUM TABLE of every node.
#
# Needs root, iproute2 and nftables. Called from .ci/run; extra arguments go
# to the harness (e.g. --time 60, --nodes 1 for the single-node set, which
# skips partitions and wipes).
#
# Honours CARGO_TARGET_DIR (binaries and results live there, default
# ./target) and CARGO_BUILD_JOBS (default 2).
#
# Exit status: 0 all valid; 1 an anomaly, a divergence or a node crash;
# 2 some verdict unknown (a node unavailable at the end); 3 a harness
# failure (the cluster did not start, a fault could not be applied, a
# nemesis applied none, or the harness could not run at all). The table of
# runs is printed and written to <target>/jepsen/ci-<timestamp>.md; each
# run's history, summary and latency plot are in the directory it names.
set -euo pipefail
cd "$(dirname "$0")/../.."
target="${CARGO_TARGET_DIR:-target}"
case "$target" in
  /*) ;;
  *) target="$PWD/$target" ;;
esac
cargo build -j "${CARGO_BUILD_JOBS:-2}" -p trireme-node -p trireme-tests
# Leftovers of an earlier crashed run (never touches live runs).
"$target/debug/jepsen" --cleanup
exec "$target/debug/jepsen" --suite ci \
  --trireme "$target/debug/trireme" \
  --results "$target/jepsen" \
  --nodes "${TRIREME_JEPSEN_NODES:-3}" "$@"
