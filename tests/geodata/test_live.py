"""The live change log and feed (geodata/live.py, triggers of migration 0004) on real PostGIS.

Tests that need COMMIT (notifications, lock ordering) use their own seeded database; the
others run in the rolled-back ``conn`` of the session database.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import psycopg
import pytest
from sqlalchemy import text

from api.live import libpq_url
from geodata import live
from tests.conftest import engine_on

PREF = "532900"


@pytest.fixture(scope="module")
def write_engine(seeded_database):
    """A seeded database of this module's own: these tests commit."""
    with engine_on(seeded_database("gridcmd_live")) as eng:
        yield eng


def _county_paths(conn) -> list[str]:
    return list(
        conn.execute(text("SELECT ltree2text(path) FROM grid_cell WHERE level = 2 ORDER BY code"))
        .scalars()
    )  # fmt: skip


def _decode_workers(part: dict, origin: list[float]) -> dict[int, tuple[float, float, int, int]]:
    ids = live.decode_ids(part["i"])
    return {
        i: (origin[0] + x * live.QUANTUM, origin[1] + y * live.QUANTUM, a, s)
        for i, x, y, a, s in zip(ids, part["x"], part["y"], part["a"], part["s"], strict=True)
    }


def test_encode_decode_ids_roundtrip():
    ids = [3, 4, 9, 1000, 1001, 25_884]
    enc = live.encode_ids(ids)
    assert enc == [3, 1, 5, 991, 1, 24_883]
    assert live.decode_ids(enc) == ids
    assert live.decode_ids(live.encode_ids([])) == []


def test_snapshot_holds_every_positioned_worker_of_the_scope(conn):
    snap = live.snapshot(conn, scope_path=PREF)
    got = _decode_workers(snap["workers"], snap["origin"])
    rows = conn.execute(
        text(
            "SELECT id, ST_X(position) AS x, ST_Y(position) AS y, duty_status FROM grid_worker "
            "WHERE active AND position IS NOT NULL"
        )
    ).all()
    assert set(got) == {r.id for r in rows}
    for r in rows:
        lon, lat, _age, duty = got[r.id]
        assert abs(lon - r.x) <= live.QUANTUM / 2 + 1e-12
        assert abs(lat - r.y) <= live.QUANTUM / 2 + 1e-12
        assert duty == live.DUTY_CODES[r.duty_status]
    assert snap["cursor"] == live.latest_change_id(conn)


def test_snapshot_is_scoped_to_the_subtree(conn):
    county = _county_paths(conn)[0]
    snap = live.snapshot(conn, scope_path=county)
    got = set(live.decode_ids(snap["workers"]["i"]))
    expected = set(
        conn.execute(
            text(
                "SELECT w.id FROM grid_worker w JOIN grid_cell c ON c.id = w.cell_id "
                "WHERE c.path <@ CAST(:p AS ltree) AND w.active AND w.position IS NOT NULL"
            ),
            {"p": county},
        ).scalars()
    )
    assert got == expected and len(got) > 0
    all_workers = conn.execute(text("SELECT count(*) FROM grid_worker")).scalar_one()
    assert len(got) < all_workers
    ev_ids = set(live.decode_ids(snap["events"]["i"]))
    outside = conn.execute(
        text(
            "SELECT count(*) FROM event e JOIN grid_cell c ON c.id = e.cell_id "
            "WHERE e.id = ANY(:ids) AND NOT c.path <@ CAST(:p AS ltree)"
        ),
        {"ids": sorted(ev_ids), "p": county},
    ).scalar_one()
    assert outside == 0


def test_one_log_row_per_statement_and_changes_return_current_state(conn):
    cursor = live.latest_change_id(conn)
    ids = list(
        conn.execute(
            text("SELECT id FROM grid_worker WHERE position IS NOT NULL ORDER BY id LIMIT 50")
        ).scalars()
    )
    conn.execute(
        text(
            "UPDATE grid_worker SET position = ST_SetSRID(ST_MakePoint(100.2, 25.6), 4326), "
            "last_fix_at = now() WHERE id = ANY(:ids)"
        ),
        {"ids": ids},
    )
    log_rows = conn.execute(
        text("SELECT kind, ids FROM live_change WHERE id > :c"), {"c": cursor}
    ).all()
    assert [(r.kind, sorted(r.ids)) for r in log_rows] == [("worker", sorted(ids))]

    delta = live.changes(conn, scope_path=PREF, cursor=cursor)
    assert delta["cursor"] > cursor
    got = _decode_workers(delta["workers"], delta["origin"])
    assert set(got) == set(ids)
    for lon, lat, age, _duty in got.values():
        assert abs(lon - 100.2) < 1e-5 and abs(lat - 25.6) < 1e-5
        assert 0 <= age <= 5
    # Nothing new after the returned cursor.
    again = live.changes(conn, scope_path=PREF, cursor=delta["cursor"])
    assert "workers" not in again and again["cursor"] == delta["cursor"]


