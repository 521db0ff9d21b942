"""A prepared road graph as flat arrays: what the router, the locator and demand read, and its binary cache.

A cleaned OSMnx ``MultiDiGraph`` is convenient to build and inspect but slow to get back: reading
the Nanhu stand-in from GraphML takes 2–9 s (XML parsing plus networkx's per-edge bookkeeping) and
re-cleaning it another 1–4 s, on every command. Everything the simulator needs from it fits in a few
arrays: node ids and coordinates, and per directed edge its end nodes, key, travel time, length and
road class. :class:`RoadNetwork` holds those arrays; :meth:`RoadNetwork.save` /
:meth:`RoadNetwork.load` keep them on disk as ``.npy`` files (memory-mapped, so parallel workers
share one copy in the page cache) beside a small JSON header.

Trade-offs
----------
- **The networkx graph is rebuilt only when asked for** (:meth:`RoadNetwork.graph`): the report's
  place names, disruptions selected by road name and notebooks need it; a dispatch run does not.
  The cache keeps every node and edge attribute as JSON (geometries as WKB, tuples tagged) plus the
  order of every node's predecessors, so the rebuilt graph equals the original in attributes *and*
  iteration order, which is what makes a warm start give byte-identical outputs to a cold one.
  That part is a separate file, read only on demand.
- **No pickle.** Caches may be shared between colleagues (see :mod:`dispatch_sim.io`); ``.npy``
  files are read with ``allow_pickle=False`` and the rest is JSON, so a cache file can be wrong,
  never run code. A wrong one is detected (shapes, header, format version) and rebuilt.
- **Versioned.** :data:`FORMAT_VERSION` is in the header and in every cache key; a change of the
  layout makes old entries unreadable by construction, never misread.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from . import settings

if TYPE_CHECKING:  # networkx is imported when a graph is built or rebuilt, not to read arrays
    import networkx as nx

log = logging.getLogger("dispatch_sim")

#: Layout version of a saved :class:`RoadNetwork`; part of every cache key.
FORMAT_VERSION = 1
_ARRAYS = ("node_ids", "lon", "lat", "eu", "ev", "ekey", "travel_time", "length", "class_code", "pred_ptr", "pred_u")


@dataclass
class RoadNetwork:
    """A prepared road graph as arrays, in the graph's own node and edge iteration order.

    Attributes
    ----------
    node_ids : numpy.ndarray
        OSM node ids (int64), in ``G.nodes`` order; a node's *index* is its position here.
    lon, lat : numpy.ndarray
        WGS-84 degrees per node.
    eu, ev, ekey : numpy.ndarray
        Per directed edge in ``G.edges(keys=True)`` order: tail and head node *indices* and the edge key.
    travel_time, length : numpy.ndarray
        Seconds and metres per edge.
    class_code : numpy.ndarray
        Index into :attr:`classes` of each edge's ``road_class``.
    classes : list of str
        Road classes present.
    graph_attrs : dict
        ``G.graph`` (kind, source, what cleaning dropped, ...).
    info : dict
        :func:`dispatch_sim.roads.graph_info` of the graph, computed once.
    pred_ptr, pred_u : numpy.ndarray
        Every node's predecessors in the graph's order (CSR by node index), so :meth:`graph` rebuilds
        the exact iteration order.
    """

    node_ids: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    eu: np.ndarray
    ev: np.ndarray
    ekey: np.ndarray
    travel_time: np.ndarray
    length: np.ndarray
    class_code: np.ndarray
    classes: list
    graph_attrs: dict
    info: dict
    pred_ptr: np.ndarray
    pred_u: np.ndarray
    _G: object = field(default=None, repr=False, compare=False)
    _attr_file: tuple[Path, str] | None = field(default=None, repr=False, compare=False)
    _source: Callable[[], Any] | None = field(default=None, repr=False, compare=False)

    # ------------------------------------------------------------------ from a graph
    @classmethod
    def from_graph(cls, G: "nx.MultiDiGraph", *, keep_graph: bool = True) -> "RoadNetwork":
        """Arrays of a prepared graph (``travel_time`` on every edge).

        Parameters
        ----------
        G
            A graph from :func:`dispatch_sim.roads.prepare_graph`.
        keep_graph
            Keep a reference to ``G`` so :meth:`graph` returns it without rebuilding.
        """
        n = G.number_of_nodes()
        node_ids = np.fromiter(G.nodes, dtype=np.int64, count=n)
        index = {int(v): i for i, v in enumerate(node_ids.tolist())}
        lon = np.fromiter((d["x"] for _, d in G.nodes(data=True)), dtype=float, count=n)
        lat = np.fromiter((d["y"] for _, d in G.nodes(data=True)), dtype=float, count=n)
        m = G.number_of_edges()
        eu = np.empty(m, dtype=np.int64)
        ev = np.empty(m, dtype=np.int64)
        ekey = np.empty(m, dtype=np.int64)
        tt = np.empty(m, dtype=float)
        length = np.empty(m, dtype=float)
        codes = np.empty(m, dtype=np.int16)
        classes: dict[str, int] = {}
        for i, (a, b, k, d) in enumerate(G.edges(keys=True, data=True)):
            eu[i] = index[a]
            ev[i] = index[b]
            ekey[i] = k
            tt[i] = float(d["travel_time"])
            length[i] = float(d.get("length", 0.0))
            c = d.get("road_class", "road")
            codes[i] = classes.setdefault(c, len(classes))
        ptr = np.zeros(n + 1, dtype=np.int64)
        pred: list[int] = []
        for i, v in enumerate(node_ids.tolist()):
            ps = G._pred[v]  # noqa: SLF001 - the order of predecessors, for an exact rebuild
            pred.extend(index[u] for u in ps)
            ptr[i + 1] = len(pred)
        net = cls(node_ids, lon, lat, eu, ev, ekey, tt, length, codes, list(classes), dict(G.graph), describe_graph(G),
                  ptr, np.asarray(pred, dtype=np.int64))
        if keep_graph:
            net._G = G
        return net

    # ------------------------------------------------------------------ views
    @property
    def n(self) -> int:
        """Number of nodes."""
        return len(self.node_ids)

    @property
    def kind(self) -> str:
        """``osm``, ``file``, ``graphml`` or ``stand-in``."""
        return self.graph_attrs.get("kind", "graphml")

    @property
    def is_standin(self) -> bool:
        """Whether this is the generated stand-in (never to be taken for real roads)."""
        return self.kind == "stand-in"

    def edge_classes(self) -> np.ndarray:
        """``road_class`` per edge (object array)."""
        return np.asarray(self.classes, dtype=object)[self.class_code]

    def edge_keys(self) -> list[tuple[int, int, int]]:
        """``(u, v, key)`` per edge, by OSM node id (how disruptions name edges)."""
        return list(zip(self.node_ids[self.eu].tolist(), self.node_ids[self.ev].tolist(), self.ekey.tolist()))

    def graph(self) -> "nx.MultiDiGraph":
        """The networkx graph these arrays came from: the original when it is still held, else rebuilt
        from the cache with the same attributes and the same node, edge and predecessor order.

        When the cached attributes turn out damaged (checked by SHA-1 before parsing) and the network
        knows its source (:func:`dispatch_sim.roads.load_network` sets it), the graph is built from
        the source again, checked against the arrays, and the cache entry rewritten.
        """
        if self._G is None:
            try:
                self._G = self._rebuild()
            except (OSError, ValueError, KeyError, TypeError) as exc:
                if self._source is None:
                    raise
                log.info("network cache attributes unusable (%s); building the graph from its source", exc)
                G = self._source()
                if G.number_of_nodes() != self.n or not np.array_equal(
                        np.fromiter(G.nodes, dtype=np.int64, count=self.n), self.node_ids):
                    raise ValueError("the graph source now gives another graph than the cached arrays; "
                                     "start again to rebuild the cache") from None
                self._G = G
        return self._G

    def edge_attr(self, name: str) -> list:
        """One attribute of every edge (None where absent), in edge order, without rebuilding the
        networkx graph when it is not held: read from the cached attributes (checksum verified)."""
        if self._G is None and self._attr_file is not None:
            file, sha1 = self._attr_file
            raw = file.read_bytes()
            if hashlib.sha1(raw).hexdigest() == sha1:
                edges = json.loads(raw)["edges"]
                if len(edges) == len(self.eu):
                    return [_dec(d[name]) if name in d else None for d in edges]
        return [d.get(name) for _, _, d in self.graph().edges(data=True)]

    # ------------------------------------------------------------------ disk
    def save(self, path: str | Path) -> Path:
        """Write the arrays, header and attributes as a folder, atomically (renamed when complete).

        Raises
        ------
        OSError
            When the folder cannot be written (callers treat the cache as optional).
        ValueError
            When an attribute cannot be stored faithfully (then nothing is written).
        """
        from .io import atomic_dir

        G = self.graph()
        attrs = json.dumps({"nodes": [_enc_dict(d) for _, d in G.nodes(data=True)],
                            "edges": [_enc_dict(d) for _, _, d in G.edges(data=True)]},
                           ensure_ascii=False, allow_nan=True, separators=(",", ":")).encode("utf-8")
        header = {"attrs_sha1": hashlib.sha1(attrs).hexdigest(), "attrs_bytes": len(attrs), "format": FORMAT_VERSION,
                  "n": self.n, "m": len(self.eu), "pairs": len(self.pred_u), "classes": self.classes,
                  "graph": _enc(self.graph_attrs), "info": self.info}
        path = Path(path)
        with atomic_dir(path) as tmp:
            for name in _ARRAYS:
                np.save(tmp / f"{name}.npy", np.ascontiguousarray(getattr(self, name)))
            (tmp / "attrs.json").write_bytes(attrs)
            (tmp / "header.json").write_text(json.dumps(header, ensure_ascii=False), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "RoadNetwork":
        """Memory-map a saved network. Raises ``ValueError``/``OSError`` when it is damaged or of
        another format version (callers rebuild it)."""
        path = Path(path)
        header = json.loads((path / "header.json").read_text(encoding="utf-8"))
        if header.get("format") != FORMAT_VERSION:
            raise ValueError(f"format {header.get('format')!r}, expected {FORMAT_VERSION}")
        arrays: dict[str, Any] = {name: np.asarray(np.load(path / f"{name}.npy", mmap_mode="r",
                                           allow_pickle=False)) for name in _ARRAYS}
        n, m = header["n"], header["m"]
        want = {"node_ids": n, "lon": n, "lat": n, "eu": m, "ev": m, "ekey": m, "travel_time": m, "length": m,
                "class_code": m, "pred_ptr": n + 1, "pred_u": header["pairs"]}
        for name, size in want.items():
            if arrays[name].shape != (size,):
                raise ValueError(f"{name} has shape {arrays[name].shape}, expected ({size},)")
        if arrays["pred_ptr"][-1] != header["pairs"] or (header["pairs"] and arrays["pred_u"].max() >= n):
            raise ValueError("predecessor lists do not match the nodes")
        if m and (arrays["eu"].max() >= n or arrays["ev"].max() >= n
                  or arrays["class_code"].max() >= len(header["classes"])):
            raise ValueError("edge arrays point outside the node arrays")
        if (path / "attrs.json").stat().st_size != header["attrs_bytes"]:
            raise ValueError("attrs.json has the wrong size")
        net = cls(**arrays, classes=list(header["classes"]), graph_attrs=_dec(header["graph"]), info=header["info"])
        net._attr_file = (path / "attrs.json", header["attrs_sha1"])
        return net

    def _rebuild(self) -> "nx.MultiDiGraph":
        import networkx as nx

        if self._attr_file is None:
            raise ValueError("this network holds neither its graph nor a cache to rebuild it from")
        file, sha1 = self._attr_file
        raw = file.read_bytes()
        if hashlib.sha1(raw).hexdigest() != sha1:
            raise ValueError(f"{file} is damaged (checksum)")
        data = json.loads(raw)
        nodes, edges = data["nodes"], data["edges"]
        if len(nodes) != self.n or len(edges) != len(self.eu):
            raise ValueError("cached attributes do not match the arrays")
        G = nx.MultiDiGraph()
        G.graph.update(self.graph_attrs)
        ids = self.node_ids.tolist()
        succ, pred, node = G._succ, G._pred, G._node  # noqa: SLF001 - exact order, no per-edge overhead
        for v, d in zip(ids, nodes):
            node[v] = _dec_dict(d)
            succ[v] = {}
            pred[v] = {}
        for a, b, k, d in zip(self.eu.tolist(), self.ev.tolist(), self.ekey.tolist(), edges):
            keyed = succ[ids[a]].get(ids[b])
            if keyed is None:
                keyed = succ[ids[a]][ids[b]] = {}
            keyed[k] = _dec_dict(d)
        ptr, pu = self.pred_ptr.tolist(), self.pred_u.tolist()
        for i, v in enumerate(ids):
            pv = pred[v]
            for u in pu[ptr[i]:ptr[i + 1]]:
                pv[ids[u]] = succ[ids[u]][v]
        return G


def node_arrays(G) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Node ids, longitudes and latitudes as arrays in node order, of a graph or a :class:`RoadNetwork`."""
    if isinstance(G, RoadNetwork):
        return G.node_ids, G.lon, G.lat
    ids = np.fromiter(G.nodes, dtype=np.int64, count=G.number_of_nodes())
    xs = np.fromiter((d["x"] for _, d in G.nodes(data=True)), dtype=float, count=len(ids))
    ys = np.fromiter((d["y"] for _, d in G.nodes(data=True)), dtype=float, count=len(ids))
    return ids, xs, ys


