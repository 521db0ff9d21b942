"""Streaming import of local OSM extracts (.osm, .osm.bz2, .osm.pbf) into drivable-road OSM XML.

Why not hand the file straight to ``osmnx.graph_from_xml``: that reads every element of the file
into memory and applies no network filter, and clipped extracts hold ways whose nodes are missing
("Some edges missing nodes"). Here libosmium streams the file once, keeps only ways a car may use
(the same tag rules as OSMnx's ``drive`` network type), clips them to a bbox or polygon and trims each
way to its runs of nodes inside, then writes a small, complete OSM XML file for OSMnx to build from.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np
import osmium
import shapely

from .errors import GraphSourceError

# Tag rules of OSMnx's "drive" network type (osmnx._overpass._get_network_filter), as sets.
_EXCLUDED_HIGHWAY = {
    "abandoned", "bridleway", "bus_guideway", "construction", "corridor", "cycleway", "elevator",
    "escalator", "footway", "no", "path", "pedestrian", "planned", "platform", "proposed", "raceway",
    "razed", "rest_area", "service", "services", "steps", "track",
}
_EXCLUDED_SERVICE = {"alley", "driveway", "emergency_access", "parking", "parking_aisle", "private"}
_SPLIT_ID_BASE = 10**15  # ids for the second and later pieces of a way cut by the boundary


def is_drivable(tags) -> bool:
    """True for ways in OSMnx's ``drive`` network: public roads a car may use, no service roads."""
    hw = tags.get("highway")
    if hw is None or hw in _EXCLUDED_HIGHWAY:
        return False
    if tags.get("area") == "yes" or "private" in tags.get("access", ""):
        return False
    if tags.get("motor_vehicle") == "no" or tags.get("motorcar") == "no":
        return False
    return tags.get("service", "") not in _EXCLUDED_SERVICE


def extract_drivable_xml(
    src: str | Path,
    dst: str | Path,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    polygon=None,
) -> dict:
    """Stream ``src`` and write the drivable ways inside ``bbox``/``polygon`` to OSM XML ``dst``.

    Parameters
    ----------
    src
        An OSM file libosmium reads: ``.osm``, ``.osm.bz2``, ``.osm.gz``, ``.osm.pbf``.
    dst
        Output ``.osm`` XML path.
    bbox
        ``(west, south, east, north)`` in WGS-84 degrees, or None.
    polygon
        A shapely (Multi)Polygon in WGS-84, or None. With both, a way node must be in both.

    Returns
    -------
    dict
        Counts: ``ways_read``, ``ways_kept``, ``pieces``, ``nodes``.
    """
    src = Path(src)
    if not src.exists():
        raise GraphSourceError(f"{src}: no such file; give the path of an .osm, .osm.bz2 or .osm.pbf extract")
    if polygon is not None:
        shapely.prepare(polygon)
    nodes: dict[int, tuple[float, float]] = {}
    ways: list[tuple[int, list[int], dict]] = []
    stats = {"ways_read": 0, "ways_kept": 0, "pieces": 0, "nodes": 0}
    split_counter = 0
    try:
        fp = osmium.FileProcessor(str(src), osmium.osm.NODE | osmium.osm.WAY).with_locations()
        fp = fp.with_filter(osmium.filter.KeyFilter("highway"))
        for obj in fp:
            if not obj.is_way():  # type: ignore[union-attr]  # the filter passes nodes and ways only
                continue
            stats["ways_read"] += 1
            tags = {t.k: t.v for t in obj.tags}
            if not is_drivable(tags):
                continue
            refs, lons, lats = [], [], []
            for nd in obj.nodes:  # type: ignore[union-attr]  # a way (is_way above)
                loc = nd.location
                refs.append(nd.ref)
                if loc.valid():
                    lons.append(loc.lon)
                    lats.append(loc.lat)
                else:  # node missing from the extract: treat as outside
                    lons.append(np.nan)
                    lats.append(np.nan)
            lon = np.asarray(lons)
            lat = np.asarray(lats)
            inside = np.isfinite(lon)
            if bbox is not None:
                w, s, e, n = bbox
                inside &= (lon >= w) & (lon <= e) & (lat >= s) & (lat <= n)
            if polygon is not None and inside.any():
                inside &= shapely.contains_xy(polygon, np.nan_to_num(lon), np.nan_to_num(lat))
            if inside.sum() < 2:
                continue
            pieces = _runs(inside)
            if not pieces:
                continue
            stats["ways_kept"] += 1
            for k, (a, b) in enumerate(pieces):
                if k == 0:
                    wid = obj.id
                else:
                    split_counter += 1
                    wid = _SPLIT_ID_BASE + split_counter
                piece = refs[a:b]
                for i, ref in zip(range(a, b), piece):
                    nodes[ref] = (float(lon[i]), float(lat[i]))
                ways.append((wid, piece, tags))
                stats["pieces"] += 1
    except RuntimeError as exc:  # libosmium: unreadable or corrupt input
        raise GraphSourceError(f"{src}: cannot read as an OSM file ({exc}); is it a complete "
                               ".osm/.osm.bz2/.osm.pbf?") from None
    stats["nodes"] = len(nodes)
    if not ways:
        where = f"bbox {bbox}" if bbox else "the polygon" if polygon is not None else "the file"
        raise GraphSourceError(f"{src}: no drivable roads inside {where}; check the bbox order (west,south,east,north) "
                               "and that the extract covers it")
    with open(dst, "w", encoding="utf-8") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="dispatch_sim">\n')
        for ref, (x, y) in nodes.items():
            fh.write(f'<node id="{ref}" lat="{y:.7f}" lon="{x:.7f}"/>\n')
        for wid, refs, tags in ways:
            fh.write(f'<way id="{wid}">')
            fh.write("".join(f'<nd ref="{r}"/>' for r in refs))
            fh.write("".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items()))
            fh.write("</way>\n")
        fh.write("</osm>\n")
    return stats


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Half-open index ranges of runs of True of length >= 2."""
    out = []
    start = None
    for i, m in enumerate(mask.tolist()):
        if m and start is None:
            start = i
        elif not m and start is not None:
            if i - start >= 2:
                out.append((start, i))
            start = None
    if start is not None and len(mask) - start >= 2:
        out.append((start, len(mask)))
    return out
