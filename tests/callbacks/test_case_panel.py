"""callbacks.cases called directly (the case panel), as Callers of different
roles and scopes (``gridcmd.web.CALLER_OVERRIDE``), on the fixture database inside a rolled-back
transaction: the buttons are exactly the allowed actions, a candidate's one-click 派遣
dispatches and writes history, a stale version or another county's event gives a message
(never an exception), and a duplicate merges into its original after a confirmation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from dash import no_update
from sqlalchemy import text

from callbacks import cases as case_callbacks
from dashboard import ids
from geodata.accounts import Caller
from geodata.workflow import Actor, allowed_actions, load_event
from gridcmd.i18n import t
from tests.callbacks.fakes import FakeApp, TxEngine, caller_override, set_triggered

PARTS = case_callbacks.PARTS



def _insert_event(conn, cell_id: int, *, dx: float = 0.0, title: str = "case test") -> int:
    return conn.execute(
        text(
            """
            INSERT INTO event (uuid, category, severity, title, description, location, cell_id,
                status, reported_at, version, synthetic)
            SELECT gen_random_uuid(), 'dispute', 'high', :t, '',
                   ST_Translate(ST_PointOnSurface(geom), :dx, 0), id, 'reported', now(), 1, true
            FROM grid_cell WHERE id = :cell RETURNING id
            """
        ),
        {"cell": cell_id, "dx": dx, "t": title},
    ).scalar_one()


@pytest.fixture()
def world(conn, settings, accounts):
    """A fresh reported event (and a near duplicate) in the dispatcher's township, whose
    workers are on duty with a fresh fix; the callbacks on the test's transaction."""
    rows = conn.execute(
        text(
            "SELECT a.id, a.username, a.role, c.path::text AS path FROM account a "
            "JOIN grid_cell c ON c.id = a.jurisdiction_cell_id "
            "WHERE a.username IN ('t_dispatcher', 't_supervisor', 't_commander')"
        )
    ).all()
    who = {r.username: r for r in rows}
    town = who["t_dispatcher"].path
    cell = conn.execute(
        text(
            "SELECT c.id FROM grid_cell c WHERE c.level = 6 AND c.path <@ CAST(:p AS ltree) "
            "AND EXISTS (SELECT 1 FROM grid_worker w JOIN grid_cell wc ON wc.id = w.cell_id "
            "WHERE w.active AND wc.path <@ CAST(:p AS ltree)) ORDER BY c.code LIMIT 1"
        ),
        {"p": town},
    ).scalar_one()
    conn.execute(
        text(
            "UPDATE grid_worker w SET duty_status = 'on_duty', last_fix_at = now(), "
            "position = ST_PointOnSurface(c.geom) FROM grid_cell c "
            "WHERE c.id = w.cell_id AND c.path <@ CAST(:p AS ltree) AND w.active"
        ),
        {"p": town},
    )
    event = _insert_event(conn, cell)
    dup = _insert_event(conn, cell, dx=0.0005, title="case test duplicate")
    app = FakeApp()
    case_callbacks.register(app, TxEngine(conn), settings)
    other_county = conn.execute(
        text("SELECT path::text FROM grid_cell WHERE code = '532922'")
    ).scalar_one()
    return {"conn": conn, "fn": app.functions, "who": who, "event": event, "dup": dup,
            "town": town, "other": other_county}  # fmt: skip


@pytest.fixture()
def as_caller():
    """``as_caller(account_id, role, scope)``: act as that caller (undone after the test)."""
    with caller_override() as use:
        yield lambda account_id, role, scope: use(
            Caller(account_id, f"cb_{role}", f"cb_{role}", role, scope)
        )


def _caller(world, as_caller, username: str) -> Caller:
    r = world["who"][username]
    return as_caller(r.id, r.role, r.path)


def _pattern(ident: dict) -> str:
    return json.dumps(ident, sort_keys=True, separators=(",", ":")) + ".n_clicks"


