"""callbacks.event_table called directly, as Callers of different roles and scopes
(``web.CALLER_OVERRIDE``), on the fixture database inside a rolled-back transaction:
rows of the caller's scope only, filters and search, export links only with the ``export``
permission, the drawer's state, and a row click flying the map to the event (scoped: an
event of another county is refused and logged). Bad input → messages, never exceptions."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from dash import no_update
from dash._callback_context import context_value
from dash._utils import AttributeDict
from sqlalchemy import text

from callbacks import event_table as et
from dashboard import ids
from dashboard.event_table import FLY_ZOOM, column_defs, event_table_panel
from geodata.accounts import Caller
from gridcmd import web
from gridcmd.vocab import PERMISSIONS
from tests.callbacks.fakes import FakeApp, TxEngine
from tests.conftest import FIXTURE_NOW
from tests.event_rows import insert_event

MARK = "回调测试事件"



def _add(conn, county: str, title: str) -> int:
    return insert_event(conn, county, title, severity="high", description=title,
                        reported_at=FIXTURE_NOW)  # fmt: skip


@pytest.fixture()
def world(conn, settings):
    app = FakeApp()
    et.register(app, TxEngine(conn), settings)
    mine = _add(conn, "532901", f"{MARK}甲")
    theirs = _add(conn, "532922", f"{MARK}乙 <img src=x onerror=alert(1)>")
    return app.functions, mine, theirs, conn


@contextlib.contextmanager
def as_caller(role: str = "commander", scope: str = "532900.532901"):
    token = web.CALLER_OVERRIDE.set(Caller(1, f"cb_{role}", "Test", role, scope))
    try:
        yield
    finally:
        web.CALLER_OVERRIDE.reset(token)


@contextlib.contextmanager
def triggered(prop_id: str):
    token = context_value.set(AttributeDict(triggered_inputs=[{"prop_id": prop_id, "value": 1}]))
    try:
        yield
    finally:
        context_value.reset(token)


def _rows(fns, query: Any = MARK, *, hidden: Any = False, statuses: Any = None,
          flags: Any = None, sort: Any = "reported_desc", search: Any = "") -> tuple:  # fmt: skip
    return fns["event_table_rows"](
        hidden, query, statuses or [], [], [], None, None, flags or [], sort, search
    )


def test_rows_are_the_callers_scope_only(world):
    fns, mine, theirs, _conn = world
    with as_caller():
        rows, status, exports_hidden = _rows(fns)
    assert [r["id"] for r in rows] == [mine]
    assert rows[0]["county"] == "大理市" and rows[0]["priority"] == "黄色"
    assert rows[0]["status"] == "已上报" and status == "共 1 条事件"
    assert exports_hidden is False
    assert MARK not in status  # browser text is never echoed back
    with as_caller(scope="532900"):
        rows, *_ = _rows(fns)
    assert {r["id"] for r in rows} == {mine, theirs}


def test_filters_sort_and_english_labels(world):
    fns, mine, _theirs, _conn = world
    with as_caller():
        rows, *_ = _rows(fns, statuses=["closed"])
        assert rows == []
        rows, status, _hidden = _rows(fns, flags=["supervised"], search="?lang=en")
        assert rows == [] and status == "0 events"
        rows, *_ = _rows(fns, sort="priority", search="?lang=en")
    assert rows[0]["id"] == mine and rows[0]["priority"] == "Yellow"


def test_capped_status_line(world, monkeypatch):
    fns, *_ = world
    import geodata.event_table

    monkeypatch.setattr(
        et, "event_rows",
        lambda conn, **kw: geodata.event_table.event_rows(conn, **kw, limit=3),
    )  # fmt: skip
    with as_caller(scope="532900"):
        rows, status, *_ = _rows(fns, query="")
    assert len(rows) == 3 and status.startswith("显示 3 / ")


def test_closed_drawer_loads_nothing(world):
    fns, *_ = world
    with as_caller():
        assert _rows(fns, hidden=True) == (no_update,) * 3
        assert _rows(fns, hidden="no") == (no_update,) * 3


def test_bad_filters_are_a_message(world):
    fns, *_ = world
    with as_caller():
        for kw in ({"statuses": ["done"]}, {"sort": "id desc"}, {"query": ["x"]},
                   {"query": "x" * 500}, {"statuses": [{"a": 1}]}):  # fmt: skip
            rows, status, hidden = _rows(fns, **kw)
            assert rows == [] and status.startswith("筛选条件无效") and hidden is True
        rows, *_ = _rows(fns, flags="overdue")  # a crafted non-list: no flag at all
        assert len(rows) == 1


def test_export_links_need_the_export_permission(world, monkeypatch):
    fns, *_ = world
    monkeypatch.setitem(PERMISSIONS, "supervisor", frozenset({"view", "supervise"}))
    with as_caller("supervisor"):
        rows, _status, hidden = _rows(fns)
    assert rows and hidden is True
    with as_caller("grid_worker"):
        rows, status, hidden = _rows(fns)
    assert rows == [] and hidden and "无权" in status


def test_row_click_flies_the_map_to_the_event(world):
    fns, mine, _theirs, conn = world
    lon, lat = conn.execute(
        text("SELECT ST_X(location), ST_Y(location) FROM event WHERE id = :i"), {"i": mine}
    ).one()
    click = {"value": "x", "colId": "title", "rowIndex": 0, "rowId": str(mine)}
    with as_caller():
        viewport, marker, message = fns["fly_to_event"](click, "")
    assert viewport["transition"] == "flyTo" and viewport["zoom"] == FLY_ZOOM
    assert viewport["center"] == pytest.approx([lat, lon])
    assert marker[0].center == viewport["center"] and message is no_update
    assert MARK in marker[0].children.children


def test_row_click_on_another_countys_event_is_refused_and_logged(world):
    fns, _mine, theirs, conn = world
    with as_caller():
        viewport, marker, message = fns["fly_to_event"]({"rowId": str(theirs)}, "")
    assert viewport is no_update and marker == [] and "管辖" in message
    target = conn.execute(
        text("SELECT target FROM security_log WHERE kind = 'denied' ORDER BY id DESC LIMIT 1")
    ).scalar_one()
    assert target == f"event table {theirs}"


@pytest.mark.parametrize("click", [None, {}, {"rowId": None}, {"rowId": "abc"},
                                   {"rowId": True}, {"rowId": -4}, "x", [1]])  # fmt: skip
def test_malformed_clicks_change_nothing(world, click):
    fns, *_ = world
    with as_caller():
        assert fns["fly_to_event"](click, "") == (no_update,) * 3
        with triggered(f"{ids.ET_GRID}.cellClicked"):
            assert fns["toggle_event_table"](0, 0, 0, click, "gc-et-panel", "") == (no_update,) * 3


def test_drawer_open_close_collapse(world):
    fns, mine, *_ = world
    toggle = fns["toggle_event_table"]
    with as_caller():
        with triggered(f"{ids.ET_OPEN}.n_clicks"):
            assert toggle(1, 0, 0, None, None, "") == (False, et.PANEL_CLASS, "收起")
        with triggered(f"{ids.ET_COLLAPSE}.n_clicks"):
            assert toggle(1, 0, 1, None, et.PANEL_CLASS, "?lang=en") == (
                no_update, et.COLLAPSED_CLASS, "Expand",
            )  # fmt: skip
            assert toggle(1, 0, 2, None, et.COLLAPSED_CLASS, "")[1] == et.PANEL_CLASS
        with triggered(f"{ids.ET_GRID}.cellClicked"):
            assert toggle(1, 0, 0, {"rowId": str(mine)}, et.PANEL_CLASS, "")[1] == (
                et.COLLAPSED_CLASS
            )
        with triggered(f"{ids.ET_CLOSE}.n_clicks"):
            assert toggle(1, 1, 0, None, et.PANEL_CLASS, "")[0] is True
    with as_caller("grid_worker"), triggered(f"{ids.ET_OPEN}.n_clicks"):
        assert toggle(1, 0, 0, None, None, "")[0] is True


def test_no_caller_gets_nothing(world):
    fns, *_ = world
    token = web.CALLER_OVERRIDE.set(None)
    try:
        rows, _status, hidden = _rows(fns)
        assert rows == [] and hidden
        assert fns["fly_to_event"]({"rowId": "1"}, "")[1] == []
    finally:
        web.CALLER_OVERRIDE.reset(token)


def test_export_links_are_built_clientside(world):
    fns, *_ = world
    app = FakeApp()
    et.register(app, None, None)
    ((fn, deps),) = app.clientside
    assert fn.namespace == "gridcmdEventTable" and fn.function_name == "exportLinks"
    outputs = {
        f"{d.component_id}.{d.component_property}" for d in deps if type(d).__name__ == "Output"
    }
    assert outputs == {f"{ids.ET_CSV}.href", f"{ids.ET_XLSX}.href"}


def test_the_grid_renders_text_only():
    panel = str(event_table_panel("zh"))
    assert "dangerously_allow_code=True" not in panel
    for col in column_defs("en"):
        assert "cellRenderer" not in col and "valueGetter" not in col
    assert "合成数据" in panel
