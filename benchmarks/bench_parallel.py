"""Parallel benchmark: speed-up of replications on all local cores over serial, overhead per task,
and (with --prefecture) one simulated year on a prefecture-size stand-in with ~70 teams.

Like against like: both sides are warmed first (one untimed serial run and one untimed pool run, so
first-use costs such as loading compiled kernels, filling the router's caches and the first fork are
paid before any timing), then each side is timed ``--runs`` times, alternating, and the best run of
each counts. The speed-up cannot honestly exceed the number of cores, which is printed next to it.

Usage: python benchmarks/bench_parallel.py [--reps 20] [--days 28] [--runs 3] [--prefecture]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from _common import NANHU_BBOX, PREFECTURE_BBOX, TEAMS, emit


def scenario(days, reps, per_day=60, bbox=NANHU_BBOX, teams=None, nodes=8000):
    from dispatch_sim import scenario_from_dict

    teams = teams or [{"name": n, "base": {"lon": x, "lat": y}, "crews": 2} for n, x, y in TEAMS]
    return scenario_from_dict({
        "name": "bench parallel", "run": {"horizon_days": days, "warmup_days": 1, "replications": reps, "seed": 3},
        "graph": {"source": "stand-in", "bbox": list(bbox), "standin_nodes": nodes, "standin_seed": 2,
                  "urban_centres": [{"lon": 120.75, "lat": 30.7522}]},
        "teams": teams, "demand": {"reports_per_day": per_day}, "dispatch": {"policy": "home_then_mutual_aid"}})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--days", type=float, default=28)
    ap.add_argument("--runs", type=int, default=3, help="timed runs per side; the best counts")
    ap.add_argument("--prefecture", action="store_true")
    a = ap.parse_args()
    from dispatch_sim import World
    from dispatch_sim.experiments import run_scenario, run_tasks

    world = World(scenario(a.days, a.reps))
    workers = os.cpu_count() or 1
    # warm both sides: the first run of each pays one-off costs the other side would not
    run_scenario(world, workers=1, replications=min(2, a.reps))
    run_scenario(world, workers=workers, replications=min(2 * workers, a.reps))
    serial_t, par_t = [], []
    for _ in range(max(1, a.runs)):
        t = time.perf_counter()
        serial = run_scenario(world, workers=1)
        serial_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        par = run_scenario(world, workers=workers)
        par_t.append(time.perf_counter() - t)
    t_serial, t_par = min(serial_t), min(par_t)
    same = serial.incidents.equals(par.incidents)
    # overhead per task: tiny tasks (1 simulated hour) through the pool versus in-process
    tiny_sc = scenario(a.days, 1)
    tiny_sc = tiny_sc.with_overrides(horizon_days=1 / 24, warmup_days=0)
    tiny = World(tiny_sc, G=world.network, router=world.router)
    tasks = [(r, 1, 1.0, None) for r in range(40)]
    run_tasks(tiny, tasks[:2], workers=1)
    t = time.perf_counter()
    run_tasks(tiny, tasks, workers=1)
    t_tiny_serial = time.perf_counter() - t
    t = time.perf_counter()
    run_tasks(tiny, tasks, workers=workers)
    t_tiny_par = time.perf_counter() - t
    overhead = max(0.0, (t_tiny_par * workers - t_tiny_serial) / len(tasks))
    print(f"{a.reps} replications × {a.days:g} days on {world.G.number_of_nodes()} nodes")
    print(f"serial                 {t_serial:7.2f} s   best of {len(serial_t)} (all: {', '.join(f'{x:.2f}' for x in serial_t)})")
    print(f"{workers} workers              {t_par:7.2f} s   best of {len(par_t)} (all: {', '.join(f'{x:.2f}' for x in par_t)})")
    print(f"speed-up               {t_serial / t_par:7.2f}x on {os.cpu_count()} cores (at most {workers}x; "
          f"target >= 1.7x on 2 cores); load average {os.getloadavg()[0]:.1f} (other work on the cores lowers it)")
    print(f"identical to serial    {same}")
    print(f"overhead per task      {overhead * 1e3:7.1f} ms (pool start-up included)")
    figures = {"reps": a.reps, "days": a.days, "workers": workers, "cores": os.cpu_count(), "runs": len(serial_t), "load_average_1min": os.getloadavg()[0],
               "serial_runs_s": serial_t, "parallel_runs_s": par_t, "serial_s": t_serial, "parallel_s": t_par,
               "speedup": t_serial / t_par, "identical": bool(same), "overhead_per_task_ms": overhead * 1e3}
    if a.prefecture:
        rng = np.random.default_rng(0)
        w, s, e, n = PREFECTURE_BBOX
        teams = [{"name": f"T{i:02d}", "base": {"lon": float(rng.uniform(w + 0.03, e - 0.03)),
                                                "lat": float(rng.uniform(s + 0.03, n - 0.03))}, "crews": 2} for i in range(70)]
        t = time.perf_counter()
        big = World(scenario(365, 1, per_day=1500, bbox=PREFECTURE_BBOX, teams=teams, nodes=110000))
        setup = time.perf_counter() - t
        t = time.perf_counter()
        res = run_scenario(big, workers=1)
        wall = time.perf_counter() - t
        print(f"prefecture: {big.G.number_of_nodes()} nodes, 70 teams, one year, {res.summary['reports']['total']} reports: "
              f"set-up {setup:.1f} s, simulation+summary {wall:.1f} s")
        figures.update(prefecture_nodes=big.G.number_of_nodes(), prefecture_setup_s=setup, prefecture_year_s=wall,
                       prefecture_reports=res.summary["reports"]["total"])
    emit("parallel", figures)


if __name__ == "__main__":
    main()
