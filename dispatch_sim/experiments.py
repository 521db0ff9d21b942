"""Replications, load sweeps and variant comparisons, serial or parallel.

Every replication's random numbers come from ``SeedSequence([seed, replication])``, so results are
identical whatever the number of workers. Local parallelism uses a process pool whose workers each
build the :class:`~dispatch_sim.model.World` once (graph and router matrices come from the disk
cache), so the graph reaches a worker once, not once per task. ``scheduler="tcp://host:port"`` (or
``DISPATCH_SIM_SCHEDULER``) runs the same tasks on an existing Dask cluster, with retries.
"""

from __future__ import annotations

import logging
import os
import pickle
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import metrics
from .model import ReplicationResult, World
from .scenario import Scenario

_WORKER_WORLD: dict = {}
log = logging.getLogger("dispatch_sim")


def _world_for(scenario_json: str) -> World:
    w = _WORKER_WORLD.get(scenario_json)
    if w is None:
        sc = Scenario.model_validate_json(scenario_json)
        w = World(sc)
        _WORKER_WORLD.clear()
        _WORKER_WORLD[scenario_json] = w
    return w


def _task(args) -> ReplicationResult:
    scenario_json, rep, seed, load, coupling = args
    w = _world_for(scenario_json)
    return w.simulate(rep, seed=seed, load=load, coupling_load=coupling)


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def run_tasks(world: World, tasks: list[tuple], workers: int | None = None, scheduler: str | None = None,
              progress=None, resume_dir: Path | None = None) -> list[ReplicationResult]:
    """Run ``(replication, seed, load, coupling_load)`` tasks; results in task order.

    Parameters
    ----------
    workers
        Local processes (default: all cores; 1 runs in this process on ``world``).
    scheduler
        Address of a Dask scheduler; overrides ``workers``.
    progress
        Callable ``progress(done, total)``.
    resume_dir
        Folder where each finished task is kept; tasks found there are not run again.
    """
    scheduler = scheduler or os.environ.get("DISPATCH_SIM_SCHEDULER") or None
    workers = default_workers() if workers is None else max(1, int(workers))
    results: list = [None] * len(tasks)
    todo = []
    for i, t in enumerate(tasks):
        f = _resume_file(resume_dir, t)
        if f is not None and f.exists():
            try:
                results[i] = pickle.loads(f.read_bytes())
                continue
            except Exception as exc:  # a half-written or foreign file: run the task again
                log.info("resume file %s unreadable (%s); rerunning", f, exc)
        todo.append(i)
    done = len(tasks) - len(todo)

    def finish(i, res):
        nonlocal done
        results[i] = res
        f = _resume_file(resume_dir, tasks[i])
        if f is not None:
            f.parent.mkdir(parents=True, exist_ok=True)
            tmp = f.with_suffix(".part")
            tmp.write_bytes(pickle.dumps(res))
            os.replace(tmp, f)
        done += 1
        if progress:
            progress(done, len(tasks))

    if not todo:
        return results
    sj = world.scenario.model_dump_json()
    if scheduler:
        from distributed import Client, as_completed

        with Client(scheduler) as client:
            futs = {client.submit(_task, (sj, *tasks[i]), retries=3, pure=False): i for i in todo}
            for fut in as_completed(futs):
                finish(futs[fut], fut.result())
    elif workers == 1 or len(todo) == 1:
        for i in todo:
            rep, seed, load, coupling = tasks[i]
            finish(i, world.simulate(rep, seed=seed, load=load, coupling_load=coupling))
    else:
        import multiprocessing as mp

        _WORKER_WORLD.clear()
        _WORKER_WORLD[sj] = world  # forked workers inherit the built world: no rebuild, no pickling
        ctx = mp.get_context("fork") if hasattr(os, "fork") else mp.get_context()
        with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=ctx) as pool:
            for i, res in zip(todo, pool.map(_task, [(sj, *tasks[i]) for i in todo])):
                finish(i, res)
    return results


def _resume_file(resume_dir, task) -> Path | None:
    if resume_dir is None:
        return None
    rep, seed, load, coupling = task
    return Path(resume_dir) / f"rep{rep}_seed{seed}_load{load}_c{coupling}.pkl"


@dataclass
class RunResult:
    """A scenario's replications and their summary."""

    world: World
    results: list[ReplicationResult]
    incidents: pd.DataFrame
    summary: dict = field(default_factory=dict)


def run_scenario(world: World, *, replications: int | None = None, seed: int | None = None,
                 load: float | None = None, workers: int | None = 1, scheduler: str | None = None,
                 progress=None, coupling_load: float | None = None, resume_dir=None) -> RunResult:
    """Run a scenario's replications and summarize them (the API behind ``dispatch-sim run``)."""
    sc = world.scenario
    reps = replications or sc.run.replications
    seed = sc.run.seed if seed is None else seed
    load = sc.run.load if load is None else load
    tasks = [(r, seed, load, coupling_load) for r in range(reps)]
    results = run_tasks(world, tasks, workers=workers, scheduler=scheduler, progress=progress, resume_dir=resume_dir)
    incidents = pd.concat([metrics.incidents_frame(r, world) for r in results], ignore_index=True)
    summary = metrics.summarize(incidents, results, world)
    summary = {"scenario": sc.name, "scenario_file": sc.source_file, "seed": seed, "replications": reps, "load": load,
               "policy": sc.dispatch.policy, "graph": graph_summary(world), **summary}
    return RunResult(world, results, incidents, summary)