def as_network(G) -> RoadNetwork:
    """``G`` itself when it is a :class:`RoadNetwork`, else the arrays of the networkx graph."""
    return G if isinstance(G, RoadNetwork) else RoadNetwork.from_graph(G)


# ---------------------------------------------------------------------- attribute encoding
# JSON keeps str, int, float (repr round-trips exactly), bool, None, list and dict; tuples and
# geometries are tagged so they come back as what they were.

def _enc(v):
    if isinstance(v, (str, bool, int, float)) or v is None:
        return v
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, list):
        return [_enc(x) for x in v]
    if isinstance(v, tuple):
        return {"$tuple": [_enc(x) for x in v]}
    if isinstance(v, dict):
        if any(not isinstance(k, str) for k in v) or any(k.startswith("$") for k in v):
            raise ValueError(f"dict attribute with keys {list(v)[:3]} cannot be stored as JSON faithfully")
        return {k: _enc(x) for k, x in v.items()}
    if type(v).__module__.startswith("shapely"):
        import shapely

        return {"$wkb": shapely.to_wkb(v, hex=True)}
    raise ValueError(f"attribute of type {type(v).__name__} cannot be cached")


def _enc_dict(d: dict) -> dict:
    return {k: _enc(v) for k, v in d.items()}


def _dec(v):
    if isinstance(v, list):
        return [_dec(x) for x in v]
    if isinstance(v, dict):
        if "$tuple" in v:
            return tuple(_dec(x) for x in v["$tuple"])
        if "$wkb" in v:
            import shapely

            return shapely.from_wkb(v["$wkb"])
        return {k: _dec(x) for k, x in v.items()}
    return v


