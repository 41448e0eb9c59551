#!/usr/bin/env bash
# The fault suite (docs/RELIABILITY.md): the real binaries — ingest, every
# stage, two transcode workers — on RabbitMQ, Garage and PostgreSQL, a batch
# of four takes (compliant with speech, compliant without speech,
# non-compliant, corrupt), one fault injected per row while the batch runs.
# Prints one row per fault (takes, lost, duplicate notices, outputs
# inconsistent with their record, stray runs, deliveries per job, seconds to
# recover, batch seconds), then what happened in each.
#
#   scripts/faults.sh                 every fault (about 25 minutes on 2 cores)
#   scripts/faults.sh kill-transcode duplicate    the named ones
#   scripts/faults.sh --help          the faults' names
#
# Needs root (or sudo): it restarts and freezes the machine's RabbitMQ and
# restarts its PostgreSQL — run it on a test machine, not next to anything
# else using them — and mounts a tmpfs and makes a network namespace. Exits 1
# when a row lost a take, sent a notice twice or left an inconsistent output.
# The test suite (scripts/test.sh) runs a fast subset: tests/tests/faults.rs.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$MOOCPIPE_ROOT"

if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/faults.sh restarts services, mounts a tmpfs and makes a network namespace: run it as root" >&2
  exit 1
fi
bash scripts/install-deps.sh
require_rust
bash scripts/rabbitmq.sh ensure
bash scripts/postgres.sh ensure
bash scripts/garage.sh install
command -v ip >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq iproute2 >/dev/null; }
say "build (the moocpipe binary and the fault runner)"
cargo build --locked -p moocpipe -p moocpipe-tests --bins
target/debug/moocpipe models fetch tiny.en >&2
export G_DEBUG=fatal-criticals
exec target/debug/faults "$@"