def graph_summary(world: World) -> dict:
    from .roads import graph_info

    info = graph_info(world.G)
    sc = world.scenario
    out = {k: info[k] for k in ("kind", "nodes", "edges", "source", "extent", "dropped_nodes", "dropped_edges")}
    out["kind"] = {"graphml": "file"}.get(out["kind"], out["kind"])
    out["standin"] = world.standin
    out["attribution"] = info["attribution"]
    out["bases"] = [{"team": t.name, "node": int(n), "snap_m": round(float(s), 1), "unverified": t.unverified,
                     "source": t.source} for t, n, s in zip(sc.teams, world.base_nodes, world.base_snap_m)]
    return out


# ------------------------------------------------------------------------------------ targets

#: From this many replications on, ``check`` also uses the between-replication interval (the more
#: conservative of the two lower bounds); below it, the pooled Wilson interval alone.
MIN_REPS_FOR_BETWEEN_CI = 5

def check_targets(summary: dict, scenario: Scenario) -> list[dict]:
    """Judge the scenario's targets on a run summary: one row per target with ``passed``."""
    t = scenario.targets
    lower = t.judge == "lower_bound"
    rows = []
    # the between-replication t-interval is only informative with enough replications
    use_between = len(summary.get("reports", {}).get("per_replication", {})) >= MIN_REPS_FOR_BETWEEN_CI

    def rate_row(name, block, minimum):
        if minimum is None:
            return
        rate = block["on_time"]["rate"] if "on_time" in block and isinstance(block["on_time"], dict) else block.get("rate")
        ci = (block["on_time"]["ci95"] if isinstance(block.get("on_time"), dict) else block.get("ci95")) or [None, None]
        between = (block["on_time"].get("ci95_between_replications") if isinstance(block.get("on_time"), dict)
                   else block.get("ci95_between_replications"))
        lows = [x for x in (ci[0], (between or [None])[0] if use_between else None) if x is not None and x == x]
        value = (min(lows) if lows else None) if lower else rate
        rows.append({"target": name, "required": f">= {minimum}", "value": value, "estimate": rate,
                     "passed": value is not None and value >= minimum})

    def p_row(name, resp, key, maximum):
        if maximum is None:
            return
        value = resp.get(f"{key}_ci95", [None, None])[1] if lower else resp.get(key)
        rows.append({"target": name, "required": f"<= {maximum} min", "value": value, "estimate": resp.get(key),
                     "passed": value is not None and value == value and value <= maximum})

    rate_row("on_time_rate", summary, t.on_time_rate_min)
    p_row("p90_response", summary["response_min"], "p90", t.p90_response_max_min)
    p_row("p95_response", summary["response_min"], "p95", t.p95_response_max_min)
    for team, tt in t.per_team.items():
        block = summary["by_team"][team]
        rate_row(f"{team}.on_time_rate", block, tt.on_time_rate_min)
        p_row(f"{team}.p90_response", block["response_min"], "p90", tt.p90_response_max_min)
    return rows


# ------------------------------------------------------------------------------------ stress

