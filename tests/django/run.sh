#!/usr/bin/env bash
# Django's own test suite against trireme and against a private MariaDB
# 10.11 (issue 10, "Real clients' own test suites").
#
#   tests/django/run.sh [--server trireme|mariadb|both] [APP...]
#       migrate the contrib apps, then run each APP (default: the issue's
#       list) on each server; per-app table in target/django/summary.md
#   tests/django/run.sh --probe [APP...]
#       triage only: trireme with Django-side shims for the DDL that stops
#       whole apps today (see _probe_shims in trireme_settings.py), reported
#       as server "trireme-probe"; never the official numbers
#   tests/django/run.sh --cluster [APP...]
#       trireme as a three-node cluster (Django connected to node 1, every
#       statement replicated), reported as server "trireme-3node"
#   tests/django/run.sh --ci [--update-expected]
#       the CI subset (ci-apps.txt) on trireme only; exits 1 if a test in
#       expected/ci-pass.txt did not pass (the list only grows:
#       --update-expected rewrites it from this run)
#
# Environment (all optional):
#   TRIREME_BIN          trireme binary (default: this tree's target/debug/trireme)
#   DJANGO_APP_TIMEOUT   seconds one app may run before it is reported as a
#                        timeout (default 1200; 300 with --ci)
#   DJANGO_MARIADB_PORT  / DJANGO_TRIREME_PORT / DJANGO_TRIREME_PEER_PORT
#                        ports on 127.0.0.1 (default 13406 / 13407 / 14567;
#                        a cluster's nodes 2 and 3 take the next two)
#   DJANGO_WORK          scratch directory (default target/django)
#
# Everything this script starts (one mariadbd, trireme nodes) is stopped
# by pid on exit. Exit status: 0 when the run completed (and, with --ci, no
# expected test regressed), 1 on a regression, 3 when a server or the
# Python environment could not be set up.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# The settings modules are imported from this directory: no __pycache__ in
# the source tree.
export PYTHONDONTWRITEBYTECODE=1
root=$(cd "$here/../.." && pwd)
work=${DJANGO_WORK:-$root/target/django}
django_version=$(sed -n 's/^Django==//p' "$here/requirements.txt")
password=django
mariadb_port=${DJANGO_MARIADB_PORT:-13406}
trireme_port=${DJANGO_TRIREME_PORT:-13407}
peer_port=${DJANGO_TRIREME_PEER_PORT:-14567}

# The issue's list of apps; the CI subset is in ci-apps.txt.
default_apps="basic queries lookup aggregation annotations expressions model_fields
many_to_one many_to_many delete transactions select_related ordering migrations schema"

ci=0
update_expected=0
servers="trireme mariadb"
apps=""
while [ $# -gt 0 ]; do
  case "$1" in
  --ci) ci=1 ;;
  --update-expected) update_expected=1 ;;
  --probe) servers=trireme-probe ;;
  --cluster) servers=trireme-3node ;;
  --server)
    shift
    case "${1:-}" in
    both) servers="trireme mariadb" ;;
    trireme | mariadb) servers=$1 ;;
    *) echo "run.sh: --server takes trireme, mariadb or both" >&2; exit 2 ;;
    esac
    ;;
  -h | --help) sed -n '2,33p' "$0"; exit 0 ;;
  -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  *) apps="$apps $1" ;;
  esac
  shift
done
if [ $ci = 1 ]; then
  servers=trireme
  [ -n "$apps" ] || apps=$(grep -v '^#' "$here/ci-apps.txt")
  app_timeout=${DJANGO_APP_TIMEOUT:-300}
else
  [ -n "$apps" ] || apps=$default_apps
  app_timeout=${DJANGO_APP_TIMEOUT:-1200}
fi

log() { echo "django/run.sh: $*" >&2; }
die() { log "ERROR: $*"; exit 3; }

# The parser is checked before it judges a run.
mkdir -p "$work"
python3 "$here/test_summarize.py" >"$work/test_summarize.log" 2>&1 ||
  { cat "$work/test_summarize.log" >&2; die "tests/django/test_summarize.py failed"; }

mkdir -p "$work"
logs=$work/logs
mkdir -p "$logs"
echo $apps >"$logs/apps.txt"

# --- Python environment: pinned Django + PyMySQL in a venv, and the
# Django sdist's tests/ directory (runtests.py and the apps).
venv=$work/venv
if ! "$venv/bin/python" -c 'import django, pymysql' 2>/dev/null ||
  [ "$("$venv/bin/python" -c 'import django; print(django.__version__)')" != "$django_version" ]; then
  log "creating $venv (Django $django_version)"
  python3 -m venv "$venv" || die "python3 -m venv failed"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt" ||
    die "pip install failed"
