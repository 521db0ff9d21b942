"""Real boundaries: the district outline and township jurisdictions, from GeoJSON or Shapefile, in any CRS.

Chinese boundary sources (Amap, Tianditu exports, county GIS offices) are usually GCJ-02, sometimes
BD-09; converting a Nanhu outline from GCJ-02 to WGS-84 moves it about 490 m. The scenario's
``boundaries`` section names the files and their ``crs``; this module reads them once, converts every
vertex to WGS-84 (:func:`dispatch_sim.crs.to_wgs84`) and returns shapely geometries:

* :func:`district_polygon`: the outline, used to clip the road graph (an import or the stand-in,
  :func:`clip_graph`) and to screen report logs (points outside are quarantined);
* :func:`township_jurisdictions`: one polygon per township team, matched to team names (with or
  without 街道/镇), replacing the "fastest base" jurisdictions where they cover a node.

Trade-offs
----------
* **Shapefiles** are read with pyshp (pure Python, no GDAL): ``.shp`` with its ``.dbf`` beside it (the
  ``.cpg`` names the attribute encoding; GBK is tried when it is missing, as Chinese GIS tools write it),
  or a ``.zip`` holding one. A ``.prj`` is not interpreted: the ``crs`` field says what the numbers are,
  because a GCJ-02 file's ``.prj`` usually (wrongly) says WGS-84.
* **Clipping keeps a margin** (``buffer_m``, default 200 m) so roads along the border are not cut off,
  then keeps the largest strongly connected part, so every node can reach every other.
* Results are cached per (file, crs) for the process: a World, ``validate`` and a log screen read the
  same file once.
"""

from __future__ import annotations

import io
import json
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import DispatchSimError
from .geodesy import M_PER_DEG_LON_EQUATOR
from .readers import MAX_DATA_BYTES, _show, read_bytes

WHAT = "boundary file (GeoJSON, or Shapefile .shp/.zip)"


def _to_wgs84(geom, crs: str):
    import shapely

    if crs == "wgs84":
        return geom
    from .crs import to_wgs84

    def fn(xy):
        x, y = to_wgs84(xy[:, 0], xy[:, 1], crs)
        return np.column_stack([np.atleast_1d(x), np.atleast_1d(y)])

    return shapely.transform(geom, fn)


def _check_geom(geom, path, label):
    if geom is None or geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise DispatchSimError(f"{label}: {_show(path)}: expected Polygon or MultiPolygon features")
    w, s, e, n = geom.bounds
    if not (-180 <= w <= e <= 180 and -90 <= s <= n <= 90):
        raise DispatchSimError(f"{label}: {_show(path)}: coordinates are not longitude/latitude in degrees (a "
                               "projected "
                               "file? export it in degrees: WGS-84, GCJ-02 or BD-09)")
    if not geom.is_valid:
        import shapely

        geom = shapely.make_valid(geom)
        geom = shapely.union_all([g for g in getattr(geom, "geoms", [geom]) if g.geom_type in ("Polygon",
                                                                                               "MultiPolygon")])
    return geom


def _geojson_features(data: bytes, path, label):
    from shapely.geometry import shape

    from .readers import decode_text

    text, _ = decode_text(data, path, label, what=WHAT)
    try:
        obj = json.loads(text)
        feats = obj["features"] if obj.get("type") == "FeatureCollection" else (
            [obj] if obj.get("type") == "Feature" else [{"type": "Feature", "properties": {}, "geometry": obj}])
        out = [((f.get("properties") or {}), shape(f["geometry"])) for f in feats if f.get("geometry")]
    except Exception:  # noqa: BLE001 - any parse problem means "not a GeoJSON polygon file"
        raise DispatchSimError(f"{label}: {_show(path)}: not a GeoJSON file of polygons (Feature, FeatureCollection or "
                               "geometry)") from None
    return out


def _shapefile_features(shp: bytes, dbf: bytes | None, cpg: str | None, path, label):
    import codecs
    import re

    import shapefile
    from shapely.geometry import shape

    if cpg and re.fullmatch(r"(?:ansi\s*)?\d{3,5}", cpg.strip().lower()):  # ArcGIS writes code pages: "936", "ANSI 936"
        cpg = "cp" + re.sub(r"\D", "", cpg)
    try:
        encs = [codecs.lookup(cpg).name] if cpg else []
    except LookupError:
        encs = []  # an unknown .cpg: try the usual ones
    encs += ["utf-8", "gbk"]
    for enc in encs:
        try:
            r = shapefile.Reader(shp=io.BytesIO(shp), dbf=io.BytesIO(dbf) if dbf else None, encoding=enc)
            names = [f[0] for f in r.fields[1:]] if dbf else []
            out = []
            pairs = (((sr.shape, sr.record) for sr in r.iterShapeRecords()) if dbf
                     else ((s, None) for s in r.iterShapes()))
            for s, rec in pairs:
                props = dict(zip(names, list(rec))) if rec is not None else {}
                geo = s.__geo_interface__
                if geo.get("type") not in ("Polygon", "MultiPolygon"):
                    continue
                out.append((props, shape(geo)))
            return out
        except UnicodeDecodeError:
            continue
        except Exception as exc:  # noqa: BLE001 - a damaged shapefile
            if "decode" in str(exc).lower():  # pyshp 3 wraps an attribute decoding failure in dbfFileException
                continue
            raise DispatchSimError(f"{label}: {_show(path)}: not a readable Shapefile ({type(exc).__name__})") from None
    raise DispatchSimError(f"{label}: {_show(path)}: the .dbf attributes are in an unknown encoding (tried "
                           f"{', '.join(encs)}); add a .cpg file naming it (e.g. GBK)")


