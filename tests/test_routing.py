"""The fast router gives exactly networkx's answers (1e-6 s), on real OSM and on stand-ins."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from dispatch_sim.roads import prepare_graph
from dispatch_sim.routing import ReferenceRouter, Router
from dispatch_sim.speeds import BandTable, TimeBand
from dispatch_sim.standin import generate_standin

BANDS = BandTable([TimeBand("am", 420, 540, {"primary": 0.6, "default": 0.8}, weekdays_only=True)])


def _pairs(G, k, seed=0):
    rng = np.random.default_rng(seed)
    nodes = list(G.nodes)
    return [(nodes[a], nodes[b]) for a, b in rng.integers(0, len(nodes), (k, 2))]


def _standin_with_quirks():
    """A stand-in with one-way streets, a parallel edge and a node no one can leave (unreachable pairs)."""
    G = generate_standin((120.70, 30.70, 120.76, 30.75), [(120.72, 30.72)], target_nodes=600, seed=9)
    G = prepare_graph(G)
    u, v, d = next(iter(G.edges(data=True)))
    G.add_edge(u, v, **{**d, "travel_time": d["travel_time"] * 0.5})  # faster parallel edge
    G.add_edge(u, v, **{**d, "travel_time": d["travel_time"] * 3.0})  # slower one
    G.add_node(-1, x=120.7, y=30.7)
    G.add_edge(next(iter(G.nodes)), -1, length=10.0, travel_time=1.0, road_class="residential")  # sink
    return G, (u, v)


@pytest.mark.parametrize("band", [0, 1])
def test_matches_networkx_on_real_osm(helsinki_graph, band):
    R = Router(helsinki_graph, BANDS, use_disk_cache=False)
    ref = ReferenceRouter(helsinki_graph, BANDS)
    for s, t in _pairs(helsinki_graph, 60, seed=band):
        assert R.travel_time(s, t, band) == pytest.approx(ref.travel_time(s, t, band), abs=1e-6)


def test_matches_networkx_with_oneways_parallel_edges_and_unreachable_pairs():
    G, (u, v) = _standin_with_quirks()
    R = Router(G, BANDS, use_disk_cache=False)
    ref = ReferenceRouter(G, BANDS)
    assert any(d.get("oneway") for *_, d in G.edges(data=True))
    assert R.travel_time(u, v) == pytest.approx(min(d["travel_time"] for d in G[u][v].values()), abs=1e-9)
    assert math.isinf(R.travel_time(-1, u)) and math.isinf(ref.travel_time(-1, u))
    for s, t in _pairs(G, 80):
        a, b = R.travel_time(s, t, 1), ref.travel_time(s, t, 1)
        assert (math.isinf(a) and math.isinf(b)) or a == pytest.approx(b, abs=1e-6)
    s = next(iter(G.nodes))
    full = ref.travel_times_from(s, 0)
    mine = R.travel_times_from(s, 0)
    assert full.keys() == mine.keys()
    assert max(abs(full[k] - mine[k]) for k in full) < 1e-6


def test_collapses_parallel_edges_to_minimum_not_sum():
    G, (u, v) = _standin_with_quirks()
    naive = nx.to_scipy_sparse_array(G, weight="travel_time", nodelist=list(G.nodes))
    R = Router(G, use_disk_cache=False)
    i, j = R.index[u], R.index[v]
    assert R.fwd[0][i, j] == pytest.approx(min(d["travel_time"] for d in G[u][v].values()))
    assert naive[i, j] > R.fwd[0][i, j]  # what the shortcut would have done


def test_base_matrices_and_bounded_etas_are_exact(helsinki_graph):
    nodes = list(helsinki_graph.nodes)
    bases = nodes[:3]
    R = Router(helsinki_graph, BANDS, bases, use_disk_cache=False)
    ref = ReferenceRouter(helsinki_graph, BANDS)
    for b, base in enumerate(bases):
        d = ref.travel_times_from(base, 0)
        for n in nodes[::7]:
            assert R.from_base[0, b, R.index[n]] == pytest.approx(d[n], abs=1e-6)
            assert R.to_base[0, b, R.index[n]] == pytest.approx(ref.travel_time(n, base, 0), abs=1e-6)
    target = R.index[nodes[40]]
    srcs = np.array([R.index[n] for n in nodes[50:60]])
    offs = np.linspace(0, 30, len(srcs))
    exact = offs + np.array([ref.travel_time(nodes[50 + k], nodes[40], 0) for k in range(len(srcs))])
    got = R.etas_bounded(0, target, srcs, offs, np.inf)
    assert np.allclose(got, exact, atol=1e-6)
    bound = float(np.median(exact))
    got_b = R.etas_bounded(0, target, srcs, offs, bound)
    assert np.isinf(got_b[exact >= bound]).all()
    assert np.allclose(got_b[exact < bound], exact[exact < bound], atol=1e-6)  # all under the bound are exact
    best = R.etas_bounded(0, target, srcs, offs, np.inf, best_only=True)
    assert best.min() == pytest.approx(exact.min(), abs=1e-6) and int(np.argmin(best)) == int(np.argmin(exact))
    assert np.all(np.isinf(best) | np.isclose(best, exact, atol=1e-6))


def test_routes_and_paths_to_base(helsinki_graph):
    nodes = list(helsinki_graph.nodes)
    R = Router(helsinki_graph, BANDS, [nodes[0]], use_disk_cache=False)
    ref = ReferenceRouter(helsinki_graph, BANDS)
    s, t = nodes[10], nodes[100]
    path = R.route(s, t)
    assert path[0] == s and path[-1] == t
    cost = sum(min(d["travel_time"] for d in helsinki_graph[a][b].values()) for a, b in zip(path, path[1:]))
    assert cost == pytest.approx(ref.travel_time(s, t), abs=1e-6)
    back = R.path_to_base(0, 0, R.index[t])
    assert back[-1] == R.index[nodes[0]]


def test_matrices_are_cached_on_disk_and_reused(helsinki_graph, tmp_path):
    bases = list(helsinki_graph.nodes)[:2]
    R1 = Router(helsinki_graph, BANDS, bases, cache_dir=tmp_path)
    assert not R1.matrices_from_cache and R1.cache_file.exists()
    R2 = Router(helsinki_graph, BANDS, bases, cache_dir=tmp_path)
    assert R2.matrices_from_cache and np.array_equal(R1.from_base, R2.from_base)
    R3 = Router(helsinki_graph, BandTable(), bases, cache_dir=tmp_path)  # other speed settings, other key
    assert R3.cache_key != R1.cache_key


def test_peak_band_is_slower_and_applies_on_weekday_mornings(helsinki_graph):
    R = Router(helsinki_graph, BANDS, use_disk_cache=False)
    assert R.band_at(8 * 60) == 1 and R.band_at(12 * 60) == 0 and R.band_at(5 * 1440 + 8 * 60) == 0  # Saturday
    s, t = _pairs(helsinki_graph, 1, seed=4)[0]
    assert R.travel_time(s, t, 1) >= R.travel_time(s, t, 0)


def test_reachable_within(helsinki_graph):
    R = Router(helsinki_graph, use_disk_cache=False)
    s = list(helsinki_graph.nodes)[0]
    within = R.reachable_within(s, 60.0)
    d = ReferenceRouter(helsinki_graph).travel_times_from(s, 0)
    assert set(R.node_ids[within].tolist()) == {n for n, v in d.items() if v <= 60.0}


def test_goal_directed_search_equals_plain_dijkstra_on_district_standin():
    """The A* kernel (ALT landmarks) must give the same ETAs as the plain search without landmarks,
    bounded or not."""
    G = prepare_graph(generate_standin((120.70, 30.70, 120.80, 30.78), [(120.72, 30.72), (120.78, 30.76), (120.74, 30.77)],
                                       target_nodes=1500, seed=4))
    R = Router(G, BANDS, G.graph["anchor_nodes"], use_disk_cache=False)
    rng = np.random.default_rng(1)
    for _ in range(200):
        target = int(rng.integers(R.n))
        srcs = rng.integers(0, R.n, int(rng.integers(1, 6)))
        offs = rng.uniform(0, 60, len(srcs))
        bound = float(rng.choice([np.inf, rng.uniform(60, 900)]))
        band = int(rng.integers(2))
        best_only = bool(rng.integers(2))
        R.use_landmarks = True
        a = R.etas_bounded(band, target, srcs, offs, bound, best_only)
        R.use_landmarks = False
        b = R.etas_bounded(band, target, srcs, offs, bound, best_only)
        if best_only:
            assert np.min(a) == pytest.approx(np.min(b), abs=1e-6) or (np.isinf(a).all() and np.isinf(b).all())
        else:
            assert np.allclose(a, b, atol=1e-6) and (np.isinf(a) == np.isinf(b)).all()


def test_damaged_matrix_cache_is_recomputed_not_trusted(helsinki_graph, tmp_path):
    bases = list(helsinki_graph.nodes)[:2]
    R1 = Router(helsinki_graph, BANDS, bases, cache_dir=tmp_path)
    np.save(R1.cache_file / "to_base.npy", np.zeros((1, 1, 3)))  # wrong shape, as if another version wrote it
    R2 = Router(helsinki_graph, BANDS, bases, cache_dir=tmp_path)
    assert not R2.matrices_from_cache and np.array_equal(R1.to_base, R2.to_base)
    R3 = Router(helsinki_graph, BANDS, bases, cache_dir=tmp_path)  # rewritten, good again
    assert R3.matrices_from_cache and not R3.from_base.flags.writeable  # memory-mapped, shared read-only


def test_single_route_query_equals_the_router_and_networkx(helsinki_graph):
    """``dispatch-sim route`` prices one query without the router's tables: same time, a valid path."""
    from dispatch_sim.bandgraph import BandGraphs
    from dispatch_sim.network import RoadNetwork

    net = RoadNetwork.from_graph(helsinki_graph)
    graphs = BandGraphs(net, BANDS)
    ref = ReferenceRouter(helsinki_graph, BANDS)
    index = {int(v): i for i, v in enumerate(net.node_ids.tolist())}
    for band in range(len(BANDS.bands)):
        for a, b in _pairs(helsinki_graph, 15, seed=band):
            secs, path = graphs.shortest_route(index[a], index[b], band)
            want = ref.travel_time(a, b, band)
            assert secs == pytest.approx(want, abs=1e-6)
            assert path[0] == index[a] and path[-1] == index[b]
            m = graphs.fwd[band]  # the path's own time, edge by edge, is the time reported
            along = sum(m[u, v] for u, v in zip(path[:-1], path[1:]))
            assert along == pytest.approx(secs, abs=1e-9)
