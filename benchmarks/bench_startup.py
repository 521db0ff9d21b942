"""Start-up benchmark: what a planner waits for before, and around, any simulation.

Each figure is the best and the median of ``--runs`` runs, next to a baseline measured in the same
run on the same machine:

- ``import dispatch_sim`` in a fresh interpreter, against ``python -c "import numpy"``;
- ``dispatch-sim validate`` on the Nanhu baseline, against ``python -c "import numpy"``;
- ``dispatch-sim route`` (one query, warm caches), against the same baseline;
- a warm ``World`` for the Nanhu baseline (network and router tables from the disk cache) in this
  process, against building the ``Scenario`` alone;
- the README's five-minute tour, every command in order, end to end (``--no-tour`` skips it), against
  as many bare interpreter starts;
- where a warm ``World``'s time goes (network cache, router tables, demand model), from one profile.

Goals (issue 20): import ≤ 0.4 s, validate ≤ 0.5 s, route ≤ 1 s, warm World ≤ 0.5 s, tour ≤ 90 s.

Bytecode: Python caches each module's compiled bytecode (``__pycache__``) on first import, so from a
planner's second command on nothing is compiled. Where ``PYTHONDONTWRITEBYTECODE`` is set (as on the
project's build machines) every command would compile the package's 18,000 lines again (≈ 0.3 s);
the benchmark therefore compiles them once first (``python -m compileall``), the state any ordinary
installation reaches, and measures ``validate`` also without bytecode (``validate, no bytecode``).
``--no-compile`` skips that step.

Ends with one JSON line. Usage: ``python benchmarks/bench_startup.py [--runs 5] [--no-tour] [--no-compile]``
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, emit

SCENARIO = ROOT / "scenarios" / "nanhu_baseline.yaml"
ROUTE = ["--from", "120.7859,30.7611", "--to", "120.8545,30.6611", "--at", "08:00"]


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def wall(cmd: list[str], runs: int, ok=(0, 1)) -> tuple[float, float]:
    """Best and median wall time of ``cmd`` in a fresh process."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True, env=_env(), cwd=ROOT)
        times.append(time.perf_counter() - t)
        if r.returncode not in ok:
            raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr[-500:]}")
    return min(times), statistics.median(times)


