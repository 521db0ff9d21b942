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
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import metrics
from .model import ReplicationResult, World
from .results import BreakingPoint, Comparison, Decision, Metrics, RunMeta, RunSummary, StressResult, TownshipLoads
from .scenario import Scenario
from .verdict import judge

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
            finish(i, _run_here(world, tasks[i]))
    else:
        # The first two tasks run here: the first loads the compiled dispatcher (seconds, once per
        # process), so forked workers inherit it warm; the second measures a task. When the rest would
        # take less than starting processes costs, they run here too. Results do not depend on where a
        # task runs (each has its own seed stream).
        todo = list(todo)
        finish(todo[0], _run_here(world, tasks[todo[0]]))
        t0 = time.perf_counter()
        finish(todo[1], _run_here(world, tasks[todo[1]]))
        rest = todo[2:]
        if (time.perf_counter() - t0) * len(rest) < POOL_WORTH_S:
            for i in rest:
                finish(i, _run_here(world, tasks[i]))
            return results
        import multiprocessing as mp

        _WORKER_WORLD.clear()
        _WORKER_WORLD[sj] = world  # forked workers inherit the built world: no rebuild, no pickling
        ctx = mp.get_context("fork") if hasattr(os, "fork") else mp.get_context()
        with ProcessPoolExecutor(max_workers=min(workers, len(rest)), mp_context=ctx) as pool:
            for i, res in zip(rest, pool.map(_task, [(sj, *tasks[i]) for i in rest])):
                finish(i, res)
    return results


#: Seconds of remaining work below which local tasks run in this process rather than in a pool
#: (forking workers and collecting their results costs about this much on a 2-core machine).
POOL_WORTH_S = 2.0


def _run_here(world: World, task: tuple) -> ReplicationResult:
    rep, seed, load, coupling = task
    return world.simulate(rep, seed=seed, load=load, coupling_load=coupling)


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
    summary: RunSummary


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
    meta = RunMeta(scenario=sc.name, scenario_file=sc.source_file, seed=seed, replications=reps, load=load,
                   policy=sc.dispatch.policy, graph=graph_summary(world))
    return RunResult(world, results, incidents, RunSummary.of(meta, metrics.summarize(incidents, results, world)))


def graph_summary(world: World) -> dict:
    from .roads import graph_info

    info = graph_info(world.network)
    sc = world.scenario
    out = {k: info[k] for k in ("kind", "nodes", "edges", "source", "extent", "dropped_nodes", "dropped_edges")}
    out["kind"] = {"graphml": "file"}.get(out["kind"], out["kind"])
    out["standin"] = world.standin
    out["attribution"] = info["attribution"]
    out["bases"] = [{"team": t.name, "node": int(n), "snap_m": round(float(s), 1), "unverified": t.unverified,
                     "source": t.source} for t, n, s in zip(sc.teams, world.base_nodes, world.base_snap_m)]
    return out


# ------------------------------------------------------------------------------------ targets

def check_targets(summary: Metrics, scenario: Scenario) -> list[dict]:
    """Judge the scenario's targets on a run summary: one row per area (district, each township) and
    target, with ``status`` (met / missed / undecided) and ``passed`` (True / False / None).
    The rule is :func:`dispatch_sim.verdict.judge`."""
    return [r.to_json() for r in judge(summary, scenario).rows]


# ------------------------------------------------------------------------------------ stress

def _on_time_targets_only(sc: Scenario, goal: float) -> Scenario:
    """The scenario judged on the on-time rate alone (``goal``, per-township goals kept): what a load
    sweep brackets. Response-time quantile targets are dropped."""
    tg = sc.targets
    per_team = {k: v.model_copy(update={"p90_response_max_min": None}) for k, v in tg.per_team.items()}
    targets = tg.model_copy(update={"p90_response_max_min": None, "p95_response_max_min": None,
                                    "per_team": per_team, "on_time_rate_min": goal})
    return sc.model_copy(update={"targets": targets})


