"""When a widening KNN fetch may stop: planar degrees (what the GiST index orders by) against
geodesic metres (what the rankings use).

PostGIS KNN (``geom <-> point`` on a GiST index) returns rows in planar-degree order, while
:mod:`geodata.dispatch` (workers) and :mod:`geodata.departments` rank by geodesic metres on
the WGS-84 spheroid. After fetching the ``k`` nearest rows in degrees, every row not fetched
lies at least ``max_deg`` (the k-th row's planar distance) away, hence at least
:func:`lower_bound_m` metres; a ranking whose last entry is nearer than that is final.
Pure arithmetic, no database. Coordinates are WGS-84 degrees (EPSG:4326).
"""

from __future__ import annotations

import math

__all__ = ["lower_bound_m", "radius_deg"]

#: Metres per degree of latitude at the equator (the smallest on the WGS-84 ellipsoid) and of
#: longitude at the equator (scaled by cos(latitude)); with a 1 % margin for the lower bound.
_M_PER_DEG_LAT_MIN = 110_574.0
_M_PER_DEG_LON_EQ = 111_319.49
_BOUND_MARGIN = 0.99


def _min_m_per_deg(lat: float, deg: float) -> float:
    """The smallest metres per planar degree in the latitude band ``lat ± deg``."""
    top = min(89.9, abs(lat) + deg)
    return min(_M_PER_DEG_LAT_MIN, _M_PER_DEG_LON_EQ * math.cos(math.radians(top)))


def lower_bound_m(lat: float, max_deg: float) -> float:
    """Smallest geodesic distance (m) of a point at least ``max_deg`` planar degrees from a
    point at latitude ``lat``: scale by the smallest metres per degree in the band reached."""
    return max_deg * _min_m_per_deg(lat, max_deg) * _BOUND_MARGIN


def radius_deg(lat: float, metres: float) -> float:
    """The planar radius (degrees) beyond which every point is farther than ``metres`` from a
    point at latitude ``lat`` (the inverse of :func:`lower_bound_m`, rounded up)."""
    r = 0.0
    for _ in range(4):
        r = metres / (_min_m_per_deg(lat, r) * _BOUND_MARGIN)
    while lower_bound_m(lat, r) < metres:
        r *= 1.01
    return r
