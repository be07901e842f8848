"""geodata.bulk: shape validation, the selection against a brute-force point-in-polygon
(shapely) over the fixture's events, the scope, and bulk actions whose refused events do not
undo the others (each in its own savepoint). Writes happen in the rolled-back ``conn``."""

from __future__ import annotations

import uuid

import pytest
from shapely.geometry import Point, shape
from sqlalchemy import text

from geodata import bulk
from geodata.accounts import Caller
from geodata.workflow import Actor
from gridcmd.vocab import OPEN_STATUSES

COUNTY = "532901"


def _path(conn, code: str) -> str:
    return conn.execute(
        text("SELECT path::text FROM grid_cell WHERE code = :c"), {"c": code}
    ).scalar_one()


def _bbox(conn, code: str) -> tuple[float, float, float, float]:
    return tuple(
        conn.execute(
            text(
                "SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) "
                "FROM grid_cell WHERE code = :c"
            ),
            {"c": code},
        ).one()
    )


def _poly(coords: list[tuple[float, float]]) -> dict:
    return {"type": "Polygon", "coordinates": [[list(c) for c in [*coords, coords[0]]]]}


def _new_event(conn, code_prefix: str, n: int = 0, status: str = "reported") -> int:
    """A fresh open event at the point-on-surface of the n-th micro-grid under the prefix."""
    return conn.execute(
        text(
            """
            INSERT INTO event (uuid, category, severity, title, description, location, cell_id,
                status, reported_at, version, synthetic)
            SELECT :u, 'dispute', 'high', 'bulk test', '', ST_PointOnSurface(geom), id, :st,
                   now(), 1, true
            FROM grid_cell WHERE level = 6 AND code LIKE :p ORDER BY code OFFSET :n LIMIT 1
            RETURNING id
            """
        ),
        {"u": uuid.uuid4(), "st": status, "p": code_prefix + "%", "n": n},
    ).scalar_one()


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("geometry", "message"),
    [
        ({"type": "Point", "coordinates": [100, 25]}, "Polygon or MultiPolygon"),
        ({"type": "LineString", "coordinates": [[100, 25], [100.1, 25]]}, "Polygon"),
        ("not json", "not valid JSON"),
        ([1, 2], "GeoJSON geometry object"),
        ({"type": "Polygon", "coordinates": "x"}, "malformed"),
        (_poly([(100, 25), (100.1, 25.1), (100.1, 25), (100, 25.1)]), "not valid"),
        (_poly([(179, 25), (181, 25), (181, 26)]), "outside longitude"),
        (_poly([(100, 95), (100.1, 95), (100.1, 95.1)]), "outside"),
        (_poly([(96, 22), (101, 22), (101, 26)]), "too large"),
        (_poly([(100, 25), (100.1, 25), (100.2, 25)]), "not valid|no area"),
        ({"type": "Polygon", "coordinates": []}, "empty"),
    ],
)
def test_bad_shapes_are_refused_with_a_clear_message(geometry, message):
    with pytest.raises(ValueError, match=message):
        bulk.validate_shape(geometry)


def test_too_many_vertices():
    import math

    ring = [
        (100 + 0.1 * math.cos(k * 2 * math.pi / 3000), 25 + 0.1 * math.sin(k * 2 * math.pi / 3000))
        for k in range(3000)
    ]
    with pytest.raises(ValueError, match="vertices"):
        bulk.validate_shape(_poly(ring))


