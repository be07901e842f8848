"""geodata.cells against the seeded demo database: counties, scope filtering, summaries."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import text

from geodata.cells import (
    PREFECTURE_PATH,
    cell_by_code,
    cells_geojson_text,
    prefecture_summary,
)

COUNTY_CODES = {
    "532901", "532922", "532923", "532924", "532925", "532926",
    "532927", "532928", "532929", "532930", "532931", "532932",
}  # fmt: skip
DALI_CITY = "532900.532901"
CJK = re.compile(r"[\u4e00-\u9fff]")


def cells_geojson(conn, **kw):
    """The FeatureCollection of :func:`cells_geojson_text`, parsed."""
    return json.loads(cells_geojson_text(conn, **kw))


def test_prefecture_has_the_12_real_counties(conn):
    fc = cells_geojson(conn, scope_path=PREFECTURE_PATH, level=2)
    assert fc["type"] == "FeatureCollection"
    feats = fc["features"]
    assert {f["properties"]["code"] for f in feats} == COUNTY_CODES
    assert [f["id"] for f in feats] == sorted(COUNTY_CODES)  # ordered by code
    names = {f["properties"]["name"] for f in feats}
    assert "大理市" in names and "漾濞彝族自治县" in names
    assert all(CJK.search(n) for n in names)
    for f in feats:
        assert f["type"] == "Feature"
        assert f["geometry"]["type"] == "MultiPolygon"
        assert set(f["properties"]) == {"code", "name", "level", "population"}
        assert f["properties"]["level"] == 2
        assert f["properties"]["population"] > 0
        lon, lat = f["geometry"]["coordinates"][0][0][0]
        assert 98.5 < lon < 101.5 and 24.5 < lat < 27  # lon/lat order, EPSG:4326


def test_level_1_is_the_prefecture(conn):
    feats = cells_geojson(conn, scope_path=PREFECTURE_PATH, level=1)["features"]
    assert [f["properties"]["name"] for f in feats] == ["大理白族自治州"]


def test_county_scope_returns_only_its_subtree(conn):
    for level in (2, 3, 4, 5, 6):
        feats = cells_geojson(conn, scope_path=DALI_CITY, level=level)["features"]
        expected = conn.execute(
            text(
                "SELECT array_agg(code ORDER BY code) FROM grid_cell "
                "WHERE level = :level AND code LIKE '532901%'"
            ),
            {"level": level},
        ).scalar_one()
        assert [f["id"] for f in feats] == expected, level
    # a county scope cannot see the prefecture above it, nor other counties
    assert cells_geojson(conn, scope_path=DALI_CITY, level=1)["features"] == []
    county = cells_geojson(conn, scope_path=DALI_CITY, level=2)["features"]
    assert [f["id"] for f in county] == ["532901"]


def test_scope_is_label_based_not_a_string_prefix(conn):
    # "532900.53290" is a string prefix of every county path but names no cell
    assert cells_geojson(conn, scope_path="532900.53290", level=2)["features"] == []
    assert cells_geojson(conn, scope_path="999999", level=2)["features"] == []


def test_simplification_and_precision_shrink_the_payload(conn):
    full = cells_geojson_text(conn, scope_path=PREFECTURE_PATH, level=2)
    small = cells_geojson_text(
        conn, scope_path=PREFECTURE_PATH, level=2, simplify_deg=0.002, digits=4
    )
    assert len(small) < len(full) / 3
    coords = re.findall(r"\d+\.(\d+)", small)
    assert coords and max(len(d) for d in coords) <= 4


@pytest.mark.parametrize("bad", ["", "532900;DROP", "532900..532901", "a b", "532900.*"])
def test_malformed_scope_is_rejected_before_sql(conn, bad):
    with pytest.raises(ValueError):
        cells_geojson(conn, scope_path=bad, level=2)
    with pytest.raises(ValueError):
        prefecture_summary(conn, bad)


@pytest.mark.parametrize("bad", [0, 7, -1, True, "2", 2.0])
def test_bad_level_is_rejected(conn, bad):
    with pytest.raises(ValueError):
        cells_geojson(conn, scope_path=PREFECTURE_PATH, level=bad)


def test_cell_by_code(conn):
    cell = cell_by_code(conn, "532901", scope_path=PREFECTURE_PATH)
    assert cell is not None
    assert cell["name"] == "大理市" and cell["level"] == 2 and cell["path"] == DALI_CITY
    xmin, ymin, xmax, ymax = cell["bbox"]
    assert 98.5 < xmin < xmax < 101.5 and 24.5 < ymin < ymax < 27
    lon, lat = cell["label_point"]
    assert xmin <= lon <= xmax and ymin <= lat <= ymax
    assert cell["synthetic"] is False  # L1/L2 boundaries are real


def test_cell_by_code_hides_cells_outside_scope_and_unknown_codes(conn):
    assert cell_by_code(conn, "532922", scope_path=DALI_CITY) is None  # another county
    assert cell_by_code(conn, "532900", scope_path=DALI_CITY) is None  # the parent
    assert cell_by_code(conn, "000000", scope_path=PREFECTURE_PATH) is None
    assert cell_by_code(conn, "532901", scope_path=DALI_CITY)["code"] == "532901"


def test_prefecture_summary(conn):
    s = prefecture_summary(conn, PREFECTURE_PATH)
    assert s["root"]["code"] == "532900" and s["root"]["name"] == "大理白族自治州"
    assert s["cells_by_level"][1] == 1 and s["cells_by_level"][2] == 12
    for level in range(3, 7):
        assert s["cells_by_level"][level] >= s["cells_by_level"][level - 1]
    county_pop = conn.execute(
        text("SELECT sum(population) FROM grid_cell WHERE level = 2")
    ).scalar_one()
    assert s["population"] == county_pop > 0
    assert (
        s["workers"]
        == conn.execute(text("SELECT count(*) FROM grid_worker WHERE active")).scalar_one()
    )
    assert s["events"] == conn.execute(text("SELECT count(*) FROM event")).scalar_one()
    assert 0 <= s["workers_on_duty"] <= s["workers"]
    assert 0 <= s["events_open"] <= s["events"]


def test_county_summary_counts_only_its_subtree(conn):
    s = prefecture_summary(conn, DALI_CITY)
    assert s["root"]["name"] == "大理市"
    assert s["cells_by_level"][1] == 0 and s["cells_by_level"][2] == 1
    workers = conn.execute(
        text(
            "SELECT count(*) FROM grid_worker w JOIN grid_cell c ON c.id = w.cell_id "
            "WHERE w.active AND c.code LIKE '532901%'"
        )
    ).scalar_one()
    events = conn.execute(
        text(
            "SELECT count(*) FROM event e JOIN grid_cell c ON c.id = e.cell_id "
            "WHERE c.code LIKE '532901%'"
        )
    ).scalar_one()
    assert (s["workers"], s["events"]) == (workers, events)
    whole = prefecture_summary(conn, PREFECTURE_PATH)
    assert s["population"] < whole["population"]


def test_unknown_scope_summary_is_empty(conn):
    s = prefecture_summary(conn, "999999")
    assert s["root"] is None
    assert set(s["cells_by_level"].values()) == {0}
    assert s["population"] == s["workers"] == s["events"] == 0
