"""callbacks.bulk called directly (``FakeApp``) as callers of different roles, on the fixture
database inside the rolled-back ``conn``: a drawn rectangle lists the scope's open events in
it, the actions report per event, refused callers change nothing."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import text

from callbacks import bulk as bulk_callbacks
from dashboard import ids
from dashboard.bulk import RECOMMENDED
from geodata.accounts import Caller
from tests.callbacks.fakes import FakeApp, caller_override, set_triggered
from tests.callbacks.test_supervision_panel import TxEngine, texts

COUNTY = "532901"


def _rect(x0: float, y0: float, x1: float, y1: float) -> dict:
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {"type": "rectangle"},
                      "geometry": {"type": "Polygon", "coordinates": [ring]}}],
    }  # fmt: skip


@pytest.fixture()
def world(conn, settings, accounts):
    ev = conn.execute(
        text(
            """
            INSERT INTO event (uuid, category, severity, title, description, location, cell_id,
                status, reported_at, version, synthetic)
            SELECT :u, 'environment', 'low', 'BULK-TEST', '', ST_PointOnSurface(geom), id,
                   'reported', now(), 1, true
            FROM grid_cell WHERE level = 6 AND code LIKE :p ORDER BY code LIMIT 1
            RETURNING id, ST_X(location) AS x, ST_Y(location) AS y
            """
        ),
        {"u": uuid.uuid4(), "p": COUNTY + "%"},
    ).one()
    path = conn.execute(
        text("SELECT path::text FROM grid_cell WHERE code = :c"), {"c": COUNTY}
    ).scalar_one()
    app = FakeApp()
    bulk_callbacks.register(app, TxEngine(conn), settings)
    d = 0.002
    return {"fn": app.functions, "conn": conn, "path": path, "accounts": accounts,
            "event": ev.id, "drawing": _rect(ev.x - d, ev.y - d, ev.x + d, ev.y + d)}  # fmt: skip


@pytest.fixture()
def as_caller(world):
    """``as_caller(role, username="", path=None)``: act as that account (default: the
    world's township), undone after the test."""
    with caller_override() as use:

        def set_(role: str, username: str = "", path: str | None = None) -> None:
            acc = world["accounts"].get(username, 0)
            use(Caller(acc, username or role, role, role, path or world["path"]))

        yield set_


def _trigger(ident: str) -> None:
    set_triggered(f"{ident}.n_clicks")


def test_a_drawn_rectangle_selects_the_open_events_in_it(world, as_caller):
    as_caller("commander", "t_county")
    fn = world["fn"]["bulk_select"]
    hidden, summary, listing, event_ids, options, value, result = fn(world["drawing"], "?lang=en")
    assert hidden is False and world["event"] in event_ids
    assert "BULK-TEST" in texts(listing) and "open events in the shape" in texts(summary)
    assert "Environment" in texts(summary)
    assert options[0]["value"] == RECOMMENDED and value == RECOMMENDED
    assert len(options) > 1 and not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", str(options))
    # cleared drawing → hidden, selection empty
    assert fn({"type": "FeatureCollection", "features": []}, "")[0:4:3] == (True, [])
    assert fn(None, "")[0] is True


def test_out_of_scope_and_refused_callers_see_nothing(world, as_caller):
    fn = world["fn"]["bulk_select"]
    other = (
        world["conn"]
        .execute(text("SELECT path::text FROM grid_cell WHERE code = '532922'"))
        .scalar_one()
    )
    as_caller("commander", path=other)
    hidden, summary, listing, event_ids, *_ = fn(world["drawing"], "?lang=en")
    assert event_ids == [] and "BULK-TEST" not in texts(listing)
    for role in ("supervisor", "auditor"):
        as_caller(role)
        hidden, summary, listing, event_ids, *_ = fn(world["drawing"], "?lang=en")
        assert "Only dispatchers" in texts(summary) and event_ids == []


def test_a_bad_shape_is_a_message(world, as_caller):
    as_caller("dispatcher")
    huge = _rect(96.0, 20.0, 104.0, 28.0)
    hidden, summary, *_ = world["fn"]["bulk_select"](huge, "?lang=en")
    assert hidden is False and "too large" in texts(summary)


def test_bulk_dispatch_escalate_and_refusals(world, as_caller):
    conn, fn, ev = world["conn"], world["fn"]["bulk_act"], world["event"]
    worker = conn.execute(
        text(
            "SELECT w.id FROM grid_worker w JOIN grid_cell c ON c.id = w.cell_id "
            "WHERE w.active AND c.code LIKE :p ORDER BY w.id LIMIT 1"
        ),
        {"p": COUNTY + "%"},
    ).scalar_one()
    as_caller("supervisor", "t_supervisor")
    _trigger(ids.BULK_DISPATCH)
    assert "Only dispatchers" in texts(fn(1, 0, [ev], worker, "", "?lang=en"))
    as_caller("commander", "t_county")
    _trigger(ids.BULK_DISPATCH)
    assert "No events selected" in texts(fn(1, 0, [], worker, "", "?lang=en"))
    assert "Choose a worker" in texts(fn(1, 0, [ev], "nobody", "", "?lang=en"))
    out = texts(fn(1, 0, [ev, 2**62], worker, "bulk note", "?lang=en"))
    assert "1 done, 1 refused" in out and "Dispatched" in out
    status, assignee = conn.execute(
        text("SELECT status, assignee_id FROM event WHERE id = :i"), {"i": ev}
    ).one()
    assert (status, assignee) == ("dispatched", worker)
    _trigger(ids.BULK_ESCALATE)
    out = texts(fn(1, 1, [ev], worker, "", "?lang=en"))
    assert "1 done, 0 refused" in out and "Escalated" in out
    _trigger(ids.BULK_DISPATCH)  # each event's first recommended worker
    out = texts(fn(2, 1, [ev], RECOMMENDED, "", "?lang=en"))
    assert "1 done" in out
    assert conn.execute(
        text("SELECT assignee_id IS NOT NULL FROM event WHERE id = :i"), {"i": ev}
    ).scalar()
