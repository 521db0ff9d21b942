"""The world of a scenario: what every replication shares, built once.

:class:`World` holds the graph, router, bases, jurisdictions, time bands and demand model, so it is
built once and reused for every replication, load level and variant with the same graph.
:meth:`World.simulate` runs one replication on the SimPy engine (:mod:`dispatch_sim.sim`) with the
dispatcher :func:`dispatch_sim.sim.dispatcher_for` picks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import shapely

from .demand import DemandModel, Reports
from .roads import load_polygon
from .routing import Router
from .scenario import Scenario
from .sim import dispatcher_for, readable_only_features
from .sim.engine import ReplicationResult, replication_seed, run_replication

if TYPE_CHECKING:  # the graph is held as arrays; networkx is imported when a graph is rebuilt
    import networkx as nx

__all__ = ["World", "ReplicationResult", "replication_seed"]


class World:
    """Graph, router, bases, jurisdictions and demand for one scenario: built once, run many times.

    Parameters
    ----------
    scenario
        The validated scenario.
    G
        A prepared road graph, or its :class:`~dispatch_sim.network.RoadNetwork` (e.g. another
        World's ``network``, which avoids building the networkx graph); loaded from the scenario
        (cache first) when None.
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
        from .world_roads import load_world_roads

        roads = load_world_roads(sc, G=G, router=router, warn=_warn, use_disk_cache=use_disk_cache)
        self.network = roads.network
        self.standin = roads.network.is_standin
        self.locator = roads.locator
        self.base_nodes = roads.base_nodes
        self.base_snap_m = roads.base_snap_m
        self.bands = roads.bands
        self.router = roads.router
        self.base_idx = np.array([self.router.index[b] for b in self.base_nodes], dtype=np.int64)
        self.node_team = self._jurisdictions()
        eu, ev, tt = self.router._edges
        lengths = self.network.length
        for name in readable_only_features(sc):
            _warn(f"{name} runs on the readable dispatcher only (same decisions, about three times slower)")
        self.demand = DemandModel(sc, self.router, self.locator, self.node_team, (eu, ev, lengths), warn=_warn)
        #: Reports by (seed, replication, load, coupling load), when set to a dict (see :meth:`reports`).
        self.reports_cache: dict | None = None

    @property
    def G(self) -> nx.MultiDiGraph:
        """The prepared networkx road graph: rebuilt from the network cache on first use (a warm
        start does not need it; place names, disruptions by road name and notebooks do)."""
        return self.network.graph()

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
            path = sc.teams[i].jurisdiction
            assert path  # polys holds the teams with a jurisdiction
            poly = load_polygon(path)
            inside = shapely.contains_xy(poly, self.router.lon, self.router.lat)
            node_team[inside] = i
        return node_team.astype(np.int16)

    def reports(self, replication: int, *, seed: int | None = None, load: float | None = None,
                coupling_load: float | None = None) -> Reports:
        """The reports of one replication (same seed and replication → same reports).

        When :attr:`reports_cache` is a dict, reports drawn once are kept there and handed out again:
        the staffing search shares one between Worlds whose scenarios differ only in crews, which
        draw the same reports (nothing in a run writes to them)."""
        sc = self.scenario
        seed = sc.run.seed if seed is None else seed
        load = sc.run.load if load is None else load
        key = (seed, replication, load, coupling_load)
        if self.reports_cache is not None and key in self.reports_cache:
            return self.reports_cache[key]
        rep = self.demand.generate(replication_seed(seed, replication), sc.run.horizon_days * 1440.0, load=load,
                                   coupling_load=coupling_load)
        if self.reports_cache is not None:
            self.reports_cache[key] = rep
        return rep

    def simulate(self, replication: int = 0, *, seed: int | None = None, load: float | None = None,
                 coupling_load: float | None = None, reports: Reports | None = None) -> ReplicationResult:
        """Run one replication and return its incident table and crew figures."""
        rep = reports if reports is not None else self.reports(replication, seed=seed, load=load,
                                                               coupling_load=coupling_load)
        return run_replication(self, rep, dispatcher_for(self), replication)