def test_changes_outside_the_scope_are_not_sent(conn):
    a, b = _county_paths(conn)[:2]
    cursor = live.latest_change_id(conn)
    wid = conn.execute(
        text(
            "SELECT w.id FROM grid_worker w JOIN grid_cell c ON c.id = w.cell_id "
            "WHERE c.path <@ CAST(:p AS ltree) AND w.position IS NOT NULL LIMIT 1"
        ),
        {"p": a},
    ).scalar_one()
    conn.execute(text("UPDATE grid_worker SET last_fix_at = now() WHERE id = :w"), {"w": wid})
    mine = live.changes(conn, scope_path=a, cursor=cursor)
    theirs = live.changes(conn, scope_path=b, cursor=cursor)
    assert live.decode_ids(mine["workers"]["i"]) == [wid]
    assert "workers" not in theirs or live.decode_ids(theirs["workers"]["i"]) == []
    assert theirs["cursor"] == mine["cursor"] > cursor


def test_event_insert_and_update_are_logged(conn):
    cursor = live.latest_change_id(conn)
    eid = conn.execute(text("SELECT id FROM event ORDER BY id LIMIT 1")).scalar_one()
    before = conn.execute(text("SELECT updated_at FROM event WHERE id = :e"), {"e": eid}).scalar()
    conn.execute(text("UPDATE event SET status = 'accepted' WHERE id = :e"), {"e": eid})
    after = conn.execute(text("SELECT updated_at FROM event WHERE id = :e"), {"e": eid}).scalar()
    assert after >= before  # touched by the BEFORE UPDATE trigger
    delta = live.changes(conn, scope_path=PREF, cursor=cursor)
    ev = delta["events"]
    assert live.decode_ids(ev["i"]) == [eid]
    assert live.vocabulary()["statuses"][ev["s"][0]] == "accepted"


def test_overdue_and_supervised_flags(conn):
    """``o`` (open and past due) and ``u`` (open and under 督办) per event, 0/1."""
    cursor = live.latest_change_id(conn)
    a, b, c = conn.execute(text("SELECT id FROM event ORDER BY id LIMIT 3")).scalars().all()
    conn.execute(
        text(
            "UPDATE event SET status = CASE WHEN id = :c THEN 'closed' ELSE 'dispatched' END, "
            "due_at = now() - interval '1 hour', supervised_at = CASE WHEN id = :a THEN NULL "
            "ELSE now() END WHERE id = ANY(:ids)"
        ),
        {"a": a, "c": c, "ids": [a, b, c]},
    )
    ev = live.changes(conn, scope_path=PREF, cursor=cursor)["events"]
    flags = dict(zip(live.decode_ids(ev["i"]), zip(ev["o"], ev["u"], strict=True), strict=True))
    assert flags == {a: (1, 0), b: (1, 1), c: (0, 0)}


def test_far_behind_or_pruned_cursor_asks_for_a_reset(conn):
    cursor = live.latest_change_id(conn)
    conn.execute(
        text(
            "INSERT INTO live_change (kind, ids) "
            "SELECT 'event', ARRAY[1]::bigint[] FROM generate_series(1, :n)"
        ),
        {"n": live.MAX_CHANGE_ROWS + 1},
    )
    with pytest.raises(live.LiveReset):
        live.changes(conn, scope_path=PREF, cursor=cursor)
    # A recent cursor is still served.
    top = live.latest_change_id(conn)
    assert live.changes(conn, scope_path=PREF, cursor=top - 1)["cursor"] == top

    conn.execute(text("UPDATE live_change SET at = now() - interval '3 hours'"))
    n = live.prune(conn, keep=dt.timedelta(hours=2))
    assert n >= live.MAX_CHANGE_ROWS + 1
    assert conn.execute(text("SELECT count(*) FROM live_change")).scalar_one() == 0
    with pytest.raises(live.LiveReset, match="older"):
        live.changes(conn, scope_path=PREF, cursor=cursor)
    assert live.changes(conn, scope_path=PREF, cursor=top)["cursor"] == top


def test_bad_cursor_and_scope_are_value_errors(conn):
    with pytest.raises(ValueError):
        live.changes(conn, scope_path=PREF, cursor=-1)
    with pytest.raises(ValueError):
        live.changes(conn, scope_path=PREF, cursor="5")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        live.snapshot(conn, scope_path="532900; DROP TABLE event")
    with pytest.raises(ValueError):
        live.snapshot(conn, scope_path=PREF, kinds=("cameras",))


