"""Road speeds by class (China defaults) and time-band speed factors.

Why our own speed step rather than ``osmnx.routing.add_edge_speeds``: planners need *urban and
rural* defaults per class (a tertiary road in 凤桥镇 is not a tertiary road in the old town), a
documented discount on posted limits, and peak-hour factors by class that the router applies per
time band. Defaults are assumptions, set below China's legal limits (Road Traffic Safety Law
Implementing Regulations, art. 45: 30 km/h urban / 40 km/h rural on roads without a centre line,
50 / 70 km/h with one lane each way; expressways up to 120 km/h) to reflect typical free-flow speed
of a municipal vehicle; every value can be overridden per class in the scenario.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

from . import settings

#: Resolution (minutes) of the time-band table: bands change on this grid; both dispatchers read it.
BAND_RES_MIN = 5

if TYPE_CHECKING:  # networkx and numpy are imported where graphs and tables are built: reading a
    import networkx as nx  # scenario (``validate``) needs neither
    import numpy as np

#: Free-flow speed (km/h) by OSM highway class in built-up areas (assumption, see module docstring).
URBAN_KPH: dict[str, float] = {
    "motorway": 80, "trunk": 50, "primary": 40, "secondary": 35, "tertiary": 30,
    "unclassified": 25, "residential": 20, "living_street": 10, "service": 15, "road": 25,
}
#: Free-flow speed (km/h) by OSM highway class outside built-up areas (assumption).
RURAL_KPH: dict[str, float] = {
    "motorway": 100, "trunk": 70, "primary": 60, "secondary": 50, "tertiary": 40,
    "unclassified": 35, "residential": 30, "living_street": 10, "service": 20, "road": 30,
}
#: Ramps (``*_link``) run at this share of their parent class's speed.
LINK_FACTOR = 0.7
#: Share of a tagged ``maxspeed`` used as free-flow speed (OSRM's car profile uses 0.8 likewise).
MAXSPEED_FACTOR = 0.8
#: Road nodes per km² (in 1 km cells) at or above which an edge counts as urban.
URBAN_NODE_DENSITY_PER_KM2 = 40.0

ROAD_CLASSES: tuple[str, ...] = tuple(URBAN_KPH)


def road_class(highway) -> str:
    """Normalise an OSM ``highway`` value (str or list) to one of :data:`ROAD_CLASSES` (+ ``_link``)."""
    if isinstance(highway, (list, tuple)):
        highway = highway[0] if highway else "road"
    h = str(highway or "road")
    base = h[:-5] if h.endswith("_link") else h
    if base not in URBAN_KPH:
        base = "road"
    return base + ("_link" if h.endswith("_link") else "")


def parse_maxspeed(value) -> float | None:
    """Parse an OSM ``maxspeed`` tag to km/h; ``None`` if absent or not numeric."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (list, tuple)):
        parsed = [p for p in (parse_maxspeed(v) for v in value) if p]
        return min(parsed) if parsed else None
    s = str(value).strip().lower()
    m = re.match(r"^(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph)?$", s)
    if not m:
        return None
    v = float(m.group(1))
    if m.group(2) == "mph":
        v *= 1.609344
    return v if 5 <= v <= 150 else None


@dataclass
class SpeedSettings:
    """Speeds used to turn lengths into travel times.

    Parameters
    ----------
    urban_kph, rural_kph
        Overrides by class; missing classes fall back to :data:`URBAN_KPH` / :data:`RURAL_KPH`.
    use_maxspeed
        Use tagged ``maxspeed`` (times ``maxspeed_factor``) where present.
    maxspeed_factor
        Share of the posted limit that is driven.
    """

    urban_kph: dict[str, float] = field(default_factory=dict)
    rural_kph: dict[str, float] = field(default_factory=dict)
    use_maxspeed: bool = True
    maxspeed_factor: float = MAXSPEED_FACTOR

    def speed_kph(self, cls: str, urban: bool) -> float:
        base = cls[:-5] if cls.endswith("_link") else cls
        table = {**(URBAN_KPH if urban else RURAL_KPH), **(self.urban_kph if urban else self.rural_kph)}
        v = float(table.get(base, table["road"]))
        return v * LINK_FACTOR if cls.endswith("_link") else v

    def key(self) -> str:
        """Stable text for cache keys."""
        return repr((sorted(self.urban_kph.items()), sorted(self.rural_kph.items()), self.use_maxspeed,
                     self.maxspeed_factor))


def classify_urban(G: nx.MultiDiGraph, density_per_km2: float = URBAN_NODE_DENSITY_PER_KM2) -> dict[int, bool]:
    """Mark nodes urban where road-node density in their 1 km cell reaches ``density_per_km2``.

    A graph-only heuristic so OSM extracts need no separate built-up-area layer.
    """
    import numpy as np

    from .geodesy import local_xy

    nodes = np.fromiter(G.nodes, dtype=np.int64, count=G.number_of_nodes())
    xs = np.array([G.nodes[n]["x"] for n in nodes])
    ys = np.array([G.nodes[n]["y"] for n in nodes])
    lat0 = float(np.mean(ys)) if len(ys) else 0.0
    mx, my = local_xy(xs, ys, lat0)
    cx = np.floor(mx / 1000.0).astype(np.int64)
    cy = np.floor(my / 1000.0).astype(np.int64)
    cell = cx * 1_000_003 + cy
    _, inverse, counts = np.unique(cell, return_inverse=True, return_counts=True)
    urban = counts[inverse] >= density_per_km2
    return dict(zip(nodes.tolist(), urban.tolist()))


