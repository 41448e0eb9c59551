#!/usr/bin/env bash
# The dashboard under load (issue 12): a catalog of COURSES × TAKES made-up
# takes (default 100 × 30) in the embedded SQLite catalog, `moocpipe serve`
# (release), and wrk with 50 connections on the overview, a course page and
# the overview's API, each for SECONDS (default 20). Prints wrk's latency
# percentiles and the server's own time per request (its
# moocpipe_http_request_seconds histogram), as a markdown table.
#   scripts/bench-serve.sh [COURSES] [TAKES] [SECONDS]
# MOOCPIPE_BENCH_PROFILE=debug uses the debug build the tests use (slower:
# an upper bound) instead of building a release.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$MOOCPIPE_ROOT"
COURSES="${1:-100}"
TAKES="${2:-30}"
SECONDS_EACH="${3:-20}"
PROFILE="${MOOCPIPE_BENCH_PROFILE:-release}"
if [ "$PROFILE" = release ]; then
  bench_prepare
  cargo build --release --locked -q -p moocpipe-tests --bin seed_catalog
else
  bash scripts/install-deps.sh
  require_rust
  # The whole workspace, as the tests build it (a -p build would change features).
  cargo build --locked -q --workspace --bins
  BENCH="$MOOCPIPE_ROOT/.bench"
  mkdir -p "$BENCH"
fi
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
command -v bc >/dev/null || { apt-get update -qq && apt-get install -y -qq bc >/dev/null; }
MOOCPIPE="$MOOCPIPE_ROOT/target/$PROFILE/moocpipe"
SEED="$MOOCPIPE_ROOT/target/$PROFILE/seed_catalog"
DATA="$BENCH/serve-$COURSES-$TAKES"
if [ ! -d "$DATA/takes" ]; then
  say "seeding $COURSES courses × $TAKES takes into $DATA"
  "$SEED" "$DATA" "$COURSES" "$TAKES"
fi
rm -f "$DATA/catalog.sqlite"*
say "catalog sync (every record read from the store into SQLite)"
start=$(date +%s.%N)
"$MOOCPIPE" catalog sync --data "$DATA"
sync_secs=$(echo "$(date +%s.%N) - $start" | bc)
printf '%s\n' "bench password 1" | "$MOOCPIPE" users add bench --role admin --data "$DATA" >/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$MOOCPIPE" serve --data "$DATA" --listen "127.0.0.1:$PORT" 2>"$BENCH/serve.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
COOKIE=$(curl -fsS -D - -o /dev/null -H 'content-type: application/json' \
  -d '{"name":"bench","password":"bench password 1"}' "http://127.0.0.1:$PORT/api/v1/session" \
  | sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p')
COURSE="course-$(printf '%03d' $((COURSES / 2)))"
echo
echo "Build: $PROFILE. Catalog: $COURSES courses × $TAKES takes; sync from the store ${sync_secs}s. wrk: 2 threads, 50 connections, ${SECONDS_EACH}s per page; $(nproc) cores shared by wrk and the server."
echo
run() { # connections
  echo
  echo "$1 connection(s):"
  echo
  echo "| page | requests/s | p50 (ms) | p90 (ms) | p99 (ms) | server mean (ms) | bytes |"
  echo "|---|---|---|---|---|---|---|"
  for path in /overview "/courses/$COURSE" /courses /api/v1/overview; do
    before=$(curl -fsS "http://127.0.0.1:$PORT/metrics")
    out=$(wrk -t"$(( $1 < 2 ? 1 : 2 ))" -c"$1" -d"${SECONDS_EACH}s" --latency -H "Cookie: $COOKIE" "http://127.0.0.1:$PORT$path")
    after=$(curl -fsS "http://127.0.0.1:$PORT/metrics")
    bytes=$(curl -fsS -H "Cookie: $COOKIE" "http://127.0.0.1:$PORT$path" | wc -c)
    route=$(echo "$path" | sed "s|/courses/$COURSE|/courses/{course}|")
    mean=$(python3 - "$route" "$before" "$after" <<'PY'
import sys, re
route, before, after = sys.argv[1], sys.argv[2], sys.argv[3]
def get(text, name):
    m = re.search(r'^%s\{route="%s"\} (\S+)$' % (re.escape(name), re.escape(route)), text, re.M)
    return float(m.group(1)) if m else 0.0
s = get(after, "moocpipe_http_request_seconds_sum") - get(before, "moocpipe_http_request_seconds_sum")
n = get(after, "moocpipe_http_request_seconds_count") - get(before, "moocpipe_http_request_seconds_count")
print("%.2f" % (1000 * s / n) if n else "n/a")
PY
)
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    pct() { echo "$out" | awk -v p="$1" '$1 == p {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; printf "%.1f", v}'; }
    echo "| \`$path\` | $rps | $(pct 50%) | $(pct 90%) | $(pct 99%) | $mean | $bytes |"
  done
}
run 50
run 1
