"""Coordinate systems used by Chinese map apps, converted to WGS-84 before snapping.

Amap (高德) and Tencent give GCJ-02 coordinates; Baidu gives BD-09; OpenStreetMap and GPS give
WGS-84. GCJ-02 is WGS-84 with a deliberate, position-dependent offset of roughly 300–700 m, so a
base entered from Amap lands on the wrong street unless converted. The forward transform is the
published GCJ-02 obfuscation formula (Krasovsky 1940 ellipsoid); the inverse is solved by fixed-point
iteration to well below a millimetre. BD-09 is a further rotation/offset of GCJ-02.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import numpy as np

# numpy is imported inside the functions: reading a scenario whose coordinates are already WGS-84
# (``validate``) then needs no numpy at all; conversions of arrays import it on first use.

CRS = Literal["wgs84", "gcj02", "bd09"]
SUPPORTED_CRS: tuple[str, ...] = ("wgs84", "gcj02", "bd09")

_A = 6378245.0  # Krasovsky 1940 semi-major axis (m)
_EE = 0.00669342162296594323  # Krasovsky 1940 first eccentricity squared
_X_PI = math.pi * 3000.0 / 180.0


def _out_of_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """GCJ-02 applies only inside (a rectangle around) China; outside it equals WGS-84."""
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    x = lon - 105.0
    y = lat - 35.0
    sx = np.sqrt(np.abs(x))
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sx
    dlat += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sx
    dlon += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon, lat):
    """Apply the GCJ-02 offset to WGS-84 coordinates (scalars or arrays)."""
    import numpy as np

    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    dlon, dlat = _delta(lon, lat)
    out = _out_of_china(lon, lat)
    return _unwrap(np.where(out, lon, lon + dlon)), _unwrap(np.where(out, lat, lat + dlat))


def gcj02_to_wgs84(lon, lat, *, tol_deg: float = 1e-10, max_iter: int = 30):
    """Invert GCJ-02 by fixed-point iteration (converges to < 1e-9 degrees in a few steps)."""
    import numpy as np

    glon = np.asarray(lon, dtype=float)
    glat = np.asarray(lat, dtype=float)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(max_iter):
        tlon, tlat = wgs84_to_gcj02(wlon, wlat)
        elon, elat = np.asarray(tlon) - glon, np.asarray(tlat) - glat
        wlon, wlat = wlon - elon, wlat - elat
        if np.all(np.abs(elon) < tol_deg) and np.all(np.abs(elat) < tol_deg):
            break
    return _unwrap(wlon), _unwrap(wlat)


def gcj02_to_bd09(lon, lat):
    """GCJ-02 to Baidu BD-09."""
    import numpy as np

    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return _unwrap(z * np.cos(theta) + 0.0065), _unwrap(z * np.sin(theta) + 0.006)


def bd09_to_gcj02(lon, lat):
    """Baidu BD-09 to GCJ-02."""
    import numpy as np

    x = np.asarray(lon, dtype=float) - 0.0065
    y = np.asarray(lat, dtype=float) - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return _unwrap(z * np.cos(theta)), _unwrap(z * np.sin(theta))


def to_wgs84(lon, lat, crs: str = "wgs84"):
    """Convert coordinates in ``crs`` (wgs84, gcj02 or bd09) to WGS-84.

    Parameters
    ----------
    lon, lat
        Longitude and latitude in degrees, scalars or arrays.
    crs
        The coordinate system they are given in.

    Returns
    -------
    tuple
        ``(lon, lat)`` in WGS-84, same shape as the input.
    """
    crs = crs.lower().replace("-", "").replace("_", "")
    if crs == "wgs84" and type(lon) in (int, float) and type(lat) in (int, float):
        return float(lon), float(lat)  # scalars already in WGS-84: nothing to convert, no numpy
    import numpy as np

    if crs == "wgs84":
        return _unwrap(np.asarray(lon, dtype=float)), _unwrap(np.asarray(lat, dtype=float))
    if crs == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if crs == "bd09":
        return gcj02_to_wgs84(*bd09_to_gcj02_exact(lon, lat))
    raise ValueError(f"unknown crs {crs!r}; allowed: {', '.join(SUPPORTED_CRS)}")


def bd09_to_gcj02_exact(lon, lat, *, tol_deg: float = 1e-11, max_iter: int = 20):
    """Invert :func:`gcj02_to_bd09` exactly: the published closed form is off by up to ~0.1 m."""
    import numpy as np

    blon = np.asarray(lon, dtype=float)
    blat = np.asarray(lat, dtype=float)
    glon, glat = (np.asarray(v) for v in bd09_to_gcj02(blon, blat))
    for _ in range(max_iter):
        tlon, tlat = (np.asarray(v) for v in gcj02_to_bd09(glon, glat))
        elon, elat = tlon - blon, tlat - blat
        glon, glat = glon - elon, glat - elat
        if np.all(np.abs(elon) < tol_deg) and np.all(np.abs(elat) < tol_deg):
            break
    return _unwrap(glon), _unwrap(glat)


def from_wgs84(lon, lat, crs: str = "wgs84"):
    """Convert WGS-84 coordinates to ``crs`` (for showing results in a map app's system)."""
    import numpy as np

    crs = crs.lower().replace("-", "").replace("_", "")
    if crs == "wgs84":
        return _unwrap(np.asarray(lon, dtype=float)), _unwrap(np.asarray(lat, dtype=float))
    if crs == "gcj02":
        return wgs84_to_gcj02(lon, lat)
    if crs == "bd09":
        return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))
    raise ValueError(f"unknown crs {crs!r}; allowed: {', '.join(SUPPORTED_CRS)}")


def _unwrap(a: np.ndarray):
    """Return a Python float for 0-d arrays so scalar in gives scalar out."""
    import numpy as np

    a = np.asarray(a)
    return float(a) if a.ndim == 0 else a


def haversine_m(lon1, lat1, lon2, lat2):
    """Great-circle distance in metres: see :func:`dispatch_sim.geodesy.haversine_m` (its one home)."""
    from .geodesy import haversine_m as distance

    return distance(lon1, lat1, lon2, lat2)
