"""geodata.stats / metrics / search against the seeded fixture, checked with pandas on the raw
tables (an independent implementation of the definitions in geodata/stats.py)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import text

from geodata.cells import PREFECTURE_PATH
from geodata.metrics import metric_values, view_metric_values
from geodata.stats import cell_summary, event_trend, resolve_cell, top_categories
from gridcmd.vocab import METRICS, OPEN_STATUSES, TIMEZONE
from gridcmd.zoom import display_level
from tests.conftest import FIXTURE_NOW

NOW = FIXTURE_NOW
WORLD = (-180.0, -90.0, 180.0, 90.0)
DALI_CITY = "532900.532901"


@pytest.fixture(scope="module")
def frames(engine):
    """cells, workers, events as DataFrames; cells carry their path labels."""
    with engine.connect() as c:
        cells = pd.read_sql(
            text(
                "SELECT id, code, level, name, parent_id, path::text AS path, population, "
                "households, ST_XMin(geom) AS xmin, ST_YMin(geom) AS ymin, "
                "ST_XMax(geom) AS xmax, ST_YMax(geom) AS ymax FROM grid_cell"
            ),
            c,
        )
        workers = pd.read_sql(text("SELECT id, cell_id, duty_status, active FROM grid_worker"), c)
        events = pd.read_sql(
            text(
                "SELECT id, cell_id, status, category, reported_at, due_at, resolved_at FROM event"
            ),
            c,
        )
    cells["labels"] = cells["path"].str.split(".")
    return cells, workers, events


def _subtree_ids(cells: pd.DataFrame, path: str) -> set[int]:
    mask = (cells["path"] == path) | cells["path"].str.startswith(path + ".")
    return set(cells.loc[mask, "id"])


def _expected_summary(frames, code: str) -> dict:
    cells, workers, events = frames
    row = cells.loc[cells["code"] == code].iloc[0]
    sub = _subtree_ids(cells, row["path"])
    in_sub = cells[cells["id"].isin(sub)]
    w = workers[workers["cell_id"].isin(sub) & workers["active"]]
    e = events[events["cell_id"].isin(sub)]
    is_open = e["status"].isin(OPEN_STATUSES)
    week = (e["resolved_at"] >= NOW - dt.timedelta(days=7)) & (e["resolved_at"] <= NOW)
    return {
        "cells_by_level": {
            k: int((in_sub["level"] == k).sum()) for k in range(int(row["level"]) + 1, 7)
        },
        "workers": len(w),
        "workers_on_duty": int((w["duty_status"] == "on_duty").sum()),
        "events_total": len(e),
        "events_open": int(is_open.sum()),
        "events_overdue": int((is_open & (e["due_at"] < NOW)).sum()),
        "events_resolved_7d": int(week.sum()),
        "population": int(row["population"]),
        "households": int(row["households"]),
        "grids": int((in_sub["level"] == 5).sum()),
    }


def test_fixture_has_the_data_the_checks_need(frames):
    cells, workers, events = frames
    assert set(cells["level"]) == {1, 2, 3, 4, 5, 6}
    assert events["status"].isin(OPEN_STATUSES).sum() > 0
    assert (
        (events["reported_at"] > NOW - dt.timedelta(days=30)) & (events["reported_at"] <= NOW)
    ).sum() > 0
    assert (workers["duty_status"] == "on_duty").sum() > 0


def test_summary_matches_pandas_for_every_upper_cell_and_a_sample_below(conn, frames):
    cells = frames[0]
    codes = list(cells.loc[cells["level"] <= 4, "code"])
    codes += list(cells.loc[cells["level"] == 5, "code"][:15])
    codes += list(cells.loc[cells["level"] == 6, "code"][:15])
    for code in codes:
        got = cell_summary(conn, scope_path=PREFECTURE_PATH, code=code, now=NOW)
        assert got is not None, code
        want = _expected_summary(frames, code)
        assert {k: got[k] for k in want} == want, code


def test_summary_of_the_root_takes_the_whole_table_path(conn, frames):
    got = cell_summary(conn, scope_path=PREFECTURE_PATH, code="532900", now=NOW)
    assert resolve_cell(conn, scope_path=PREFECTURE_PATH, code="532900")["whole"] is True
    assert resolve_cell(conn, scope_path=PREFECTURE_PATH, code="532901")["whole"] is False
    want = _expected_summary(frames, "532900")
    assert {k: got[k] for k in want} == want
    assert got["path_names"] == ["大理白族自治州"]
    assert got["trend"] == event_trend(conn, scope_path=PREFECTURE_PATH, code="532900", now=NOW)
    cats = top_categories(conn, scope_path=PREFECTURE_PATH, code="532900", now=NOW)
    assert got["categories"] == cats


def test_summary_keys_and_path_names(conn, frames):
    cells = frames[0]
    village = cells.loc[(cells["level"] == 4) & cells["path"].str.startswith(DALI_CITY)].iloc[0]
    s = cell_summary(conn, scope_path=PREFECTURE_PATH, code=village["code"], now=NOW)
    labels = village["labels"]
    names = [cells.loc[cells["code"] == lab, "name"].item() for lab in labels[1:]]
    assert s["path_names"] == names and s["path_names"][0] == "大理市"
    assert s["name"] == village["name"] and s["level"] == 4 and s["path"] == village["path"]
    assert len(s["trend"]) == s["trend_days"] == 30
    # a township scope: the names start at the township (nothing above the scope leaks)
    township = ".".join(labels[:3])
    s2 = cell_summary(conn, scope_path=township, code=village["code"], now=NOW)
    assert s2["path_names"] == names[1:]


def test_summary_unknown_out_of_scope_and_malformed(conn, frames):
    cells = frames[0]
    other = cells.loc[(cells["level"] == 3) & ~cells["path"].str.startswith(DALI_CITY)].iloc[0]
    assert cell_summary(conn, scope_path=PREFECTURE_PATH, code="999999999") is None
    assert cell_summary(conn, scope_path=DALI_CITY, code=other["code"]) is None
    assert cell_summary(conn, scope_path=DALI_CITY, code="532900") is None  # above the scope
    assert cell_summary(conn, scope_path=DALI_CITY, code="532901") is not None
    for bad in ("", "5329 01", "532901;--", "53290%", "x" * 25, None, 532901):
        with pytest.raises(ValueError):
            cell_summary(conn, scope_path=PREFECTURE_PATH, code=bad)
    with pytest.raises(ValueError):
        cell_summary(conn, scope_path="532900;drop", code="532901")


def _local_days(ts: pd.Series) -> pd.Series:
    return ts.dt.tz_convert(TIMEZONE).dt.date


@pytest.mark.parametrize("days", [1, 7, 30])
def test_trend_is_zero_filled_and_matches_pandas(conn, frames, days):
    cells, _, events = frames
    for code in ("532900", "532901", cells.loc[cells["level"] == 4, "code"].iloc[3]):
        trend = event_trend(conn, scope_path=PREFECTURE_PATH, code=code, days=days, now=NOW)
        today = pd.Timestamp(NOW).tz_convert(TIMEZONE).date()
        assert [d for d, _ in trend] == [today - dt.timedelta(days=i) for i in range(days)][::-1]
        sub = _subtree_ids(cells, cells.loc[cells["code"] == code, "path"].item())
        e = events[events["cell_id"].isin(sub) & (events["reported_at"] <= NOW)]
        local = _local_days(e["reported_at"])
        want = {d: int((local == d).sum()) for d, _ in trend}
        assert dict(trend) == want, code


def test_trend_of_a_quiet_cell_is_all_zeros(conn, frames):
    cells, _, events = frames
    busy = set(events["cell_id"])
    quiet = cells.loc[(cells["level"] == 6) & ~cells["id"].isin(busy), "code"].iloc[0]
    trend = event_trend(conn, scope_path=PREFECTURE_PATH, code=quiet, now=NOW)
    assert len(trend) == 30 and all(n == 0 for _, n in trend)


def test_trend_bad_input(conn):
    for days in (0, 367, -1, 1.5, True):
        with pytest.raises(ValueError):
            event_trend(conn, scope_path=PREFECTURE_PATH, code="532901", days=days)
    assert event_trend(conn, scope_path=DALI_CITY, code="532922", now=NOW) == []


def test_top_categories_match_pandas(conn, frames):
    cells, _, events = frames
    for code, days in (("532900", 30), ("532901", None), ("532922", 365)):
        sub = _subtree_ids(cells, cells.loc[cells["code"] == code, "path"].item())
        e = events[events["cell_id"].isin(sub)]
        if days is not None:
            e = e[(e["reported_at"] > NOW - dt.timedelta(days=days)) & (e["reported_at"] <= NOW)]
        counts = e.groupby("category").size().reset_index(name="n")
        counts = counts.sort_values(["n", "category"], ascending=[False, True]).head(5)
        want = list(zip(counts["category"], counts["n"].astype(int), strict=True))
        got = top_categories(conn, scope_path=PREFECTURE_PATH, code=code, days=days, now=NOW)
        assert got == want, code
    assert len(top_categories(conn, scope_path=PREFECTURE_PATH, code="532900", limit=2)) <= 2
    with pytest.raises(ValueError):
        top_categories(conn, scope_path=PREFECTURE_PATH, code="532900", limit=0)


# ---------------------------------------------------------------------------- map metrics


def _expected_metric(frames, level: int, metric: str, scope: str = PREFECTURE_PATH) -> dict:
    cells, workers, events = frames
    drawn = cells[(cells["level"] == level) & cells["id"].isin(_subtree_ids(cells, scope))]
    out: dict[str, float] = {}
    if metric == "coverage":
        w = workers[workers["active"] & (workers["duty_status"] == "on_duty")]
        staffed = set(w["cell_id"])
        parent = dict(zip(cells["id"], cells["parent_id"], strict=True))
        grids = cells[cells["level"] == 5]
        micro = cells[cells["level"] == 6]
        covered = set(grids.loc[grids["id"].isin(staffed), "id"])
        covered |= set(micro.loc[micro["id"].isin(staffed), "parent_id"])
        for _, c in drawn.iterrows():
            if level == 6:
                out[c["code"]] = float(c["id"] in staffed or parent[c["id"]] in staffed)
                continue
            g = grids[grids["id"].isin(_subtree_ids(cells, c["path"]))]
            if len(g):
                out[c["code"]] = g["id"].isin(covered).sum() / len(g)
        return out
    is_open = events["status"].isin(OPEN_STATUSES)
    cond = {
        "open": is_open,
        "overdue": is_open & (events["due_at"] < NOW),
        "rate30": (events["reported_at"] > NOW - dt.timedelta(days=30))
        & (events["reported_at"] <= NOW),
    }[metric]
    chosen = events[cond]
    for _, c in drawn.iterrows():
        n = int(chosen["cell_id"].isin(_subtree_ids(cells, c["path"])).sum())
        if metric == "rate30":
            if c["population"] > 0:
                out[c["code"]] = n * 10000.0 / c["population"]
        else:
            out[c["code"]] = float(n)
    return out


@pytest.mark.parametrize("metric", ["open", "overdue", "rate30", "coverage"])
@pytest.mark.parametrize("level", [2, 3, 4, 5, 6])
def test_metric_values_match_pandas(conn, frames, metric, level):
    got = metric_values(
        conn, scope_path=PREFECTURE_PATH, level=level, bbox=WORLD, metric=metric, now=NOW
    )
    want = _expected_metric(frames, level, metric)
    assert got.keys() == want.keys()
    for code, v in want.items():
        assert got[code] == pytest.approx(v), code


def test_metric_values_are_not_all_zero(conn):
    for metric in ("open", "rate30", "coverage"):
        values = metric_values(
            conn, scope_path=PREFECTURE_PATH, level=3, bbox=WORLD, metric=metric, now=NOW
        )
        assert any(v > 0 for v in values.values()), metric


def test_metric_values_scope_bbox_and_inside(conn, frames):
    cells = frames[0]
    got = metric_values(conn, scope_path=DALI_CITY, level=4, bbox=WORLD, metric="open", now=NOW)
    assert got == _expected_metric(frames, 4, "open", scope=DALI_CITY)
    assert got and all(c.startswith("532901") for c in got)
    # bbox: exactly the cells whose bounding box meets it
    city = cells.loc[cells["code"] == "532901"].iloc[0]
    bbox = (city["xmin"], city["ymin"], (city["xmin"] + city["xmax"]) / 2, city["ymax"])
    got = metric_values(conn, scope_path=PREFECTURE_PATH, level=4, bbox=bbox, metric="open")
    l4 = cells[cells["level"] == 4]
    meets = (
        (l4["xmin"] <= bbox[2])
        & (l4["xmax"] >= bbox[0])
        & (l4["ymin"] <= bbox[3])
        & (l4["ymax"] >= bbox[1])
    )
    assert set(got) == set(l4.loc[meets, "code"])
    # inside: only the selection's subtree
    got = metric_values(
        conn, scope_path=PREFECTURE_PATH, level=4, bbox=WORLD, metric="open", inside=DALI_CITY
    )
    assert set(got) == set(_expected_metric(frames, 4, "open", scope=DALI_CITY))


def test_metric_values_bad_input(conn):
    assert metric_values(conn, scope_path=PREFECTURE_PATH, level=3, bbox=WORLD, metric="none") == {}
    bad_calls = [
        {"metric": "bogus"},
        {"level": 0},
        {"level": 7},
        {"level": "3"},
        {"bbox": (1, 2, 3)},
        {"bbox": (10, 0, 0, 10)},  # inverted
        {"bbox": (0, 0, float("nan"), 1)},
        {"bbox": (-200, 0, 0, 1)},
        {"bbox": "0,0,1,1"},
        {"bbox": None},
        {"inside": "53 29"},
    ]
    for bad in bad_calls:
        kwargs = {
            "scope_path": PREFECTURE_PATH, "level": 3, "bbox": WORLD, "metric": "open", **bad,
        }  # fmt: skip
        with pytest.raises(ValueError):
            metric_values(conn, **kwargs)
    assert set(METRICS) == {
        "none", "open", "overdue", "rate30", "coverage", "staffing", "uncovered"
    }


def test_view_metric_values_follows_the_display_level(conn, frames):
    cells = frames[0]
    for zoom in (8, 10, 12, 14, 16):
        level, values = view_metric_values(
            conn, scope_path=PREFECTURE_PATH, zoom=zoom, bbox=WORLD, selected=None,
            metric="open", now=NOW,
        )  # fmt: skip
        assert level == display_level(zoom, None)
        assert set(values) == set(cells.loc[cells["level"] == level, "code"])
    # a selected county at a county zoom: its townships only
    level, values = view_metric_values(
        conn, scope_path=PREFECTURE_PATH, zoom=8, bbox=WORLD, selected="532901", metric="open",
        now=NOW,
    )  # fmt: skip
    assert level == display_level(8, 2) == 3
    assert values.keys() == _expected_metric(frames, 3, "open", scope=DALI_CITY).keys()
    # an unknown or out-of-scope selection counts as none; a malformed one is an error
    for sel in ("999999999", "532922"):
        level, _ = view_metric_values(
            conn, scope_path=DALI_CITY, zoom=8, bbox=WORLD, selected=sel, metric="open"
        )
        assert level == display_level(8, None)
    with pytest.raises(ValueError):
        view_metric_values(
            conn, scope_path=PREFECTURE_PATH, zoom=8, bbox=WORLD, selected="5329'", metric="open"
        )
