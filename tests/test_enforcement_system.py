"""The enforcement system of the source article (issue 18), each part worked out by hand on a line of
roads 10 minutes apart: the scenic-area team's polygon, referrals to district teams, the staff split
between levels, planned inspections (and recalls), joint checks; and a queueing check with joint jobs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from dispatch_sim import World, scenario_from_dict
from dispatch_sim.demand import Reports
from dispatch_sim.errors import ScenarioError
from dispatch_sim.metrics import incidents_frame, summarize
from dispatch_sim.sim import can_compile, dispatcher_for
from dispatch_sim.sim.readable import ReadableDispatcher

from .conftest import small_scenario
from .test_planning import LAT0, LON0, NO_DELAY, STEP_DEG, line_graph


def _at(node: int) -> dict:
    """The coordinate of node ``node`` of the line."""
    return {"lon": LON0 + (node - 1) * STEP_DEG, "lat": LAT0}


def _world(teams, categories=None, n=6, **over) -> World:
    data = small_scenario(teams=teams, run={"horizon_days": 1, "warmup_days": 0.01, "replications": 1},
                          dispatch={"policy": "home_team", **NO_DELAY, **over.pop("dispatch", {})},
                          demand={"reports_per_day": 1, "categories": categories or [{"name": "x", "share": 1}]},
                          **over)
    return World(scenario_from_dict(data), G=line_graph(n), use_disk_cache=False)


def _reports(w: World, rows) -> Reports:
    """Hand-made reports ``(created min, node, work min, category, priority)``, ready at once, no turnout;
    a category with ``delegated: false`` goes to the district team that handles it."""
    idx = w.router.index
    n = len(rows)
    node = np.array([idx[r[1]] for r in rows], dtype=np.int64)
    cat = np.array([r[3] if len(r) > 3 else 0 for r in rows], dtype=np.int16)
    home = w.node_team[node].astype(np.int16)
    owner = w.demand.cat_owner[cat]
    return Reports(created_min=np.array([r[0] for r in rows], float), ready_min=np.array([r[0] for r in rows], float),
                   turnout_min=np.zeros(n), node=node, snap_m=np.zeros(n), category=cat,
                   priority=np.array([r[4] if len(r) > 4 else 2 for r in rows], dtype=np.int16),
                   promise=w.demand.cat_promise[cat], work_min=np.array([r[2] for r in rows], float), home_team=home,
                   own_team=np.where(owner >= 0, owner, home).astype(np.int16) if w.demand.referrals else None)


@pytest.fixture(params=["compiled", "readable"])
def dispatcher(request, monkeypatch):
    """Run the test on each dispatcher (planned inspections are on both)."""
    from dispatch_sim import settings

    monkeypatch.setattr(settings, "compiled_dispatch", request.param == "compiled")
    return request.param


# ------------------------------------------------------------------------------------ 1. scenic-area team

def _polygon(tmp_path, name, lon0, lon1):
    path = tmp_path / f"{name}.geojson"
    ring = [[lon0, LAT0 - 0.01], [lon1, LAT0 - 0.01], [lon1, LAT0 + 0.01], [lon0, LAT0 + 0.01], [lon0, LAT0 - 0.01]]
    path.write_text(json.dumps({"type": "Polygon", "coordinates": [ring]}), encoding="utf-8")
    return str(path)


def test_a_polygon_team_takes_its_area_ahead_of_the_township_around_it(tmp_path):
    """Line 1..7. Townships A (node 1) and B (node 7) split it by fastest base: 1-4 A (node 4 is 30 min
    from both; the first listed wins), 5-7 B. Scenic team S (base node 4) has a polygon over nodes
    3-4 and P (priority 1) one over nodes 4-5: node 3 -> S, node 4 -> P (higher priority), node 5 -> P.
    S's base gives it nothing outside its polygon. With equal priorities node 4 goes to S (listed first)."""
    x = lambda k: LON0 + (k - 1) * STEP_DEG  # noqa: E731
    s_poly = _polygon(tmp_path, "s", x(3) - 0.003, x(4) + 0.003)
    p_poly = _polygon(tmp_path, "p", x(4) - 0.003, x(5) + 0.003)

    def homes(p_priority):
        teams = [{"name": "A", "base": _at(1), "crews": 1}, {"name": "B", "base": _at(7), "crews": 1},
                 {"name": "S", "base": _at(4), "crews": 1, "jurisdiction": s_poly},
                 {"name": "P", "base": _at(5), "crews": 1, "jurisdiction": p_poly, "jurisdiction_priority": p_priority}]
        w = _world(teams, n=7)
        names = [t.name for t in w.scenario.teams]
        return w, [names[w.node_team[w.router.index[k]]] for k in range(1, 8)]

    w, got = homes(1)
    assert got == ["A", "A", "S", "P", "P", "B", "B"]
    assert homes(0)[1] == ["A", "A", "S", "S", "P", "B", "B"]
    # a report inside the scenic area is S's: served by S's crew, judged in S's own row
    res = w.simulate(0, reports=_reports(w, [(10.0, 3, 20.0)]))
    assert res.crew_names[res.crew[0]] == "S#1" and res.arrived_min[0] == pytest.approx(20.0)  # 10 min from node 4


