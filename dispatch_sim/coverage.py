"""The 30-minute circle on the road network: what each base reaches, per time band.

The promise runs from the report to arrival on site, so *promise reach* adds the platform's
dispatch delay and the crew's turnout (the scenario's distributions, sampled) to the drive from the
base: a place is in the 90% reach of its base when an idle crew there arrives within the target in
at least 90% of cases. It leaves out waiting for a busy crew, which only simulation (``run``)
shows. *Drive-only* reach (the drive alone within the target) is kept as a secondary layer.

Reach is computed on the road graph, so a canal or lake without a bridge is never "covered". The
per-band GeoJSON is a grid of square cells (``cell_m``), small enough for QGIS to open at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .geodesy import M_PER_DEG_LAT, local_xy, m_per_deg_lon


def reach(world, minutes: float, band: int = 0, include_turnout: bool = False) -> dict[str, np.ndarray]:
    """Node indices within ``minutes`` of each team's base (travel only unless ``include_turnout``)."""
    sc = world.scenario
    budget = minutes * 60.0
    if include_turnout:
        budget -= sc.dispatch.turnout_min.mean() * 60.0 + sc.dispatch.dispatch_delay_min.mean() * 60.0
    fb = world.router.from_base[band]
    return {t.name: np.flatnonzero(fb[i] <= budget) for i, t in enumerate(sc.teams)}


def pre_drive_minutes(world, n: int = 4000) -> np.ndarray:
    """A sorted sample of dispatch delay + turnout (minutes) from the scenario's distributions."""
    from .distributions import sample_durations

    sc = world.scenario
    ss = np.random.SeedSequence([sc.run.seed, 424_242])
    a, b = (np.random.default_rng(x) for x in ss.spawn(2))
    return np.sort(sample_durations(sc.dispatch.dispatch_delay_min, a, n) + sample_durations(sc.dispatch.turnout_min, b,
                                                                                             n))


