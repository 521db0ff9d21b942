"""The world of a scenario: what every replication shares, built once.

:class:`World` holds the graph, router, bases, jurisdictions, time bands and demand model, so it is
built once and reused for every replication, load level and variant with the same graph.
:meth:`World.simulate` runs one replication on the SimPy engine (:mod:`dispatch_sim.sim`) with the
dispatcher :func:`dispatch_sim.sim.dispatcher_for` picks.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import shapely

from .demand import DemandModel, Reports
from .errors import DispatchSimError, OutsideGraphError
from .locate import NodeLocator
from .roads import GraphSpec, is_standin, load_graph, load_polygon
from .routing import Router
from .scenario import Scenario
from .sim import dispatcher_for, readable_only_features
from .sim.engine import ReplicationResult, replication_seed, run_replication

__all__ = ["World", "ReplicationResult", "replication_seed"]


class World:
    """Graph, router, bases, jurisdictions and demand for one scenario: built once, run many times.

    Parameters
    ----------
    scenario
        The validated scenario.
    G
        A prepared road graph; loaded from the scenario when None.
    router
        A router for ``G``; built when None.
    warn
        Callable for warnings (snap distance, stand-in).
    """

    def __init__(self, scenario: Scenario, G: nx.MultiDiGraph | None = None, router: Router | None = None,
                 warn=None, use_disk_cache: bool = True):
        self.scenario = sc = scenario
        self.warnings: list[str] = []

        def _warn(msg):
            self.warnings.append(msg)
            if warn:
                warn(msg)

        self.warn = _warn
        anchors = []
        from .crs import to_wgs84

        for t in sc.teams:
            lon, lat = to_wgs84(t.base.lon, t.base.lat, t.base.crs)
            anchors.append((float(lon), float(lat)))
        if G is None:
            g = sc.graph
            spec = GraphSpec(source=g.source, place=g.place, bbox=g.bbox, polygon=g.polygon, file=g.file,
                             graphml=g.graphml, standin_nodes=g.standin_nodes, standin_seed=g.standin_seed,
                             urban_centres=[tuple(map(float, to_wgs84(p.lon, p.lat, p.crs))) for p in g.urban_centres])
            G = load_graph(spec, anchors=anchors, speeds=sc.speeds.settings(), warn=_warn)
            if sc.boundaries is not None and sc.boundaries.district:  # issue 16: clip to the real outline
                from .boundaries import clip_graph, district_polygon

                G = clip_graph(G, district_polygon(sc), sc.boundaries.buffer_m)
        self.G = G
        self.standin = is_standin(G)
        self.locator = NodeLocator(G)
        base_nodes, base_snap = [], []
        for i, t in enumerate(sc.teams):
            try:
                s = self.locator.snap(t.base.lon, t.base.lat, t.base.crs, label=f"teams[{i}].base ({t.name})", warn=_warn)
            except OutsideGraphError as exc:
                raise DispatchSimError(f"{sc.source_file or 'scenario'}: teams[{i}].base: {exc}") from None
            base_nodes.append(s.node)
            base_snap.append(s.snap_m)
        self.base_nodes = base_nodes
        self.base_snap_m = base_snap
        from .disruptions import band_table

        self.bands = band_table(sc, G, sc.run.horizon_days * 1440.0)
        if router is not None and router.bands.key() != self.bands.key():
            router = None  # built for other time bands (disruptions, horizon): not reusable
        self.router = router or Router(G, self.bands, base_nodes, use_disk_cache=use_disk_cache)
        self.base_idx = np.array([self.router.index[b] for b in base_nodes], dtype=np.int64)
        self.node_team = self._jurisdictions()
        eu, ev, tt = self.router._edges
        lengths = np.fromiter((float(d.get("length", 0.0)) for _, _, d in G.edges(data=True)), dtype=float,
                              count=G.number_of_edges())
        for name in readable_only_features(sc):
            _warn(f"{name} runs on the readable dispatcher only (same decisions, about three times slower)")
        self.demand = DemandModel(sc, self.router, self.locator, self.node_team, (eu, ev, lengths), warn=_warn)

    def _jurisdictions(self) -> np.ndarray:
        """Home team of every node (the precedence rule, ``docs/enforcement_system.md``):

        1. every node first goes to the team with an area but no polygon whose base is fastest to
           reach (off-peak); a team with a polygon has exactly its polygon, nothing around its base;
        2. then every team with a ``jurisdiction`` polygon takes the nodes inside it, ahead of the
           derived areas (a scenic-area team takes its area from the township around it);
        3. where polygons overlap, the higher ``jurisdiction_priority`` wins; on a tie, the team
           listed first.

        Township polygons from ``boundaries.townships`` replace the derived areas of step 1 before
        the teams' own polygons are applied.
        """
        sc = self.scenario
        town = [i for i, t in enumerate(sc.teams) if not t.backup and not t.jurisdiction]
        town = town or [i for i, t in enumerate(sc.teams) if not t.backup]  # every team has a polygon
        d = self.router.from_base[0][town]  # off-peak travel time from each township base
        node_team = np.asarray(town)[np.argmin(d, axis=0)]
        if sc.boundaries is not None and sc.boundaries.townships:  # township polygons in any crs (boundaries:)
            from .boundaries import township_jurisdictions

            node_team = township_jurisdictions(sc, self.router.lon, self.router.lat, node_team, self.warn)
        polys = [i for i, t in enumerate(sc.teams) if t.jurisdiction and not t.backup]
        # applied lowest precedence first, so the last one written over a node is the one that wins
        for i in sorted(polys, key=lambda i: (sc.teams[i].jurisdiction_priority, -i)):
            poly = load_polygon(sc.teams[i].jurisdiction)
            inside = shapely.contains_xy(poly, self.router.lon, self.router.lat)
            node_team[inside] = i
        return node_team.astype(np.int16)

    def reports(self, replication: int, *, seed: int | None = None, load: float | None = None,
                coupling_load: float | None = None) -> Reports:
        """The reports of one replication (same seed and replication → same reports)."""
        sc = self.scenario
        ss = replication_seed(sc.run.seed if seed is None else seed, replication)
        return self.demand.generate(ss, sc.run.horizon_days * 1440.0, load=sc.run.load if load is None else load,
                                    coupling_load=coupling_load)

    def simulate(self, replication: int = 0, *, seed: int | None = None, load: float | None = None,
                 coupling_load: float | None = None, reports: Reports | None = None) -> ReplicationResult:
        """Run one replication and return its incident table and crew figures."""
        rep = reports if reports is not None else self.reports(replication, seed=seed, load=load, coupling_load=coupling_load)
        return run_replication(self, rep, dispatcher_for(self), replication)
