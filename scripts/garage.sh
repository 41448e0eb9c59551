#!/usr/bin/env bash
# Garage 2.5.0, the S3-compatible store that the storage tests and a local
# distributed mode run against (DESIGN.md, "Real components").
#
#   scripts/garage.sh install     build it once into ~/.cache/moocpipe/garage-2.5.0
#                                 (cargo install: 10-20 min on 2 cores, then cached)
#   scripts/garage.sh start DIR   a single node on 127.0.0.1, config, data and log in DIR;
#                                 prints `export MOOCPIPE_S3_*=…` lines on stdout:
#                                 eval "$(scripts/garage.sh start /tmp/garage)"
#   scripts/garage.sh env DIR     prints those lines again
#   scripts/garage.sh stop DIR    stops it and waits until it has exited
#   scripts/garage.sh cors DIR BUCKET ORIGIN...
#                                 lets pages of ORIGIN (the dashboard, e.g.
#                                 http://127.0.0.1:8080) upload takes to BUCKET from the
#                                 browser: PUT through presigned URLs, ETag readable
#                                 (deploy/garage/cors.sh; needs jq)
#
# Every command is idempotent: start on a running node only prints its
# variables, stop on a stopped one does nothing. Sourced, it defines
# garage_install, garage_start, garage_env, garage_stop and garage_bin.
# Progress goes to stderr; stdout carries only the export lines.
#
# MOOCPIPE_GARAGE_BIN runs another garage binary; MOOCPIPE_GARAGE_BUCKET names
# the bucket created at the first start (default moocpipe-media).

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=deploy/garage/cors.sh
. "$(dirname "${BASH_SOURCE[0]}")/../deploy/garage/cors.sh"

GARAGE_VERSION=2.5.0
GARAGE_ROOT="$HOME/.cache/moocpipe/garage-$GARAGE_VERSION"
# Garage checks request signatures against this region; the S3 client must
# use exactly the same.
GARAGE_REGION=garage

garage_bin() {
  echo "${MOOCPIPE_GARAGE_BIN:-$GARAGE_ROOT/bin/garage}"
}

garage_install() {
  if [ -x "$GARAGE_ROOT/bin/garage" ]; then
    return 0
  fi
  require_rust
  # Garage's bundled C libraries (sqlite, zstd, libsodium) need a compiler.
  if ! command -v cc >/dev/null 2>&1; then
    say "installing a C compiler for Garage's bundled libraries"
    apt-get update -qq && apt-get install -y -qq build-essential pkg-config >/dev/null
  fi
  mkdir -p "$(dirname "$GARAGE_ROOT")"
  # One build at a time: a second caller waits for the first, then finds the
  # binary. A build started by hand into the same root is waited for too.
  (
    flock 9
    while pgrep -f "cargo install garage .*--root $GARAGE_ROOT" >/dev/null 2>&1; do
      say "another build of Garage into $GARAGE_ROOT is running; waiting for it"
      sleep 20
    done
    if [ ! -x "$GARAGE_ROOT/bin/garage" ]; then
      say "building Garage $GARAGE_VERSION (10-20 min on 2 cores; cached in $GARAGE_ROOT)"
      cargo install garage --version "$GARAGE_VERSION" --locked --root "$GARAGE_ROOT"
    fi
  ) 9>"$GARAGE_ROOT.lock"
}

