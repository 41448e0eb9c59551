#!/usr/bin/env bash
# Benchmark of checking a take from its index (issue 15): `moocpipe check`
# against `ffprobe -count_packets` and plain `ffprobe -show_streams` on a
# 1 GB ProRes take, interleaved runs, warm page cache; bytes read (strace);
# peak RSS on a 3-hour take; and a 20 GB take on Garage checked by
# `moocpipe check s3://…` (the probe stage's ranged reads). Prints Markdown
# for docs/BENCHMARKS.md.
#
# The 1 GB take is 4 s of ProRes 422 HQ noise looped without re-encoding
# (shared with scripts/bench-check.sh); the 3-hour and the 20 GB takes are
# sparse MOVs of the same structure (services/container/examples/
# sparse_take.rs: a real first frame, every frame in the tables, the rest
# of mdat a hole). Media go to .bench/ (git-ignored).
#
#   scripts/bench-index.sh [runs]      (default 7; BENCH_INDEX_S3=0 skips Garage)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$MOOCPIPE_ROOT"
RUNS="${1:-7}"

bench_prepare
command -v strace >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq strace >/dev/null; }
cargo build --release --locked -q -p moocpipe-container --example sparse_take
prores_take "$BENCH/seed.mov" 100 pattern=snow
if [ ! -s "$BENCH/take-1g.mov" ]; then
  say "making take-1g.mov"
  ffmpeg -v error -y -stream_loop 10 -i "$BENCH/seed.mov" -c copy "$BENCH/take-1g.part.mov"
  mv "$BENCH/take-1g.part.mov" "$BENCH/take-1g.mov"
fi
sparse() { # name seconds
  [ -s "$BENCH/$1" ] || target/release/examples/sparse_take "$BENCH/seed.mov" "$BENCH/$1" "$2" >&2
}
sparse take-3h-sparse.mov 10800   # 270 000 frames, ~270 GB apparent size
sparse take-20g-sparse.mov 810    # 20 250 frames, ~20 GB

S3_URI=
if [ "${BENCH_INDEX_S3:-1}" != 0 ]; then
  bash scripts/garage.sh install
  eval "$(bash scripts/garage.sh start "$BENCH/garage")"
  # Garage takes no streaming checksums (docs/ARCHITECTURE.md, "S3 as Garage taught us").
  export AWS_ACCESS_KEY_ID="$MOOCPIPE_S3_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$MOOCPIPE_S3_SECRET_ACCESS_KEY" \
    AWS_DEFAULT_REGION="$MOOCPIPE_S3_REGION" AWS_REQUEST_CHECKSUM_CALCULATION=when_required \
    AWS_RESPONSE_CHECKSUM_VALIDATION=when_required
  key=bench/take-20g-sparse.mov
  size=$(stat -c %s "$BENCH/take-20g-sparse.mov")
  have=$(aws --endpoint-url "$MOOCPIPE_S3_ENDPOINT" s3api head-object --bucket "$MOOCPIPE_S3_BUCKET" --key "$key" \
    --query ContentLength --output text 2>/dev/null || true)
  if [ "$have" != "$size" ]; then
    say "uploading the 20 GB take to Garage (zeros: Garage stores one block of them)"
    aws --endpoint-url "$MOOCPIPE_S3_ENDPOINT" s3 cp --only-show-errors "$BENCH/take-20g-sparse.mov" "s3://$MOOCPIPE_S3_BUCKET/$key"
  fi
  S3_URI="s3://$MOOCPIPE_S3_BUCKET/$key"
fi

exec python3 scripts/bench_index.py "$RUNS" "$MOOCPIPE_ROOT/target/release/moocpipe" \
  "$BENCH/take-1g.mov" "$BENCH/take-3h-sparse.mov" $S3_URI
