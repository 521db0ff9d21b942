"""The road network compiled per time band: compressed sparse rows that scipy and the kernels search.

One CSR matrix per time band, forward and reversed. Parallel edges are collapsed to their *minimum*
travel time (``networkx.to_scipy_sparse_array`` would sum them) and self-loops dropped. Band speeds
come from the band's factor per road class, and disruptions add per-edge factors (0 closes an edge,
which is then left out).

This is everything a single route query needs, which is why ``dispatch-sim route`` uses it alone: one
Dijkstra per band from the origin gives both the exact time and the path, without the router's base
matrices, landmarks or hub labels (seconds to build, and the numba import).
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix

from .network import RoadNetwork
from .speeds import BandTable

INF = np.inf


def collapse_min(u: np.ndarray, v: np.ndarray, w: np.ndarray, n: int) -> csr_matrix:
    """CSR matrix with the minimum weight over parallel ``(u, v)`` edges; self-loops dropped.

    Parameters
    ----------
    u, v
        Tail and head node indices per edge.
    w
        Weight per edge.
    n
        Number of nodes.
    """
    keep = u != v
    u, v, w = u[keep], v[keep], w[keep]
    order = np.lexsort((w, v, u))
    u, v, w = u[order], v[order], w[order]
    first = np.ones(len(u), dtype=bool)
    first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
    m = csr_matrix((w[first], (u[first], v[first])), shape=(n, n))
    m.sort_indices()
    return m


class BandGraphs:
    """Forward and reversed CSR travel-time matrices, one per time band.

    Parameters
    ----------
    net
        The road network.
    bands
        Time bands with speed factors (band 0 off-peak) and, for disruptions, per-edge factors.

    Attributes
    ----------
    fwd, rev : list of scipy.sparse.csr_matrix
        Seconds from row node to column node (``rev`` is the transpose: searches *to* a node).
    """

    def __init__(self, net: RoadNetwork, bands: BandTable | None = None):
        self.net = net
        self.bands = bands or BandTable()
        n, m = net.n, len(net.eu)
        eu, ev, tt = net.eu, net.ev, net.travel_time
        classes = net.classes
        keys = None
        self.fwd: list[csr_matrix] = []
        self.rev: list[csr_matrix] = []
        for band in self.bands.bands:
            per_class = np.array([band.factor(c) for c in classes], dtype=float)
            factor = per_class[net.class_code] if m else np.ones(0)
            if band.edge_factors:  # disruptions: slowed edges, and closed ones (factor 0) left out
                keys = keys if keys is not None else net.edge_keys()
                factor = factor * np.fromiter((band.edge_factors.get(key, 1.0) for key in keys), dtype=float, count=m)
            open_ = factor > 0
            w = tt[open_] / factor[open_]
            f = collapse_min(eu[open_], ev[open_], w, n)
            self.fwd.append(f)
            self.rev.append(f.T.tocsr())
        self._length = None

    def shortest_route(self, src: int, dst: int, band: int = 0) -> tuple[float, list[int]]:
        """Seconds and node indices of the fastest route ``src -> dst`` (``(inf, [])`` when none).

        One single-source Dijkstra search (scipy, about 5 ms on 20k nodes); the time is the search's
        own distance to ``dst``, so time and path always agree.
        """
        from scipy.sparse.csgraph import dijkstra

        dist, pred = dijkstra(self.fwd[band], indices=src, return_predecessors=True)
        if not np.isfinite(dist[dst]):
            return INF, []
        path = [dst]
        while path[-1] != src:
            path.append(int(pred[path[-1]]))
        return float(dist[dst]), path[::-1]

    def route_km(self, path: list[int]) -> float:
        """Kilometres along a path of node indices (the shortest of parallel edges per step)."""
        if self._length is None:
            net = self.net
            self._length = collapse_min(net.eu, net.ev, net.length, net.n)
        m = self._length
        km = 0.0
        for u, v in zip(path[:-1], path[1:]):
            row = slice(m.indptr[u], m.indptr[u + 1])
            j = np.searchsorted(m.indices[row], v)
            km += float(m.data[row][j]) / 1000.0
        return km