def test_details_are_scoped(conn):
    a, b = _county_paths(conn)[:2]
    ev = conn.execute(
        text(
            "SELECT e.id FROM event e JOIN grid_cell c ON c.id = e.cell_id "
            "WHERE c.path <@ CAST(:p AS ltree) LIMIT 1"
        ),
        {"p": a},
    ).scalar_one()
    detail = live.event_detail(conn, scope_path=a, event_id=ev)
    assert detail is not None and detail["id"] == ev and detail["history"]
    assert live.event_detail(conn, scope_path=b, event_id=ev) is None
    assert live.event_detail(conn, scope_path=a, event_id=2**62) is None
    wid = conn.execute(
        text(
            "SELECT w.id FROM grid_worker w JOIN grid_cell c ON c.id = w.cell_id "
            "WHERE c.path <@ CAST(:p AS ltree) AND w.active LIMIT 1"
        ),
        {"p": a},
    ).scalar_one()
    w = live.worker_detail(conn, scope_path=a, worker_id=wid)
    assert w is not None and "phone" not in w
    assert live.worker_detail(conn, scope_path=b, worker_id=wid) is None


def test_worker_track_period_order_and_thinning(conn, monkeypatch):
    wid, first, last, n = conn.execute(
        text(
            "SELECT worker_id, min(fix_time), max(fix_time), count(*) FROM worker_position "
            "GROUP BY worker_id HAVING count(*) >= 5 ORDER BY count(*) DESC LIMIT 1"
        )
    ).one()
    since, until = first, last + dt.timedelta(seconds=1)
    if until - since > live.MAX_TRACK_SPAN:
        since = until - live.MAX_TRACK_SPAN
    track = live.worker_track(conn, scope_path=PREF, worker_id=wid, since=since, until=until)
    times = [dt.datetime.fromisoformat(x) for x in track["times"]]
    assert times == sorted(times) and len(times) == len(track["coords"]) >= 2
    assert not track["thinned"]
    monkeypatch.setattr(live, "MAX_TRACK_POINTS", 3)
    thin = live.worker_track(conn, scope_path=PREF, worker_id=wid, since=since, until=until)
    assert thin["thinned"] and len(thin["coords"]) == 3
    assert thin["times"][0] == track["times"][0] and thin["times"][-1] == track["times"][-1]
    with pytest.raises(ValueError):
        live.worker_track(conn, scope_path=PREF, worker_id=wid, since=until, until=since)
    with pytest.raises(ValueError):
        live.worker_track(
            conn, scope_path=PREF, worker_id=wid, since=since, until=since + dt.timedelta(days=8)
        )
    with pytest.raises(ValueError):
        live.worker_track(
            conn, scope_path=PREF, worker_id=wid, since=since.replace(tzinfo=None), until=until
        )


def test_notification_once_per_statement_after_commit(write_engine):
    with psycopg.connect(libpq_url(write_engine), autocommit=True) as listener:
        listener.execute(f"LISTEN {live.CHANNEL}")
        with write_engine.begin() as c:
            c.execute(text("UPDATE grid_worker SET last_fix_at = now() WHERE id <= 40"))
            c.execute(text("UPDATE grid_worker SET last_fix_at = now() WHERE id <= 40"))
        notes = []
        for note in listener.notifies(timeout=2.0):
            notes.append(int(note.payload))
            if len(notes) == 2:
                break
    with write_engine.connect() as c:
        rows = c.execute(
            text("SELECT id, cardinality(ids) FROM live_change WHERE id = ANY(:n) ORDER BY id"),
            {"n": notes},
        ).all()
    assert len(notes) == 2 and notes == sorted(notes)
    assert [r[1] for r in rows] == [40, 40]


def test_log_ids_commit_in_order(write_engine):
    """A writer that logged first blocks a later writer until it commits, so a reader never
    sees id N+1 before id N (the browser's cursor cannot skip a late commit)."""
    with write_engine.connect() as c:
        ids = list(c.execute(text("SELECT id FROM grid_worker ORDER BY id LIMIT 2")).scalars())
    c1 = write_engine.connect()
    t1 = c1.begin()
    c1.execute(text("UPDATE grid_worker SET last_fix_at = now() WHERE id = :w"), {"w": ids[0]})
    first = c1.execute(text("SELECT max(id) FROM live_change")).scalar_one()
    done: dict[str, int] = {}

    def second_writer() -> None:
        with write_engine.begin() as c2:
            c2.execute(
                text("UPDATE grid_worker SET last_fix_at = now() WHERE id = :w"), {"w": ids[1]}
            )
            done["id"] = c2.execute(text("SELECT max(id) FROM live_change")).scalar_one()

    th = threading.Thread(target=second_writer)
    th.start()
    # The second writer is waiting on the log's advisory lock while the first is open.
    with write_engine.connect() as probe:
        waited = False
        for _ in range(100):
            waiting = probe.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                )
            ).scalar_one()
            if waiting:
                waited = True
                break
            time.sleep(0.05)
    assert waited and "id" not in done
    t1.commit()
    c1.close()
    th.join(timeout=10)
    assert done["id"] > first
