#!/usr/bin/env bash
# Proves deploy/docker-compose.yml for real (issue 13): starts a private
# dockerd, builds the runtime stage of deploy/Dockerfile on a base image
# made without a registry (debootstrap, cached between runs) with the
# binaries this checkout already built, then runs the compose file
# unchanged except for the image:
#   three Synced; a write through the proxy read on every node; restart
#   node1; kill node2 and start it again; stop the writer and the proxy
#   moves clients within FAILOVER_LIMIT_S; down + up keeps the data;
#   down -v removes it.
# Fails on any failed step and prints the timings. Needs root. Everything
# it starts is stopped by pid; it leaves no bridge, rule or volume behind:
# dockerd runs in a network namespace of its own (its bridges, iptables
# rules and published ports live there and go with it), the clients reach
# the published ports through `ip netns exec`.
#
# Environment: TRIREME_CI_BIN (directory with trireme and trireme-proxy,
# default target/debug), TRIREME_CI_CACHE (default /var/cache/trireme-ci),
# FAILOVER_LIMIT_S (default 3).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BIN=${TRIREME_CI_BIN:-$ROOT/target/debug}
CACHE=${TRIREME_CI_CACHE:-/var/cache/trireme-ci}
FAILOVER_LIMIT_S=${FAILOVER_LIMIT_S:-3}
BASE_TAR=$CACHE/bookworm-minbase.tar
IMAGE=trireme:ci
PROJECT=tri$$
PW="ci-$$-$RANDOM"
# Ports away from the defaults (a developer's cluster or MariaDB may run).
export TRIREME_PROXY_PORT=23306 TRIREME_PROXY_ADMIN_PORT=23390 TRIREME_NODE1_PORT=23307 TRIREME_NODE2_PORT=23308 TRIREME_NODE3_PORT=23309
export TRIREME_IMAGE=$IMAGE TRIREME_ROOT_PASSWORD=$PW

if [ "$(id -u)" != 0 ]; then
  echo "compose-check: needs root (dockerd)" >&2
  exit 2
fi

T0=$(date +%s.%N)
TIMINGS=()
now() { date +%s.%N; }
since() { echo "$(now) $1" | awk '{printf "%.1f", $1 - $2}'; }
timed() { # name command...: runs the command, records its wall time
  local name=$1; shift
  local s; s=$(now)
  "$@"
  TIMINGS+=("$(printf '%-34s %6ss' "$name" "$(since "$s")")")
  echo "compose-check: $name: $(since "$s") s"
}
fail() { echo "compose-check: FAILED: $*" >&2; exit 1; }

# 1. Packages: the Debian engine and compose (docker-compose 1.29 on
# Debian 12; Compose v2 is used instead when the CLI has it).
install_packages() {
  local need=()
  command -v dockerd >/dev/null || need+=(docker.io)
  command -v docker-compose >/dev/null || need+=(docker-compose)
  command -v debootstrap >/dev/null || need+=(debootstrap)
  command -v mariadb >/dev/null || need+=(mariadb-client)
  command -v objcopy >/dev/null || need+=(binutils)
  command -v curl >/dev/null || need+=(curl)
  command -v nsenter >/dev/null || need+=(util-linux)
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
}
timed "install packages" install_packages

DOCKER=/usr/bin/docker   # Debian's CLI, the engine's own version
[ -x "$DOCKER" ] || DOCKER=$(command -v docker)
if "$DOCKER" compose version >/dev/null 2>&1; then
  COMPOSE=("$DOCKER" compose)
else
  COMPOSE=(docker-compose)
fi
compose() { "${COMPOSE[@]}" -p "$PROJECT" -f "$ROOT/deploy/docker-compose.yml" "$@"; }

WORK=$(mktemp -d /tmp/trireme-compose.XXXXXX)
export DOCKER_HOST=unix://$WORK/docker.sock
NETNS=trireme-ci-$$
DOCKERD_PID=

