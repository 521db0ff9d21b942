"""Exact nearest node of many points: a uniform grid of buckets searched ring by ring (numba).

:class:`~dispatch_sim.locate.NodeLocator` snaps thousands of points a replication (hotspot places,
report logs). A KD-tree would do, but importing ``scipy.spatial`` costs a third of a second in every
command that snaps; the simulation already has numba loaded. The nodes are sorted into square cells
of about two nodes each; a query visits the cells ring by ring around its own and stops when no
unvisited cell can hold a nearer node. Distances are the same squared local metres as the locator's
vectorised pass, and ties go to the lowest node index, so both ways give the same node.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


class GridIndex:
    """Nodes in local metres bucketed into square cells (CSR: ``start[cell]`` into ``order``).

    Parameters
    ----------
    x, y
        Node coordinates in metres (:func:`~dispatch_sim.geodesy.local_xy`).
    """

    def __init__(self, x: np.ndarray, y: np.ndarray):
        self.x = np.ascontiguousarray(x, dtype=float)
        self.y = np.ascontiguousarray(y, dtype=float)
        n = len(self.x)
        self.x0, self.y0 = float(self.x.min()), float(self.y.min())
        w = max(float(self.x.max()) - self.x0, 1.0)
        h = max(float(self.y.max()) - self.y0, 1.0)
        self.cell = max(math.sqrt(w * h / max(n / 2.0, 1.0)), 1.0)  # about two nodes per cell
        self.nx = int(w // self.cell) + 1
        self.ny = int(h // self.cell) + 1
        cx = np.minimum(((self.x - self.x0) // self.cell).astype(np.int64), self.nx - 1)
        cy = np.minimum(((self.y - self.y0) // self.cell).astype(np.int64), self.ny - 1)
        key = cy * self.nx + cx
        self.order = np.argsort(key, kind="stable").astype(np.int64)  # by cell, then by node index
        self.start = np.zeros(self.nx * self.ny + 1, dtype=np.int64)
        np.cumsum(np.bincount(key, minlength=self.nx * self.ny), out=self.start[1:])

    def nearest(self, px: np.ndarray, py: np.ndarray) -> np.ndarray:
        """Index of the nearest node to each point (metres); ties to the lowest index.

        Raises
        ------
        ValueError
            When a coordinate is not a finite number of metres within 1e15 (no node is nearest).
        """
        px, py = np.asarray(px, dtype=float), np.asarray(py, dtype=float)
        if not (np.isfinite(px).all() and np.isfinite(py).all()) or max(np.abs(px).max(initial=0.0),
                                                                          np.abs(py).max(initial=0.0)) > 1e15:
            raise ValueError("points to snap must have finite coordinates")
        return _query(self.x, self.y, self.order, self.start, self.x0, self.y0, self.cell, self.nx, self.ny,
                      np.ascontiguousarray(px, dtype=float), np.ascontiguousarray(py, dtype=float))


@njit(cache=True, nogil=True)
def _query(x, y, order, start, x0, y0, cell, nx, ny, px, py):
    out = np.empty(px.shape[0], dtype=np.int64)
    for q in range(px.shape[0]):
        a, b = px[q], py[q]
        cx = min(max(int(math.floor((a - x0) / cell)), 0), nx - 1)
        cy = min(max(int(math.floor((b - y0) / cell)), 0), ny - 1)
        best, best_d = -1, np.inf
        r = 0
        while True:
            # the cells at Chebyshev distance r from (cx, cy), inside the grid
            for j in range(max(cy - r, 0), min(cy + r, ny - 1) + 1):
                edge_row = j == cy - r or j == cy + r
                i = max(cx - r, 0)
                while i <= min(cx + r, nx - 1):
                    if edge_row or i == cx - r or i == cx + r:
                        c = j * nx + i
                        for k in range(start[c], start[c + 1]):
                            v = order[k]
                            d = (x[v] - a) ** 2 + (y[v] - b) ** 2
                            if d < best_d or (d == best_d and v < best):
                                best, best_d = v, d
                        i += 1
                    else:  # inner cells of this row were visited at smaller r: jump to the far edge
                        i = cx + r
            # nearest any unvisited cell can be: the box of visited cells' sides that are not grid edges
            bound = np.inf
            if cx - r > 0:
                bound = min(bound, a - (x0 + (cx - r) * cell))
            if cx + r < nx - 1:
                bound = min(bound, x0 + (cx + r + 1) * cell - a)
            if cy - r > 0:
                bound = min(bound, b - (y0 + (cy - r) * cell))
            if cy + r < ny - 1:
                bound = min(bound, y0 + (cy + r + 1) * cell - b)
            bound -= 1e-6  # metres: a node on a cell edge may have been bucketed across it by rounding
            if bound == np.inf or (best >= 0 and bound > 0 and best_d < bound * bound):
                break
            r += 1
        out[q] = best
    return out
