"""Shared set-up for the benchmark scripts (not tests): Nanhu-like and prefecture-size stand-ins."""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NANHU_BBOX = (120.65, 30.60, 120.98, 30.85)  # covers the district (~120.658-120.977 E, 30.607-30.844 N)
PREFECTURE_BBOX = (120.30, 30.35, 121.30, 31.05)  # about Jiaxing prefecture's extent
TEAMS = [("解放街道", 120.76328, 30.77817), ("建设街道", 120.760, 30.757), ("新嘉街道", 120.750, 30.770),
         ("南湖街道", 120.770, 30.748), ("新兴街道", 120.740, 30.750), ("东栅街道", 120.78594, 30.76113),
         ("七星街道", 120.81206, 30.81355), ("凤桥镇", 120.85449, 30.66108), ("余新镇", 120.78848, 30.66879),
         ("新丰镇", 120.91835, 30.70900), ("大桥镇", 120.85684, 30.74751)]


def standin_graph(bbox, nodes, anchors, seed=1):
    from dispatch_sim.roads import prepare_graph
    from dispatch_sim.standin import generate_standin

    t = time.perf_counter()
    G = prepare_graph(generate_standin(bbox, anchors, urban_centres=[(120.75, 30.7522)], target_nodes=nodes, seed=seed))
    return G, time.perf_counter() - t


def timeit(fn, repeat=5, number=1):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t) / number)
    return best


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def rss_mb() -> float:
    """Resident memory of this process now (MiB, like the peak; Linux ``/proc``, else the peak)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * resource.getpagesize() / 1048576.0
    except OSError:
        return peak_rss_mb()


def rss_parts_mb() -> dict:
    """Resident memory now by kind (MiB; Linux): ``anon`` is the process's own (heap, arrays),
    ``file`` is file-backed pages such as memory-mapped caches and libraries, shared with other
    processes and reclaimable by the kernel. Empty where ``/proc`` is missing."""
    out = {}
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key in ("RssAnon", "RssFile", "RssShmem"):
                    out[key[3:].lower()] = int(value.split()[0]) / 1024.0
    except OSError:
        pass
    return out


def emit(name: str, figures: dict) -> None:
    print(json.dumps({"benchmark": name, **figures}, ensure_ascii=False, default=float))