def _open(world, event_id: int, lang: str = "?lang=zh") -> dict[str, Any]:
    set_triggered(f"{ids.LIVE_EVENTS}.clickData", {"properties": {"id": event_id}})
    out = world["fn"]["open_case"]({"properties": {"id": event_id}}, None, 0, lang)
    return {"hidden": out[0], **dict(zip(PARTS, out[1:], strict=True))}


def _click(world, ident: dict, state: Any, note: str = "", priority: Any = None,
           lang: str = "?lang=zh") -> dict[str, Any]:  # fmt: skip
    set_triggered(_pattern(ident))
    out = world["fn"]["case_action"]([], [], [], [], state, note, priority, lang)
    return dict(zip(PARTS, out, strict=True))


def _walk(component: Any):
    """Every component in a tree (lists, children)."""
    if isinstance(component, list | tuple):
        for c in component:
            yield from _walk(c)
        return
    if component is None or isinstance(component, str | int | float):
        return
    yield component
    yield from _walk(getattr(component, "children", None))


def _strings(component: Any) -> str:
    out: list[str] = []

    def go(c: Any) -> None:
        if isinstance(c, str):
            out.append(c)
        elif isinstance(c, list | tuple):
            for x in c:
                go(x)
        elif c is not None and not isinstance(c, int | float):
            go(getattr(c, "children", None))

    go(component)
    return " ".join(out)


def _buttons(parts: dict[str, Any]) -> dict[str, list[dict]]:
    """Pattern-id buttons of the panel by type."""
    out: dict[str, list[dict]] = {}
    for key in ("actions", "candidates", "departments", "duplicates"):
        for c in _walk(parts[key]):
            ident = getattr(c, "id", None)
            if isinstance(ident, dict):
                out.setdefault(ident["type"], []).append(ident)
    return out


def _panel_actions(parts: dict[str, Any]) -> set[str]:
    """The workflow actions the panel offers: the button row, plus dispatch/reassign from a
    candidate or department button, plus merge from a duplicate's button."""
    b = _buttons(parts)
    acts = {i["action"] for i in b.get(ids.CASE_ACT, [])}
    if b.get(ids.CASE_PICK) or b.get(ids.CASE_DEPT):
        acts.add(parts["state"]["assign"])
    if b.get(ids.CASE_MERGE):
        acts.add("merge")
    return acts


def _allowed(world, caller: Caller, event_id: int) -> set[str]:
    actor = Actor.from_caller(caller)
    return set(allowed_actions(world["conn"], load_event(world["conn"], event_id, actor), actor))


def _event(conn, event_id: int):
    return conn.execute(
        text("SELECT status, version, assignee_id, merged_into_id FROM event WHERE id = :e"),
        {"e": event_id},
    ).one()


def test_wiring(world):
    assert set(world["fn"]) == {"open_case", "case_action"}


def test_buttons_match_allowed_actions_for_dispatcher_and_supervisor(world, as_caller):
    dispatcher = _caller(world, as_caller, "t_dispatcher")
    panel = _open(world, world["event"])
    assert panel["hidden"] is False
    allowed = _allowed(world, dispatcher, world["event"])
    assert {"accept", "dispatch", "reject", "merge"} <= allowed
    assert _panel_actions(panel) == allowed
    assert panel["state"]["assign"] == "dispatch" and panel["state"]["event"] == world["event"]
    # Candidates ranked and highlighted; the duplicate listed with a merge button.
    assert len(_buttons(panel)[ids.CASE_PICK]) >= 1
    assert {f["properties"]["role"] for f in panel["markers"]["features"]} == {"event", "worker"}
    assert {i["into"] for i in _buttons(panel)[ids.CASE_MERGE]} == {world["dup"]}
    text_ = _strings(panel["summary"])
    assert "已上报" in text_ or t("Reported") in text_

    supervisor = _caller(world, as_caller, "t_supervisor")
    panel = _open(world, world["event"])
    allowed = _allowed(world, supervisor, world["event"])
    assert "dispatch" not in allowed and "supervise" in allowed
    assert _panel_actions(panel) == allowed
    assert ids.CASE_PICK not in _buttons(panel) and ids.CASE_MERGE not in _buttons(panel)
    assert panel["state"]["assign"] is None


