"""Callbacks of the supervision queues (督办, ``dashboard/supervision.py``).

* header button / close → the panel's ``hidden`` and its refresh timer's ``disabled`` (the
  ~30 s interval runs only while the panel is open);
* panel opened / tab / timer / after a 督办 → the chosen queue's rows and the three tabs'
  counts (:func:`geodata.supervision.supervision_queue`, the caller's scope);
* a row click → the map flies to the case and marks it
  (:func:`dashboard.event_table.event_highlight`, as a row of the event table does) and its
  details open through the same path as a click on
  its marker: the live events layer's ``clickData`` is set to the case, which drives the
  details panel (``callbacks/live.py``) and the case panel (``callbacks/cases.py``);
* a row's 督办 button → the workflow action ``supervise`` (:func:`geodata.workflow.perform`,
  committed by ``engine.begin()``); a refusal becomes a message.

Who: the panel is for roles with ``supervise`` or ``dispatch`` (others get a refusal and a
``denied`` log entry); only ``supervise`` may flag. The caller always comes from
:func:`web.current_caller` (server side); ids from the browser are only keys.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import dash
from dash import ALL, Input, Output, State, ctx, html, no_update
from sqlalchemy.engine import Connection, Engine

from callbacks.guard import deny, guarded, log_refusal, positive_id, require
from dashboard import fmt, ids
from dashboard.event_table import event_highlight
from dashboard.supervision import KINDS, UNIT_LABEL, queue_rows, tab_label
from geodata.accounts import Caller, has_permission
from geodata.departments import department_queue
from geodata.event_table import event_location
from geodata.supervision import supervision_queue
from geodata.workflow import Actor, WorkflowError, perform
from gridcmd import web
from gridcmd.i18n import lang_from_search, t
from gridcmd.settings import Settings

__all__ = ["QUEUE_LIMIT", "may_see_queues", "register", "workflow_message"]

QUEUE_LIMIT = 200
NOT_ALLOWED = "Only supervisors, dispatchers and commanders see the supervision queues."
NOT_FOUND = "Unknown event, or outside your jurisdiction."
UPDATED = "Updated {time}"
FLAGGED = "Case #{id} is now under supervision."
#: WorkflowError status → msgid of the message shown for it.
WORKFLOW_MSGIDS: dict[int, str] = {
    403: "You may not do this on this case.",
    404: "Unknown event, or outside your jurisdiction.",
    409: "The case changed meanwhile (or is already so); the list was reloaded.",
    422: "Invalid request.",
}


def _now() -> dt.datetime:
    """The clock of the queues (a function, so tests can set it)."""
    return dt.datetime.now(dt.UTC)


def may_see_queues(caller: Caller | None) -> bool:
    """Roles with ``supervise`` or ``dispatch`` see the queues; department staff (``handle``)
    see their unit's queue in the same panel."""
    return (
        has_permission(caller, "supervise")
        or has_permission(caller, "dispatch")
        or _unit_of(caller) is not None
    )


def _unit_of(caller: Caller | None) -> int | None:
    """The department unit whose queue the caller works, if any."""
    if caller is None or not has_permission(caller, "handle"):
        return None
    return getattr(caller, "department_id", None)


def unit_queues(
    conn: Connection, department_id: int, now: dt.datetime, label: str
) -> dict[str, list[dict[str, Any]]]:
    """A department's queue in the panel's three tabs: all its open cases, the overdue ones,
    the supervised ones (rows shaped like ``supervision_queue``'s)."""
    rows = [
        {**r, "assignee_name": None, "department_name": label}
        for r in department_queue(conn, department_id, now=now, limit=QUEUE_LIMIT + 1)
        if r["open"]
    ]
    return {
        "supervised": rows,
        "overdue": [r for r in rows if r["overdue"]],
        "escalated": [r for r in rows if r.get("supervised_at") is not None],
    }


def workflow_message(exc: WorkflowError, lang: str) -> str:
    """A refused workflow action → the message shown (translated by status)."""
    return t(WORKFLOW_MSGIDS.get(exc.status, "Invalid request."), lang)


def _pattern_click() -> int | None:
    """The event id of the pattern button that fired (None: no real click)."""
    trig = ctx.triggered_id
    if not isinstance(trig, dict) or not ctx.triggered or not ctx.triggered[0].get("value"):
        return None
    return positive_id(trig.get("id"))


def _queues(conn: Connection, caller: Caller, now: dt.datetime, lang: str) -> tuple[dict, bool]:
    """Every tab's rows for ``caller`` (one more than shown, to tell "200+"), and whether they
    are a department unit's queue."""
    unit = _unit_of(caller)
    if unit is not None:
        return unit_queues(conn, unit, now, t(UNIT_LABEL, lang)), True
    return {
        k: supervision_queue(conn, caller.scope_path, now=now, kind=k, limit=QUEUE_LIMIT + 1)
        for k in KINDS
    }, False


def toggle_supervision(_open: Any, _close: Any) -> tuple[bool, bool]:
    """Open (for roles that see the queues) or close; the timer runs while open."""
    hidden = ctx.triggered_id != ids.SUP_OPEN or not may_see_queues(web.caller_or_none())
    return hidden, hidden


