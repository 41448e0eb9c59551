"""Shared by the benchmark drivers: timing commands and printing ratios."""

import statistics
import subprocess
import time
from typing import NamedTuple


class Sample(NamedTuple):
    """One run: wall seconds, peak RSS in MB, CPU seconds (user + system)."""
    wall: float
    rss: float
    cpu: float


def run(cmd, check=True):
    """Runs cmd under GNU time; returns a Sample."""
    start = time.perf_counter()
    out = subprocess.run(
        ["/usr/bin/time", "-f", "%M %U %S"] + cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    wall = time.perf_counter() - start
    if check and out.returncode not in (0, 1):
        raise SystemExit(f"{cmd[0]} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    rss_kb, user, system = out.stderr.strip().splitlines()[-1].split()
    return Sample(wall, int(rss_kb) / 1024, float(user) + float(system))


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
    """Markdown table of medians, ranges, peak RSS, CPU time and ratios
    against `ours`. CPU time (user + system, every thread) is shown as well
    as wall time: on a loaded machine it moves less than wall time does."""
    base = statistics.median(s.wall for s in results[ours])
    base_cpu = statistics.median(s.cpu for s in results[ours])
    lines = [
        "| tool | median wall (s) | min–max (s) | median CPU (s) | peak RSS (MB) | moocpipe ÷ tool, wall | CPU |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, samples in results.items():
        walls = [s.wall for s in samples]
        med = statistics.median(walls)
        cpu = statistics.median(s.cpu for s in samples)
        # GNU time counts CPU in 10 ms ticks: a run under one tick is 0.
        cpu_ratio = f"{base_cpu / cpu:.2f}×" if cpu > 0 and base_cpu > 0 else "—"
        lines.append(
            f"| {name} | {med:.3f} | {min(walls):.3f}–{max(walls):.3f} | {cpu:.2f} "
            f"| {max(s.rss for s in samples):.1f} | {base / med:.2f}× | {cpu_ratio} |"
        )
    return "\n".join(lines)