def test_selection_shape_unions_the_drawn_features():
    a = _poly([(100, 25), (100.2, 25), (100.2, 25.2), (100, 25.2)])
    b = _poly([(100.1, 25.1), (100.3, 25.1), (100.3, 25.3), (100.1, 25.3)])  # overlaps a
    drawing = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "geometry": g, "properties": {}} for g in (a, b)],
    }
    union = bulk.selection_shape(drawing)
    assert union["type"] == "Polygon"
    assert shape(union).area == pytest.approx(0.04 + 0.04 - 0.01)
    assert bulk.selection_shape({"type": "FeatureCollection", "features": []}) is None
    assert bulk.selection_shape(None) is None
    with pytest.raises(ValueError, match="FeatureCollection"):
        bulk.selection_shape({"features": "x"})
    point = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [100, 25]}}
    with pytest.raises(ValueError, match="Polygon"):
        bulk.selection_shape({"type": "FeatureCollection", "features": [point]})


# ----------------------------------------------------------------------------- selection


def _all_events(conn, scope: str) -> list:
    return conn.execute(
        text(
            "SELECT e.id, e.status, ST_X(e.location) AS x, ST_Y(e.location) AS y FROM event e "
            "JOIN grid_cell c ON c.id = e.cell_id WHERE c.path <@ CAST(:s AS ltree)"
        ),
        {"s": scope},
    ).all()


@pytest.mark.parametrize("open_only", [True, False])
def test_selection_matches_a_brute_force_point_in_polygon(conn, open_only):
    scope = _path(conn, "532900")
    x0, y0, x1, y1 = _bbox(conn, COUNTY)
    # A concave pentagon over most of the county (and a bit beyond).
    geometry = _poly([(x0, y0), (x1, y0), (x1, y1), ((x0 + x1) / 2, (y0 + y1) / 2), (x0, y1)])
    poly = shape(geometry)
    expected = {
        r.id
        for r in _all_events(conn, scope)
        if poly.intersects(Point(r.x, r.y)) and (not open_only or r.status in OPEN_STATUSES)
    }
    rows = bulk.events_in_shape(conn, geometry, scope_path=scope, open_only=open_only,
                                limit=5000)  # fmt: skip
    assert {r["id"] for r in rows} == expected
    assert expected, "the fixture has events in the county"
    if open_only:
        assert all(r["status"] in OPEN_STATUSES for r in rows)


