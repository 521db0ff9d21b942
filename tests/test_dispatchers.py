"""The two dispatchers behind the engine make exactly the same decisions, the model invariants hold
on both, and hub labels give exact travel times: the fast path is only faster, never different."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse.csgraph import dijkstra

from dispatch_sim import World, scenario_from_dict, settings
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from dispatch_sim import metrics
from dispatch_sim.sim import can_compile, dispatcher_for
from dispatch_sim.sim.compiled import CompiledDispatcher
from dispatch_sim.sim.engine import run_replication
from dispatch_sim.sim.readable import ReadableDispatcher
from dispatch_sim.routing import Router
from dispatch_sim.speeds import BandTable, TimeBand

from .conftest import small_scenario

FIELDS = ("dispatched_min", "arrived_min", "cleared_min", "travel_min", "crew_busy_min", "crew_duty_min",
          "crew_return_min")


def _busy_scenario(policy: str, queue: str = "own_first") -> dict:
    """Shifts (one wrapping midnight, one on weekdays only), a district squad, three priorities and
    a load that makes reports wait: queues, crews sent on from the road, crews going off duty
    after their job and coming back on."""
    shifts = [{"start": "08:00", "end": "20:00", "crews": 2}, {"start": "20:00", "end": "08:00", "crews": 1},
              {"start": "09:00", "end": "17:00", "crews": 1, "days": "weekdays"}]
    data = small_scenario(
        run={"horizon_days": 9, "warmup_days": 0.5, "replications": 1, "seed": 21},
        demand={"reports_per_day": 160, "categories": [
            {"name": "urgent", "share": 0.2, "priority": 1, "work_min": {"dist": "exponential", "mean_min": 40}},
            {"name": "normal", "share": 0.5, "priority": 2, "work_min": {"dist": "lognormal", "mean_min": 50, "sd_min": 30}},
            {"name": "routine", "share": 0.3, "priority": 3, "work_min": {"dist": "fixed", "value_min": 30}}]},
        dispatch={"policy": policy, "mutual_aid_threshold_min": 12, "mutual_aid_max_eta_min": 30, "queue": queue},
        speeds={"time_bands": [{"name": "am", "start": "07:30", "end": "09:00", "factor": 0.6}]},
    )
    for t in data["teams"]:
        t.pop("crews")
        t["shifts"] = shifts
    data["teams"].append({"name": "squad", "base": {"lon": 120.75, "lat": 30.74}, "crews": 1, "backup": True})
    return data


@pytest.mark.parametrize("policy,queue", [("home_team", "own_first"), ("nearest", "own_first"),
                                          ("home_then_mutual_aid", "own_first"), ("home_then_mutual_aid", "fifo")])
def test_compiled_dispatcher_matches_the_readable_one(small_world, policy, queue, monkeypatch):
    world = World(scenario_from_dict(_busy_scenario(policy, queue)), G=small_world.G)
    assert can_compile(world, policy)
    reports = world.reports(0)
    fast = run_replication(world, reports, CompiledDispatcher)
    slow = run_replication(world, reports, ReadableDispatcher)
    assert slow.queued.sum() > 20 and len(set(fast.crew[fast.crew >= 0])) == len(fast.crew_names)
    np.testing.assert_array_equal(fast.team, slow.team)
    np.testing.assert_array_equal(fast.crew, slow.crew)
    np.testing.assert_array_equal(fast.queued, slow.queued)
    for name in FIELDS:
        np.testing.assert_allclose(getattr(fast, name), getattr(slow, name), rtol=0, atol=1e-9, err_msg=name)
    assert fast.events == slow.events
    # and the switch: World.simulate runs the readable dispatcher when the compiled one is turned off
    assert dispatcher_for(world) is CompiledDispatcher
    monkeypatch.setattr(settings, "compiled_dispatch", False)
    assert not can_compile(world, policy) and dispatcher_for(world) is ReadableDispatcher
    np.testing.assert_array_equal(world.simulate(0, reports=reports).crew, slow.crew)


def test_a_policy_registered_in_place_of_a_built_in_runs_on_the_readable_dispatcher(small_world, monkeypatch):
    from dispatch_sim.policies import POLICIES, HomeTeam

    class NeverSendAnyone(HomeTeam):
        def choose(self, sim, rid):
            return None, float("inf")

    monkeypatch.setitem(POLICIES, "home_team", NeverSendAnyone)
    world = World(scenario_from_dict(small_scenario()), G=small_world.G, router=small_world.router)
    assert not can_compile(world, "home_team")
    res = world.simulate(0)
    assert res.queued.all() and np.isnan(res.arrived_min).all()  # the override, not the compiled home_team


def test_a_policy_of_your_own_runs_from_a_scenario_on_the_python_model(small_world, monkeypatch):
    """The documented policy interface: subclass, register under a new name, name it in the scenario."""
    from dispatch_sim.policies import POLICIES, Nearest

    class NearestAtBaseOnly(Nearest):
        name = "nearest_at_base_only"

        def choose(self, sim, rid):
            return sim.best_crew(rid, [c for c in sim.all_free() if c.ret_end <= sim.now], float("inf"))

    monkeypatch.setitem(POLICIES, NearestAtBaseOnly.name, NearestAtBaseOnly)
    data = small_scenario(dispatch={"policy": NearestAtBaseOnly.name}, demand={"reports_per_day": 120})
    world = World(scenario_from_dict(data), G=small_world.G, router=small_world.router)
    assert not can_compile(world, NearestAtBaseOnly.name)
    mine = world.simulate(0)
    world.scenario.dispatch.policy = "nearest"
    nearest = world.simulate(0)
    assert np.isfinite(mine.arrived_min).sum() > 0
    assert not np.array_equal(mine.crew, nearest.crew)  # crews on the road were never sent: a different table


def test_hub_labels_give_exact_travel_times_on_real_roads(helsinki_graph, tmp_path):
    """Every band, random pairs of nodes on the Helsinki OSM extract: labels equal Dijkstra (1e-6 s),
    unreachable pairs are inf; and labels come back from the disk cache unchanged."""
    bands = BandTable([TimeBand("am", 450, 540, {"primary": 0.5, "default": 0.8})])
    R = Router(helsinki_graph, bands, list(helsinki_graph.nodes)[:2], cache_dir=tmp_path)
    assert R.has_labels and R.label_ptr.shape == (2, 2, R.n + 1)
    rng = np.random.default_rng(4)
    src = rng.choice(R.n, 12, replace=False)
    dst = rng.choice(R.n, min(300, R.n), replace=False)
    for band in range(2):
        truth = dijkstra(R.fwd[band], indices=src)[:, dst]
        got = np.array([[R.tt(band, s, d) for d in dst] for s in src])
        assert np.array_equal(np.isinf(got), np.isinf(truth))
        fin = np.isfinite(truth)
        assert np.abs(got[fin] - truth[fin]).max() < 1e-6
    R2 = Router(helsinki_graph, bands, list(helsinki_graph.nodes)[:2], cache_dir=tmp_path)
    assert R2.matrices_from_cache and np.array_equal(R2.label_s, R.label_s)


def test_graphs_above_the_label_limit_use_searches(helsinki_graph, monkeypatch):
    monkeypatch.setattr(settings, "router_label_max_nodes", 10)
    R = Router(helsinki_graph, None, list(helsinki_graph.nodes)[:2], use_disk_cache=False)
    assert not R.has_labels
    a, b = R.index[list(helsinki_graph.nodes)[5]], R.index[list(helsinki_graph.nodes)[40]]
    assert R.tt(0, a, b) == pytest.approx(float(dijkstra(R.fwd[0], indices=a)[b]), abs=1e-6)


def test_compiled_dispatcher_matches_the_readable_one_with_closures_and_weather(small_world):
    """Disruption bands (a closed area in a daily window, a weather day) go through both dispatchers
    identically: the band lookup covers the horizon instead of repeating weekly."""
    data = _busy_scenario("home_then_mutual_aid")
    data["disruptions"] = [
        {"name": "flood", "start_day": 2, "end_day": 5, "start": "06:00", "end": "18:00",
         "roads": {"polygon": [[120.74, 30.73], [120.76, 30.73], [120.76, 30.75], [120.74, 30.75]]}, "closed": True},
        {"name": "typhoon", "start_day": 3, "end_day": 4, "weather_factor": 0.5}]
    world = World(scenario_from_dict(data), G=small_world.G)
    assert can_compile(world, "home_then_mutual_aid") and len(world.bands.bands) > 2
    reports = world.reports(0)
    fast = run_replication(world, reports, CompiledDispatcher)
    slow = run_replication(world, reports, ReadableDispatcher)
    np.testing.assert_array_equal(fast.crew, slow.crew)
    for name in FIELDS:
        np.testing.assert_allclose(getattr(fast, name), getattr(slow, name), rtol=0, atol=1e-9, err_msg=name)
    plain = World(scenario_from_dict(_busy_scenario("home_then_mutual_aid")), G=small_world.G).simulate(0)
    assert not np.array_equal(plain.travel_min, fast.travel_min)  # the disruptions changed the drives


# ---------------------------------------------------------------- equivalence as a property

_WORLDS: dict = {}


def _variant_world(small_world, shifts: bool, priorities: bool, referrals: bool = False,
                   campaigns: bool = False) -> World:
    """One world per shift plan × priority classes × referrals (built once): shifts wrap midnight and
    include a weekday-only shift; priorities are three classes with different work-time laws; with
    referrals, a category outside the delegated list goes (after a referral delay) to a district team
    that does not back up townships, and another to the backup squad, which now owns it; with campaigns,
    planned inspections take crews out of service on a weekly calendar (one session across a shift
    change, overlapping sessions) and urgent reports recall them."""
    key = (shifts, priorities, referrals, campaigns)
    if key not in _WORLDS:
        data = _busy_scenario("home_team")
        if not shifts:
            for t in data["teams"]:
                t.pop("shifts", None)
                t["crews"] = 2 if not t.get("backup") else 1
        if not priorities:
            data["demand"]["categories"] = [{"name": "any", "share": 1, "work_min": {"dist": "lognormal",
                                                                                     "mean_min": 45, "sd_min": 25}}]
        if referrals:
            data["demand"]["categories"] += [
                {"name": "permit", "share": 0.3, "priority": 2, "delegated": False},
                {"name": "market", "share": 0.2, "priority": 1, "delegated": False,
                 "work_min": {"dist": "exponential", "mean_min": 30}}]
            data["dispatch"]["referral_delay_min"] = {"dist": "lognormal", "mean_min": 40, "sd_min": 20}
            data["teams"][-1]["handles"] = ["market"]  # the backup squad owns a matter too
            data["teams"].append({"name": "env", "level": "district", "backs_up": False, "handles": ["permit"],
                                  "base": {"lon": 120.73, "lat": 30.75},
                                  "shifts": [{"start": "08:00", "end": "18:00", "crews": 1, "days": "weekdays"}]})
        if campaigns:
            data["planned_inspections"] = {"recall": True, "recall_priority": 2, "recall_delay_min": 12, "campaigns": [
                {"name": "am", "teams": ["A", "B"], "weekdays": ["Mon", "Wed", "Fri"], "start": "09:00", "end": "12:00"},
                {"name": "eve", "teams": ["C", "squad"], "weekdays": ["Tue"], "days": [3, 5], "start": "18:00",
                 "end": "22:00", "crews": 2},
                {"name": "overlap", "teams": ["A"], "days": [0, 2], "start": "10:00", "end": "16:00"}]}
        _WORLDS[key] = World(scenario_from_dict(data), G=small_world.G)
    return _WORLDS[key]


def assert_same_replication(fast, slow, world) -> None:
    """Both dispatchers keep the invariants and give the same incident table: crews, teams, queueing
    and every time, to 1e-9 min."""
    for res in (fast, slow):
        assert_invariants(res, world)
    np.testing.assert_array_equal(fast.crew, slow.crew)
    np.testing.assert_array_equal(fast.team, slow.team)
    np.testing.assert_array_equal(fast.queued, slow.queued)
    for name in FIELDS:
        np.testing.assert_allclose(getattr(fast, name), getattr(slow, name), rtol=0, atol=1e-9, err_msg=name)


def assert_invariants(res, world) -> None:
    """Every report accounted for; times in order; no crew on two jobs; busy time within duty time."""
    df = metrics.incidents_frame(res, world)
    assert len(df) == len(res.reports)
    served = df["arrived_min"].notna()
    assert int(served.sum() + (~served).sum()) == len(res.reports)
    s = df[served]
    assert (s["dispatched_min"] >= s["created_min"] - 1e-9).all()
    assert (s["arrived_min"] >= s["dispatched_min"] - 1e-9).all()
    c = s[s["cleared_min"].notna()]
    assert (c["cleared_min"] >= c["arrived_min"] - 1e-9).all()
    assert (s["arrived_min"] <= res.horizon_min + 1e-9).all()
    for crew, g in df[df["dispatched_min"].notna()].sort_values("dispatched_min").groupby("crew"):
        d = g["dispatched_min"].to_numpy()
        e = g["cleared_min"].fillna(np.inf).to_numpy()
        assert (d[1:] >= e[:-1] - 1e-9).all(), crew
    assert df.loc[df["dispatched_min"].isna(), "arrived_min"].isna().all()
    assert (res.crew_busy_min <= res.crew_duty_min + 1e-6).all()
    if "referred" in df.columns:  # a referred report is served by the district team that owns it, and only by it
        own = np.array([t.name for t in world.scenario.teams], dtype=object)[res.reports.serving_team]
        sent = df["team"] != ""
        ref = (sent & df["referred"]).to_numpy()
        assert (df.loc[ref, "team"] == own[ref]).all()
        district = {t.name for t in world.scenario.teams if t.backup and not t.backs_up}
        assert not (df.loc[sent & ~df["referred"], "team"].isin(district)).any()
    rows = res.extra.get("joint_crews")
    if rows is not None:  # joint checks: every crew of every job, none on two jobs at once
        assert_no_crew_on_two_jobs(res, world, df)


def assert_no_crew_on_two_jobs(res, world, df) -> None:
    """Every crew's jobs, single-crew and joint, one after the other: a crew is held on a joint check
    from its own dispatch until the check clears; every complete check has all the crews it needs."""
    rows = res.extra["joint_crews"]
    joint = set(rows[:, 0].astype(int).tolist())
    spans: dict[int, list] = {}
    for rid in np.flatnonzero(~np.isnan(res.dispatched_min)):
        if rid not in joint:
            spans.setdefault(int(res.crew[rid]), []).append((res.dispatched_min[rid], res.cleared_min[rid]))
    for rid, c, d, _a, _t in rows:
        spans.setdefault(int(c), []).append((d, res.cleared_min[int(rid)]))
    for c, sp in spans.items():
        sp.sort()
        for (d0, e0), (d1, _e1) in zip(sp, sp[1:]):
            assert d1 >= (np.inf if np.isnan(e0) else e0) - 1e-9, (res.crew_names[c], sp)
    cats = world.scenario.demand.categories
    n = np.bincount(rows[:, 0].astype(int), minlength=len(res.reports))
    for rid in np.flatnonzero(~np.isnan(res.arrived_min)):
        need = sum(cats[res.reports.category[rid]].joint.values()) or 1
        assert max(n[rid], 1) == need, (rid, n[rid], need)


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 100_000), load=st.floats(0.3, 6.0),
       policy=st.sampled_from(["home_team", "nearest", "home_then_mutual_aid"]),
       queue=st.sampled_from(["own_first", "fifo"]), shifts=st.booleans(), priorities=st.booleans(),
       referrals=st.booleans(), campaigns=st.booleans())
def test_both_dispatchers_give_identical_incident_tables_and_event_counts(small_world, seed, load, policy, queue,
                                                                         shifts, priorities, referrals, campaigns):
    world = _variant_world(small_world, shifts, priorities, referrals, campaigns)
    world.scenario.dispatch.policy = policy
    world.scenario.dispatch.queue = queue
    reports = world.reports(0, seed=seed, load=load)
    fast = run_replication(world, reports, CompiledDispatcher)
    slow = run_replication(world, reports, ReadableDispatcher)
    assert_same_replication(fast, slow, world)
    assert fast.events == slow.events
    if campaigns:
        np.testing.assert_allclose(fast.extra["planned_min"], slow.extra["planned_min"], rtol=0, atol=1e-9)
        assert fast.extra["recalls"] == slow.extra["recalls"]


# ---------------------------------------------------------------- joint checks and planned inspections

_JOINT_WORLDS: dict = {}


def _joint_world(small_world, recall: bool) -> World:
    """Joint checks (township + a district team; two crews of one township), planned inspections
    (weekday campaigns of two townships, one wrapping a shift change), referrals and shifts."""
    if recall not in _JOINT_WORLDS:
        data = _busy_scenario("home_team")
        data["demand"]["categories"] += [
            {"name": "joint", "share": 0.15, "priority": 1, "joint": {"home": 1, "env": 1}},
            {"name": "pair", "share": 0.1, "priority": 2, "joint": {"home": 2}},
            {"name": "permit", "share": 0.1, "delegated": False}]
        data["teams"].append({"name": "env", "level": "district", "backs_up": False, "handles": ["permit"],
                              "base": {"lon": 120.73, "lat": 30.75}, "crews": 2})
        data["planned_inspections"] = {"recall": recall, "recall_delay_min": 10, "campaigns": [
            {"name": "am", "teams": ["A", "B"], "weekdays": ["Mon", "Wed", "Fri"], "start": "09:00", "end": "12:00"},
            {"name": "pm", "teams": ["C", "env"], "weekdays": ["Tue"], "days": [5], "start": "16:00", "end": "21:00",
             "crews": 2}]}
        _JOINT_WORLDS[recall] = World(scenario_from_dict(data), G=small_world.G)
    return _JOINT_WORLDS[recall]


@hsettings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 100_000), load=st.floats(0.3, 4.0),
       policy=st.sampled_from(["home_team", "nearest", "home_then_mutual_aid"]), recall=st.booleans())
def test_joint_checks_and_planned_inspections_on_both_dispatchers(small_world, seed, load, policy, recall):
    """Joint checks, campaigns (with and without recall), referrals and shifts together: both
    dispatchers give identical incident tables, crew rows of the joint checks, planned minutes and
    event counts; and every invariant holds (every report accounted for, no crew on two jobs, every
    complete joint check with all its crews, referrals only by their owner, busy within duty)."""
    world = _joint_world(small_world, recall)
    world.scenario.dispatch.policy = policy
    assert dispatcher_for(world) is CompiledDispatcher
    reports = world.reports(0, seed=seed, load=load)
    slow = run_replication(world, reports, ReadableDispatcher)
    fast = run_replication(world, reports, CompiledDispatcher)
    assert_same_replication(fast, slow, world)
    np.testing.assert_allclose(fast.extra["joint_crews"], slow.extra["joint_crews"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(fast.extra["planned_min"], slow.extra["planned_min"], rtol=0, atol=1e-9)
    assert fast.extra["recalls"] == slow.extra["recalls"]
    assert fast.events == slow.events
    assert (slow.extra["planned_min"] >= 0).all() and slow.extra["planned_min"].sum() > 0
    assert len(slow.extra["joint_crews"]) > 0
