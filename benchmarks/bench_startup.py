"""Start-up benchmark: what a planner waits for before any simulation runs.

Measures, each as the best and median of several runs, against a baseline measured in the same run:

- ``import dispatch_sim`` in a fresh interpreter, against ``python -c "import numpy"``;
- ``dispatch-sim validate`` on the Nanhu baseline, against the bare interpreter start;
- ``dispatch-sim route`` (one query, warm caches), against the same baseline;
- a warm ``World`` for the Nanhu baseline (graph and router from the disk cache) in this process,
  against building a ``Scenario`` alone.

Goals (issue 20): import ≤ 0.4 s, validate ≤ 0.5 s, route ≤ 1 s, warm World ≤ 0.5 s. Ends with one
JSON line. Usage: ``python benchmarks/bench_startup.py [--runs 5]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from _common import ROOT, emit

SCENARIO = ROOT / "scenarios" / "nanhu_baseline.yaml"


def wall(cmd: list[str], runs: int) -> tuple[float, float]:
    times = []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for _ in range(runs):
        t = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
        times.append(time.perf_counter() - t)
        if r.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr[-500:]}")
    return min(times), statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    py = sys.executable
    cli = [py, "-m", "dispatch_sim"]
    # warm every cache once (graph, router matrices, numba) so each figure is a warm start
    subprocess.run([*cli, "route", str(SCENARIO), "--from", "120.7859,30.7611", "--to", "120.8545,30.6611"],
                   capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    figures = {"cores": os.cpu_count()}
    base_py = wall([py, "-c", "pass"], a.runs)
    base_np = wall([py, "-c", "import numpy"], a.runs)
    imp = wall([py, "-c", "import dispatch_sim"], a.runs)
    val = wall([*cli, "validate", str(SCENARIO)], a.runs)
    route = wall([*cli, "route", str(SCENARIO), "--from", "120.7859,30.7611", "--to", "120.8545,30.6611", "--at", "08:00"],
                 a.runs)
    sys.path.insert(0, str(ROOT))
    from dispatch_sim import World, load_scenario

    sc_t = []
    world_t = []
    for _ in range(a.runs):
        t = time.perf_counter()
        sc = load_scenario(SCENARIO)
        sc_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        World(sc)
        world_t.append(time.perf_counter() - t)
    rows = [("python -c pass (baseline)", base_py, None), ("import numpy (baseline)", base_np, None),
            ("import dispatch_sim", imp, base_np), ("validate nanhu_baseline", val, base_py),
            ("route, one query", route, base_py)]
    print(f"{'what':<28}{'best s':>9}{'median s':>10}{'× baseline':>12}")
    for name, (best, med), ref in rows:
        ratio = "" if ref is None else f"{best / ref[0]:.1f}"
        print(f"{name:<28}{best:>9.3f}{med:>10.3f}{ratio:>12}")
    print(f"{'load_scenario (baseline)':<28}{min(sc_t):>9.3f}{statistics.median(sc_t):>10.3f}")
    print(f"{'warm World (in process)':<28}{min(world_t):>9.3f}{statistics.median(world_t):>10.3f}"
          f"{min(world_t) / max(min(sc_t), 1e-9):>12.1f}")
    figures.update({"import_s": imp[0], "import_numpy_s": base_np[0], "validate_s": val[0], "route_s": route[0],
                    "python_s": base_py[0], "warm_world_s": min(world_t), "load_scenario_s": min(sc_t),
                    "import_vs_numpy": imp[0] / base_np[0]})
    emit("startup", figures)


if __name__ == "__main__":
    main()
