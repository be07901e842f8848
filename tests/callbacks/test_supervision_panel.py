"""callbacks.supervision called directly (``FakeApp``), as callers of different roles
(``web.CALLER_OVERRIDE``), on the fixture database inside the rolled-back ``conn``:
the three queues with their counts, the 督办 button for supervisors only, a row click flying
to the case and opening it through the marker-click path, refusals as messages."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from dash import no_update
from sqlalchemy import text

from callbacks import supervision as sup_callbacks
from dashboard import ids
from geodata.accounts import Caller
from gridcmd import web
from tests.callbacks.fakes import FakeApp, TxEngine, caller_override, set_triggered

COUNTY = "532901"
NOW = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)



def texts(component: Any) -> str:
    """Every text and id in a component tree, flattened (for assertions)."""
    out: list[str] = []

    def walk(c: Any) -> None:
        if c is None:
            return
        if isinstance(c, str | int | float):
            out.append(str(c))
            return
        if isinstance(c, list | tuple):
            for x in c:
                walk(x)
            return
        ident = getattr(c, "id", None)
        if ident is not None:
            out.append(json.dumps(ident, sort_keys=True))
        walk(getattr(c, "children", None))

    walk(component)
    return " | ".join(out)


def _event(conn, n: int, **cols: Any) -> int:
    sets = ", ".join(f"{k} = :{k}" for k in cols)
    eid = conn.execute(
        text(
            """
            INSERT INTO event (uuid, category, severity, title, description, location, cell_id,
                status, reported_at, version, synthetic)
            SELECT :u, 'dispute', 'high', :t, '', ST_PointOnSurface(geom), id, 'dispatched',
                   :rep, 1, true
            FROM grid_cell WHERE level = 6 AND code LIKE :p ORDER BY code OFFSET :n LIMIT 1
            RETURNING id
            """
        ),
        {"u": uuid.uuid4(), "t": f"SUP-TEST-{n}", "p": COUNTY + "%", "n": n,
         "rep": NOW - dt.timedelta(days=2)},
    ).scalar_one()  # fmt: skip
    if cols:
        conn.execute(text(f"UPDATE event SET {sets} WHERE id = :id"), {**cols, "id": eid})  # noqa: S608
    return eid


@pytest.fixture()
def world(conn, settings, accounts, monkeypatch):
    monkeypatch.setattr(sup_callbacks, "_now", lambda: NOW)
    past = NOW - dt.timedelta(hours=5)
    supervised = _event(conn, 0, due_at=past, supervised_at=past, supervision_reason="overdue")
    overdue = _event(conn, 1, due_at=past)
    escalated = _event(conn, 2, status="escalated", owner_level=2, due_at=NOW + dt.timedelta(1))
    far = conn.execute(
        text(
            "INSERT INTO event (uuid, category, severity, title, description, location, cell_id, "
            "status, reported_at, due_at, version, synthetic) SELECT :u, 'dispute', 'high', "
            "'SUP-FAR', '', ST_PointOnSurface(geom), id, 'dispatched', :r, :d, 1, true "
            "FROM grid_cell WHERE level = 6 AND code LIKE '532922%' ORDER BY code LIMIT 1 "
            "RETURNING id"
        ),
        {"u": uuid.uuid4(), "r": NOW - dt.timedelta(days=2), "d": past},
    ).scalar_one()
    app = FakeApp()
    sup_callbacks.register(app, TxEngine(conn), settings)
    path = conn.execute(
        text("SELECT path::text FROM grid_cell WHERE code = :c"), {"c": COUNTY}
    ).scalar_one()
    return {
        "fn": app.functions, "conn": conn, "path": path, "accounts": accounts,
        "supervised": supervised, "overdue": overdue, "escalated": escalated, "far": far,
    }  # fmt: skip


@pytest.fixture()
def as_caller(world):
    """``as_caller(role, username="")``: act as that account in the world's scope, undone
    after the test."""
    with caller_override() as use:

        def set_(role: str, username: str = "") -> None:
            acc = world["accounts"].get(username, 0)
            use(Caller(acc, username or role, role, role, world["path"]))

        yield set_


def _trigger(ident: Any, prop: str = "n_clicks", value: Any = 1) -> None:
    key = (
        json.dumps(ident, sort_keys=True, separators=(",", ":"))
        if isinstance(ident, dict)
        else ident
    )
    set_triggered(f"{key}.{prop}", value)


def test_toggle_only_for_roles_that_see_the_queues(world, as_caller):
    fn = world["fn"]["toggle_supervision"]
    for role in ("commander", "dispatcher", "supervisor", "admin"):
        as_caller(role)
        _trigger(ids.SUP_OPEN)
        assert fn(1, 0) == (False, False), role  # open; the 30 s timer runs
        _trigger(ids.SUP_CLOSE)
        assert fn(1, 1) == (True, True)
    as_caller("auditor")
    _trigger(ids.SUP_OPEN)
    assert fn(1, 0) == (True, True)


def test_the_three_queues_with_counts(world, as_caller):
    as_caller("commander", "t_county")
    fn = world["fn"]["supervision_queues"]
    assert fn(True, "supervised", 0, 0, "") == (no_update,) * 5  # closed: nothing loaded
    body, l_sup, l_over, l_esc, status = fn(False, "supervised", 0, 0, "?lang=en")
    shown = texts(body)
    assert "SUP-TEST-0" in shown and "SUP-TEST-1" not in shown and "SUP-FAR" not in shown
    assert "Overdue by 5 h" in shown
    assert l_sup.startswith("Under supervision (") and l_over.startswith("Overdue (")
    assert l_esc.startswith("Escalated to my level (") and status.startswith("Updated")
    body, *_ = fn(False, "overdue", 0, 0, "?lang=en")
    shown = texts(body)
    assert "SUP-TEST-0" in shown and "SUP-TEST-1" in shown and "SUP-FAR" not in shown
    # the commander may flag the overdue case not yet under supervision, not the other one
    assert json.dumps({"id": world["overdue"], "type": ids.SUP_FLAG}, sort_keys=True) in shown
    assert (
        json.dumps({"id": world["supervised"], "type": ids.SUP_FLAG}, sort_keys=True) not in shown
    )
    body, *_ = fn(False, "escalated", 0, 0, "")
    assert "SUP-TEST-2" in texts(body) and "SUP-TEST-0" not in texts(body)
    # counts: the supervised tab counts the fixture's supervised cases too, but at least ours
    n_over = int(fn(False, "overdue", 0, 0, "?lang=en")[2].split("(")[1].rstrip("+)"))
    assert n_over >= 2


def test_dispatchers_see_the_queues_without_the_flag_button(world, as_caller):
    as_caller("dispatcher")
    body, *_ = world["fn"]["supervision_queues"](False, "overdue", 0, 0, "")
    shown = texts(body)
    assert "SUP-TEST-1" in shown and ids.SUP_FLAG not in shown


def test_auditors_are_refused(world, as_caller):
    as_caller("auditor")
    body, *rest = world["fn"]["supervision_queues"](False, "overdue", 0, 0, "?lang=en")
    assert "Only supervisors" in texts(body) and "SUP-TEST" not in texts(body)


def test_a_row_click_flies_and_opens_the_case(world, as_caller):
    as_caller("supervisor")
    fn = world["fn"]["show_supervised_case"]
    _trigger({"type": ids.SUP_ROW, "id": world["overdue"]}, value=0)  # a re-render, no click
    assert fn([0]) == (no_update,) * 3
    _trigger({"type": ids.SUP_ROW, "id": world["overdue"]})
    viewport, marker, click = fn([1])
    lon, lat = (
        world["conn"]
        .execute(
            text("SELECT ST_X(location), ST_Y(location) FROM event WHERE id = :i"),
            {"i": world["overdue"]},
        )
        .one()
    )
    assert viewport["center"] == [lat, lon] and viewport["transition"] == "flyTo"
    assert click["properties"] == {"id": world["overdue"]} and len(marker) == 1
    _trigger({"type": ids.SUP_ROW, "id": world["far"]})  # another county: nothing of it
    viewport, marker, click = fn([1])
    assert viewport is no_update and marker == [] and click is no_update


def test_flag_by_hand(world, as_caller):
    conn, fn = world["conn"], world["fn"]["flag_supervision"]
    flag = {"type": ids.SUP_FLAG, "id": world["overdue"]}
    as_caller("dispatcher", "t_dispatcher")
    _trigger(flag)
    msg, bump = fn([1], 3, "?lang=en")
    assert "may not" in msg and bump is no_update
    as_caller("supervisor", "t_supervisor")
    _trigger(flag)
    msg, bump = fn([1], 3, "?lang=en")
    assert f"#{world['overdue']}" in msg and bump == 4
    row = conn.execute(
        text("SELECT supervision_reason, supervised_by FROM event WHERE id = :i"),
        {"i": world["overdue"]},
    ).one()
    assert row == ("manual", world["accounts"]["t_supervisor"])
    _trigger(flag)
    msg, bump = fn([1], 4, "?lang=en")  # already under supervision: 409 → a message
    assert "changed meanwhile" in msg and bump == 5
    _trigger({"type": ids.SUP_FLAG, "id": world["far"]})
    msg, _ = fn([1], 5, "?lang=en")
    assert "Unknown event" in msg
    far = conn.execute(
        text("SELECT supervised_at FROM event WHERE id = :i"), {"i": world["far"]}
    ).scalar()
    assert far is None


def test_department_staff_see_their_units_queue(world, as_caller):
    conn = world["conn"]
    unit, other = conn.execute(
        text("SELECT d.id FROM department d JOIN grid_cell c ON c.id = d.cell_id "
             "WHERE c.path <@ CAST(:p AS ltree) ORDER BY d.id LIMIT 2"), {"p": world["path"]}
    ).scalars().all()  # fmt: skip
    conn.execute(text("UPDATE event SET department_id = :d WHERE id IN (:a, :b)"),
                 {"d": unit, "a": world["overdue"], "b": world["escalated"]})  # fmt: skip
    conn.execute(text("UPDATE event SET department_id = :d WHERE id = :a"),
                 {"d": other, "a": world["supervised"]})  # fmt: skip
    callbacks_token = web.CALLER_OVERRIDE.set(
        Caller(0, "police", "P", "department", world["path"], department_id=unit)
    )
    try:
        _trigger(ids.SUP_OPEN)
        assert world["fn"]["toggle_supervision"](1, 0) == (False, False)
        body, l_all, l_over, l_sup, _ = world["fn"]["supervision_queues"](
            False, "supervised", 0, 0, "?lang=en"
        )
        shown = texts(body)
        assert "SUP-TEST-1" in shown and "SUP-TEST-2" in shown
        assert "SUP-TEST-0" not in shown and "SUP-FAR" not in shown  # another unit's case
        assert l_all == "My unit's open cases (2)" and l_over == "Overdue (1)"
        assert ids.SUP_FLAG not in shown  # no supervise permission
        body, *_ = world["fn"]["supervision_queues"](False, "overdue", 0, 0, "?lang=en")
        assert "SUP-TEST-1" in texts(body) and "SUP-TEST-2" not in texts(body)
    finally:
        web.CALLER_OVERRIDE.reset(callbacks_token)
