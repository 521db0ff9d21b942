"""Coordinates from Chinese map apps land on the right street once converted."""

import numpy as np
import pytest

from dispatch_sim import crs

# Published conversion examples (coordtransform test vectors; a point near Jiaxing/Jinshan; Beijing)
CASES_WGS_TO_GCJ = [
    ((116.404, 39.915), (116.41024449916938, 39.91640428150164)),
    ((121.0917077, 30.6107779), (121.09626935575027, 30.608604331756705)),
    ((116.0, 40.0), (116.006141221789, 40.001213650174)),
]


@pytest.mark.parametrize("wgs,gcj", CASES_WGS_TO_GCJ)
def test_wgs84_to_gcj02_matches_published_examples(wgs, gcj):
    lon, lat = crs.wgs84_to_gcj02(*wgs)
    assert lon == pytest.approx(gcj[0], abs=1e-6) and lat == pytest.approx(gcj[1], abs=1e-6)


def test_gcj02_bd09_match_published_examples():
    assert crs.gcj02_to_bd09(116.404, 39.915) == pytest.approx((116.41036949371029, 39.92133699351021), abs=1e-9)
    assert crs.bd09_to_gcj02(116.404, 39.915) == pytest.approx((116.39762729119315, 39.90865673957631), abs=1e-9)
    assert crs.from_wgs84(121.0917077, 30.6107779, "bd09") == pytest.approx((121.10271732371203, 30.61484572185035), abs=1e-6)


def test_round_trips_are_sub_millimetre_across_nanhu():
    rng = np.random.default_rng(0)
    lon = rng.uniform(120.65, 120.98, 500)
    lat = rng.uniform(30.60, 30.85, 500)
    for name in ("gcj02", "bd09"):
        back = crs.to_wgs84(*crs.from_wgs84(lon, lat, name), name)
        assert crs.haversine_m(lon, lat, back[0], back[1]).max() < 1e-3


def test_offset_is_hundreds_of_metres_in_nanhu():
    g = crs.wgs84_to_gcj02(120.78594, 30.76113)
    d = crs.haversine_m(120.78594, 30.76113, *g)
    assert 300 < d < 700


def test_outside_china_is_unchanged():
    assert crs.wgs84_to_gcj02(24.94, 60.17) == (24.94, 60.17)


def test_unknown_crs_is_rejected():
    with pytest.raises(ValueError, match="allowed"):
        crs.to_wgs84(1.0, 2.0, "epsg3857")


def test_metres_per_degree_live_in_geodesy_only():
    """One home for the constants: a copy elsewhere would drift (it did, in seven modules)."""
    from pathlib import Path

    import dispatch_sim

    pkg = Path(dispatch_sim.__file__).parent
    for path in pkg.glob("*.py"):
        if path.name == "geodesy.py":
            continue
        text = path.read_text(encoding="utf-8").replace("_", "")
        assert "111320" not in text and "110540" not in text, f"{path.name} has its own metres-per-degree constant"
