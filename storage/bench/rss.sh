#!/usr/bin/env bash
# Data larger than the cache: memory of three lsm members holding TABLES x ROWS sysbench rows.
# Usage: storage/bench/rss.sh TABLES ROWS [CACHE] [RUN_SECONDS] [BASE_PORT]
# Builds nothing: uses target/release/trireme (BIN= to override). Starts three lsm members on
# loopback with `[storage] cache_size = CACHE` (default 256MiB) in a fresh directory under /tmp,
# loads the tables through node 1 (`sysbench oltp_read_write prepare`, one thread per table),
# then runs oltp_read_write for RUN_SECONDS (default 120) with 4 threads on node 1 and 2 on node 2.
# Every 5 s it samples each node's VmRSS; it prints per node the peak VmRSS during the load and
# during the run, VmHWM, the size of its data directory, and the tps. GCACHE= sets gcache_size
# (default 128MiB, the node's default); NO_LISTEN=1 leaves `backup_listen` unset (then a member's
# raft snapshot is a full image built in memory, not a descriptor of a streamed transfer). Every
# node is stopped by its pid. KEEP=1 keeps the directory.
set -euo pipefail
TABLES=${1:?tables}
ROWS=${2:?rows per table}
CACHE=${3:-256MiB}
RUN=${4:-120}
BASE=${5:-34300}
BIN=${BIN:-$(pwd)/target/release/trireme}
PW=bench-pw
D=$(mktemp -d /tmp/trireme-rss.XXXX)
declare -A PID
mysql_port() { echo $((BASE + $1)); }
peer_port() { echo $((BASE + 10 + $1)); }
backup_port() { echo $((BASE + 20 + $1)); }
for i in 1 2 3; do
    cat >"$D/node$i.toml" <<CFG
node_id = $i
node_name = "node$i"
listen = "127.0.0.1:$(mysql_port $i)"
data_dir = "$D/node$i"
root_password = "$PW"
bootstrap = $([ "$i" = 1 ] && echo true || echo false)
commit_timeout_ms = 60000
[cluster]
cluster_address = "gcomm://127.0.0.1:$(peer_port 1),127.0.0.1:$(peer_port 2),127.0.0.1:$(peer_port 3)"
listen = "127.0.0.1:$(peer_port $i)"
cluster_name = "bench"
certs_dir = "$D/tls"
fsync = "never"
gcache_size = ${GCACHE:-134217728}
[storage]
engine = "lsm"
cache_size = "$CACHE"
$([ "${NO_LISTEN:-0}" = 1 ] || echo "backup_listen = \"127.0.0.1:$(backup_port $i)\"")
CFG
done
start() {
    "$BIN" start --config "$D/node$1.toml" >>"$D/node$1.log" 2>&1 &
    PID[$1]=$!
}
q() { mysql -h127.0.0.1 -P"$(mysql_port "$1")" -uroot -p$PW -N -B -e "$2" 2>/dev/null; }
status() { q "$1" "SHOW STATUS LIKE '$2'" | cut -f2; }
wait_synced() {
    for _ in $(seq 1 12000); do
        [ "$(status "$1" wsrep_local_state_comment)" = Synced ] && return 0
        sleep 0.05
    done
    echo "node $1 not synced; log:"; tail -20 "$D/node$1.log"; exit 1
}
kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
SAMPLER=
cleanup() {
    [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null || true
    for p in "${PID[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    [ "${KEEP:-0}" = 1 ] || rm -rf "$D"
}
trap cleanup EXIT
start 1; wait_synced 1
start 2; wait_synced 2
start 3; wait_synced 3
# One line per sample: phase, then each node's VmRSS in KiB.
echo load >"$D/phase"
(
    while :; do
        line="$(cat "$D/phase")"
        for i in 1 2 3; do line="$line $(kb "${PID[$i]}" VmRSS)"; done
        echo "$line" >>"$D/rss.txt"
        # What the node itself accounts for, in KiB: log, memtables, cache.
        for i in 1 2 3; do
            echo "$i $(q "$i" "SHOW STATUS WHERE Variable_name IN ('wsrep_gcache_pool_size', 'trireme_storage_write_buffer_bytes', 'trireme_storage_cache_bytes', 'wsrep_cert_index_size', 'wsrep_local_recv_queue')" |
                awk '{ v[$1] = $2 } END { print int(v["wsrep_gcache_pool_size"] / 1024), int(v["trireme_storage_write_buffer_bytes"] / 1024), int(v["trireme_storage_cache_bytes"] / 1024), v["wsrep_cert_index_size"] + 0, v["wsrep_local_recv_queue"] + 0 }')" >>"$D/parts.txt"
        done
        sleep 5
    done
) &
SAMPLER=$!
sb() {
    sysbench "$2" --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$(mysql_port "$1")" --mysql-user=root \
        --mysql-password=$PW --mysql-db=sbtest --tables="$TABLES" --table-size="$ROWS" --auto_inc=off \
        --db-ps-mode=auto "${@:3}"
}
q 1 "CREATE DATABASE sbtest"
t0=$(date +%s)
sb 1 oltp_read_write prepare --threads="$TABLES" >"$D/prepare.txt" 2>&1
t1=$(date +%s)
for i in 2 3; do
    # Every member has applied the whole load before the run starts.
    for _ in $(seq 1 3600); do
        [ "$(status "$i" trireme_horizon)" = "$(status 1 trireme_horizon)" ] && break
        sleep 1
    done
done
echo run >"$D/phase"
sb 1 oltp_read_write run --time="$RUN" --threads=4 >"$D/run1.txt" 2>&1 &
R1=$!
sb 2 oltp_read_write run --time="$RUN" --threads=2 >"$D/run2.txt" 2>&1 &
R2=$!
wait $R1 $R2
echo "tables=$TABLES rows=$ROWS cache=$CACHE load=$((t1 - t0)) s run=$RUN s"
for i in 1 2 3; do
    col=$((i + 1))
    peak() { awk -v p="$1" -v c="$col" '$1 == p && $c > m { m = $c } END { printf "%d", m / 1024 }' "$D/rss.txt"; }
    parts=$(awk -v n="$i" '$1 == n { for (c = 2; c <= 6; c++) if ($c > m[c]) m[c] = $c } END { printf "log %d MiB, memtables %d MiB, cache %d MiB, certification index %d keys, receive queue %d write-sets", m[2] / 1024, m[3] / 1024, m[4] / 1024, m[5], m[6] }' "$D/parts.txt")
    echo "node$i: peaks: $parts"
    echo "node$i: peak VmRSS load $(peak load) MiB, run $(peak run) MiB; VmHWM $(($(kb "${PID[$i]}" VmHWM) / 1024)) MiB; now $(($(kb "${PID[$i]}" VmRSS) / 1024)) MiB; data $(du -sm "$D/node$i" | cut -f1) MiB (lsm $(du -sm "$D/node$i/lsm" | cut -f1) MiB)"
done
for f in run1 run2; do
    echo "$f: $(grep -E 'transactions:|queries:|ignored errors:' "$D/$f.txt" | tr -s ' ' | tr '\n' ' ')"
done
