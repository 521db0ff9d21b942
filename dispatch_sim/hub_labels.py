"""Hub labels: exact node-to-node travel times in about a microsecond.

A dispatch decision asks "how long from where this crew is now to the report" tens of thousands of
times a simulated year, from positions no base matrix covers. Hub labelling answers it exactly
without a search: every node ``v`` keeps an *out* label (hubs it can reach, with travel times) and
an *in* label (hubs that reach it); ``d(x -> r)`` is the minimum of ``out[x][h] + in[r][h]`` over
the hubs the two labels share, and the labels are built so that some shared hub lies on a shortest
path (the *cover property*).

Labels are built by pruned Dijkstra searches (Akiba, Iwata & Yoshida, "Fast exact shortest-path
distance queries on large networks by pruned landmark labeling", SIGMOD 2013), one forward and one
backward per node, in order of importance; a search stops expanding a node whose distance the labels
built so far already answer. Importance is estimated from a sample of shortest-path trees (how many
tree paths run through a node), which keeps road-network labels to a few hundred hubs.

Memory is ``2 × n × label size`` entries per time band, so the router only builds labels for graphs
up to ``settings.router_label_max_nodes`` and uses goal-directed searches above that.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from ._kernels import _heap_pop, _heap_push

if TYPE_CHECKING:  # scipy is imported where labels are built, not where they are read
    from scipy.sparse import csr_matrix


def importance_order(fwd: csr_matrix, samples: int = 64, seed: int = 0) -> np.ndarray:
    """Nodes, most important first: by how many paths of ``samples`` shortest-path trees pass
    through them (a sampled betweenness). Central through-roads come first, dead ends last."""
    from scipy.sparse.csgraph import dijkstra

    n = fwd.shape[0]
    rng = np.random.default_rng(seed)
    sources = rng.choice(n, size=min(samples, n), replace=False)
    score = np.zeros(n)
    for i in range(0, len(sources), 16):
        dist, pred = dijkstra(fwd, indices=sources[i:i + 16], return_predecessors=True)
        for row in range(dist.shape[0]):
            _add_subtree_sizes(dist[row], pred[row], score)
    # ties (unreached leaves) broken by degree, then index: deterministic for a given graph
    degree = np.diff(fwd.indptr)
    return np.lexsort((np.arange(n), -degree, -score)).astype(np.int64)


@njit(cache=True, nogil=True)
def _add_subtree_sizes(dist, pred, score):
    """Add to ``score`` the number of tree nodes below each node (itself included)."""
    order = np.argsort(-dist)  # leaves first; unreachable (inf) nodes come first and are skipped
    size = np.ones(dist.shape[0])
    for i in range(order.shape[0]):
        v = order[i]
        if not np.isfinite(dist[v]):
            continue
        score[v] += size[v]
        p = pred[v]
        if p >= 0:
            size[p] += size[v]


@njit(cache=True, nogil=True)
def _widen(hub, d, cap):
    """Label rows of capacity ``cap`` (a node's label stays contiguous for the pruning scans)."""
    h2 = np.empty((hub.shape[0], cap), np.int32)
    d2 = np.empty((hub.shape[0], cap))
    h2[:, :hub.shape[1]] = hub
    d2[:, :hub.shape[1]] = d
    return h2, d2


@njit(cache=True, nogil=True)
def _pruned_search(indptr, indices, data, root, rank, own_hub, own_d, own_len, hub, d_lab, length,
                   dense, dist, stamp, gen, heap_k, heap_v):
    """One pruned Dijkstra from ``root`` (hub ``rank``). ``own_*`` is the root's label on the other
    side (scattered into ``dense`` so a pruning test costs one pass over a node's label);
    ``hub/d_lab/length`` is the label side this search appends to. Returns that side's arrays,
    widened when a label outgrew them."""
    for i in range(own_len[root]):
        dense[own_hub[root, i]] = own_d[root, i]
    dist[root] = 0.0
    stamp[root] = gen
    heap_k[0] = 0.0
    heap_v[0] = root
    size = 1
    while size > 0:
        d, u, size = _heap_pop(heap_k, heap_v, size)
        if d > dist[u]:
            continue
        # pruned when a hub already known covers root -> u (or u -> root) at least as fast
        pruned = False
        for i in range(length[u]):
            if dense[hub[u, i]] + d_lab[u, i] <= d:
                pruned = True
                break
        if pruned:
            continue
        if length[u] == hub.shape[1]:
            hub, d_lab = _widen(hub, d_lab, 2 * hub.shape[1])
        hub[u, length[u]] = rank
        d_lab[u, length[u]] = d
        length[u] += 1
        for e in range(indptr[u], indptr[u + 1]):
            v = indices[e]
            nd = d + data[e]
            if stamp[v] != gen or nd < dist[v]:
                dist[v] = nd
                stamp[v] = gen
                size = _heap_push(heap_k, heap_v, size, nd, v)
    for i in range(own_len[root]):
        dense[own_hub[root, i]] = np.inf
    return hub, d_lab


@njit(cache=True, nogil=True)
def _build(f_indptr, f_indices, f_data, r_indptr, r_indices, r_data, order):
    n = order.shape[0]
    in_hub = np.empty((n, 64), np.int32)
    in_d = np.empty((n, 64))
    in_len = np.zeros(n, np.int64)
    out_hub = np.empty((n, 64), np.int32)
    out_d = np.empty((n, 64))
    out_len = np.zeros(n, np.int64)
    dense = np.full(n, np.inf)
    dist = np.empty(n)
    stamp = np.zeros(n, np.int64)
    hcap = max(f_indices.shape[0], r_indices.shape[0]) + 2
    heap_k = np.empty(hcap)
    heap_v = np.empty(hcap, np.int64)
    gen = 0
    for k in range(n):
        h = order[k]
        # forward from h: d(h -> v) enters in[v]; pruned by out[h] + in[v]
        gen += 1
        in_hub, in_d = _pruned_search(f_indptr, f_indices, f_data, h, k, out_hub, out_d, out_len,
                                      in_hub, in_d, in_len, dense, dist, stamp, gen, heap_k, heap_v)
        # backward from h: d(v -> h) enters out[v]; pruned by out[v] + in[h]
        gen += 1
        out_hub, out_d = _pruned_search(r_indptr, r_indices, r_data, h, k, in_hub, in_d, in_len,
                                        out_hub, out_d, out_len, dense, dist, stamp, gen, heap_k, heap_v)
    return _to_csr(in_hub, in_d, in_len), _to_csr(out_hub, out_d, out_len)


@njit(cache=True, nogil=True)
def _to_csr(hub, d, length):
    """Label rows to CSR; each node's hubs are already in increasing rank (appended in order)."""
    n = length.shape[0]
    ptr = np.zeros(n + 1, np.int64)
    for v in range(n):
        ptr[v + 1] = ptr[v] + length[v]
    out_hub = np.empty(ptr[n], np.int32)
    out_d = np.empty(ptr[n])
    for v in range(n):
        out_hub[ptr[v]:ptr[v + 1]] = hub[v, :length[v]]
        out_d[ptr[v]:ptr[v + 1]] = d[v, :length[v]]
    return ptr, out_hub, out_d


def build_labels(fwd: csr_matrix, rev: csr_matrix, order: np.ndarray):
    """In and out labels of every node, as CSR triples ``(ptr, hub_rank, seconds)``, for one band."""
    return _build(fwd.indptr.astype(np.int64), fwd.indices.astype(np.int64), fwd.data.astype(float),
                  rev.indptr.astype(np.int64), rev.indices.astype(np.int64), rev.data.astype(float),
                  np.ascontiguousarray(order, dtype=np.int64))


def build_band_labels(fwd: list[csr_matrix], rev: list[csr_matrix], alias: list[int] | None = None):
    """Labels of every time band in three arrays: ``ptr[side, band, node]`` (side 0 = in, 1 = out)
    indexes ``hub`` (hub rank, int32) and ``seconds``. One importance order serves every band: the
    bands scale speeds by road class, so the same roads stay the through-roads. ``alias[b]`` names the
    first band whose graph is identical to band ``b``'s (:attr:`~dispatch_sim.bandgraph.BandGraphs.alias`:
    a morning and an evening peak with the same factors); such a band shares that band's labels, its
    pointers indexing the same entries, so no label is stored twice."""
    n = fwd[0].shape[0]
    order = importance_order(fwd[0])
    ptr = np.zeros((2, len(fwd), n + 1), np.int64)
    hubs, secs = [], []
    offset = 0
    for b in range(len(fwd)):
        if alias is not None and alias[b] != b:
            ptr[:, b] = ptr[:, alias[b]]
            continue
        for side, (p, h, s_) in enumerate(build_labels(fwd[b], rev[b], order)):
            ptr[side, b] = p + offset
            offset += len(h)
            hubs.append(h)
            secs.append(s_)
    return ptr, np.concatenate(hubs), np.concatenate(secs)


@njit(cache=True, nogil=True, inline="always")
def label_distance(out_ptr, in_ptr, hub, sec, x, r):
    """Exact travel time ``x -> r`` (inf when unreachable): a merge of ``x``'s out label and ``r``'s
    in label, both sorted by hub rank. ``out_ptr``/``in_ptr`` are one band's rows of the pointers."""
    i, iend = out_ptr[x], out_ptr[x + 1]
    j, jend = in_ptr[r], in_ptr[r + 1]
    best = np.inf
    while i < iend and j < jend:
        a = hub[i]
        b = hub[j]
        if a == b:
            e = sec[i] + sec[j]
            if e < best:
                best = e
            i += 1
            j += 1
        elif a < b:
            i += 1
        else:
            j += 1
    return best


@njit(cache=True, nogil=True)
def fastest_by_labels(out_ptr, in_ptr, hub, sec, report, xs, offs, best_eta):
    """The crew on the road that reaches ``report`` first, if any beats ``best_eta``: crew ``j`` is
    at node ``xs[j]`` after ``offs[j]`` seconds. Returns ``(j, eta)`` or ``(-1, best_eta)``."""
    jbest = -1
    for j in range(xs.shape[0]):
        e = offs[j] + label_distance(out_ptr, in_ptr, hub, sec, xs[j], report)
        if e < best_eta:
            jbest = j
            best_eta = e
    return jbest, best_eta
