"""Callbacks of the grid-worker roster panel (网格员管理, ``dashboard/roster.py``).

* header button / close → the panel's ``hidden``;
* page URL → whether the forms are enabled (``roster`` permission of the server-side caller);
* panel open + filters + ``?cell=`` → the scoped worker list (phones masked by geodata), the
  coverage/training summary and the "mostly outside their cell" list;
* one selected worker → their assignment history and trainings;
* the form buttons → one write (add / edit / deactivate / reactivate / move / training):
  one callback, whose inputs and states are grouped by name (the clicks, the page URL, the
  selection, the form's fields as a dict, the refresh counter).

The caller and its scope always come from :func:`web.current_caller` (server side);
every write re-checks the permission here and again in :mod:`geodata.roster`, which also
checks the worker's and the cells' scope. A refused write changes nothing, is logged as
``denied`` and answers with a message; no exception reaches the browser. A role without the
``roster`` permission is refused like everywhere (:func:`callbacks.guard.require`); a write
that geodata refuses (a worker or cell outside the jurisdiction, an employee number held
elsewhere) is a roster audit entry of its own (:func:`geodata.roster.log_roster`), one per
attempt — the security log's throttle for repeated refusals would fold a second guess at
another area's employee number into the first.
"""

from __future__ import annotations

import logging
from typing import Any

import dash
from dash import Input, Output, State, ctx, no_update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from callbacks.guard import guarded, require
from callbacks.panel import query_params
from dashboard import fmt, ids
from dashboard.roster import (
    WRITE_CONTROLS,
    detail_view,
    outside_view,
    roster_message,
    summary_view,
    worker_options,
)
from geodata import roster
from geodata.accounts import Caller, has_permission
from geodata.coverage import coverage_summary, workers_outside
from gridcmd import web
from gridcmd.i18n import lang_from_search, t
from gridcmd.settings import Settings

__all__ = ["ACTIONS", "FORM_FIELDS", "register"]

log = logging.getLogger(__name__)

UNKNOWN_CELL = "Unknown cell code, or outside your jurisdiction."
READ_ONLY = "Read-only: your role may not manage grid workers."
SELECT_ONE = "Select exactly one worker."
FAILED = "The change failed; nothing was saved."
LIST_LIMIT = 100

#: The form buttons → the write each asks for.
ACTIONS = {
    ids.ROSTER_ADD: "add",
    ids.ROSTER_EDIT: "edit",
    ids.ROSTER_DEACTIVATE: "deactivate",
    ids.ROSTER_REACTIVATE: "reactivate",
    ids.ROSTER_MOVE: "move",
    ids.ROSTER_TRAIN: "train",
}
#: The form's fields (the ``form`` dict of :func:`roster_action`) → their inputs.
FORM_FIELDS = {
    "add_no": ids.ROSTER_ADD_NO,
    "add_name": ids.ROSTER_ADD_NAME,
    "add_phone": ids.ROSTER_ADD_PHONE,
    "add_cell": ids.ROSTER_ADD_CELL,
    "edit_name": ids.ROSTER_EDIT_NAME,
    "edit_phone": ids.ROSTER_EDIT_PHONE,
    "edit_duty": ids.ROSTER_EDIT_DUTY,
    "move_cell": ids.ROSTER_MOVE_CELL,
    "move_note": ids.ROSTER_MOVE_NOTE,
    "train_date": ids.ROSTER_TRAIN_DATE,
    "train_title": ids.ROSTER_TRAIN_TITLE,
    "train_hours": ids.ROSTER_TRAIN_HOURS,
}


def _s(value: Any) -> str | None:
    """A browser value that must be text: anything else (a crafted list or dict) is None."""
    return value if isinstance(value, str) else None


def _error(text: str) -> list[Any]:
    return [roster_message(text, "error")]


def _one(picked: list[str] | None) -> str:
    if not picked or len(picked) != 1:
        raise roster.RosterError(SELECT_ONE)
    return picked[0]


def _form(picked: Any, form: Any) -> dict[str, Any]:
    """The browser's selection and form values, each of the type its write takes (a crafted
    value of another type becomes None, or is dropped from the selection)."""
    form = form if isinstance(form, dict) else {}
    out: dict[str, Any] = {k: _s(form.get(k)) for k in FORM_FIELDS}
    hours = form.get("train_hours")
    out["train_hours"] = hours if isinstance(hours, int | float | str) else None
    picked = [picked] if isinstance(picked, str) else picked
    picked = picked if isinstance(picked, list) else []
    out["picked"] = [str(p) for p in picked if isinstance(p, str | int)]
    return out