def register(app: dash.Dash, engine: Engine, settings: Settings) -> None:
    """Register the supervision panel's callbacks on ``app``."""
    app.callback(
        Output(ids.SUP_PANEL, "hidden"),
        Output(ids.SUP_TICK, "disabled"),
        Input(ids.SUP_OPEN, "n_clicks"),
        Input(ids.SUP_CLOSE, "n_clicks"),
        prevent_initial_call=True,
    )(toggle_supervision)
    _register_queues(app, engine)
    _register_row_click(app, engine)
    _register_flag(app, engine)


def _register_queues(app: dash.Dash, engine: Engine) -> None:
    @app.callback(
        Output(ids.SUP_BODY, "children"),
        Output(ids.SUP_TAB_SUPERVISED, "label"),
        Output(ids.SUP_TAB_OVERDUE, "label"),
        Output(ids.SUP_TAB_ESCALATED, "label"),
        Output(ids.SUP_STATUS, "children"),
        Input(ids.SUP_PANEL, "hidden"),
        Input(ids.SUP_TABS, "value"),
        Input(ids.SUP_TICK, "n_intervals"),
        Input(ids.SUP_REFRESH, "data"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )
    @guarded(unavailable=lambda message: (*(no_update,) * 4, message))
    def supervision_queues(hidden: Any, kind: Any, _tick: Any, _refresh: Any, search: Any):
        """The chosen queue's rows and every tab's count, for the caller's scope."""
        if hidden is not False:
            return (no_update,) * 5
        lang = lang_from_search(search if isinstance(search, str) else None)
        caller = web.caller_or_none()
        if not may_see_queues(caller):
            log_refusal(engine, "supervision queues", "no supervise/dispatch permission")
            return html.P(t(NOT_ALLOWED, lang)), no_update, no_update, no_update, ""
        assert caller is not None
        kind = kind if kind in KINDS else "supervised"
        now = _now()
        with engine.connect() as conn:
            queues, unit = _queues(conn, caller, now, lang)
        labels = [
            tab_label(k, min(len(queues[k]), QUEUE_LIMIT), lang,
                      more=len(queues[k]) > QUEUE_LIMIT, unit=unit)
            for k in KINDS
        ]  # fmt: skip
        body = queue_rows(queues[kind][:QUEUE_LIMIT], now=now, lang=lang,
                          can_flag=has_permission(caller, "supervise"))  # fmt: skip
        return body, *labels, t(UPDATED, lang, time=fmt.local_time(now, "clock"))


def _register_row_click(app: dash.Dash, engine: Engine) -> None:
    @app.callback(
        Output(ids.FLY, "data", allow_duplicate=True),
        Output(ids.ET_MARKER, "children", allow_duplicate=True),
        Output(ids.LIVE_EVENTS, "clickData", allow_duplicate=True),
        Input({"type": ids.SUP_ROW, "id": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    @guarded(unavailable=lambda _message: (no_update, no_update, no_update))
    def show_supervised_case(_clicks: Any) -> tuple:
        """A row click → fly to the case and mark it (caller's scope), then open its details
        as a click on its marker does."""
        event_id = _pattern_click()
        caller = web.caller_or_none()
        if event_id is None or not may_see_queues(caller):
            return no_update, no_update, no_update
        assert caller is not None
        with engine.connect() as conn:
            ev = event_location(conn, scope_path=caller.scope_path, event_id=event_id)
        if ev is None:
            deny(engine, f"supervision event {event_id}", (no_update, [], no_update))
        fly, marker = event_highlight(ev)
        click = {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [ev["lon"], ev["lat"]]},
            "properties": {"id": ev["id"]},
        }  # the marker-click path opens the details
        return fly, marker, click


def _register_flag(app: dash.Dash, engine: Engine) -> None:
    @app.callback(
        Output(ids.SUP_MESSAGE, "children"),
        Output(ids.SUP_REFRESH, "data"),
        Input({"type": ids.SUP_FLAG, "id": ALL}, "n_clicks"),
        State(ids.SUP_REFRESH, "data"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )
    @guarded(unavailable=lambda message: (message, no_update))
    def flag_supervision(_clicks: Any, refresh: Any, search: Any) -> tuple:
        """A row's 督办 button → put the case under supervision (``supervise`` only)."""
        event_id = _pattern_click()
        if event_id is None:
            return no_update, no_update
        lang = lang_from_search(search if isinstance(search, str) else None)
        bump = (refresh if isinstance(refresh, int) and not isinstance(refresh, bool) else 0) + 1
        caller = require(engine, "supervise", (t(WORKFLOW_MSGIDS[403], lang), no_update),
                         target=f"supervise event {event_id}")  # fmt: skip
        try:
            with engine.begin() as conn:
                perform(conn, event_id, "supervise", Actor.from_caller(caller))
        except WorkflowError as exc:
            if exc.status == 404:
                log_refusal(engine, f"supervise event {event_id}")
            return workflow_message(exc, lang), bump
        return t(FLAGGED, lang, id=event_id), bump