def stress_sweep(world: World, loads: list[float], *, replications: int | None = None, workers: int | None = 1,
                 scheduler: str | None = None, progress=None, bisect_steps: int = 4, resume_dir=None,
                 cell_m: float = 500.0) -> dict:
    """On-time rate against load (common random numbers) and the largest load that meets the target.

    Reports at every load come from one draw at the highest load, thinned: a lower load sees a
    subset of a higher load's reports. The breaking point is bracketed on the sweep and refined by
    bisection, judged like ``check`` (the CI lower bound by default).

    ``result["cells"]`` holds the per-cell reliability (GeoJSON, see
    :mod:`dispatch_sim.reliability`) at the last load that holds and the first that fails: where
    the circle breaks first.
    """
    from .reliability import cell_reliability, worst_cells

    sc = world.scenario
    reps = replications or sc.run.replications
    loads = sorted(set(float(x) for x in loads))
    goal = sc.targets.on_time_rate_min if sc.targets.on_time_rate_min is not None else 0.9
    coupling = max(loads)  # one draw at the top load, thinned for every lower load
    cache: dict[float, dict] = {}
    cells: dict[float, dict] = {}

    def evaluate(ld_list):
        tasks = [(r, sc.run.seed, ld, coupling) for ld in ld_list for r in range(reps)]
        res = run_tasks(world, tasks, workers=workers, scheduler=scheduler, progress=progress, resume_dir=resume_dir)
        for k, ld in enumerate(ld_list):
            chunk = res[k * reps:(k + 1) * reps]
            inc = pd.concat([metrics.incidents_frame(r, world) for r in chunk], ignore_index=True)
            s = metrics.summarize(inc, chunk, world)
            cache[ld] = s
            cells[ld] = cell_reliability(inc, world, cell_m)

    evaluate(loads)

    def judged(ld):
        s = cache[ld]
        rows = check_targets(s, sc.model_copy(update={"targets": sc.targets.model_copy(update={"p90_response_max_min": None, "p95_response_max_min": None, "per_team": {}, "on_time_rate_min": goal})}))
        return rows[0]["passed"], rows[0]["value"]

    ok = [ld for ld in loads if judged(ld)[0]]
    bad = [ld for ld in loads if not judged(ld)[0]]
    lo = max([ld for ld in ok if all(b > ld for b in bad)], default=None)
    hi = min([b for b in bad if lo is None or b > lo], default=None)
    if lo is not None and hi is not None:
        for _ in range(bisect_steps):
            mid = round((lo + hi) / 2, 4)
            if mid in cache:
                break
            # a bisection point above the sweep's top would break the coupling; stays inside here
            evaluate([mid])
            if judged(mid)[0]:
                lo = mid
            else:
                hi = mid
    rows = []
    for ld in sorted(cache):
        s = cache[ld]
        rows.append({"load": ld, "reports_per_day": sc.demand.reports_per_day * ld, "rate": s["on_time"]["rate"],
                     "ci95": s["on_time"]["ci95"], "judged_value": judged(ld)[1], "meets_target": judged(ld)[0],
                     "p90_min": s["response_min"]["p90"],
                     "by_team": {t: {"rate": b["rate"], "ci95": b["ci95"], "utilization": b["utilization"]}
                                 for t, b in s["by_team"].items()}})
    team_break = {}
    for t in [x.name for x in sc.teams if not x.backup]:
        last_ok = None
        for r in rows:
            ci = r["by_team"][t]["ci95"]
            val = (ci[0] if ci else None) if sc.targets.judge == "lower_bound" else r["by_team"][t]["rate"]
            if val is not None and val >= goal:
                last_ok = r["load"]
            elif val is not None:
                break
        team_break[t] = last_ok
    return {
        "scenario": sc.name, "target_on_time_rate": goal, "judge": sc.targets.judge, "replications": reps,
        "seed": sc.run.seed, "coupling_load": coupling, "graph": graph_summary(world),
        "breaking_point": {"max_load_meeting_target": lo, "first_load_failing": hi,
                           "reports_per_day_at_max": None if lo is None else sc.demand.reports_per_day * lo},
        "team_max_load_meeting_target": team_break,
        "worst_cells_at_first_failing_load": worst_cells(cells[hi]) if hi is not None else [],
        "cells": {ld: cells[ld] for ld in (lo, hi) if ld is not None},
        "team_note": ("per team: the highest swept load up to which the team's own reports meet the target, judged "
                      "like the district; null = not demonstrated even at the lowest load (too few reports for the "
                      "interval, or too slow) - add replications or days to resolve"),
        "sweep": rows,
    }


# ------------------------------------------------------------------------------------ compare

def compare(world_a: World, world_b: World, *, replications: int | None = None, workers: int | None = 1,
            scheduler: str | None = None, progress=None) -> dict:
    """Paired difference B − A in on-time rate and mean response, same seeds (common random numbers)."""
    reps = replications or world_a.scenario.run.replications
    seed = world_a.scenario.run.seed
    ra = run_scenario(world_a, replications=reps, seed=seed, workers=workers, scheduler=scheduler, progress=progress)
    rb = run_scenario(world_b, replications=reps, seed=seed, workers=workers, scheduler=scheduler, progress=progress)

    def per_rep(run):
        inc = run.incidents
        inc = inc[~inc["warmup"] & inc["promise"]]
        out = []
        for r in range(reps):
            x = inc[inc["replication"] == r]
            k = x[x["on_time"].notna()]
            out.append((float(k["on_time"].mean()) if len(k) else np.nan, float(x["response_min"].mean())))
        return np.array(out)

    a, b = per_rep(ra), per_rep(rb)
    d_rate = metrics.mean_ci(b[:, 0] - a[:, 0])
    d_resp = metrics.mean_ci(b[:, 1] - a[:, 1])
    return {
        "a": {"scenario": world_a.scenario.name, "on_time": ra.summary["on_time"], "response_min": ra.summary["response_min"]},
        "b": {"scenario": world_b.scenario.name, "on_time": rb.summary["on_time"], "response_min": rb.summary["response_min"]},
        "replications": reps, "seed": seed,
        "difference_b_minus_a": {
            "on_time_rate": {"mean": d_rate[0], "ci95": [d_rate[1], d_rate[2]]},
            "mean_response_min": {"mean": d_resp[0], "ci95": [d_resp[1], d_resp[2]]},
        },
        "mutual_aid_in_a": ra.summary["mutual_aid"],
        "mutual_aid_in_b": rb.summary["mutual_aid"],
        "runs": (ra, rb),
    }
