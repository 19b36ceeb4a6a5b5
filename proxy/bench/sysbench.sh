#!/usr/bin/env bash
# sysbench oltp_point_select and oltp_read_write straight to node1 and
# through trireme-proxy's write port (which routes to node1, the writer), on
# a `trireme demo` cluster this script starts on free loopback ports and
# stops (by pid) at the end. Prints one line per workload and path, and the
# proxy's overhead in transactions per second. Not a test: numbers only.
#
#   proxy/bench/sysbench.sh [SECONDS] [THREADS]
#
# Binaries: $TRIREME_BIN (default target/release/trireme, else
# target/debug/trireme) with trireme-proxy next to it. Build first:
#   cargo build --release -j2 -p trireme-node -p trireme-proxy
set -euo pipefail
cd "$(dirname "$0")/../.."

secs=${1:-20}
threads=${2:-4}
tables=${TABLES:-2}
rows=${TABLE_SIZE:-10000}
bin=${TRIREME_BIN:-}
if [ -z "$bin" ]; then
  bin=target/release/trireme
  [ -x "$bin" ] || bin=target/debug/trireme
fi
[ -x "$bin" ] || { echo "no trireme binary: cargo build --release -j2 -p trireme-node -p trireme-proxy" >&2; exit 2; }
[ -x "$(dirname "$bin")/trireme-proxy" ] || { echo "no trireme-proxy next to $bin: cargo build -p trireme-proxy" >&2; exit 2; }
command -v sysbench >/dev/null || { echo "sysbench missing: tests/deps.sh" >&2; exit 2; }

base=$((24000 + RANDOM % 2000 * 5))
proxy=$((base + 20))
data=$(mktemp -d /tmp/trireme-bench.XXXXXX)
log=$data/demo.out
"$bin" demo --base-port "$base" --peer-base-port $((base + 10)) --proxy-port "$proxy" \
  --admin-port $((base + 21)) --read-port $((base + 22)) --data-dir "$data/demo" \
  --restart-delay 3600 >"$log" 2>&1 &
demo=$!
cleanup() {
  kill -TERM "$demo" 2>/dev/null || true
  wait "$demo" 2>/dev/null || true
  rm -rf "$data"
}
trap cleanup EXIT
for _ in $(seq 1 600); do
  grep -q "cluster is up" "$log" && break
  kill -0 "$demo" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.5
done
grep -q "cluster is up" "$log" || { echo "demo did not start" >&2; cat "$log" >&2; exit 1; }

sb() { # workload port command
  sysbench "$1" --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$2" \
    --mysql-user=root --mysql-password= --mysql-db=sbtest --tables="$tables" \
    --table-size="$rows" --threads="$threads" --time="$secs" --report-interval=0 \
    --db-ps-mode=disable --mysql-ignore-errors=1213,1180,1205 "$3"
}
mysql -h127.0.0.1 -P"$base" -uroot -e "CREATE DATABASE sbtest"
sb oltp_read_write "$base" prepare >/dev/null

echo "binary: $bin  threads: $threads  seconds: $secs  tables: $tables x $rows rows"
printf '%-18s %-8s %10s %10s %10s\n' workload path tps qps p95_ms
declare -A tps
for w in oltp_point_select oltp_read_write; do
  for path in direct proxy; do
    port=$base
    [ "$path" = proxy ] && port=$proxy
    out=$(sb "$w" "$port" run)
    t=$(sed -n 's/.*transactions: *[0-9]* *(\([0-9.]*\) per sec.*/\1/p' <<<"$out")
    q=$(sed -n 's/.*queries: *[0-9]* *(\([0-9.]*\) per sec.*/\1/p' <<<"$out")
    p=$(sed -n 's/.*95th percentile: *\([0-9.]*\).*/\1/p' <<<"$out")
    tps[$w.$path]=$t
    printf '%-18s %-8s %10s %10s %10s\n' "$w" "$path" "$t" "$q" "$p"
  done
  awk -v d="${tps[$w.direct]}" -v p="${tps[$w.proxy]}" -v w="$w" \
    'BEGIN { if (d > 0) printf "%-18s proxy overhead: %.1f %% fewer tps\n", w, (d - p) * 100 / d }'
done