def test_the_shipped_scenic_scenario_is_valid_and_marks_its_estimates():
    from dispatch_sim import load_scenario

    from .conftest import ROOT

    sc = load_scenario(ROOT / "scenarios" / "nanhu_scenic_team.yaml")
    scenic = [t for t in sc.teams if t.jurisdiction]
    assert len(scenic) == 1 and scenic[0].unverified and "UNVERIFIED" in scenic[0].source
    poly = json.loads((ROOT / "data" / "nanhu_scenic_area.geojson").read_text(encoding="utf-8"))
    assert "UNVERIFIED" in poly["features"][0]["properties"]["source"]


# ------------------------------------------------------------------------------------ 2. referrals

REFERRED = [{"name": "town", "share": 0.5}, {"name": "permit", "share": 0.5, "delegated": False,
                                              "work_min": {"dist": "fixed", "value_min": 20}}]


def _district_teams(backs_up=False):
    return [{"name": "A", "base": _at(2), "crews": 1}, {"name": "B", "base": _at(6), "crews": 1},
            {"name": "D", "level": "district", "backs_up": backs_up, "handles": ["permit"], "base": _at(4), "crews": 1}]


def test_a_referred_report_reaches_its_district_team_after_exactly_the_referral_delay():
    """Reports at node 4 (D's base): delay 3 min, referral 45 min, turnout 2, no drive. A referred one
    is dispatched 48 min after it was made and on site 2 min later, by D, outside the promise; a
    delegated one goes to its township (A: node 4 is 20 min from A, 20 from B, A listed first)."""
    data = small_scenario(teams=_district_teams(), run={"horizon_days": 2, "warmup_days": 0.01, "replications": 1},
                          dispatch={"policy": "home_team", "dispatch_delay_min": {"dist": "fixed", "value_min": 3},
                                    "turnout_min": {"dist": "fixed", "value_min": 2},
                                    "referral_delay_min": {"dist": "fixed", "value_min": 45}},
                          demand={"reports_per_day": 3, "categories": REFERRED,
                                  "where": [{"kind": "hotspot", **_at(4), "radius_m": 0}]})
    w = World(scenario_from_dict(data), G=line_graph(6), use_disk_cache=False)
    rep = w.reports(0)
    df = incidents_frame(w.simulate(0, reports=rep), w)
    ref = df[df["category"] == "permit"]
    own = df[df["category"] == "town"]
    assert len(ref) and len(own)
    first = ref.iloc[0]  # the first referral finds D free
    assert first["dispatched_min"] - first["created_min"] == pytest.approx(48.0)
    assert first["arrived_min"] - first["dispatched_min"] == pytest.approx(2.0)
    assert set(ref["team"]) == {"D"} and not ref["promise"].any() and ref["referred"].all()
    assert set(own["team"]) == {"A"} and own["promise"].all() and not own["referred"].any()
    assert (df["home_team"] == "A").all()  # the place is still A's: a referral changes who serves, not where


