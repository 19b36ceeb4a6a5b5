#!/usr/bin/env bash
# sysbench oltp_point_select and oltp_read_write straight to node1 and
# through trireme-proxy's write port (which routes to node1, the writer), on
# a `trireme demo` cluster this script starts on free loopback ports and
# stops (by pid) at the end. Not a test: numbers only.
#
#   proxy/bench/sysbench.sh [SECONDS] [THREADS]
#
# The paths are measured interleaved (direct, proxy, direct, proxy, ...)
# for ROUNDS rounds of SECONDS each, because the machine is shared: a build
# running next to the benchmark slows every path of the same round alike.
# Each run prints one line (cpu_us/q: the proxy process's user + system
# CPU time per query, from /proc, the number that matters when the proxy
# shares cores with the nodes; csw/q: its threads' context switches per
# query); then the median of each path, and the
# proxy's overhead computed from the medians.
#
# Environment:
#   ROUNDS=5               rounds per workload (default 3)
#   WORKLOADS="oltp_point_select oltp_read_write"
#   TABLES=2 TABLE_SIZE=10000
#   TRIREME_BIN=...        default target/release/trireme (else debug), with
#                          trireme-proxy next to it (the demo's proxy: path
#                          "proxy")
#   PROXIES="old=/tmp/trireme-proxy-old;one=/path/trireme-proxy --worker-threads 1"
#                          more proxies (binary and flags), each started
#                          against the same nodes with the demo proxy's
#                          settings on its own port and measured as its own
#                          path: before/after comparisons on one cluster
#   PROXY_B=... PROXY_B_ARGS=...   the same for one, named proxy_b
#   PROFILE_CMD="perf record -g -o /tmp/p.data -p %PID% -- sleep 10"
#                          run in the background, %PID% replaced by the
#                          proxy's pid, during the first run of the path
#                          PROFILE_PATH (default proxy)
#
# Binaries: build first:
#   cargo build --release -j2 -p trireme-node -p trireme-proxy
set -euo pipefail
cd "$(dirname "$0")/../.."

