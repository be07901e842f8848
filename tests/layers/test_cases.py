"""layers.cases (pure): candidate GeoJSON, distance and age formatting; and the countdown
text of dashboard.cases that cases.js mirrors in the browser."""

from __future__ import annotations

import pytest

from dashboard.cases import countdown_text
from layers.cases import (
    PRIORITY_COLORS,
    candidate_collection,
    candidates_layer,
    format_age,
    format_distance,
)


def _cand(rank: int, lon: float | None = 100.2, **kw) -> dict:
    return {"worker_id": 10 + rank, "rank": rank, "name": f"<b>w{rank}</b>", "lon": lon,
            "lat": 25.6, "stale": False, "responsible": rank == 1, **kw}  # fmt: skip


def test_candidate_collection_event_first_then_ranked_workers_with_positions():
    event = {"id": 7, "lon": 100.21, "lat": 25.61, "priority": "red"}
    fc = candidate_collection(event, [_cand(1), _cand(2, lon=None), _cand(3, stale=True)])
    roles = [(f["properties"]["role"], f["properties"].get("rank")) for f in fc["features"]]
    assert roles == [("event", None), ("worker", 1), ("worker", 3)]
    assert fc["features"][0]["properties"]["color"] == PRIORITY_COLORS["red"]
    assert fc["features"][2]["properties"]["stale"] is True
    # Names travel as data; cases.js escapes them.
    assert fc["features"][1]["properties"]["name"] == "<b>w1</b>"


def test_candidate_collection_empty_without_event():
    assert candidate_collection(None, [_cand(1)])["features"] == []
    assert candidate_collection({"id": 1, "lon": None, "lat": None}, [])["features"] == []


def test_candidates_layer_uses_the_assets_function():
    layer = candidates_layer(id="x")
    assert layer.pointToLayer == {"variable": "gridcmdCases.marker"}
    assert layer.data["features"] == []


@pytest.mark.parametrize(
    ("metres", "text"),
    [(None, "—"), (0, "0 m"), (849.6, "850 m"), (1000, "1.0 km"), (2345, "2.3 km"),
     (12_600, "13 km")],
)  # fmt: skip
def test_format_distance(metres, text):
    assert format_distance(metres) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "—"), (-5, "0 s"), (45, "45 s"), (720, "12 min"), (3 * 3600, "3 h"),
     (2 * 86400, "2 d")],
)  # fmt: skip
def test_format_age(seconds, text):
    assert format_age(seconds) == text


def test_countdown_text_left_and_overdue_in_both_languages():
    now = "2026-11-20T08:00:00+00:00"
    assert countdown_text("2026-11-20T10:05:00+00:00", now, "zh") == "剩余 2小时5分"
    assert countdown_text("2026-11-20T04:48:00+00:00", now, "zh") == "已超期 3小时12分"
    assert countdown_text("2026-11-20T08:00:30+00:00", now, "en") == "0 min 30 s left"
    assert countdown_text("2026-11-18T05:00:00+00:00", now, "en") == "Overdue by 2 d 3 h"
    assert countdown_text(None, now, "zh") == "—"
