"""Driver of scripts/bench-caption.sh: moocpipe caption against faster-whisper,
same weights, beam, threads, language and audio; wall time and WER."""

import pathlib
import statistics
import subprocess
import sys
import time

runs = int(sys.argv[1])
moocpipe, fw_python, ct2, bench = sys.argv[2], sys.argv[3], pathlib.Path(sys.argv[4]), pathlib.Path(sys.argv[5])
lecture, lecture_text, jfk = sys.argv[6], pathlib.Path(sys.argv[7]).read_text(), sys.argv[8]
JFK_TEXT = ("And so my fellow Americans, ask not what your country can do for you, "
            "ask what you can do for your country.")

FW = """
import sys
from faster_whisper import WhisperModel
model = WhisperModel(sys.argv[1], device="cpu", compute_type="default", cpu_threads=2)
segments, _ = model.transcribe(sys.argv[2], language="en", beam_size=5)
print(" ".join(s.text.strip() for s in segments))
"""


def words(text):
    out = []
    for w in text.split():
        w = "".join(c for c in w if c.isalnum()).lower()
        if w:
            out.append(w)
    return out


def wer(reference, hypothesis):
    r, h = words(reference), words(hypothesis)
    prev = list(range(len(h) + 1))
    for i, rw in enumerate(r):
        cur = [i + 1] * (len(h) + 1)
        for j, hw in enumerate(h):
            cur[j + 1] = min(prev[j] + (rw != hw), prev[j + 1] + 1, cur[j] + 1)
        prev = cur
    return prev[-1] / max(len(r), 1)


PEAK_RSS = {}


def timed(cmd, env=None):
    """Runs cmd under GNU time: (wall seconds, stdout); peak RSS kept by tool."""
    start = time.perf_counter()
    out = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    rss = int(out.stderr.strip().splitlines()[-1]) / 1024
    PEAK_RSS[cmd[0]] = max(PEAK_RSS.get(cmd[0], 0), rss)
    return wall, out.stdout


def ours(model, audio):
    out = bench / "caption-out"
    wall, _ = timed([moocpipe, "caption", "--json", "--model", model, "--language", "en",
                     "--out", str(out), audio])
    return wall, (out / (pathlib.Path(audio).stem + ".txt")).read_text()


def theirs(model, audio):
    import os
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="2")
    return timed([fw_python, "-c", FW, str(ct2 / model), audio], env)


def seconds_of(wav):
    import wave
    with wave.open(wav) as w:
        return w.getnframes() / w.getframerate()


print(f"{runs} interleaved runs each; beam 5, 2 threads, language en; wall time includes loading the model.\n")
print("| audio | model | tool | median wall (s) | min–max (s) | × realtime | WER | peak RSS (MB) | moocpipe ÷ tool |")
print("|---|---|---|---|---|---|---|---|---|")
for label, audio, reference in (("lecture, espeak-ng", lecture, lecture_text), ("jfk.wav, real speech", jfk, JFK_TEXT)):
    length = seconds_of(audio)
    for model in ("tiny.en", "base"):
        tools = {"moocpipe caption": ours, "faster-whisper 1.1.1": theirs}
        for fn in tools.values():  # warm-up (and the page cache)
            fn(model, audio)
        results = {name: [] for name in tools}
        texts, rss = {}, {}
        for _ in range(runs):
            for name, fn in tools.items():
                PEAK_RSS.clear()
                wall, text = fn(model, audio)
                results[name].append(wall)
                texts[name] = text
                rss[name] = max(rss.get(name, 0), *PEAK_RSS.values())
        ours_median = statistics.median(results["moocpipe caption"])
        for name, walls in results.items():
            med = statistics.median(walls)
            print(f"| {label} ({length:.0f} s) | {model} | {name} | {med:.2f} | {min(walls):.2f}–{max(walls):.2f} "
                  f"| {length / med:.1f}× | {wer(reference, texts[name]) * 100:.1f} % | {rss[name]:.0f} "
                  f"| {ours_median / med:.2f}× |")

# Memory as the audio gets longer: the same lecture four times over (about
# 12 minutes), tiny.en, once.
long = bench / "lecture-speech-x4.wav"
if not long.exists():
    import wave
    with wave.open(lecture) as src:
        params, frames = src.getparams(), src.readframes(src.getnframes())
    with wave.open(str(long), "wb") as dst:
        dst.setparams(params)
        for _ in range(4):
            dst.writeframes(frames)
for audio in (lecture, str(long)):
    PEAK_RSS.clear()
    wall, _ = ours("tiny.en", audio)
    print(f"\nmoocpipe caption, tiny.en, {seconds_of(audio):.0f} s of audio: {wall:.1f} s wall, "
          f"peak RSS {max(PEAK_RSS.values()):.0f} MB")