# 0 when the node whose pid is recorded in DIR (absolute) is alive, and is
# that node rather than a process that got the pid later.
garage_running() { # DIR
  local pid state
  pid=$(cat "$1/garage.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  state=$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
  [ "$state" != Z ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-c $1/garage.toml server"
}

port_answers() { # PORT
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A port nothing listens on now (a random one, so parallel starts rarely meet).
free_port() { # [PORT-TO-AVOID]
  local port _
  for _ in $(seq 1 100); do
    port=$((20000 + RANDOM % 30000))
    if [ "$port" != "${1:-}" ] && ! port_answers "$port"; then
      echo "$port"
      return 0
    fi
  done
  echo "no free port found on 127.0.0.1" >&2
  return 1
}

random_hex() { # BYTES
  od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'
}

# The first start writes the config, the credentials and the export lines;
# later starts reuse them, since the node's metadata remembers the key.
garage_configure() { # DIR
  local dir="$1" rpc s3
  [ -f "$dir/garage.toml" ] && [ -f "$dir/credentials" ] && return 0
  rpc=$(free_port) && s3=$(free_port "$rpc") || return 1
  mkdir -p "$dir/meta" "$dir/data"
  cat >"$dir/garage.toml" <<EOF
# Written by scripts/garage.sh: one node, for tests and local runs.
metadata_dir = "$dir/meta"
data_dir = "$dir/data"
db_engine = "sqlite"
replication_factor = 1
metadata_fsync = false
data_fsync = false
rpc_bind_addr = "127.0.0.1:$rpc"
rpc_public_addr = "127.0.0.1:$rpc"
rpc_secret = "$(random_hex 32)"

[s3_api]
s3_region = "$GARAGE_REGION"
api_bind_addr = "127.0.0.1:$s3"
root_domain = ".s3.garage.localhost"
EOF
  chmod 600 "$dir/garage.toml"
  (
    umask 077
    cat >"$dir/credentials" <<EOF
GARAGE_DEFAULT_ACCESS_KEY=GK$(random_hex 12)
GARAGE_DEFAULT_SECRET_KEY=$(random_hex 32)
GARAGE_DEFAULT_BUCKET=${MOOCPIPE_GARAGE_BUCKET:-moocpipe-media}
S3_PORT=$s3
EOF
  )
}

garage_env() { # DIR
  local dir="$1"
  [ -f "$dir/credentials" ] || {
    echo "$dir has no Garage node: run scripts/garage.sh start $dir" >&2
    return 1
  }
  (
    # shellcheck disable=SC1091
    . "$dir/credentials"
    cat <<EOF
export MOOCPIPE_S3_ENDPOINT=http://127.0.0.1:$S3_PORT
export MOOCPIPE_S3_REGION=$GARAGE_REGION
export MOOCPIPE_S3_BUCKET=$GARAGE_DEFAULT_BUCKET
export MOOCPIPE_S3_ACCESS_KEY_ID=$GARAGE_DEFAULT_ACCESS_KEY
export MOOCPIPE_S3_SECRET_ACCESS_KEY=$GARAGE_DEFAULT_SECRET_KEY
export MOOCPIPE_S3_PATH_STYLE=true
EOF
  )
}

garage_start() { # DIR
  local dir="${1:?usage: garage.sh start DIR}" bin pid s3 _
  bin=$(garage_bin)
  if [ ! -x "$bin" ]; then
    echo "Garage is not installed ($bin): run scripts/garage.sh install" >&2
    return 1
  fi
  mkdir -p "$dir" && dir=$(cd "$dir" && pwd)
  if garage_running "$dir"; then
    garage_env "$dir"
    return 0
  fi
  garage_configure "$dir" || return 1
  s3=$(. "$dir/credentials" && echo "$S3_PORT")
  if port_answers "$s3"; then
    echo "port $s3 of $dir/garage.toml is taken by another process; remove $dir to start afresh" >&2
    return 1
  fi
  say "starting Garage on 127.0.0.1:$s3 (log: $dir/garage.log)"
  # --single-node lays out the cluster on first start; --default-bucket
  # creates the key and bucket from GARAGE_DEFAULT_* (Garage >= 2.0).
  (
    set -a
    # shellcheck disable=SC1091
    . "$dir/credentials"
    set +a
    exec "$bin" -c "$dir/garage.toml" server --single-node --default-bucket \
      >>"$dir/garage.log" 2>&1 </dev/null
  ) &
  pid=$!
  echo "$pid" >"$dir/garage.pid"
  for _ in $(seq 1 300); do
    if port_answers "$s3"; then
      garage_env "$dir"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  echo "Garage did not start; the end of $dir/garage.log:" >&2
  tail -n 20 "$dir/garage.log" >&2
  garage_stop "$dir"
  return 1
}

garage_stop() { # DIR
  local dir="${1:?usage: garage.sh stop DIR}" pid _
  dir=$(cd "$dir" 2>/dev/null && pwd) || return 0
  pid=$(cat "$dir/garage.pid" 2>/dev/null) || return 0
  if garage_running "$dir"; then
    kill -TERM "$pid" 2>/dev/null || true
    # Garage flushes and exits within about 3 s of SIGTERM.
    for _ in $(seq 1 100); do
      garage_running "$dir" || break
      sleep 0.1
    done
    if garage_running "$dir"; then
      say "Garage ($pid) ignored SIGTERM for 10 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
  fi
  # Reap it when this shell started it (sourced use), so no zombie remains.
  wait "$pid" 2>/dev/null || true
  rm -f "$dir/garage.pid"
}

garage_cors() { # DIR BUCKET ORIGIN...
  local dir="${1:?usage: garage.sh cors DIR BUCKET ORIGIN...}"
  local bucket="${2:?usage: garage.sh cors DIR BUCKET ORIGIN...}"
  shift 2
  dir=$(cd "$dir" && pwd) || return 1
  [ -f "$dir/garage.toml" ] || {
    echo "$dir has no Garage node (no garage.toml)" >&2
    return 1
  }
  GARAGE_CONFIG="$dir/garage.toml"
  allow_browser_uploads garage_cli "$bucket" "$@" || return 1
  say "bucket $bucket: browsers on $* may upload takes to it (CORS)"
}

garage_cli() {
  "$(garage_bin)" -c "$GARAGE_CONFIG" "$@"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:-}" in
  install) garage_install ;;
  start) garage_start "${2:?usage: garage.sh start DIR}" ;;
  env) garage_env "${2:?usage: garage.sh env DIR}" ;;
  stop) garage_stop "${2:?usage: garage.sh stop DIR}" ;;
  cors) shift && garage_cors "$@" ;;
  *)
    sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
  esac
fi
