"""Travel-time router: exact shortest travel times, fast enough for every dispatch decision.

Design
------
- The graph is compiled once into compact CSR arrays per time band (parallel edges collapsed to
  their *minimum* travel time; ``networkx.to_scipy_sparse_array`` would sum them).
- Base × node matrices per band, forward (base → node) and backward (node → base, with the next hop
  toward the base for return trips) are computed with ``scipy.sparse.csgraph.dijkstra`` and cached
  on disk, keyed by a hash of the graph, the speed settings and the bases. A crew at base costs one
  array lookup per ETA.
- Crews away from base: hub labels (:mod:`dispatch_sim.hub_labels`) give the exact time from any
  node to any node in about a microsecond, built once per band and cached with the matrices. Graphs
  above ``settings.router_label_max_nodes`` fall back to one goal-directed search on the *reversed*
  graph from the report (ALT landmarks), bounded by the best ETA so far.
- :class:`ReferenceRouter` answers the same questions with plain networkx; tests hold the two to
  1e-6 s.

The router is built from parts with their own modules: :mod:`dispatch_sim.network` (the graph as
arrays, cached), :mod:`dispatch_sim.bandgraph` (CSR matrices per band) and
:mod:`dispatch_sim.router_tables` (base matrices, landmarks, labels and their cache); this module
answers queries. Times are in seconds inside this module; node *indices* (0..n-1 in ``G.nodes``
order) are used by the fast methods, OSM node ids by the public ones.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path

import numpy as np

from . import settings
from .bandgraph import BandGraphs
from .network import RoadNetwork, as_network
from .router_tables import cached_tables, choose_landmarks, default_cache_dir, tables_key
from .speeds import BandTable

INF = np.inf
log = logging.getLogger("dispatch_sim")


class Router:
    """Exact travel times on a road graph, per time band.

    Built from three parts with their own modules: the network's arrays
    (:class:`~dispatch_sim.network.RoadNetwork`), the per-band CSR matrices
    (:class:`~dispatch_sim.bandgraph.BandGraphs`) and the precomputed tables
    (:mod:`dispatch_sim.router_tables`); this class answers the queries.

    Parameters
    ----------
    G
        Prepared road graph (``travel_time`` and ``road_class`` on every edge), or its
        :class:`~dispatch_sim.network.RoadNetwork`.
    bands
        Time bands with speed factors; band 0 is off-peak.
    base_nodes
        OSM node ids of the team bases (rows of the base matrices).
    cache_dir
        Where base matrices are cached (default ``settings.cache_folder / "router"``).
    use_disk_cache
        Read and write the tables' disk cache.
    lru_size
        Number of reversed search trees kept in memory.
    n_landmarks
        Landmarks for goal-directed searches (default ``settings.router_landmarks``); 0 uses the
        bases only.
    """

    # the tables of :func:`~dispatch_sim.router_tables.cached_tables`, set in __init__: seconds and next hops
    # [band, base, node], landmark bounds [band, node, landmark], hub labels (None without labels)
    from_base: np.ndarray
    to_base: np.ndarray
    next_to_base: np.ndarray
    lm_from: np.ndarray
    lm_to: np.ndarray
    label_ptr: np.ndarray | None
    label_hub: np.ndarray | None
    label_s: np.ndarray | None

    def __init__(self, G, bands: BandTable | None = None, base_nodes=(), *,
                 cache_dir: str | Path | None = None, use_disk_cache: bool = True, lru_size: int = 2048,
                 n_landmarks: int | None = None):
        net: RoadNetwork = as_network(G)
        self.network = net
        self.bands = bands or BandTable()
        self.node_ids = net.node_ids
        self.index = dict(zip(self.node_ids.tolist(), range(net.n)))
        self.n = net.n
        self.lon = net.lon
        self.lat = net.lat
        self._edges = (net.eu, net.ev, net.travel_time)
        # the scipy matrices are built when a search first needs them: with hub labels and the tables
        # from the disk cache, a run never does (and does not import scipy.sparse)
        self._graphs = BandGraphs(net, self.bands)
        self.base_nodes = [int(b) for b in base_nodes]
        self.base_idx = np.array([self.index[b] for b in self.base_nodes], dtype=np.int64)
        k = settings.router_landmarks if n_landmarks is None else n_landmarks
        self.landmarks = choose_landmarks(self.lon, self.lat, k)
        self._scratch: tuple | None = None
        self._band_arrays: list[tuple] = []
        self._next_lists: dict = {}
        self._dispatch_arrays: tuple | None = None
        self._gen = 0
        self.use_landmarks = True
        # hub labels of every band in three arrays: label_ptr[0 = in / 1 = out, band, node] indexes
        # label_hub (hub rank) and label_s (seconds); None above settings.router_label_max_nodes
        self.use_labels = 0 < self.n <= settings.router_label_max_nodes
        self._lru: OrderedDict = OrderedDict()
        self._lru_size = lru_size
        self.stats = {"searches": 0, "cache_hits": 0, "label_queries": 0}
        self.cache_key = tables_key(self._edges, self.node_ids, self.bands.key(), self.base_nodes, self.landmarks,
                                    self.use_labels)
        self.cache_file = Path(cache_dir or default_cache_dir()) / f"matrices_{self.cache_key}"
        tables, self.matrices_from_cache = cached_tables(self.cache_file, self._graphs, self.base_idx,
                                                         self.landmarks, self.use_labels, use_disk_cache)
        for name, arr in tables.items():
            setattr(self, name, arr)

    @property
    def fwd(self) -> list:
        """Forward CSR travel-time matrix per band (seconds; built on first use)."""
        return self._graphs.fwd

    @property
    def rev(self) -> list:
        """Reversed CSR matrix per band (searches *to* a node; built on first use)."""
        return self._graphs.rev

    # ------------------------------------------------------------------ fast, index-level
    def dispatch_arrays(self) -> tuple:
        """What the compiled dispatcher reads, made once per router: the band table, ``from_base``
        and ``to_base`` node-major (``[band, node, base]``: one node's times to and from every base in
        one cache line), the return-route table ``[band, base, node] = (seconds to base, next hop)``
        (one cache line per node walked), and the hub labels."""
        if self._dispatch_arrays is None:
            route = np.empty(self.to_base.shape + (2,))
            route[..., 0] = self.to_base
            route[..., 1] = self.next_to_base
            self._dispatch_arrays = (self.bands._table, np.ascontiguousarray(self.from_base.transpose(0, 2, 1)),
                                     np.ascontiguousarray(self.to_base.transpose(0, 2, 1)), route,
                                     self.label_ptr, self.label_hub, self.label_s)
        return self._dispatch_arrays

    @property
    def has_labels(self) -> bool:
        """Whether exact times come from hub labels (else from goal-directed searches)."""
        return self.use_labels and self.label_ptr is not None

    def band_at(self, t_min: float) -> int:
        return self.bands.band_at(t_min)

    def tree_to(self, band: int, target: int, limit: float = INF) -> np.ndarray:
        """Travel times (s) from every node *to* ``target`` (reversed search), LRU-cached.

        Nodes farther than ``limit`` are ``inf``. A cached tree with a larger limit is reused.
        """
        key = (band, target)
        hit = self._lru.get(key)
        if hit is not None and hit[0] >= limit:
            self._lru.move_to_end(key)
            self.stats["cache_hits"] += 1
            return hit[1]
        self.stats["searches"] += 1
        from scipy.sparse.csgraph import dijkstra

        d = dijkstra(self.rev[band], indices=target, limit=limit)
        self._lru[key] = (limit, d)
        self._lru.move_to_end(key)
        if len(self._lru) > self._lru_size:
            self._lru.popitem(last=False)
        return d

    def tt(self, band: int, src: int, dst: int) -> float:
        """Travel time (s) from node index ``src`` to ``dst``: a label lookup, else a search that stops
        when ``src`` is settled."""
        if self.use_labels and self.label_ptr is not None:  # has_labels, spelled out for the type checker
            from .hub_labels import label_distance

            self.stats["label_queries"] += 1
            return float(label_distance(self.label_ptr[1, band], self.label_ptr[0, band], self.label_hub,
                                        self.label_s, int(src), int(dst)))
        return float(self.etas_bounded(band, dst, np.array([src], dtype=np.int64), np.zeros(1), INF)[0])

    def first_open(self, now: float, seconds) -> tuple[float, int, float]:
        """The first moment from ``now`` (minutes) at which ``seconds(band)`` is finite: ``(minute,
        band, seconds)``; ``(now, band now, inf)`` when no band of the run has a way. Used when a
        closure cuts a crew off from its base."""
        table = self.bands.table
        res = self.bands.RES_MIN
        k0 = int(now // res)
        seen = set()
        for k in range(k0, k0 + len(table)):
            band = int(table[k % len(table)])
            if band in seen:
                continue
            seen.add(band)
            d = float(seconds(band))
            if d < INF:
                return max(now, k * res), band, d
        return now, self.band_at(now), INF

    def wait_then_drive(self, src: int, dst: int, now: float) -> float:
        """Seconds from ``now`` until arrival at ``dst`` when no route exists now (a closure): wait for
        the first band with a route, then drive; inf when no band of the run has one. The built-in
        policies never need it (they only take reachable reports); a custom policy may."""
        t, _, d = self.first_open(now, lambda band: self.tt(band, src, dst))
        return INF if d == INF else (t - now) * 60.0 + d

    def etas_bounded(self, band: int, target: int, sources: np.ndarray, offsets: np.ndarray, bound: float,
                     best_only: bool = False) -> np.ndarray:
        """``offsets[j] + travel time(sources[j] -> target)`` for every source under ``bound``.

        One search on the reversed graph from ``target`` that stops as soon as every source is
        settled or none left can come in under ``bound`` (those get ``inf``). With ``best_only`` the
        bound tightens as candidates are found: the fastest is exact, slower ones may be ``inf``.
        This is how a dispatch decision prices crews that are on the road.
        """
        from ._kernels import targeted_astar

        dist, stamp, settled, is_target, hk, hv = self._scratch_arrays()
        self._gen += 1
        self.stats["searches"] += 1
        m = self.rev[band]
        if self.use_landmarks:  # goal-directed (ALT)
            lm_from, lm_to = self.lm_from[band], self.lm_to[band]
        else:  # no landmarks: plain Dijkstra with early stopping (kept for tests and benchmarks)
            lm_from = lm_to = np.empty((self.n, 0))
        return targeted_astar(m.indptr, m.indices, m.data, int(target), np.asarray(sources, dtype=np.int64),
                              np.asarray(offsets, dtype=float), float(bound), bool(best_only), lm_from, lm_to,
                              dist, stamp, settled, is_target, self._gen, hk, hv)

    def fastest_away(self, band: int, target: int, sources: np.ndarray, offsets: np.ndarray, base_i: np.ndarray,
                     best_eta: float) -> tuple[int, float]:
        """Which of several crews on the road reaches ``target`` first, if any beats ``best_eta``.

        Crew ``j`` reaches node ``sources[j]`` after ``offsets[j]`` s on its way to base
        ``base_i[j]``. With hub labels every crew is priced exactly by a label lookup; without,
        bounds from the base matrices prune first and at most one goal-directed search runs.
        Returns ``(j, eta_s)`` or ``(-1, best_eta)``.
        """
        from ._kernels import fastest_away_crew

        if self.use_labels and self.label_ptr is not None:  # has_labels
            from .hub_labels import fastest_by_labels

            j, eta = fastest_by_labels(self.label_ptr[1, band], self.label_ptr[0, band], self.label_hub, self.label_s,
                                       target, sources, offsets, best_eta)
            self.stats["label_queries"] += len(sources)
            return int(j), float(eta)

        k = self._band_arrays[band] if self._band_arrays else self._kernel_arrays()[band]
        dist, stamp, settled, is_target, hk, hv = self._scratch_arrays()
        self._gen += 1
        j, eta, searched = fastest_away_crew(k[0], k[1], k[2], target, sources, offsets, base_i, k[3], k[4], k[5],
                                             k[6], best_eta, dist, stamp, settled, is_target, self._gen, hk, hv)
        self.stats["searches"] += int(searched)
        return int(j), float(eta)

    def _kernel_arrays(self) -> list[tuple]:
        """Per band, the arrays a decision kernel reads, sliced once (not on every call)."""
        self._band_arrays = [(m.indptr, m.indices, m.data, self.from_base[b], self.to_base[b], self.lm_from[b],
                              self.lm_to[b]) for b, m in enumerate(self.rev)]
        return self._band_arrays

    def _scratch_arrays(self):
        if self._scratch is None:
            cap = max(m.nnz for m in self.rev) + 2
            self._scratch = (np.empty(self.n), np.zeros(self.n, np.int64), np.zeros(self.n, np.int64),
                             np.zeros(self.n, np.int64), np.empty(cap), np.empty(cap, np.int64))
        return self._scratch

    def etas_to(self, band: int, target: int, sources: np.ndarray, limit: float = INF) -> np.ndarray:
        """Travel times (s) from each of ``sources`` to ``target`` in one search (inf beyond ``limit``)."""
        return self.tree_to(band, target, limit)[sources]

    def path_to_base(self, band: int, base_i: int, src: int) -> list[int]:
        """Node indices of the fastest route from ``src`` back to base ``base_i``."""
        key = (self._graphs.alias[band], base_i)  # bands with identical graphs share one list
        nxt = self._next_lists.get(key)
        if nxt is None:  # a plain list walks ~3x faster than numpy scalar indexing
            nxt = self._next_lists[key] = self.next_to_base[key].tolist()
        goal = int(self.base_idx[base_i])
        out = [src]
        cur = src
        while cur != goal:
            cur = nxt[cur]
            if cur < 0:
                return []
            out.append(cur)
        return out

    # ------------------------------------------------------------------ public, by node id
    def travel_time(self, src_node: int, dst_node: int, band: int = 0) -> float:
        """Fastest travel time in seconds between two OSM node ids (inf if unreachable)."""
        return self.tt(band, self.index[int(src_node)], self.index[int(dst_node)])

    def travel_times_from(self, src_node: int, band: int = 0, limit: float = INF) -> dict[int, float]:
        """Travel times (s) from one node to all nodes reachable within ``limit``."""
        from scipy.sparse.csgraph import dijkstra

        d = dijkstra(self.fwd[band], indices=self.index[int(src_node)], limit=limit)
        ok = np.flatnonzero(np.isfinite(d))
        return dict(zip(self.node_ids[ok].tolist(), d[ok].tolist()))

    def route(self, src_node: int, dst_node: int, band: int = 0) -> list[int]:
        """Node ids of the fastest route (empty if unreachable)."""
        from scipy.sparse.csgraph import dijkstra

        s, t = self.index[int(src_node)], self.index[int(dst_node)]
        _, pred = dijkstra(self.fwd[band], indices=s, return_predecessors=True)
        if s != t and pred[t] < 0:
            return []
        path = [t]
        while path[-1] != s:
            path.append(int(pred[path[-1]]))
        return self.node_ids[path[::-1]].tolist()

    def route_coords(self, nodes: list[int]) -> list[tuple[float, float]]:
        """``(lon, lat)`` of a route's nodes (straight segments between nodes)."""
        idx = [self.index[int(n)] for n in nodes]
        return list(zip(self.lon[idx].tolist(), self.lat[idx].tolist()))

    def reachable_within(self, src_node: int, seconds: float, band: int = 0) -> np.ndarray:
        """Node indices reachable from ``src_node`` within ``seconds``."""
        from scipy.sparse.csgraph import dijkstra

        d = dijkstra(self.fwd[band], indices=self.index[int(src_node)], limit=seconds)
        return np.flatnonzero(d <= seconds)

    def memory_bytes(self) -> int:
        """Bytes of the tables and of the search matrices built so far (a run on hub labels builds none)."""
        built = (self._graphs._fwd or []) + (self._graphs._rev or [])
        csr = sum(m.data.nbytes + m.indices.nbytes + m.indptr.nbytes for m in built)
        mats = (self.from_base.nbytes + self.to_base.nbytes + self.next_to_base.nbytes + self.lm_from.nbytes
                + self.lm_to.nbytes)
        labels = sum(a.nbytes for a in (self.label_ptr, self.label_hub, self.label_s) if a is not None) \
            if self.has_labels else 0
        return int(csr + mats + labels)


