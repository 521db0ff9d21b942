"""Move-up: a township left without a free crew is covered by a neighbour's crew, worked out by hand
on a line, and the model's invariants still hold with it."""

from __future__ import annotations

import numpy as np
import pytest

from dispatch_sim import World, run_scenario, scenario_from_dict
from dispatch_sim.demand import Reports
from dispatch_sim.metrics import incidents_frame

from .conftest import small_scenario
from .test_planning import LAT0, LON0, NO_DELAY, STEP_DEG, line_graph


def _reports(w, rows):
    """Hand-made reports: (created min, node id, work min), ready at once, no turnout."""
    idx = w.router.index
    n = len(rows)
    node = np.array([idx[r[1]] for r in rows], dtype=np.int64)
    return Reports(created_min=np.array([r[0] for r in rows], float), ready_min=np.array([r[0] for r in rows], float),
                   turnout_min=np.zeros(n), node=node, snap_m=np.zeros(n), category=np.zeros(n, dtype=np.int16),
                   priority=np.full(n, 2, dtype=np.int16), promise=np.ones(n, dtype=bool),
                   work_min=np.array([r[2] for r in rows], float), home_team=w.node_team[node].astype(np.int16))


def _line(move_up: bool):
    """A at node 1 (one crew), B at node 6 (two crews), 10 min between neighbouring nodes."""
    G = line_graph(6)
    teams = [{"name": "A", "base": {"lon": LON0, "lat": LAT0}, "crews": 1},
             {"name": "B", "base": {"lon": LON0 + 5 * STEP_DEG, "lat": LAT0}, "crews": 2}]
    data = small_scenario(teams=teams, run={"horizon_days": 1, "warmup_days": 0.01, "replications": 1},
                          dispatch={"policy": "home_team", "move_up": move_up, **NO_DELAY})
    return World(scenario_from_dict(data), G=G, use_disk_cache=False)


def test_a_covering_crew_serves_the_uncovered_township_by_hand():
    """t=10: report at node 2 takes A's only crew (120 min on scene). B (two free) sends a crew to
    A's base: 50 min, there at t=60. t=100: a second report at node 2 is served by it, 10 min away.
    Without move-up it waits for A's crew: dispatched at t=140 when that crew clears at node 2."""
    rows = [(10.0, 2, 120.0), (100.0, 2, 30.0)]
    w = _line(True)
    res = w.simulate(0, reports=_reports(w, rows))
    assert res.extra["move_ups"] == 1
    assert res.crew_names[res.crew[1]].startswith("B#")
    assert res.dispatched_min[1] == pytest.approx(100.0) and res.travel_min[1] == pytest.approx(10.0)
    assert res.arrived_min[1] == pytest.approx(110.0)
    w0 = _line(False)
    res0 = w0.simulate(0, reports=_reports(w0, rows))
    assert res0.crew_names[res0.crew[1]] == "A#1" and res0.dispatched_min[1] == pytest.approx(140.0)
    assert res0.arrived_min[1] == pytest.approx(140.0)


def test_a_move_that_is_no_longer_needed_turns_back():
    """A's crew clears at t=40 (10 min there, 20 on scene) while B's crew is still on its way to A's
    base (due at t=60): it turns round, so a report at node 6 at t=200 is served from B's base with
    no travel at all."""
    rows = [(10.0, 2, 20.0), (200.0, 6, 10.0)]
    w = _line(True)
    res = w.simulate(0, reports=_reports(w, rows))
    assert res.extra["move_ups"] == 1
    assert res.travel_min[1] == pytest.approx(0.0) and res.crew_names[res.crew[1]].startswith("B#")


def test_move_up_keeps_the_invariants_and_helps(small_world):
    data = small_scenario(run={"horizon_days": 6, "warmup_days": 0.5, "replications": 2},
                          demand={"reports_per_day": 60}, dispatch={"policy": "home_team", "move_up": True})
    shifts = [{"start": "08:00", "end": "20:00", "crews": 3}, {"start": "20:00", "end": "08:00", "crews": 2}]
    for t in data["teams"]:
        t.pop("crews")
        t["shifts"] = shifts
    w = World(scenario_from_dict(data), G=small_world.G, router=small_world.router)
    assert any("readable dispatcher" in m for m in w.warnings)
    res = w.simulate(0)
    df = incidents_frame(res, w)
    assert res.extra["move_ups"] > 0
    assert len(df) == df["arrived_min"].notna().sum() + df["arrived_min"].isna().sum()
    ok = df.dropna(subset=["dispatched_min"])
    assert (ok["dispatched_min"] >= ok["created_min"] - 1e-9).all()
    assert (ok["arrived_min"].dropna() >= ok.loc[ok["arrived_min"].notna(), "dispatched_min"] - 1e-9).all()
    for crew, g in ok.groupby("crew"):  # no crew on two jobs at once
        g = g.sort_values("dispatched_min")
        end = g["cleared_min"].fillna(res.horizon_min).to_numpy()
        assert (g["dispatched_min"].to_numpy()[1:] >= end[:-1] - 1e-9).all(), crew
    committed = res.crew_busy_min + res.crew_return_min
    assert (committed <= res.crew_duty_min + 1e-6).all()
    s = run_scenario(w).summary
    assert s.move_ups > 0
