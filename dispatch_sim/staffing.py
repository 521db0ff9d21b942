"""The fewest crews that keep the promise in every township: ``dispatch-sim staff``.

``stress`` answers "at what load does today's staffing break"; planners mostly need the inverse: how
many crews per team and shift keep every township on target at a given load. The search:

1. **Queueing lower bound.** A baseline simulation gives each township's own reports per hour of
   the day and the mean time a crew is busy per job (driving there and working). In a shift whose
   busiest hour offers ``a = λ · s`` crew-hours per hour, fewer than ``⌊a⌋ + 1`` crews cannot keep
   up (utilization would reach 1). Every shift starts there (at least one crew where the township
   has reports in the shift's hours).
2. **Add where it helps the worst township most.** While the scenario's verdict is not HOLDS, take
   the township with the lowest margin (judged value against its target), try one more crew in
   each of its shifts, and keep the one with the largest gain in that township's margin per unit of
   cost (crew-hours a day, night hours weighted by ``night_cost``).
3. **Remove what is not needed.** Try removing each crew (most expensive first) and keep the removal
   when the verdict still holds; repeat until no single removal keeps it. The result is minimal
   with respect to single-crew removals: removing any one crew makes a township miss (this is not a
   proof of a global minimum over all combinations).

Every evaluation uses the same seeds (common random numbers: crews do not change the reports), so
differences between candidates are differences in staffing, not in luck. The judgement is the
verdict rule of :mod:`dispatch_sim.verdict`, on the interval, for every township.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .errors import DispatchSimError
from .speeds import parse_hhmm

if TYPE_CHECKING:
    from .scenario import Scenario

NIGHT_START, NIGHT_END = 20 * 60, 8 * 60  #: night hours for ``night_cost`` (minutes of the day)


@dataclass(frozen=True)
class Slot:
    """One decision: the crews of one team in one shift (``shift`` None: round-the-clock crews)."""

    team: int
    team_name: str
    shift: int | None
    start: int  #: minute of the day
    end: int
    days: str
    hours_per_day: float  #: average over the week
    night_share: float

    @property
    def label(self) -> str:
        if self.shift is None:
            return "00:00-24:00"
        f = f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:{self.end % 60:02d}"
        return f if self.days == "all" else f"{f} ({self.days})"

    def minutes(self) -> np.ndarray:
        """Minutes of the day the slot covers."""
        if self.shift is None:
            return np.arange(1440)
        if self.start < self.end:
            return np.arange(self.start, self.end)
        return np.r_[np.arange(self.start, 1440), np.arange(0, self.end)]


def slots(sc) -> list[Slot]:
    """The staffing decisions of a scenario: every shift of every team (district squads are listed
    but keep today's crews)."""
    out = []
    for i, t in enumerate(sc.teams):
        if not t.shifts:
            out.append(Slot(i, t.name, None, 0, 1440, "all", 24.0, 0.5))
            continue
        for k, s in enumerate(t.shifts):
            a, b = parse_hhmm(s.start), parse_hhmm(s.end)
            mins = np.arange(a, b) if a < b else np.r_[np.arange(a, 1440), np.arange(0, b % 1440)]
            week = {"all": 7, "weekdays": 5, "weekends": 2}[s.days] / 7.0
            night = float(np.mean((mins >= NIGHT_START) | (mins < NIGHT_END))) if len(mins) else 0.0
            out.append(Slot(i, t.name, k, a, b % 1440 if b != 1440 else 1440, s.days, len(mins) / 60.0 * week, night))
    return out


def current_counts(sc, sl: list[Slot]) -> list[int]:
    return [sc.teams[s.team].crews if s.shift is None else sc.teams[s.team].shifts[s.shift].crews for s in sl]


def apply_counts(sc, sl: list[Slot], counts) -> Scenario:
    """A copy of the scenario with ``counts[i]`` crews in slot ``i``."""
    teams = [t.model_copy(deep=True) for t in sc.teams]
    for s, c in zip(sl, counts):
        if s.shift is None:
            teams[s.team] = teams[s.team].model_copy(update={"crews": int(c)})
        else:
            shifts = list(teams[s.team].shifts)
            shifts[s.shift] = shifts[s.shift].model_copy(update={"crews": int(c)})
            teams[s.team] = teams[s.team].model_copy(update={"shifts": shifts})
    out = sc.model_copy(update={"teams": teams, "staffing": None})  # its crews stand, also when re-validated
    out.source_file = sc.source_file
    return out


def crew_hours_per_day(sl: list[Slot], counts) -> float:
    return float(sum(s.hours_per_day * c for s, c in zip(sl, counts)))


def slot_cost(s: Slot, night_cost: float) -> float:
    """Cost of one crew in the slot: crew-hours a day, night hours weighted by ``night_cost``."""
    return s.hours_per_day * (1.0 + (night_cost - 1.0) * s.night_share)


def lower_bound(run, sl: list[Slot], load_days: float) -> tuple[list[int], dict]:
    """Queueing lower bound per slot from a baseline run (see the module docstring).

    Returns the counts and, per slot, the offered load of its busiest hour."""
    inc = run.incidents
    post = inc[~inc["warmup"].astype(bool)]
    sc = run.world.scenario
    reps = max(1, post["replication"].nunique())
    hours = (post["created_min"] // 60 % 24).astype(int)
    busy = (post["cleared_min"] - post["dispatched_min"]).to_numpy(float)
    counts, offered = [], {}
    for s in sl:
        name = s.team_name
        mine = (post["home_team"] == name).to_numpy()
        if sc.teams[s.team].backup or not mine.any():
            counts.append(0 if sc.teams[s.team].backup else 1)
            offered[s.label + "@" + name] = 0.0
            continue
        serv = float(np.nanmean(busy[mine & ~np.isnan(busy)])) if np.any(mine & ~np.isnan(busy)) else 60.0
        per_hour = np.bincount(hours[mine], minlength=24)[:24] / (reps * load_days)  # reports per hour of day
        cover = np.unique(s.minutes() // 60)
        a = float(per_hour[cover].max() * serv / 60.0) if len(cover) else 0.0
        offered[s.label + "@" + name] = round(a, 3)
        counts.append(int(math.floor(a)) + 1 if per_hour[cover].sum() > 0 else 0)
    return counts, offered


def margins(verdict) -> dict[str, float]:
    """Per township, its smallest normalised margin over its targets (negative = missed): on-time
    rate (judged − goal) / (1 − goal); a response quantile (limit − judged) / limit. Undecided
    targets are left out."""
    out: dict[str, float] = {}
    for r in verdict.rows:
        if r.area == "district" or r.status == "undecided" or r.value is None:
            continue
        if r.target == "on_time_rate":
            m = (r.value - r.threshold) / max(1e-9, 1.0 - r.threshold)
        else:
            m = (r.threshold - r.value) / r.threshold
        out[r.area] = min(out.get(r.area, math.inf), m)
    return out


#: The evaluator whose candidates a forked worker runs (set in the parent before the pool forks).
_EVALUATOR: "Evaluator | None" = None


def _evaluate_in_worker(key: tuple) -> tuple:
    assert _EVALUATOR is not None  # inherited from the parent at fork
    return _EVALUATOR.evaluate(key)


class Evaluator:
    """Runs a staffing (counts per slot) with common random numbers and judges it; caches results.

    With ``workers`` > 1 (and fork, and no Dask scheduler), :meth:`prefetch` evaluates candidates the
    search is about to ask for side by side in forked processes, which inherit the world, the compiled
    kernels and the reports drawn so far; each evaluation runs its replications in one process. The
    search asks in the same order either way and counts only what it asks for, so the proposal and
    ``evaluations`` do not depend on the number of workers (a prefetched candidate it never asks for
    is wasted work, not a result).
    """

    def __init__(self, world, sl, *, replications, seed, load, workers, scheduler, progress=None):
        import os

        from .experiments import default_workers

        self.world, self.sl = world, sl
        self.workers = default_workers() if workers is None else max(1, int(workers))
        self.side_by_side = self.workers > 1 and not scheduler and hasattr(os, "fork")
        self.kw = dict(replications=replications, seed=seed, load=load, scheduler=scheduler,
                       workers=1 if self.side_by_side else self.workers)
        self.cache: dict[tuple, tuple] = {}
        self.ready: dict[tuple, tuple] = {}  # prefetched, not yet asked for
        self.reports: dict = {}  # every candidate draws the same reports (only crews change): drawn once
        self.progress = progress
        self.runs = 0
        self._pool = None

    def evaluate(self, key: tuple) -> tuple:
        """``(verdict, summary)`` of one staffing, simulated."""
        from .experiments import run_scenario
        from .model import World
        from .verdict import judge

        sc = apply_counts(self.world.scenario, self.sl, key)
        w = World(sc, G=self.world.network, router=self.world.router)
        w.reports_cache = self.reports
        run = run_scenario(w, **self.kw)
        return judge(run.summary, sc), run.summary

    def __call__(self, counts) -> tuple:
        key = tuple(int(c) for c in counts)
        if key not in self.cache:
            got = self.ready.pop(key, None)
            self.cache[key] = got if got is not None else self.evaluate(key)
            self.runs += 1
            if self.progress:
                self.progress(self.runs, self.cache[key][0].status, key)
        return self.cache[key]

    def prefetch(self, candidates) -> None:
        """Evaluate the staffings the search will ask for next, side by side (see the class)."""
        todo = list(dict.fromkeys(tuple(int(c) for c in k) for k in candidates))
        todo = [k for k in todo if k not in self.cache and k not in self.ready]
        if not self.side_by_side or len(todo) < 2:
            return
        if self._pool is None:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            global _EVALUATOR
            _EVALUATOR = self
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=mp.get_context("fork"))
        for key, res in zip(todo, self._pool.map(_evaluate_in_worker, todo)):
            self.ready[key] = res

    def close(self) -> None:
        global _EVALUATOR
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        _EVALUATOR = None


def _one_more(counts: list[int], j: int) -> list[int]:
    return counts[:j] + [counts[j] + 1] + counts[j + 1:]


def _one_less(counts: list[int], j: int) -> list[int]:
    return counts[:j] + [counts[j] - 1] + counts[j + 1:]


def propose(world, *, load: float | None = None, replications: int | None = None, night_cost: float = 1.0,
            max_per_slot: int = 12, workers: int | None = None, scheduler: str | None = None, progress=None,
            max_evaluations: int = 400) -> dict:
    """Search the fewest crews per team and shift that keep every township on target.

    Parameters
    ----------
    world
        The scenario's :class:`~dispatch_sim.model.World` (graph and router are reused).
    load
        Demand multiplier (default: the scenario's ``run.load``).
    night_cost
        Weight of a crew-hour between 20:00 and 08:00 relative to a day hour.
    max_per_slot
        Cap on crews in any one shift of any team.
    workers
        Local processes evaluating candidates side by side (default: every core; see
        :class:`Evaluator`); the proposal is the same for any number.
    progress
        Callable ``progress(evaluations, status, counts)``.

    Returns a JSON-ready dict; ``result["scenario"]`` is the proposed
    :class:`~dispatch_sim.scenario.Scenario`.
    """
    from .experiments import run_scenario

    sc = world.scenario
    load = sc.run.load if load is None else float(load)
    reps = replications or sc.run.replications
    sl = slots(sc)
    today = current_counts(sc, sl)
    ev = Evaluator(world, sl, replications=reps, seed=sc.run.seed, load=load, workers=workers, scheduler=scheduler,
                   progress=progress)
    try:
        base_run = run_scenario(world, replications=reps, seed=sc.run.seed, load=load, workers=workers,
                                scheduler=scheduler)
        days = sc.run.horizon_days - sc.run.warmup_days
        lb, offered = lower_bound(base_run, sl, days)
        squad = [sc.teams[s.team].backup for s in sl]  # district squads keep today's crews: not decided here
        lb = [t if q else c for c, t, q in zip(lb, today, squad)]
        counts = [t if q else min(max_per_slot, c) for c, t, q in zip(lb, today, squad)]
        steps = []
        v, _ = ev(counts)
        infeasible = None
        while v.status != "HOLDS" and ev.runs < max_evaluations:
            if v.status in ("UNDECIDED", "NO REPORTS", "NO TARGETS"):
                infeasible = f"the verdict is {v.status} whatever the crews: run more replications or days"
                break
            m = margins(v)
            if not m:
                infeasible = ("no township can be judged (too few reports) while the verdict is " + v.status
                              + ": run more replications or days, or set per-township targets")
                break
            failing = [t for t in v.failing_townships() if t in m]
            if not failing:  # only the district misses: help the township with the lowest margin
                failing = sorted(m, key=lambda t: m[t])[:1]
            worst = min(failing, key=lambda t: m[t])
            best, best_gain = None, 0.0
            ev.prefetch(_one_more(counts, j) for j, s in enumerate(sl)
                        if s.team_name == worst and counts[j] < max_per_slot)
            for j, s in enumerate(sl):
                if s.team_name != worst or counts[j] >= max_per_slot:
                    continue
                trial = _one_more(counts, j)
                tv, _ = ev(trial)
                gain = margins(tv).get(worst, m[worst]) - m[worst]
                if tv.status == "HOLDS":
                    gain += 1e6  # a candidate that makes everything hold wins outright
                gain /= slot_cost(s, night_cost)
                if gain > best_gain:
                    best, best_gain = j, gain
            if best is None:
                infeasible = (f"{worst} misses its target and one more crew in any of its shifts does not help "
                              "(late reports there come from long travel, or a cap of "
                              f"{max_per_slot} crews is reached)")
                break
            counts[best] += 1
            v, _ = ev(counts)
            steps.append({"add": f"{sl[best].team_name} {sl[best].label}", "worst_township": worst,
                          "verdict": v.status})
        removals = []
        if v.status == "HOLDS":
            changed = True
            while changed and ev.runs < max_evaluations:
                changed = False
                order = sorted(range(len(sl)), key=lambda j: -slot_cost(sl[j], night_cost))
                ev.prefetch(_one_less(counts, j) for j in order if counts[j] > 0 and not squad[j])
                for i, j in enumerate(order):
                    if counts[j] <= 0 or squad[j]:
                        continue
                    trial = _one_less(counts, j)
                    tv, _ = ev(trial)
                    if tv.status == "HOLDS":
                        counts = trial
                        removals.append(f"{sl[j].team_name} {sl[j].label}")
                        changed = True
                        ev.prefetch(_one_less(counts, k) for k in order[i + 1:] if counts[k] > 0 and not squad[k])
        final_v, final_summary = ev(counts)
        proposal = apply_counts(sc, sl, counts)
        proposal = proposal.model_copy(update={"name": f"{sc.name} + staffing at load ×{load:g}"})
        proposal.source_file = sc.source_file
        if final_v.status == "HOLDS":
            ev.prefetch(_one_less(counts, j) for j in range(len(sl)) if counts[j] > 0 and not squad[j])
        minimal_checked = final_v.status == "HOLDS" and all(
            counts[j] == 0 or squad[j] or ev(_one_less(counts, j))[0].status != "HOLDS"
            for j in range(len(sl)))
    finally:
        ev.close()
    from .verdict import verdict_json

    table = [{"team": s.team_name, "shift": s.label, "today": int(a), "lower_bound": int(b), "proposed": int(c),
              "crew_hours_per_day_each": round(s.hours_per_day, 2), "cost_each": round(slot_cost(s, night_cost), 2),
              "offered_load_busiest_hour": offered.get(s.label + "@" + s.team_name)}
             for s, a, b, c in zip(sl, today, lb, counts)]
    return {
        "scenario": sc.name, "load": load, "replications": reps, "seed": sc.run.seed, "night_cost": night_cost,
        "max_per_slot": max_per_slot, "holds": final_v.status == "HOLDS",
        "minimal_wrt_single_removals": bool(minimal_checked),
        "minimality_note": ("removing any single proposed crew makes the verdict miss (checked by simulation with the "
                            "same seeds); this is minimal with respect to single-crew removals, not a proof of the "
                            "global minimum"),
        "infeasible": infeasible,
        "crew_hours_per_day": {"today": round(crew_hours_per_day(sl, today), 2),
                               "proposed": round(crew_hours_per_day(sl, counts), 2)},
        "cost_per_day": {"today": round(sum(slot_cost(s, night_cost) * c for s, c in zip(sl, today)), 2),
                         "proposed": round(sum(slot_cost(s, night_cost) * c for s, c in zip(sl, counts)), 2)},
        "table": table, "steps": steps, "removals": removals, "evaluations": ev.runs,
        "simulated_years": round(ev.runs * reps * sc.run.horizon_days / 365.0, 2),
        "verdict": verdict_json(final_v, final_summary),
        "on_time": final_summary.on_time,
        "by_team": {t: {"rate": b["rate"], "ci95": b["ci95"], "p90_min": b["response_min"]["p90"],
                        "utilization": b["utilization"]} for t, b in final_summary.by_team.items()},
        "scenario_obj": proposal,
    }


def variant_yaml(scenario, variant, out_dir, load: float | None = None) -> str:
    """``staffing_variant.yaml``: ``extends`` the scenario and lists the teams with the proposed crews
    (and the load they were found for, when it is not the scenario's own)."""
    from .placement import variant_yaml as _variant

    head = ("# Proposed by `dispatch-sim staff`: the fewest crews per team and shift found to keep every township\n"
            "# on target at this load (minimal with respect to single-crew removals). Simulated, not observed.\n")
    text = _variant(scenario, variant, out_dir, header=head)
    if load is not None and load != scenario.run.load:
        text += f"run:\n  load: {load!r}\n"
    return text


def check_inputs(night_cost: float, max_per_slot: int) -> None:
    if not (night_cost > 0 and math.isfinite(night_cost)):
        raise DispatchSimError(f"--night-cost: must be a positive number, got {night_cost}")
    if max_per_slot < 1:
        raise DispatchSimError(f"--max-per-shift: must be at least 1, got {max_per_slot}")