@pytest.mark.parametrize("policy", ["home_team", "nearest", "home_then_mutual_aid"])
def test_referrals_are_served_only_by_their_owner_and_it_helps_nobody_unless_it_backs_up(policy):
    """District team D (base node 4) does not back up townships. t=0: A's report at node 3 takes A's
    only crew (10 min there, 100 on scene: clears at 110). t=5: a referral at node 3 goes to D (10 min:
    on site at 15, clears at 35), whatever the policy, though A's and B's crews are township crews.
    t=40: a report of A at node 2 is never D's: under home_team it waits for A's crew (sent from node 3
    at 110). With backs_up: true, D takes it at t=40 from the road: it left node 3 at 35 for its base
    (node 4, 10 min), is sent on from node 4 (5 min away) and drives 20 min: on site at 65."""
    rows = [(0.0, 3, 100.0, 0), (5.0, 3, 20.0, 1), (40.0, 2, 10.0, 0)]
    w = _world(_district_teams(), REFERRED, dispatch={"policy": policy})
    res = w.simulate(0, reports=_reports(w, rows))
    names = [res.crew_names[c] for c in res.crew]
    assert names[1] == "D#1" and res.arrived_min[1] == pytest.approx(15.0)
    assert names[2] != "D#1"
    if policy == "home_team":  # waits for A's crew: it clears at node 3 at t=110 and drives 10 min
        assert names[2] == "A#1" and res.dispatched_min[2] == pytest.approx(110.0)
        wb = _world(_district_teams(backs_up=True), REFERRED)
        rb = wb.simulate(0, reports=_reports(wb, rows))
        assert rb.crew_names[rb.crew[2]] == "D#1" and rb.dispatched_min[2] == pytest.approx(40.0)
        assert rb.arrived_min[2] == pytest.approx(65.0)
    # and both dispatchers agree
    assert can_compile(w)
    from dispatch_sim.sim.compiled import CompiledDispatcher
    from dispatch_sim.sim.engine import run_replication

    fast = run_replication(w, _reports(w, rows), CompiledDispatcher)
    np.testing.assert_array_equal(fast.crew, res.crew)
    np.testing.assert_allclose(fast.arrived_min, res.arrived_min)


def test_a_referred_category_needs_exactly_one_owner():
    data = small_scenario(demand={"reports_per_day": 5, "categories": REFERRED})
    with pytest.raises(ScenarioError, match=r"demand.categories\[1\].delegated: .*no district team"):
        scenario_from_dict(data, "s.yaml")
    data["teams"].append({"name": "D", "level": "district", "handles": ["nope"], "base": _at(2)})
    with pytest.raises(ScenarioError, match=r"s.yaml: teams\[3\].handles: unknown categories nope"):
        scenario_from_dict(data, "s.yaml")


# ------------------------------------------------------------------------------------ 3. staff split

def test_crews_follow_the_staff_split_between_levels():
    """10 crews, 65.3% moved down: round(6.53) = 7 township crews over A, B, C (2.33 each: 3, 2, 2 by
    largest remainder, ties to the first listed), 3 district crews over D1, D2 (2, 1). At 80%: 8 -> 3, 3, 2
    and 2 -> 1, 1. A shift plan keeps its shape: day 2 / night 1 scaled to 3 is day 3 / night 2 (1.5 up)."""
    def crews(share):
        data = small_scenario(staffing={"total_crews": 10, "moved_down_share": share})
        data["teams"][0]["shifts"] = [{"start": "08:00", "end": "20:00", "crews": 2},
                                      {"start": "20:00", "end": "08:00", "crews": 1}]
        data["teams"] += [{"name": "D1", "level": "district", "base": _at(2)},
                          {"name": "D2", "level": "district", "base": _at(3)}]
        sc = scenario_from_dict(data)
        return sc, [t.max_crews() for t in sc.teams]

    sc, got = crews(0.653)
    assert got == [3, 2, 2, 2, 1]
    assert [s.crews for s in sc.teams[0].shifts] == [3, 2]
    assert crews(0.8)[1] == [3, 3, 2, 1, 1]
    again = scenario_from_dict(sc.model_dump())  # applying the split twice changes nothing
    assert [t.max_crews() for t in again.teams] == got


