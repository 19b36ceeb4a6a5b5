#!/usr/bin/env bash
# Installs what the test suite runs besides cargo: the mariadb client,
# sysbench and PyMySQL (driver-compatibility tests); with --netns the tools
# of the namespace tests (iproute2, nftables); with --mariadb the MariaDB
# server of the differential SQL test (tests/mariadb.sh runs a private
# instance; the package's own service is not started). Installs only what
# is missing; needs root or sudo for Debian packages.
set -euo pipefail

netns=0
mariadb_server=0
for arg in "$@"; do
  case "$arg" in
    --netns) netns=1 ;;
    --mariadb) mariadb_server=1 ;;
    *) echo "usage: $0 [--netns] [--mariadb]" >&2; exit 2 ;;
  esac
done

need=()
command -v mariadb >/dev/null 2>&1 || need+=(mariadb-client)
command -v sysbench >/dev/null 2>&1 || need+=(sysbench)
command -v python3 >/dev/null 2>&1 || need+=(python3)
# The Django suite (tests/django/run.sh) makes a virtualenv.
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
if [ $netns = 1 ]; then
  command -v ip >/dev/null 2>&1 || need+=(iproute2)
  command -v nft >/dev/null 2>&1 || need+=(nftables)
fi
if [ $mariadb_server = 1 ]; then
  { command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ]; } &&
    command -v mariadb-install-db >/dev/null 2>&1 || need+=(mariadb-server)
fi

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else
    echo "tests/deps.sh: need root (or sudo) to install: $*" >&2
    return 1
  fi
}

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  for attempt in 1 2 3; do
    if as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"; then
      return 0
    fi
    echo "apt-get failed (attempt $attempt); retrying" >&2
    sleep 10
  done
  return 1
}

if [ ${#need[@]} -gt 0 ]; then
  echo "tests/deps.sh: installing ${need[*]}"
  # Debian starts a package's service on install (mariadb-server's on port
  # 3306): forbid that for this install unless the machine already has a
  # policy, and remove only the policy this script wrote.
  policy=/usr/sbin/policy-rc.d
  wrote_policy=0
  if [ ! -e "$policy" ] && as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"; then
    wrote_policy=1
  fi
  status=0
  apt_install "${need[@]}" || status=$?
  if [ $wrote_policy = 1 ]; then as_root rm -f "$policy"; fi
  [ $status = 0 ] || exit $status
fi

# PyMySQL for whichever python3 the tests will run: pip when it has one
# (pyenv, venv), else Debian's package for the system python.
if ! python3 -c "import pymysql" >/dev/null 2>&1; then
  echo "tests/deps.sh: installing PyMySQL"
  if python3 -m pip --version >/dev/null 2>&1; then
    python3 -m pip install --quiet "PyMySQL==1.1.2" ||
      python3 -m pip install --quiet --break-system-packages "PyMySQL==1.1.2"
  else
    apt_install python3-pymysql
  fi
  python3 -c "import pymysql" || {
    echo "tests/deps.sh: PyMySQL is still not importable by $(command -v python3)" >&2
    exit 1
  }
fi
