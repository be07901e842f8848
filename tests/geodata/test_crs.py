"""GCJ-02 / BD-09 conversions: reference pairs and round trips."""

from __future__ import annotations

import math

import pytest

from geodata import crs

#: Dali old town (WGS-84) and a spread of points across China.
POINTS = [(100.1636, 25.6939), (100.2676, 25.6064), (116.397, 39.909), (121.47, 31.23),
          (87.6, 43.8), (113.26, 23.13), (99.17, 27.83)]  # fmt: skip


#: Test vectors of the widely used coordtransform implementations (same published formulas).
REFERENCE = [
    ("wgs84_to_gcj02", (116.404, 39.915), (116.41024449916938, 39.91640428150164)),
    ("gcj02_to_bd09", (116.404, 39.915), (116.41036949371029, 39.92133699351021)),
    ("bd09_to_gcj02", (116.404, 39.915), (116.39762729119315, 39.90865673957631)),
]


@pytest.mark.parametrize("fn,src,expected", REFERENCE, ids=[r[0] for r in REFERENCE])
def test_known_reference_pairs(fn, src, expected):
    lon, lat = getattr(crs, fn)(*src)
    assert lon == pytest.approx(expected[0], abs=1e-9)
    assert lat == pytest.approx(expected[1], abs=1e-9)


def test_offset_is_hundreds_of_metres_in_china():
    lon, lat = crs.wgs84_to_gcj02(100.1636, 25.6939)
    assert 0.001 < math.hypot(lon - 100.1636, lat - 25.6939) < 0.01


@pytest.mark.parametrize("lon,lat", POINTS)
def test_gcj02_round_trip(lon, lat):
    back = crs.gcj02_to_wgs84(*crs.wgs84_to_gcj02(lon, lat))
    assert abs(back[0] - lon) < 1e-6 and abs(back[1] - lat) < 1e-6


@pytest.mark.parametrize("lon,lat", POINTS)
def test_bd09_round_trip(lon, lat):
    bd = crs.gcj02_to_bd09(*crs.wgs84_to_gcj02(lon, lat))
    back = crs.to_wgs84(*bd, "bd09")
    assert abs(back[0] - lon) < 1e-5 and abs(back[1] - lat) < 1e-5


def test_outside_china_is_identity():
    assert crs.wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)
    assert crs.to_wgs84(2.35, 48.85, "gcj02") == (2.35, 48.85)


def test_unknown_crs():
    with pytest.raises(ValueError, match="unknown crs"):
        crs.to_wgs84(100, 25, "utm")
