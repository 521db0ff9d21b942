"""A generated, road-like stand-in network for when no real road graph is available.

It is *not* a map of any real place. It exists so that the whole tool runs offline and so that
benchmarks have district- and prefecture-sized graphs. It mimics what matters for response times:

- a road hierarchy: primary roads linking the team bases and the edge of the area, secondary roads
  on a ~3 km lattice, tertiary roads on a ~1.2 km lattice in built-up areas, local roads elsewhere;
- a denser urban core around the given urban centres;
- canals and a lake with few bridges, plus thinned local roads, so that network distance over
  straight-line distance is about 1.3–1.5, as in the water-town plain around Jiaxing;
- some one-way streets in the core.

Everything is deterministic for a seed. Graphs carry ``graph["kind"] = "stand-in"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import networkx as nx
import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import Delaunay, cKDTree

from .geodesy import M_PER_DEG_LAT, haversine_m, m_per_deg_lon


def _projector(bbox):
    west, south, east, north = bbox
    lon0, lat0 = (west + east) / 2, (south + north) / 2
    kx = m_per_deg_lon(lat0)
    ky = M_PER_DEG_LAT

    def fwd(lon, lat):
        return (np.asarray(lon) - lon0) * kx, (np.asarray(lat) - lat0) * ky

    def inv(x, y):
        return np.asarray(x) / kx + lon0, np.asarray(y) / ky + lat0

    return fwd, inv


def generate_standin(
    bbox: Sequence[float],  # west, south, east, north
    anchors: list[tuple[float, float]] | None = None,
    *,
    urban_centres: list[tuple[float, float]] | None = None,
    urban_radius_km: float = 3.5,
    target_nodes: int = 8000,
    seed: int = 0,
    canals: int | None = None,
    local_drop_share: float = 0.25,
    oneway_share: float = 0.15,
) -> nx.MultiDiGraph:
    """Generate a stand-in road network over ``bbox``.

    Parameters
    ----------
    bbox
        ``(west, south, east, north)`` in WGS-84 degrees.
    anchors
        ``(lon, lat)`` points that must be nodes of the network (team bases).
    urban_centres
        ``(lon, lat)`` centres of built-up areas (denser roads, urban speeds). Default: the anchors.
    urban_radius_km
        Radius of the dense core around each urban centre.
    target_nodes
        Approximate number of road nodes.
    seed
        Random seed; the same inputs and seed give the same graph.
    canals
        Number of canals crossing the area (default scales with its size).
    local_drop_share
        Share of local road links removed (dead ends, missing links).
    oneway_share
        Share of urban local roads made one-way.

    Returns
    -------
    networkx.MultiDiGraph
        OSMnx-style graph (``x``/``y`` on nodes; ``length``, ``highway``, ``oneway``, ``urban`` on
        edges), labelled ``kind = "stand-in"``.
    """
    rng = np.random.default_rng(seed)  # one stream, drawn in the order of the steps below
    area = _Area.over(bbox, list(anchors or []), urban_centres, urban_radius_km)
    pts, n_anchor, spacing, lake, canal_lines = _points_and_water(area, target_nodes, canals, rng)
    eu, ev, seg_len = _links(area, pts, n_anchor, spacing, lake, canal_lines, rng)
    level = _hierarchy(area, pts, n_anchor, eu, ev, seg_len)
    eu, ev, seg_len, level, labels, main = _thin_local_roads(pts, n_anchor, eu, ev, seg_len, level,
                                                             local_drop_share, rng)
    return _to_graph(area, bbox, seed, pts, n_anchor, eu, ev, level, labels, main, oneway_share, rng)


@dataclass
class _Area:
    """The generation area in local metres: extent, urban centres and the node density."""

    fwd: Callable
    inv: Callable
    x0: float
    y0: float
    x1: float
    y1: float
    anchors_xy: np.ndarray
    centres_xy: np.ndarray
    r_urban: float

    @classmethod
    def over(cls, bbox, anchors, urban_centres, urban_radius_km) -> "_Area":
        centres = list(urban_centres) if urban_centres else list(anchors)
        fwd, inv = _projector(bbox)
        x0, y0 = fwd(bbox[0], bbox[1])
        x1, y1 = fwd(bbox[2], bbox[3])
        cxy = np.array([fwd(*c) for c in centres], dtype=float).reshape(-1, 2)
        axy = np.array([fwd(*a) for a in anchors], dtype=float).reshape(-1, 2)
        return cls(fwd, inv, float(x0), float(y0), float(x1), float(y1), axy, cxy, urban_radius_km * 1000.0)

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    def density(self, px, py):
        """Share of lattice points kept: 0.22 in open country up to 1.0 in an urban core."""
        cxy = self.centres_xy
        if len(cxy) == 0:
            return np.full_like(px, 0.35)
        d2 = (px[:, None] - cxy[None, :, 0]) ** 2 + (py[:, None] - cxy[None, :, 1]) ** 2
        return 0.22 + 0.78 * np.exp(-d2.min(axis=1) / (2 * (self.r_urban / 1.6) ** 2))


def _points_and_water(area: _Area, target_nodes: int, canals: int | None, rng):
    """Step 1: points on a jittered lattice, thinned by a density that peaks in the urban cores;
    water: one lake near the first urban centre, canals as sinuous lines across the area; the
    anchors become nodes (lattice points too close to them are dropped)."""
    x0, y0, x1, y1 = area.x0, area.y0, area.x1, area.y1
    width, height = area.width, area.height
    area_km2 = width * height / 1e6
    probe_x = rng.uniform(x0, x1, 4000)
    probe_y = rng.uniform(y0, y1, 4000)
    mean_accept = float(area.density(probe_x, probe_y).mean())
    spacing = math.sqrt(width * height * mean_accept / max(target_nodes, 50))
    gx = np.arange(x0 + spacing / 2, x1, spacing)
    gy = np.arange(y0 + spacing / 2, y1, spacing)
    px, py = (a.ravel() for a in np.meshgrid(gx, gy))
    px = px + rng.uniform(-0.35, 0.35, px.size) * spacing
    py = py + rng.uniform(-0.35, 0.35, py.size) * spacing
    keep = rng.random(px.size) < area.density(px, py)
    px, py = px[keep], py[keep]

    lake = None
    cxy = area.centres_xy
    if len(cxy):
        lake_c = cxy[0] + rng.uniform(-0.25, 0.25, 2) * spacing * 4 + np.array([400.0, -900.0])
        lake = shapely.Point(*lake_c).buffer(min(550.0, 0.05 * min(width, height)))
        inside = shapely.contains_xy(lake, px, py)
        px, py = px[~inside], py[~inside]
    n_canals = canals if canals is not None else max(2, int(round(math.sqrt(area_km2) / 6)))
    canal_lines = []
    for i in range(n_canals):
        horizontal = i % 2 == 0
        t = np.linspace(0, 1, 60)
        n_same = (n_canals + (0 if horizontal else -1)) // 2 + (1 if horizontal and n_canals % 2 else 0)
        slot = i // 2
        off = (slot + 0.5 + rng.uniform(-0.2, 0.2)) / max(1, n_same) * 0.8 + 0.1  # spread, never stacked
        amp = rng.uniform(0.02, 0.06)
        freq = rng.uniform(1.0, 3.0)
        phase = rng.uniform(0, 2 * math.pi)
        wav = off + amp * np.sin(2 * math.pi * freq * t + phase)
        if horizontal:
            line = np.column_stack([x0 + t * width, y0 + wav * height])
        else:
            line = np.column_stack([x0 + wav * width, y0 + t * height])
        canal_lines.append(shapely.LineString(line))

    axy = area.anchors_xy
    if len(axy):
        d, _ = cKDTree(axy).query(np.column_stack([px, py]))
        px, py = px[d > spacing * 0.3], py[d > spacing * 0.3]
    pts = np.vstack([axy, np.column_stack([px, py])])
    return pts, len(axy), spacing, lake, canal_lines


def _links(area: _Area, pts, n_anchor: int, spacing: float, lake, canal_lines, rng):
    """Step 2: links of the Gabriel graph (from the Delaunay triangulation: planar, road-like, no long
    diagonals); canals and the lake cut links except at bridges (every ~1.2 km urban, ~2.5 km rural),
    then the fewest cuts are undone so that no area is stranded."""
    n = len(pts)
    tri = Delaunay(pts).simplices
    edges = set()
    bad = set()
    for i, j, k in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
        a, b, c = tri[:, i], tri[:, j], tri[:, k]
        dot = np.einsum("ij,ij->i", pts[a] - pts[c], pts[b] - pts[c])
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        pair = lo.astype(np.int64) * n + hi
        edges.update(pair.tolist())
        bad.update(pair[dot <= 0].tolist())
    pairs = np.array(sorted(edges - bad), dtype=np.int64)
    eu, ev = pairs // n, pairs % n
    seg_len = np.hypot(*(pts[eu] - pts[ev]).T)
    long_ok = seg_len < spacing * 3.5  # no roads over empty hull edges
    eu, ev, seg_len = eu[long_ok], ev[long_ok], seg_len[long_ok]

    segs = shapely.linestrings(np.stack([pts[eu], pts[ev]], axis=1))
    cut = np.zeros(len(eu), dtype=bool)
    if lake is not None:
        cut |= shapely.intersects(segs, lake)
    for canal in canal_lines:
        hit = np.flatnonzero(shapely.intersects(segs, canal))
        if hit.size == 0:
            continue
        mids = (pts[eu[hit]] + pts[ev[hit]]) / 2
        along = shapely.line_locate_point(canal, shapely.points(mids))
        urb = area.density(mids[:, 0], mids[:, 1]) > 0.6
        period = np.where(urb, 1200.0, 2500.0)
        phase = rng.uniform(0, 1)
        pos = (along / period + phase) % 1.0
        is_bridge = (pos < 0.5 * spacing * 1.2 / period) | (pos > 1 - 0.5 * spacing * 1.2 / period)
        cut[hit[~is_bridge]] = True
    cut &= ~((eu < n_anchor) | (ev < n_anchor))  # a base always keeps its street links
    cut = _restore_connecting_links(n, eu, ev, cut, rng)
    return eu[~cut], ev[~cut], seg_len[~cut]


def _sym_csr(n: int, eu, ev, w):
    return coo_matrix((np.r_[w, w], (np.r_[eu, ev], np.r_[ev, eu])), shape=(n, n)).tocsr()


#: Shortest-path trees computed at once when marking roads; bounds the memory of step 3 to
#: ``chunk × nodes × 12`` bytes (the trees are independent, so the result does not depend on it).
_TREES_PER_CHUNK = 128


def _hierarchy(area: _Area, pts, n_anchor: int, eu, ev, seg_len) -> np.ndarray:
    """Step 3: road levels (0 primary, 1 secondary, 2 tertiary, 3 local). Primary = shortest paths
    between anchors and to gateways on the boundary; secondary on a 3 km lattice; tertiary on a
    1.2 km lattice inside urban cores."""
    n = len(pts)
    x0, y0, x1, y1 = area.x0, area.y0, area.x1, area.y1
    node_tree = cKDTree(pts)
    level = np.full(len(eu), 3, dtype=np.int8)
    edge_index = {}
    for idx, (a, b) in enumerate(zip(eu.tolist(), ev.tolist())):
        edge_index[(a, b)] = idx
        edge_index[(b, a)] = idx

    def mark_paths(sources, targets_of, lvl, limit):
        graph = _sym_csr(n, eu, ev, seg_len)
        srcs = np.unique(np.asarray(sources, dtype=np.int64))
        for c in range(0, srcs.size, _TREES_PER_CHUNK):
            chunk = srcs[c:c + _TREES_PER_CHUNK]
            dist, pred = dijkstra(graph, directed=False, indices=chunk, return_predecessors=True, limit=limit)
            for row, s in enumerate(chunk.tolist()):
                for t in targets_of(s):
                    if t == s or not np.isfinite(dist[row, t]):
                        continue
                    cur = t
                    while cur != s and cur >= 0:
                        p = pred[row, cur]
                        if p < 0:
                            break
                        e = edge_index.get((p, cur))
                        if e is not None and level[e] > lvl:
                            level[e] = lvl
                        cur = p

    gateways = []
    for fx, fy in ((0, 0.5), (1, 0.5), (0.5, 0), (0.5, 1), (0, 0.2), (1, 0.8), (0.3, 1), (0.7, 0)):
        gateways.append(node_tree.query([x0 + fx * area.width, y0 + fy * area.height])[1])
    hubs = list(range(n_anchor)) + gateways
    if len(hubs) >= 2:
        mark_paths(hubs, lambda s: [h for h in hubs if h > s], 0, np.inf)

    def lattice_nodes(step, mask_urban):
        lx = np.arange(x0 + step / 2, x1, step)
        ly = np.arange(y0 + step / 2, y1, step)
        qx, qy = (a.ravel() for a in np.meshgrid(lx, ly))
        if mask_urban:
            sel = area.density(qx, qy) > 0.55
            qx, qy = qx[sel], qy[sel]
        if qx.size == 0:
            return [], {}
        _, ids = node_tree.query(np.column_stack([qx, qy]))
        keys = list(zip(np.floor((qx - x0) / step).astype(int).tolist(),
                        np.floor((qy - y0) / step).astype(int).tolist()))
        lattice = dict(zip(keys, ids.tolist()))
        return ids.tolist(), lattice

    for step, lvl, urban_only in ((3000.0, 1, False), (1200.0, 2, True)):
        ids, lattice = lattice_nodes(step, urban_only)
        if not ids:
            continue
        neighbours: dict[int, list[int]] = {}
        for (i, j), node in lattice.items():
            neighbours.setdefault(node, [])
            for di, dj in ((1, 0), (0, 1)):
                other = lattice.get((i + di, j + dj))
                if other is not None:
                    neighbours[node].append(other)
        mark_paths(list(neighbours), lambda s, nb=neighbours: nb.get(s, []), lvl, step * 2.5)
    return level


def _thin_local_roads(pts, n_anchor: int, eu, ev, seg_len, level, local_drop_share: float, rng):
    """Step 4: thin local roads (missing links, dead ends); label the connected pieces, the
    largest of which (``main``) becomes the network."""
    local = level == 3
    drop = local & (rng.random(len(eu)) < local_drop_share) & (eu >= n_anchor) & (ev >= n_anchor)
    eu, ev, seg_len, level = eu[~drop], ev[~drop], seg_len[~drop], level[~drop]
    _, labels = connected_components(_sym_csr(len(pts), eu, ev, seg_len), directed=False)
    main = np.argmax(np.bincount(labels))
    return eu, ev, seg_len, level, labels, main


def _to_graph(area: _Area, bbox, seed, pts, n_anchor, eu, ev, level, labels, main, oneway_share, rng):
    """Step 5: one-way local streets in the core, road classes and curved lengths, as an OSMnx-style
    graph of the main piece (the caller keeps the largest strongly connected part)."""
    mid_xy = (pts[eu] + pts[ev]) / 2
    edge_urban = area.density(mid_xy[:, 0], mid_xy[:, 1]) > 0.5
    oneway = (level == 3) & edge_urban & (rng.random(len(eu)) < oneway_share) & (eu >= n_anchor) & (ev >= n_anchor)
    flip = rng.random(len(eu)) < 0.5

    n = len(pts)
    lon, lat = area.inv(pts[:, 0], pts[:, 1])
    G = nx.MultiDiGraph()
    G.graph.update({
        "crs": "epsg:4326",
        "kind": "stand-in",
        "source": f"generated stand-in over bbox {tuple(round(b, 4) for b in bbox)}, seed {seed}",
        "standin_seed": seed,
        "created_with": "dispatch_sim.standin",
    })
    for i in range(n):
        if labels[i] == main:
            G.add_node(i, x=float(lon[i]), y=float(lat[i]))
    classes_urban = ("primary", "secondary", "tertiary", "residential")
    classes_rural = ("primary", "secondary", "tertiary", "unclassified")
    # curvature: real roads are a little longer than the straight segment
    curvature = 1.0 + rng.gamma(2.0, 0.02, len(eu))
    geo_len = haversine_m(lon[eu], lat[eu], lon[ev], lat[ev]) * curvature
    for idx in range(len(eu)):
        a, b = int(eu[idx]), int(ev[idx])
        if labels[a] != main:
            continue
        urban = bool(edge_urban[idx])
        hw = (classes_urban if urban else classes_rural)[int(level[idx])]
        attrs = dict(length=float(geo_len[idx]), highway=hw, urban=urban, oneway=bool(oneway[idx]))
        if oneway[idx]:
            if flip[idx]:
                a, b = b, a
            G.add_edge(a, b, reversed=False, **attrs)
        else:
            G.add_edge(a, b, reversed=False, **attrs)
            G.add_edge(b, a, reversed=True, **attrs)
    G.graph["anchor_nodes"] = [i for i in range(n_anchor) if labels[i] == main]
    return G


def _restore_connecting_links(n: int, eu: np.ndarray, ev: np.ndarray, cut: np.ndarray, rng) -> np.ndarray:
    """Un-cut the fewest water crossings needed so that no area is stranded (extra bridges)."""
    parent = np.arange(n)

    def find(a):
        root = a
        while parent[root] != root:
            root = parent[root]
        while parent[a] != root:
            parent[a], a = root, parent[a]
        return root

    for a, b in zip(eu[~cut].tolist(), ev[~cut].tolist()):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
    cut = cut.copy()
    for e in rng.permutation(np.flatnonzero(cut)).tolist():
        ra, rb = find(int(eu[e])), find(int(ev[e]))
        if ra != rb:
            parent[ra] = rb
            cut[e] = False
    return cut
