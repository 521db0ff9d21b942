"""Road closures and disruptions in their time windows: a flooded area, a bridge under repair, a
typhoon day.

A disruption selects roads (by name, OSM way id, a line with a buffer, or a polygon) and either
closes them or multiplies their speed, and/or multiplies every speed in the district (weather),
during a window of the run (``start_day``–``end_day``, optionally only between ``start`` and
``end`` each day). OSMnx has no notion of barriers; Esri Network Analyst has point, line and
polygon barriers. Here a disruption becomes extra **time bands**: for every combination of a
regular band (off-peak, peaks) and the set of disruptions in force, one band whose edge weights
carry the closure. The band lookup then covers the whole horizon instead of repeating weekly. The
router (base matrices, hub labels, searches) and the reference router treat those bands like any
other, so travel times stay exact inside the window, and outside it nothing changes: a run without
disruptions has exactly the bands it had before.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import DispatchSimError
from .speeds import BandTable, TimeBand, parse_hhmm


def _names(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple, set)):
        return [str(x) for x in value]
    return [str(value)]


def select_edges(G, roads, label: str) -> list[tuple]:
    """Edge keys ``(u, v, k)`` of ``G`` matched by a disruption's road selection.

    Raises
    ------
    DispatchSimError
        When the selection matches no edge (a typo in a road name, a line off the map), naming it.
    """
    import shapely
    from shapely.geometry import LineString, Polygon

    from .crs import to_wgs84
    from .geodesy import local_xy

    want_names = {n.strip() for n in roads.names}
    want_ways = {int(w) for w in roads.osm_ways}
    keys, us, vs = [], [], []
    hits = []
    for u, v, k, d in G.edges(keys=True, data=True):
        keys.append((u, v, k))
        us.append(u)
        vs.append(v)
        ok = bool(want_names) and bool(want_names & set(_names(d.get("name"))))
        if not ok and want_ways:
            ways = d.get("osmid")
            ways = ways if isinstance(ways, (list, tuple, set)) else [ways]
            ok = any(str(w).lstrip("-").isdigit() and int(w) in want_ways for w in ways if w is not None)
        hits.append(ok)
    hit = np.asarray(hits, dtype=bool)
    if roads.line or roads.polygon:
        xs = {n: d["x"] for n, d in G.nodes(data=True)}
        ys = {n: d["y"] for n, d in G.nodes(data=True)}
        lat0 = float(np.mean(list(ys.values())))
        ux, uy = local_xy(np.array([xs[u] for u in us]), np.array([ys[u] for u in us]), lat0)
        vx, vy = local_xy(np.array([xs[v] for v in vs]), np.array([ys[v] for v in vs]), lat0)
        segs = shapely.linestrings(np.stack([np.column_stack([ux, uy]), np.column_stack([vx, vy])], axis=1))

        def local(coords):
            arr = np.asarray(coords, dtype=float)
            lon, lat = to_wgs84(arr[:, 0], arr[:, 1], roads.crs)
            return np.column_stack(local_xy(np.asarray(lon), np.asarray(lat), lat0))

        if roads.line:
            geom = LineString(local(roads.line)).buffer(roads.buffer_m)
            hit |= shapely.intersects(segs, geom)
        if roads.polygon:
            geom = Polygon(local(roads.polygon))
            hit |= shapely.intersects(segs, geom)
    out = [key for key, h in zip(keys, hit) if h]
    if not out:
        raise DispatchSimError(f"{label}: selects no road of the graph (check names, way ids or coordinates)")
    return out


def windows(dis, horizon_min: float) -> list[tuple[float, float]]:
    """Absolute ``(start_min, end_min)`` intervals in which a disruption is in force.

    A daily window that wraps past midnight belongs to the day it starts (as a shift does): with
    ``start_day: 8, end_day: 9, start: "22:00", end: "06:00"`` it runs from day 8 22:00 to day 9
    06:00. Windows are cut to the run (0 to the horizon); a window starting on a day in
    ``[start_day, end_day)`` is kept whole, except that it cannot start before ``start_day``."""
    a_day, b_day = dis.start_day * 1440.0, dis.end_day * 1440.0
    s, e = parse_hhmm(dis.start), parse_hhmm(dis.end)
    if s == 0 and e == 1440:
        lo, hi = a_day, min(b_day, horizon_min)
        return [(lo, hi)] if hi > lo else []
    out = []
    for day in range(int(math.floor(dis.start_day)), int(math.ceil(dis.end_day))):
        base = day * 1440.0
        lo, hi = (base + s, base + e) if s < e else (base + s, base + 1440.0 + e)
        if s < e:
            hi = min(hi, b_day)
        lo, hi = max(lo, a_day, 0.0), min(hi, horizon_min)
        if hi > lo:
            out.append((lo, hi))
    return out


def band_table(scenario, G, horizon_min: float) -> BandTable:
    """The scenario's time bands, plus one band per (regular band × disruptions in force)."""
    base = scenario.speeds.band_table()
    dis = list(getattr(scenario, "disruptions", []) or [])
    if not dis:
        return base
    effects = []
    for i, d in enumerate(dis):
        label = f"{scenario.source_file or 'scenario'}: disruptions[{i}] ({d.name})"
        edges = {}
        if d.roads is not None:
            f = 0.0 if d.closed else float(d.speed_factor)
            edges = {key: f for key in select_edges(G, d.roads, label)}
        effects.append((d.name, edges, float(d.weather_factor) if d.weather_factor is not None else 1.0))
    # every 5-minute slot of the horizon: which disruptions are in force
    res = BandTable.RES_MIN
    n = int(math.ceil(horizon_min / res))
    active = np.zeros((len(dis), n), dtype=bool)
    for i, d in enumerate(dis):
        for a, b in windows(d, horizon_min):
            active[i, int(a // res):int(math.ceil(b / res))] = True
    bands = list(base.bands[1:])
    combos: dict[tuple, int] = {}
    win = []
    cols = active.T
    start = None
    for slot in range(n + 1):
        key = tuple(np.flatnonzero(cols[slot])) if slot < n else None
        if start is not None and key != start[1]:
            if start[1]:
                mapping = {}
                for bi, b in enumerate(base.bands):
                    ck = (bi, start[1])
                    if ck not in combos:
                        factors = {c: f * math.prod(effects[j][2] for j in start[1]) for c, f in
                                   {**{"default": 1.0}, **b.factors}.items()}
                        ef: dict = {}
                        for j in start[1]:
                            for e, f in effects[j][1].items():
                                ef[e] = ef.get(e, 1.0) * f
                        bands.append(TimeBand(f"{b.name}+{'+'.join(effects[j][0] for j in start[1])}", 0, 0,
                                              factors, False, ef or None))
                        combos[ck] = len(bands)  # band 0 (off-peak) is added by BandTable
                    mapping[bi] = combos[ck]
                win.append((start[0] * res, slot * res, mapping))
            start = None
        if slot < n and start is None:
            start = (slot, key)
    # the new bands cover no time of day by themselves (start = end = 0): only the windows select them
    if len(bands) + 1 > 127:
        raise DispatchSimError("disruptions: too many overlapping combinations (more than 126 time bands)")
    return BandTable(bands, windows=win, horizon_min=horizon_min)