def stress_sweep(world: World, loads: list[float], *, replications: int | None = None, workers: int | None = 1,
                 scheduler: str | None = None, progress=None, bisect_steps: int = 4, resume_dir=None,
                 cell_m: float = 500.0) -> StressResult:
    """On-time rate against load (common random numbers) and the largest load that meets the target.

    Reports at every load come from one draw at the highest load, thinned: a lower load sees a
    subset of a higher load's reports. The breaking point is bracketed on the sweep and refined by
    bisection, judged like ``check`` (the CI lower bound by default).

    ``result.cells`` holds the per-cell reliability (GeoJSON, see
    :mod:`dispatch_sim.reliability`) at the last load that holds and the first that fails: where
    the circle breaks first.
    """
    from .reliability import cell_reliability, worst_cells

    sc = world.scenario
    reps = replications or sc.run.replications
    loads = sorted(set(float(x) for x in loads))
    goal = sc.targets.on_time_rate_min if sc.targets.on_time_rate_min is not None else 0.9
    coupling = max(loads)  # one draw at the top load, thinned for every lower load
    cache: dict[float, Metrics] = {}
    incidents: dict[float, pd.DataFrame] = {}  # per load; cell maps only for the two loads shown

    def evaluate(ld_list):
        tasks = [(r, sc.run.seed, ld, coupling) for ld in ld_list for r in range(reps)]
        res = run_tasks(world, tasks, workers=workers, scheduler=scheduler, progress=progress, resume_dir=resume_dir)
        for k, ld in enumerate(ld_list):
            chunk = res[k * reps:(k + 1) * reps]
            inc = pd.concat([metrics.incidents_frame(r, world) for r in chunk], ignore_index=True)
            s = metrics.summarize(inc, chunk, world)
            cache[ld] = s
            incidents[ld] = inc

    evaluate(loads)

    sc_rate = _on_time_targets_only(sc, goal)
    verdicts: dict[float, object] = {}

    def verdict_at(ld):
        if ld not in verdicts:
            verdicts[ld] = judge(cache[ld], sc_rate)
        return verdicts[ld]

    def holds(ld):  # the scenario's verdict at this load: no township (and not the district) misses
        return verdict_at(ld).status == "HOLDS"

    def breaks(ld):  # undecided loads (too few reports even district-wide) neither hold nor break
        return verdict_at(ld).status == "BREAKS"

    ok = [ld for ld in loads if holds(ld)]
    bad = [ld for ld in loads if breaks(ld)]
    lo = max([ld for ld in ok if all(b > ld for b in bad)], default=None)
    hi = min([b for b in bad if lo is None or b > lo], default=None)
    if lo is not None and hi is not None:
        for _ in range(bisect_steps):
            mid = round((lo + hi) / 2, 4)
            if mid in cache:
                break
            # a bisection point above the sweep's top would break the coupling; stays inside here
            evaluate([mid])
            if holds(mid):
                lo = mid
            elif breaks(mid):
                hi = mid
            else:
                break
    rows = []
    for ld in sorted(cache):
        s = cache[ld]
        v = verdict_at(ld)
        district = next((r for r in v.rows if r.area == "district"), None)
        by_team = {}
        for t, b in s.by_team.items():
            tr = next((r for r in v.rows if r.area == t), None)
            by_team[t] = {"rate": b["rate"], "ci95": b["ci95"], "utilization": b["utilization"],
                          "committed": b.get("committed"), "reports": b["known_outcome"],
                          "judged_value": tr.value if tr else None, "status": tr.status if tr else None}
        rows.append({"load": ld, "reports_per_day": sc.demand.reports_per_day * ld, "rate": s.on_time["rate"],
                     "ci95": s.on_time["ci95"], "judged_value": district.value if district else None,
                     "district_status": district.status if district else None, "verdict": v.status,
                     "meets_target": v.status == "HOLDS", "failing_townships": v.failing_townships(),
                     "undecided_townships": v.undecided_townships(),
                     "p90_min": s.response_min["p90"], "by_team": by_team})
    townships = {}
    for t in [x.name for x in sc.teams if not x.backup]:
        last_met, first_missed, undecided = None, None, []
        for r in rows:
            st = r["by_team"][t]["status"]
            if st == "missed":
                first_missed = r["load"]
                break
            if st == "met":
                last_met = r["load"]
            elif st == "undecided":
                undecided.append(r["load"])
        townships[t] = TownshipLoads(max_load_met=last_met, first_load_missed=first_missed, undecided_loads=undecided)
    cells = {ld: cell_reliability(incidents[ld], world, cell_m) for ld in (lo, hi) if ld is not None}
    district_ok = [r["load"] for r in rows if r["district_status"] == "met"]
    district_bad = [r["load"] for r in rows if r["district_status"] == "missed"]
    top, bottom = max(loads), min(loads)
    return StressResult(
        scenario=sc.name, target_on_time_rate=goal, judge=sc.targets.judge, scope=sc.targets.scope,
        min_reports=verdict_at(loads[0]).min_reports, replications=reps,
        seed=sc.run.seed, coupling_load=coupling, graph=graph_summary(world), loads_swept=[bottom, top],
        breaking_point=BreakingPoint(
            max_load_meeting_target=lo, first_load_failing=hi,
            reports_per_day_at_max=None if lo is None else sc.demand.reports_per_day * lo,
            failing_townships_at_first_failing_load=verdict_at(hi).failing_townships() if hi is not None else [],
            rule="the scenario verdict: every township (and the district) meets the on-time target, judged like "
                 "run/check"),
        district_only={"max_load_meeting_target": max([d for d in district_ok if all(b > d for b in district_bad)],
                                                      default=None),
                       "first_load_failing": min(district_bad, default=None)},
        townships=townships,
        team_max_load_meeting_target={t: v.max_load_met for t, v in townships.items()},
        worst_cells_at_first_failing_load=worst_cells(cells[hi], target=goal) if hi is not None else [],
        team_note=("per township: max_load_met = the highest swept load up to which the township meets the "
                   "target (judged like the verdict, the same judged value the figure plots); "
                   "first_load_missed = the first load where it misses; loads where it had too few reports "
                   "to judge are listed as undecided; null max_load_met = never shown even at the lowest load"),
        sweep=rows,
        cells=cells,
    )


