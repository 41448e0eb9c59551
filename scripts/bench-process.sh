#!/usr/bin/env bash
# Benchmark of the transcode of `moocpipe process` against ffmpeg on the same
# 1080p ProRes 422 HQ source, interleaved runs: (a) the platform rendition
# alone, (b) the whole ladder (1080p + 720p + 480p) with HLS from one command;
# and peak RSS of process on a 20 s and a 60 s source. Prints Markdown for
# docs/BENCHMARKS.md. Media go to .bench/ (git-ignored).
#
#   scripts/bench-process.sh [runs]     (default 3 runs of each)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$MOOCPIPE_ROOT"
RUNS="${1:-3}"

bench_prepare
prores_take "$BENCH/lecture-seed.mov" 50 pattern=smpte horizontal-speed=8
for n in 20 60; do
  dir="$BENCH/course/bench/01-m/01-l"
  mkdir -p "$dir"
  if [ ! -s "$dir/take-${n}s.mov" ]; then
    ffmpeg -v error -y -stream_loop $(( n / 2 - 1 )) -i "$BENCH/lecture-seed.mov" -c copy "$dir/take-${n}s.part.mov"
    mv "$dir/take-${n}s.part.mov" "$dir/take-${n}s.mov"
  fi
done

exec python3 scripts/bench_process.py "$RUNS" "$MOOCPIPE_ROOT/target/release/moocpipe" "$BENCH"
