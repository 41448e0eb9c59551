#!/usr/bin/env bash
# PostgreSQL for the distributed mode's tests and for a developer machine:
# the control database (job leases, job state) on 127.0.0.1:5432, trust
# authentication for the test user on the loopback.
#
#   scripts/postgres.sh ensure   make sure a server answers on 127.0.0.1:5432:
#                                nothing to do if one does (pg_isready); else
#                                start the installed cluster; else install
#                                Debian's postgresql (apt-get, with sudo when
#                                not root) and start it. On a cluster this
#                                script starts, local TCP connections from
#                                127.0.0.1 are trusted. Waits until it
#                                answers; installs psql where missing (the
#                                end-to-end tests use it). Idempotent.
#   scripts/postgres.sh status   says whether a server answers (exit 0) or not (1).
#   scripts/postgres.sh restart  restarts the cluster (every connection drops)
#                                and waits until it answers: the fault suite's
#                                "PostgreSQL restart" (scripts/faults.sh).
#
# The tests connect as MOOCPIPE_TEST_DATABASE_URL (default
# postgres://postgres@127.0.0.1:5432/postgres) and create a database of their
# own per test. MOOCPIPE_POSTGRES_WAIT (seconds, default 60) bounds the wait.
set -euo pipefail

HOST=127.0.0.1
PORT=5432
WAIT="${MOOCPIPE_POSTGRES_WAIT:-60}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

answers() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$HOST" -p "$PORT" -t 2
  else
    # bash's /dev/tcp: before the client package is installed.
    timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$PORT" 2>/dev/null
  fi
}

wait_until_answering() {
  local waited=0
  while ! answers; do
    if [ "$waited" -ge "$WAIT" ]; then
      echo "postgres: no answer on $HOST:$PORT after ${WAIT}s; see /var/log/postgresql/" >&2
      exit 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  say "PostgreSQL answers on $HOST:$PORT (after ${waited}s)"
}

# The newest installed cluster, as "version name" (Debian's pg_lsclusters).
cluster() {
  command -v pg_lsclusters >/dev/null 2>&1 || return 0
  pg_lsclusters --no-header 2>/dev/null | awk '{print $1, $2}' | sort -V | tail -1
}

# Trust TCP connections from the loopback (tests only: this machine's own
# server), listen on 127.0.0.1. Prepended to pg_hba.conf once.
allow_trust() {
  local version=$1 name=$2
  local hba="/etc/postgresql/$version/$name/pg_hba.conf"
  [ -f "$hba" ] || return 0
  if ! grep -q '^# moocpipe: trust the loopback' "$hba"; then
    say "trusting 127.0.0.1 in $hba"
    local tmp
    tmp=$(mktemp)
    {
      echo '# moocpipe: trust the loopback (test machine)'
      echo 'host all all 127.0.0.1/32 trust'
      echo 'host all all ::1/128 trust'
      cat "$hba"
    } >"$tmp"
    sudo_if_needed cp "$tmp" "$hba"
    rm -f "$tmp"
  fi
  local conf="/etc/postgresql/$version/$name/postgresql.conf"
  if [ -f "$conf" ] && ! grep -q "^listen_addresses" "$conf"; then
    echo "listen_addresses = '$HOST'" | sudo_if_needed tee -a "$conf" >/dev/null
  fi
}

start_cluster() {
  local found version name
  found=$(cluster)
  if [ -z "$found" ]; then
    echo "postgres: no cluster found (pg_lsclusters); is Debian's postgresql installed?" >&2
    exit 1
  fi
  read -r version name <<<"$found"
  allow_trust "$version" "$name"
  say "starting PostgreSQL $version/$name"
  sudo_if_needed pg_ctlcluster "$version" "$name" start 2>/dev/null ||
    sudo_if_needed pg_ctlcluster "$version" "$name" restart
  wait_until_answering
}

# psql: the end-to-end tests make and drop their databases with it.
ensure_client() {
  command -v psql >/dev/null 2>&1 && return 0
  say "installing postgresql-client (apt-get) for psql"
  export DEBIAN_FRONTEND=noninteractive
  sudo_if_needed apt-get update -qq
  sudo_if_needed apt-get install -y -qq postgresql-client >/dev/null
}

ensure() {
  if answers; then
    say "PostgreSQL already answers on $HOST:$PORT: nothing to do"
    ensure_client
    return 0
  fi
  if [ -z "$(cluster)" ]; then
    say "installing postgresql (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    sudo_if_needed apt-get update -qq
    sudo_if_needed apt-get install -y -qq postgresql postgresql-client >/dev/null
  else
    say "PostgreSQL is installed but not answering"
  fi
  start_cluster
}

case "${1:-}" in
  ensure) ensure ;;
  status)
    if answers; then echo "PostgreSQL answers on $HOST:$PORT"; else echo "no PostgreSQL on $HOST:$PORT"; exit 1; fi
    ;;
  restart)
    found=$(cluster)
    [ -n "$found" ] || { echo "postgres: no cluster to restart (pg_lsclusters)" >&2; exit 1; }
    read -r version name <<<"$found"
    say "restarting PostgreSQL $version/$name"
    sudo_if_needed pg_ctlcluster "$version" "$name" restart
    wait_until_answering
    ;;
  *)
    echo "usage: $0 ensure|status|restart" >&2
    exit 2
    ;;
esac
