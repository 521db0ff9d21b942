"""Distances on the ground: the one home of the metres-per-degree constants and the local projection.

Every module that turns degrees into metres (snapping, the stand-in generator, landmarks, urban
classification, coverage and reliability cells, demand discs, the bbox margin check) uses this
module, so the constants cannot drift apart.

Trade-offs
----------
- **Equirectangular, not a projection library.** Around one latitude ``lat0`` a degree of latitude
  is taken as 110,540 m and a degree of longitude as 111,320 m × cos(lat0) (the WGS-84 values at the
  equator and mid-latitudes that OSMnx and most GIS guides quote). Over a district or prefecture
  (< 150 km) the error against a proper transverse-Mercator projection is below 0.1 %, far under
  the snapping and travel-time uncertainty, and it costs two multiplications instead of importing
  pyproj (≈ 0.3 s at start-up).
- **Great-circle distances** (:func:`haversine_m`) use the mean Earth radius; the difference to
  the ellipsoid is < 0.5 %, which is irrelevant for snap distances and edge lengths of a few hundred
  metres.
- The arithmetic order of :func:`local_xy` (``lon * 111320 * cos(lat0)``) is the one every caller
  used before the helper existed; changing it would move results in the last bit and with them
  cached landmarks and seeds, so it is part of the contract.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported by the functions that need it: the constants alone need none
    import numpy as np

#: Metres per degree of latitude (mean over the WGS-84 ellipsoid at mid-latitudes).
M_PER_DEG_LAT = 110_540.0
#: Metres per degree of longitude on the equator; multiply by cos(latitude).
M_PER_DEG_LON_EQUATOR = 111_320.0
#: Mean Earth radius (IUGG), for great-circle distances.
EARTH_RADIUS_M = 6_371_008.8


def m_per_deg_lon(lat0: float) -> float:
    """Metres per degree of longitude at latitude ``lat0`` (degrees).

    Parameters
    ----------
    lat0
        Latitude in degrees.

    Returns
    -------
    float
        ``111320 × cos(lat0)``.
    """
    return M_PER_DEG_LON_EQUATOR * math.cos(math.radians(lat0))


def local_xy(lon, lat, lat0: float) -> tuple[np.ndarray, np.ndarray]:
    """Equirectangular metres around latitude ``lat0``: accurate to < 0.1 % over a district.

    Parameters
    ----------
    lon, lat
        Degrees (scalars or arrays); also offsets in degrees, which scale the same way.
    lat0
        Latitude of the projection's standard parallel, in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        ``(x, y)`` in metres (x east, y north), not centred: subtract a reference point's
        coordinates for offsets.
    """
    import numpy as np

    k = math.cos(math.radians(lat0))
    return np.asarray(lon) * M_PER_DEG_LON_EQUATOR * k, np.asarray(lat) * M_PER_DEG_LAT


def haversine_m(lon1, lat1, lon2, lat2):
    """Great-circle distance in metres (vectorised).

    Parameters
    ----------
    lon1, lat1, lon2, lat2
        Degrees, scalars or arrays that broadcast.

    Returns
    -------
    numpy.ndarray or numpy.float64
        Metres on a sphere of radius :data:`EARTH_RADIUS_M`.
    """
    import numpy as np

    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(v, dtype=float)) for v in (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return EARTH_RADIUS_M * 2 * np.arcsin(np.sqrt(np.minimum(1.0, a)))
