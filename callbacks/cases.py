"""Callbacks of the case panel (案件办理, ``dashboard/cases.py``).

* ``open_case``: a click on an event marker (live layer) or an event-table row opens the
  panel for that event; the close button hides it and clears the candidate markers.
* ``case_action``: a workflow button, a candidate's 派遣 (dispatch or reassign), a
  department's 派遣至部门, or a duplicate's 合并 (two steps: choose, then confirm) →
  :func:`geodata.workflow.perform` with the version the panel was rendered with → the panel
  re-rendered from the database (also after a refusal, so a stale panel refreshes itself).

Thin and scoped: ids from the browser are only keys. The caller comes from the server-side
session (:func:`web.current_caller`); visibility and permission are
``geodata.workflow``'s (``load_event`` / ``perform``), never re-implemented here. Refusals
(404/403) are logged as denials, like the other callbacks.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import ALL, Input, Output, State, ctx, html, no_update
from sqlalchemy.engine import Engine

from callbacks.guard import (
    clicked_feature_id,
    clicked_row_id,
    guarded,
    log_refusal,
    positive_id,
    require,
)
from dashboard import ids
from dashboard.case_actions import ACTION_MSGIDS
from dashboard.cases import empty_parts, render_case
from geodata.cases import case_view
from geodata.workflow import TRANSITIONS, Actor, WorkflowError, perform
from gridcmd.i18n import lang_from_search, t
from gridcmd.settings import Settings

__all__ = ["PARTS", "error_message", "register"]

NOT_FOUND = "Not found, or outside your jurisdiction."
NO_VIEW = "Your role may not view events."
FORBIDDEN = "You may not take this action on this case."
STALE = "Someone else changed this case first; the panel now shows its current state."
CONFLICT = "This action is not possible in the case's current status."
NOTE_NEEDED = "Please write the reason in the note first."
NOTE_TOO_LONG = "The note is too long."
INVALID = "The request was refused: {detail}"
NO_CASE = "Open an event first."
DONE = "Done: {action}."
CHOOSE_MERGE = "Confirm the merge below."

#: The panel parts in the order of the callbacks' outputs (after the panel's ``hidden``).
PARTS = ("summary", "message", "actions", "candidates", "departments", "duplicates", "history",
         "markers", "state", "priority", "note")  # fmt: skip
_PART_OUTPUTS = (
    (ids.CASE_SUMMARY, "children"),
    (ids.CASE_MESSAGE, "children"),
    (ids.CASE_ACTIONS, "children"),
    (ids.CASE_CANDIDATES, "children"),
    (ids.CASE_DEPARTMENTS, "children"),
    (ids.CASE_DUPLICATES, "children"),
    (ids.CASE_HISTORY, "children"),
    (ids.CASE_MARKERS, "data"),
    (ids.CASE_STATE, "data"),
    (ids.CASE_PRIORITY, "value"),
    (ids.CASE_NOTE, "value"),
)


def _state(data: Any) -> dict[str, Any] | None:
    """The CASE_STATE store, validated (the server wrote it; the server re-checks anyway)."""
    if not isinstance(data, dict) or positive_id(data.get("event")) is None:
        return None
    assign = data.get("assign")
    return {
        "event": data["event"],
        "version": positive_id(data.get("version")),
        "assign": assign if assign in ("dispatch", "reassign") else None,
        "merge_into": positive_id(data.get("merge_into")),
    }


def error_message(exc: WorkflowError, lang: str) -> str:
    """A refused action (``WorkflowError``) → a message in the UI language."""
    if exc.status == 404:
        return t(NOT_FOUND, lang)
    if exc.status == 403:
        return t(FORBIDDEN, lang)
    if exc.status == 409:
        return t(STALE if exc.field == "version" else CONFLICT, lang)
    if exc.field == "note":
        return t(NOTE_TOO_LONG if "longer" in exc.detail else NOTE_NEEDED, lang)
    return t(INVALID, lang).replace("{detail}", exc.detail)


def _parts(message: Any = "", **overrides: Any) -> dict[str, Any]:
    """The panel's parts with no case shown and ``message`` (the note left as it is)."""
    return {**empty_parts(), "message": message, "note": no_update, **overrides}


def _outputs(parts: dict[str, Any]) -> tuple:
    return tuple(parts[k] for k in PARTS)


def _request(trigger: dict, st: dict[str, Any], note: Any, priority: Any) -> tuple[str, dict]:
    """The workflow action a panel button asks for and its keywords for
    :func:`geodata.workflow.perform` (``version`` of the rendered panel, note, target);
    ``("", {})`` when the button cannot be turned into one."""
    kind = trigger.get("type")
    kwargs: dict[str, Any] = {"version": st["version"],
                              "note": note if isinstance(note, str) else ""}  # fmt: skip
    if kind == ids.CASE_ACT:
        action = trigger.get("action")
        if action == "merge":
            kwargs["merge_into"] = st["merge_into"]
    elif kind in (ids.CASE_PICK, ids.CASE_DEPT):
        action = st["assign"] or "dispatch"
        key, field = ("worker", "worker_id") if kind == ids.CASE_PICK else ("dept", "department_id")
        kwargs[field] = positive_id(trigger.get(key))
        if kwargs[field] is None:
            return "", {}
        if action == "dispatch" and priority in ("red", "yellow", "blue"):
            kwargs["priority"] = priority
    else:
        return "", {}
    return (action, kwargs) if action in TRANSITIONS else ("", {})


