#!/usr/bin/env bash
# Online backup of one lsm node under load. Usage: storage/bench/backup.sh ROWS [PORT]
# Builds nothing: uses target/release/trireme (BIN= to override). Starts one bootstrap node with a
# backup listener in a fresh directory under /tmp, loads one sysbench table of ROWS rows, then runs
# oltp_read_write (2 threads) for 2 x 15 s: the first 15 s alone (baseline), the second while
# `trireme backup` copies the node. Prints the backup's time and size and both tps figures.
# The node is stopped by its pid. KEEP=1 keeps the directory.
set -euo pipefail
ROWS=${1:?rows}
PORT=${2:-33081}
BPORT=$((PORT + 1))
BIN=${BIN:-$(pwd)/target/release/trireme}
PW=bench-pw
D=$(mktemp -d /tmp/trireme-backup.XXXX)
cat >"$D/trireme.toml" <<CFG
commit_timeout_ms = 60000
[cluster]
listen = "127.0.0.1:0"
fsync = "never"
[storage]
engine = "lsm"
cache_size = "64MiB"
backup_listen = "127.0.0.1:$BPORT"
CFG
now() { date +%s.%N; }
q() { mysql -h127.0.0.1 -P$PORT -uroot -p$PW -N -B -e "$1" 2>/dev/null; }
"$BIN" start --bootstrap --listen 127.0.0.1:$PORT --root-password $PW --config "$D/trireme.toml" \
    --data-dir "$D/data" >>"$D/node.log" 2>&1 &
PID=$!
cleanup() { kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; [ "${KEEP:-0}" = 1 ] || rm -rf "$D"; }
trap cleanup EXIT
for _ in $(seq 1 600); do
    [ "$(q "SHOW STATUS LIKE 'wsrep_ready'" | cut -f2)" = ON ] && break
    sleep 0.1
done
sb() {
    sysbench "$1" --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port=$PORT --mysql-user=root \
        --mysql-password=$PW --mysql-db=sbtest --tables=1 --table-size="$ROWS" --auto_inc=off \
        --db-ps-mode=auto "${@:2}"
}
q "CREATE DATABASE sbtest"
sb oltp_read_write prepare >"$D/prepare.txt" 2>&1
tps() { grep -E 'transactions:' "$1" | sed -E 's/.*\(([0-9.]+) per sec.*/\1/'; }
sb oltp_read_write run --time=15 --threads=2 >"$D/alone.txt" 2>&1
sb oltp_read_write run --time=15 --threads=2 --report-interval=1 >"$D/during.txt" 2>&1 &
SB=$!
sleep 2
t0=$(now)
"$BIN" backup --from 127.0.0.1:$BPORT --to "$D/copy" --password $PW >"$D/backup.txt" 2>"$D/backup.err"
t1=$(now)
wait $SB
echo "rows=$ROWS backup_s=$(echo "$t1 - $t0" | bc) copy_du=$(du -sh "$D/copy" | cut -f1)"
head -1 "$D/backup.txt"
echo "tps_alone=$(tps "$D/alone.txt") tps_whole_second_run=$(tps "$D/during.txt") (backup from 2 s)"
echo "second run, per second: $(grep -E '^\[ [0-9]+s \]' "$D/during.txt" | sed -E 's/.*tps: ([0-9.]+).*/\1/' | tr '\n' ' ')"