def test_the_staff_split_needs_a_district_team_below_one():
    data = small_scenario(staffing={"total_crews": 6, "moved_down_share": 0.653})
    with pytest.raises(ScenarioError, match="staffing.moved_down_share: below 1 but there is no district team"):
        scenario_from_dict(data, "s.yaml")


# ------------------------------------------------------------------------------------ 4. planned inspections

def _campaign(recall=False, crews=2):
    return {"recall": recall, "recall_delay_min": 15, "campaigns": [
        {"name": "special check", "teams": ["A"], "weekdays": ["Mon"], "start": "09:00", "end": "12:00", "crews": crews}]}


def test_a_campaign_day_removes_exactly_its_crews(dispatcher):
    """A has 3 crews; Monday 09:00-12:00 two of them inspect. A#2 and A#3 spend exactly 180 min on the
    inspection and 1440 - 180 on duty; A#1 is on duty all day. A report at A's base at 10:00 while
    A#1 is busy (sent at 09:50 for 60 min) waits until A#1 is back at 10:50."""
    teams = [{"name": "A", "base": _at(1), "crews": 3}, {"name": "B", "base": _at(6), "crews": 1}]
    w = _world(teams, planned_inspections=_campaign())
    assert dispatcher_for(w).__name__ == {"compiled": "CompiledDispatcher", "readable": "ReadableDispatcher"}[dispatcher]
    res = w.simulate(0, reports=_reports(w, [(590.0, 1, 60.0), (600.0, 1, 30.0)]))
    np.testing.assert_allclose(res.extra["planned_min"], [0, 180, 180, 0])
    np.testing.assert_allclose(res.crew_duty_min, [1440, 1260, 1260, 1440])
    assert res.crew_names[res.crew[1]] == "A#1" and res.dispatched_min[1] == pytest.approx(650.0)
    # after the campaign a second crew is free again: at 12:00 + 1 min a report goes at once
    res2 = w.simulate(0, reports=_reports(w, [(590.0, 1, 200.0), (721.0, 1, 30.0)]))
    assert res2.dispatched_min[1] == pytest.approx(721.0) and res2.crew_names[res2.crew[1]] == "A#2"


def test_an_urgent_report_recalls_a_planned_crew_after_the_recall_delay(dispatcher):
    """Same day with recall (15 min): an urgent report at 10:00 at node 2 (10 min from A's base) while
    A#1 is busy is served by a recalled crew: on site at 10:00 + 15 + 10; it goes back to the
    inspection after the job. A normal report is not a reason to recall: it waits."""
    teams = [{"name": "A", "base": _at(1), "crews": 3}, {"name": "B", "base": _at(6), "crews": 1}]
    w = _world(teams, [{"name": "x", "share": 1, "priority": 2}, {"name": "urgent", "share": 1, "priority": 1}],
               planned_inspections=_campaign(recall=True))
    res = w.simulate(0, reports=_reports(w, [(590.0, 1, 100.0, 0, 2), (600.0, 2, 20.0, 1, 1), (605.0, 2, 5.0, 0, 2)]))
    assert res.crew_names[res.crew[1]] in ("A#2", "A#3") and res.arrived_min[1] == pytest.approx(625.0)
    assert res.extra["recalls"] == 1
    assert res.crew_names[res.crew[2]] == "A#1" and res.dispatched_min[2] == pytest.approx(690.0)
    # the recalled crew: 180 min planned minus its job (dispatch 600 to clear 645)
    assert sorted(res.extra["planned_min"][1:3]) == pytest.approx([180 - 45, 180])


# ------------------------------------------------------------------------------------ 5. joint checks

JOINT = [{"name": "x", "share": 1}, {"name": "joint", "share": 1, "joint": {"home": 1, "D": 1}}]


