"""Simulator benchmark: one simulated year of a Nanhu-sized scenario against a bare SimPy loop.

~300 reports a day (≈110k a year), 11 teams, on a ~20k-node stand-in. Prints wall time, reports per
second, SimPy events, and the per-report cost as a multiple of one bare SimPy timeout measured in the
same process; then one JSON line. Usage: python benchmarks/bench_sim.py [--days N] [--policy P]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import simpy

from _common import NANHU_BBOX, TEAMS, emit, peak_rss_mb, timeit


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


def _time_searches(router) -> dict:
    """Wrap the router's search entry points on this instance to add up the time spent in them."""
    spent = {}
    for name in ("fastest_away", "etas_bounded"):
        inner = getattr(router, name)
        spent[name] = 0.0

        def timed(*args, _inner=inner, _name=name):
            t = time.perf_counter()
            out = _inner(*args)
            spent[_name] += time.perf_counter() - t
            return out
        setattr(router, name, timed)
    return spent


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=float, default=365)
    ap.add_argument("--per-day", type=float, default=300)
    ap.add_argument("--nodes", type=int, default=20000)
    ap.add_argument("--policy", default="home_then_mutual_aid")
    a = ap.parse_args()
    from dispatch_sim import World, scenario_from_dict

    sc = scenario_from_dict({
        "name": "bench year",
        "run": {"horizon_days": a.days, "warmup_days": 1, "replications": 1, "seed": 1},
        "graph": {"source": "stand-in", "bbox": list(NANHU_BBOX), "standin_nodes": a.nodes, "standin_seed": 1,
                  "urban_centres": [{"lon": 120.75, "lat": 30.7522}]},
        "speeds": {"time_bands": [{"name": "am", "start": "07:30", "end": "09:00", "factor": 0.7},
                                  {"name": "pm", "start": "17:00", "end": "18:30", "factor": 0.7}]},
        "teams": [{"name": n, "base": {"lon": x, "lat": y}, "shifts": [
            {"start": "08:00", "end": "20:00", "crews": 3}, {"start": "20:00", "end": "08:00", "crews": 2}]} for n, x, y in TEAMS],
        "demand": {"reports_per_day": a.per_day},
        "dispatch": {"policy": a.policy},
    })
    t = time.perf_counter()
    world = World(sc, use_disk_cache=False)
    setup = time.perf_counter() - t
    t = time.perf_counter()
    reports = world.reports(0)
    demand = time.perf_counter() - t
    # compile the kernels outside the timing (numba caches them on disk after the first run)
    world.router.etas_bounded(0, 0, world.router.base_idx[:1], [0.0], 1.0)
    world.router.fastest_away(0, 0, world.router.base_idx[:1], np.zeros(1), np.zeros(1, dtype=np.int64), 1.0)
    world.router.stats.update(searches=0)
    in_search = _time_searches(world.router)
    t = time.perf_counter()
    res = world.simulate(0, reports=reports)
    wall = time.perf_counter() - t
    n = len(reports)
    events = res.events
    bare = timeit(lambda: bare_simpy(events), repeat=3)
    per_report = wall / n
    per_timeout = bare / events
    served = int((res.arrived_min == res.arrived_min).sum())
    print(f"graph {world.G.number_of_nodes()} nodes (stand-in), set-up {setup:.1f} s, demand draw {demand * 1e3:.0f} ms")
    print(f"{a.days:g} simulated days, {n} reports ({served} served), policy {a.policy}")
    print(f"wall time              {wall:8.2f} s   ({wall / (a.days / 365):.2f} s per simulated year)")
    print(f"reports per second     {n / wall:8.0f}")
    print(f"SimPy events           {events:8d}   bare SimPy loop of as many timeouts: {bare:.2f} s")
    print(f"model / bare events    {wall / bare:8.1f}x")
    print(f"per report             {per_report * 1e6:8.1f} us = {per_report / per_timeout:.1f}x one bare SimPy timeout")
    print(f"away-crew searches     {world.router.stats['searches']:8d}")
    search_s = sum(in_search.values())
    print(f"time in exact searches {search_s:8.2f} s   ({search_s / wall:.0%} of wall; the rest is SimPy and dispatch logic)")
    print("targets: <= 10 s per simulated year; per-report cost <= 10x one bare SimPy timeout")
    emit("sim", {"days": a.days, "reports": n, "nodes": world.G.number_of_nodes(), "wall_s": wall,
                 "s_per_sim_year": wall / (a.days / 365), "reports_per_s": n / wall, "events": events,
                 "bare_simpy_s": bare, "ratio_model_to_bare": wall / bare, "per_report_us": per_report * 1e6,
                 "per_report_in_bare_timeouts": per_report / per_timeout, "searches": world.router.stats["searches"],
                 "policy": a.policy, "search_s": search_s, "peak_rss_mb": peak_rss_mb()})


if __name__ == "__main__":
    main()
