"""The shortcuts of issue 20 give what the long way gives.

- snapping many points by the bucket grid picks the node a pass over every node picks (ties included);
- a band identical to another shares its hub labels, and labels stay exact in every band; the bands of the
  Nanhu scenarios that have the same speeds are found identical;
- a figure drawn once and cropped is the PNG ``savefig(bbox_inches="tight")`` writes (same size; the
  pixels differ only by anti-aliasing at a sub-pixel shift), also when a legend lies beside the axes;
- the staffing search's shared report cache hands out the reports a fresh draw gives.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from dispatch_sim import World, scenario_from_dict

from .conftest import ROOT, small_scenario


def _brute(x, y, px, py):
    d = (x[None, :] - px[:, None]) ** 2 + (y[None, :] - py[:, None]) ** 2
    return np.argmin(d, axis=1), d


@pytest.mark.parametrize("lattice", [False, True])
def test_grid_nearest_is_the_nearest_node(lattice):
    from dispatch_sim._nearest import GridIndex

    rng = np.random.default_rng(3)
    x, y = rng.uniform(0, 9000, 1500), rng.uniform(0, 6000, 1500)
    px, py = rng.uniform(-3000, 12000, 4000), rng.uniform(-2000, 8000, 4000)  # some far outside the nodes
    if lattice:  # duplicate nodes and points equidistant from several: ties everywhere
        x, y, px, py = (np.round(a / 300) * 300 for a in (x, y, px, py))
        px, py = px + 150, py + 150
    got = GridIndex(x, y).nearest(px, py)
    want, d = _brute(x, y, px, py)
    rows = np.arange(len(px))
    assert np.array_equal(d[rows, got], d[rows, want])  # as near as the nearest
    assert np.array_equal(got, want)  # and the same node: the lowest index among equally near ones


def test_locator_gives_the_same_node_for_few_and_many_points(small_world):
    loc = small_world.locator
    rng = np.random.default_rng(1)
    lon = rng.uniform(loc.extent[0], loc.extent[2], 200)
    lat = rng.uniform(loc.extent[1], loc.extent[3], 200)
    many = loc.snap_many(lon, lat)[0]  # the grid
    few = np.concatenate([loc.snap_many(lon[i:i + 10], lat[i:i + 10])[0] for i in range(0, 200, 10)])  # the pass
    assert np.array_equal(many, few)


def test_identical_bands_share_labels_and_stay_exact():
    from dispatch_sim.hub_labels import build_band_labels, label_distance

    rng = np.random.default_rng(0)
    n = 120
    u = rng.integers(0, n, 600)
    v = rng.integers(0, n, 600)
    keep = u != v
    u, v = u[keep], v[keep]
    w = rng.uniform(5, 90, len(u))
    base = csr_matrix((w, (u, v)), shape=(n, n))
    base.sum_duplicates()
    slow = csr_matrix((base.data / 0.7, base.indices, base.indptr), shape=(n, n))
    fwd = [base, slow, slow.copy()]  # band 2 equals band 1 (BandGraphs.alias says so for a scenario's bands)
    rev = [m.T.tocsr() for m in fwd]
    ptr, hub, sec = build_band_labels(fwd, rev, alias=[0, 1, 1])
    assert np.array_equal(ptr[:, 1], ptr[:, 2])
    one = build_band_labels(fwd[:2], rev[:2])
    assert len(hub) == len(one[1])  # nothing stored for band 2
    for b in range(3):
        exact = dijkstra(fwd[b])
        got = np.array([[label_distance(ptr[1, b], ptr[0, b], hub, sec, i, j) for j in range(n)] for i in range(n)])
        assert np.allclose(got, exact, rtol=0, atol=1e-9) and np.array_equal(np.isinf(got), np.isinf(exact))


def test_bands_with_the_same_speeds_are_found_identical():
    from dispatch_sim import load_scenario
    from dispatch_sim.world_roads import load_world_roads

    sc = load_scenario(ROOT / "scenarios" / "nanhu_baseline.yaml")  # morning and evening peaks: same factors
    router = load_world_roads(sc).router
    names = router.bands.names
    alias = router._graphs.alias
    assert alias == [0, 1, 1] and names[1:] == ["morning_peak", "evening_peak"]
    assert np.array_equal(router.label_ptr[:, 1], router.label_ptr[:, 2])
    assert np.array_equal(router.from_base[1], router.from_base[2])
    exact = dijkstra(router.fwd[2], indices=router.base_idx[:2])
    assert np.allclose(router.from_base[2][:2], exact, rtol=0, atol=1e-9)


def _figure(outside_legend: bool):
    from dispatch_sim import fonts
    from dispatch_sim.plot import DispatchFigure

    with fonts.style():  # as every figure of the package is built
        fig = DispatchFigure(figsize=(6, 4), layout="constrained")
        ax = fig.subplots()
        t = np.linspace(0, 10, 200)
        ax.plot(t, np.sin(t), label="sin")
        ax.plot(t, np.cos(t), label="cos")
        ax.set_title("两条曲线 two curves")
        if outside_legend:
            ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return fig


@pytest.mark.parametrize("outside_legend", [False, True])
def test_one_draw_png_is_the_tight_savefig(tmp_path, outside_legend):
    from PIL import Image

    from dispatch_sim.io import savefig_atomic

    ref = io.BytesIO()
    _figure(outside_legend).savefig(ref, format="png", dpi=120, bbox_inches="tight")
    ours = savefig_atomic(_figure(outside_legend), tmp_path / "f.png", dpi=120)
    a = np.asarray(Image.open(io.BytesIO(ref.getvalue())).convert("RGB")).astype(int)
    b = np.asarray(Image.open(ours).convert("RGB")).astype(int)
    assert abs(a.shape[0] - b.shape[0]) <= 1 and abs(a.shape[1] - b.shape[1]) <= 1
    h, w = min(a.shape[0], b.shape[0]) - 2, min(a.shape[1], b.shape[1]) - 2
    # the crop sits on whole pixels, savefig's box on fractions of one: compare each pixel with its best
    # match within a pixel, so anti-aliasing at the shift passes and moved or missing content does not
    diff = np.min([np.abs(a[1:h + 1, 1:w + 1] - b[1 + dy:h + 1 + dy, 1 + dx:w + 1 + dx]).sum(axis=2)
                   for dy in (-1, 0, 1) for dx in (-1, 0, 1)], axis=0)
    assert (diff > 60).mean() < 0.002
    assert Image.open(ours).info.get("dpi", (0, 0))[0] == pytest.approx(120, abs=1)


def test_shared_report_cache_gives_a_fresh_draw():
    sc = scenario_from_dict(small_scenario())
    base = World(sc)
    shared: dict = {}
    w1 = World(sc, G=base.network, router=base.router)
    w1.reports_cache = shared
    first = w1.reports(1, load=2.0)
    w2 = World(sc, G=base.network, router=base.router)
    w2.reports_cache = shared
    assert w2.reports(1, load=2.0) is first
    fresh = base.reports(1, load=2.0)
    for name in ("created_min", "ready_min", "node", "work_min", "category"):
        assert np.array_equal(getattr(first, name), getattr(fresh, name))
    assert w1.simulate(1, load=2.0).crew.tolist() == base.simulate(1, load=2.0).crew.tolist()


def test_grid_refuses_points_without_coordinates():
    from dispatch_sim._nearest import GridIndex

    g = GridIndex(np.array([0.0, 10.0, 20.0]), np.array([0.0, 5.0, 0.0]))
    for bad in (np.nan, np.inf, 1e300):
        with pytest.raises(ValueError, match="finite"):
            g.nearest(np.array([bad] * 40), np.zeros(40))


def test_a_saved_background_of_its_own_is_left_to_savefig(tmp_path):
    import matplotlib as mpl
    from PIL import Image

    from dispatch_sim.io import savefig_atomic

    with mpl.rc_context({"savefig.transparent": True}):
        with Image.open(savefig_atomic(_figure(False), tmp_path / "t.png")) as im:
            assert im.mode == "RGBA" and np.asarray(im)[0, 0, 3] == 0  # transparent, as savefig writes it
    with mpl.rc_context({"savefig.facecolor": "black"}):
        with Image.open(savefig_atomic(_figure(False), tmp_path / "k.png")) as im:
            assert tuple(np.asarray(im.convert("RGB"))[0, 0]) == (0, 0, 0)
