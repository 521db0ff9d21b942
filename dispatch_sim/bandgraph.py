"""The road network compiled per time band: compressed sparse rows that scipy and the kernels search.

One CSR matrix per time band, forward and reversed. Parallel edges are collapsed to their *minimum*
travel time (``networkx.to_scipy_sparse_array`` would sum them) and self-loops dropped. Band speeds
come from the band's factor per road class, and disruptions add per-edge factors (0 closes an edge,
which is then left out).

This is everything a single route query needs, which is why ``dispatch-sim route`` uses it alone: one
Dijkstra per band from the origin gives both the exact time and the path, without the router's base
matrices, landmarks or hub labels (seconds to build, and the numba import).

Trade-off for that one query: the scipy matrices (what the router's searches need) are built only
when asked for; :meth:`BandGraphs.shortest_route` runs a plain binary-heap Dijkstra in Python on the
same compressed rows built with numpy alone, stopping once the destination is settled. On the 19k-node
district graph that takes tens of milliseconds, while importing ``scipy.sparse.csgraph`` costs about
0.45 s of CPU, more than the whole query. Times are the same floating-point sums along the path as
scipy's; only between two routes of exactly equal time may the route shown differ.
"""

from __future__ import annotations

import heapq
import math
from typing import TYPE_CHECKING

import numpy as np

from .network import RoadNetwork
from .speeds import BandTable

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

INF = np.inf


def csr_min_arrays(u: np.ndarray, v: np.ndarray, w: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(indptr, indices, data)`` of the matrix :func:`collapse_min` builds, with numpy alone."""
    keep = u != v
    u, v, w = u[keep], v[keep], w[keep]
    order = np.lexsort((w, v, u))
    u, v, w = u[order], v[order], w[order]
    first = np.ones(len(u), dtype=bool)
    first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(u[first], minlength=n), out=indptr[1:])
    return indptr, v[first], w[first]


def collapse_min(u: np.ndarray, v: np.ndarray, w: np.ndarray, n: int) -> "csr_matrix":
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
    from scipy.sparse import csr_matrix

    indptr, indices, data = csr_min_arrays(u, v, w, n)  # rows in order, columns sorted within each row
    return csr_matrix((data, indices, indptr), shape=(n, n))


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
        m = len(net.eu)
        keys = None
        self._open: list[tuple] = []  # per band: tail, head and seconds of the open edges
        for band in self.bands.bands:
            per_class = np.array([band.factor(c) for c in net.classes], dtype=float)
            factor = per_class[net.class_code] if m else np.ones(0)
            if band.edge_factors:  # disruptions: slowed edges, and closed ones (factor 0) left out
                keys = keys if keys is not None else net.edge_keys()
                factor = factor * np.fromiter((band.edge_factors.get(key, 1.0) for key in keys), dtype=float, count=m)
            open_ = factor > 0
            self._open.append((net.eu[open_], net.ev[open_], net.travel_time[open_] / factor[open_]))
        self._fwd: list | None = None
        self._rev: list | None = None
        self._rows: dict = {}
        self._length: tuple | None = None
        self._alias: list[int] | None = None

    @property
    def alias(self) -> list[int]:
        """Per band, the first band whose graph is identical to it (itself when none is): bands with the
        same speeds (a morning and an evening peak) can share what is computed from their graph."""
        if self._alias is None:
            self._alias = [next(a for a in range(b + 1) if all(np.array_equal(x, y) for x, y in
                                                               zip(self._open[a], self._open[b])))
                           for b in range(len(self._open))]
        return self._alias

    @property
    def fwd(self) -> list:
        """Forward CSR matrix per band (scipy), built on first use."""
        if self._fwd is None:
            self._fwd = [collapse_min(u, v, w, self.net.n) for u, v, w in self._open]
        return self._fwd

    @property
    def rev(self) -> list:
        """Reversed CSR matrix per band (searches *to* a node), built on first use."""
        if self._rev is None:
            self._rev = [f.T.tocsr() for f in self.fwd]
        return self._rev

    def _lists(self, band: int):
        rows = self._rows.get(band)
        if rows is None:
            u, v, w = self._open[band]
            rows = self._rows[band] = tuple(a.tolist() for a in csr_min_arrays(u, v, w, self.net.n))
        return rows

    def shortest_route(self, src: int, dst: int, band: int = 0) -> tuple[float, list[int]]:
        """Seconds and node indices of the fastest route ``src -> dst`` (``(inf, [])`` when none).

        One Dijkstra search from ``src`` (binary heap), stopped when ``dst`` is settled; the time is
        the search's own distance to ``dst``, so time and path always agree.
        """
        indptr, indices, data = self._lists(band)
        dist = {src: 0.0}
        pred: dict[int, int] = {}
        done = set()
        heap = [(0.0, src)]
        while heap:
            d, u = heapq.heappop(heap)
            if u in done:
                continue
            if u == dst:
                break
            done.add(u)
            for e in range(indptr[u], indptr[u + 1]):
                v = indices[e]
                nd = d + data[e]
                if nd < dist.get(v, math.inf):
                    dist[v] = nd
                    pred[v] = u
                    heapq.heappush(heap, (nd, v))
        if dst not in dist:
            return INF, []
        path = [dst]
        while path[-1] != src:
            path.append(pred[path[-1]])
        return float(dist[dst]), path[::-1]

    def route_km(self, path: list[int]) -> float:
        """Kilometres along a path of node indices (the shortest of parallel edges per step)."""
        if self._length is None:
            net = self.net
            self._length = tuple(a.tolist() for a in csr_min_arrays(net.eu, net.ev, net.length, net.n))
        indptr, indices, data = self._length
        km = 0.0
        for u, v in zip(path[:-1], path[1:]):
            row = indices[indptr[u]:indptr[u + 1]]
            km += float(data[indptr[u] + row.index(v)]) / 1000.0
        return km
