"""Nearest-worker recommendation (geodata.dispatch) against a brute-force Python reference on
random data (workers moved, rostered and loaded at random inside the rolled-back ``conn``)."""

from __future__ import annotations

import datetime as dt
import math
import random

import pytest
from pyproj import Geod
from sqlalchemy import text

from geodata import dispatch
from geodata.dispatch import recommend_workers
from gridcmd.vocab import OPEN_STATUSES

GEOD = Geod(ellps="WGS84")
NOW = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)
STALE_S = 900


def _in(path: str, scope: str) -> bool:
    return path == scope or path.startswith(scope + ".")


def brute_force(conn, event_id: int, scope: str, limit: int, now: dt.datetime = NOW,
                stale_after_s: float = STALE_S) -> list[tuple[int, float | None]]:  # fmt: skip
    """The documented ranking computed from *all* workers: (worker id, distance m) in order."""
    ev = conn.execute(
        text("SELECT ST_X(e.location) x, ST_Y(e.location) y, c.path::text p FROM event e "
             "JOIN grid_cell c ON c.id = e.cell_id WHERE e.id = :i"), {"i": event_id}
    ).one()  # fmt: skip
    load: dict[int, int] = dict(
        conn.execute(
            text("SELECT assignee_id, count(*) FROM event WHERE assignee_id IS NOT NULL "
                 "AND status = ANY(:o) GROUP BY 1"), {"o": list(OPEN_STATUSES)}
        ).all()
    )  # fmt: skip
    workers = conn.execute(
        text("SELECT w.id, w.active, w.duty_status, w.last_fix_at, ST_X(w.position) x, "
             "ST_Y(w.position) y, c.path::text p, c.level FROM grid_worker w "
             "JOIN grid_cell c ON c.id = w.cell_id")
    ).all()  # fmt: skip
    out = []
    for w in workers:
        if not w.active or not _in(w.p, scope):
            continue
        resp = None
        if w.level >= 5 and _in(ev.p, w.p):
            resp = "cell" if w.level == 6 else "grid"
        on_duty = w.duty_status == "on_duty"
        if resp is None and not (on_duty and w.x is not None):
            continue
        age = None if w.last_fix_at is None else (now - w.last_fix_at).total_seconds()
        stale = w.x is None or age is None or age > stale_after_s
        dist = None if w.x is None else GEOD.inv(ev.x, ev.y, w.x, w.y)[2]
        if resp == "cell" and on_duty and not stale:
            group = 0
        elif resp == "grid" and on_duty and not stale:
            group = 1
        else:
            group = 2
        score = math.inf if dist is None else (
            dist + 500.0 * load.get(w.id, 0) + (2000.0 if stale else 0.0)
            + (0.0 if on_duty else 10_000.0)
        )  # fmt: skip
        out.append(((group, score, w.id), dist))
    out.sort(key=lambda t: t[0])
    return [(key[2], dist) for key, dist in out[:limit]]


def _shuffle_field(conn, rng: random.Random) -> list[int]:
    """Move every worker near a random event, give random duty, fix age, activity and roster
    cells (L5 or L6), assign open events at random; returns the event ids."""
    events = conn.execute(text("SELECT id, ST_X(location) x, ST_Y(location) y FROM event "
                               "ORDER BY id")).all()  # fmt: skip
    cells = conn.execute(text("SELECT id FROM grid_cell WHERE level >= 5 ORDER BY id")).scalars()
    cells = cells.all()
    workers = conn.execute(text("SELECT id FROM grid_worker ORDER BY id")).scalars().all()
    # Put workers on the cells of events too, so that some are responsible.
    event_cells = conn.execute(
        text("SELECT c.id, p.id FROM event e JOIN grid_cell c ON c.id = e.cell_id "
             "JOIN grid_cell p ON p.id = c.parent_id")
    ).all()  # fmt: skip
    rows = []
    for wid in workers:
        e = rng.choice(events)
        spread = rng.choice([0.002, 0.01, 0.05])
        pos = (
            None
            if rng.random() < 0.05
            else (e.x + rng.gauss(0, spread), e.y + rng.gauss(0, spread))
        )
        r = rng.random()
        cell = rng.choice(event_cells)[rng.randrange(2)] if r < 0.3 else rng.choice(cells)
        fix = None if rng.random() < 0.05 else NOW - dt.timedelta(seconds=rng.uniform(-30, 3000))
        rows.append({
            "i": wid, "x": None if pos is None else pos[0], "y": None if pos is None else pos[1],
            "c": cell, "d": rng.choices(["on_duty", "off_duty", "on_leave"], [6, 3, 1])[0],
            "f": fix, "a": rng.random() < 0.92,
        })  # fmt: skip
    conn.execute(
        text("UPDATE grid_worker SET position = CASE WHEN CAST(:x AS float8) IS NULL THEN NULL "
             "ELSE ST_SetSRID(ST_MakePoint(:x, :y), 4326) END, cell_id = :c, duty_status = :d, "
             "last_fix_at = :f, active = :a WHERE id = :i"), rows
    )  # fmt: skip
    statuses = ["dispatched", "in_progress", "returned", "closed", "resolved", "escalated"]
    conn.execute(
        text("UPDATE event SET assignee_id = :w, status = :s WHERE id = :i"),
        [{"i": e.id, "w": rng.choice(workers), "s": rng.choice(statuses)}
         for e in events if rng.random() < 0.6],
    )  # fmt: skip
    return [e.id for e in events]


