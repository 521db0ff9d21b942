"""The SimPy model: every report accounted for, reproducible, right against queueing theory."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from dispatch_sim import World, scenario_from_dict
from dispatch_sim import metrics
from dispatch_sim.experiments import run_scenario

from .conftest import small_scenario


def _incidents(world, rep=0, **kw):
    res = world.simulate(rep, **kw)
    return res, metrics.incidents_frame(res, world)


def test_every_report_is_accounted_for(small_world):
    run = run_scenario(small_world)
    r = run.summary.reports
    assert r["total"] == r["served"] + r["open_at_horizon"]
    assert r["total"] == len(run.incidents) == sum(len(x.reports) for x in run.results)


@hsettings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), load=st.floats(0.2, 8.0),
       policy=st.sampled_from(["home_team", "nearest", "home_then_mutual_aid"]))
def test_invariants_hold_for_any_seed_load_and_policy(small_world, seed, load, policy):
    world = small_world
    world.scenario.dispatch.policy = policy
    try:
        res, df = _incidents(world, seed=seed, load=load)
    finally:
        world.scenario.dispatch.policy = "home_team"
    served = df["arrived_min"].notna()
    assert len(df) == served.sum() + (~served).sum()
    s = df[served]
    # times are ordered: created <= dispatched <= arrived <= cleared (when cleared)
    assert (s["dispatched_min"] >= s["created_min"] - 1e-9).all()
    assert (s["arrived_min"] >= s["dispatched_min"] - 1e-9).all()
    c = s[s["cleared_min"].notna()]
    assert (c["cleared_min"] >= c["arrived_min"] - 1e-9).all()
    assert (s["arrived_min"] <= res.horizon_min + 1e-9).all()
    # no crew in two places: a crew's jobs never overlap (dispatch of the next after clearing the last)
    for crew, g in s.sort_values("dispatched_min").groupby("crew"):
        d = g["dispatched_min"].to_numpy()
        e = g["cleared_min"].fillna(np.inf).to_numpy()
        assert (d[1:] >= e[:-1] - 1e-9).all(), crew
    # a report never dispatched is still open and counted
    assert df.loc[df["dispatched_min"].isna(), "arrived_min"].isna().all()


def test_same_seed_same_incident_table(small_world):
    _, a = _incidents(small_world, seed=11)
    _, b = _incidents(small_world, seed=11)
    pd.testing.assert_frame_equal(a, b)
    _, c = _incidents(small_world, seed=12)
    assert not a["created_min"].equals(c["created_min"])


def test_variants_see_the_same_reports(small_world):
    """Common random numbers: a policy change does not change the reports."""
    data = small_scenario(dispatch={"policy": "nearest"})
    other = World(scenario_from_dict(data), G=small_world.G, router=small_world.router)
    a = small_world.reports(0)
    b = other.reports(0)
    assert np.array_equal(a.created_min, b.created_min) and np.array_equal(a.node, b.node)
    assert np.array_equal(a.work_min, b.work_min)


def test_lower_load_reports_are_a_subset_of_higher_load(small_world):
    lo = small_world.reports(0, load=1.0, coupling_load=4.0)
    hi = small_world.reports(0, load=3.0, coupling_load=4.0)
    assert len(lo) < len(hi)
    assert set(zip(lo.created_min.round(9), lo.node)) <= set(zip(hi.created_min.round(9), hi.node))


def test_profiles_shape_arrivals(small_world):
    rep = small_world.reports(0, load=30)
    hours = (rep.created_min // 60 % 24).astype(int)
    counts = np.bincount(hours, minlength=24)
    assert counts[9:11].sum() > 4 * counts[2:4].sum()  # default profile: day far busier than night


def _erlang_c_wait(lam, mu, c):
    a = lam / mu
    rho = a / c
    s = sum(a ** k / math.factorial(k) for k in range(c))
    top = a ** c / (math.factorial(c) * (1 - rho))
    pw = top / (s + top)
    return pw / (c * mu - lam)


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "readable"])
def test_mm_c_queue_matches_erlang_c(small_world, compiled, monkeypatch):
    """Zero travel, exponential work, Poisson arrivals, one team of c crews: the mean wait in queue
    must fall within the confidence interval of the simulation's replications around Erlang C, on
    both dispatchers."""
    from dispatch_sim import settings
    from dispatch_sim.sim import dispatcher_for

    monkeypatch.setattr(settings, "compiled_dispatch", compiled)
    c, work_mean, per_day = 3, 60.0, 60.0
    lam, mu = per_day / 1440.0, 1.0 / work_mean
    base = {"lon": 120.75, "lat": 30.74}
    data = small_scenario(
        run={"horizon_days": 40, "warmup_days": 2, "replications": 10, "seed": 3},
        teams=[{"name": "only", "base": base, "crews": c}],
        demand={"reports_per_day": per_day, "hourly_profile": [1] * 24, "weekly_profile": [1] * 7,
                "where": [{"kind": "hotspot", "lon": base["lon"], "lat": base["lat"], "radius_m": 0}],
                "categories": [{"name": "x", "share": 1, "work_min": {"dist": "exponential", "mean_min": work_mean}}]},
        dispatch={"dispatch_delay_min": {"dist": "fixed", "value_min": 0}, "turnout_min": {"dist": "fixed", "value_min": 0}},
    )
    world = World(scenario_from_dict(data), G=small_world.G)
    assert (dispatcher_for(world).__name__ == "CompiledDispatcher") == compiled
    waits = []
    for rep in range(10):
        res, df = _incidents(world, rep)
        assert df.loc[df["arrived_min"].notna(), "travel_min"].abs().max() < 1e-9  # really zero travel
        x = df[~df["warmup"] & df["wait_min"].notna()]
        waits.append(x["wait_min"].mean())
    m, lo, hi = metrics.mean_ci(waits)
    theory = _erlang_c_wait(lam, mu, c)
    assert lo <= theory <= hi, (theory, m, lo, hi)


def test_mutual_aid_helps_an_overloaded_team(small_world):
    data = small_scenario(run={"horizon_days": 6, "replications": 3},
                          demand={"reports_per_day": 60, "where": [{"kind": "township", "shares": {"A": 1.0}}]})
    home = World(scenario_from_dict(data), G=small_world.G, router=small_world.router)
    data["dispatch"] = {"policy": "home_then_mutual_aid", "mutual_aid_threshold_min": 15, "mutual_aid_max_eta_min": 40}
    aid = World(scenario_from_dict(data), G=small_world.G, router=small_world.router)
    a = run_scenario(home).summary
    b = run_scenario(aid).summary
    assert b.on_time["rate"] > a.on_time["rate"]
    assert b.by_team["A"]["served_by_others"] > 0 and a.by_team["A"]["served_by_others"] == 0
    assert sum(b.late_causes.values()) < sum(a.late_causes.values())


def test_more_crews_never_lower_on_time_rate(small_world):
    rates = []
    for crews in (1, 2, 4):
        data = small_scenario(run={"horizon_days": 5, "replications": 3}, demand={"reports_per_day": 80})
        for t in data["teams"]:
            t["crews"] = crews
        w = World(scenario_from_dict(data), G=small_world.G)
        rates.append(run_scenario(w).summary.on_time["rate"])
    assert rates[0] <= rates[1] + 0.01 and rates[1] <= rates[2] + 0.01


def test_shifts_put_crews_off_duty_at_night(small_world):
    data = small_scenario(run={"horizon_days": 4, "replications": 1})
    for t in data["teams"]:
        t.pop("crews")
        t["shifts"] = [{"start": "08:00", "end": "20:00", "crews": 2}, {"start": "20:00", "end": "08:00", "crews": 0}]
    w = World(scenario_from_dict(data), G=small_world.G)
    res, df = _incidents(w)
    hour_disp = (df["dispatched_min"].dropna() // 60 % 24)
    assert ((hour_disp >= 8) & (hour_disp < 20)).all()  # nobody is sent at night
    night = df[(df["created_min"] // 60 % 24 < 6) & df["arrived_min"].notna()]
    assert len(night) and (night["wait_min"] > 0).all()
    duty_frac = res.crew_duty_min / res.horizon_min
    assert np.allclose(duty_frac, 0.5, atol=0.01)


def test_late_causes_are_explained(small_world):
    data = small_scenario(run={"horizon_days": 3, "replications": 1}, demand={"reports_per_day": 200})
    w = World(scenario_from_dict(data), G=small_world.G, router=small_world.router)
    _, df = _incidents(w)
    late = df[df["on_time"] == False]  # noqa: E712
    assert len(late) > 0 and (late["late_cause"] != "").all()
    waited = late[late["late_cause"] == "waited_for_crew"]
    assert (waited["wait_min"] > 0).all()


def test_utilization_is_a_share(small_world):
    s = run_scenario(small_world).summary
    for t in s.by_team.values():
        assert 0 <= t["utilization"] <= 1


def test_wilson_interval():
    lo, hi = metrics.wilson(90, 100)
    assert lo == pytest.approx(0.8256, abs=1e-3) and hi == pytest.approx(0.9448, abs=1e-3)
    assert metrics.wilson(10, 10)[1] == 1.0
