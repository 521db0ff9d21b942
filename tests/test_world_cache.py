"""The binary World cache: a warm start gives what a cold one gives, byte for byte; a damaged or
stale cache is rebuilt; the key follows the inputs that shape the network; graph sources register."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from dispatch_sim import World, scenario_from_dict, settings
from dispatch_sim.cli import run_cli
from dispatch_sim.network import RoadNetwork
from dispatch_sim.roads import GRAPH_SOURCE_REGISTRY, GraphSource, GraphSpec, load_network, register_graph_source, save_graph
from dispatch_sim.speeds import SpeedSettings

from .conftest import small_scenario


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    """An empty cache folder for this test only (cold start guaranteed)."""
    cache = tmp_path / "cache"
    monkeypatch.setattr(settings, "cache_folder", cache)
    monkeypatch.setenv("DISPATCH_SIM_CACHE", str(cache))
    return cache


def _outputs(folder):
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    summary.pop("run_date", None)  # provenance: the wall-clock time of the run
    return (folder / "incidents.csv").read_bytes(), json.dumps(summary, sort_keys=True)


def test_warm_start_gives_byte_identical_outputs(own_cache, tmp_path):
    data = small_scenario(run={"horizon_days": 2, "warmup_days": 0.25, "replications": 2, "seed": 11},
                          dispatch={"policy": "home_then_mutual_aid"})
    sc = tmp_path / "small.yaml"
    sc.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert run_cli(["-q", "run", str(sc), "--out", str(tmp_path / "cold")]) == 0
    networks = list((own_cache / "networks").iterdir())
    tables = list((own_cache / "router").iterdir())
    assert len(networks) == 1 and len(tables) == 1  # the cold start wrote the caches ...
    stamps = [p.stat().st_mtime_ns for d in networks + tables for p in d.iterdir()]
    assert run_cli(["-q", "run", str(sc), "--out", str(tmp_path / "warm")]) == 0
    assert list((own_cache / "networks").iterdir()) == networks  # ... the warm start only read them
    assert [p.stat().st_mtime_ns for d in networks + tables for p in d.iterdir()] == stamps
    assert _outputs(tmp_path / "cold") == _outputs(tmp_path / "warm")
    assert (tmp_path / "cold" / "cells.geojson").read_bytes() == (tmp_path / "warm" / "cells.geojson").read_bytes()


def test_warm_world_equals_cold_world(own_cache):
    sc = scenario_from_dict(small_scenario())
    cold = World(sc)
    warm = World(sc)
    assert cold.network.graph() is not None and warm.network._G is None  # warm: no networkx graph built
    for name in ("node_ids", "lon", "lat", "eu", "ev", "ekey", "travel_time", "length"):
        assert np.array_equal(getattr(cold.network, name), getattr(warm.network, name)), name
    assert warm.router.matrices_from_cache
    assert cold.base_nodes == warm.base_nodes and np.array_equal(cold.node_team, warm.node_team)
    a, b = cold.simulate(0), warm.simulate(0)
    assert np.array_equal(a.crew, b.crew) and np.array_equal(a.cleared_min, b.cleared_min, equal_nan=True)


def _same_graph(G, H):
    assert list(G.nodes(data=True)) == list(H.nodes(data=True))
    assert list(G.edges(keys=True, data=True)) == list(H.edges(keys=True, data=True))
    assert all(list(G.pred[v]) == list(H.pred[v]) for v in G.nodes)  # predecessor order too
    assert G.graph == H.graph


def test_rebuilt_graph_equals_the_original_real_osm(helsinki_graph, tmp_path):
    net = RoadNetwork.from_graph(helsinki_graph)
    net.save(tmp_path / "net")
    back = RoadNetwork.load(tmp_path / "net")
    H = back.graph()
    _same_graph(helsinki_graph, H)
    geoms = [d["geometry"] for _, _, d in H.edges(data=True) if "geometry" in d]
    assert geoms and geoms[0].geom_type == "LineString"  # real OSM edges keep their shapes
    assert back.info == net.info


def _spec(tmp_path, helsinki_graph):
    path = tmp_path / "roads.graphml"
    if not path.exists():
        save_graph(helsinki_graph, path)
    return GraphSpec(source="graphml", graphml=str(path))


def test_damaged_network_cache_is_rebuilt(own_cache, tmp_path, helsinki_graph):
    spec = _spec(tmp_path, helsinki_graph)
    first = load_network(spec)
    (entry,) = (own_cache / "networks").iterdir()
    np.save(entry / "eu.npy", np.zeros(3, dtype=np.int64))  # wrong length, as if half written by another version
    again = load_network(spec)
    assert np.array_equal(first.eu, again.eu) and again._G is not None  # rebuilt from the source
    (entry / "attrs.json").write_text("{not json", encoding="utf-8")
    assert load_network(spec).graph().number_of_edges() == helsinki_graph.number_of_edges()
    good = load_network(spec)  # rewritten, good again: memory-mapped, no graph built
    assert good._G is None and not good.eu.flags.writeable


def test_stale_cache_is_not_used_when_the_source_changes(own_cache, tmp_path, helsinki_graph):
    spec = _spec(tmp_path, helsinki_graph)
    a = load_network(spec)
    G = helsinki_graph.copy()
    G.remove_node(next(iter(G.nodes)))
    save_graph(G, spec.graphml)  # the GraphML changes: size and time differ
    b = load_network(spec)
    assert b.n < a.n
    assert len(list((own_cache / "networks").iterdir())) == 2


def test_key_follows_the_speeds(own_cache, tmp_path, helsinki_graph):
    spec = _spec(tmp_path, helsinki_graph)
    from dispatch_sim.speeds import RURAL_KPH, URBAN_KPH

    slow = SpeedSettings(urban_kph={k: v * 0.5 for k, v in URBAN_KPH.items()},
                         rural_kph={k: v * 0.5 for k, v in RURAL_KPH.items()})
    a, b = load_network(spec), load_network(spec, speeds=slow)
    assert len(list((own_cache / "networks").iterdir())) == 2
    assert not np.array_equal(a.travel_time, b.travel_time)


def test_a_registered_graph_source_is_used_and_cached(own_cache, helsinki_graph):
    calls = []

    def load(spec, ctx, **_):
        calls.append(spec.place)
        return helsinki_graph.copy()

    register_graph_source(GraphSource("unit-test", load, lambda spec, ctx, **_: ["unit-test", spec.place]))
    try:
        spec = GraphSpec(source="unit-test", place="x")
        a = load_network(spec)
        b = load_network(spec)
        assert calls == ["x"]  # the second load came from the cache
        assert a.n == b.n == helsinki_graph.number_of_nodes()
    finally:
        GRAPH_SOURCE_REGISTRY.pop("unit-test")


def test_damaged_graph_attributes_are_rebuilt_from_the_source(own_cache, tmp_path, helsinki_graph):
    spec = _spec(tmp_path, helsinki_graph)
    load_network(spec)
    (entry,) = (own_cache / "networks").iterdir()
    raw = bytearray((entry / "attrs.json").read_bytes())
    raw[len(raw) // 2] ^= 0x01  # one flipped bit, same size: only the checksum notices
    (entry / "attrs.json").write_bytes(bytes(raw))
    net = load_network(spec)
    assert net._G is None  # the arrays are fine and load at once
    _same_graph(load_network(spec, use_disk_cache=False).graph(), net.graph())  # from the source, not the damaged file
    assert load_network(spec).graph().number_of_edges() == helsinki_graph.number_of_edges()  # entry rewritten
