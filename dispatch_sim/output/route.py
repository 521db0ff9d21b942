"""``dispatch-sim route --geojson``: the route per time band (and the detour) as GeoJSON for QGIS.

Light on purpose: ``route`` answers in under a second, so this imports nothing heavy.
"""

from __future__ import annotations

from pathlib import Path

from .. import settings
from ..io import write_json_atomic


def write_route(res: dict, path, standin: bool) -> Path:
    """The legs of a ``route`` answer (one LineString per time band, the route without the disruption
    when there is a detour), with the map data attribution."""
    legs = res["bands"]
    feats = [{"type": "Feature", "properties": {k: v for k, v in x.items() if k != "route"}
              | {"from": res["from"], "to": res["to"]},
              "geometry": {"type": "LineString", "coordinates": x["route"]}} for x in legs if x["route"]]
    if "detour" in res and res["detour"]["without_disruptions"]["route"]:
        n = res["detour"]["without_disruptions"]
        feats.append({"type": "Feature",
                      "properties": {"band": n["band"] + " (without disruptions)", "minutes": n["minutes"],
                                     "km": n["km"]},
                      "geometry": {"type": "LineString", "coordinates": n["route"]}})
    return write_json_atomic(path, {"type": "FeatureCollection", "features": feats,
                                    "attribution": settings.standin_label if standin else settings.osm_attribution})
