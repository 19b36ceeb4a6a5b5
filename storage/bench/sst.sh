#!/usr/bin/env bash
# Rejoin of a wiped lsm member by streamed state transfer. Usage: storage/bench/sst.sh ROWS [BASE_PORT]
# Builds nothing: uses target/release/trireme (BIN= to override). Starts three lsm members with
# backup listeners and a 1 MiB gcache on loopback in a fresh directory under /tmp, loads one
# sysbench table of ROWS rows through node 1, SIGKILLs node 3 and wipes its data, runs 10 s of
# oltp_write_only (the others purge their logs past it), then starts node 3 while oltp_read_write
# runs on node 1 and prints: the time from launch until node 3 is Synced, the bytes it received,
# and node 1's tps per second across the rejoin. Node 3 prefers node 2 as donor (sst_donor).
# RATE= sets every donor's transfer_max_rate (bytes/s, default 0: unlimited). Every node is
# stopped by its pid. KEEP=1 keeps the directory.
set -euo pipefail
ROWS=${1:?rows}
BASE=${2:-34100}
BIN=${BIN:-$(pwd)/target/release/trireme}
PW=bench-pw
D=$(mktemp -d /tmp/trireme-sst.XXXX)
declare -A PID
mysql_port() { echo $((BASE + $1)); }
peer_port() { echo $((BASE + 10 + $1)); }
backup_port() { echo $((BASE + 20 + $1)); }
for i in 1 2 3; do
    extra=""
    [ "$i" = 3 ] && extra="sst_donor = \"127.0.0.1:$(backup_port 2),\""
    cat >"$D/node$i.toml" <<CFG
node_id = $i
node_name = "node$i"
listen = "127.0.0.1:$(mysql_port $i)"
data_dir = "$D/node$i"
root_password = "$PW"
bootstrap = $([ "$i" = 1 ] && echo true || echo false)
checkpoint_interval_ms = 5000
commit_timeout_ms = 60000
[cluster]
cluster_address = "gcomm://127.0.0.1:$(peer_port 1),127.0.0.1:$(peer_port 2),127.0.0.1:$(peer_port 3)"
listen = "127.0.0.1:$(peer_port $i)"
cluster_name = "bench"
certs_dir = "$D/tls"
fsync = "never"
gcache_size = 1048576
[storage]
engine = "lsm"
cache_size = "64MiB"
backup_listen = "127.0.0.1:$(backup_port $i)"
transfer_max_rate = ${RATE:-0}
$extra
CFG
done
now() { date +%s.%N; }
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
cleanup() {
    for p in "${PID[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    [ "${KEEP:-0}" = 1 ] || rm -rf "$D"
}
trap cleanup EXIT
start 1; wait_synced 1
start 2; wait_synced 2
start 3; wait_synced 3
sb() {
    sysbench "$2" --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$(mysql_port "$1")" --mysql-user=root \
        --mysql-password=$PW --mysql-db=sbtest --tables=1 --table-size="$ROWS" --auto_inc=off \
        --db-ps-mode=auto "${@:3}"
}
q 1 "CREATE DATABASE sbtest"
sb 1 oltp_read_write prepare >"$D/prepare.txt" 2>&1
sleep 12 # recovery points cover the load
kill -9 "${PID[3]}"; wait "${PID[3]}" 2>/dev/null || true; unset 'PID[3]'
rm -rf "$D/node3"
sb 1 oltp_write_only run --time=10 --threads=2 >"$D/purge.txt" 2>&1
sleep 6
sb 1 oltp_read_write run --time=40 --threads=2 --report-interval=1 >"$D/during.txt" 2>&1 &
SB=$!
sleep 5
t0=$(now)
start 3
wait_synced 3
t1=$(now)
wait $SB
echo "rows=$ROWS rejoin_s=$(echo "$t1 - $t0" | bc) (launch of node 3 at 5 s into the run)"
echo "node3 bytes_received=$(status 3 trireme_sst_bytes_received) node2 donations=$(status 2 trireme_sst_donations) node1 donations=$(status 1 trireme_sst_donations)"
grep -E "SST: copy received|streamed state transfer installed|synced" "$D/node3.log" | cut -c1-220 || true
echo "node 1 tps per second: $(grep -E '^\[ [0-9]+s \]' "$D/during.txt" | sed -E 's/.*tps: ([0-9.]+).*/\1/' | tr '\n' ' ')"
