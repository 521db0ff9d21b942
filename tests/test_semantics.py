"""What the scenario fields and the summary figures mean, checked against a second computation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dispatch_sim import World, run_scenario, scenario_from_dict, settings
from dispatch_sim.metrics import incidents_frame

from .conftest import small_scenario


def _counts(world, days, window, seed=3):
    rep = world.reports(0, seed=seed)
    t = rep.created_min
    inside = (t >= window[0] * 1440) & (t < window[1] * 1440)
    home = rep.home_team
    return {i: (int(((home == i) & inside).sum()), int(((home == i) & ~inside).sum())) for i in range(3)}


def test_a_team_surge_multiplies_that_teams_own_rate_and_nothing_else(small_world):
    """factor 2 on team A in days 10-60: A's reports in the window double (within sampling error);
    A outside the window, and B and C everywhere, keep exactly the reports they had."""
    days = 80
    base = small_scenario(run={"horizon_days": days, "warmup_days": 1, "replications": 1})
    surge = small_scenario(run={"horizon_days": days, "warmup_days": 1, "replications": 1},
                           demand={"reports_per_day": 30,
                                   "surges": [{"name": "s", "start_day": 10, "end_day": 60, "factor": 2.0, "teams": ["A"]}]})
    w0 = World(scenario_from_dict(base), G=small_world.G, router=small_world.router)
    w1 = World(scenario_from_dict(surge), G=small_world.G, router=small_world.router)
    c0, c1 = _counts(w0, days, (10, 60)), _counts(w1, days, (10, 60))
    for i in (1, 2):
        assert c1[i] == c0[i]  # other teams: the very same reports
    assert c1[0][1] == c0[0][1]  # A outside the window unchanged
    n0, n1 = c0[0][0], c1[0][0]
    assert n0 > 300
    extra = n1 - n0  # Poisson with mean ~ n0 (factor - 1 = 1)
    assert abs(extra - n0) < 4.5 * math.sqrt(2 * n0), (n0, n1)
    # and not the whole district's rate: that would add about three times as many
    total0 = sum(v[0] for v in c0.values())
    assert extra < 0.7 * total0


def test_busy_time_is_recomputed_from_the_incident_table(small_world, monkeypatch):
    """Busy (sent until clear) per crew equals the sum over its jobs in the incident table, on both
    dispatchers; committed adds drives back; both are shares of on-duty time at most 1, even in
    overload with shifts ending mid-job."""
    data = small_scenario(run={"horizon_days": 4, "warmup_days": 0.5, "replications": 1}, demand={"reports_per_day": 400})
    for t in data["teams"]:
        t.pop("crews")
        t["shifts"] = [{"start": "08:00", "end": "20:00", "crews": 2}, {"start": "20:00", "end": "08:00", "crews": 1}]
    w = World(scenario_from_dict(data), G=small_world.G, router=small_world.router)
    for compiled in (True, False):
        monkeypatch.setattr(settings, "compiled_dispatch", compiled)
        res = w.simulate(0)
        df = incidents_frame(res, w)
        end = df["cleared_min"].fillna(res.horizon_min)
        job = (end - df["dispatched_min"]).where(df["dispatched_min"].notna(), 0.0)
        by_crew = job.groupby(df["crew"]).sum()
        for k, name in enumerate(res.crew_names):
            assert res.crew_busy_min[k] == pytest.approx(by_crew.get(name, 0.0), abs=1e-6), name
        assert (res.crew_return_min >= 0).all() and res.crew_return_min.sum() > 0
        committed = res.crew_busy_min + res.crew_return_min
        assert (res.crew_busy_min <= res.crew_duty_min + 1e-6).all()
        assert (committed <= res.crew_duty_min + 1e-6).all()
    s = run_scenario(w, replications=1).summary
    for name, b in s.by_team.items():
        assert 0 <= b["utilization"] <= b["committed"] <= 1
    assert max(s.crew_committed.values()) > 0.9  # overload: nearly always committed, never above 1


def test_fifo_queue_serves_other_townships_waiting_reports_in_arrival_order(small_world):
    """With mutual aid, a crew freeing up takes its own township's queue first (own_first) or the
    most urgent, oldest report of any township (fifo): the longest waits shrink with fifo."""
    data = small_scenario(run={"horizon_days": 6, "warmup_days": 0.5, "replications": 1},
                          demand={"reports_per_day": 150, "where": [
                              {"kind": "township", "shares": {"A": 0.6, "B": 0.2, "C": 0.2}}]},
                          dispatch={"policy": "home_then_mutual_aid"})
    runs = {}
    for q in ("own_first", "fifo"):
        d = {**data, "dispatch": {**data["dispatch"], "queue": q}}
        w = World(scenario_from_dict(d), G=small_world.G, router=small_world.router)
        res = w.simulate(0)
        runs[q] = (res, incidents_frame(res, w))
    own, fifo = runs["own_first"][1], runs["fifo"][1]
    assert not own["crew"].equals(fifo["crew"])  # the option changes decisions
    a_own = own[own["home_team"] == "A"]["wait_min"].max()
    a_fifo = fifo[fifo["home_team"] == "A"]["wait_min"].max()
    assert a_fifo < a_own  # A's reports, starved under own_first, wait less under fifo
    # fifo: reports taken from the queues leave in (priority, ready) order: within a priority, a
    # report never leaves the queue before one that was ready earlier
    for q, strict in (("fifo", True), ("own_first", False)):
        res = runs[q][0]
        sel = np.flatnonzero(res.queued & ~np.isnan(res.dispatched_min))
        order = sel[np.argsort(res.dispatched_min[sel], kind="stable")]
        inversions = 0
        for prio in (1, 2, 3):
            o = order[res.reports.priority[order] == prio]
            ready = res.reports.ready_min[o]
            inversions += int((np.diff(ready) < -1e-9).sum())
        assert (inversions == 0) if strict else (inversions > 0), (q, inversions)


def test_promise_reach_adds_dispatch_delay_and_turnout_to_the_drive(small_world):
    """Fixed delay 3 min + turnout 2 min: an idle crew arrives within 30 min exactly where the drive
    from the own base is at most 25 min; the demand share reached equals that share by hand."""
    from dispatch_sim.coverage import coverage_summary, demand_weights, promise_reach

    data = small_scenario(dispatch={"policy": "home_team", "dispatch_delay_min": {"dist": "fixed", "value_min": 3},
                                    "turnout_min": {"dist": "fixed", "value_min": 2}})
    w = World(scenario_from_dict(data), G=small_world.G, router=small_world.router)
    minutes = 12.0  # small graph: a budget that leaves some places out
    pr = promise_reach(w, minutes)
    r = w.router
    drive = r.from_base[0][w.node_team, np.arange(r.n)] / 60.0
    np.testing.assert_array_equal(pr["p_own"] == 1.0, drive <= minutes - 5.0 + 1e-12)
    np.testing.assert_array_equal(pr["p_own"] == 0.0, drive > minutes - 5.0 + 1e-12)
    weight = demand_weights(w)
    band = coverage_summary(w, minutes)["bands"]["off_peak"]
    assert 0 < band["promise_reach90_share_own_base"] < 1
    assert band["promise_reach90_share_own_base"] == pytest.approx(float(weight[drive <= minutes - 5.0].sum()), abs=1e-4)
    assert band["demand_share_own_base"] == pytest.approx(float(weight[drive <= minutes].sum()), abs=1e-4)


def test_a_team_surge_below_one_thins_that_teams_own_reports(small_world):
    days = 60
    base = small_scenario(run={"horizon_days": days, "warmup_days": 1, "replications": 1})
    calm = small_scenario(run={"horizon_days": days, "warmup_days": 1, "replications": 1},
                          demand={"reports_per_day": 30,
                                  "surges": [{"name": "calm", "start_day": 5, "end_day": 55, "factor": 0.5, "teams": ["A"]}]})
    w0 = World(scenario_from_dict(base), G=small_world.G, router=small_world.router)
    w1 = World(scenario_from_dict(calm), G=small_world.G, router=small_world.router)
    c0, c1 = _counts(w0, days, (5, 55)), _counts(w1, days, (5, 55))
    for i in (1, 2):
        assert c1[i] == c0[i]
    n0, n1 = c0[0][0], c1[0][0]
    assert n0 > 300 and abs(n1 - 0.5 * n0) < 4.5 * math.sqrt(0.25 * n0)
