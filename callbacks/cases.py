"""Callbacks of the case panel (案件办理, issue 6 §1–§3).

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

import logging
from typing import Any

import dash
from dash import ALL, Input, Output, State, ctx, html, no_update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from dashboard import ids
from dashboard.cases import ACTION_MSGIDS, empty_parts, render_case
from geodata.accounts import has_permission
from geodata.cases import case_view
from geodata.workflow import TRANSITIONS, Actor, WorkflowError, perform
from gridcmd import web
from gridcmd.i18n import lang_from_search, t
from gridcmd.settings import Settings
from gridcmd.web import log_denial

__all__ = ["error_message", "register"]

log = logging.getLogger(__name__)
NOT_FOUND = "Not found, or outside your jurisdiction."
DB_UNAVAILABLE = "The database is unavailable."
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


def _positive(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**63:
        return None
    return value


def _marker_id(click: Any) -> int | None:
    props = (click or {}).get("properties") if isinstance(click, dict) else None
    if not isinstance(props, dict) or props.get("cluster"):
        return None
    return _positive(props.get("id"))


def _row_id(click: Any) -> int | None:
    raw = click.get("rowId") if isinstance(click, dict) else None
    if isinstance(raw, str) and raw.isdigit() and len(raw) <= 18:
        raw = int(raw)
    return _positive(raw)


def _state(data: Any) -> dict[str, Any] | None:
    """The CASE_STATE store, validated (the server wrote it; the server re-checks anyway)."""
    if not isinstance(data, dict) or _positive(data.get("event")) is None:
        return None
    assign = data.get("assign")
    return {
        "event": data["event"],
        "version": _positive(data.get("version")),
        "assign": assign if assign in ("dispatch", "reassign") else None,
        "merge_into": _positive(data.get("merge_into")),
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


def register(app: dash.Dash, engine: Engine, settings: Settings) -> None:
    """Register the case-panel callbacks."""
    view_kwargs = {
        "stale_after_s": settings.stale_after_s,
        "radius_m": settings.duplicate_radius_m,
        "window_h": settings.duplicate_window_h,
    }

    def parts(message: Any = "", **overrides: Any) -> dict[str, Any]:
        out = {**empty_parts(), "message": message, "note": no_update}
        out.update(overrides)
        return out

    def render(event_id: int, actor: Actor, lang: str, message: Any = "",
               merge_into: int | None = None) -> dict[str, Any]:  # fmt: skip
        """The panel for ``event_id`` as ``actor`` sees it now (a message if it cannot)."""
        try:
            with engine.connect() as conn:
                view = case_view(conn, event_id, actor, **view_kwargs)
        except WorkflowError as exc:
            log_denial(engine, f"case event {event_id}")
            return parts(error_message(exc, lang))
        except DBAPIError as exc:
            log.warning("case panel: database unavailable (%s)", exc.orig)
            return parts(t(DB_UNAVAILABLE, lang))
        return {**render_case(view, lang, merge_into=merge_into), "message": message,
                "note": no_update}  # fmt: skip

    def actor_or_none() -> Actor | None:
        caller = web.current_caller()
        return Actor.from_caller(caller) if has_permission(caller, "view") else None

    @app.callback(
        Output(ids.CASE_PANEL, "hidden"),
        *(Output(i, p, allow_duplicate=True) for i, p in _PART_OUTPUTS),
        Input(ids.LIVE_EVENTS, "clickData"),
        Input(ids.ET_GRID, "cellClicked"),
        Input(ids.CASE_CLOSE, "n_clicks"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )
    def open_case(event_click: Any, row_click: Any, _close: Any, search: Any) -> tuple:
        lang = lang_from_search(search)
        trigger = ctx.triggered_id
        if trigger == ids.CASE_CLOSE:
            return True, *(parts("", note="")[k] for k in PARTS)
        target = _row_id(row_click) if trigger == ids.ET_GRID else _marker_id(event_click)
        if target is None:
            return (no_update,) * (1 + len(PARTS))
        actor = actor_or_none()
        if actor is None:
            out = parts(t(NO_VIEW, lang))
        else:
            out = render(target, actor, lang)
            out["note"] = ""
        return False, *(out[k] for k in PARTS)

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
    def case_action(_acts: Any, _picks: Any, _depts: Any, _merges: Any, state: Any, note: Any,
                    priority: Any, search: Any) -> tuple:  # fmt: skip
        lang = lang_from_search(search)
        trigger = ctx.triggered_id
        clicked = ctx.triggered[0].get("value") if ctx.triggered else None
        # New buttons rendered into the panel also "trigger" (n_clicks 0): not a click.
        if not isinstance(trigger, dict) or not clicked:
            return (no_update,) * len(PARTS)
        actor = actor_or_none()
        if actor is None:
            return tuple(parts(t(NO_VIEW, lang))[k] for k in PARTS)
        st = _state(state)
        if st is None:
            return tuple(parts(t(NO_CASE, lang))[k] for k in PARTS)
        kind, event_id = trigger.get("type"), st["event"]
        if kind == ids.CASE_MERGE:  # step one of a merge: choose the original, then confirm
            into = _positive(trigger.get("into"))
            out = render(event_id, actor, lang, t(CHOOSE_MERGE, lang), merge_into=into)
            return tuple(out[k] for k in PARTS)
        if kind == ids.CASE_ACT and trigger.get("action") == "cancel":
            return tuple(render(event_id, actor, lang)[k] for k in PARTS)

        kwargs: dict[str, Any] = {
            "version": st["version"],
            "note": note if isinstance(note, str) else "",
        }
        if kind == ids.CASE_ACT:
            action = trigger.get("action")
            if action == "merge":
                kwargs["merge_into"] = st["merge_into"]
        elif kind in (ids.CASE_PICK, ids.CASE_DEPT):
            action = st["assign"] or "dispatch"
            key, field = (
                ("worker", "worker_id") if kind == ids.CASE_PICK else ("dept", "department_id")
            )
            kwargs[field] = _positive(trigger.get(key))
            if kwargs[field] is None:
                return tuple(parts(t(NO_CASE, lang))[k] for k in PARTS)
            if action == "dispatch" and priority in ("red", "yellow", "blue"):
                kwargs["priority"] = priority
        else:
            return (no_update,) * len(PARTS)
        if action not in TRANSITIONS:
            return tuple(parts(t(NO_CASE, lang))[k] for k in PARTS)
        try:
            with engine.begin() as conn:
                perform(conn, event_id, action, actor, **kwargs)
        except WorkflowError as exc:
            if exc.status in (403, 404):
                log_denial(engine, f"case {action} event {event_id}", exc.detail)
            out = render(
                event_id,
                actor,
                lang,
                html.Span(error_message(exc, lang), className="gc-case-error"),
            )
            return tuple(out[k] for k in PARTS)
        except DBAPIError as exc:
            log.warning("case action: database unavailable (%s)", exc.orig)
            return tuple(t(DB_UNAVAILABLE, lang) if k == "message" else no_update for k in PARTS)
        done = t(DONE, lang).replace("{action}", t(ACTION_MSGIDS[action], lang))
        out = render(event_id, actor, lang, html.Span(done, className="gc-case-ok"))
        out["note"] = ""
        return tuple(out[k] for k in PARTS)
