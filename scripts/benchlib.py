"""Shared by the benchmark drivers: timing commands and printing ratios."""

import statistics
import subprocess
import time


def run(cmd, check=True):
    """Runs cmd under GNU time; returns (wall seconds, peak RSS in MB)."""
    start = time.perf_counter()
    out = subprocess.run(
        ["/usr/bin/time", "-f", "%M"] + cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    wall = time.perf_counter() - start
    if check and out.returncode not in (0, 1):
        raise SystemExit(f"{cmd[0]} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    rss_kb = int(out.stderr.strip().splitlines()[-1])
    return wall, rss_kb / 1024


def interleaved(tools, runs, warmup=True):
    """Runs every tool once per round, in turn; returns {name: [(wall, rss)]}."""
    if warmup:
        for cmd in tools.values():
            run(cmd)
    results = {name: [] for name in tools}
    for _ in range(runs):
        for name, cmd in tools.items():
            results[name].append(run(cmd))
    return results


def table(results, ours):
    """Markdown table of medians, ranges, peak RSS and ratios against `ours`."""
    base = statistics.median(w for w, _ in results[ours])
    lines = [
        "| tool | median wall (s) | min–max (s) | peak RSS (MB) | moocpipe ÷ tool |",
        "|---|---|---|---|---|",
    ]
    for name, samples in results.items():
        walls = [w for w, _ in samples]
        med = statistics.median(walls)
        lines.append(
            f"| {name} | {med:.3f} | {min(walls):.3f}–{max(walls):.3f} "
            f"| {max(r for _, r in samples):.1f} | {base / med:.2f}× |"
        )
    return "\n".join(lines)