def _check(conn, event_id, scope, limit, **kw):
    got = recommend_workers(conn, event_id, scope_path=scope, limit=limit, now=NOW, **kw)
    want = brute_force(conn, event_id, scope, limit)
    assert [g["worker_id"] for g in got] == [w[0] for w in want], (event_id, scope, limit, kw)
    for g, (_, dist) in zip(got, want, strict=True):
        if dist is None:
            assert g["distance_m"] is None
        else:
            assert abs(g["distance_m"] - dist) < 1.0
    assert [g["rank"] for g in got] == list(range(1, len(got) + 1))
    return got


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_matches_brute_force_on_random_data(conn, seed):
    rng = random.Random(seed)
    event_ids = _shuffle_field(conn, rng)
    county = conn.execute(
        text("SELECT c.path::text FROM event e JOIN grid_cell c ON c.id = e.cell_id "
             "ORDER BY e.id LIMIT 1")
    ).scalar_one().split(".")[:2]  # fmt: skip
    county = ".".join(county)
    in_county = conn.execute(
        text("SELECT e.id FROM event e JOIN grid_cell c ON c.id = e.cell_id "
             "WHERE c.path <@ CAST(:s AS ltree)"), {"s": county}
    ).scalars().all()  # fmt: skip
    for eid in rng.sample(event_ids, 12):
        for limit, knn_start in ((10, None), (5, 2), (1, 1), (40, 3)):
            _check(conn, eid, "532900", limit, knn_start=knn_start)
    for eid in rng.sample(in_county, min(6, len(in_county))):
        _check(conn, eid, county, 8, knn_start=4)


def test_all_stale_widens_exactly(conn, monkeypatch):
    """Every position stale: ranking is by distance + penalties; the search must widen (more
    KNN rounds) and still match the brute force."""
    rng = random.Random(7)
    event_ids = _shuffle_field(conn, rng)
    conn.execute(text("UPDATE grid_worker SET last_fix_at = :t"),
                 {"t": NOW - dt.timedelta(hours=2)})  # fmt: skip
    used = []
    real = conn.execute

    def spy(stmt, *a, **kw):
        used.append(stmt)
        return real(stmt, *a, **kw)

    monkeypatch.setattr(conn, "execute", spy)
    for eid in rng.sample(event_ids, 8):
        got = _check(conn, eid, "532900", 10, knn_start=10)
        assert all(g["stale"] for g in got)
    assert used.count(dispatch._CANDIDATES) > 8  # more than one round per event


def test_responsible_workers_rank_first(conn):
    ev = conn.execute(
        text("SELECT e.id, e.cell_id, c.parent_id, ST_X(e.location) x, ST_Y(e.location) y "
             "FROM event e JOIN grid_cell c ON c.id = e.cell_id ORDER BY e.id LIMIT 1")
    ).one()  # fmt: skip
    w_cell, w_grid, w_far = conn.execute(
        text("SELECT id FROM grid_worker ORDER BY id LIMIT 3")
    ).scalars().all()  # fmt: skip
    set_w = text(
        "UPDATE grid_worker SET cell_id = :c, duty_status = 'on_duty', active = true, "
        "last_fix_at = :f, position = ST_SetSRID(ST_MakePoint(:x, :y), 4326) WHERE id = :i"
    )
    conn.execute(set_w, [
        {"i": w_cell, "c": ev.cell_id, "f": NOW, "x": ev.x + 0.05, "y": ev.y},
        {"i": w_grid, "c": ev.parent_id, "f": NOW, "x": ev.x + 0.04, "y": ev.y},
    ])  # fmt: skip
    got = recommend_workers(conn, ev.id, scope_path="532900", limit=5, now=NOW)
    assert [g["worker_id"] for g in got[:2]] == [w_cell, w_grid]
    assert [g["responsibility"] for g in got[:2]] == ["cell", "grid"]
    assert got[0]["responsible"] and got[0]["distance_m"] > 4_000
    assert not any(g["responsible"] for g in got[2:] if g["worker_id"] == w_far)
    # Stale: the micro-grid worker drops out of group 0.
    conn.execute(text("UPDATE grid_worker SET last_fix_at = :f WHERE id = :i"),
                 {"f": NOW - dt.timedelta(hours=1), "i": w_cell})  # fmt: skip
    got = recommend_workers(conn, ev.id, scope_path="532900", limit=30, now=NOW)
    assert got[0]["worker_id"] == w_grid
    mine = next(g for g in got if g["worker_id"] == w_cell)
    assert mine["stale"] and mine["fix_age_s"] == 3600 and mine["group"] == 2


