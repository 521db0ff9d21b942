"""Planning questions on graphs small enough to check by hand: reach, the breaking point, where a
post should go, per-cell reliability and help across township lines."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from dispatch_sim import World, scenario_from_dict
from dispatch_sim.coverage import coverage_summary, promise_cells_geojson, reach
from dispatch_sim.experiments import run_scenario, stress_sweep
from dispatch_sim.placement import propose
from dispatch_sim.reliability import cell_reliability
from tests.conftest import small_scenario

LON0, LAT0 = 120.75, 30.75
STEP_DEG = 0.01  # ~960 m between neighbouring nodes
NO_DELAY = {"dispatch_delay_min": {"dist": "fixed", "value_min": 0}, "turnout_min": {"dist": "fixed", "value_min": 0}}


def line_graph(n: int, minutes_per_edge: float = 10.0, extra=()) -> nx.MultiDiGraph:
    """Nodes 1..n on an east-west line, both directions ``minutes_per_edge`` apart; ``extra`` edges
    ``(u, v, minutes, lon, lat)`` add a node ``v`` placed at (lon, lat)."""
    G = nx.MultiDiGraph(crs="epsg:4326", dispatch_sim_kind="hand-made test line")
    for i in range(1, n + 1):
        G.add_node(i, x=LON0 + (i - 1) * STEP_DEG, y=LAT0)

    def road(u, v, minutes):
        for a, b in ((u, v), (v, u)):
            G.add_edge(a, b, travel_time=minutes * 60.0, length=960.0, road_class="residential", highway="residential",
                       urban=True, speed_kph=5.76)

    for i in range(1, n):
        road(i, i + 1, minutes_per_edge)
    for u, v, minutes, lon, lat in extra:
        G.add_node(v, x=lon, y=lat)
        road(u, v, minutes)
    return G


def line_world(G, teams, **over) -> World:
    data = small_scenario(teams=teams, dispatch={"policy": "home_team", **NO_DELAY}, **over)
    return World(scenario_from_dict(data), G=G, use_disk_cache=False)


def test_reach_and_coverage_on_a_line_with_a_canal():
    """Base at node 1 of a 6-node line, 10 min per edge: within 30 min are nodes 1-4. Node 99 lies
    200 m from the base across a canal, reachable only by a 40-minute detour: not covered."""
    G = line_graph(6, extra=[(6, 99, 0.5, LON0 + 0.002, LAT0 + 0.0005)])
    w = line_world(G, [{"name": "A", "base": {"lon": LON0, "lat": LAT0}, "crews": 1}])
    idx = w.router.index
    covered = set(reach(w, 30.0)["A"].tolist())
    assert covered == {idx[1], idx[2], idx[3], idx[4]}
    assert idx[99] not in covered
    cov = coverage_summary(w, 30.0)["bands"]["off_peak"]
    # 6 road segments of equal length, 3 with both ends in reach
    assert cov["road_share_any_base"] == pytest.approx(3 / 6, abs=1e-3)
    assert cov["by_team"]["A"]["worst_node_minutes_from_own_base"] == pytest.approx(50.5)
    gj = promise_cells_geojson(w, 30.0, cell_m=100.0)
    import shapely.geometry

    def cell_at(lon, lat):
        return next(f["properties"] for f in gj["features"]
                    if shapely.geometry.shape(f["geometry"]).contains(shapely.Point(lon, lat)))

    assert cell_at(r_lon(w, idx[2]), r_lat(w, idx[2]))["reach90"]  # along the reachable road
    canal = cell_at(r_lon(w, idx[99]), r_lat(w, idx[99]))  # across the canal: 40 min round the detour
    assert not canal["reach90"] and canal["drive_own_min"] > 30


def r_lon(w, i):
    return float(w.router.lon[i])


def r_lat(w, i):
    return float(w.router.lat[i])


def _mm1_on_time(rho: float, mu: float, t: float) -> float:
    """P(wait <= t) in an M/M/1 queue: 1 - rho * exp(-mu (1 - rho) t)."""
    return 1.0 - rho * math.exp(-mu * (1.0 - rho) * t)


def test_breaking_point_matches_mm1_queue():
    """One crew, no travel, exponential 60-minute jobs: on site within 30 minutes means waiting at
    most 30 minutes in an M/M/1 queue, so the load at which 80% are on time is known by hand."""
    work, per_day, goal = 60.0, 4.8, 0.8  # load 1 is utilization 0.2
    mu = 1 / work
    rho_star = next(r / 1000 for r in range(1, 1000) if _mm1_on_time(r / 1000, mu, 30.0) < goal)
    load_star = rho_star / (per_day / 1440.0 * work)
    G = line_graph(2)
    data = small_scenario(
        run={"horizon_days": 400, "warmup_days": 5, "replications": 4, "seed": 11},
        teams=[{"name": "A", "base": {"lon": LON0, "lat": LAT0}, "crews": 1}],
        demand={"reports_per_day": per_day, "hourly_profile": [1] * 24, "weekly_profile": [1] * 7,
                "where": [{"kind": "hotspot", "lon": LON0, "lat": LAT0, "radius_m": 0}],
                "categories": [{"name": "x", "share": 1, "work_min": {"dist": "exponential", "mean_min": work}}]},
        dispatch={"policy": "home_team", **NO_DELAY},
        targets={"on_time_rate_min": goal, "judge": "point"})
    w = World(scenario_from_dict(data), G=G, use_disk_cache=False)
    res = stress_sweep(w, [0.5, 1.0, 2.0, 3.0], bisect_steps=4)
    bp = res.breaking_point
    assert bp.max_load_meeting_target is not None and bp.first_load_failing is not None
    assert abs(bp.max_load_meeting_target - load_star) < 0.15, (bp, load_star)
    rates = [row["rate"] for row in res.sweep]
    assert all(b <= a + 0.01 for a, b in zip(rates, rates[1:]))  # more load never helps beyond noise
    for row in res.sweep:
        assert row["rate"] == pytest.approx(_mm1_on_time(row["load"] * 0.2, mu, 30.0), abs=0.025)
    assert res.team_max_load_meeting_target["A"] is not None
    assert set(res.cells) == {bp.max_load_meeting_target, bp.first_load_failing}


def test_add_post_goes_where_the_line_is_uncovered():
    """Base at node 1 of a 9-node line with 30 min of driving: nodes 1-4 covered. One new post must
    cover 5-9; node 6 or 7 does, and node 6 also puts nodes 3-4 within reach of two posts."""
    G = line_graph(9)
    w = line_world(G, [{"name": "A", "base": {"lon": LON0, "lat": LAT0}, "crews": 1}],
                   demand={"reports_per_day": 50, "where": [{"kind": "road_length"}]})
    res = propose(w, mode="add", k=1, sample=9)
    p = res.proposal
    (change,) = p["changes"]
    assert change["site"] == "road node 6"
    assert p["demand_share_covered"]["after"] == pytest.approx(1.0)
    assert p["demand_share_covered"]["before"] < 0.6
    variant = res.scenario
    assert [t.name for t in variant.teams] == ["A", change["name"]] and variant.teams[1].unverified


def test_relocate_moves_the_base_to_the_middle():
    """One team at the end of a 7-node line: only a base at node 4 reaches every node in 30 min."""
    G = line_graph(7)
    w = line_world(G, [{"name": "A", "base": {"lon": LON0, "lat": LAT0}, "crews": 1}],
                   demand={"reports_per_day": 50, "where": [{"kind": "road_length"}]})
    p = propose(w, mode="relocate", sample=7).proposal
    (change,) = p["changes"]
    assert change["site"] == "road node 4" and change["team"] == "A"
    assert p["demand_share_covered"]["after"] == pytest.approx(1.0)
    # with no move allowed, nothing changes
    assert propose(w, mode="relocate", sample=7, max_moves=0).proposal["changes"] == []


def test_cell_reliability_accounts_for_every_known_report(small_world):
    run = run_scenario(small_world, replications=2)
    cells = cell_reliability(run.incidents, small_world, cell_m=1000)
    inc = run.incidents
    known = inc[~inc["warmup"] & inc["promise"] & inc["on_time"].notna()]
    props = [f["properties"] for f in cells["features"]]
    assert sum(p["reports"] for p in props) == len(known)
    assert sum(p["on_time"] for p in props) == int(known["on_time"].sum())
    for p in props:
        assert p["late"] == p["reports"] - p["on_time"]
        assert p["late"] == sum(p[c] for c in ("waited_for_crew", "served_by_far_team", "long_travel",
                                              "slow_dispatch", "open_at_horizon"))
        assert p["ci95"][0] <= p["rate"] <= p["ci95"][1]
    # every report lies inside its cell
    import shapely.geometry

    f = cells["features"][0]
    poly = shapely.geometry.shape(f["geometry"])
    lon0 = float(small_world.router.lon.mean())
    lat0 = float(small_world.router.lat.mean())
    cx, cy = map(int, f["properties"]["cell"].split("_"))
    k = math.cos(math.radians(lat0))
    x = np.floor((known["lon"] - lon0) * 111320.0 * k / 1000)
    y = np.floor((known["lat"] - lat0) * 110540.0 / 1000)
    mine = known[(x == cx) & (y == cy)]
    assert len(mine) == f["properties"]["reports"]
    assert all(poly.buffer(1e-9).contains(shapely.Point(a, b)) for a, b in zip(mine["lon"], mine["lat"]))


def test_help_across_township_lines_is_counted_in_crew_hours(small_world):
    data = small_scenario(run={"horizon_days": 4, "replications": 2},
                          demand={"reports_per_day": 60, "where": [{"kind": "township", "shares": {"A": 1.0}}]},
                          dispatch={"policy": "home_then_mutual_aid", "mutual_aid_threshold_min": 15})
    w = World(scenario_from_dict(data), G=small_world.G, router=small_world.router)
    run = run_scenario(w)
    aid = run.summary.mutual_aid
    inc = run.incidents
    helped = inc[~inc["warmup"] & (inc["team"] != inc["home_team"]) & (inc["team"] != "")]
    assert aid["reports"] == len(helped) > 0
    by_hand = (helped["cleared_min"].fillna(4 * 1440.0) - helped["dispatched_min"]).sum() / 60.0
    assert aid["crew_hours"] == pytest.approx(by_hand, abs=0.01)
    assert {p["home_team"] for p in aid["pairs"]} == {"A"}
    assert sum(p["reports"] for p in aid["pairs"]) == aid["reports"]