def test_one_click_dispatch_changes_status_and_writes_history(world, as_caller):
    conn = world["conn"]
    _caller(world, as_caller, "t_dispatcher")
    panel = _open(world, world["event"])
    first = _buttons(panel)[ids.CASE_PICK][0]
    before = conn.execute(
        text("SELECT count(*) FROM event_action WHERE event_id = :e"), {"e": world["event"]}
    ).scalar_one()
    out = _click(world, first, panel["state"], priority="red")
    row = _event(conn, world["event"])
    assert row.status == "dispatched" and row.assignee_id == first["worker"]
    history = conn.execute(
        text("SELECT to_status FROM event_action WHERE event_id = :e ORDER BY id"),
        {"e": world["event"]},
    ).scalars().all()  # fmt: skip
    assert len(history) == before + 2 and history[-2:] == ["accepted", "dispatched"]
    assert "已派遣" in _strings(out["summary"])
    assert t("Dispatch") in _strings(out["message"])
    assert out["state"]["version"] == row.version and out["state"]["assign"] == "reassign"
    # The due time is set (red tier) and counts down in the page.
    countdowns = [
        c for c in _walk(out["summary"]) if "gc-countdown" in (getattr(c, "className", "") or "")
    ]
    assert countdowns and "剩余" in countdowns[0].children
    # The candidate's button now reassigns; the assignee shows as current.
    assert "当前处置人" in _strings(out["candidates"])
    assert out["note"] == ""


def test_stale_version_gives_a_message_and_refreshes(world, as_caller):
    conn = world["conn"]
    _caller(world, as_caller, "t_dispatcher")
    panel = _open(world, world["event"])
    conn.execute(
        text("UPDATE event SET version = version + 1 WHERE id = :e"), {"e": world["event"]}
    )
    fresh = _event(conn, world["event"])
    pick = _buttons(panel)[ids.CASE_PICK][0]
    out = _click(world, pick, panel["state"])
    assert _event(conn, world["event"]).status == "reported"
    assert t(case_callbacks.STALE) in _strings(out["message"])
    assert out["state"]["version"] == fresh.version  # the panel refreshed itself
    # Clicking again with the refreshed panel works.
    out = _click(world, pick, out["state"])
    assert _event(conn, world["event"]).status == "dispatched"


def test_out_of_scope_event_is_not_found(world, as_caller):
    conn = world["conn"]
    r = world["who"]["t_dispatcher"]
    as_caller(r.id, "dispatcher", world["other"])  # another county's dispatcher
    denied = conn.execute(text("SELECT count(*) FROM security_log WHERE kind = 'denied'")).scalar()
    panel = _open(world, world["event"])
    assert _strings(panel["message"]) == t(case_callbacks.NOT_FOUND)
    assert panel["state"] is None and panel["markers"]["features"] == []
    assert "case test" not in _strings([panel[k] for k in PARTS if k not in ("markers", "state")])
    # A forged store pointing at the event changes nothing either.
    state = {"event": world["event"], "version": 1, "assign": "dispatch", "merge_into": None}
    worker = conn.execute(
        text("SELECT w.id FROM grid_worker w JOIN grid_cell c ON c.id = w.cell_id "
             "WHERE c.path <@ CAST(:p AS ltree) AND w.active LIMIT 1"), {"p": world["town"]}
    ).scalar_one()  # fmt: skip
    out = _click(world, {"type": ids.CASE_PICK, "worker": worker}, state)
    assert t(case_callbacks.NOT_FOUND) in _strings(out["message"])
    assert _event(conn, world["event"]).status == "reported"
    after = conn.execute(text("SELECT count(*) FROM security_log WHERE kind = 'denied'")).scalar()
    assert after >= denied + 1


