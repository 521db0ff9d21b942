"""The 30-minute circle on the road network: what each base reaches, per time band.

Reach is computed on the road graph, so a canal or lake without a bridge is never "covered"; the
GeoJSON is built from reachable road edges (buffered), not from convex hulls.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from scipy.sparse.csgraph import dijkstra

from .roads import local_xy


def reach(world, minutes: float, band: int = 0, include_turnout: bool = False) -> dict[str, np.ndarray]:
    """Node indices within ``minutes`` of each team's base (travel only unless ``include_turnout``)."""
    sc = world.scenario
    budget = minutes * 60.0
    if include_turnout:
        budget -= sc.dispatch.turnout_min.mean() * 60.0 + sc.dispatch.dispatch_delay_min.mean() * 60.0
    fb = world.router.from_base[band]
    return {t.name: np.flatnonzero(fb[i] <= budget) for i, t in enumerate(sc.teams)}


def demand_weights(world, days: float = 200.0) -> np.ndarray:
    """Expected share of reports at each node (sums to 1), from a long sample of the demand model.

    Sampling the scenario's own demand model keeps every way of describing demand (road length,
    hotspots, polygons, point files) in one place; 200 days at load 1 is plenty for shares.
    """
    ss = np.random.SeedSequence([world.scenario.run.seed, 999_999])
    rep = world.demand.generate(ss, 1440.0 * days, load=1.0)
    weight = np.bincount(rep.node, minlength=world.router.n).astype(float)
    return weight / max(weight.sum(), 1.0)


def coverage_summary(world, minutes: float = 30.0, cell_m: float = 500.0) -> dict:
    """Shares of road km, demand weight and grid cells within ``minutes`` of the own base and of any
    base, per time band, district-wide and per team."""
    sc = world.scenario
    r = world.router
    eu, ev, _ = r._edges
    length = np.fromiter((float(d.get("length", 0.0)) for _, _, d in world.G.edges(data=True)), dtype=float, count=len(eu))
    weight = demand_weights(world)
    lat0 = float(r.lat.mean())
    x, y = local_xy(r.lon, r.lat, lat0)
    cell = np.floor(x / cell_m).astype(np.int64) * 1_000_003 + np.floor(y / cell_m).astype(np.int64)
    cells, cell_of = np.unique(cell, return_inverse=True)
    out = {"minutes": minutes, "cell_m": cell_m, "bands": {}}
    for b, band in enumerate(world.bands.bands):
        fb = r.from_base[b]
        within_any = (fb <= minutes * 60.0).any(axis=0)
        home = world.node_team
        within_own = fb[home, np.arange(r.n)] <= minutes * 60.0
        edge_any = within_any[eu] & within_any[ev]
        edge_own = within_own[eu] & within_own[ev]
        cell_any = np.bincount(cell_of, weights=within_any, minlength=len(cells)) > 0
        teams = {}
        for i, t in enumerate(sc.teams):
            if t.backup:
                continue
            mine = home == i
            em = mine[eu]
            teams[t.name] = {
                "road_km": round(float(length[em].sum()) / 2000.0, 2),
                "road_share_own_base": _share(length[em & edge_own], length[em]),
                "demand_share_own_base": _share(weight[mine & within_own], weight[mine]),
                "worst_node_minutes_from_own_base": round(float(fb[i][mine].max()) / 60.0, 1) if mine.any() else None,
            }
        out["bands"][band.name] = {
            "road_share_any_base": _share(length[edge_any], length),
            "road_share_own_base": _share(length[edge_own], length),
            "demand_share_any_base": _share(weight[within_any], weight),
            "demand_share_own_base": _share(weight[within_own], weight),
            "cell_share_any_base": round(float(cell_any.mean()), 4),
            "by_team": teams,
        }
    return out


def _share(part, whole) -> float | None:
    w = float(np.sum(whole))
    return None if w <= 0 else round(float(np.sum(part)) / w, 4)


def reach_geojson(world, minutes: float = 30.0, band: int = 0, buffer_m: float = 40.0) -> dict:
    """A FeatureCollection, one (Multi)Polygon per base: reachable road edges buffered by ``buffer_m``."""
    r = world.router
    eu, ev, _ = r._edges
    lat0 = float(r.lat.mean())
    k = math.cos(math.radians(lat0))
    x, y = local_xy(r.lon, r.lat, lat0)
    feats = []
    for name, nodes in reach(world, minutes, band).items():
        ok = np.zeros(r.n, dtype=bool)
        ok[nodes] = True
        sel = ok[eu] & ok[ev]
        if not sel.any():
            continue
        lines = shapely.linestrings(np.stack([np.column_stack([x[eu[sel]], y[eu[sel]]]),
                                              np.column_stack([x[ev[sel]], y[ev[sel]]])], axis=1))
        poly = shapely.union_all(shapely.buffer(lines, buffer_m, quad_segs=2)).simplify(buffer_m / 2)
        poly = shapely.transform(poly, lambda c: np.column_stack([c[:, 0] / (111320.0 * k), c[:, 1] / 110540.0]))
        feats.append({"type": "Feature", "properties": {"team": name, "minutes": minutes,
                                                         "band": world.bands.bands[band].name},
                      "geometry": shapely.geometry.mapping(poly)})
    return {"type": "FeatureCollection", "features": feats}
