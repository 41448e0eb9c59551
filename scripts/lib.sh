# Shared by the scripts in this folder: source it, don't run it.

# The repository's top folder.
MOOCPIPE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export MOOCPIPE_ROOT

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Rust: moocpipe needs rustc >= 1.92 (gstreamer-rs 0.25). Debian's own rustc
# is older, so a missing or old toolchain is an error with directions.
require_rust() {
  if [ -f "$HOME/.cargo/env" ]; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    echo "moocpipe needs Rust >= 1.92 and cargo. Install them with rustup (https://rustup.rs), then run this again." >&2
    exit 1
  fi
  local v
  v=$(rustc --version | awk '{print $2}')
  if [ "$(printf '%s\n1.92.0\n' "$v" | sort -V | head -1)" != "1.92.0" ]; then
    echo "moocpipe needs Rust >= 1.92; this machine has $v. Run 'rustup update stable'." >&2
    exit 1
  fi
}

# For the benchmark scripts: everything installed, a release build, and the
# git-ignored .bench/ folder in BENCH.
bench_prepare() {
  bash "$MOOCPIPE_ROOT/scripts/install-deps.sh"
  command -v /usr/bin/time >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
  require_rust
  cargo build --release --locked -p moocpipe -q
  BENCH="$MOOCPIPE_ROOT/.bench"
  mkdir -p "$BENCH"
}

# Encodes `frames` frames of videotestsrc `pattern` as ProRes 422 HQ 1080p25
# with 24-bit stereo PCM into `path`, once.
prores_take() { # path frames pattern...
  local path="$1" frames="$2"
  shift 2
  [ -s "$path" ] && return 0
  say "encoding $(basename "$path") ($frames frames of ProRes HQ)"
  gst-launch-1.0 -q -e qtmux name=mux ! filesink location="$path.part" \
    videotestsrc num-buffers="$frames" "$@" ! video/x-raw,width=1920,height=1080,framerate=25/1,format=I422_10LE \
      ! avenc_prores_ks profile=hq threads=0 ! mux.video_0 \
    audiotestsrc num-buffers="$frames" samplesperbuffer=1920 ! audio/x-raw,rate=48000,channels=2,format=S24LE ! mux.audio_0
  mv "$path.part" "$path"
}