def test_merge_needs_a_confirmation(world, as_caller):
    conn = world["conn"]
    _caller(world, as_caller, "t_dispatcher")
    panel = _open(world, world["event"])
    out = _click(world, {"type": ids.CASE_MERGE, "into": world["dup"]}, panel["state"])
    assert _event(conn, world["event"]).status == "reported"  # nothing yet
    assert out["state"]["merge_into"] == world["dup"]
    confirm = [i for i in _buttons(out)[ids.CASE_ACT] if i["action"] == "merge"]
    assert confirm
    out = _click(world, confirm[0], out["state"])
    row = _event(conn, world["event"])
    assert row.status == "closed" and row.merged_into_id == world["dup"]
    assert "已结案" in _strings(out["summary"]) or "结案" in _strings(out["summary"])
    assert f"#{world['dup']}" in _strings(out["summary"])


def test_merge_cancel_and_note_required(world, as_caller):
    conn = world["conn"]
    _caller(world, as_caller, "t_dispatcher")
    panel = _open(world, world["event"])
    out = _click(world, {"type": ids.CASE_MERGE, "into": world["dup"]}, panel["state"])
    out = _click(world, {"type": ids.CASE_ACT, "action": "cancel"}, out["state"])
    assert out["state"]["merge_into"] is None
    # 注销 without a reason: the server's 422, as a message in the UI language.
    out = _click(world, {"type": ids.CASE_ACT, "action": "reject"}, out["state"], note="  ")
    assert t(case_callbacks.NOTE_NEEDED) in _strings(out["message"])
    assert out["note"] is no_update  # the typed note stays
    out = _click(world, {"type": ids.CASE_ACT, "action": "reject"}, out["state"], note="重复上报",
                 lang="?lang=en")  # fmt: skip
    assert _event(conn, world["event"]).status == "rejected"
    assert "Done" in _strings(out["message"])


def test_initial_render_and_new_buttons_are_not_clicks(world, as_caller):
    _caller(world, as_caller, "t_dispatcher")
    panel = _open(world, world["event"])
    set_triggered(_pattern({"type": ids.CASE_ACT, "action": "accept"}), 0)
    out = world["fn"]["case_action"]([0], [], [], [], panel["state"], "", None, "")
    assert out == (no_update,) * len(PARTS)
    assert _event(world["conn"], world["event"]).status == "reported"


def test_close_hides_and_clears(world, as_caller):
    _caller(world, as_caller, "t_dispatcher")
    _open(world, world["event"])
    set_triggered(f"{ids.CASE_CLOSE}.n_clicks")
    out = world["fn"]["open_case"](None, None, 1, "")
    parts = dict(zip(PARTS, out[1:], strict=True))
    assert out[0] is True and parts["state"] is None and parts["markers"]["features"] == []


def test_bad_clicks_are_ignored(world, as_caller):
    _caller(world, as_caller, "t_dispatcher")
    for click in (None, {}, {"properties": {"cluster": True, "id": 1}},
                  {"properties": {"id": "1; DROP"}}, {"properties": {"id": True}}):  # fmt: skip
        set_triggered(f"{ids.LIVE_EVENTS}.clickData", click)
        out = world["fn"]["open_case"](click, None, 0, "")
        assert out == (no_update,) * (1 + len(PARTS))
    # A forged store without an event: a message, nothing else.
    out = _click(world, {"type": ids.CASE_ACT, "action": "accept"}, {"event": "x"})
    assert t(case_callbacks.NO_CASE) in _strings(out["message"])


def test_event_table_row_opens_the_case(world, as_caller):
    _caller(world, as_caller, "t_dispatcher")
    set_triggered(f"{ids.ET_GRID}.cellClicked", {"rowId": str(world["event"])})
    out = world["fn"]["open_case"](None, {"rowId": str(world["event"])}, 0, "")
    assert out[0] is False
    assert dict(zip(PARTS, out[1:], strict=True))["state"]["event"] == world["event"]
