#!/usr/bin/env bash
# Issue 12 measurement: freeze the raft leader of a local 3-node cluster
# (SIGSTOP/SIGCONT, only processes the test started) every few seconds for
# a time between suspect_ms and election_min_ms, with one writer per node,
# and print view changes, elections, 1047s and re-dials per node.
#
#   tests/scripts/freeze_leader.sh                 # 90 s, 1000..1200 ms, default timeouts
#   FREEZE_RUN_SECS=60 FREEZE_MIN_MS=1500 FREEZE_MAX_MS=1800 tests/scripts/freeze_leader.sh
#   TRIREME_BIN=/path/to/trireme tests/scripts/freeze_leader.sh   # another build
#
# Bounded: the run lasts FREEZE_RUN_SECS plus start-up (at most 90 s) and 5 s.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build -j2 -p trireme-node
exec cargo test -j2 -p trireme-tests --features measure --test availability_cluster \
    -- --exact measure_leader_freezes --nocapture