def test_selection_is_scoped_and_limited(conn):
    x0, y0, x1, y1 = _bbox(conn, COUNTY)
    inside = _new_event(conn, COUNTY)
    geometry = _poly([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
    county = bulk.events_in_shape(conn, geometry, scope_path=_path(conn, COUNTY))
    assert inside in {r["id"] for r in county}
    other = conn.execute(
        text("SELECT path::text FROM grid_cell WHERE level = 2 AND code <> :c ORDER BY code"),
        {"c": COUNTY},
    ).scalar()
    elsewhere = bulk.events_in_shape(conn, geometry, scope_path=other)
    county_ids = {r["id"] for r in county}
    assert not county_ids & {r["id"] for r in elsewhere}
    assert len(bulk.events_in_shape(conn, geometry, scope_path=_path(conn, COUNTY), limit=1)) == 1
    with pytest.raises(ValueError):
        bulk.events_in_shape(conn, geometry, scope_path=_path(conn, COUNTY), limit=0)
    with pytest.raises(ValueError):
        bulk.events_in_shape(conn, geometry, scope_path="not a path; drop")


def test_selection_bundle_counts_categories_and_lists_workers(conn):
    x0, y0, x1, y1 = _bbox(conn, COUNTY)
    geometry = _poly([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
    _new_event(conn, COUNTY)
    sel = bulk.selection(conn, geometry, scope_path=_path(conn, COUNTY), limit=500)
    assert sum(sel["by_category"].values()) == len(sel["events"]) > 0
    assert sel["workers"] and all("phone" not in w for w in sel["workers"])
    small = bulk.selection(conn, geometry, scope_path=_path(conn, COUNTY), limit=1)
    assert len(small["events"]) == 1 and small["truncated"] is (len(sel["events"]) > 1)


# ----------------------------------------------------------------------------- bulk actions


def _actor(conn, accounts, username: str, role: str, code: str) -> Actor:
    caller = Caller(accounts[username], username, "Test", role, _path(conn, code))
    return Actor.from_caller(caller)


def test_bulk_perform_keeps_the_successes_when_some_fail(conn, accounts):
    a, b, c = (_new_event(conn, COUNTY, n) for n in range(3))
    far = _new_event(conn, "532922")  # another county: 404 for a county-532901 commander
    actor = _actor(conn, accounts, "t_county", "commander", COUNTY)
    first = bulk.bulk_perform(conn, [b], "supervise", actor)
    assert first[0]["ok"]
    results = bulk.bulk_perform(conn, [a, far, b, a, c, 2**62], "supervise", actor, note="bulk")
    by_id = {r["id"]: r for r in results}
    assert [r["id"] for r in results] == [a, far, b, c, 2**62]  # duplicates once, in order
    assert by_id[a]["ok"] and by_id[c]["ok"]
    assert by_id[far] == {"id": far, "ok": False, "code": 404, "error": "not_found",
                          "detail": by_id[far]["detail"]}  # fmt: skip
    assert by_id[b]["code"] == 409 and by_id[2**62]["code"] == 404
    sup = dict(
        conn.execute(
            text("SELECT id, supervised_at IS NOT NULL FROM event WHERE id = ANY(:ids)"),
            {"ids": [a, b, c, far]},
        ).all()
    )
    assert sup == {a: True, b: True, c: True, far: False}


def test_bulk_assign_dispatches_or_reassigns_and_escalates(conn, accounts):
    a = _new_event(conn, COUNTY, 0)
    d = _new_event(conn, COUNTY, 1, status="dispatched")
    actor = _actor(conn, accounts, "t_county", "commander", COUNTY)
    worker = conn.execute(
        text(
            "SELECT w.id FROM grid_worker w JOIN grid_cell c ON c.id = w.cell_id "
            "WHERE w.active AND c.code LIKE :p ORDER BY w.id LIMIT 1"
        ),
        {"p": COUNTY + "%"},
    ).scalar_one()
    res = bulk.bulk_perform(conn, [a, d], "assign", actor, worker_id=worker)
    assert [(r["action"], r["status"], r["assignee_id"]) for r in res] == [
        ("dispatch", "dispatched", worker), ("reassign", "dispatched", worker),
    ]  # fmt: skip
    rec = bulk.bulk_perform(conn, [_new_event(conn, COUNTY, 2)], "assign", actor, recommend=True)
    assert rec[0]["ok"] and rec[0]["assignee_id"] is not None
    esc = bulk.bulk_perform(conn, [a], "escalate", actor)
    assert esc[0]["ok"] and esc[0]["status"] == "escalated"


def test_bulk_perform_refuses_bad_input(conn, accounts):
    actor = _actor(conn, accounts, "t_county", "commander", COUNTY)
    with pytest.raises(ValueError, match="unknown bulk action"):
        bulk.bulk_perform(conn, [1], "merge", actor)
    with pytest.raises(ValueError, match="positive integers"):
        bulk.bulk_perform(conn, ["1"], "supervise", actor)
    with pytest.raises(ValueError, match="at most"):
        bulk.bulk_perform(conn, range(1, bulk.MAX_BULK + 2), "supervise", actor)
    with pytest.raises(ValueError, match="recommend"):
        bulk.bulk_perform(conn, [1], "escalate", actor, recommend=True)


def test_a_supervisor_may_not_dispatch_in_bulk(conn, accounts):
    a = _new_event(conn, COUNTY)
    actor = _actor(conn, accounts, "t_supervisor", "supervisor", COUNTY)
    res = bulk.bulk_perform(conn, [a], "assign", actor, worker_id=1)
    assert res[0]["ok"] is False and res[0]["code"] in (403, 422)
    assert conn.execute(text("SELECT status FROM event WHERE id = :i"), {"i": a}).scalar() == (
        "reported"
    )
