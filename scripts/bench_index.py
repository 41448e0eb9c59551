"""Checking a take from its index: wall time against ffprobe, bytes read,
peak memory on a 3-hour take, and a 20 GB take read from S3 (Garage).

Called by scripts/bench-index.sh with:
    runs moocpipe take-1g take-3h [s3://bucket/key of the 20 GB take]
Each round runs every tool once on the 1 GB take, in turn, after one
untimed warm-up round (page cache warm). Prints Markdown for
docs/BENCHMARKS.md.
"""

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

from benchlib import interleaved, run, table


def bytes_read(cmd, path):
    """Bytes the command read from `path` (every open of it, every thread),
    counted by strace from read/pread64 results."""
    with tempfile.NamedTemporaryFile(suffix=".strace") as trace:
        subprocess.run(
            ["strace", "-f", "-qq", "-s", "0", "-e", "trace=openat,read,pread64,close", "-o", trace.name]
            + cmd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        fds, pending, total = set(), {}, 0
        opened = re.compile(r'^(\d+) +openat\(.*"' + re.escape(path) + r'".*\) = (\d+)')
        call = re.compile(r"^(\d+) +(read|pread64|close)\((\d+),")
        resumed = re.compile(r"^(\d+) +<\.\.\. (read|pread64|close) resumed>.*= (-?\d+)")
        result = re.compile(r"= (-?\d+)")
        for line in open(trace.name, encoding="utf-8", errors="replace"):
            m = opened.match(line)
            if m:
                fds.add(m.group(2))
                continue
            m = call.match(line)
            if m:
                pid, name, fd = m.groups()
                if fd not in fds:
                    continue
                if line.rstrip().endswith("<unfinished ...>"):
                    pending[pid] = (name, fd)
                    continue
                r = result.search(line)
                if name == "close":
                    fds.discard(fd)
                elif r and int(r.group(1)) > 0:
                    total += int(r.group(1))
                continue
            m = resumed.match(line)
            if m and m.group(1) in pending:
                name, fd = pending.pop(m.group(1))
                if name == "close":
                    fds.discard(fd)
                elif int(m.group(3)) > 0:
                    total += int(m.group(3))
        return total


def record(cmd):
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if out.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.splitlines()[0]), out.stderr


def main():
    runs, moocpipe, take1, take3h = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    s3 = sys.argv[5] if len(sys.argv) > 5 else None
    size1 = os.path.getsize(take1)
    rec, _ = record([moocpipe, "check", "--json", take1])
    if rec.get("measured_from") != "index":
        sys.exit(f"{take1} was not measured from its index: {rec.get('measured_from')}")

    tools = {
        "moocpipe check": [moocpipe, "check", "--json", take1],
        "ffprobe -count_packets -show_streams": ["ffprobe", "-v", "error", "-count_packets", "-show_streams", take1],
        "ffprobe -show_streams": ["ffprobe", "-v", "error", "-show_streams", take1],
        "moocpipe check --full": [moocpipe, "check", "--json", "--full", take1],
    }
    results = interleaved(tools, runs)
    print(f"1 GB take: {take1} ({size1 / 1e9:.2f} GB, {rec['video']['frames']} frames), "
          f"{runs} interleaved runs each, warm cache\n")
    print(table(results, "moocpipe check"))

    print("\nBytes read from the take (strace: read/pread64 on the file, every thread):\n")
    print("| command | bytes read | share of the take |")
    print("|---|---|---|")
    for name in ["moocpipe check", "moocpipe check --full", "ffprobe -show_streams"]:
        n = bytes_read(tools[name], take1)
        print(f"| {name} | {n:,} | {100 * n / size1:.4f} % |")

    size3h = os.path.getsize(take3h)
    rec3h, _ = record([moocpipe, "check", "--json", take3h])
    long_runs = [run([moocpipe, "check", "--json", take3h]) for _ in range(3)]
    print(f"\n3-hour take: {take3h} ({size3h / 1e9:.1f} GB sparse, {rec3h['video']['frames']} frames, "
          f"{rec3h['duration_seconds']:.0f} s, measured from {rec3h.get('measured_from')}, verdict {rec3h['verdict']}):")
    print(f"peak RSS {max(s.rss for s in long_runs):.1f} MB, "
          f"median wall {statistics.median(s.wall for s in long_runs):.3f} s over {len(long_runs)} runs; "
          f"bytes read {bytes_read([moocpipe, 'check', '--json', take3h], take3h):,}.")
    short = max(s.rss for s in results["moocpipe check"])
    print(f"(1 GB take: peak RSS {short:.1f} MB.)")

    if s3:
        env = dict(os.environ, MOOCPIPE_LOG="info", NO_COLOR="1")
        rec_s3, _ = record([moocpipe, "check", "--json", s3])
        walls = [run([moocpipe, "check", "--json", s3]).wall for _ in range(runs)]
        out = subprocess.run([moocpipe, "check", "--json", s3], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        m = re.search(r"size=(\d+) bytes_read=(\d+)", out.stderr)
        size, read = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
        print(f"\n20 GB take on Garage: {s3} ({size / 1e9:.1f} GB, {rec_s3['video']['frames']} frames, "
              f"measured from {rec_s3.get('measured_from')}, verdict {rec_s3['verdict']}):")
        print(f"median wall {statistics.median(walls):.3f} s (min {min(walls):.3f}, max {max(walls):.3f}) "
              f"over {runs} runs of `moocpipe check s3://…`; {read:,} bytes fetched by ranged GETs "
              f"({100 * read / max(size, 1):.4f} %).")


if __name__ == "__main__":
    main()