def read_polygons(path, crs: str = "wgs84", label: str = "boundaries") -> list[tuple[dict, object]]:
    """``[(properties, polygon in WGS-84)]`` from a GeoJSON file, a ``.shp`` (with ``.dbf``) or a ``.zip``."""
    p = Path(path)
    data = read_bytes(p, label, max_bytes=MAX_DATA_BYTES, what=WHAT)
    name = p.name.lower()
    if data.startswith(b"PK\x03\x04"):
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
            shps = [n for n in zf.namelist() if n.lower().endswith(".shp")]
            if not shps:
                raise DispatchSimError(f"{label}: {_show(p)}: a ZIP without a .shp file, expected a {WHAT}")
            stem = shps[0][:-4]

            def member(ext):
                for n in zf.namelist():
                    if n.lower() == (stem + ext).lower():
                        if zf.getinfo(n).file_size > MAX_DATA_BYTES:
                            raise DispatchSimError(f"{label}: {_show(p)}: {n} is too large")
                        return zf.read(n)
                return None

            cpg = member(".cpg")
            feats = _shapefile_features(member(".shp"), member(".dbf"),
                                        cpg.decode("ascii", "ignore").strip() if cpg else None,
                                        p, label)
        except zipfile.BadZipFile:
            raise DispatchSimError(f"{label}: {_show(p)}: not a readable ZIP file") from None
    elif name.endswith(".shp"):
        dbf = p.with_suffix(".dbf")
        cpg = p.with_suffix(".cpg")
        feats = _shapefile_features(data, read_bytes(dbf, label, max_bytes=MAX_DATA_BYTES, what="dBase file")
                                    if dbf.exists() else None,
                                    cpg.read_text(encoding="ascii", errors="ignore").strip() if cpg.exists() else None,
                                    p, label)
    else:
        feats = _geojson_features(data, p, label)
    out = []
    for props, g in feats:
        g = _check_geom(_to_wgs84(g, crs), p, label)
        out.append((props, g))
    if not out:
        raise DispatchSimError(f"{label}: {_show(p)}: no polygons in the file")
    return out


@lru_cache(maxsize=16)
def _district(path: str, crs: str):
    import shapely

    return shapely.union_all([g for _, g in read_polygons(path, crs, "boundaries.district")])


def district_polygon(scenario):
    """The district outline in WGS-84 (shapely), or None when the scenario gives none."""
    b = getattr(scenario, "boundaries", None)
    if b is None or not b.district:
        return None
    return _district(str(b.district), b.crs)


def clip_graph(G, polygon, buffer_m: float = 200.0):
    """The part of ``G`` inside ``polygon`` (plus ``buffer_m``), its largest strongly connected component."""
    import networkx as nx
    import shapely

    from .roads import node_arrays

    ids, lon, lat = node_arrays(G)
    lat0 = float(np.mean(lat)) if len(lat) else 0.0
    buf = (polygon.buffer(buffer_m / (M_PER_DEG_LON_EQUATOR * max(0.2, np.cos(np.radians(lat0)))))
           if buffer_m > 0 else polygon)
    inside = shapely.contains_xy(buf, lon, lat)
    if not inside.any():
        raise DispatchSimError("boundaries.district: the road graph has no node inside the district outline (check its "
                               "crs "
                               "and the graph's bbox)")
    H = G.subgraph(ids[inside].tolist()).copy()
    comp = max(nx.strongly_connected_components(H), key=len)
    H = H.subgraph(comp).copy()
    H.graph.update(G.graph)
    H.graph["source"] = f"{G.graph.get('source', '')}, clipped to the district outline (+{buffer_m:g} m)"
    H.graph["dropped_nodes"] = int(G.graph.get("dropped_nodes", 0)) + G.number_of_nodes() - H.number_of_nodes()
    H.graph["dropped_edges"] = int(G.graph.get("dropped_edges", 0)) + G.number_of_edges() - H.number_of_edges()
    return H


def township_jurisdictions(scenario, lon, lat, node_team: np.ndarray, warn=None) -> np.ndarray:
    """Home team of every node from the township polygons where they cover it; elsewhere ``node_team``."""
    import shapely

    from .names import match_team, team_lookup

    b = scenario.boundaries
    feats = read_polygons(b.townships, b.crs, "boundaries.townships")
    lookup = team_lookup(scenario)
    out = node_team.copy()
    unmatched = []
    for props, g in feats:
        name = props.get(b.name_property)
        i = match_team(name, lookup)
        if i < 0 or scenario.teams[i].backup:
            unmatched.append(str(name)[:30])
            continue
        out[shapely.contains_xy(g, lon, lat)] = i
    if unmatched and warn:
        warn(f"boundaries.townships: {len(unmatched)} polygon(s) name no township team (property "
             f"{b.name_property!r}): {', '.join(unmatched[:5])}")
    return out
