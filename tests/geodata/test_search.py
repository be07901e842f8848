"""geodata.search.search_cells on the fixture: partial Chinese names, code prefixes, LIKE
wildcard escaping, scope filtering, ordering and bad input."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import text

from geodata.cells import PREFECTURE_PATH
from geodata.search import QUERY_MAX, search_cells

DALI_CITY = "532900.532901"


@pytest.fixture(scope="module")
def cells(engine) -> pd.DataFrame:
    with engine.connect() as c:
        return pd.read_sql(text("SELECT code, name, level, path::text AS path FROM grid_cell"), c)


def _in_scope(df: pd.DataFrame, scope: str) -> pd.DataFrame:
    return df[(df["path"] == scope) | df["path"].str.startswith(scope + ".")]


def test_partial_chinese_name_finds_the_cell_with_its_path(conn, cells):
    village = cells[(cells["level"] == 4) & cells["path"].str.startswith(DALI_CITY)].iloc[0]
    q = village["name"][:2]  # e.g. "西里" of 西里村
    rows = search_cells(conn, scope_path=PREFECTURE_PATH, q=q, limit=100)
    expected = cells[cells["name"].str.contains(q, regex=False)]
    assert {r["code"] for r in rows} <= set(expected["code"])
    assert all(q in r["name"] for r in rows)
    hit = next(r for r in rows if r["code"] == village["code"])
    names = dict(zip(cells["code"], cells["name"], strict=True))
    labels = village["path"].split(".")
    assert hit["path_names"] == [names[c] for c in labels[1:]]
    assert hit["path_label"] == " › ".join(hit["path_names"])
    assert hit["path_label"].startswith("大理市 › ")
    assert hit["level"] == 4 and hit["path"] == village["path"]


def test_all_matches_found_when_under_the_limit(conn, cells):
    name = cells.loc[cells["level"] == 5, "name"].iloc[7]
    expected = cells[cells["name"].str.contains(name, regex=False)]
    assert 0 < len(expected) <= 20
    rows = search_cells(conn, scope_path=PREFECTURE_PATH, q=name)
    assert {r["code"] for r in rows} == set(expected["code"])
    assert rows[0]["name"] == name  # the exact name first


def test_results_are_ordered_upper_levels_first(conn):
    rows = search_cells(conn, scope_path=PREFECTURE_PATH, q="大理")
    assert [r["code"] for r in rows[:2]] == ["532900", "532901"]
    levels = [r["level"] for r in search_cells(conn, scope_path=PREFECTURE_PATH, q="村", limit=100)]
    assert levels == sorted(levels)


def test_code_prefix_and_exact_code(conn, cells):
    rows = search_cells(conn, scope_path=PREFECTURE_PATH, q="532901")
    assert rows[0]["code"] == "532901"  # the exact code first
    assert all(r["code"].startswith("532901") for r in rows)
    assert len(rows) == 20  # limited
    grid = cells.loc[cells["level"] == 5, "code"].iloc[3]
    rows = search_cells(conn, scope_path=PREFECTURE_PATH, q=grid)
    assert rows[0]["code"] == grid
    assert {r["code"] for r in rows} == set(cells.loc[cells["code"].str.startswith(grid), "code"])


def test_like_wildcards_match_literally(conn, cells):
    for q in ("%", "_", "\\", "%村", "_村", "大_", "5329_1"):
        assert search_cells(conn, scope_path=PREFECTURE_PATH, q=q) == [], q
    # a name that really contains the wildcards is found, and only by its literal text
    target = cells.loc[cells["level"] == 4, "code"].iloc[0]
    conn.execute(
        text("UPDATE grid_cell SET name = :n WHERE code = :c"), {"n": "测%试_村", "c": target}
    )
    assert [r["code"] for r in search_cells(conn, scope_path=PREFECTURE_PATH, q="%试_")] == [target]
    assert search_cells(conn, scope_path=PREFECTURE_PATH, q="测_试") == []
    assert search_cells(conn, scope_path=PREFECTURE_PATH, q="测%村") == []


def test_scope_filters_results(conn, cells):
    rows = search_cells(conn, scope_path=DALI_CITY, q="村", limit=100)
    assert rows and all(r["path"].startswith(DALI_CITY) for r in rows)
    other = cells[(cells["level"] == 3) & ~cells["path"].str.startswith(DALI_CITY)].iloc[0]
    rows = search_cells(conn, scope_path=DALI_CITY, q=other["name"])
    assert other["code"] not in {r["code"] for r in rows}
    assert all(r["path"].startswith(DALI_CITY) for r in rows)
    assert search_cells(conn, scope_path=DALI_CITY, q=other["code"]) == []
    assert search_cells(conn, scope_path=DALI_CITY, q="532900") == []
    # path names never include cells above the scope
    township = _in_scope(cells, DALI_CITY).query("level == 3").iloc[0]
    rows = search_cells(conn, scope_path=township["path"], q=township["name"])
    assert rows[0]["path_names"] == [township["name"]]


def test_latin_letters_and_case(conn):
    assert search_cells(conn, scope_path=PREFECTURE_PATH, q="Dali") == []
    rows = search_cells(conn, scope_path=PREFECTURE_PATH, q="  大理市  ")  # stripped
    assert rows[0]["code"] == "532901"


@pytest.mark.parametrize(
    "q", ["", "   ", "x" * (QUERY_MAX + 1), None, 42, ["大理"], "大\x00理", "a\nb"]
)
def test_bad_queries_raise_value_error(conn, q):
    with pytest.raises(ValueError):
        search_cells(conn, scope_path=PREFECTURE_PATH, q=q)


def test_bad_limit_and_scope(conn):
    for limit in (0, 101, "5", True):
        with pytest.raises(ValueError):
            search_cells(conn, scope_path=PREFECTURE_PATH, q="村", limit=limit)
    with pytest.raises(ValueError):
        search_cells(conn, scope_path="532900'", q="村")
    assert len(search_cells(conn, scope_path=PREFECTURE_PATH, q="x" * QUERY_MAX)) == 0
