"""The vectorised multi-worker position pipeline (geodata.positions), on the session database in
a rolled-back transaction (``conn``)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sqlalchemy import text

from geodata.ingest import ingest_positions as reexported
from geodata.positions import (
    MAX_SPEED_MS,
    haversine_np,
    ingest_fleet_positions,
    ingest_positions,
    resolve_workers,
)

NOW = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
T0 = NOW - dt.timedelta(hours=1)


@pytest.fixture()
def fleet(conn):
    """Three active workers with a point inside their own cell, their current state cleared."""
    rows = conn.execute(
        text(
            """
            SELECT w.id, ST_X(ST_PointOnSurface(c.geom)) AS lon,
                   ST_Y(ST_PointOnSurface(c.geom)) AS lat
            FROM grid_worker w JOIN grid_cell c ON c.id = w.cell_id
            WHERE w.active ORDER BY w.id LIMIT 3
            """
        )
    ).all()
    ids = [r.id for r in rows]
    conn.execute(text("DELETE FROM worker_position WHERE worker_id = ANY(:i)"), {"i": ids})
    conn.execute(text("UPDATE grid_worker SET position = NULL, last_fix_at = NULL "
                      "WHERE id = ANY(:i)"), {"i": ids})  # fmt: skip
    return rows


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def state(conn, wid):
    return conn.execute(
        text("SELECT last_fix_at, ST_X(position) AS lon FROM grid_worker WHERE id = :w"),
        {"w": wid},
    ).one()


def stored(conn, wid) -> int:
    return conn.execute(text("SELECT count(*) FROM worker_position WHERE worker_id = :w"),
                        {"w": wid}).scalar_one()  # fmt: skip


def last_change(conn) -> int:
    return conn.execute(text("SELECT coalesce(max(id), 0) FROM live_change")).scalar_one()


def test_reexported_from_ingest():
    import geodata.ingest
    import geodata.positions

    assert reexported is ingest_positions
    # events and fixes share the clock-skew and speed limits (defined in both modules)
    assert geodata.positions.FUTURE_TOLERANCE == geodata.ingest.FUTURE_TOLERANCE
    assert geodata.positions.MAX_SPEED_MS == geodata.ingest.MAX_SPEED_MS


def test_haversine_np():
    d = haversine_np(np.array([100.0, 100.0]), np.array([25.0, 25.0]),
                     np.array([100.0, 101.0]), np.array([26.0, 25.0]))  # fmt: skip
    assert d[0] == pytest.approx(111_195, rel=1e-3)
    assert d[1] == pytest.approx(100_780, rel=2e-3)


def test_multi_worker_batch_one_insert_one_update(conn, fleet):
    a, b, c = fleet
    before = last_change(conn)
    fixes = [
        (0, a.id, at(0), a.lon, a.lat, 5.0),
        (1, b.id, at(0), b.lon, b.lat, None),
        (2, a.id, at(10), a.lon + 1e-4, a.lat, 5.0),
        (3, c.id, at(30), c.lon, c.lat, 3.0),
        (4, b.id, at(20), b.lon + 2e-4, b.lat, None),
        (5, a.id, at(10), a.lon + 1e-4, a.lat, 5.0),   # duplicate inside the batch
        (6, c.id, at(0), 0.0, 0.0, None),              # null island
        (7, c.id, at(0), 139.7, 35.7, None),           # outside China
        (8, c.id, NOW + dt.timedelta(minutes=5), c.lon, c.lat, None),  # future
    ]  # fmt: skip
    res = ingest_fleet_positions(conn, fixes, now=NOW)
    assert (res.accepted, res.duplicates) == (5, 1)
    assert {r["index"]: r["reason"] for r in res.rejected} == {
        6: "null_island", 7: "outside_china", 8: "future"}  # fmt: skip
    assert state(conn, a.id).last_fix_at == at(10)
    assert state(conn, a.id).lon == pytest.approx(a.lon + 1e-4)
    assert state(conn, b.id).last_fix_at == at(20)
    assert state(conn, c.id).last_fix_at == at(30)
    changes = conn.execute(text("SELECT kind, ids FROM live_change WHERE id > :i ORDER BY id"),
                           {"i": before}).all()  # fmt: skip
    assert changes == [("worker", sorted([a.id, b.id, c.id]))]  # one row for the batch


def test_resend_out_of_order_and_forward_only(conn, fleet):
    a, b, _ = fleet
    first = [(i, a.id, at(10 * i), a.lon + i * 1e-4, a.lat, None) for i in range(5)]
    assert ingest_fleet_positions(conn, first, now=NOW).accepted == 5
    before = last_change(conn)
    # a resend of two, an out-of-order fix between stored ones, one older than all
    res = ingest_fleet_positions(conn, [
        first[1], first[3],
        (7, a.id, at(15), a.lon + 1.5e-4, a.lat, None),
        (8, a.id, at(-60), a.lon, a.lat, None),
    ], now=NOW)  # fmt: skip
    assert (res.accepted, res.duplicates, res.rejected) == (2, 2, [])
    assert state(conn, a.id).last_fix_at == at(40)  # not moved back
    assert stored(conn, a.id) == 7
    assert last_change(conn) == before  # nothing moved forward: no UPDATE, no change row
    # out of order with an impossible jump relative to its stored neighbours
    res = ingest_fleet_positions(conn, [(0, a.id, at(25), a.lon + 0.5, a.lat, None)], now=NOW)
    assert res.rejected[0]["reason"] == "impossible_speed" and res.accepted == 0
    # the same batch moves b forward while a's fix is out of order
    res = ingest_fleet_positions(conn, [(0, a.id, at(35), a.lon + 3.5e-4, a.lat, None),
                                        (1, b.id, at(5), b.lon, b.lat, None)], now=NOW)  # fmt: skip
    assert res.accepted == 2
    assert state(conn, a.id).last_fix_at == at(40) and state(conn, b.id).last_fix_at == at(5)


def test_speed_checks_against_current_position_and_accepted_predecessor(conn, fleet):
    a, b, _ = fleet
    ingest_fleet_positions(conn, [(0, a.id, at(0), a.lon, a.lat, None),
                                  (1, b.id, at(0), b.lon, b.lat, None)], now=NOW)  # fmt: skip
    jump = 0.01  # ~1 km in longitude
    res = ingest_fleet_positions(conn, [
        (0, a.id, at(10), a.lon + jump, a.lat, None),         # ~100 m/s from the current one
        (1, a.id, at(20), a.lon + 1e-4, a.lat, None),         # fine vs. the current (not vs 0)
        (2, b.id, at(60), b.lon + jump, b.lat, None),         # ~17 m/s: a vehicle, fine
        (3, b.id, at(61), b.lon + 2 * jump, b.lat, None),     # ~1 km in 1 s
        (4, b.id, at(120), b.lon + 2 * jump, b.lat, None),    # ~17 m/s from 2 (3 rejected)
    ], now=NOW)  # fmt: skip
    assert sorted((r["index"], r["reason"]) for r in res.rejected) == [
        (0, "impossible_speed"), (3, "impossible_speed")]  # fmt: skip
    assert f"limit {MAX_SPEED_MS:.0f}" in res.rejected[0]["detail"]
    assert res.accepted == 3
    assert state(conn, a.id).last_fix_at == at(20)
    assert state(conn, b.id).last_fix_at == at(120)


def test_single_worker_wrapper_keeps_its_contract(conn, fleet):
    a = fleet[0]
    fixes = [(i, at(i), a.lon, a.lat, 1.0) for i in range(3)]
    res = ingest_positions(conn, a.id, fixes, now=NOW)
    assert (res.accepted, res.duplicates, res.rejected) == (3, 0, [])
    assert ingest_positions(conn, a.id, [], now=NOW).accepted == 0


def test_resolve_workers(conn, fleet):
    a = fleet[0]
    emp, path = conn.execute(
        text(
            "SELECT w.employee_no, ltree2text(c.path) FROM grid_worker w "
            "JOIN grid_cell c ON c.id = w.cell_id WHERE w.id = :w"
        ),
        {"w": a.id},
    ).one()
    root = path.split(".")[0]
    got = resolve_workers(conn, [emp, a.id, "NOPE", 10**12], root)
    assert got == {emp: (a.id, ""), a.id: (a.id, ""), "NOPE": (None, "unknown_worker"),
                   10**12: (None, "unknown_worker")}  # fmt: skip
    other = conn.execute(
        text("SELECT path FROM grid_cell WHERE level = 2 AND NOT CAST(:p AS ltree) <@ path "
             "LIMIT 1"), {"p": path}).scalar_one()  # fmt: skip
    assert resolve_workers(conn, [emp], str(other)) == {emp: (a.id, "forbidden")}


def test_concurrent_batches_for_the_same_workers(engine):
    """Two writers sending overlapping batches (input in opposite orders) neither deadlock nor
    move a current position backwards: the rows are locked in id order."""
    import threading

    with engine.begin() as conn:
        rows = conn.execute(
            text(
                "SELECT w.id, ST_X(ST_PointOnSurface(c.geom)) AS lon, "
                "ST_Y(ST_PointOnSurface(c.geom)) AS lat, w.position, w.last_fix_at "
                "FROM grid_worker w JOIN grid_cell c ON c.id = w.cell_id WHERE w.active "
                "ORDER BY w.id DESC LIMIT 4"
            )
        ).all()
    ids = [r.id for r in rows]
    base = NOW + dt.timedelta(days=30)  # after anything stored
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            for i in range(15):
                t = base + dt.timedelta(seconds=2 * i + k)
                batch = [(j, r.id, t, r.lon, r.lat, None) for j, r in enumerate(rows)]
                with engine.begin() as conn:
                    ingest_fleet_positions(conn, batch[::-1] if k else batch, now=t)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in (0, 1)]
    try:
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        assert not errors, errors
        with engine.connect() as conn:
            last = conn.execute(text("SELECT DISTINCT last_fix_at FROM grid_worker "
                                     "WHERE id = ANY(:i)"), {"i": ids}).scalars().all()  # fmt: skip
            n = conn.execute(
                text("SELECT count(*) FROM worker_position WHERE worker_id = ANY(:i) "
                     "AND fix_time >= :t"), {"i": ids, "t": base}).scalar_one()  # fmt: skip
        assert last == [base + dt.timedelta(seconds=29)] and n == 4 * 30
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM worker_position WHERE worker_id = ANY(:i) "
                              "AND fix_time >= :t"), {"i": ids, "t": base})  # fmt: skip
            for r in rows:
                conn.execute(text("UPDATE grid_worker SET position = :p, last_fix_at = :t "
                                  "WHERE id = :i"), {"p": r.position, "t": r.last_fix_at,
                                                     "i": r.id})  # fmt: skip