secs=${1:-20}
threads=${2:-4}
rounds=${ROUNDS:-3}
workloads=${WORKLOADS:-oltp_point_select oltp_read_write}
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
pb=
cleanup() {
  for p in $pb; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
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

paths="direct proxy"
declare -A port_of=([direct]=$base [proxy]=$proxy)
declare -A pid_of
# More proxy builds or settings: PROXIES="name=/path/to/trireme-proxy [flags];name2=..."
# (PROXY_B and PROXY_B_ARGS are short for one of them, named proxy_b).
extra=${PROXIES:-}
if [ -n "${PROXY_B:-}" ]; then
  extra="proxy_b=$PROXY_B ${PROXY_B_ARGS:-}${extra:+;$extra}"
fi
n=0
IFS=';' read -ra specs <<<"$extra"
for spec in "${specs[@]}"; do
  [ -z "$spec" ] && continue
  name=${spec%%=*}
  cmd=${spec#*=}
  n=$((n + 1))
  p=$((base + 30 + n))
  # The demo proxy's configuration, on another port, without the read and
  # admin listeners.
  sed -e "s/^listen = .*/listen = \"127.0.0.1:$p\"/" -e '/^read_listen/d' \
    -e '/^admin_listen/d' "$data/demo/proxy.toml" >"$data/$name.toml"
  # shellcheck disable=SC2086
  $cmd --config "$data/$name.toml" >"$data/$name.log" 2>&1 &
  pid_of[$name]=$!
  pb="$pb ${pid_of[$name]}"
  port_of[$name]=$p
  for _ in $(seq 1 100); do
    mysql -h127.0.0.1 -P"$p" -uroot -e "SELECT 1" >/dev/null 2>&1 && break
    sleep 0.2
  done
  paths="$paths $name"
done
proxy_pid=$(pgrep -f "trireme-proxy --config $data/demo/proxy.toml" | head -1 || true)
pid_of[proxy]=$proxy_pid
# CPU time (user + system, in clock ticks) a process has used so far.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# Context switches of a process's threads so far.
switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { s += $2 } END { print s + 0 }'; }
hz=$(getconf CLK_TCK)

sb() { # workload port command
  sysbench "$1" --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$2" \
    --mysql-user=root --mysql-password= --mysql-db=sbtest --tables="$tables" \
    --table-size="$rows" --threads="$threads" --time="$secs" --report-interval=0 \
    --db-ps-mode=disable --mysql-ignore-errors=1213,1180,1205 "$3"
}
mysql -h127.0.0.1 -P"$base" -uroot -e "CREATE DATABASE sbtest"
sb oltp_read_write "$base" prepare >/dev/null

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "binary: $bin  threads: $threads  seconds: $secs  rounds: $rounds  tables: $tables x $rows rows"
printf '%-18s %-8s %5s %10s %10s %8s %8s %8s %6s\n' workload path round tps qps avg_ms p95_ms cpu_us/q csw/q
res=$data/results
: >"$res"
profiled=
prof=
for w in $workloads; do
  for r in $(seq 1 "$rounds"); do
    for path in $paths; do
      port=${port_of[$path]}
      pid=${pid_of[$path]:-}
      before=0 sw=0
      [ -n "$pid" ] && before=$(ticks "$pid") && sw=$(switches "$pid")
      if [ "$path" = "${PROFILE_PATH:-proxy}" ] && [ -n "${PROFILE_CMD:-}" ] && [ -z "$profiled" ] && [ -n "$pid" ]; then
        profiled=1
        bash -c "${PROFILE_CMD//%PID%/$pid}" &
        prof=$!
      fi
      if ! out=$(sb "$w" "$port" run 2>&1); then
        printf '%-18s %-8s %5s  failed: %s\n' "$w" "$path" "$r" "$(tail -1 <<<"$out")"
        continue
      fi
      t=$(sed -n 's/.*transactions: *[0-9]* *(\([0-9.]*\) per sec.*/\1/p' <<<"$out")
      q=$(sed -n 's/.*queries: *[0-9]* *(\([0-9.]*\) per sec.*/\1/p' <<<"$out")
      a=$(sed -n 's/^ *avg: *\([0-9.]*\).*/\1/p' <<<"$out")
      p=$(sed -n 's/.*95th percentile: *\([0-9.]*\).*/\1/p' <<<"$out")
      # The proxy's CPU per query, in microseconds.
      # and its context switches per query.
      c=- x=-
      if [ -n "$pid" ]; then
        c=$(awk -v d="$(($(ticks "$pid") - before))" -v hz="$hz" -v q="$q" -v s="$secs" \
          'BEGIN { if (q > 0) printf "%.1f", d * 1e6 / hz / (q * s) }')
        x=$(awk -v d="$(($(switches "$pid") - sw))" -v q="$q" -v s="$secs" \
          'BEGIN { if (q > 0) printf "%.2f", d / (q * s) }')
      fi
      echo "$w $path $t $q $a $p $c $x" >>"$res"
      printf '%-18s %-8s %5s %10s %10s %8s %8s %8s %6s\n' "$w" "$path" "$r" "$t" "$q" "$a" "$p" "$c" "$x"
    done
  done
done
[ -n "$prof" ] && wait "$prof"
echo "medians:"
printf '%-18s %-8s %10s %10s %8s %8s %8s %6s %s\n' workload path tps qps avg_ms p95_ms cpu_us/q csw/q overhead
for w in $workloads; do
  d=
  for path in $paths; do
    col() { awk -v w="$w" -v p="$path" -v c="$1" '$1 == w && $2 == p { print $c }' "$res" | median; }
    t=$(col 3) q=$(col 4) a=$(col 5) p95=$(col 6) c=$(col 7) x=$(col 8)
    [ "$path" = direct ] && c=- && x=-
    [ "$path" = direct ] && d=$t
    o=$(awk -v d="$d" -v t="$t" 'BEGIN { if (d > 0) printf "%.1f %% fewer tps", (d - t) * 100 / d }')
    [ "$path" = direct ] && o=
    printf '%-18s %-8s %10s %10s %8s %8s %8s %6s %s\n' "$w" "$path" "$t" "$q" "$a" "$p95" "$c" "$x" "$o"
  done
done
