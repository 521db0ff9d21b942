"""Real boundaries (dispatch_sim.boundaries): GeoJSON and Shapefiles in WGS-84, GCJ-02 or BD-09 give the same
WGS-84 polygons; the road graph is clipped to the district; township polygons set the jurisdictions; bad files are
one line naming file and field, exit 2 from ``validate``."""

from __future__ import annotations

import json
import zipfile

import networkx as nx
import numpy as np
import pytest
import yaml

from .conftest import small_scenario

# two townships of the small stand-in (bbox 120.70-120.80 x 30.70-30.78), as WGS-84 rings
WEST = [(120.70, 30.70), (120.75, 30.70), (120.75, 30.78), (120.70, 30.78), (120.70, 30.70)]
EAST = [(120.75, 30.70), (120.80, 30.70), (120.80, 30.78), (120.75, 30.78), (120.75, 30.70)]


def _ring_in(ring, crs):
    from dispatch_sim.crs import from_wgs84

    x, y = from_wgs84(np.array([p[0] for p in ring]), np.array([p[1] for p in ring]), crs)
    return [(float(a), float(b)) for a, b in zip(x, y)]


def _geojson(path, features):
    """features: [(properties, ring)] as Polygons."""
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": props, "geometry": {"type": "Polygon", "coordinates": [list(map(list, ring))]}}
        for props, ring in features]}
    path.write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")
    return path


def _shapefile(stem, features, encoding="gbk", cpg=True):
    shapefile = pytest.importorskip("shapefile")
    w = shapefile.Writer(str(stem), shapeType=shapefile.POLYGON, encoding=encoding)
    w.field("name", "C", size=40)
    for props, ring in features:
        w.poly([list(reversed(ring))])  # shapefile outer rings are clockwise
        w.record(props["name"])
    w.close()
    if cpg:
        stem.with_suffix(".cpg").write_text(encoding.upper(), encoding="ascii")
    return stem.with_suffix(".shp")


def _vertices(geom) -> np.ndarray:
    return np.asarray(geom.exterior.coords)


# ------------------------------------------------------------------------------------------ reading

def test_geojson_is_read_with_its_properties(tmp_path):
    from dispatch_sim.boundaries import read_polygons

    p = _geojson(tmp_path / "t.geojson", [({"name": "A街道"}, WEST), ({"name": "B"}, EAST)])
    feats = read_polygons(p)
    assert [f[0]["name"] for f in feats] == ["A街道", "B"]
    assert np.allclose(_vertices(feats[0][1]), WEST) and feats[1][1].area == pytest.approx(0.05 * 0.08)


def test_a_gbk_shapefile_reads_like_the_geojson_from_shp_and_from_zip(tmp_path):
    from dispatch_sim.boundaries import read_polygons

    feats = [({"name": "解放街道"}, WEST), ({"name": "凤桥镇"}, EAST)]
    ref = read_polygons(_geojson(tmp_path / "t.geojson", feats))
    shp = _shapefile(tmp_path / "towns", feats)
    nocpg = _shapefile(tmp_path / "nocpg", feats, cpg=False)  # Chinese GIS tools often omit the .cpg: GBK is tried
    ansi = _shapefile(tmp_path / "ansi", feats)
    ansi.with_suffix(".cpg").write_text("ANSI 936", encoding="ascii")  # as ArcGIS writes the GBK code page
    zpath = tmp_path / "towns.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for ext in (".shp", ".shx", ".dbf", ".cpg"):
            z.write(shp.with_suffix(ext), "towns" + ext)
    for src in (shp, nocpg, ansi, zpath):
        got = read_polygons(src)
        assert [f[0]["name"] for f in got] == ["解放街道", "凤桥镇"], src
        for (_, a), (_, b) in zip(got, ref):
            assert a.symmetric_difference(b).area < 1e-12, src


@pytest.mark.parametrize("crs, shift_m", [("gcj02", (400, 600)), ("bd09", (900, 1300))])
def test_chinese_coordinate_systems_are_converted_vertex_by_vertex(tmp_path, crs, shift_m):
    from dispatch_sim.boundaries import read_polygons
    from dispatch_sim.crs import haversine_m, to_wgs84

    given = _ring_in(WEST, crs)  # the ring as Amap (gcj02) or Baidu (bd09) would give it
    moved = np.asarray(given) - np.asarray(WEST)
    d = haversine_m(np.array(WEST)[:, 0], np.array(WEST)[:, 1], np.array(given)[:, 0], np.array(given)[:, 1])
    assert shift_m[0] < d.min() <= d.max() < shift_m[1] and np.abs(moved).max() > 0.003
    p = _geojson(tmp_path / f"{crs}.geojson", [({"name": "A"}, given)])
    [(_, poly)] = read_polygons(p, crs)
    got = _vertices(poly)
    # the same vertices converted one point at a time with dispatch_sim.crs, and against the WGS-84 we started from
    one = np.array([[float(v) for v in to_wgs84(x, y, crs)] for x, y in given])
    assert np.allclose(got, one, atol=1e-9)
    assert haversine_m(got[:, 0], got[:, 1], np.array(WEST)[:, 0], np.array(WEST)[:, 1]).max() < 0.5
    [(_, as_is)] = read_polygons(p, "wgs84")  # read as if WGS-84: still ~0.5-1 km off
    assert not np.allclose(_vertices(as_is), WEST, atol=1e-3)


# ------------------------------------------------------------------------------------------ clipping

