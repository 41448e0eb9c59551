#!/usr/bin/env bash
# Benchmark of `moocpipe check` against ffprobe and mediainfo on the same
# ≥ 1 GB 1080p ProRes 422 HQ take, interleaved runs, warm page cache; and peak
# RSS of `check` on a 1 GB and a 10 GB take. Prints a Markdown table for
# docs/BENCHMARKS.md. Media go to .bench/ (git-ignored, ~12 GB of disk).
#
#   scripts/bench-check.sh [runs]     (default 7 runs of each tool)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$MOOCPIPE_ROOT"
RUNS="${1:-7}"

bench_prepare
# 100 frames (4 s) of noise in ProRes 422 HQ: ~197 Mbit/s, near a real studio
# take's 176-220 Mbit/s; looped without re-encoding to reach the sizes.
prores_take "$BENCH/seed.mov" 100 pattern=snow
make_take() { # name loops
  if [ ! -s "$BENCH/$1" ]; then
    say "making $1"
    ffmpeg -v error -y -stream_loop "$2" -i "$BENCH/seed.mov" -c copy "$BENCH/$1.part.mov"
    mv "$BENCH/$1.part.mov" "$BENCH/$1"
  fi
}
make_take take-1g.mov 10    # 11 × 4 s = 44 s, ~1.08 GB
make_take take-10g.mov 109  # 110 × 4 s = 440 s, ~10.8 GB

exec python3 scripts/bench_check.py "$RUNS" "$MOOCPIPE_ROOT/target/release/moocpipe" "$BENCH/take-1g.mov" "$BENCH/take-10g.mov"