class ReferenceRouter:
    """The same questions answered with plain networkx Dijkstra: slow, obviously right.

    Used by the tests (and the benchmark baseline) to check :class:`Router` exactly.
    """

    def __init__(self, G, bands: BandTable | None = None):
        self.G = G
        self.bands = bands or BandTable()

    def _weight(self, band: int):
        b = self.bands.bands[band]

        def w(u, v, data):  # data: {key: attrs} for a MultiDiGraph; networkx wants the min
            times = [d["travel_time"] / (b.factor(d.get("road_class", "road")) * b.edge_factor(u, v, k))
                     for k, d in data.items() if b.edge_factor(u, v, k) > 0]
            return min(times) if times else None  # None: every parallel edge closed, no way through

        return w

    def travel_time(self, src_node: int, dst_node: int, band: int = 0) -> float:
        import networkx as nx

        try:
            return float(nx.dijkstra_path_length(self.G, src_node, dst_node, weight=self._weight(band)))
        except nx.NetworkXNoPath:
            return INF

    def travel_times_from(self, src_node: int, band: int = 0, limit: float = INF) -> dict[int, float]:
        import networkx as nx

        cutoff = None if limit == INF else limit
        return {int(k): float(v) for k, v in nx.single_source_dijkstra_path_length(self.G, src_node, cutoff=cutoff,
                                                                                   weight=self._weight(band)).items()}

    def route(self, src_node: int, dst_node: int, band: int = 0) -> list[int]:
        import networkx as nx

        try:
            return [int(n) for n in nx.dijkstra_path(self.G, src_node, dst_node, weight=self._weight(band))]
        except nx.NetworkXNoPath:
            return []