def _joint_teams():
    return [{"name": "A", "base": _at(1), "crews": 1}, {"name": "B", "base": _at(6), "crews": 1},
            {"name": "D", "level": "district", "backs_up": False, "base": _at(5), "crews": 1}]


def test_a_joint_check_is_on_site_when_its_last_crew_arrives(dispatcher):
    """A joint check at node 2 at t=100 (A's area): A's crew drives 10 min (t=110), D's 30 min (t=130):
    on site at 130, both held 40 min on scene: both clear at 170. incidents.csv lists both crews with
    their own times; the promise counts the last arrival (30 min after the report: on time)."""
    w = _world(_joint_teams(), JOINT)
    assert dispatcher_for(w).__name__ == {"compiled": "CompiledDispatcher", "readable": "ReadableDispatcher"}[dispatcher]
    res = w.simulate(0, reports=_reports(w, [(100.0, 2, 40.0, 1)]))
    assert res.arrived_min[0] == pytest.approx(130.0) and res.cleared_min[0] == pytest.approx(170.0)
    rows = res.extra["joint_crews"]
    got = {res.crew_names[int(c)]: (d, a) for _, c, d, a, _ in rows}
    assert got == {"A#1": pytest.approx((100.0, 110.0)), "D#1": pytest.approx((100.0, 130.0))}
    assert res.crew_busy_min[[0, 2]] == pytest.approx([70.0, 70.0])  # sent at 100, cleared at 170
    df = incidents_frame(res, w)
    assert df.loc[0, "first_arrived_min"] == pytest.approx(110.0) and df.loc[0, "crews"] == 2
    assert bool(df.loc[0, "on_time"])
    from dispatch_sim.output import crew_rows

    out = crew_rows(df, res_list=[res], world=w)
    assert list(out["crew"]) == ["A#1", "D#1"] and list(out["crew_arrived_min"]) == pytest.approx([110.0, 130.0])
    assert (out["report_id"] == 0).all()


def test_a_joint_check_waits_for_a_busy_team_and_holds_the_crew_that_came_first(dispatcher):
    """t=50: a joint check at node 5 (B's area): D is there (on site at 50), B's crew drives 10 min
    from node 6: on site at 60, both held 100 min: clear at 160. t=100: a joint check at node 2 (A's):
    A's crew arrives at 110 and waits on site; D owes a crew, so the check waits in D's queue until D
    clears at node 5 at 160 and drives 30 min: on site at 190, cleared at 230. A's crew is on that
    one job from 100 to 230 (no crew on two jobs)."""
    w = _world(_joint_teams(), JOINT)
    rep = _reports(w, [(50.0, 5, 100.0, 1), (100.0, 2, 40.0, 1)])
    res = w.simulate(0, reports=rep)
    assert res.arrived_min[0] == pytest.approx(60.0) and res.cleared_min[0] == pytest.approx(160.0)
    assert res.arrived_min[1] == pytest.approx(160.0 + 30.0)
    assert res.cleared_min[1] == pytest.approx(230.0)
    rows = res.extra["joint_crews"]
    a = [r for r in rows if res.crew_names[int(r[1])] == "A#1"]
    assert len(a) == 1 and a[0][3] == pytest.approx(110.0)
    assert res.crew_busy_min[0] == pytest.approx(130.0)


def _erlang_c_wait(lam, mu, c):
    a = lam / mu
    rho = a / c
    s = sum(a ** k / math.factorial(k) for k in range(c))
    top = a ** c / (math.factorial(c) * (1 - rho))
    return top / (s + top) / (c * mu - lam)