def register(app: dash.Dash, engine: Engine, settings: Settings) -> None:
    """Register the case-panel callbacks."""
    view_kwargs = {
        "stale_after_s": settings.stale_after_s,
        "radius_m": settings.duplicate_radius_m,
        "window_h": settings.duplicate_window_h,
    }

    def render(event_id: int, actor: Actor, lang: str, message: Any = "",
               merge_into: int | None = None) -> dict[str, Any]:  # fmt: skip
        """The panel for ``event_id`` as ``actor`` sees it now (a message if it cannot)."""
        try:
            with engine.connect() as conn:
                view = case_view(conn, event_id, actor, **view_kwargs)
        except WorkflowError as exc:
            log_refusal(engine, f"case event {event_id}")
            return _parts(error_message(exc, lang))
        return {**render_case(view, lang, merge_into=merge_into), "message": message,
                "note": no_update}  # fmt: skip

    _register_open(app, engine, render)
    _register_action(app, engine, render)


def _register_open(app: dash.Dash, engine: Engine, render: Any) -> None:
    @app.callback(
        Output(ids.CASE_PANEL, "hidden"),
        *(Output(i, p, allow_duplicate=True) for i, p in _PART_OUTPUTS),
        Input(ids.LIVE_EVENTS, "clickData"),
        Input(ids.ET_GRID, "cellClicked"),
        Input(ids.CASE_CLOSE, "n_clicks"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )
    @guarded(unavailable=lambda message: (False, *_outputs(_parts(message, note=""))))
    def open_case(event_click: Any, row_click: Any, _close: Any, search: Any) -> tuple:
        """A marker or table-row click → the panel for that event; close → hidden."""
        lang = lang_from_search(search)
        trigger = ctx.triggered_id
        if trigger == ids.CASE_CLOSE:
            return True, *_outputs(_parts("", note=""))
        if trigger == ids.ET_GRID:
            target = clicked_row_id(row_click)
        else:
            target = clicked_feature_id(event_click)
        if target is None:
            return (no_update,) * (1 + len(PARTS))
        caller = require(engine, "view", (False, *_outputs(_parts(t(NO_VIEW, lang)))))
        out = render(target, Actor.from_caller(caller), lang)
        return False, *_outputs({**out, "note": ""})


def _register_action(app: dash.Dash, engine: Engine, render: Any) -> None:
    @app.callback(
        *(Output(i, p, allow_duplicate=True) for i, p in _PART_OUTPUTS),
        Input({"type": ids.CASE_ACT, "action": ALL}, "n_clicks"),
        Input({"type": ids.CASE_PICK, "worker": ALL}, "n_clicks"),
        Input({"type": ids.CASE_DEPT, "dept": ALL}, "n_clicks"),
        Input({"type": ids.CASE_MERGE, "into": ALL}, "n_clicks"),
        State(ids.CASE_STATE, "data"),
        State(ids.CASE_NOTE, "value"),
        State(ids.CASE_PRIORITY, "value"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )
    @guarded(unavailable=lambda message: tuple(
        message if k == "message" else no_update for k in PARTS))  # fmt: skip
    def case_action(_acts: Any, _picks: Any, _depts: Any, _merges: Any, state: Any, note: Any,
                    priority: Any, search: Any) -> tuple:  # fmt: skip
        """A workflow, 派遣, department or 合并 button → the action, then the panel again."""
        lang = lang_from_search(search)
        trigger = ctx.triggered_id
        clicked = ctx.triggered[0].get("value") if ctx.triggered else None
        # New buttons rendered into the panel also "trigger" (n_clicks 0): not a click.
        if not isinstance(trigger, dict) or not clicked:
            return (no_update,) * len(PARTS)
        actor = Actor.from_caller(require(engine, "view", _outputs(_parts(t(NO_VIEW, lang)))))
        st = _state(state)
        if st is None:
            return _outputs(_parts(t(NO_CASE, lang)))
        kind, event_id = trigger.get("type"), st["event"]
        if kind == ids.CASE_MERGE:  # step one of a merge: choose the original, then confirm
            into = positive_id(trigger.get("into"))
            return _outputs(render(event_id, actor, lang, t(CHOOSE_MERGE, lang), merge_into=into))
        if kind == ids.CASE_ACT and trigger.get("action") == "cancel":
            return _outputs(render(event_id, actor, lang))
        if kind not in (ids.CASE_ACT, ids.CASE_PICK, ids.CASE_DEPT):
            return (no_update,) * len(PARTS)
        action, kwargs = _request(trigger, st, note, priority)
        if not action:
            return _outputs(_parts(t(NO_CASE, lang)))
        try:
            with engine.begin() as conn:
                perform(conn, event_id, action, actor, **kwargs)
        except WorkflowError as exc:
            if exc.status in (403, 404):
                log_refusal(engine, f"case {action} event {event_id}", exc.detail)
            failed = html.Span(error_message(exc, lang), className="gc-case-error")
            return _outputs(render(event_id, actor, lang, failed))
        done = t(DONE, lang).replace("{action}", t(ACTION_MSGIDS[action], lang))
        out = render(event_id, actor, lang, html.Span(done, className="gc-case-ok"))
        return _outputs({**out, "note": ""})
