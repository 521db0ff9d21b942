"""The README tour, command by command, against another checkout of the project, in turn.

A tour takes a minute or two and this machine's speed drifts by tens of percent over minutes, so two
tours run one after the other do not compare. Here each command runs in this checkout (A) and in the
other (B) back to back, the order alternating, and the ratio is taken command by command and for the
whole tour. Both checkouts get their bytecode compiled first and are warmed by one run of the first
simulating command (caches: network, router tables, compiled kernels).

Usage::

    git worktree add /tmp/base <revision>          # the code to compare against
    python benchmarks/bench_tour_pair.py --base /tmp/base

Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, emit
from bench_startup import tour_commands


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True, help="the other checkout (B), e.g. a git worktree of an older revision")
    a = ap.parse_args()
    trees = {"A": ROOT, "B": Path(a.base).resolve()}
    py = sys.executable
    cmds = {}
    for k, tree in trees.items():
        subprocess.run([py, "-m", "compileall", "-q", str(tree / "dispatch_sim")], capture_output=True, check=True)
        cmds[k] = tour_commands(Path(tempfile.mkdtemp()))
        warm = next(c for c in cmds[k] if c[0] == "run")
        subprocess.run([py, "-m", "dispatch_sim", *warm], capture_output=True, cwd=tree,
                       env={**os.environ, "PYTHONPATH": str(tree)})
    total = {"A": 0.0, "B": 0.0}
    rows = []
    print(f"{'command':<46}{'A s':>7}{'B s':>7}{'A/B':>7}   (A {trees['A']}, B {trees['B']}, {os.cpu_count()} cores)")
    for i in range(len(cmds["A"])):
        t: dict[str, float] = {}
        for k in ("A", "B") if i % 2 == 0 else ("B", "A"):
            start = time.perf_counter()
            subprocess.run([py, "-m", "dispatch_sim", *cmds[k][i]], capture_output=True, cwd=trees[k],
                           env={**os.environ, "PYTHONPATH": str(trees[k])})
            t[k] = time.perf_counter() - start
            total[k] += t[k]
        name = f"{cmds['A'][i][0]} {Path(cmds['A'][i][1]).stem}"
        rows.append((name, t["A"], t["B"]))
        print(f"{name[:46]:<46}{t['A']:>7.1f}{t['B']:>7.1f}{t['A'] / t['B']:>7.2f}")
    print(f"{'whole tour':<46}{total['A']:>7.1f}{total['B']:>7.1f}{total['A'] / total['B']:>7.2f}")
    per = {f"{i}:{n}": [x, y] for i, (n, x, y) in enumerate(rows)}
    emit("tour_pair", {"cores": os.cpu_count(), "tour_a_s": total["A"], "tour_b_s": total["B"],
                       "ratio_a_to_b": total["A"] / total["B"], "per_command_s": per})


if __name__ == "__main__":
    main()