def _run(conn: Connection, caller: Caller, action: str, f: dict[str, Any], lang: str) -> str:
    """One write; returns the success message (exceptions are mapped by the caller)."""
    if action == "add":
        r = roster.add_worker(conn, caller, f["add_no"], f["add_name"], f["add_phone"],
                              f["add_cell"])  # fmt: skip
        return t("Worker added:", lang) + f" {r['employee_no']} {r['name']} → {r['cell_code']}"
    if action == "edit":
        no = _one(f["picked"])
        roster.edit_worker(conn, caller, no, name=f["edit_name"], phone=f["edit_phone"],
                           duty_status=f["edit_duty"])  # fmt: skip
        return t("Worker updated:", lang) + f" {no}"
    if action in ("deactivate", "reactivate"):
        no = _one(f["picked"])
        fn = roster.deactivate_worker if action == "deactivate" else roster.reactivate_worker
        fn(conn, caller, no)
        msg = "Worker deactivated:" if action == "deactivate" else "Worker reactivated:"
        return t(msg, lang) + f" {no}"
    if action == "move":
        no = _one(f["picked"])
        r = roster.move_worker(conn, caller, no, f["move_cell"], f["move_note"])
        return t("Worker moved:", lang) + f" {no} {r['from']} → {r['to']}"
    if action == "train":
        n = roster.record_training(conn, caller, f["picked"] or [], f["train_date"],
                                   f["train_title"], f["train_hours"])  # fmt: skip
        return t("Training recorded for workers:", lang) + f" {n}"
    raise roster.RosterError("Unknown action.")


def toggle_roster(n_open: int | None, n_close: int | None) -> bool:
    """Open → shown; close → hidden."""
    return ctx.triggered_id != ids.ROSTER_OPEN


def roster_permissions(search: str | None) -> tuple:
    """The forms enabled only for callers with the ``roster`` permission (a note otherwise)."""
    allowed = has_permission(web.caller_or_none(), "roster")
    note = [] if allowed else [roster_message(t(READ_ONLY, lang_from_search(_s(search))))]
    return (*[not allowed] * len(WRITE_CONTROLS), note)


def register(app: dash.Dash, engine: Engine, settings: Settings) -> None:
    """Register the roster panel's callbacks on ``app``."""
    app.callback(
        Output(ids.ROSTER_PANEL, "hidden"),
        Input(ids.ROSTER_OPEN, "n_clicks"),
        Input(ids.ROSTER_CLOSE, "n_clicks"),
        prevent_initial_call=True,
    )(toggle_roster)
    app.callback(
        *[Output(c, "disabled") for c in WRITE_CONTROLS],
        Output(ids.ROSTER_READONLY, "children"),
        Input(ids.URL, "search"),
    )(roster_permissions)
    _register_list(app, engine)
    _register_detail(app, engine)
    _register_action(app, engine)


def _register_list(app: dash.Dash, engine: Engine) -> None:
    @app.callback(
        Output(ids.ROSTER_PICK, "options"),
        Output(ids.ROSTER_COUNT, "children"),
        Output(ids.ROSTER_SUMMARY, "children"),
        Output(ids.ROSTER_OUTSIDE, "children"),
        Input(ids.ROSTER_PANEL, "hidden"),
        Input(ids.ROSTER_QUERY, "value"),
        Input(ids.ROSTER_ACTIVE, "value"),
        Input(ids.ROSTER_IN_CELL, "value"),
        Input(ids.URL, "search"),
        Input(ids.ROSTER_REFRESH, "data"),
    )
    @guarded(unavailable=lambda message: ([], _error(message), [], []))
    def list_roster(hidden, query, active, in_cell, search, refresh) -> tuple:
        """Panel open, filters or ``?cell=`` → the scoped list (phones masked by geodata);
        the summaries too unless only the search text or the active filter changed."""
        if hidden is not False:
            return no_update, no_update, no_update, no_update
        query, active, search = _s(query), _s(active), _s(search)
        lang = lang_from_search(search)
        caller = require(engine, "view", ([], _error(t(roster.NO_PERMISSION, lang)), [], []))
        cell = (query_params(search).get("cell", "").strip() if in_cell else "") or None
        flag = {"active": True, "inactive": False}.get(active or "active")
        scope = caller.scope_path
        # Typing in the search box or switching active/inactive changes the list only: the
        # summaries (up to ~0.6 s prefecture-wide on the full demo) are not recomputed.
        list_only = ctx.triggered_id in (ids.ROSTER_QUERY, ids.ROSTER_ACTIVE)
        unknown = ([], _error(t(UNKNOWN_CELL, lang)), [], [])
        try:
            with engine.connect() as conn:
                listed = roster.list_workers(
                    conn, scope, cell_code=cell, query=query, active=flag, limit=LIST_LIMIT
                )
                if not list_only:
                    cov = coverage_summary(conn, scope, cell_code=cell)
                    trained = roster.training_summary(conn, scope)
                    outside = workers_outside(conn, scope, cell_code=cell)
        except ValueError:
            return unknown
        if listed is None:
            return unknown
        count = t("Workers", lang) + f": {fmt.count(listed['total'])}"
        if listed["total"] > LIST_LIMIT:
            count += " · " + t("showing the first", lang) + f" {LIST_LIMIT}"
        options = worker_options(listed["rows"], lang)
        if list_only:
            return options, [count], no_update, no_update
        return options, [count], summary_view(cov, trained, lang), outside_view(outside, lang)


