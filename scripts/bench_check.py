"""Interleaved timing of moocpipe check, ffprobe and mediainfo; peak RSS.

Called by scripts/bench-check.sh with: runs moocpipe take-1g take-10g.
Each round runs every tool once on the 1 GB take, in turn, after one
untimed warm-up round (page cache warm). Prints medians and ratios.
"""

import os
import subprocess
import sys

from benchlib import interleaved, run, table


def main():
    runs, moocpipe, take1, take10 = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    code = subprocess.run([moocpipe, "check", "--json", take1], stdout=subprocess.DEVNULL).returncode
    if code not in (0, 1):
        sys.exit(f"moocpipe check could not read {take1} (exit {code})")
    tools = {
        "moocpipe check": [moocpipe, "check", "--json", take1],
        "ffprobe -count_packets -show_streams": ["ffprobe", "-v", "error", "-count_packets", "-show_streams", take1],
        "mediainfo --ParseSpeed=1": ["mediainfo", "--ParseSpeed=1", take1],
    }
    results = interleaved(tools, runs)
    size1 = os.path.getsize(take1) / 1e9
    print(f"1 GB take: {take1} ({size1:.2f} GB), {runs} interleaved runs each, warm cache\n")
    print(table(results, "moocpipe check"))
    rss1 = max(s.rss for s in results["moocpipe check"])
    rss10 = run([moocpipe, "check", "--json", take10]).rss
    size10 = os.path.getsize(take10) / 1e9
    print(f"\nPeak RSS of moocpipe check: {rss1:.1f} MB on {size1:.2f} GB, {rss10:.1f} MB on {size10:.2f} GB ({take10}).")


if __name__ == "__main__":
    main()