def promise_reach(world, minutes: float, band: int = 0, pre: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per road node: drive minutes from its own (home team's) base and from the nearest base, the
    probability that an idle crew arrives within ``minutes`` of the report (delay + turnout +
    drive), and the minutes by which it arrives in 50% and 90% of cases."""
    pre = pre_drive_minutes(world) if pre is None else pre
    r = world.router
    fb = r.from_base[band]
    town = np.array([i for i, t in enumerate(world.scenario.teams) if not t.backup])
    own = fb[world.node_team, np.arange(r.n)] / 60.0
    anyb = fb[town].min(axis=0) / 60.0

    def prob(drive):
        return np.searchsorted(pre, minutes - drive, side="right") / len(pre)

    q50, q90 = float(np.quantile(pre, 0.5)), float(np.quantile(pre, 0.9))
    return {"drive_own_min": own, "drive_any_min": anyb, "p_own": prob(own), "p_any": prob(anyb),
            "arrive50_own_min": own + q50, "arrive90_own_min": own + q90}


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
    length = np.array(r.network.length, dtype=float)  # per edge, in the order of r._edges
    weight = demand_weights(world)
    lat0 = float(r.lat.mean())
    x, y = local_xy(r.lon, r.lat, lat0)
    cell = np.floor(x / cell_m).astype(np.int64) * 1_000_003 + np.floor(y / cell_m).astype(np.int64)
    cells, cell_of = np.unique(cell, return_inverse=True)
    out: dict[str, Any] = {"minutes": minutes, "cell_m": cell_m, "bands": {},
           "note": ("promise_*: report to arrival for an idle crew (dispatch delay + turnout + drive; waiting for "
                    "a busy crew is not included, see `run`); reach50/reach90: places reached within the target in "
                    "at least 50%/90% of cases; expected_on_time_if_idle: demand-weighted probability; "
                    "demand_share_*_base and road_share_*: drive time alone within the target (secondary)")}
    pre = pre_drive_minutes(world)
    for b, band in enumerate(world.bands.bands):
        fb = r.from_base[b]
        pr = promise_reach(world, minutes, b, pre)
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
                "promise_reach90_share": _share(weight[mine & (pr["p_own"] >= 0.9)], weight[mine]),
                "promise_reach50_share": _share(weight[mine & (pr["p_own"] >= 0.5)], weight[mine]),
                "expected_on_time_if_idle": _share(weight[mine] * pr["p_own"][mine], weight[mine]),
                "road_km": round(float(length[em].sum()) / 2000.0, 2),
                "road_share_own_base": _share(length[em & edge_own], length[em]),
                "demand_share_own_base": _share(weight[mine & within_own], weight[mine]),
                "worst_node_minutes_from_own_base": round(float(fb[i][mine].max()) / 60.0, 1) if mine.any() else None,
            }
        out["bands"][band.name] = {
            "promise_reach90_share_own_base": _share(weight[pr["p_own"] >= 0.9], weight),
            "promise_reach50_share_own_base": _share(weight[pr["p_own"] >= 0.5], weight),
            "promise_reach90_share_any_base": _share(weight[pr["p_any"] >= 0.9], weight),
            "expected_on_time_if_idle_own_base": _share(weight * pr["p_own"], weight),
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


def promise_cells_geojson(world, minutes: float = 30.0, band: int = 0, cell_m: float = 500.0,
                          pre: np.ndarray | None = None) -> dict:
    """One band's promise reach on a grid: a square per cell with road nodes, with the cell's home
    team, the median drive from its own base, the median minutes by which an idle crew arrives in
    90% of cases, and the mean probability of arriving within ``minutes``."""
    import pandas as pd

    r = world.router
    pr = promise_reach(world, minutes, band, pre)
    lat0 = float(r.lat.mean())
    lon0 = float(r.lon.mean())
    x, y = local_xy(r.lon, r.lat, lat0)
    x0, y0 = local_xy(np.array([lon0]), np.array([lat0]), lat0)
    ix = np.floor((x - x0[0]) / cell_m).astype(np.int64)
    iy = np.floor((y - y0[0]) / cell_m).astype(np.int64)
    names = [t.name for t in world.scenario.teams]
    team = np.asarray(world.node_team, dtype=np.int64)
    df = pd.DataFrame({"ix": ix, "iy": iy, "drive": pr["drive_own_min"], "arrive90": pr["arrive90_own_min"],
                       "p": pr["p_own"], "drive_any": pr["drive_any_min"]})
    kx = 1.0 / m_per_deg_lon(lat0)
    ky = 1.0 / M_PER_DEG_LAT
    g = df.groupby(["ix", "iy"], sort=True)
    agg = g.agg(drive=("drive", "median"), arrive90=("arrive90", "median"), p=("p", "mean"),
                drive_any=("drive_any", "median"), nodes=("p", "size"))
    # the cell's team: the home team of most of its nodes; a tie goes to the team whose node comes first
    cell = g.ngroup().to_numpy()
    counts = np.zeros((len(agg), len(names)), dtype=np.int64)
    np.add.at(counts, (cell, team), 1)
    first = np.full(counts.shape, len(team), dtype=np.int64)
    np.minimum.at(first, (cell, team), np.arange(len(team)))
    cell_team = np.where(counts == counts.max(axis=1, keepdims=True), first, len(team) + 1).argmin(axis=1)
    band_name = world.bands.bands[band].name
    feats = []
    for (cx, cy), drive, arrive90, p, drive_any, nodes, t in zip(
            agg.index, agg["drive"].to_numpy(), agg["arrive90"].to_numpy(), agg["p"].to_numpy(),
            agg["drive_any"].to_numpy(), agg["nodes"].to_numpy(), cell_team):
        w_ = lon0 + cx * cell_m * kx
        s_ = lat0 + cy * cell_m * ky
        e_, n_ = w_ + cell_m * kx, s_ + cell_m * ky
        ring = [[round(a, 6), round(b, 6)] for a, b in ((w_, s_), (e_, s_), (e_, n_), (w_, n_), (w_, s_))]
        feats.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}, "properties": {
            "team": names[t], "band": band_name,
            "arrive90_min": round(float(arrive90), 1) if np.isfinite(arrive90) else None,
            "p_within_target": round(float(p), 3),
            "drive_own_min": round(float(drive), 1) if np.isfinite(drive) else None,
            "drive_any_min": round(float(drive_any), 1) if np.isfinite(drive_any) else None,
            "reach90": bool(p >= 0.9), "nodes": int(nodes)}})
    return {"type": "FeatureCollection", "cell_m": cell_m, "minutes": minutes,
            "band": world.bands.bands[band].name, "features": feats}


@dataclass(frozen=True)
class CoverageResult:
    """What ``dispatch-sim coverage`` computes: the summary (``coverage.json``), one grid of promise
    reach per time band (``coverage_<band>.geojson``) and the band where fewest cells are reached."""

    minutes: float
    summary: dict
    grids: dict[str, dict]
    worst_band: str


def promise_coverage(world, minutes: float, cell_m: float = 500.0) -> CoverageResult:
    """Reach of the promise per time band: :func:`coverage_summary` and a :func:`promise_cells_geojson`
    grid for every band."""
    summ = coverage_summary(world, minutes)
    summ["graph_kind"] = "stand-in" if world.standin else world.network.graph_attrs.get("kind")
    summ["standin"] = world.standin
    pre = pre_drive_minutes(world)
    grids: dict[str, dict] = {}
    worst, worst_beyond = "", -1  # set by the first band (there is always one)
    for b, band in enumerate(world.bands.bands):
        fc = promise_cells_geojson(world, minutes, b, cell_m, pre)
        beyond = sum(1 for f in fc["features"] if not f["properties"]["reach90"])
        if beyond > worst_beyond:
            worst, worst_beyond = band.name, beyond
        grids[band.name] = fc
    return CoverageResult(minutes, summ, grids, worst)
