"""Report streams: when, where and what grid workers report.

Arrivals are a non-homogeneous Poisson process with a piecewise-constant rate per hour (daily
volume × hour-of-day × day-of-week profiles × surges × load). Each attribute has its own random
stream (arrivals, places, categories, work times, dispatch delays, turnouts, thinning marks), so two
variants of a scenario see the same reports (common random numbers). Loads are coupled by thinning:
reports are drawn at ``coupling_load`` and each is kept when its mark is below ``load /
coupling_load``, so the reports at a lower load are a subset of those at a higher one.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape

from .distributions import sample_durations
from .errors import DispatchSimError
from .geodesy import M_PER_DEG_LAT, m_per_deg_lon
from .readers import read_points_csv, read_trace_file
from .scenario import Scenario, WhereHotspot, WherePoints, WherePolygons, WhereRoadLength, WhereTownship
from .speeds import parse_hhmm

STREAMS = ("arrivals", "places", "categories", "work", "delay", "turnout", "marks", "components")


@dataclass
class Reports:
    """Column arrays, one row per report, sorted by ``ready_min`` (when the dispatcher sees it)."""

    created_min: np.ndarray
    ready_min: np.ndarray
    turnout_min: np.ndarray
    node: np.ndarray  # router node index
    snap_m: np.ndarray
    category: np.ndarray
    priority: np.ndarray
    promise: np.ndarray
    work_min: np.ndarray
    home_team: np.ndarray
    #: the team that must serve it: the home team, or for a referred matter the district team that
    #: owns it (None: the home team)
    own_team: np.ndarray | None = None
    #: minutes of referral (案件移送) between the dispatch delay and the owner seeing it (None: none)
    referral_min: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.created_min)

    @property
    def serving_team(self) -> np.ndarray:
        """The team that must serve each report (its home team unless referred)."""
        return self.home_team if self.own_team is None else self.own_team

    @property
    def referred(self) -> np.ndarray:
        """Whether each report was referred to a district team."""
        return np.zeros(len(self), dtype=bool) if self.own_team is None else self.own_team != self.home_team

    def take(self, idx) -> "Reports":
        fields: dict[str, Any] = {k: (None if getattr(self, k) is None else getattr(self, k)[idx])
                                  for k in self.__dataclass_fields__}
        return Reports(**fields)


class DemandModel:
    """Where reports can come from on a given graph, precomputed once per scenario and graph.

    Parameters
    ----------
    scenario
        The scenario (its ``demand`` section is used).
    router
        The router of the graph (node indices, coordinates).
    locator
        Nearest-node lookups for point-based components.
    node_team
        Home team index of every node (jurisdiction).
    edges
        ``(u_idx, v_idx, length_m)`` arrays of the graph's edges.
    """

    def __init__(self, scenario: Scenario, router, locator, node_team: np.ndarray, edges, warn=None):
        self.sc = scenario
        self.dem = scenario.demand
        self.router = router
        self.locator = locator
        self.node_team = node_team
        self.eu, self.ev, self.elen = edges
        self.team_names = [t.name for t in scenario.teams]
        self.components = []
        weights = []
        for i, w in enumerate(self.dem.where):
            self.components.append(self._prepare(w, i, warn))
            weights.append(w.weight)
        self.component_p = np.asarray(weights, dtype=float) / float(sum(weights))
        cats = self.dem.categories
        self.cat_p = np.asarray([c.share for c in cats], dtype=float)
        self.cat_p /= self.cat_p.sum()
        self.cat_priority = np.asarray([c.priority for c in cats], dtype=np.int8)
        self.cat_promise = np.asarray([c.promise for c in cats], dtype=bool)
        # referrals: a category outside the delegated list goes to the district team that handles it
        owner = {c: i for i, t in enumerate(scenario.teams) for c in t.handles}
        self.cat_owner = np.asarray([-1 if c.delegated else owner[c.name] for c in cats], dtype=np.int64)
        self.referrals = bool((self.cat_owner >= 0).any())
        self.cat_promise &= self.cat_owner < 0  # referred matters are outside the township promise
        self._trace: tuple | None = None

    # ------------------------------------------------------------------ components
    def _edge_sampler(self, mask=None):
        length = self.elen if mask is None else np.where(mask, self.elen, 0.0)
        total = length.sum()
        if total <= 0:
            return None
        return np.cumsum(length) / total

    def _prepare(self, w, i, warn):
        label = f"demand.where[{i}]"
        if isinstance(w, WhereRoadLength):
            return RoadLength(self._edge_sampler())
        if isinstance(w, WhereTownship):
            team_p = np.array([w.shares.get(n, 0.0) for n in self.team_names], dtype=float)
            if team_p.sum() <= 0:
                raise DispatchSimError(f"{label}.shares: all shares are zero")
            samplers = []
            for t in range(len(self.team_names)):
                # roads with both ends in the jurisdiction, so a report never lands across the border
                inside = (self.node_team[self.eu] == t) & (self.node_team[self.ev] == t)
                samplers.append(self._edge_sampler(inside) if team_p[t] > 0 else None)
            missing = [self.team_names[t] for t in range(len(samplers)) if team_p[t] > 0 and samplers[t] is None]
            if missing:
                raise DispatchSimError(f"{label}.shares: teams without any road in their jurisdiction: "
                                       f"{', '.join(missing)}")
            return TownshipShares(team_p / team_p.sum(), samplers)
        if isinstance(w, WhereHotspot):
            from .crs import to_wgs84

            lon, lat = to_wgs84(w.lon, w.lat, w.crs)
            self.locator.snap_many([lon], [lat], label=f"{label} hotspot", warn=warn)
            return Disc(float(lon), float(lat), float(w.radius_m))
        if isinstance(w, WherePolygons):
            return Polygons(*self._load_polygons(w, label))
        if isinstance(w, WherePoints):
            lon, lat, crs, wt = read_points_csv(Path(w.path), label)
            nodes = np.empty(len(lon), dtype=np.int64)
            snaps = np.empty(len(lon))
            for c in sorted(set(crs)):
                sel = np.asarray([x == c for x in crs])
                n_ids, s_m, _, _ = self.locator.snap_many(lon[sel], lat[sel], c, label=f"{label} point", warn=warn)
                nodes[sel] = [self.router.index[int(x)] for x in n_ids]
                snaps[sel] = s_m
            return Points(nodes, snaps, wt / wt.sum())
        raise AssertionError(w)

    def _load_polygons(self, w, label):
        from .readers import read_text

        path = Path(w.path)
        text = read_text(path, f"{label}.path", what="GeoJSON file").text  # GBK/UTF-8 detected, size checked
        try:
            data = json.loads(text)
            feats = data["features"] if data.get("type") == "FeatureCollection" else [data]
            geoms = [shape(f["geometry"]) for f in feats]
            wts = np.asarray([float((f.get("properties") or {}).get(w.weight_property, 1.0)) for f in feats])
        except FileNotFoundError:
            raise DispatchSimError(f"{label}.path: {path}: file not found") from None
        except Exception as exc:
            raise DispatchSimError(f"{label}.path: {path}: not a GeoJSON FeatureCollection of polygons "
                                   f"({exc})") from None
        if len(geoms) == 0 or wts.sum() <= 0:
            raise DispatchSimError(f"{label}.path: {path}: no polygons with positive '{w.weight_property}'")
        for g in geoms:
            shapely.prepare(g)
        return (geoms, wts / wts.sum())

    # ------------------------------------------------------------------ sampling
    def _sample_edges(self, cdf, rng, k):
        e = np.minimum(np.searchsorted(cdf, rng.random(k), side="right"), len(cdf) - 1)
        frac = rng.random(k)
        node = np.where(frac < 0.5, self.eu[e], self.ev[e])
        snap = np.minimum(frac, 1 - frac) * self.elen[e]
        return node, snap

    def _sample_places(self, rng_comp, rng, k):
        comp = rng_comp.choice(len(self.components), size=k, p=self.component_p)
        node = np.empty(k, dtype=np.int64)
        snap = np.zeros(k)
        for ci, c in enumerate(self.components):
            sel = np.flatnonzero(comp == ci)
            if len(sel):
                node[sel], snap[sel] = c.sample(self, rng, len(sel))
        return node, snap

    def _snap_idx(self, lon, lat):
        ids, snap_m, _, _ = self.locator.snap_many(lon, lat, strict=False)
        idx = np.array([self.router.index.get(int(x), 0) for x in ids], dtype=np.int64)
        return idx, snap_m

    def hourly_rates(self, horizon_min: float) -> np.ndarray:
        """Mean reports per hour for every hour of the run at load 1 (surges without team filter included)."""
        hours = int(math.ceil(horizon_min / 60.0))
        h = np.asarray(self.dem.hourly_profile, dtype=float)
        wk = np.asarray(self.dem.weekly_profile, dtype=float)
        idx = np.arange(hours)
        rate = self.dem.reports_per_day / 24.0 * (h / h.mean())[idx % 24] * (wk / wk.mean())[(idx // 24) % 7]
        for s in self.dem.surges:
            if s.teams:
                continue
            rate = rate * (1 + (s.factor - 1) * _surge_mask(s, idx))
        return rate

    def generate(self, seed_seq: np.random.SeedSequence, horizon_min: float, *, load: float = 1.0,
                 coupling_load: float | None = None) -> Reports:
        """Draw one replication's reports.

        Parameters
        ----------
        seed_seq
            The replication's seed sequence; its children seed the separate streams.
        horizon_min
            Reports are created in ``[0, horizon_min)``.
        load
            Multiplier on the arrival rate.
        coupling_load
            Draw at this load and thin to ``load`` (>= load); the same value across a sweep makes
            lower-load report sets subsets of higher-load ones.
        """
        if self.dem.trace:
            return self._trace_reports(seed_seq, horizon_min, load)
        coupling = max(load, coupling_load or load)
        streams = dict(zip(STREAMS, (np.random.default_rng(s) for s in seed_seq.spawn(len(STREAMS)))))
        rates = self.hourly_rates(horizon_min) * coupling
        counts = streams["arrivals"].poisson(rates)
        hours = np.repeat(np.arange(len(rates)), counts)
        created = (hours + streams["arrivals"].random(hours.size)) * 60.0
        team_restricted = []
        for s in self.dem.surges:
            if not s.teams:
                continue
            idx = np.arange(len(rates))
            extra = self.hourly_rates(horizon_min) * coupling * (s.factor - 1) * _surge_mask(s, idx)
            c2 = streams["arrivals"].poisson(np.maximum(extra, 0))
            h2 = np.repeat(idx, c2)
            team_restricted.append((s, (h2 + streams["arrivals"].random(h2.size)) * 60.0))
        k = created.size
        node, snap = self._sample_places(streams["components"], streams["places"], k)
        for s in self.dem.surges:  # factor < 1 for some teams: keep their own reports in the window w.p. factor
            if s.teams and s.factor < 1:
                ids = [self.team_names.index(n) for n in s.teams]
                hour = np.floor(created / 60.0).astype(np.int64)
                inside = _surge_mask(s, hour) > 0
                thin_rng = np.random.default_rng(seed_seq.spawn(1)[0])
                drop = inside & np.isin(self.node_team[node], ids) & (thin_rng.random(created.size) >= s.factor)
                created, node, snap = created[~drop], node[~drop], snap[~drop]
        for s, t2 in team_restricted:
            # extra reports drawn like every report (district rate, same places), kept only where the
            # surge's teams are the home team: by Poisson thinning, exactly (factor - 1) times those
            # teams' own rate in the window, placed as their own reports are
            ids = [self.team_names.index(n) for n in s.teams or ()]
            n2, s2 = self._sample_places(streams["components"], streams["places"], t2.size)
            mine = np.isin(self.node_team[n2], ids)
            created = np.r_[created, t2[mine]]
            node = np.r_[node, n2[mine]]
            snap = np.r_[snap, s2[mine]]
        k = created.size
        cat = streams["categories"].choice(len(self.cat_p), size=k, p=self.cat_p)
        work = np.empty(k)
        for ci, c in enumerate(self.dem.categories):
            sel = np.flatnonzero(cat == ci)
            work[sel] = sample_durations(c.work_min, streams["work"], len(sel))
        delay = sample_durations(self.sc.dispatch.dispatch_delay_min, streams["delay"], k)
        turnout = sample_durations(self.sc.dispatch.turnout_min, streams["turnout"], k)
        keep = streams["marks"].random(k) < load / coupling
        keep &= created < horizon_min
        referral = self._referral_delays(seed_seq, cat)
        return self._finish(created[keep], delay[keep], turnout[keep], node[keep], snap[keep], cat[keep], work[keep],
                            None if referral is None else referral[keep])

    def _referral_delays(self, seed_seq, cat) -> np.ndarray | None:
        """Referral delays of referred reports (0 for the others), from a stream of their own spawned
        last, so scenarios without referrals draw exactly what they drew before; None without referrals."""
        if not self.referrals:
            return None
        rng = np.random.default_rng(seed_seq.spawn(1)[0])
        d = sample_durations(self.sc.dispatch.referral_delay_min, rng, len(cat))
        return np.where(self.cat_owner[cat] >= 0, d, 0.0)

    def _finish(self, created, delay, turnout, node, snap, cat, work, referral=None) -> Reports:
        ready = created + delay + (0.0 if referral is None else referral)
        order = np.lexsort((created, ready))
        cat = cat.astype(np.int16)
        home = self.node_team[node[order]].astype(np.int16)
        own = None
        if referral is not None:
            owner = self.cat_owner[cat[order]]
            own = np.where(owner >= 0, owner, home).astype(np.int16)
        return Reports(
            created_min=created[order], ready_min=ready[order], turnout_min=turnout[order],
            node=node[order].astype(np.int64), snap_m=snap[order], category=cat[order],
            priority=self.cat_priority[cat][order], promise=self.cat_promise[cat][order],
            work_min=work[order], home_team=home, own_team=own,
            referral_min=None if referral is None else referral[order],
        )

    # ------------------------------------------------------------------ trace replay
    def _trace_reports(self, seed_seq, horizon_min, load) -> Reports:
        if self._trace is None:
            assert self.dem.trace is not None  # trace replay only with demand.trace
            self._trace = self._read_trace(Path(self.dem.trace))
        created, node, snap, cat = self._trace
        streams = dict(zip(STREAMS, (np.random.default_rng(s) for s in seed_seq.spawn(len(STREAMS)))))
        k = created.size
        work = np.empty(k)
        for ci, c in enumerate(self.dem.categories):
            sel = np.flatnonzero(cat == ci)
            work[sel] = sample_durations(c.work_min, streams["work"], len(sel))
        delay = sample_durations(self.sc.dispatch.dispatch_delay_min, streams["delay"], k)
        turnout = sample_durations(self.sc.dispatch.turnout_min, streams["turnout"], k)
        keep = created < horizon_min
        if load < 1.0:
            keep &= streams["marks"].random(k) < load
        referral = self._referral_delays(seed_seq, cat)
        return self._finish(created[keep], delay[keep], turnout[keep], node[keep], snap[keep], cat[keep], work[keep],
                            None if referral is None else referral[keep])

    def _read_trace(self, path: Path):
        label = f"demand.trace ({path})"
        names = [c.name for c in self.dem.categories]
        rows = read_trace_file(path, names)
        t0 = min(r[0] for r in rows)
        monday = datetime(t0.year, t0.month, t0.day) - timedelta(days=t0.weekday())
        created = np.array([(r[0] - monday).total_seconds() / 60.0 for r in rows])
        node = np.empty(len(rows), dtype=np.int64)
        snap = np.empty(len(rows))
        crs_arr = np.array([r[3] for r in rows])
        lon = np.array([r[1] for r in rows])
        lat = np.array([r[2] for r in rows])
        for c in np.unique(crs_arr):
            sel = crs_arr == c
            ids, s_m, _, _ = self.locator.snap_many(lon[sel], lat[sel], str(c), label=label)
            node[sel] = [self.router.index[int(x)] for x in ids]
            snap[sel] = s_m
        cat = np.array([r[4] for r in rows], dtype=np.int16)
        return created, node, snap, cat


# ------------------------------------------------------------------------------------ where: components
# One small class per ``demand.where`` kind, each with ``sample(model, rng, k) -> (node index, snap m)``.
# ``DemandModel._prepare`` builds them from the scenario; a new kind is a class here, a branch there and
# a ``Where...`` model in scenario.py. Every class draws in the same order as before, so seeds keep
# giving the same reports.

@dataclass(frozen=True)
class RoadLength:
    """Anywhere on the road network, in proportion to road length (``kind: road_length``)."""

    cdf: np.ndarray

    def sample(self, dm: "DemandModel", rng, k):
        return dm._sample_edges(self.cdf, rng, k)


@dataclass(frozen=True)
class TownshipShares:
    """A township by its share, then its roads by length (``kind: township``)."""

    p: np.ndarray
    samplers: list

    def sample(self, dm: "DemandModel", rng, k):
        teams = rng.choice(len(self.p), size=k, p=self.p)
        node = np.empty(k, dtype=np.int64)
        snap = np.zeros(k)
        for t in np.unique(teams):
            s2 = np.flatnonzero(teams == t)
            node[s2], snap[s2] = dm._sample_edges(self.samplers[t], rng, len(s2))
        return node, snap


@dataclass(frozen=True)
class Disc:
    """Uniform in a disc around a hotspot, snapped to the nearest road node (``kind: hotspot``)."""

    lon: float
    lat: float
    radius_m: float

    def sample(self, dm: "DemandModel", rng, k):
        rad = self.radius_m * np.sqrt(rng.random(k))
        ang = rng.random(k) * 2 * np.pi
        lon = self.lon + rad * np.cos(ang) / m_per_deg_lon(self.lat)
        lat = self.lat + rad * np.sin(ang) / M_PER_DEG_LAT
        return dm._snap_idx(lon, lat)


@dataclass(frozen=True)
class Polygons:
    """A polygon by its weight, then uniform inside it (``kind: polygons``)."""

    geoms: list
    p: np.ndarray

    def sample(self, dm: "DemandModel", rng, k):
        which = rng.choice(len(self.geoms), size=k, p=self.p)
        lon = np.empty(k)
        lat = np.empty(k)
        for gi in np.unique(which):
            s2 = np.flatnonzero(which == gi)
            lon[s2], lat[s2] = _points_in(self.geoms[gi], rng, len(s2))
        return dm._snap_idx(lon, lat)


@dataclass(frozen=True)
class Points:
    """Observed points by their weights (``kind: points``), already snapped."""

    nodes: np.ndarray
    snaps: np.ndarray
    p: np.ndarray

    def sample(self, dm: "DemandModel", rng, k):
        j = rng.choice(len(self.nodes), size=k, p=self.p)
        return self.nodes[j], self.snaps[j]


def _surge_mask(s, hour_idx: np.ndarray) -> np.ndarray:
    day = hour_idx / 24.0
    in_days = (day >= s.start_day) & (day < s.end_day)
    start, end = parse_hhmm(s.start) / 60.0, parse_hhmm(s.end) / 60.0
    hod = hour_idx % 24 + 0.5
    in_hours = (hod >= start) & (hod < end) if start <= end else (hod >= start) | (hod < end)
    return (in_days & in_hours).astype(float)


def _points_in(geom, rng, k):
    w, s, e, n = geom.bounds
    out_x, out_y = [], []
    need = k
    while need > 0:
        x = rng.uniform(w, e, max(16, need * 3))
        y = rng.uniform(s, n, max(16, need * 3))
        ok = shapely.contains_xy(geom, x, y)
        out_x.extend(x[ok][:need].tolist())
        out_y.extend(y[ok][:need].tolist())
        need = k - len(out_x)
    return np.asarray(out_x), np.asarray(out_y)


