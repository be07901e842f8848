"""geodata.live against the seeded fixture: scope filtering, filters, stale classification,
tracks, details and the cross-process change feed (a change committed through a *separate
engine* — another process's view of the database — is seen, and only changes are returned)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import text

from geodata import live
from geodata.cells import PREFECTURE_PATH
from geodata.db import make_engine
from tests.conftest import FIXTURE_NOW

NOW = FIXTURE_NOW


@pytest.fixture(scope="module")
def county(engine) -> str:
    """The path of the county with the most events."""
    with engine.connect() as c:
        return c.execute(
            text(
                "SELECT subpath(g.path, 0, 2)::text FROM event e "
                "JOIN grid_cell g ON g.id = e.cell_id GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
            )
        ).scalar_one()


def _ids(fc: dict) -> set[int]:
    return {f["properties"]["id"] for f in fc["features"]}


def test_events_are_scoped_through_their_cell(conn, county):
    everything = live.events_geojson(conn, scope_path=PREFECTURE_PATH, limit=20_000)
    scoped = live.events_geojson(conn, scope_path=county, limit=20_000)
    expected = set(
        conn.execute(
            text(
                "SELECT e.id FROM event e JOIN grid_cell g ON g.id = e.cell_id "
                "WHERE g.path <@ CAST(:p AS ltree)"
            ),
            {"p": county},
        ).scalars()
    )
    assert _ids(scoped) == expected
    assert 0 < len(expected) < len(_ids(everything))
    f = scoped["features"][0]
    assert f["geometry"]["type"] == "Point"
    assert set(f["properties"]) == {
        "id", "uuid", "category", "status", "severity", "title", "reported_at", "overdue",
    }  # fmt: skip
    assert live.events_geojson(conn, scope_path="532900.999999")["features"] == []


def test_event_filters(conn):
    total = conn.execute(text("SELECT count(*) FROM event")).scalar_one()
    cat = live.events_geojson(
        conn, scope_path=PREFECTURE_PATH, categories=["dispute"], limit=20_000
    )
    assert cat["features"] and {f["properties"]["category"] for f in cat["features"]} == {"dispute"}
    sts = live.events_geojson(
        conn, scope_path=PREFECTURE_PATH, statuses=["closed", "resolved"], limit=20_000
    )
    assert {f["properties"]["status"] for f in sts["features"]} <= {"closed", "resolved"}
    since = NOW - dt.timedelta(days=7)
    recent = live.events_geojson(conn, scope_path=PREFECTURE_PATH, since=since, limit=20_000)
    n = conn.execute(
        text("SELECT count(*) FROM event WHERE reported_at >= :s"), {"s": since}
    ).scalar_one()
    assert len(recent["features"]) == n
    assert all(f["properties"]["reported_at"] >= since.isoformat()[:10]
               for f in recent["features"])  # fmt: skip
    capped = live.events_geojson(conn, scope_path=PREFECTURE_PATH, limit=3)
    assert len(capped["features"]) == 3 and capped["truncated"] is (total > 3)
    # bbox: a tiny box around one event finds it
    f = capped["features"][0]
    x, y = f["geometry"]["coordinates"]
    boxed = live.events_geojson(
        conn, scope_path=PREFECTURE_PATH, bbox=(x - 1e-4, y - 1e-4, x + 1e-4, y + 1e-4)
    )
    assert f["properties"]["id"] in _ids(boxed)
    assert live.events_geojson(conn, scope_path=PREFECTURE_PATH, categories=[])["features"] == []


@pytest.mark.parametrize(
    "kw",
    [
        {"categories": ["nope"]},
        {"statuses": ["open; DROP TABLE event"]},
        {"bbox": (1, 2, 3)},
        {"bbox": (10, 10, 5, 5)},
        {"bbox": (float("nan"), 0, 1, 1)},
        {"limit": 0},
        {"limit": True},
        {"since": dt.datetime(2026, 1, 1)},  # naive
        {"scope_path": "532900; --"},
    ],
)
def test_events_reject_bad_input(conn, kw):
    args = {"scope_path": PREFECTURE_PATH, **kw}
    with pytest.raises(ValueError):
        live.events_geojson(conn, **args)


def test_overdue_flag(conn):
    fc = live.events_geojson(conn, scope_path=PREFECTURE_PATH, limit=20_000, now=NOW)
    overdue = {f["properties"]["id"] for f in fc["features"] if f["properties"]["overdue"]}
    expected = set(
        conn.execute(
            text(
                "SELECT id FROM event WHERE due_at < :now AND status IN "
                "('reported','accepted','dispatched','in_progress','returned','escalated')"
            ),
            {"now": NOW},
        ).scalars()
    )
    assert overdue == expected


def test_worker_status_classification():
    assert live.worker_status("on_duty", 10, 900) == "on_duty"
    assert live.worker_status("on_duty", 901, 900) == "stale"
    assert live.worker_status("on_duty", None, 900) == "stale"
    assert live.worker_status("off_duty", 10, 900) == "off_duty"
    assert live.worker_status("on_leave", 10, 900) == "off_duty"


def test_workers_scoped_and_stale(conn, county):
    wid = conn.execute(
        text(
            "SELECT w.id FROM grid_worker w JOIN grid_cell g ON g.id = w.cell_id "
            "WHERE g.path <@ CAST(:p AS ltree) AND w.active AND w.position IS NOT NULL "
            "ORDER BY w.id LIMIT 1"
        ),
        {"p": county},
    ).scalar_one()
    conn.execute(
        text("UPDATE grid_worker SET duty_status = 'on_duty', last_fix_at = :t WHERE id = :id"),
        {"t": NOW - dt.timedelta(seconds=60), "id": wid},
    )
    fc = live.workers_geojson(conn, scope_path=county, now=NOW, stale_after_s=900)
    by_id = {f["properties"]["id"]: f["properties"] for f in fc["features"]}
    assert by_id[wid]["status"] == "on_duty" and by_id[wid]["fix_age_s"] == 60
    fc = live.workers_geojson(conn, scope_path=county, now=NOW, stale_after_s=30)
    assert {f["properties"]["id"]: f["properties"] for f in fc["features"]}[wid]["status"] == (
        "stale"
    )
    in_scope = set(
        conn.execute(
            text(
                "SELECT w.id FROM grid_worker w JOIN grid_cell g ON g.id = w.cell_id "
                "WHERE g.path <@ CAST(:p AS ltree) AND w.active AND w.position IS NOT NULL"
            ),
            {"p": county},
        ).scalars()
    )
    assert set(by_id) == in_scope
    with pytest.raises(ValueError):
        live.workers_geojson(conn, scope_path=county, stale_after_s=-1)


def test_worker_track_and_scope(conn, county):
    wid = conn.execute(
        text(
            "SELECT p.worker_id FROM worker_position p JOIN grid_worker w ON w.id = p.worker_id "
            "JOIN grid_cell g ON g.id = w.cell_id WHERE g.path <@ CAST(:p AS ltree) "
            "GROUP BY 1 HAVING count(*) >= 2 ORDER BY 1 LIMIT 1"
        ),
        {"p": county},
    ).scalar_one()
    lo, hi, n = conn.execute(
        text(
            "SELECT min(fix_time), max(fix_time), count(*) FROM worker_position "
            "WHERE worker_id = :w"
        ),  # fmt: skip
        {"w": wid},
    ).one()
    track = live.worker_track(
        conn, scope_path=county, worker_id=wid, since=lo, until=hi + dt.timedelta(seconds=1)
    )
    assert track["geometry"]["type"] == "LineString"
    assert len(track["geometry"]["coordinates"]) == n == len(track["properties"]["times"])
    assert track["properties"]["times"] == sorted(track["properties"]["times"])
    other = conn.execute(
        text(
            "SELECT subpath(path, 0, 2)::text FROM grid_cell WHERE level = 2 "
            "AND path::text <> :p LIMIT 1"
        ),
        {"p": county},
    ).scalar_one()
    assert live.worker_track(conn, scope_path=other, worker_id=wid, since=lo, until=hi) is None
    empty = live.worker_track(
        conn, scope_path=county, worker_id=wid, since=hi + dt.timedelta(days=1),
        until=hi + dt.timedelta(days=2),
    )  # fmt: skip
    assert empty["geometry"] is None
    with pytest.raises(ValueError):
        live.worker_track(conn, scope_path=county, worker_id=wid, since=hi, until=lo)
    with pytest.raises(ValueError):
        live.worker_track(conn, scope_path=county, worker_id="1", since=lo, until=hi)


def test_event_detail_scope(conn, county):
    eid = conn.execute(
        text(
            "SELECT e.id FROM event e JOIN grid_cell g ON g.id = e.cell_id "
            "WHERE g.path <@ CAST(:p AS ltree) LIMIT 1"
        ),
        {"p": county},
    ).scalar_one()
    d = live.event_detail(conn, scope_path=county, event_id=eid)
    assert d["id"] == eid and d["cell_name"] and "description" in d
    other = conn.execute(
        text("SELECT path::text FROM grid_cell WHERE level = 2 AND path::text <> :p LIMIT 1"),
        {"p": county},
    ).scalar_one()
    assert live.event_detail(conn, scope_path=other, event_id=eid) is None
    assert live.event_detail(conn, scope_path=county, event_id=2**62) is None


@pytest.mark.parametrize("cursor", ["yesterday", "2026-11-01T00:00:00", "x" * 100, 5])
def test_changes_since_rejects_bad_cursor(conn, cursor):
    with pytest.raises(ValueError):
        live.changes_since(conn, scope_path=PREFECTURE_PATH, cursor=cursor)


def _insert_event(c, cell_id: int, lon: float, lat: float, title: str) -> int:
    return c.execute(
        text(
            """
            INSERT INTO event (uuid, category, severity, title, description, location, cell_id,
                               status, reported_at, version, synthetic, updated_at)
            VALUES (:u, 'dispute', 'high', :title, '', ST_SetSRID(ST_MakePoint(:x, :y), 4326),
                    :cell, 'reported', now(), 1, true, clock_timestamp())
            RETURNING id
            """
        ),
        {"u": str(uuid.uuid4()), "title": title, "x": lon, "y": lat, "cell": cell_id},
    ).scalar_one()


def test_changes_since_sees_another_process_and_only_changes(engine, db_url, county):
    """Cursor semantics across processes: a second engine (its own pool, as another gunicorn
    worker or host would have) commits an event and a position; the first engine's feed sees
    exactly those, then nothing more."""
    other = make_engine(db_url)
    with engine.connect() as c:
        cursor, ev, wk = live.changes_since(c, scope_path=PREFECTURE_PATH, cursor=None)
    assert cursor and ev == [] and wk == []
    with engine.connect() as c:
        assert live.changes_since(c, scope_path=PREFECTURE_PATH, cursor=cursor)[1:] == ([], [])
    with other.connect() as c:
        cell_id, lon, lat = c.execute(
            text(
                "SELECT id, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) "
                "FROM grid_cell WHERE level = 6 AND path <@ CAST(:p AS ltree) LIMIT 1"
            ),
            {"p": county},
        ).one()
        worker = c.execute(
            text(
                "SELECT id, last_fix_at, position FROM grid_worker WHERE position IS NOT NULL "
                "ORDER BY id LIMIT 1"
            ),  # fmt: skip
        ).one()
    try:
        with other.begin() as c:
            eid = _insert_event(c, cell_id, lon, lat, "cross-process test")
            c.execute(
                text("UPDATE grid_worker SET last_fix_at = clock_timestamp() WHERE id = :id"),
                {"id": worker.id},
            )
        with engine.connect() as c:
            new_cursor, ev, wk = live.changes_since(c, scope_path=PREFECTURE_PATH, cursor=cursor)
            assert ev == [eid] and wk == [worker.id]
            assert new_cursor > cursor
            # a scope that does not contain the event does not see it
            out = c.execute(
                text(
                    "SELECT path::text FROM grid_cell WHERE level = 2 AND path::text <> :p LIMIT 1"
                ),  # fmt: skip
                {"p": county},
            ).scalar_one()
            assert eid not in live.changes_since(c, scope_path=out, cursor=cursor)[1]
            # nothing new after the new cursor
            again = live.changes_since(c, scope_path=PREFECTURE_PATH, cursor=new_cursor)
            assert again == (new_cursor, [], [])
            # the delta for a map: only the changed rows, filtered
            _, delta = live.live_delta(c, scope_path=PREFECTURE_PATH, cursor=cursor)
            assert [f["properties"]["id"] for f in delta["events"]["features"]] == [eid]
            assert delta["events"]["removed"] == []
            _, delta = live.live_delta(
                c, scope_path=PREFECTURE_PATH, cursor=cursor, categories=["environment"]
            )
            assert delta["events"] == {"features": [], "removed": [eid]}
            assert live.live_delta(c, scope_path=PREFECTURE_PATH, cursor=new_cursor)[1] is None
    finally:
        with other.begin() as c:
            c.execute(text("DELETE FROM event WHERE title = 'cross-process test'"))
            c.execute(
                text("UPDATE grid_worker SET last_fix_at = :t WHERE id = :id"),
                {"t": worker.last_fix_at, "id": worker.id},
            )
        other.dispose()
