#!/usr/bin/env bash
# The Jepsen CI set: every workload (bank, list-append, set) against the
# partition, kill and pause nemeses, 30 s each (about 6-7 minutes in total on
# 2 cores), each node in its own network namespace.
#
# Needs root, iproute2 and nftables. Called from .ci/run; extra arguments go
# to the harness (e.g. --time 60, --nodes 1 for the single-node set, which
# skips partitions).
#
# Exit status: 0 all valid; 1 an anomaly was found; 2 some verdict unknown;
# 3 the harness could not run. The table of runs is printed and written to
# target/jepsen/ci-<timestamp>.md; each run's history, summary and latency
# plot are in the directory the table names.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build -j2 -p trireme-node -p trireme-tests
# Leftovers of an earlier crashed run (never touches live runs).
target/debug/jepsen --cleanup
exec target/debug/jepsen --suite ci --nodes "${TRIREME_JEPSEN_NODES:-3}" "$@"