def _dec_dict(d: dict) -> dict:
    return {k: (_dec(v) if isinstance(v, (list, dict)) else v) for k, v in d.items()}


def describe_graph(G) -> dict:
    """Nodes, edges, extent, km of road by class, provenance and what cleaning dropped, of a prepared
    networkx graph (:func:`dispatch_sim.roads.graph_info` for graphs and networks alike)."""
    xs = np.array([d["x"] for _, d in G.nodes(data=True)], dtype=float)
    ys = np.array([d["y"] for _, d in G.nodes(data=True)], dtype=float)
    km_by_class: dict[str, float] = {}
    for _u, _v, d in G.edges(data=True):
        cls = d.get("road_class") or str(d.get("highway"))
        km_by_class[cls] = km_by_class.get(cls, 0.0) + float(d.get("length", 0.0)) / 1000.0
    # directed edges count each two-way road twice: report road km once per street
    total_km = sum(km_by_class.values())
    return {
        "kind": G.graph.get("kind", "graphml"),
        "source": G.graph.get("source", ""),
        "nodes": G.number_of_nodes(),
        "edges": G.number_of_edges(),
        "extent": [round(float(xs.min()), 6), round(float(ys.min()), 6), round(float(xs.max()), 6),
                   round(float(ys.max()), 6)] if len(xs) else None,
        "km_directed_by_class": {k: round(v, 2) for k, v in sorted(km_by_class.items(), key=lambda kv: -kv[1])},
        "km_directed_total": round(total_km, 2),
        "dropped_nodes": int(G.graph.get("dropped_nodes", 0)),
        "dropped_edges": int(G.graph.get("dropped_edges", 0)),
        "attribution": settings.standin_label if G.graph.get("kind") == "stand-in" else settings.osm_attribution,
    }
