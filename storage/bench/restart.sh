#!/usr/bin/env bash
# Restart time of one node holding a sysbench table, memory engine (checkpoint image + log) vs
# lsm engine (restart from disk). Usage: storage/bench/restart.sh ENGINE ROWS [PORT]
#   ENGINE: memory | lsm; ROWS: sysbench table size (one table, oltp_read_write schema).
# Builds nothing: uses target/release/trireme. Starts one bootstrap node in a fresh directory
# under /tmp, loads the table with `sysbench prepare`, waits until a checkpoint (memory) or a
# recovery point (lsm) covers the load, runs 5 s of oltp_write_only (a log tail to replay),
# SIGKILLs the node (by its pid) and starts it again. Prints: load time, restart time (launch
# until wsrep_ready = ON), the time of a COUNT(*) after it, VmRSS / VmHWM, disk usage.
# KEEP=1 keeps the directory (node.log) for a look at the timeline.
set -euo pipefail
ENGINE=${1:?engine}
ROWS=${2:?rows}
PORT=${3:-33071}
BIN=${BIN:-$(pwd)/target/release/trireme}
PW=bench-pw
D=$(mktemp -d /tmp/trireme-restart-$ENGINE.XXXX)
cat >"$D/trireme.toml" <<CFG
checkpoint_interval_ms = 10000
commit_timeout_ms = 60000
[cluster]
listen = "127.0.0.1:0"
fsync = "never"
[storage]
engine = "$ENGINE"
cache_size = "64MiB"
CFG
now() { date +%s.%N; }
start() {
    "$BIN" start --bootstrap --listen 127.0.0.1:$PORT --root-password $PW --config "$D/trireme.toml" \
        --data-dir "$D/data" >>"$D/node.log" 2>&1 &
    PID=$!
}
q() { mysql -h127.0.0.1 -P$PORT -uroot -p$PW -N -B -e "$1" 2>/dev/null; }
wait_ready() {
    for _ in $(seq 1 6000); do
        [ "$(q "SHOW STATUS LIKE 'wsrep_ready'" | cut -f2)" = ON ] && return 0
        sleep 0.05
    done
    echo "not ready; log:"; tail -20 "$D/node.log"; exit 1
}
sb() {
    sysbench "$1" --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port=$PORT --mysql-user=root \
        --mysql-password=$PW --mysql-db=sbtest --tables=1 --table-size="$ROWS" --auto_inc=off \
        --db-ps-mode=auto "${@:2}"
}
rss() { grep -E 'VmRSS|VmHWM' /proc/$PID/status | tr -s ' ' | tr '\n' ' '; }
start
wait_ready
q "CREATE DATABASE sbtest"
t0=$(now)
sb oltp_read_write prepare >"$D/prepare.txt" 2>&1
t1=$(now)
echo "engine=$ENGINE rows=$ROWS load_s=$(echo "$t1 - $t0" | bc)"
echo "after load: $(rss)"
# Let a checkpoint / recovery point cover the load (interval 10 s), then a log tail.
sleep 25
sb oltp_write_only run --time=5 --threads=2 >"$D/writes.txt" 2>&1
kill -9 $PID
wait $PID 2>/dev/null || true
echo "disk: $(du -sh "$D/data" | cut -f1) (lsm $(du -sh "$D/data/lsm" 2>/dev/null | cut -f1), checkpoint $(du -sh "$D/data/checkpoint.bin" 2>/dev/null | cut -f1))"
t0=$(now)
start
wait_ready
t1=$(now)
n=$(q "SELECT COUNT(*) FROM sbtest.sbtest1")
t2=$(now)
echo "ready_s=$(echo "$t1 - $t0" | bc) (launch until wsrep_ready = ON) count_s=$(echo "$t2 - $t1" | bc) rows_after=$n"
echo "after restart: $(rss)"
q "SHOW STATUS LIKE 'trireme_storage_%'" | tr '\n' ' '; echo
grep -E "restarted from the storage engine|recovered checkpoint" "$D/node.log" | tail -1 | cut -c1-300
kill -9 $PID
wait $PID 2>/dev/null || true
[ -n "${KEEP:-}" ] && echo "kept $D" || rm -rf "$D"
