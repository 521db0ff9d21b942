"""Simulator benchmark: one simulated year of a Nanhu-sized scenario against a bare SimPy loop.

~300 reports a day (≈110k a year), 11 teams, on a ~20k-node stand-in. Prints wall time, reports per
second, SimPy events, and the per-report cost as a multiple of one bare SimPy timeout measured in the
same process; then the same year on the Python model (the baseline the compiled dispatcher must
match decision for decision) and one JSON line.

Set-up is measured from a warm cache, as a planner meets it from the second command on: a child
process builds the network and router caches first (its memory is not this process's), then this
process builds the ``World`` from them. ``--cold`` measures set-up without any cache instead. Memory:
resident size after each phase and the peak, so it is clear where it goes.

``--prefecture``: one simulated year on a prefecture-size stand-in (~106k nodes, 70 teams, ~1500
reports a day), set-up from a warm cache included, with the compiled dispatcher; the readable
dispatcher is compared on the first ``--check-days`` days (decisions must be identical).

Usage: python benchmarks/bench_sim.py [--days N] [--policy P] [--no-python-model] [--cold] [--prefecture]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import simpy

from _common import NANHU_BBOX, PREFECTURE_BBOX, TEAMS, emit, peak_rss_mb, rss_mb, rss_parts_mb, timeit


def _touch(router) -> float:
    """Page in the router's memory-mapped tables that a simulated year reads (nearly all of them:
    the kernel maps 64 KiB around every page a lookup touches) and return their size (MiB), so the
    phase figures separate them from the simulation's own memory and the peak is the worst case.
    With hub labels the landmark tables are never read."""
    arrays = [router.from_base, router.to_base, router.next_to_base]
    if router.has_labels:
        arrays += [router.label_ptr, router.label_hub, router.label_s]
    else:
        arrays += [router.lm_from, router.lm_to]
    for arr in arrays:
        float(np.asarray(arr).ravel()[::512].sum())
    return sum(arr.nbytes for arr in arrays) / 1048576.0


def _build_caches(data: dict) -> None:
    """Build the network and router caches of a scenario (run in a child process)."""
    from dispatch_sim import World, scenario_from_dict

    World(scenario_from_dict(data))


def scenario_dict(a) -> dict:
    if a.prefecture:
        rng = np.random.default_rng(0)
        w, s, e, n = PREFECTURE_BBOX
        teams = [{"name": f"T{i:02d}", "base": {"lon": float(rng.uniform(w + 0.03, e - 0.03)),
                                                "lat": float(rng.uniform(s + 0.03, n - 0.03))}, "shifts": [
            {"start": "08:00", "end": "20:00", "crews": 3}, {"start": "20:00", "end": "08:00", "crews": 2}]}
                 for i in range(70)]
        bbox, nodes, per_day = PREFECTURE_BBOX, a.nodes or 110000, a.per_day or 1500
    else:
        teams = [{"name": n, "base": {"lon": x, "lat": y}, "shifts": [
            {"start": "08:00", "end": "20:00", "crews": 3}, {"start": "20:00", "end": "08:00", "crews": 2}]}
                 for n, x, y in TEAMS]
        bbox, nodes, per_day = NANHU_BBOX, a.nodes or 20000, a.per_day or 300
    return {
        "name": "bench prefecture year" if a.prefecture else "bench year",
        "run": {"horizon_days": a.days, "warmup_days": 1, "replications": 1, "seed": 1},
        "graph": {"source": "stand-in", "bbox": list(bbox), "standin_nodes": nodes, "standin_seed": 1,
                  "urban_centres": [{"lon": 120.75, "lat": 30.7522}]},
        "speeds": {"time_bands": [{"name": "am", "start": "07:30", "end": "09:00", "factor": 0.7},
                                  {"name": "pm", "start": "17:00", "end": "18:30", "factor": 0.7}]},
        "teams": teams,
        "demand": {"reports_per_day": per_day},
        "dispatch": {"policy": a.policy},
    }


def bare_simpy(n_events: int) -> float:
    """Seconds for ``n_events`` timeouts in one plain SimPy process: the floor for any SimPy model."""
    env = simpy.Environment()

    def proc(env):
        for _ in range(n_events):
            yield env.timeout(1.0)
    env.process(proc(env))
    t = time.perf_counter()
    env.run()
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=float, default=365)
    ap.add_argument("--per-day", type=float, default=None, help="default 300 (1500 with --prefecture)")
    ap.add_argument("--nodes", type=int, default=None, help="default 20000 (110000 with --prefecture)")
    ap.add_argument("--policy", default="home_then_mutual_aid")
    ap.add_argument("--no-python-model", action="store_true", help="skip the Python-model baseline run")
    ap.add_argument("--repeat", type=int, default=None, help="runs of the year; the fastest counts, as for the "
                    "bare loop (default 5, 1 with --prefecture)")
    ap.add_argument("--cold", action="store_true", help="measure set-up without caches (generate, prepare, build)")
    ap.add_argument("--prefecture", action="store_true", help="prefecture-size stand-in, 70 teams")
    ap.add_argument("--check-days", type=float, default=28, help="with --prefecture: days the readable "
                    "dispatcher re-runs to compare decisions")
    a = ap.parse_args()
    a.repeat = a.repeat or (1 if a.prefecture else 5)
    mem = {"start": rss_mb()}
    from dispatch_sim import World, scenario_from_dict, settings
    from dispatch_sim.sim import can_compile

    data = scenario_dict(a)
    sc = scenario_from_dict(data)
    mem["imports"] = rss_mb()
    if not a.cold:  # caches built by a child process: this one measures the warm start only
        import multiprocessing as mp

        t = time.perf_counter()
        child = mp.get_context("spawn").Process(target=_build_caches, args=(data,))
        child.start()
        child.join()
        cache_build = time.perf_counter() - t
    t = time.perf_counter()
    world = World(sc, use_disk_cache=not a.cold)
    setup = time.perf_counter() - t
    mem["world"] = rss_mb()
    t = time.perf_counter()
    reports = world.reports(0)
    demand = time.perf_counter() - t
    # load the compiled kernels outside the timing (numba caches them on disk after the first run):
    # one simulated day on the same world
    mem["reports"] = rss_mb()
    warm = World(sc.with_overrides(horizon_days=2), G=world.network, router=world.router)
    warm.simulate(0, reports=warm.reports(0))
    del warm
    world.router.etas_bounded(0, 0, world.router.base_idx[:1], [0.0], 1.0)
    world.router.fastest_away(0, 0, world.router.base_idx[:1], np.zeros(1), np.zeros(1, dtype=np.int64), 1.0)
    world.router.stats.update(searches=0, label_queries=0)
    mem["kernels"] = rss_mb()  # numba's runtime and the compiled kernels loaded from its cache
    mem["tables_touched_mb"] = _touch(world.router)  # the memory-mapped tables a year reads, paged in
    compiled = can_compile(world, a.policy)
    # best of N for the model and for the bare loop, measured in turns: the bare loop's speed depends
    # on the allocator's state (a fresh heap makes it up to 2x slower), so both see the same states
    wall = bare = float("inf")
    for i in range(max(1, a.repeat)):
        t = time.perf_counter()
        again = world.simulate(0, reports=reports)
        wall = min(wall, time.perf_counter() - t)
        if i == 0:
            res = again
            lookups = world.router.stats["label_queries"]
        elif not np.array_equal(again.crew, res.crew):
            raise SystemExit("the same year gave a different incident table: not reproducible")
        bare = min(bare, timeit(lambda: bare_simpy(res.events), repeat=2))
    del again  # the repeats' results: only the first is kept for the checks below
    mem["simulate"] = rss_mb()
    peak_year = peak_rss_mb()  # the one-year run itself; the readable dispatcher's check below adds its own
    py_wall = identical = None
    if compiled and not a.no_python_model:
        check = world
        rep_py, ref, ref_wall = reports, res, wall
        if a.prefecture:  # the readable dispatcher on the first check-days only (minutes per simulated year)
            check = World(sc.with_overrides(horizon_days=a.check_days), G=world.network, router=world.router)
            rep_py = check.reports(0)
            t = time.perf_counter()
            ref = check.simulate(0, reports=rep_py)
            ref_wall = time.perf_counter() - t
        settings.compiled_dispatch = False
        t = time.perf_counter()
        py = check.simulate(0, reports=rep_py)
        py_wall = time.perf_counter() - t
        settings.compiled_dispatch = True
        identical = bool((py.crew == ref.crew).all() and np.allclose(py.cleared_min, ref.cleared_min, atol=1e-9,
                                                                      rtol=0, equal_nan=True))
        mem["python_model"] = rss_mb()
    n = len(reports)
    events = res.events
    per_report = wall / n
    per_timeout = bare / events
    served = int((res.arrived_min == res.arrived_min).sum())
    nodes = world.network.n
    how = "cold: generate, prepare, build tables" if a.cold else f"warm cache (built by a child in {cache_build:.1f} s)"
    print(f"graph {nodes} nodes (stand-in), {len(sc.teams)} teams; set-up {setup:.2f} s ({how}), demand draw "
          f"{demand * 1e3:.0f} ms")
    print(f"{a.days:g} simulated days, {n} reports ({served} served), policy {a.policy}")
    print(f"wall time              {wall:8.2f} s   ({wall / (a.days / 365):.2f} s per simulated year)")
    print(f"reports per second     {n / wall:8.0f}")
    print(f"SimPy events           {events:8d}   bare SimPy loop of as many timeouts: {bare:.2f} s")
    print(f"model / bare events    {wall / bare:8.1f}x")
    print(f"per report             {per_report * 1e6:8.1f} us = {per_report / per_timeout:.1f}x one bare SimPy timeout")
    print(f"dispatcher             {'compiled' if compiled else 'Python model'}; "
          f"{lookups} hub-label lookups, {world.router.stats['searches']} searches")
    if py_wall is not None and not a.prefecture:
        print(f"Python model, same year {py_wall:7.2f} s   compiled is {py_wall / wall:.1f}x faster; "
              f"identical decisions: {'yes' if identical else 'NO'}")
    elif py_wall is not None:
        print(f"Python model, first {a.check_days:g} days {py_wall:6.2f} s against {ref_wall:.2f} s compiled "
              f"({py_wall / ref_wall:.1f}x); identical decisions: {'yes' if identical else 'NO'}")
    print(f"router: {'hub labels' if world.router.has_labels else 'ALT searches (graph above settings.router_label_max_nodes)'}, "
          f"{world.router.memory_bytes() / 1e6:.0f} MB of tables")
    parts = rss_parts_mb()
    print("memory (resident MiB after each phase): " + ", ".join(f"{k} {v:.0f}" for k, v in mem.items())
          + f"; peak of the year on the compiled dispatcher {peak_year:.0f} (tables fully paged in: the worst "
          f"case), of the whole process {peak_rss_mb():.0f} (the readable dispatcher's check afterwards keeps "
          "reports and return routes in Python lists)")
    if parts:
        print("  resident now by kind: " + ", ".join(f"{k} {v:.0f} MiB" for k, v in parts.items())
              + " (file: memory-mapped cache tables and libraries, shared and reclaimable)")
    if a.prefecture:
        year = setup + wall * 365.0 / a.days
        print(f"prefecture year incl. set-up: {year:.1f} s{'' if a.days == 365 else f' (extrapolated from {a.days:g} days)'} "
              f"(target <= 30 s on the compiled dispatcher with exact times: "
              f"{'met' if year <= 30 and compiled else 'NOT met'})")
    print("targets: <= 10 s per simulated year; per-report cost <= 10x one bare SimPy timeout")
    emit("sim_prefecture" if a.prefecture else "sim", {
                 "days": a.days, "reports": n, "nodes": nodes, "teams": len(sc.teams), "setup_s": setup,
                 "setup_cold": a.cold, "year_with_setup_s": setup + wall * 365.0 / a.days, "memory_mb_by_phase": mem,
                 "router_tables_mb": world.router.memory_bytes() / 1e6, "resident_by_kind_mb": parts, "hub_labels": world.router.has_labels,
                 "wall_s": wall,
                 "s_per_sim_year": wall / (a.days / 365), "reports_per_s": n / wall, "events": events,
                 "bare_simpy_s": bare, "ratio_model_to_bare": wall / bare, "per_report_us": per_report * 1e6,
                 "per_report_in_bare_timeouts": per_report / per_timeout, "searches": world.router.stats["searches"],
                 "policy": a.policy, "compiled": compiled, "label_lookups": lookups, "python_model_s": py_wall,
                 "speedup_vs_python_model": (py_wall / ref_wall) if py_wall else None, "identical": identical,
                 "peak_rss_mb": peak_rss_mb(), "peak_rss_year_mb": peak_year})


if __name__ == "__main__":
    main()