cleanup() {
  local rc=$?
  set +e
  if [ -n "$DOCKERD_PID" ] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
    if [ $rc != 0 ]; then
      echo "--- compose ps and logs (failure) ---"
      compose ps
      compose logs --no-color --tail=40
    fi
    compose down -v --remove-orphans >/dev/null 2>&1
    kill "$DOCKERD_PID"
    for _ in $(seq 1 100); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$DOCKERD_PID" 2>/dev/null
    wait "$DOCKERD_PID" 2>/dev/null
  fi
  # The namespace takes dockerd's bridges and rules with it.
  ip netns delete "$NETNS" 2>/dev/null
  umount -R "$WORK/root" 2>/dev/null
  rm -rf "$WORK"
  echo "compose-check: total $(since "$T0") s"
  exit $rc
}
trap cleanup EXIT

# 2. A private dockerd: its own socket, state and exec roots under $WORK,
# in its own network namespace (nothing to undo on the host's network).
start_dockerd() {
  mkdir -p "$WORK/root" "$WORK/exec"
  ip netns add "$NETNS"
  ip netns exec "$NETNS" ip link set lo up
  # nsenter, not `ip netns exec`: that remounts /sys and hides the cgroups.
  nsenter --net=/run/netns/"$NETNS" dockerd --host "$DOCKER_HOST" --data-root "$WORK/root" \
    --exec-root "$WORK/exec" --pidfile "$WORK/dockerd.pid" \
    >"$WORK/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  for _ in $(seq 1 150); do
    "$DOCKER" version >/dev/null 2>&1 && return 0
    kill -0 "$DOCKERD_PID" 2>/dev/null || { cat "$WORK/dockerd.log" >&2; fail "dockerd exited"; }
    sleep 0.2
  done
  cat "$WORK/dockerd.log" >&2
  fail "dockerd did not answer in 30 s"
}
timed "start dockerd" start_dockerd