def test_ties_are_broken_by_id(conn):
    ev = conn.execute(text("SELECT id, ST_X(location) x, ST_Y(location) y FROM event "
                           "ORDER BY id LIMIT 1")).one()  # fmt: skip
    conn.execute(text("UPDATE grid_worker SET position = ST_SetSRID(ST_MakePoint(:x, :y), 4326),"
                      " duty_status = 'on_duty', active = true, last_fix_at = :f"),
                 {"x": ev.x + 0.01, "y": ev.y, "f": NOW})  # fmt: skip
    conn.execute(text("UPDATE event SET assignee_id = NULL"))
    got = recommend_workers(conn, ev.id, scope_path="532900", limit=10, now=NOW)
    non_resp = [g["worker_id"] for g in got if not g["responsible"]]
    assert non_resp == sorted(non_resp) and len(non_resp) >= 5


def test_fields(conn):
    eid = conn.execute(text("SELECT id FROM event ORDER BY id LIMIT 1")).scalar_one()
    got = recommend_workers(conn, eid, scope_path="532900", limit=3)
    assert len(got) == 3
    assert set(got[0]) >= {
        "worker_id", "employee_no", "name", "cell_code", "cell_name", "responsible",
        "responsibility", "distance_m", "open_cases", "fix_age_s", "stale", "rank", "score_m",
    }  # fmt: skip


def test_out_of_scope_event_is_not_found(conn):
    eid, path = conn.execute(
        text("SELECT e.id, c.path::text FROM event e JOIN grid_cell c ON c.id = e.cell_id "
             "ORDER BY e.id LIMIT 1")
    ).one()  # fmt: skip
    other = conn.execute(
        text("SELECT path::text FROM grid_cell WHERE level = 2 AND NOT (path @> CAST(:p AS ltree))"
             " ORDER BY code LIMIT 1"), {"p": path}
    ).scalar_one()  # fmt: skip
    with pytest.raises(LookupError):
        recommend_workers(conn, eid, scope_path=other)
    with pytest.raises(LookupError):
        recommend_workers(conn, -1, scope_path="532900")
    with pytest.raises(ValueError):
        recommend_workers(conn, eid, scope_path="532900; DROP TABLE event")


def test_only_workers_of_the_scope(conn):
    eid, path = conn.execute(
        text("SELECT e.id, c.path::text FROM event e JOIN grid_cell c ON c.id = e.cell_id "
             "ORDER BY e.id LIMIT 1")
    ).one()  # fmt: skip
    township = ".".join(path.split(".")[:3])
    got = recommend_workers(conn, eid, scope_path=township, limit=50, now=NOW)
    paths = conn.execute(
        text("SELECT c.path::text FROM grid_worker w JOIN grid_cell c ON c.id = w.cell_id "
             "WHERE w.id = ANY(:i)"), {"i": [g["worker_id"] for g in got]}
    ).scalars().all()  # fmt: skip
    assert paths and all(_in(p, township) for p in paths)


def test_knn_uses_the_gist_index(conn):
    ev = conn.execute(text("SELECT ST_X(location) x, ST_Y(location) y FROM event LIMIT 1")).one()
    plan = "\n".join(conn.execute(
        text("EXPLAIN " + dispatch._CANDIDATES.text),
        {"lon": ev.x, "lat": ev.y, "path": "532900", "scope": "532900",
         "open": list(OPEN_STATUSES), "k": 30, "cut": float("inf")},
    ).scalars())  # fmt: skip
    assert "Index Scan using ix_grid_worker_position" in plan
    assert 'Order By: ("position" <->' in plan
