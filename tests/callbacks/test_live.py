"""callbacks.live: the server callbacks called directly (scope from the server side, clicks
only as keys, escaped rendering, bad input → messages) and the clientside wiring."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from dash import html
from sqlalchemy import text

from callbacks import live as live_cb
from dashboard import ids
from dashboard.fmt import TIME_FORMATS, parse_local
from geodata.db import make_engine
from gridcmd import web
from gridcmd.vocab import TZ
from tests.callbacks.fakes import FakeApp, set_triggered

XSS = '<img src=x onerror="window.__pwned=1">'



@pytest.fixture()
def cbs(engine, settings):
    app = FakeApp()
    live_cb.register(app, engine, settings)
    return app


def _trigger(prop_id: str) -> None:
    set_triggered(prop_id, None)


def _click(id_: int) -> dict:
    return {"type": "Feature", "properties": {"id": id_}}


def _strings(component: Any) -> list[str]:
    """Every string child in a component tree (what React renders as text)."""
    out: list[str] = []
    if isinstance(component, str):
        return [component]
    if isinstance(component, list | tuple):
        for c in component:
            out += _strings(c)
        return out
    children = getattr(component, "children", None)
    if children is not None:
        out += _strings(children)
    return out


def _county(engine, k: int) -> str:
    with engine.connect() as c:
        return c.execute(
            text("SELECT ltree2text(path) FROM grid_cell WHERE level = 2 ORDER BY code "
                 "OFFSET :k LIMIT 1"), {"k": k}
        ).scalar_one()  # fmt: skip


def test_wiring(cbs):
    assert set(cbs.functions) == {"details", "track"}
    names = {fn.function_name for fn, _ in cbs.clientside}
    assert names == {"tick", "tickDisabled", "playback", "closeDetail"}
    close = next(d for fn, d in cbs.clientside if fn.function_name == "closeDetail")
    assert [(d.component_id, d.component_property) for d in close] == [
        (ids.LIVE_DETAIL, "children"), (ids.LIVE_DETAIL_CLOSE, "n_clicks")]
    tick_deps = next(d for fn, d in cbs.clientside if fn.function_name == "tick")
    outs = [(d.component_id, d.component_property) for d in tick_deps[:2]]
    assert outs == [(ids.LIVE_EVENTS, "data"), (ids.LIVE_WORKERS, "data")]


def test_event_click_shows_escaped_details(cbs, conn, engine):
    eid = conn.execute(text("SELECT id FROM event ORDER BY id LIMIT 1")).scalar_one()
    # Committed title with markup, restored afterwards (the session DB is shared).
    with engine.begin() as c:
        old = c.execute(text("SELECT title FROM event WHERE id = :e"), {"e": eid}).scalar_one()
        c.execute(text("UPDATE event SET title = :t WHERE id = :e"), {"t": XSS, "e": eid})
    try:
        _trigger(f"{ids.LIVE_EVENTS}.clickData")
        out = cbs.functions["details"](_click(eid), None, "?lang=en")
    finally:
        with engine.begin() as c:
            c.execute(text("UPDATE event SET title = :t WHERE id = :e"), {"t": old, "e": eid})
    panel = out[0]
    h3 = panel[0]
    assert isinstance(h3, html.H3) and h3.children == XSS  # a text child: React escapes it
    assert "Category" in _strings(panel)
    assert out[1:] == (live_cb.no_update,) * 6  # an event click leaves playback alone


def test_clicks_outside_the_scope_find_nothing(cbs, engine, monkeypatch):
    a, b = _county(engine, 0), _county(engine, 1)
    with engine.connect() as c:
        eid = c.execute(
            text("SELECT e.id FROM event e JOIN grid_cell g ON g.id = e.cell_id "
                 "WHERE g.path <@ CAST(:p AS ltree) LIMIT 1"), {"p": a}
        ).scalar_one()  # fmt: skip
        wid = c.execute(
            text("SELECT w.id FROM grid_worker w JOIN grid_cell g ON g.id = w.cell_id "
                 "WHERE g.path <@ CAST(:p AS ltree) AND w.active LIMIT 1"), {"p": a}
        ).scalar_one()  # fmt: skip
    monkeypatch.setattr(web, "caller_scope", lambda: b)
    _trigger(f"{ids.LIVE_EVENTS}.clickData")
    out = cbs.functions["details"](_click(eid), None, "?lang=en")
    assert _strings(out[0]) == ["Not found, or outside your jurisdiction."]
    _trigger(f"{ids.LIVE_WORKERS}.clickData")
    out = cbs.functions["details"](None, _click(wid), None)
    assert _strings(out[0]) == ["未找到，或不在您的管辖范围内。"]
    assert out[1] is live_cb.no_update  # no worker selected for playback
    _trigger(f"{ids.LIVE_WORKER}.data")
    track = cbs.functions["track"](wid, 0, None, None, "?lang=en")
    assert track[0]["features"] == [] and track[4] == "Not found, or outside your jurisdiction."


@pytest.mark.parametrize(
    "click",
    [None, {}, {"properties": {"cluster": True, "id": 3}}, {"properties": {"id": "3"}},
     {"properties": {"id": -4}}, {"properties": {"id": True}}, {"properties": []}],
)  # fmt: skip
def test_malformed_clicks_change_nothing(cbs, click):
    _trigger(f"{ids.LIVE_EVENTS}.clickData")
    assert cbs.functions["details"](click, None, None) == (live_cb.no_update,) * 7


def test_worker_click_selects_today_and_track_loads(cbs, engine):
    with engine.connect() as c:
        wid = c.execute(
            text("SELECT worker_id FROM worker_position GROUP BY worker_id "
                 "ORDER BY count(*) DESC LIMIT 1")
        ).scalar_one()  # fmt: skip
        first, last = c.execute(
            text("SELECT min(fix_time), max(fix_time) FROM worker_position WHERE worker_id = :w"),
            {"w": wid},
        ).one()
    _trigger(f"{ids.LIVE_WORKERS}.clickData")
    out = cbs.functions["details"](None, _click(wid), "?lang=en")
    assert out[1] == wid and out[5] is False and out[6] is True
    assert parse_local(out[3]) <= parse_local(out[4])
    # A chosen period that holds the worker's fixes.
    start = last.astimezone(TZ) - dt.timedelta(days=2)
    end = last.astimezone(TZ) + dt.timedelta(minutes=1)
    _trigger(f"{ids.LIVE_PLAY_LOAD}.n_clicks")
    fc, slim, top, value, msg = cbs.functions["track"](
        wid, 1, start.strftime(TIME_FORMATS["input"]), end.strftime(TIME_FORMATS["input"]), None
    )
    roles = [f["properties"]["role"] for f in fc["features"]]
    assert roles[0] == "line" and roles.count("end") == 2
    assert top == value == len(slim["coords"]) - 1 >= 1
    assert slim["times"] == sorted(slim["times"])
    assert msg is live_cb.no_update
    # Bad periods are messages, never exceptions.
    fmt = TIME_FORMATS["input"]
    for bad in [("x", "y"), (end.strftime(fmt), start.strftime(fmt)),
                ("2026-01-01T00:00", "2026-03-01T00:00")]:  # fmt: skip
        out = cbs.functions["track"](wid, 2, *bad, "?lang=en")
        assert out[4] == "Choose a period of up to 7 days, its end after its start."


def test_database_down_gives_a_message(settings):
    eng = make_engine("postgresql://postgres@127.0.0.1:1/nowhere")
    app = FakeApp()
    live_cb.register(app, eng, settings)
    _trigger(f"{ids.LIVE_EVENTS}.clickData")
    out = app.functions["details"](_click(1), None, "?lang=en")
    assert _strings(out[0]) == ["The database is unavailable."]
    eng.dispose()


def test_parse_local():
    assert parse_local("2026-11-27T08:30") == dt.datetime(
        2026, 11, 27, 8, 30, tzinfo=TZ
    )
    for bad in (None, 5, "", "2026-13-01T00:00", "x" * 40, "2026-11-27T08:30+00:00"):
        assert parse_local(bad) is None
