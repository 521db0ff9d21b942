"""Compiled search kernel for dispatch decisions (numba).

SciPy's Dijkstra always fills an n-sized result and cannot stop when the few nodes we care about
are settled. A dispatch decision needs exactly that: the travel time from a handful of crew
positions to one report, and only if it beats the best ETA found so far. :func:`targeted_astar`
searches the reversed CSR graph from the report, goal-directed by landmark (ALT) bounds, and stops
as soon as every candidate is settled or no unsettled candidate can still win;
:func:`fastest_away_crew` wraps the bound checks of a whole decision around it, and
:func:`walk_to_base` finds where a returning crew is. Scratch arrays are reused between calls
(generation stamps), so a call costs only what it explores.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _heap_pop(heap_k, heap_v, size):
    """Pop the smallest key of a binary min-heap held in two arrays; returns (key, value, new size)."""
    key = heap_k[0]
    val = heap_v[0]
    size -= 1
    if size > 0:
        k = heap_k[size]
        v = heap_v[size]
        i = 0
        while True:
            c = 2 * i + 1
            if c >= size:
                break
            if c + 1 < size and heap_k[c + 1] < heap_k[c]:
                c += 1
            if heap_k[c] < k:
                heap_k[i] = heap_k[c]
                heap_v[i] = heap_v[c]
                i = c
            else:
                break
        heap_k[i] = k
        heap_v[i] = v
    return key, val, size


@njit(cache=True, nogil=True, inline="always")
def _heap_push(heap_k, heap_v, size, key, val):
    """Push (key, value) onto the heap; returns the new size."""
    i = size
    while i > 0:
        parent = (i - 1) // 2
        if heap_k[parent] > key:
            heap_k[i] = heap_k[parent]
            heap_v[i] = heap_v[parent]
            i = parent
        else:
            break
    heap_k[i] = key
    heap_v[i] = val
    return size + 1


@njit(cache=True, nogil=True, inline="always")
def _alt_bound(from_l_v, from_l_x, to_l_x, to_l_v):
    """ALT lower bound on d(x -> v) from landmark distances (triangle inequality both ways):
    d(L->v) - d(L->x) and d(x->L) - d(v->L), over every landmark L; at least 0."""
    lb = 0.0
    for k in range(from_l_v.shape[0]):
        a = from_l_v[k] - from_l_x[k]
        if a > lb:
            lb = a
        b = to_l_x[k] - to_l_v[k]
        if b > lb:
            lb = b
    return lb


@njit(cache=True, nogil=True, inline="always")
def _h(v, nt, offsets, fbx, tbx, fb, tb):
    """Lower bound on min_j offsets[j] + d(targets[j] -> v) from landmark distances."""
    best = np.inf
    for j in range(nt):
        e = offsets[j] + _alt_bound(fb[v], fbx[j], tbx[j], tb[v])
        if e < best:
            best = e
    return best


@njit(cache=True, nogil=True)
def targeted_astar(indptr, indices, data, source, targets, offsets, bound, best_only, fb, tb,
                   dist, stamp, settled, is_target, gen, heap_k, heap_v):
    """Exact travel times ``offsets[j] + d(targets[j] -> source)`` for candidates that come in under
    ``bound`` (others get inf); ``indptr/indices/data`` is the *reversed* graph. With ``best_only``
    the bound tightens to the best found so far: the winner is exact, losers may be inf.

    Goal-directed: A* towards the candidates with ALT lower bounds (``fb``/``tb``: travel times
    from/to each landmark, shape (n, landmarks)). The bounds are consistent, so every settled node
    has its exact distance. With zero landmarks the bound is the smallest offset and this is plain
    Dijkstra with early stopping. ``gen`` must be a fresh generation number (> every value in
    ``stamp``/``settled``/``is_target``).
    """
    nt = targets.shape[0]
    nb = fb.shape[1]
    out = np.full(nt, np.inf)
    fbx = np.empty((nt, nb))
    tbx = np.empty((nt, nb))
    for j in range(nt):
        for k in range(nb):
            fbx[j, k] = fb[targets[j], k]
            tbx[j, k] = tb[targets[j], k]
    remaining = 0
    for j in range(nt):
        t = targets[j]
        if is_target[t] != gen:
            is_target[t] = gen
            remaining += 1
    best = bound
    dist[source] = 0.0
    stamp[source] = gen
    heap_k[0] = _h(source, nt, offsets, fbx, tbx, fb, tb)
    heap_v[0] = source
    size = 1
    while size > 0:
        f, u, size = _heap_pop(heap_k, heap_v, size)
        if settled[u] == gen:
            continue
        settled[u] = gen
        if f >= best:
            break
        d = dist[u]
        if is_target[u] == gen:
            for j in range(nt):
                if targets[j] == u:
                    e = offsets[j] + d
                    if e < bound:
                        out[j] = e
                    if best_only and e < best:
                        best = e
            remaining -= 1
            if remaining == 0:
                break
        for p in range(indptr[u], indptr[u + 1]):
            v = indices[p]
            if settled[v] == gen:
                continue
            nd = d + data[p]
            if stamp[v] != gen or nd < dist[v]:
                fv = nd + _h(v, nt, offsets, fbx, tbx, fb, tb)
                if fv >= best:
                    continue
                dist[v] = nd
                stamp[v] = gen
                size = _heap_push(heap_k, heap_v, size, fv, v)
    return out


@njit(cache=True, nogil=True)
def walk_to_base(next_hop, to_base, cur, remaining_s):
    """Follow next hops toward the base from ``cur`` to the first node whose travel time to the base
    is at most ``remaining_s``: where a returning crew is next, without building its whole route."""
    while to_base[cur] > remaining_s:
        nxt = next_hop[cur]
        if nxt < 0:
            break
        cur = nxt
    return cur


@njit(cache=True, nogil=True)
def fastest_away_crew(indptr, indices, data, report, xs, offs, base_i, fb, tb, lm_from, lm_to, best_eta,
                      dist, stamp, settled, is_target, gen, heap_k, heap_v):
    """The fastest of the crews on the road to ``report``, if any beats ``best_eta``.

    Crew ``j`` reaches node ``xs[j]`` after ``offs[j]`` seconds, on its way to base ``base_i[j]``.
    Base-landmark bounds first: an upper bound (carry on to base, drive out again) tightens the
    search bound, a lower bound drops crews that cannot win; only if some remain does one A*
    search run. Returns ``(j, eta)``, or ``(-1, best_eta)`` when no crew on the road is faster.
    """
    nc = xs.shape[0]
    bound = best_eta
    keep = np.zeros(nc, dtype=np.bool_)
    nkeep = 0
    for j in range(nc):
        x = xs[j]
        ub = offs[j] + tb[base_i[j], x] + fb[base_i[j], report]
        # bases and the peripheral landmarks (which bound directions the central bases cannot)
        lb = max(_alt_bound(fb[:, report], fb[:, x], tb[:, x], tb[:, report]),
                 _alt_bound(lm_from[report], lm_from[x], lm_to[x], lm_to[report]))
        if offs[j] + lb < best_eta:
            keep[j] = True
            nkeep += 1
            if ub * (1 + 1e-12) + 1e-9 < bound:
                bound = ub * (1 + 1e-12) + 1e-9
    if nkeep == 0:
        return -1, best_eta, False
    cand = np.empty(nkeep, dtype=np.int64)
    cx = np.empty(nkeep, dtype=np.int64)
    co = np.empty(nkeep)
    i = 0
    for j in range(nc):
        if keep[j]:
            cand[i] = j
            cx[i] = xs[j]
            co[i] = offs[j]
            i += 1
    etas = targeted_astar(indptr, indices, data, report, cx, co, bound, True, lm_from, lm_to,
                          dist, stamp, settled, is_target, gen, heap_k, heap_v)
    jbest = -1
    eta_best = best_eta
    for i in range(nkeep):
        if etas[i] < eta_best:
            jbest = cand[i]
            eta_best = etas[i]
    return jbest, eta_best, True
