"""Snap coordinates to road-graph nodes, keeping the snap distance.

Every coordinate input carries a ``crs`` (wgs84, gcj02, bd09) and is converted to WGS-84 first.
A point farther than :data:`settings.snap_warn_m` from the nearest node gets a warning; a point
outside the graph's extent (plus :data:`settings.outside_extent_m`) is an error, because snapping it
would silently move it kilometres.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from . import settings
from .crs import to_wgs84
from .errors import OutsideGraphError
from .geodesy import haversine_m, local_xy
from .network import node_arrays

if TYPE_CHECKING:  # networkx is imported by whoever builds a graph, not to read this module
    import networkx as nx

    from ._nearest import GridIndex


@dataclass
class Snap:
    """Result of snapping one point."""

    node: int
    snap_m: float
    lon: float
    lat: float


class NodeLocator:
    """Nearest-node lookups on a road graph (in local metres).

    A few points (the bases, a ``route`` query: up to :attr:`BRUTE_FORCE_MAX`) are matched by one
    vectorised pass over the nodes; more by a grid of buckets searched ring by ring
    (:class:`~dispatch_sim._nearest.GridIndex`, compiled, built on first use). Both are exact, give
    the lowest node index on a tie, and spare a command importing ``scipy.spatial`` (≈ 0.3 s).

    Parameters
    ----------
    G
        A road graph or its :class:`~dispatch_sim.network.RoadNetwork`.
    """

    def __init__(self, G: "nx.MultiDiGraph"):
        self.ids, self.lon, self.lat = node_arrays(G)
        self.lat0 = float(np.mean(self.lat))
        self.x, self.y = local_xy(self.lon, self.lat, self.lat0)
        self._tree: GridIndex | None = None
        self.extent = (float(self.lon.min()), float(self.lat.min()), float(self.lon.max()), float(self.lat.max()))

    #: Up to this many points per query are matched without the KD-tree.
    BRUTE_FORCE_MAX = 32

    @property
    def grid(self):
        """The nodes bucketed in a grid (:class:`~dispatch_sim._nearest.GridIndex`), built on first use."""
        if self._tree is None:
            from ._nearest import GridIndex

            self._tree = GridIndex(self.x, self.y)
        return self._tree

    def nearest(self, x, y) -> np.ndarray:
        """Index of the nearest node to each point given in local metres (:func:`~dispatch_sim.geodesy.local_xy`)."""
        x, y = np.atleast_1d(x), np.atleast_1d(y)
        if len(x) <= self.BRUTE_FORCE_MAX:  # argmin: the first (lowest index) of equally near nodes
            return np.array([int(np.argmin((self.x - a) ** 2 + (self.y - b) ** 2)) for a, b in zip(x, y)],
                            dtype=np.int64)
        return self.grid.nearest(x, y)

    def outside_extent_m(self, lon, lat) -> np.ndarray:
        """How far (m) points lie outside the graph's bounding box (0 inside)."""
        w, s, e, n = self.extent
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        dx, dy = local_xy(np.maximum(0, np.maximum(w - lon, lon - e)), np.maximum(0, np.maximum(s - lat, lat - n)),
                          self.lat0)
        return np.hypot(dx, dy)

    def snap_many(self, lon, lat, crs: str = "wgs84", *, label: str = "point", warn=None, strict: bool = True):
        """Snap arrays of points; returns ``(node_ids, snap_m, lon_wgs84, lat_wgs84)``.

        Parameters
        ----------
        strict
            Raise :class:`OutsideGraphError` for points outside the graph's extent; with False
            such points get node -1.
        """
        lon, lat = to_wgs84(np.atleast_1d(np.asarray(lon, dtype=float)), np.atleast_1d(np.asarray(lat, dtype=float)),
                            crs)
        lon = np.atleast_1d(lon)
        lat = np.atleast_1d(lat)
        out = self.outside_extent_m(lon, lat) > settings.outside_extent_m
        if strict and out.any():
            i = int(np.flatnonzero(out)[0])
            raise OutsideGraphError(
                f"{label} at lon {lon[i]:.6f}, lat {lat[i]:.6f} (WGS-84) lies outside the road graph's extent "
                f"{tuple(round(v, 4) for v in self.extent)}; check the coordinates, their crs, or the graph's bbox"
            )
        x, y = local_xy(lon, lat, self.lat0)
        idx = self.nearest(x, y)
        nodes = self.ids[idx]
        snap_m = haversine_m(lon, lat, self.lon[idx], self.lat[idx])
        nodes = np.where(out, -1, nodes)
        far = (snap_m > settings.snap_warn_m) & ~out
        if warn is not None and far.any():
            i = int(np.flatnonzero(far)[0])
            warn(f"{label} at lon {lon[i]:.6f}, lat {lat[i]:.6f} is {snap_m[i]:.0f} m from the nearest road node "
                 f"({int(far.sum())} point(s) farther than {settings.snap_warn_m:.0f} m)")
        return nodes, snap_m, lon, lat

    def snap(self, lon: float, lat: float, crs: str = "wgs84", *, label: str = "point", warn=None) -> Snap:
        nodes, snap_m, wl, wa = self.snap_many([lon], [lat], crs, label=label, warn=warn)
        return Snap(int(nodes[0]), float(snap_m[0]), float(wl[0]), float(wa[0]))