# 3. The base image without a registry: debootstrap once, cache the tar.
base_image() {
  if [ ! -s "$BASE_TAR" ]; then
    mkdir -p "$CACHE"
    local rootfs=$WORK/rootfs
    debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >"$WORK/debootstrap.log" 2>&1 \
      || { tail -20 "$WORK/debootstrap.log" >&2; fail "debootstrap"; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -cf "$BASE_TAR.tmp" . && mv "$BASE_TAR.tmp" "$BASE_TAR"
    rm -rf "$rootfs"
  fi
  "$DOCKER" import "$BASE_TAR" trireme-ci-base:bookworm >/dev/null
}
timed "base image (debootstrap cached)" base_image

# 4. The runtime stage of deploy/Dockerfile as written, with the binaries
# copied in from the build context instead of the build stage.
runtime_image() {
  local ctx=$WORK/ctx
  mkdir -p "$ctx/out"
  for b in trireme trireme-proxy; do
    [ -x "$BIN/$b" ] || fail "$BIN/$b missing (build it first: cargo build -j2 -p trireme-node -p trireme-proxy)"
    objcopy --strip-debug "$BIN/$b" "$ctx/out/$b"
  done
  local last; last=$(grep -n '^FROM ' "$ROOT/deploy/Dockerfile" | tail -1 | cut -d: -f1)
  {
    echo "FROM trireme-ci-base:bookworm"
    tail -n +"$((last + 1))" "$ROOT/deploy/Dockerfile" | sed 's#^COPY --from=build /out/#COPY out/#; s# /out/# out/#g'
  } >"$ctx/Dockerfile"
  grep -q '^COPY out/trireme out/trireme-proxy ' "$ctx/Dockerfile" || { cat "$ctx/Dockerfile" >&2; fail "runtime stage: the binaries' COPY line changed"; }
  DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$IMAGE" "$ctx" >/dev/null
}
timed "runtime image" runtime_image

sql() { # port statement...: one client session, tab-separated rows
  ip netns exec "$NETNS" mariadb -h127.0.0.1 -P"$1" -uroot -p"$PW" --connect-timeout=5 -N -B -e "$2"
}
port_of() { case $1 in node1) echo $TRIREME_NODE1_PORT;; node2) echo $TRIREME_NODE2_PORT;; node3) echo $TRIREME_NODE3_PORT;; proxy) echo $TRIREME_PROXY_PORT;; esac; }
health() { "$DOCKER" inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$(compose ps -q "$1")" 2>/dev/null || echo gone; }

wait_healthy() { # services...: every one healthy, bounded
  local deadline=$(( $(date +%s) + 240 ))
  while :; do
    local all=1 s
    for s in "$@"; do [ "$(health "$s")" = healthy ] || all=0; done
    [ $all = 1 ] && return 0
    [ "$(date +%s)" -lt "$deadline" ] || {
      for s in "$@"; do echo "$s: $(health "$s")" >&2; done
      fail "not healthy within 240 s: $*"
    }
    sleep 0.5
  done
}

read_back_everywhere() { # expected rows of ci.t on every node
  local want=$1 n got
  for n in node1 node2 node3; do
    got=$(sql "$(port_of $n)" "SET SESSION wsrep_sync_wait = 1; SELECT GROUP_CONCAT(v ORDER BY id) FROM ci.t")
    [ "$got" = "$want" ] || fail "$n has '$got', want '$want'"
    [ "$(sql "$(port_of $n)" "SHOW STATUS LIKE 'wsrep_local_state_comment'" | cut -f2)" = Synced ] || fail "$n not Synced"
  done
  echo "compose-check: every node reads '$want'"
}

# 5. The scenario.
timed "up" compose up -d --no-build
timed "  ... wait healthy" wait_healthy node1 node2 node3 proxy
[ "$(sql "$(port_of node1)" "SHOW STATUS LIKE 'wsrep_cluster_size'" | cut -f2)" = 3 ] || fail "cluster size is not 3"
# Each node's Prometheus endpoint, as a scraper in the network sees it.
for n in node1 node2 node3; do
  ip=$("$DOCKER" inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$(compose ps -q $n)")
  # Read whole, then searched: `curl | grep -q` fails under pipefail when
  # grep stops reading first.
  metrics=$(ip netns exec "$NETNS" curl -sS --max-time 10 "http://$ip:9540/metrics") \
    || fail "$n: no answer from /metrics at $ip:9540"
  grep -qx 'trireme_wsrep_cluster_size 3' <<<"$metrics" \
    || fail "$n: /metrics at $ip:9540 does not report trireme_wsrep_cluster_size 3: $(grep cluster_size <<<"$metrics")"
done
echo "compose-check: /metrics of every node reports the cluster"

sql "$(port_of proxy)" "CREATE DATABASE ci; CREATE TABLE ci.t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO ci.t VALUES (1, 'one')"
read_back_everywhere one
# Each member lists the others by the client address they announced
# (node1:3306: the advertise host with the listen port), bounded.
for n in node1 node2 node3; do
  for _ in $(seq 1 30); do
    addrs=$(sql "$(port_of $n)" "SHOW STATUS LIKE 'wsrep_incoming_addresses'" | cut -f2 | tr ',' '\n' | sort | paste -sd,)
    [ "$addrs" = "node1:3306,node2:3306,node3:3306" ] && break
    sleep 1
  done
  [ "$addrs" = "node1:3306,node2:3306,node3:3306" ] || fail "$n: wsrep_incoming_addresses is '$addrs'"
done
echo "compose-check: wsrep_incoming_addresses lists node1:3306,node2:3306,node3:3306 on every node"

timed "restart node1" compose restart node1
timed "  ... node1 healthy" wait_healthy node1
sql "$(port_of proxy)" "INSERT INTO ci.t VALUES (2, 'two')"
read_back_everywhere one,two

timed "kill node2" compose kill node2
timed "start node2" compose start node2
timed "  ... node2 healthy" wait_healthy node2
sql "$(port_of proxy)" "INSERT INTO ci.t VALUES (3, 'three')"
read_back_everywhere one,two,three

# Stop the writer: the proxy must make another node the writer within
# FAILOVER_LIMIT_S of the stop (its status page says which). The first
# write after the stop also waits for the group to elect a new leader if
# the writer was it (cluster.timeouts.election_*_ms): that time is
# reported, not limited.
proxy_writer() {
  ip netns exec "$NETNS" curl -s --max-time 2 "http://127.0.0.1:$TRIREME_PROXY_ADMIN_PORT/status" \
    | awk '/^writer:/ {sub(/:3306$/, "", $2); print $2}'
}
writer=$(sql "$(port_of proxy)" "SELECT @@wsrep_node_name")
[ "$(proxy_writer)" = "$writer" ] || fail "the proxy's status page names $(proxy_writer), sessions reach $writer"
echo "compose-check: the proxy's writer is $writer"
moved() {
  # The engine's own client signals at once (docker-compose 1.29 takes a
  # second to start); the clock starts when the stop is asked for.
  local id; id=$(compose ps -q "$writer")
  local s; s=$(now)
  "$DOCKER" stop "$id" >"$WORK/stop.log" 2>&1 &
  local stop_pid=$! i=0 who=
  while [ $i -lt 300 ]; do
    who=$(proxy_writer)
    case $who in node1|node2|node3) [ "$who" != "$writer" ] && break ;; esac
    i=$((i + 1)); sleep 0.1
  done
  local took; took=$(since "$s")
  wait "$stop_pid" || { cat "$WORK/stop.log" >&2; fail "docker stop $writer"; }
  case $who in node1|node2|node3) [ "$who" != "$writer" ] || fail "writer stayed $writer" ;; *) fail "no new writer 30 s after stopping $writer (status page: '$who')" ;; esac
  echo "compose-check: the proxy moved the writer from $writer to $who $took s after the stop began"
  awk -v t="$took" -v l="$FAILOVER_LIMIT_S" 'BEGIN{exit !(t <= l)}' \
    || fail "the proxy took $took s to move the writer (limit ${FAILOVER_LIMIT_S} s)"
}
timed "stop the writer; proxy moves it" moved
first_write() {
  local i=0 who
  while [ $i -lt 120 ]; do
    if who=$(sql "$(port_of proxy)" "INSERT INTO ci.t VALUES (4, 'four'); SELECT @@wsrep_node_name" 2>/dev/null); then
      [ "$who" != "$writer" ] || fail "a write through the proxy reached the stopped $writer"
      echo "compose-check: writes go to $who"
      return 0
    fi
    # A failed COMMIT may still have committed (outcome unknown).
    [ "$(sql "$(port_of proxy)" "SET SESSION wsrep_sync_wait = 1; SELECT COUNT(*) FROM ci.t WHERE id = 4" 2>/dev/null)" = 1 ] && return 0
    i=$((i + 1)); sleep 0.5
  done
  fail "no write through the proxy committed within about 60 s of stopping $writer"
}
timed "  ... first write after the stop" first_write
timed "start $writer again" compose start "$writer"
timed "  ... $writer healthy" wait_healthy "$writer"
read_back_everywhere one,two,three,four

timed "down (volumes kept)" compose down
timed "up again" compose up -d --no-build
timed "  ... wait healthy" wait_healthy node1 node2 node3 proxy
read_back_everywhere one,two,three,four

timed "down -v" compose down -v
left=$("$DOCKER" volume ls -q | grep "^${PROJECT}_" || true)
[ -z "$left" ] || fail "volumes left after down -v: $left"

echo
echo "compose-check: all steps passed (${COMPOSE[*]})"
printf '  %s\n' "${TIMINGS[@]}"
