"""Closures and disruptions: a hand-made detour, the fast router against the reference router, and
runs that see them only inside their windows."""

from __future__ import annotations

import numpy as np
import pytest

from dispatch_sim import World, scenario_from_dict
from dispatch_sim.errors import DispatchSimError
from dispatch_sim.routing import ReferenceRouter

from .conftest import small_scenario
from .test_planning import LAT0, LON0, STEP_DEG, line_graph, line_world


def _detour_graph():
    """1-2-3-4 along a line (10 min an edge, road 2-3 named "Bridge Rd"), and a detour 2-50-3 of
    25 + 25 min north of it."""
    G = line_graph(4, extra=[(2, 50, 25.0, LON0 + 1.5 * STEP_DEG, LAT0 + 0.02)])
    for a, b in ((50, 3), (3, 50)):
        G.add_edge(a, b, travel_time=25 * 60.0, length=960.0, road_class="residential", highway="residential",
                   urban=True, speed_kph=5.76)
    for a, b in ((2, 3), (3, 2)):
        for k in G[a][b]:
            G[a][b][k]["name"] = "Bridge Rd"
            G[a][b][k]["osmid"] = 777
    return G


@pytest.mark.parametrize("roads", [{"names": ["Bridge Rd"]}, {"osm_ways": [777]},
                                   {"line": [[LON0 + 1.5 * STEP_DEG, LAT0 - 0.001], [LON0 + 1.5 * STEP_DEG, LAT0 + 0.001]],
                                    "buffer_m": 50},
                                   {"polygon": [[LON0 + 1.4 * STEP_DEG, LAT0 - 0.002], [LON0 + 1.6 * STEP_DEG, LAT0 - 0.002],
                                                [LON0 + 1.6 * STEP_DEG, LAT0 + 0.002], [LON0 + 1.4 * STEP_DEG, LAT0 + 0.002]]}])
def test_a_closure_forces_the_known_detour_only_in_its_window(roads):
    G = _detour_graph()
    w = line_world(G, [{"name": "A", "base": {"lon": LON0, "lat": LAT0}, "crews": 1}],
                   run={"horizon_days": 3, "warmup_days": 0.25, "replications": 1},
                   disruptions=[{"name": "bridge works", "start_day": 1, "end_day": 2, "start": "08:00", "end": "12:00",
                                 "roads": roads, "closed": True}])
    r, idx = w.router, w.router.index
    outside = w.bands.band_at(1440 + 7 * 60)   # day 1, 07:00
    inside = w.bands.band_at(1440 + 9 * 60)    # day 1, 09:00
    after = w.bands.band_at(2 * 1440 + 9 * 60)  # day 2, 09:00
    assert outside == after == 0 and inside != 0
    assert r.tt(outside, idx[1], idx[4]) == pytest.approx(30 * 60)
    assert r.tt(inside, idx[1], idx[4]) == pytest.approx((10 + 25 + 25 + 10) * 60)  # round the detour
    assert r.route(1, 4, inside) == [1, 2, 50, 3, 4] and r.route(1, 4, outside) == [1, 2, 3, 4]
    ref = ReferenceRouter(G, w.bands)
    for band in range(len(w.bands.bands)):
        for a in (1, 2, 3, 4, 50):
            for b in (1, 2, 3, 4, 50):
                assert r.tt(band, idx[a], idx[b]) == pytest.approx(ref.travel_time(a, b, band), abs=1e-6)


def test_speed_factor_and_weather_multiply_travel_times():
    G = _detour_graph()
    w = line_world(G, [{"name": "A", "base": {"lon": LON0, "lat": LAT0}, "crews": 1}],
                   run={"horizon_days": 2, "warmup_days": 0.25, "replications": 1},
                   disruptions=[{"name": "slow", "start_day": 0.5, "end_day": 1, "roads": {"names": ["Bridge Rd"]},
                                 "speed_factor": 0.5},
                                {"name": "typhoon", "start_day": 0.75, "end_day": 1, "weather_factor": 0.5}])
    r, idx = w.router, w.router.index
    slow = w.bands.band_at(0.6 * 1440)
    both = w.bands.band_at(0.8 * 1440)
    assert r.tt(slow, idx[1], idx[4]) == pytest.approx((10 + 20 + 10) * 60)
    assert r.tt(both, idx[1], idx[4]) == pytest.approx((20 + 40 + 20) * 60)