def test_clipping_keeps_the_largest_connected_part_inside_the_outline(small_world):
    import shapely

    from dispatch_sim.boundaries import clip_graph
    from dispatch_sim.roads import node_arrays

    G = small_world.G
    west = shapely.Polygon(WEST)
    H = clip_graph(G, west, buffer_m=0)
    ids, lon, lat = node_arrays(H)
    assert shapely.contains_xy(west, lon, lat).all()
    assert nx.is_strongly_connected(H) and 0 < H.number_of_nodes() < G.number_of_nodes()
    # a second way: the nodes inside, then networkx's largest strongly connected component of them
    gid, glon, glat = node_arrays(G)
    inside = G.subgraph(gid[shapely.contains_xy(west, glon, glat)].tolist())
    assert set(H.nodes) == max(nx.strongly_connected_components(inside), key=len)
    assert H.graph["dropped_nodes"] >= G.number_of_nodes() - H.number_of_nodes()
    # the margin keeps border roads: with 200 m more nodes, none farther out than the margin
    H2 = clip_graph(G, west, buffer_m=200)
    _, lon2, lat2 = node_arrays(H2)
    assert H2.number_of_nodes() > H.number_of_nodes()
    assert (lon2 <= 120.75 + 200 / (111320 * np.cos(np.radians(30.74))) + 1e-9).all()


def test_an_outline_in_two_pieces_keeps_one_connected_piece(small_world):
    import shapely

    from dispatch_sim.boundaries import clip_graph
    from dispatch_sim.roads import node_arrays

    big = shapely.box(120.70, 30.70, 120.745, 30.78)
    small = shapely.box(120.785, 30.70, 120.80, 30.72)
    H = clip_graph(small_world.G, shapely.union_all([big, small]), buffer_m=0)
    _, lon, lat = node_arrays(H)
    assert shapely.contains_xy(big, lon, lat).all() and not shapely.contains_xy(small, lon, lat).any()


def test_an_outline_that_misses_the_graph_is_one_line(small_world):
    import shapely

    from dispatch_sim.boundaries import clip_graph
    from dispatch_sim.errors import DispatchSimError

    with pytest.raises(DispatchSimError, match="no node inside the district outline"):
        clip_graph(small_world.G, shapely.box(121.4, 31.2, 121.5, 31.3))


# ------------------------------------------------------------------------------------------ townships

def test_township_polygons_set_the_jurisdictions_of_the_nodes_they_cover(small_world, tmp_path):
    import shapely

    from dispatch_sim import World, scenario_from_dict

    # team A's polygon (given in GCJ-02, as Amap exports it) covers the east half, where B's base is; C gets none
    towns = _geojson(tmp_path / "towns.geojson", [({"名称": "A街道"}, _ring_in(EAST, "gcj02")),
                                                  ({"名称": "不存在镇"}, _ring_in(WEST, "gcj02"))])
    d = small_scenario(boundaries={"townships": str(towns), "crs": "gcj02", "name_property": "名称"})
    warnings = []
    w = World(scenario_from_dict(d), G=small_world.G, warn=warnings.append)
    r = w.router
    east = shapely.contains_xy(shapely.Polygon(EAST), r.lon, r.lat)
    assert (w.node_team[east] == 0).all()
    assert np.array_equal(w.node_team[~east], small_world.node_team[~east])  # elsewhere the fastest-base rule
    assert (small_world.node_team[east] != 0).any()  # so the polygon changed something
    assert any("不存在镇" in m and "name no township team" in m for m in warnings)


# ------------------------------------------------------------------------------------------ hostile files

def _bad_files(tmp_path) -> dict:
    line = {"type": "Feature", "properties": {}, "geometry": {"type": "LineString", "coordinates": [[120.7, 30.7], [120.8, 30.8]]}}
    (tmp_path / "line.geojson").write_text(json.dumps(line), encoding="utf-8")
    proj = [(500000 + x * 1e4, 3400000 + y * 1e4) for x, y in [(0, 0), (1, 0), (1, 1), (0, 0)]]
    _geojson(tmp_path / "projected.geojson", [({"name": "A"}, proj)])
    (tmp_path / "garbage.geojson").write_bytes(b"{not json")
    (tmp_path / "bad.shp").write_bytes(b"\x00" * 200)
    return {"missing": ("district", tmp_path / "nope.geojson", "wgs84", "nope.geojson"),
            "not a polygon": ("district", tmp_path / "line.geojson", "wgs84", "expected Polygon or MultiPolygon"),
            "projected": ("townships", tmp_path / "projected.geojson", "wgs84", "not longitude/latitude"),
            "not json": ("district", tmp_path / "garbage.geojson", "wgs84", "not a GeoJSON file of polygons"),
            "damaged shapefile": ("district", tmp_path / "bad.shp", "wgs84", "not a readable Shapefile"),
            "wrong crs name": ("district", None, "gcj-2", "crs")}


@pytest.mark.parametrize("case", ["missing", "not a polygon", "projected", "not json", "damaged shapefile",
                                  "wrong crs name"])
def test_bad_boundary_files_are_one_line_naming_file_and_field(case, tmp_path, capsys):
    from dispatch_sim.cli import run_cli

    key, path, crs, words = _bad_files(tmp_path)[case]
    good = _geojson(tmp_path / "ok.geojson", [({"name": "A"}, WEST)])
    d = small_scenario(boundaries={key: str(path or good), "crs": crs})
    sc = tmp_path / "s.yaml"
    sc.write_text(yaml.safe_dump(d, allow_unicode=True), encoding="utf-8")
    rc = run_cli(["validate", str(sc)])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("warning")]
    assert rc == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert f"boundaries.{key if case != 'wrong crs name' else 'crs'}" in lines[0] and words in lines[0], lines[0]
    assert str(sc.name) in lines[0]
