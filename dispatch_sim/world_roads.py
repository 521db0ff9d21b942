"""The road side of a :class:`~dispatch_sim.model.World`: network, snapped bases, time bands, router.

One function, :func:`load_world_roads`, called once by ``World.__init__``, so the simulation code
does not need to know where graphs come from or how they are cached. It

1. converts the scenario's coordinates (bases, urban centres) to WGS-84 **once**
   (:func:`scenario_anchors`, :func:`scenario_graph_spec`);
2. gets the prepared network from the binary cache or its source (:func:`dispatch_sim.roads.load_network`);
3. snaps the bases (:class:`~dispatch_sim.locate.NodeLocator`), builds the time bands with the
   scenario's disruptions, and the :class:`~dispatch_sim.routing.Router` (tables from their cache).

Trade-off: the networkx graph is *not* built on a warm start (it is what made start-up take seconds);
``World.G`` rebuilds it from the cache on first use. Disruptions that select roads by name, line or
polygon need it, so those scenarios pay for the rebuild (a few tenths of a second) at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import DispatchSimError, OutsideGraphError
from .locate import NodeLocator
from .network import RoadNetwork, as_network
from .roads import GraphSpec, load_network
from .speeds import BandTable

if TYPE_CHECKING:
    from .routing import Router


def _point(lonlat) -> tuple[float, float]:
    lon, lat = lonlat
    return float(lon), float(lat)


def scenario_anchors(sc) -> list[tuple[float, float]]:
    """``(lon, lat)`` of every team base in WGS-84 (the one conversion of the bases' ``crs``)."""
    from .crs import to_wgs84

    return [_point(to_wgs84(t.base.lon, t.base.lat, t.base.crs)) for t in sc.teams]


def scenario_graph_spec(sc) -> GraphSpec:
    """The scenario's graph section as a :class:`~dispatch_sim.roads.GraphSpec` (urban centres in WGS-84)."""
    from .crs import to_wgs84

    g = sc.graph
    return GraphSpec(source=g.source, place=g.place, bbox=g.bbox, polygon=g.polygon, file=g.file, graphml=g.graphml,
                     standin_nodes=g.standin_nodes, standin_seed=g.standin_seed,
                     urban_centres=[_point(to_wgs84(p.lon, p.lat, p.crs)) for p in g.urban_centres])


def scenario_network(sc, *, anchors=None, warn=None, use_disk_cache: bool = True) -> RoadNetwork:
    """The scenario's prepared road network (binary cache, else its graph source), clipped to
    ``boundaries.district`` when the scenario gives one (the clipped network is not cached).

    Parameters
    ----------
    sc
        A validated :class:`~dispatch_sim.scenario.Scenario`.
    anchors
        The bases in WGS-84 (default :func:`scenario_anchors`).
    warn
        Callable for loud warnings (the stand-in fallback).
    use_disk_cache
        Read and write the network cache.
    """
    anchors = scenario_anchors(sc) if anchors is None else anchors
    net = load_network(scenario_graph_spec(sc), anchors=anchors, speeds=sc.speeds.settings(), warn=warn,
                       use_disk_cache=use_disk_cache)
    if getattr(sc, "boundaries", None) is not None and sc.boundaries.district:  # clip to the real outline
        from .boundaries import clip_graph, district_polygon

        net = RoadNetwork.from_graph(clip_graph(net.graph(), district_polygon(sc), sc.boundaries.buffer_m))
    return net


@dataclass
class WorldRoads:
    """What a World takes from the road side."""

    network: RoadNetwork
    locator: NodeLocator
    base_nodes: list[int]
    base_snap_m: list[float]
    bands: BandTable
    router: Router


def load_world_roads(sc, *, G=None, router=None, warn=None, use_disk_cache: bool = True) -> WorldRoads:
    """Network, snapped bases, time bands and router for a scenario.

    Parameters
    ----------
    sc
        The validated scenario.
    G
        A prepared networkx graph or :class:`~dispatch_sim.network.RoadNetwork` to use instead of
        the scenario's source (variants that share a graph).
    router
        A router to reuse; dropped when it was built for other time bands.
    warn
        Callable for warnings.
    use_disk_cache
        Read and write the network and router caches.

    Raises
    ------
    DispatchSimError
        When a base lies outside the road graph, naming the scenario field.
    """
    from .disruptions import band_table
    from .routing import Router

    anchors = scenario_anchors(sc)
    net = scenario_network(sc, anchors=anchors, warn=warn,
                           use_disk_cache=use_disk_cache) if G is None else as_network(G)
    locator = NodeLocator(net)
    base_nodes, base_snap = [], []
    for i, (t, (lon, lat)) in enumerate(zip(sc.teams, anchors)):
        try:
            s = locator.snap(lon, lat, "wgs84", label=f"teams[{i}].base ({t.name})", warn=warn)
        except OutsideGraphError as exc:
            raise DispatchSimError(f"{sc.source_file or 'scenario'}: teams[{i}].base: {exc}") from None
        base_nodes.append(s.node)
        base_snap.append(s.snap_m)
    needs_graph = any(getattr(d, "roads", None) is not None for d in (getattr(sc, "disruptions", None) or []))
    bands = band_table(sc, net.graph() if needs_graph else None, sc.run.horizon_days * 1440.0)
    if router is not None and router.bands.key() != bands.key():
        router = None  # built for other time bands (disruptions, horizon): not reusable
    router = router or Router(net, bands, base_nodes, use_disk_cache=use_disk_cache)
    return WorldRoads(net, locator, base_nodes, base_snap, bands, router)