def add_travel_times(G: nx.MultiDiGraph, speeds: SpeedSettings | None = None) -> nx.MultiDiGraph:
    """Set ``road_class``, ``urban``, ``speed_kph`` and ``travel_time`` (s) on every edge, in place.

    Edges that already carry a boolean ``urban`` (the stand-in sets it) keep it; others are
    classified by :func:`classify_urban`.
    """
    import numpy as np

    speeds = speeds or SpeedSettings()
    node_urban = None
    for u, v, _k, d in G.edges(keys=True, data=True):
        cls = road_class(d.get("highway"))
        urban = d.get("urban")
        if isinstance(urban, str):
            urban = urban.lower() == "true"
        if not isinstance(urban, (bool, np.bool_)):
            if node_urban is None:
                node_urban = classify_urban(G)
            urban = node_urban[u] or node_urban[v]
        kph = None
        if speeds.use_maxspeed:
            ms = parse_maxspeed(d.get("maxspeed"))
            if ms:
                kph = ms * speeds.maxspeed_factor
        if kph is None:
            kph = speeds.speed_kph(cls, bool(urban))
        length = float(d.get("length", 0.0))
        d["road_class"] = cls
        d["urban"] = bool(urban)
        d["speed_kph"] = round(float(kph), 3)
        d["length"] = length
        d["travel_time"] = max(settings.min_edge_travel_time_s, length / (kph / 3.6))
    return G


@dataclass
class TimeBand:
    """A time of day in which speeds differ, e.g. the morning peak.

    Parameters
    ----------
    name
        Label shown in reports.
    start_min, end_min
        Minutes after midnight; a band may wrap past midnight (end < start).
    factors
        Speed multiplier by road class (``default`` for the rest); 0.7 means 30% slower.
    weekdays_only
        Apply Monday–Friday only (day 0 of a run is a Monday).
    """

    name: str
    start_min: int
    end_min: int
    factors: dict[str, float]
    weekdays_only: bool = False
    #: per-edge multipliers on top of the class factors, keyed by ``(u, v, key)`` of the graph; 0 closes
    #: the edge (disruptions: :mod:`dispatch_sim.disruptions`)
    edge_factors: dict | None = None

    def factor(self, cls: str) -> float:
        base = cls[:-5] if cls.endswith("_link") else cls
        return float(self.factors.get(base, self.factors.get("default", 1.0)))

    def edge_factor(self, u, v, k) -> float:
        return 1.0 if not self.edge_factors else float(self.edge_factors.get((u, v, k), 1.0))

    def covers(self, minute_of_day: int) -> bool:
        if self.start_min <= self.end_min:
            return self.start_min <= minute_of_day < self.end_min
        return minute_of_day >= self.start_min or minute_of_day < self.end_min


OFF_PEAK = "off_peak"


class BandTable:
    """Lookup of the time band in force at any simulation time, O(1) per query.

    Band 0 is always ``off_peak`` (factor 1 everywhere); listed bands follow in order and the first
    that covers a minute wins. Resolution is 5 minutes over a week.
    """

    RES_MIN = BAND_RES_MIN

    def __init__(self, bands: list[TimeBand] | None = None, windows: Sequence[tuple[float, float, dict]] | None = None,
                 horizon_min: float | None = None):
        """``windows`` (disruptions): ``(start_min, end_min, {band: band in force instead})`` in minutes
        from the run start; with them the lookup covers ``horizon_min`` instead of repeating weekly."""
        import numpy as np

        self.bands: list[TimeBand] = [TimeBand(OFF_PEAK, 0, 0, {"default": 1.0})] + list(bands or [])
        slots = 7 * 24 * 60 // self.RES_MIN
        table = np.zeros(slots, dtype=np.int8)
        for s in range(slots):
            minute_of_week = s * self.RES_MIN
            day, mod = divmod(minute_of_week, 1440)
            for i, b in enumerate(self.bands[1:], start=1):
                if b.weekdays_only and day >= 5:
                    continue
                if b.covers(mod):
                    table[s] = i
                    break
        self.windows = [(float(a), float(b), dict(m)) for a, b, m in (windows or [])]
        if self.windows:
            n = int(np.ceil((horizon_min or 7 * 1440) / self.RES_MIN))
            table = table[np.arange(n) % slots].copy()
            for start, end, mapping in self.windows:  # later windows map the bands earlier ones left
                lo, hi = int(start // self.RES_MIN), int(np.ceil(end / self.RES_MIN))
                seg = table[max(0, lo):min(n, hi)]
                table[max(0, lo):min(n, hi)] = np.array([mapping.get(int(x), int(x)) for x in seg], dtype=np.int8)
            slots = n
        self._table = table
        self._slots = slots

    @property
    def names(self) -> list[str]:
        return [b.name for b in self.bands]

    def band_at(self, t_min: float) -> int:
        """Index of the band in force at ``t_min`` minutes after the run start (a Monday 00:00)."""
        return int(self._table[int(t_min // self.RES_MIN) % self._slots])

    def key(self) -> str:
        return repr([(b.name, b.start_min, b.end_min, sorted(b.factors.items()), b.weekdays_only,
                      sorted(b.edge_factors.items()) if b.edge_factors else None) for b in self.bands]
                    + [self.windows, self._slots])

    @property
    def table(self) -> np.ndarray:
        """The band index of every ``RES_MIN`` slot (a week, or the horizon with disruptions)."""
        return self._table


def parse_hhmm(text: str) -> int:
    """``"07:30"`` → 450 minutes after midnight (``"24:00"`` allowed)."""
    m = re.match(r"^(\d{1,2}):(\d{2})$", str(text).strip())
    if not m or int(m.group(1)) > 24 or int(m.group(2)) > 59 or (int(m.group(1)) == 24 and int(m.group(2))):
        raise ValueError(f"{text!r} is not a time of day HH:MM")
    return int(m.group(1)) * 60 + int(m.group(2))
