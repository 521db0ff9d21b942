"""Where the circle breaks under load: the simulated on-time share per grid cell.

A static reach map says where a base *could* be on site in time; it cannot show the places that
fail because the crew is busy elsewhere. This module bins simulated reports into square cells
(``cell_m`` metres, on a local equirectangular grid around the graph's centre) and gives each cell
its on-time rate with a Wilson interval and the count of each late cause.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .geodesy import M_PER_DEG_LAT, local_xy, m_per_deg_lon
from .metrics import LATE_CAUSES, wilson


def cell_reliability(incidents: pd.DataFrame, world, cell_m: float = 500.0, min_reports: int = 1) -> dict:
    """GeoJSON FeatureCollection: one square per cell with reports whose outcome is known.

    Parameters
    ----------
    incidents
        Incident table (all replications); warm-up reports and reports outside the promise are left out.
    cell_m
        Cell side in metres.
    min_reports
        Cells with fewer reports are left out (their rate says little).

    Each feature's properties: ``reports``, ``on_time``, ``rate``, ``ci95``, ``late`` and one count per
    late cause, ``mean_response_min``, ``p90_response_min`` and the most common ``home_team``.
    """
    r = world.router
    lat0 = float(r.lat.mean())
    lon0 = float(r.lon.mean())
    sub = incidents[~incidents["warmup"] & incidents["promise"] & incidents["on_time"].notna()]
    x, y = local_xy(sub["lon"].to_numpy(float), sub["lat"].to_numpy(float), lat0)
    x0, y0 = local_xy(np.array([lon0]), np.array([lat0]), lat0)
    ix = np.floor((x - x0[0]) / cell_m).astype(np.int64)
    iy = np.floor((y - y0[0]) / cell_m).astype(np.int64)
    on_time = sub["on_time"].astype(bool).to_numpy()
    cause = sub["late_cause"].to_numpy()
    response = sub["response_min"].to_numpy(float)
    home = sub["home_team"].to_numpy()
    kx = 1.0 / m_per_deg_lon(lat0)
    ky = 1.0 / M_PER_DEG_LAT
    # cells in (ix, iy) order, reports within a cell in table order (a stable sort), one slice each
    order = np.lexsort((iy, ix))
    ix, iy, on_time, cause, response, home = ix[order], iy[order], on_time[order], cause[order], response[order], \
        home[order]
    starts = np.flatnonzero(np.r_[True, (np.diff(ix) != 0) | (np.diff(iy) != 0)]) if len(ix) else np.zeros(0, int)
    ends = np.r_[starts[1:], len(ix)]
    feats = []
    for s0, s1 in zip(starts.tolist(), ends.tolist()):
        n = s1 - s0
        if n < min_reports:
            continue
        cx, cy = int(ix[s0]), int(iy[s0])
        ok = on_time[s0:s1]
        k = int(ok.sum())
        lo, hi = wilson(k, n)
        resp = response[s0:s1]
        resp = resp[~np.isnan(resp)]
        late = cause[s0:s1][~ok]
        west = lon0 + cx * cell_m * kx
        south = lat0 + cy * cell_m * ky
        east, north = west + cell_m * kx, south + cell_m * ky
        props = {"cell": f"{cx}_{cy}", "reports": n, "on_time": k, "rate": round(k / n, 4),
                 "ci95": [round(lo, 4), round(hi, 4)], "late": n - k,
                 **{c: int((late == c).sum()) for c in LATE_CAUSES},
                 "mean_response_min": round(float(resp.sum() / len(resp)), 2) if len(resp) else None,
                 "p90_response_min": round(float(np.quantile(resp, 0.9)), 2) if len(resp) else None,
                 "home_team": _mode(home[s0:s1])}
        ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
        feats.append({"type": "Feature", "properties": props,
                      "geometry": {"type": "Polygon", "coordinates": [[[round(a, 7), round(b, 7)] for a, b in ring]]}})
    out = {"type": "FeatureCollection", "cell_m": cell_m, "features": feats}
    place_names(world, out)
    return out


def _mode(values) -> str:
    """The most common value; on a tie the smallest (as ``pandas.Series.mode().iloc[0]``)."""
    names, counts = np.unique(values.astype(str), return_counts=True)
    return str(names[np.argmax(counts)])


def _bearing(dx: float, dy: float) -> str:
    names = ["E", "NE", "N", "NW", "W", "SW", "S", "SE"]
    return names[int(((np.degrees(np.arctan2(dy, dx)) + 22.5) % 360) // 45)]


def _node_names(world) -> dict[int, str]:
    """Name of a named road at each node that has one (OSM ``name``), keyed by router index."""
    names: dict[int, str] = {}
    net = world.network
    for u, v, nm in zip(net.eu.tolist(), net.ev.tolist(), net.edge_attr("name")):
        if isinstance(nm, list):
            nm = nm[0] if nm else None
        if nm and str(nm) != "nan":
            for n in (u, v):
                names.setdefault(n, str(nm))
    return names


def place_names(world, cells: dict) -> None:
    """Give every cell a ``place`` a planner recognises: the nearest named road (within 600 m of the
    cell centre) where the graph has names, else the distance and direction from its township's
    base (e.g. "凤桥镇: 4.2 km SE of base")."""
    feats = cells["features"]
    if not feats:
        return
    r = world.router
    names = getattr(world, "_road_names", None)
    if names is None:
        names = world._road_names = _node_names(world)
    lat0 = float(r.lat.mean())
    named = np.fromiter(names.keys(), dtype=np.int64, count=len(names)) if names else np.zeros(0, dtype=np.int64)
    tree = None
    if len(named):
        from scipy.spatial import cKDTree

        nx_, ny_ = local_xy(r.lon[named], r.lat[named], lat0)
        tree = cKDTree(np.column_stack([nx_, ny_]))
    team_idx = {t.name: i for i, t in enumerate(world.scenario.teams)}
    for f in feats:
        ring = np.asarray(f["geometry"]["coordinates"][0])
        clon, clat = ring[:4, 0].mean(), ring[:4, 1].mean()
        p = f["properties"]
        cx, cy = local_xy(np.array([clon]), np.array([clat]), lat0)
        place = None
        if tree is not None:
            dist, j = tree.query([cx[0], cy[0]])
            if dist <= 600:
                place = f"{p['home_team']}: near {names[int(named[j])]}"
        if place is None:
            i = team_idx.get(p["home_team"])
            if i is not None:
                b = world.base_idx[i]
                bx, by = local_xy(np.array([r.lon[b]]), np.array([r.lat[b]]), lat0)
                dx, dy = float(cx[0] - bx[0]), float(cy[0] - by[0])
                km = float(np.hypot(dx, dy)) / 1000.0
                place = f"{p['home_team']}: {km:.1f} km {_bearing(dx, dy)} of base" if km >= 0.3 else \
                    f"{p['home_team']}: at the base"
        p["place"] = place
        p["centre"] = [round(float(clon), 6), round(float(clat), 6)]


def worst_cells(cells: dict, n: int = 10, target: float | None = 0.9) -> list[dict]:
    """The ``n`` cells with the strongest evidence that they miss the on-time target.

    Evidence is the probability that the cell's true on-time rate is below ``target`` given its
    reports (Jeffreys posterior Beta(k + ½, n − k + ½)), so a rural cell with 3 reports and 2 late
    ranks above a town cell with 200 reports and 3 late; ties go to the cell with more late
    reports. ``shown_missing`` marks cells whose 95% interval lies wholly below the target. Only
    cells with at least one late report are listed."""
    from scipy.special import betainc  # the Beta CDF (what scipy.stats.beta.cdf computes), without importing stats

    goal = 0.9 if target is None else float(target)
    rows = []
    for f in cells["features"]:
        p = dict(f["properties"])
        if p["late"] <= 0:
            continue
        k, m = p["on_time"], p["reports"]
        p["p_below_target"] = round(float(betainc(k + 0.5, m - k + 0.5, goal)), 4)
        p["shown_missing"] = bool(p["ci95"][1] < goal)
        rows.append(p)
    rows.sort(key=lambda p: (-p["p_below_target"], -p["late"], p["rate"]))
    return rows[:n]