def _register_detail(app: dash.Dash, engine: Engine) -> None:
    @app.callback(
        Output(ids.ROSTER_DETAIL, "children"),
        Output(ids.ROSTER_EDIT_NAME, "value"),
        Output(ids.ROSTER_EDIT_DUTY, "value"),
        Input(ids.ROSTER_PICK, "value"),
        Input(ids.ROSTER_REFRESH, "data"),
        State(ids.URL, "search"),
    )
    @guarded(unavailable=lambda message: (_error(message), no_update, no_update))
    def show_worker(picked: list[str] | None, refresh: Any, search: str | None) -> tuple:
        """One selected worker → their assignment history and trainings; the edit form gets
        their name and duty status."""
        lang = lang_from_search(_s(search))
        caller = web.caller_or_none()
        if not isinstance(picked, list) or len(picked) != 1 or caller is None:
            return [], "", None
        no = str(picked[0])
        try:
            with engine.connect() as conn:
                history = roster.assignment_history(conn, caller.scope_path, no)
                trainings = roster.worker_trainings(conn, caller.scope_path, no)
                row = roster.list_workers(conn, caller.scope_path, query=no, limit=5)
        except ValueError:
            history = None
        if history is None or trainings is None:
            return _error(t(roster.NOT_IN_SCOPE, lang)), "", None
        me = next((r for r in (row or {"rows": []})["rows"] if r["employee_no"] == no), None)
        return (
            detail_view(no, history, trainings, lang),
            me["name"] if me else "",
            me["duty_status"] if me else None,
        )


def _register_action(app: dash.Dash, engine: Engine) -> None:
    @app.callback(
        output=[Output(ids.ROSTER_MESSAGE, "children"), Output(ids.ROSTER_REFRESH, "data")],
        inputs={"clicks": [Input(b, "n_clicks") for b in ACTIONS]},
        state={
            "search": State(ids.URL, "search"),
            "picked": State(ids.ROSTER_PICK, "value"),
            "form": {name: State(i, "value") for name, i in FORM_FIELDS.items()},
            "refresh": State(ids.ROSTER_REFRESH, "data"),
        },
        prevent_initial_call=True,
    )
    @guarded(unavailable=lambda message: (_error(message), no_update))
    def roster_action(clicks: Any = None, search: Any = None, picked: Any = None,
                      form: Any = None, refresh: Any = 0) -> tuple:  # fmt: skip
        """A form button → its one write, for a caller with the ``roster`` permission; the
        message, and the refresh counter bumped after a change."""
        lang = lang_from_search(_s(search))
        action = ACTIONS.get(ctx.triggered_id) if isinstance(ctx.triggered_id, str) else None
        if action is None:
            return no_update, no_update
        caller = require(engine, "roster", (_error(t(roster.NO_PERMISSION, lang)), no_update),
                         target=f"roster {action}")  # fmt: skip
        values = _form(picked, form)
        try:
            with engine.begin() as conn:
                ok = _run(conn, caller, action, values, lang)
        except roster.NumberUnavailable:
            # Word for word the answer to any refused write: no sign of the out-of-scope
            # worker who holds the number (geodata.roster.add_worker); auditors see a denial.
            _log_refused(engine, caller, action, "employee number unavailable")
            return _error(t(FAILED, lang)), no_update
        except roster.RosterError as exc:
            extra = str(exc)[len(exc.msgid) :].strip()
            return _error(t(exc.msgid, lang) + (f" {extra}" if extra else "")), no_update
        except (LookupError, PermissionError) as exc:
            _log_refused(engine, caller, action, type(exc).__name__)
            msg = roster.NO_PERMISSION if isinstance(exc, PermissionError) else roster.NOT_IN_SCOPE
            return _error(t(msg, lang)), no_update
        except (OperationalError, InterfaceError):
            raise  # the database is unreachable: the guard's "database unavailable"
        except DBAPIError as exc:  # the database refused the write (a constraint, a value)
            log.warning("roster change refused by the database: %s", exc.orig)
            return _error(t(FAILED, lang)), no_update
        except Exception:  # never a traceback to the browser
            log.exception("roster change failed")
            return _error(t(FAILED, lang)), no_update
        return [roster_message(ok, "ok")], (refresh if isinstance(refresh, int) else 0) + 1


def _log_refused(engine: Engine, caller: Caller, action: str, detail: str) -> None:
    """The roster's audit entry of a write geodata refused (one per attempt; see above)."""
    try:
        with engine.begin() as conn:
            roster.log_roster(conn, caller, "denied", f"roster {action}", detail,
                              ip=web.client_ip())  # fmt: skip
    except DBAPIError:  # the refusal stands even if it cannot be logged
        log.warning("roster refusal not logged (database unavailable)")
