"""The router's precomputed tables: base matrices, landmark distances and hub labels, and their disk cache.

What is precomputed, per time band:

- travel times from every base to every node and from every node to every base, with the next hop
  toward the base (return trips): one ``scipy.sparse.csgraph.dijkstra`` call per direction;
- times from and to a few landmarks spread to the edge of the graph (farthest-point sampling), for
  the lower bounds of goal-directed (ALT) searches;
- hub labels (:mod:`dispatch_sim.hub_labels`) for exact node-to-node times, on graphs up to
  ``settings.router_label_max_nodes``.

Trade-offs
----------
The tables cost seconds to compute (labels about 1.5 s per band on 20k nodes) and tens to hundreds
of MB, so they are cached on disk as ``.npy`` files in one folder per key, written atomically and
memory-mapped on load: processes on one machine share one copy in the page cache. The key hashes the
edge arrays, node ids, time bands, bases, landmarks and :data:`TABLES_VERSION`, i.e. everything that
shapes the tables; a table of the wrong shape is recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from . import settings
from .geodesy import local_xy

log = logging.getLogger("dispatch_sim")
INF = np.inf

#: Layout version of the cached tables; part of the cache key.
TABLES_VERSION = 3
MATRICES = ("from_base", "to_base", "next_to_base", "lm_from", "lm_to")
LABELS = ("label_ptr", "label_hub", "label_s")


def choose_landmarks(lon: np.ndarray, lat: np.ndarray, k: int) -> np.ndarray:
    """Farthest-point sample of ``k`` nodes in the plane, starting from the node farthest from the
    centre: landmarks on the edge of the graph give the tightest ALT bounds (Goldberg & Harrelson).

    Parameters
    ----------
    lon, lat
        Node coordinates in degrees.
    k
        Number of landmarks (fewer when the graph has fewer distinct points).

    Returns
    -------
    numpy.ndarray
        Node indices (int64).
    """
    n = len(lon)
    if k <= 0 or n == 0:
        return np.zeros(0, dtype=np.int64)
    lat0 = float(lat.mean())
    x, y = local_xy(lon, lat, lat0)
    d = np.hypot(x - x.mean(), y - y.mean())
    chosen = [int(np.argmax(d))]
    d = np.hypot(x - x[chosen[0]], y - y[chosen[0]])
    for _ in range(min(k, n) - 1):
        nxt = int(np.argmax(d))
        if d[nxt] <= 0:
            break
        chosen.append(nxt)
        d = np.minimum(d, np.hypot(x - x[nxt], y - y[nxt]))
    return np.asarray(chosen, dtype=np.int64)


def tables_key(edges: tuple, node_ids: np.ndarray, bands_key: str, base_nodes, landmarks: np.ndarray,
               use_labels: bool) -> str:
    """Hash of everything that shapes the tables (20 hex digits)."""
    h = hashlib.sha1()
    for a in edges:
        h.update(np.ascontiguousarray(a).tobytes())
    h.update(np.ascontiguousarray(node_ids).tobytes())
    h.update(bands_key.encode())
    h.update(np.asarray(base_nodes, dtype=np.int64).tobytes())
    h.update(landmarks.tobytes())
    h.update(f"router-tables-v{TABLES_VERSION}".encode())
    if use_labels:
        h.update(b"hub-labels-v3")  # v3: identical bands share their labels
    return h.hexdigest()[:20]


def compute_tables(fwd: list, rev: list, base_idx: np.ndarray, landmarks: np.ndarray, use_labels: bool,
                   alias: list[int] | None = None) -> dict:
    """Base matrices, landmark distances and (optionally) hub labels of every band.

    Returns
    -------
    dict
        ``from_base``/``to_base`` ``[band, base, node]`` seconds, ``next_to_base`` the next hop
        (int32, -1 none), ``lm_from``/``lm_to`` ``[band, node, landmark]`` (the bases serve as
        landmarks when there are none), and ``label_ptr``/``label_hub``/``label_s`` or None. A band
        with an ``alias`` (:attr:`~dispatch_sim.bandgraph.BandGraphs.alias`) gets its tables copied
        and its labels shared, not computed again.
    """
    from scipy.sparse.csgraph import dijkstra

    nbands, nb = len(fwd), len(base_idx)
    n = fwd[0].shape[0] if fwd else 0
    out: dict[str, Any] = {"from_base": np.full((nbands, nb, n), INF), "to_base": np.full((nbands, nb, n), INF),
           "next_to_base": np.full((nbands, nb, n), -1, dtype=np.int32)}
    alias = alias or list(range(nbands))
    for b in range(nbands):
        if alias[b] != b:  # the same graph as an earlier band: the same tables
            for name in ("from_base", "to_base", "next_to_base"):
                out[name][b] = out[name][alias[b]]
            continue
        if nb:
            out["from_base"][b] = dijkstra(fwd[b], indices=base_idx)
            d, pred = dijkstra(rev[b], indices=base_idx, return_predecessors=True)
            out["to_base"][b] = d
            out["next_to_base"][b] = pred  # on the reversed graph the predecessor is the next hop
    # landmark distances, node-major (n, landmarks) so one node's bounds sit in one cache line
    nl = len(landmarks)
    out["lm_from"] = np.empty((nbands, n, nl if nl else nb))
    out["lm_to"] = np.empty((nbands, n, nl if nl else nb))
    for b in range(nbands):
        if alias[b] != b:
            out["lm_from"][b], out["lm_to"][b] = out["lm_from"][alias[b]], out["lm_to"][alias[b]]
        elif nl:
            out["lm_from"][b] = dijkstra(fwd[b], indices=landmarks).T
            out["lm_to"][b] = dijkstra(rev[b], indices=landmarks).T
        else:
            out["lm_from"][b] = out["from_base"][b].T
            out["lm_to"][b] = out["to_base"][b].T
    out["label_ptr"] = out["label_hub"] = out["label_s"] = None
    if use_labels:
        from .hub_labels import build_band_labels

        out["label_ptr"], out["label_hub"], out["label_s"] = build_band_labels(fwd, rev, alias)
    return out


def load_tables(folder: Path, nbands: int, nb: int, n: int, nl: int, use_labels: bool) -> dict:
    """Memory-map cached tables, checking every shape. Raises on anything unexpected."""
    nl = nl or nb
    shapes = {"from_base": (nbands, nb, n), "to_base": (nbands, nb, n), "next_to_base": (nbands, nb, n),
              "lm_from": (nbands, n, nl), "lm_to": (nbands, n, nl)}
    out: dict[str, np.ndarray | None] = {}
    for name in MATRICES:
        arr = np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False)
        if arr.shape != shapes[name]:
            raise ValueError(f"{name} has shape {arr.shape}, expected {shapes[name]}")
        out[name] = np.asarray(arr)  # a plain read-only ndarray view for numba
    out["label_ptr"] = out["label_hub"] = out["label_s"] = None
    if use_labels:
        ptr, hub, sec = (np.asarray(np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False))
                         for name in LABELS)
        if ptr.shape != (2, nbands, n + 1) or hub.shape != sec.shape or hub.shape != (ptr.max(),):
            raise ValueError("hub labels do not match the graph")
        out["label_ptr"], out["label_hub"], out["label_s"] = ptr, hub, sec
    return out


def save_tables(folder: Path, tables: dict) -> None:
    """Write the tables as .npy files in a folder, renamed into place once complete (an unwritable
    cache folder is logged, not fatal: the cache is an optimisation)."""
    from .io import atomic_dir  # readable by others (umask modes), removed if incomplete

    try:
        with atomic_dir(folder) as tmp:
            for name in MATRICES:
                np.save(tmp / f"{name}.npy", tables[name])
            for name in LABELS if tables["label_ptr"] is not None else ():
                np.save(tmp / f"{name}.npy", tables[name])
    except OSError as exc:
        log.info("router cache not written (%s)", exc)


def cached_tables(folder: Path, graphs, base_idx: np.ndarray, landmarks: np.ndarray,
                  use_labels: bool, use_disk_cache: bool) -> tuple[dict, bool]:
    """The tables from ``folder`` when it holds good ones, else computed from ``graphs`` (a
    :class:`~dispatch_sim.bandgraph.BandGraphs`, whose matrices are only built then) and saved when
    allowed.

    Returns
    -------
    tuple
        ``(tables, from_cache)``.
    """
    nb = len(base_idx)
    n = graphs.net.n
    if use_disk_cache and nb and folder.exists():
        try:
            return load_tables(folder, len(graphs.bands.bands), nb, n, len(landmarks), use_labels), True
        except Exception as exc:  # noqa: BLE001 - a damaged cache is recomputed, never trusted
            log.info("router cache %s unreadable (%s); recomputing", folder, exc)
            shutil.rmtree(folder, ignore_errors=True)
    tables = compute_tables(graphs.fwd, graphs.rev, base_idx, landmarks, use_labels, graphs.alias)
    if use_disk_cache and nb:
        save_tables(folder, tables)
    return tables, False


def default_cache_dir() -> Path:
    """``settings.cache_folder / "router"``."""
    return Path(settings.cache_folder) / "router"