# ------------------------------------------------------------------------------------ compare

def _per_replication_rates(run: RunResult, reps: int, townships: list[str]) -> tuple[np.ndarray, np.ndarray, dict]:
    """On-time rate and mean response per replication (district), and on-time rate per township."""
    inc = run.incidents
    inc = inc[~inc["warmup"].astype(bool) & inc["promise"].astype(bool)]
    rate = np.full(reps, np.nan)
    resp = np.full(reps, np.nan)
    town = {t: np.full(reps, np.nan) for t in townships}
    for r, x in inc.groupby("replication"):
        if r >= reps:
            continue
        k = x[x["on_time"].notna()]
        rate[r] = float(k["on_time"].astype(float).mean()) if len(k) else np.nan
        resp[r] = float(x["response_min"].mean()) if x["response_min"].notna().any() else np.nan
        for t, kt in k.groupby("home_team"):
            if t in town:
                town[t][r] = float(kt["on_time"].astype(float).mean())
    return rate, resp, town


def paired(diff) -> dict:
    """Mean of paired differences with its 95% t-interval, and whether the interval excludes zero."""
    m, lo, hi = metrics.mean_ci(diff)
    known = lo == lo and hi == hi
    return {"mean": m, "ci95": [lo, hi], "significant": bool(known and (lo > 0 or hi < 0)),
            "replications_used": int(np.sum(~np.isnan(np.asarray(diff, dtype=float))))}


def compare(world_a: World, world_b: World, *, replications: int | None = None, workers: int | None = 1,
            scheduler: str | None = None, progress=None) -> Comparison:
    """Variant B against A under common random numbers: both levels, both verdicts, and paired
    differences B − A (district and per township) with 95% intervals over replications.

    A difference whose interval covers zero is reported as "no significant difference"."""
    from .verdict import verdict_json

    reps = replications or world_a.scenario.run.replications
    seed = world_a.scenario.run.seed
    ra = run_scenario(world_a, replications=reps, seed=seed, workers=workers, scheduler=scheduler, progress=progress)
    rb = run_scenario(world_b, replications=reps, seed=seed, workers=workers, scheduler=scheduler, progress=progress)
    towns = [t.name for t in world_a.scenario.teams if not t.backup]
    towns += [t.name for t in world_b.scenario.teams if not t.backup and t.name not in towns]
    a_rate, a_resp, a_town = _per_replication_rates(ra, reps, towns)
    b_rate, b_resp, b_town = _per_replication_rates(rb, reps, towns)
    va, vb = judge(ra.summary, world_a.scenario), judge(rb.summary, world_b.scenario)
    sa, sb = ra.summary, rb.summary
    d_rate = paired(b_rate - a_rate)
    d_resp = paired(b_resp - a_resp)
    by_town = {}
    for t in towns:
        ba, bb = sa.by_team.get(t, {}), sb.by_team.get(t, {})
        by_town[t] = {
            "a": {"rate": ba.get("rate"), "ci95": ba.get("ci95"), "reports": ba.get("known_outcome"),
                  "status": va.townships.get(t, {}).get("status")},
            "b": {"rate": bb.get("rate"), "ci95": bb.get("ci95"), "reports": bb.get("known_outcome"),
                  "status": vb.townships.get(t, {}).get("status")},
            "difference_b_minus_a": paired(b_town[t] - a_town[t]),
        }

    def level(run, v, world):
        return {"scenario": world.scenario.name, "file": world.scenario.source_file, "on_time": run.summary.on_time,
                "response_min": run.summary.response_min, "verdict": verdict_json(v, run.summary)}

    better = [t for t, x in by_town.items()
              if x["difference_b_minus_a"]["significant"] and x["difference_b_minus_a"]["mean"] > 0]
    worse = [t for t, x in by_town.items()
             if x["difference_b_minus_a"]["significant"] and x["difference_b_minus_a"]["mean"] < 0]
    if d_rate["replications_used"] < 2:
        decision = "cannot be judged: paired differences need at least 2 replications"
    elif not d_rate["significant"]:
        decision = "no significant difference in the district on-time rate (the 95% interval covers zero)"
    else:
        decision = f"B is {'better' if d_rate['mean'] > 0 else 'worse'} than A on the district on-time rate"
    ga = graph_summary(world_a)
    return Comparison(
        a=level(ra, va, world_a), b=level(rb, vb, world_b),
        graph={"kind": ga["kind"], "standin": ga["standin"], "nodes": ga["nodes"], "source": ga["source"],
               "attribution": ga["attribution"]},
        replications=reps, seed=seed,
        difference_b_minus_a={"on_time_rate": d_rate, "mean_response_min": d_resp},
        by_township=by_town,
        decision=Decision(text=decision, significant=d_rate["significant"], townships_better=better,
                          townships_worse=worse),
        mutual_aid_in_a=sa.mutual_aid, mutual_aid_in_b=sb.mutual_aid,
        runs=(ra, rb),
    )