def test_reports_in_the_window_see_the_closure():
    """Crews at node 1 serving reports at node 4: in the window a drive from the base is the detour."""
    G = _detour_graph()
    data = dict(run={"horizon_days": 3, "warmup_days": 0.25, "replications": 1},
                demand={"reports_per_day": 20, "where": [{"kind": "hotspot", "lon": LON0 + 3 * STEP_DEG, "lat": LAT0,
                                                          "radius_m": 1}]},
                disruptions=[{"name": "closed", "start_day": 1, "end_day": 2, "roads": {"names": ["Bridge Rd"]},
                              "closed": True}])
    w = line_world(G, [{"name": "A", "base": {"lon": LON0, "lat": LAT0}, "crews": 5}], **data)
    res = w.simulate(0)
    d = res.dispatched_min
    at_base = np.isfinite(d)
    day = d // 1440
    travel = res.travel_min
    inside = at_base & (day == 1) & (res.reports.node == w.router.index[4])
    outside = at_base & (day != 1) & (res.reports.node == w.router.index[4])
    assert inside.sum() > 3 and outside.sum() > 3
    # from the base the drive is the 70-minute detour in the window (crews redirected on their way
    # back start nearer); outside the window no drive to node 4 takes longer than the direct 30
    assert np.sum(np.isclose(travel[inside], 70.0)) >= 3
    assert np.all(travel[outside] <= 30 + 1e-6)


def test_a_selection_that_matches_no_road_is_one_clear_error():
    data = small_scenario(disruptions=[{"name": "typo", "start_day": 0, "end_day": 1,
                                        "roads": {"names": ["No Such Road"]}, "closed": True}])
    with pytest.raises(DispatchSimError, match=r"disruptions\[0\] \(typo\): selects no road"):
        World(scenario_from_dict(data))


def test_an_overnight_window_belongs_to_the_day_it_starts():
    from types import SimpleNamespace

    from dispatch_sim.disruptions import windows

    d = SimpleNamespace(start_day=8, end_day=9, start="22:00", end="06:00")
    assert windows(d, 20 * 1440) == [(8 * 1440 + 22 * 60, 9 * 1440 + 6 * 60)]
    d2 = SimpleNamespace(start_day=8, end_day=10, start="07:00", end="19:00")
    assert windows(d2, 9.5 * 1440) == [(8 * 1440 + 420, 8 * 1440 + 1140), (9 * 1440 + 420, 9 * 1440 + 720)]


def test_route_cli_names_teams_gives_km_and_shows_the_detour(tmp_path):
    """On the hand-made graph saved as GraphML (speeds then come from the road class, so every 960 m
    edge takes the same time): from team A's base (node 1) to node 4 is 3 edges; with Bridge Rd closed
    on day 1 it is 4 edges round the detour (1-2-50-3-4), one edge's time and 960 m more."""
    import json

    import yaml

    from dispatch_sim.roads import save_graph

    from .test_cli import _cli

    G = _detour_graph()
    G.graph["dispatch_sim_kind"] = "graphml"
    save_graph(G, tmp_path / "line.graphml")
    data = small_scenario(graph={"source": "graphml", "graphml": "line.graphml"},
                          teams=[{"name": "A", "base": {"lon": LON0, "lat": LAT0}, "crews": 1}],
                          disruptions=[{"name": "works", "start_day": 1, "end_day": 2,
                                        "roads": {"names": ["Bridge Rd"]}, "closed": True}])
    data["graph"].pop("bbox", None)
    p = tmp_path / "line.yaml"
    p.write_text(yaml.safe_dump(data, allow_unicode=True))
    to = f"{LON0 + 3 * STEP_DEG},{LAT0}"
    r = _cli("route", p, "--from", "A", "--to", to, "--json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["from"] == "A" and j["km"] == pytest.approx(3 * 0.96)
    edge = j["minutes"] / 3
    r = _cli("route", p, "--from", "A", "--to", to, "--day", "1.5", "--json", "--geojson", tmp_path / "r.geojson")
    assert r.returncode == 0, r.stderr
    j2 = json.loads(r.stdout)
    assert j2["minutes"] == pytest.approx(4 * edge, abs=1e-3) and j2["km"] == pytest.approx(4 * 0.96)
    assert j2["detour"]["extra_minutes"] == pytest.approx(edge, abs=1e-3) and j2["detour"]["extra_km"] == pytest.approx(0.96)
    gj = json.loads((tmp_path / "r.geojson").read_text(encoding="utf-8"))
    assert len(gj["features"]) == 2 and gj["features"][0]["geometry"]["type"] == "LineString"
    bad = _cli("route", p, "--from", "Nowhere", "--to", to)
    assert bad.returncode == 2 and "neither LON,LAT nor a team" in bad.stderr
