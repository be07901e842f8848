"""Point → six-level chain, checked against shapely on random points."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from sqlalchemy import text

from geodata.attribution import CoordinateError, attribute_point, attribute_points


@pytest.fixture(scope="module")
def l6(engine):
    with engine.connect() as c:
        rows = c.execute(
            text("SELECT code, ST_AsBinary(geom) FROM grid_cell WHERE level = 6")
        ).all()
    codes = np.array([r[0] for r in rows])
    geoms = shapely.from_wkb([bytes(r[1]) for r in rows])
    return codes, geoms


def test_random_points_match_shapely(engine, l6):
    codes, geoms = l6
    tree = shapely.STRtree(geoms)
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    rng = np.random.default_rng(1)
    lon = rng.uniform(minx - 0.1, maxx + 0.1, 400)
    lat = rng.uniform(miny - 0.1, maxy + 0.1, 400)
    with engine.connect() as c:
        got = attribute_points(c, lon, lat)
    p_idx, g_idx = tree.query(shapely.points(lon, lat), predicate="intersects")
    expected: list[str | None] = [None] * len(lon)
    for p, g in sorted(zip(p_idx, g_idx, strict=True), key=lambda t: codes[t[1]], reverse=True):
        expected[p] = codes[g]
    assert got == expected
    assert sum(e is not None for e in expected) > 100  # most points inside, some outside
    assert sum(e is None for e in expected) > 10


def test_chain_has_six_levels_with_consistent_codes(conn, l6):
    codes, geoms = l6
    pt = shapely.point_on_surface(geoms[5])
    res = attribute_point(conn, pt.x, pt.y)
    assert res is not None
    assert [c.level for c in res.chain] == [1, 2, 3, 4, 5, 6]
    assert res.cell.code == codes[5]
    for parent, child in zip(res.chain[2:], res.chain[3:], strict=False):
        assert child.code.startswith(parent.code)
    assert res.at(2).name.endswith(("市", "县"))


def test_outside_prefecture_is_none(conn):
    assert attribute_point(conn, 116.39, 39.91) is None  # Beijing


@pytest.mark.parametrize(
    ("lon", "lat", "message"),
    [
        (25.6, 100.23, "swapped"),
        (float("nan"), 25.0, "finite"),
        (1e300, 25.0, "outside the valid"),
        ("abc", 25.0, "numbers"),
    ],
)
def test_bad_coordinates_are_explained(conn, lon, lat, message):
    with pytest.raises(CoordinateError, match=message):
        attribute_point(conn, lon, lat)


def test_batch_names_the_bad_point(conn):
    with pytest.raises(CoordinateError, match="point 1"):
        attribute_points(conn, [100.2, 200.0], [25.6, 25.6])
