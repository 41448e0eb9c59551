"""Interleaved timing of moocpipe check, ffprobe and mediainfo; peak RSS.

Called by scripts/bench-check.sh with: runs moocpipe take-1g take-10g.
Each round runs every tool once on the 1 GB take, in turn, after one
untimed warm-up round (page cache warm). Wall time by perf_counter, peak
RSS by GNU time. Prints the medians and the ratios as Markdown.
"""

import os
import statistics
import subprocess
import sys
import time


def run(cmd):
    """Runs cmd under /usr/bin/time; returns (wall seconds, peak RSS in MB)."""
    start = time.perf_counter()
    out = subprocess.run(
        ["/usr/bin/time", "-f", "%M"] + cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    wall = time.perf_counter() - start
    rss_kb = int(out.stderr.strip().splitlines()[-1])
    return wall, rss_kb / 1024


def main():
    runs, moocpipe, take1, take10 = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    tools = {
        "moocpipe check": [moocpipe, "check", "--json", take1],
        "ffprobe -count_packets -show_streams": ["ffprobe", "-v", "error", "-count_packets", "-show_streams", take1],
        "mediainfo --ParseSpeed=1": ["mediainfo", "--ParseSpeed=1", take1],
    }
    # The check must agree with itself: a failed run would time an error path.
    code = subprocess.run([moocpipe, "check", "--json", take1], stdout=subprocess.DEVNULL).returncode
    if code not in (0, 1):
        sys.exit(f"moocpipe check could not read {take1} (exit {code})")
    for cmd in tools.values():  # warm-up round: page cache and GStreamer registry
        run(cmd)
    walls = {name: [] for name in tools}
    rss = {name: [] for name in tools}
    for _ in range(runs):
        for name, cmd in tools.items():
            w, r = run(cmd)
            walls[name].append(w)
            rss[name].append(r)
    base = statistics.median(walls["moocpipe check"])
    size1 = os.path.getsize(take1) / 1e9
    print(f"1 GB take: {take1} ({size1:.2f} GB), {runs} interleaved runs each, warm cache\n")
    print("| tool | median wall (s) | min–max (s) | peak RSS (MB) | moocpipe ÷ tool |")
    print("|---|---|---|---|---|")
    for name in tools:
        med = statistics.median(walls[name])
        print(
            f"| {name} | {med:.3f} | {min(walls[name]):.3f}–{max(walls[name]):.3f} "
            f"| {max(rss[name]):.1f} | {base / med:.2f}× |"
        )
    _, rss10 = run([moocpipe, "check", "--json", take10])
    size10 = os.path.getsize(take10) / 1e9
    print(f"\nPeak RSS of moocpipe check: {max(rss['moocpipe check']):.1f} MB on {size1:.2f} GB, "
          f"{rss10:.1f} MB on {size10:.2f} GB ({take10}).")


if __name__ == "__main__":
    main()
