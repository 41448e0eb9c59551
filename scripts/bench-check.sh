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

bash scripts/install-deps.sh
command -v /usr/bin/time >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
require_rust
cargo build --release --locked -p moocpipe -q

BENCH="$MOOCPIPE_ROOT/.bench"
mkdir -p "$BENCH"
# 100 frames (4 s) of noise in ProRes 422 HQ: ~197 Mbit/s, near a real studio
# take's 176-220 Mbit/s; looped without re-encoding to reach the sizes.
if [ ! -s "$BENCH/seed.mov" ]; then
  say "encoding the 4 s ProRes HQ seed (about a minute)"
  gst-launch-1.0 -q -e qtmux name=mux ! filesink location="$BENCH/seed.mov.part" \
    videotestsrc num-buffers=100 pattern=snow ! video/x-raw,width=1920,height=1080,framerate=25/1,format=I422_10LE \
      ! avenc_prores_ks profile=hq threads=0 ! mux.video_0 \
    audiotestsrc num-buffers=100 samplesperbuffer=1920 ! audio/x-raw,rate=48000,channels=2,format=S24LE ! mux.audio_0
  mv "$BENCH/seed.mov.part" "$BENCH/seed.mov"
fi
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
