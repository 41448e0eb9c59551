#!/usr/bin/env bash
# Benchmark of `moocpipe qc` against the ffmpeg command a user would run for
# the same measurements (EBU R128 loudness and true peak, black and frozen
# detection), on the same 60 s 1080p ProRes HQ take, interleaved runs.
# Prints Markdown for docs/BENCHMARKS.md. Media go to .bench/ (git-ignored).
#
#   scripts/bench-qc.sh [runs]     (default 3 runs of each)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$MOOCPIPE_ROOT"
RUNS="${1:-3}"

bench_prepare
prores_take "$BENCH/lecture-seed.mov" 50 pattern=smpte horizontal-speed=8
TAKE="$BENCH/qc-take-60s.mov"
if [ ! -s "$TAKE" ]; then
  ffmpeg -v error -y -stream_loop 29 -i "$BENCH/lecture-seed.mov" -c copy "$BENCH/qc-take-60s.part.mov"
  mv "$BENCH/qc-take-60s.part.mov" "$TAKE"
fi
exec python3 - "$RUNS" "$MOOCPIPE_ROOT/target/release/moocpipe" "$TAKE" <<'PY'
import sys
sys.path.insert(0, "scripts")
from benchlib import interleaved, table

runs, moocpipe, take = int(sys.argv[1]), sys.argv[2], sys.argv[3]
tools = {
    "moocpipe qc --json": [moocpipe, "qc", "--json", take],
    "ffmpeg ebur128 + blackdetect + freezedetect": [
        "ffmpeg", "-v", "error", "-i", take, "-af", "ebur128=peak=true",
        "-vf", "blackdetect,freezedetect", "-f", "null", "-"],
}
print(f"Take: {take} (60 s ProRes 422 HQ 1080p25, 24-bit stereo PCM), {runs} interleaved runs, warm cache\n")
print(table(interleaved(tools, runs), "moocpipe qc --json"))
PY
