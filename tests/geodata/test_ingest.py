"""The shared write pipeline (geodata.ingest), on the session database inside a rolled-back
transaction (the ``conn`` fixture), so nothing stays behind."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import text

from geodata.ingest import (
    IngestError,
    check_fix,
    clean_text,
    haversine_m,
    ingest_event,
    ingest_positions,
    payload_hash,
)

NOW = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)


@pytest.fixture()
def inside(conn):
    r = conn.execute(
        text(
            "SELECT ST_X(p) AS lon, ST_Y(p) AS lat FROM (SELECT ST_PointOnSurface(geom) AS p "
            "FROM grid_cell WHERE level = 6 ORDER BY code LIMIT 1) s"
        )
    ).one()
    return r.lon, r.lat


def body(lon, lat, **over):
    b = {"uuid": str(uuid.uuid4()), "category": "environment", "subcategory": None,
         "severity": "high", "difficulty": None, "title": "垃圾堆放", "description": "",
         "lon": lon, "lat": lat, "crs": "wgs84", "reported_at": None}  # fmt: skip
    b.update(over)
    return b


def test_clean_text():
    assert clean_text("a\x00b\x1fc\x7f\n\t😀大理\ud800") == "abc\n\t😀大理"


def test_payload_hash_is_order_independent():
    assert payload_hash({"a": 1, "b": "理"}) == payload_hash({"b": "理", "a": 1})
    assert payload_hash({"a": 1}) != payload_hash({"a": 2})


def test_haversine():
    assert haversine_m(100.0, 25.0, 100.0, 26.0) == pytest.approx(111_195, rel=1e-3)


def test_event_pipeline_without_worker(conn, inside):
    b = body(*inside)
    res = ingest_event(conn, b, worker_id=None, now=NOW)
    assert res.created and res.event["severity"] == "high"
    assert not ingest_event(conn, b, worker_id=None, now=NOW).created
    actor = conn.execute(
        text("SELECT a.actor_type FROM event_action a JOIN event e ON e.id = a.event_id "
             "WHERE e.uuid = :u"), {"u": b["uuid"]},
    ).scalar_one()  # fmt: skip
    assert actor == "system"
    with pytest.raises(IngestError) as exc:
        ingest_event(conn, {**b, "severity": "low"}, worker_id=None, now=NOW)
    assert exc.value.status == 409


def test_event_outside_is_422(conn):
    with pytest.raises(IngestError) as exc:
        ingest_event(conn, body(116.4, 39.9), worker_id=None, now=NOW)
    assert exc.value.status == 422 and "outside the prefecture" in exc.value.detail


@pytest.mark.parametrize(
    "lon,lat,t,reason",
    [
        (100.2, 25.6, NOW + dt.timedelta(minutes=3), "future"),
        (0.0, 0.0, NOW, "null_island"),
        (25.6, 100.2, NOW, "invalid_coordinates"),
        (139.7, 35.7, NOW, "outside_china"),
        (100.2, 25.6, NOW + dt.timedelta(minutes=1), ""),
    ],
)
def test_check_fix(lon, lat, t, reason):
    assert check_fix(lon, lat, t, NOW)[0] == reason


def test_positions_pipeline(conn, inside):
    w = conn.execute(text("SELECT id FROM grid_worker ORDER BY id LIMIT 1")).scalar_one()
    lon, lat = inside
    t0 = NOW - dt.timedelta(minutes=30)
    fixes = [(i, t0 + dt.timedelta(seconds=10 * i), lon + i * 1e-4, lat, 5.0) for i in range(5)]
    res = ingest_positions(conn, w, fixes, now=NOW)
    assert (res.accepted, res.duplicates, res.rejected) == (5, 0, [])
    res = ingest_positions(conn, w, fixes[:2] + [(9, t0 - dt.timedelta(hours=1), lon, lat, None)],
                           now=NOW)  # fmt: skip
    assert (res.accepted, res.duplicates) == (1, 2)
    last = conn.execute(text("SELECT last_fix_at FROM grid_worker WHERE id = :w"),
                        {"w": w}).scalar_one()  # fmt: skip
    assert last == t0 + dt.timedelta(seconds=40)
