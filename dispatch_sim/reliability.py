"""Where the circle breaks under load: the simulated on-time share per grid cell.

A static reach map says where a base *could* be on site in time; it cannot show the places that
fail because the crew is busy elsewhere. This module bins simulated reports into square cells
(``cell_m`` metres, on a local equirectangular grid around the graph's centre) and gives each cell
its on-time rate with a Wilson interval and the count of each late cause.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .metrics import LATE_CAUSES, wilson
from .roads import local_xy

M_PER_DEG_LAT = 110_540.0
M_PER_DEG_LON_EQUATOR = 111_320.0


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
    frame = pd.DataFrame({"ix": ix, "iy": iy, "on_time": sub["on_time"].astype(bool).to_numpy(),
                          "cause": sub["late_cause"].to_numpy(), "response": sub["response_min"].to_numpy(float),
                          "home": sub["home_team"].to_numpy()})
    kx = 1.0 / (M_PER_DEG_LON_EQUATOR * np.cos(np.radians(lat0)))
    ky = 1.0 / M_PER_DEG_LAT
    feats = []
    for (cx, cy), g in frame.groupby(["ix", "iy"], sort=True):
        n = len(g)
        if n < min_reports:
            continue
        k = int(g["on_time"].sum())
        lo, hi = wilson(k, n)
        resp = g["response"].dropna()
        causes = g.loc[~g["on_time"], "cause"].value_counts()
        west = lon0 + cx * cell_m * kx
        south = lat0 + cy * cell_m * ky
        east, north = west + cell_m * kx, south + cell_m * ky
        props = {"cell": f"{cx}_{cy}", "reports": n, "on_time": k, "rate": round(k / n, 4),
                 "ci95": [round(lo, 4), round(hi, 4)], "late": n - k,
                 **{c: int(causes.get(c, 0)) for c in LATE_CAUSES},
                 "mean_response_min": round(float(resp.mean()), 2) if len(resp) else None,
                 "p90_response_min": round(float(resp.quantile(0.9)), 2) if len(resp) else None,
                 "home_team": str(g["home"].mode().iloc[0])}
        ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
        feats.append({"type": "Feature", "properties": props,
                      "geometry": {"type": "Polygon", "coordinates": [[[round(a, 7), round(b, 7)] for a, b in ring]]}})
    return {"type": "FeatureCollection", "cell_m": cell_m, "features": feats}


def worst_cells(cells: dict, n: int = 10, min_reports: int = 5) -> list[dict]:
    """The ``n`` cells with the lowest upper confidence bound: places that are late with
    confidence, not by chance. Ranking on the upper bound already discounts cells with few reports
    (their interval is wide), so the threshold only drops cells too small to say anything; a high
    one would hide the rural cells where the circle usually breaks first."""
    rows = [f["properties"] for f in cells["features"] if f["properties"]["reports"] >= min_reports]
    rows.sort(key=lambda p: (p["ci95"][1], p["rate"]))
    return rows[:n]
