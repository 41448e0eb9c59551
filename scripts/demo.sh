#!/usr/bin/env bash
# The main job on the embedded default (no broker; a local folder as storage):
# sets up a fresh Debian machine, builds moocpipe, generates a compliant and a
# non-compliant demo take with GStreamer test sources, and checks both against
# the raw-footage spec. Idempotent: a second run reuses what the first made.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$MOOCPIPE_ROOT"

say "system packages (GStreamer 1.22, plugins, ffmpeg, mediainfo)"
bash scripts/install-deps.sh
require_rust

say "building moocpipe (release)"
cargo build --release --locked -p moocpipe
MOOCPIPE="$MOOCPIPE_ROOT/target/release/moocpipe"

DEMO="${MOOCPIPE_DEMO_DIR:-$MOOCPIPE_ROOT/demo-data}/takes"
mkdir -p "$DEMO"

# A take that meets the spec: ProRes 422 HQ 1080p25, 48 kHz / 24-bit stereo PCM.
if [ ! -s "$DEMO/lecture-compliant.mov" ]; then
  say "generating $DEMO/lecture-compliant.mov"
  gst-launch-1.0 -q -e qtmux name=mux ! filesink location="$DEMO/lecture-compliant.mov.part" \
    videotestsrc num-buffers=75 pattern=smpte ! video/x-raw,width=1920,height=1080,framerate=25/1,format=I422_10LE \
      ! avenc_prores_ks profile=hq threads=0 ! mux.video_0 \
    audiotestsrc num-buffers=75 samplesperbuffer=1920 wave=sine freq=440 \
      ! audio/x-raw,rate=48000,channels=2,format=S24LE ! mux.audio_0
  mv "$DEMO/lecture-compliant.mov.part" "$DEMO/lecture-compliant.mov"
fi

# A take that does not: long-GOP H.264 720p, 44.1 kHz / 16-bit mono.
if [ ! -s "$DEMO/lecture-phone.mov" ]; then
  say "generating $DEMO/lecture-phone.mov"
  gst-launch-1.0 -q -e qtmux name=mux ! filesink location="$DEMO/lecture-phone.mov.part" \
    videotestsrc num-buffers=75 pattern=ball ! video/x-raw,width=1280,height=720,framerate=25/1,format=I420 \
      ! x264enc key-int-max=50 bitrate=4000 speed-preset=ultrafast ! mux.video_0 \
    audiotestsrc num-buffers=75 samplesperbuffer=1764 \
      ! audio/x-raw,rate=44100,channels=1,format=S16LE ! mux.audio_0
  mv "$DEMO/lecture-phone.mov.part" "$DEMO/lecture-phone.mov"
fi

say "moocpipe check $DEMO/*.mov"
set +e
"$MOOCPIPE" check "$DEMO/lecture-compliant.mov" "$DEMO/lecture-phone.mov"
code=$?
set -e
# Exit code 1 is the expected outcome here: one take fails the spec.
if [ "$code" -ne 1 ]; then
  echo "unexpected exit code $code from moocpipe check (expected 1: one take fails)" >&2
  exit 1
fi
say "done: lecture-compliant.mov passes, lecture-phone.mov fails with the reasons above."
say "try: $MOOCPIPE check --json $DEMO/lecture-phone.mov"