fi
suite=$work/django-$django_version/tests
if [ ! -f "$suite/runtests.py" ]; then
  log "downloading the Django $django_version sdist (its tests/)"
  "$venv/bin/pip" download -q --disable-pip-version-check --no-binary :all: --no-deps \
    -d "$work/sdist" "Django==$django_version" || die "pip download of the sdist failed"
  tar -xzf "$work/sdist/django-$django_version.tar.gz" -C "$work" || die "unpacking the sdist failed"
fi

# --- Servers. Each start records what to stop; the trap stops exactly that.
trireme_pids=""
mariadb_dir=""
cleanup() {
  local pid
  for pid in $trireme_pids; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in $trireme_pids; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [ -n "$mariadb_dir" ]; then
    SQLDIFF_PASSWORD=$password "$root/tests/mariadb.sh" stop "$mariadb_dir" || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

client() { # port, then mariadb client arguments
  local port=$1
  shift
  mariadb --no-defaults -h127.0.0.1 -P"$port" -uroot -p"$password" -N -B "$@"
}

start_mariadb() {
  mariadb_dir=$work/mariadb
  # A data directory left by an earlier run is reused (its root password
  # is ours); a server still running there from a crashed run is stopped.
  SQLDIFF_PASSWORD=$password "$root/tests/mariadb.sh" stop "$mariadb_dir" >/dev/null 2>&1 || true
  SQLDIFF_PASSWORD=$password "$root/tests/mariadb.sh" start "$mariadb_dir" "$mariadb_port" ||
    die "MariaDB did not start"
  echo "MariaDB $(client "$mariadb_port" -e 'SELECT VERSION()')" >"$logs/mariadb-version.txt"
}

start_trireme() { # number of nodes: 1, or 3 for --cluster
  local nodes=$1 bin=${TRIREME_BIN:-}
  [ -n "$bin" ] || bin=$root/target/debug/trireme
  [ -n "$bin" ] && [ -x "$bin" ] || die "no trireme binary: build it (cargo build -j2 -p trireme-node) or set TRIREME_BIN"
  local dir=$work/trireme peers="" i port pid
  rm -rf "$dir"
  mkdir -p "$dir"
  if [ "$nodes" -gt 1 ]; then
    for i in $(seq 1 "$nodes"); do peers="$peers${peers:+,}127.0.0.1:$((peer_port + i - 1))"; done
  fi
  # Ready means primary and synced (wsrep_ready=ON), not only listening.
  ready() { [ "$(client "$1" -e "SHOW STATUS LIKE 'wsrep_ready'" 2>/dev/null | cut -f2)" = ON ]; }
  for i in $(seq 1 "$nodes"); do
    port=$((trireme_port + i - 1))
    cat >"$dir/node$i.toml" <<EOF
# generated by tests/django/run.sh: node $i of $nodes for Django's tests
node_id = $i
node_name = "django$i"
listen = "127.0.0.1:$port"
data_dir = "$dir/data$i"
root_password = "$password"
bootstrap = $([ "$i" = 1 ] && echo true || echo false)
[cluster]
cluster_address = "gcomm://$peers"
listen = "127.0.0.1:$((peer_port + i - 1))"
certs_dir = "$dir/tls"
fsync = "never"
EOF
    "$bin" start --config "$dir/node$i.toml" >"$dir/node$i.log" 2>&1 </dev/null &
    pid=$!
    trireme_pids="$trireme_pids $pid"
    for _ in $(seq 1 600); do
      ready "$port" && break
      kill -0 "$pid" 2>/dev/null || { tail -20 "$dir/node$i.log" >&2; die "trireme node $i exited during start-up"; }
      sleep 0.1
    done
    ready "$port" || die "trireme node $i was not ready (wsrep_ready=ON) within 60 s"
  done
  local size
  size=$(client "$trireme_port" -e "SHOW STATUS LIKE 'wsrep_cluster_size'" | cut -f2)
  [ "$size" = "$nodes" ] || die "trireme cluster size is $size, expected $nodes"
  log "trireme $(client "$trireme_port" -e 'SELECT VERSION()') up: $nodes node(s) from 127.0.0.1:$trireme_port (pids$trireme_pids, $bin)"
  # Which build was measured: the binary may be rebuilt between runs.
  echo "$bin, modified $(date -u -r "$bin" '+%Y-%m-%d %H:%M UTC')" >"$logs/trireme-binary.txt"
}

port_of() { if [ "$1" = mariadb ]; then echo "$mariadb_port"; else echo "$trireme_port"; fi; }

# --- One server: migrate, then each app with a time bound.
run_server() {
  local server=$1 port out
  port=$(port_of "$server")
  out=$logs/$server
  # Only this server's logs are replaced: a run of the other server (say
  # `--server mariadb` in parallel) keeps its own.
  rm -rf "$out"
  mkdir -p "$out"
  export DJANGO_DB_HOST=127.0.0.1 DJANGO_DB_PORT=$port DJANGO_DB_USER=root DJANGO_DB_PASSWORD=$password
  export DJANGO_FAILED_SQL_LOG=$out/failed-sql.jsonl
  export PYTHONPATH=$here
  if [ "$server" = trireme-probe ]; then export DJANGO_PROBE_SHIMS=1; else unset DJANGO_PROBE_SHIMS; fi
  # Step 1: the contrib apps' migrations into a fresh database.
  client "$port" -e 'DROP DATABASE IF EXISTS django_default; CREATE DATABASE django_default' ||
    die "$server: cannot create the database"
  local rc=0
  (cd "$suite" && timeout -k 10 "$app_timeout" "$venv/bin/django-admin" migrate \
    --settings=migrate_settings --noinput) >"$out/_migrate.log" 2>&1 || rc=$?
  echo $rc >"$out/_migrate.status"
  log "$server: migrate exit $rc"
  # What migrate built, as information_schema describes it: summarize.py
  # compares it between the servers.
  client "$port" -e "
    SELECT 'column', table_name, column_name, column_type, is_nullable, column_key,
           IFNULL(column_default, 'NULL'), extra
      FROM information_schema.columns WHERE table_schema = 'django_default'
      ORDER BY table_name, ordinal_position;
    SELECT 'index', table_name, index_name, seq_in_index, column_name, non_unique
      FROM information_schema.statistics WHERE table_schema = 'django_default'
      ORDER BY table_name, index_name, seq_in_index;
    SELECT 'foreign key', table_name, column_name, referenced_table_name, referenced_column_name
      FROM information_schema.key_column_usage
      WHERE table_schema = 'django_default' AND referenced_table_name IS NOT NULL
      ORDER BY table_name, column_name" >"$out/_migrate_schema.tsv" 2>&1 || true
  # Step 2: each app of Django's suite on its own, so a hang or a crash
  # costs one app. runtests.py creates and drops test_django_default.
  local app
  for app in $apps; do
    rc=0
    (cd "$suite" && timeout -k 10 "$app_timeout" "$venv/bin/python" runtests.py \
      --settings=trireme_settings --parallel=1 --noinput -v 2 "$app") >"$out/$app.log" 2>&1 || rc=$?
    echo $rc >"$out/$app.status"
    log "$server: $app exit $rc$([ $rc = 124 ] && echo " (timeout after ${app_timeout}s)")"
    # A timed-out app may leave its test databases behind.
    client "$port" -e 'DROP DATABASE IF EXISTS test_django_default; DROP DATABASE IF EXISTS test_django_other' \
      >/dev/null 2>&1 || true
  done
}

for server in $servers; do
  case $server in
  trireme | trireme-probe) start_trireme 1 ;;
  trireme-3node) start_trireme 3 ;;
  mariadb) start_mariadb ;;
  esac
  run_server "$server"
  # Stop each server after its run: the machine is small.
  cleanup
  trireme_pids=""
  mariadb_dir=""
done

# The table shows every server with logs (a parallel run of the other
# server included), but in --ci only what this run measured.
shown=$servers
if [ $ci = 0 ]; then
  shown=""
  for s in trireme mariadb trireme-3node trireme-probe; do [ -d "$logs/$s" ] && shown="$shown $s"; done
fi
"$venv/bin/python" "$here/summarize.py" summary "$logs" "$work/summary.md" $shown
log "summary: $work/summary.md; logs and per-test results under $logs"

if [ $ci = 1 ]; then
  expected=$here/expected/ci-pass.txt
  if [ $update_expected = 1 ]; then
    mkdir -p "$here/expected"
    {
      echo "# Django tests (tests/django/ci-apps.txt) that pass on trireme: run.sh --ci"
      echo "# fails if one of them does not. Regenerate: run.sh --ci --update-expected"
      "$venv/bin/python" "$here/summarize.py" passes "$logs/trireme/results.tsv"
    } >"$expected"
    log "wrote $expected ($(grep -vc '^#' "$expected") tests)"
  fi
  "$venv/bin/python" "$here/summarize.py" check "$logs/trireme/results.tsv" "$expected" || exit 1
fi