def tour_commands(out: Path) -> list[list[str]]:
    """The README's five-minute tour, outputs sent to ``out`` instead of ``out/``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Five-minute tour", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    cmds = []
    for line in block.strip().splitlines():
        line = line.split("  #", 1)[0].strip()
        if not line.startswith("dispatch-sim "):
            continue
        args = []
        for a in shlex.split(line)[1:]:
            if "*" in a:
                args.extend(sorted(glob.glob(str(ROOT / a))))
            else:
                args.append(re.sub(r"^out/", str(out) + "/", a))
        cmds.append(args)
    return cmds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-tour", action="store_true", help="skip the README tour (minutes)")
    ap.add_argument("--no-compile", action="store_true", help="do not compile the package's bytecode first")
    a = ap.parse_args()
    py = sys.executable
    cli = [py, "-m", "dispatch_sim"]
    cold_val = None
    if not a.no_compile:
        if os.environ.get("PYTHONDONTWRITEBYTECODE"):  # what a command costs here without cached bytecode
            for f in (ROOT / "dispatch_sim").rglob("*.pyc"):
                f.unlink()
            cold_val = wall([*cli, "validate", str(SCENARIO)], a.runs)
        subprocess.run([py, "-m", "compileall", "-q", str(ROOT / "dispatch_sim")], capture_output=True, check=True)
    # warm every cache once (network, router tables, numba) so each figure is a warm start
    subprocess.run([*cli, "run", str(SCENARIO), "--replications", "1", "--out", tempfile.mkdtemp()],
                   capture_output=True, env=_env(), cwd=ROOT)
    figures = {"cores": os.cpu_count(), "load_average_1min": os.getloadavg()[0]}
    base_py = wall([py, "-c", "pass"], a.runs)
    base_np = wall([py, "-c", "import numpy"], a.runs)
    imp = wall([py, "-c", "import dispatch_sim"], a.runs)
    val = wall([*cli, "validate", str(SCENARIO)], a.runs)
    route = wall([*cli, "route", str(SCENARIO), *ROUTE], a.runs)
    sys.path.insert(0, str(ROOT))
    from dispatch_sim import World, load_scenario

    sc_t, world_t = [], []
    for _ in range(a.runs):
        t = time.perf_counter()
        sc = load_scenario(SCENARIO)
        sc_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        World(sc)
        world_t.append(time.perf_counter() - t)
    parts = world_parts(sc)
    rows = [("python -c pass (baseline)", base_py, None), ("import numpy (baseline)", base_np, None),
            ("import dispatch_sim", imp, base_np), ("validate nanhu_baseline", val, base_np),
            ("route, one query", route, base_np)]
    if cold_val is not None:
        rows.append(("validate, no bytecode", cold_val, base_np))
    print(f"{'what':<30}{'best s':>9}{'median s':>10}{'× baseline':>12}   (load average {figures['load_average_1min']:.1f} "
          f"on {figures['cores']} cores)")
    for name, (best, med), ref in rows:
        ratio = "" if ref is None else f"{best / ref[0]:.1f}"
        print(f"{name:<30}{best:>9.3f}{med:>10.3f}{ratio:>12}")
    print(f"{'load_scenario (baseline)':<30}{min(sc_t):>9.3f}{statistics.median(sc_t):>10.3f}")
    print(f"{'warm World (in process)':<30}{min(world_t):>9.3f}{statistics.median(world_t):>10.3f}"
          f"{min(world_t) / max(min(sc_t), 1e-9):>12.1f}")
    print("  where a warm World's time goes: " + ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in parts.items()))
    figures.update({"import_s": imp[0], "import_numpy_s": base_np[0], "validate_s": val[0], "route_s": route[0],
                    "python_s": base_py[0], "warm_world_s": min(world_t), "warm_world_median_s": statistics.median(world_t),
                    "load_scenario_s": min(sc_t), "import_vs_numpy": imp[0] / base_np[0],
                    "validate_vs_numpy": val[0] / base_np[0], "route_vs_numpy": route[0] / base_np[0],
                    "warm_world_parts_s": parts, "bytecode_compiled_first": not a.no_compile,
                    "validate_no_bytecode_s": cold_val[0] if cold_val else None})
    if not a.no_tour:
        with tempfile.TemporaryDirectory() as tmp:
            cmds = tour_commands(Path(tmp))
            per = []
            t0 = time.perf_counter()
            for cmd in cmds:
                t = time.perf_counter()
                wall([*cli, *cmd], 1, ok=(0, 1))
                per.append((cmd[0] + " " + Path(cmd[1]).stem, time.perf_counter() - t))
            tour = time.perf_counter() - t0
        floor = len(cmds) * base_np[0]
        print(f"README tour, {len(cmds)} commands    {tour:7.1f} s  (bare interpreter starts for as many: {floor:.1f} s; "
              f"goal ≤ 90 s)")
        for name, s in per:
            print(f"    {name:<40}{s:7.1f} s")
        figures.update(tour_s=tour, tour_commands=len(cmds), tour_floor_s=floor,
                       tour_per_command_s={f"{i}:{n}": s for i, (n, s) in enumerate(per)})
    emit("startup", figures)


def world_parts(sc) -> dict:
    """Seconds of a warm World's steps, measured one by one (network, snapping and bands, router, demand)."""
    from dispatch_sim.world_roads import load_world_roads, scenario_network

    out = {}
    t = time.perf_counter()
    scenario_network(sc)
    out["network_cache"] = time.perf_counter() - t
    t = time.perf_counter()
    roads = load_world_roads(sc)
    out["roads_total"] = time.perf_counter() - t
    from dispatch_sim import World

    t = time.perf_counter()
    World(sc, G=roads.network, router=roads.router)
    out["world_given_roads"] = time.perf_counter() - t
    return out


if __name__ == "__main__":
    main()