def test_two_crew_jobs_make_a_team_of_c_crews_a_system_of_c_over_2_servers(small_world, dispatcher):
    """Zero travel, exponential work, Poisson arrivals, every report a joint check needing two crews of
    the one team of 4: the mean wait is Erlang C's with 2 servers (within the replications' 95% CI),
    and not the one of 4 servers; on both dispatchers."""
    from dispatch_sim import metrics

    c, work_mean, per_day = 4, 60.0, 30.0
    lam, mu = per_day / 1440.0, 1.0 / work_mean
    base = {"lon": 120.75, "lat": 30.74}
    data = small_scenario(
        run={"horizon_days": 40, "warmup_days": 2, "replications": 8, "seed": 3},
        teams=[{"name": "only", "base": base, "crews": c}],
        demand={"reports_per_day": per_day, "hourly_profile": [1] * 24, "weekly_profile": [1] * 7,
                "where": [{"kind": "hotspot", "lon": base["lon"], "lat": base["lat"], "radius_m": 0}],
                "categories": [{"name": "pair", "share": 1, "joint": {"home": 2},
                                "work_min": {"dist": "exponential", "mean_min": work_mean}}]},
        dispatch=NO_DELAY)
    world = World(scenario_from_dict(data), G=small_world.G)
    waits = []
    for rep in range(8):
        res = world.simulate(rep)
        df = metrics.incidents_frame(res, world)
        assert (df.loc[df["arrived_min"].notna(), "crews"] == 2).all()
        x = df[~df["warmup"] & df["wait_min"].notna()]
        waits.append(x["wait_min"].mean())
    m, lo, hi = metrics.mean_ci(waits)
    theory = _erlang_c_wait(lam, mu, c // 2)
    assert lo <= theory <= hi, (theory, m, lo, hi)
    assert not (lo <= _erlang_c_wait(lam, mu, c) <= hi)


def test_summary_shows_referred_and_joint_reports_apart():
    w = _world(_joint_teams() + [{"name": "R", "level": "district", "backs_up": False, "handles": ["permit"],
                                  "base": _at(3), "crews": 1}],
               JOINT + [{"name": "permit", "share": 1, "delegated": False}])
    res = w.simulate(0, reports=_reports(w, [(100.0, 2, 40.0, 1), (200.0, 3, 10.0, 2), (300.0, 2, 10.0, 0)]))
    df = incidents_frame(res, w)
    s = summarize(df, [res], w)
    es = s.enforcement
    assert es["referred"]["reports"] == 1 and es["referred"]["promise"] is False
    assert es["joint"]["reports"] == 1 and es["joint"]["first_arrival_min"]["p50"] == pytest.approx(10.0)
    assert es["joint"]["last_arrival_min"]["p50"] == pytest.approx(30.0)
    assert {d["team"] for d in es["district_teams"]} == {"D", "R"}
    # a referral is served by its owner: not help across township lines, nor a "far team" late cause
    assert s.mutual_aid["reports"] == 0 and s.by_team["R"]["helped_others"] == 0
    assert (df["late_cause"] != "served_by_far_team").all()
    # the accounting still adds up
    assert s.reports["total"] == s.reports["served"] + s.reports["open_at_horizon"] == 3


def test_a_proposal_from_staff_or_place_keeps_its_own_crews_over_the_staff_split(tmp_path):
    """``dispatch-sim staff`` and ``place`` change crews; their variant YAML sets ``staffing: null`` so the
    original's split does not overwrite the proposal when the file (or a worker) validates it again."""
    import yaml

    from dispatch_sim import load_scenario
    from dispatch_sim.staffing import apply_counts, slots, variant_yaml

    data = small_scenario(staffing={"total_crews": 4, "moved_down_share": 0.75})
    data["teams"].append({"name": "D", "level": "district", "base": _at(2)})
    src = tmp_path / "split.yaml"
    src.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    sc = load_scenario(src)
    assert [t.max_crews() for t in sc.teams] == [1, 1, 1, 1]
    sl = slots(sc)
    proposal = apply_counts(sc, sl, [3] * len(sl))
    again = scenario_from_dict(proposal.model_dump())
    assert [t.max_crews() for t in again.teams] == [3, 3, 3, 3]
    out = tmp_path / "v.yaml"
    out.write_text(variant_yaml(sc, proposal, tmp_path), encoding="utf-8")
    assert [t.max_crews() for t in load_scenario(out).teams] == [3, 3, 3, 3]
