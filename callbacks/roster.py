"""Callbacks of the grid-worker roster panel (网格员管理, ``dashboard/roster.py``).

* header button / close → the panel's ``hidden``;
* page URL → whether the forms are enabled (``roster`` permission of the server-side caller);
* panel open + filters + ``?cell=`` → the scoped worker list (phones masked by geodata), the
  coverage/training summary and the "mostly outside their cell" list;
* one selected worker → their assignment history and trainings;
* the form buttons → one write (add / edit / deactivate / reactivate / move / training).

The caller and its scope always come from :func:`web.current_caller` (server side);
every write re-checks the permission here and again in :mod:`geodata.roster`, which also
checks the worker's and the cells' scope. A refused write changes nothing, is logged as
``denied`` and answers with a message; no exception reaches the browser.
"""

from __future__ import annotations

import logging
from typing import Any

import dash
import flask
from dash import Input, Output, State, ctx, no_update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

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

__all__ = ["register"]

log = logging.getLogger(__name__)

DB_UNAVAILABLE = "The database is unavailable."
UNKNOWN_CELL = "Unknown cell code, or outside your jurisdiction."
READ_ONLY = "Read-only: your role may not manage grid workers."
SELECT_ONE = "Select exactly one worker."
FAILED = "The change failed; nothing was saved."
LIST_LIMIT = 100

_ACTIONS = {
    ids.ROSTER_ADD: "add",
    ids.ROSTER_EDIT: "edit",
    ids.ROSTER_DEACTIVATE: "deactivate",
    ids.ROSTER_REACTIVATE: "reactivate",
    ids.ROSTER_MOVE: "move",
    ids.ROSTER_TRAIN: "train",
}


def _s(value: Any) -> str | None:
    """A browser value that must be text: anything else (a crafted list or dict) is None."""
    return value if isinstance(value, str) else None


def _ip() -> str | None:
    return flask.request.remote_addr if flask.has_request_context() else None


def _one(picked: list[str] | None) -> str:
    if not picked or len(picked) != 1:
        raise roster.RosterError(SELECT_ONE)
    return picked[0]


def _run(conn, caller: Caller, action: str, f: dict[str, Any], lang: str) -> str:
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


def register(app: dash.Dash, engine: Engine, settings: Settings) -> None:
    """Register the roster panel's callbacks on ``app``."""
    del settings

    def _log_denied(caller: Caller, action: str, detail: str) -> None:
        try:
            with engine.begin() as conn:
                roster.log_roster(conn, caller, "denied", f"roster {action}", detail, ip=_ip())
        except DBAPIError:  # the refusal stands even if it cannot be logged
            pass

    @app.callback(
        Output(ids.ROSTER_PANEL, "hidden"),
        Input(ids.ROSTER_OPEN, "n_clicks"),
        Input(ids.ROSTER_CLOSE, "n_clicks"),
        prevent_initial_call=True,
    )
    def toggle_roster(n_open: int | None, n_close: int | None) -> bool:
        return ctx.triggered_id != ids.ROSTER_OPEN

    @app.callback(
        *[Output(c, "disabled") for c in WRITE_CONTROLS],
        Output(ids.ROSTER_READONLY, "children"),
        Input(ids.URL, "search"),
    )
    def roster_permissions(search: str | None) -> tuple:
        allowed = has_permission(web.caller_or_none(), "roster")
        note = [] if allowed else [roster_message(t(READ_ONLY, lang_from_search(_s(search))))]
        return (*[not allowed] * len(WRITE_CONTROLS), note)

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
    def list_roster(hidden, query, active, in_cell, search, refresh) -> tuple:
        if hidden is not False:
            return no_update, no_update, no_update, no_update
        query, active, search = _s(query), _s(active), _s(search)
        lang = lang_from_search(search)
        caller = web.caller_or_none()
        if caller is None or not has_permission(caller, "view"):
            return [], [roster_message(t(roster.NO_PERMISSION, lang), "error")], [], []
        cell = query_params(search).get("cell", "").strip() if in_cell else ""
        flag = {"active": True, "inactive": False}.get(active or "active")
        scope = caller.scope_path
        # Typing in the search box or switching active/inactive changes the list only: the
        # summaries (up to ~0.6 s prefecture-wide on the full demo) are not recomputed.
        list_only = ctx.triggered_id in (ids.ROSTER_QUERY, ids.ROSTER_ACTIVE)
        try:
            with engine.connect() as conn:
                listed = roster.list_workers(
                    conn, scope, cell_code=cell or None, query=query, active=flag, limit=LIST_LIMIT
                )
                if not list_only:
                    cov = coverage_summary(conn, scope, cell_code=cell or None)
                    trained = roster.training_summary(conn, scope)
                    outside = workers_outside(conn, scope, cell_code=cell or None)
        except ValueError:
            return [], [roster_message(t(UNKNOWN_CELL, lang), "error")], [], []
        except DBAPIError as exc:
            log.warning("roster without data: database unavailable (%s)", exc.orig)
            return [], [roster_message(t(DB_UNAVAILABLE, lang), "error")], [], []
        if listed is None:
            return [], [roster_message(t(UNKNOWN_CELL, lang), "error")], [], []
        count = t("Workers", lang) + f": {fmt.count(listed['total'])}"
        if listed["total"] > LIST_LIMIT:
            count += " · " + t("showing the first", lang) + f" {LIST_LIMIT}"
        if list_only:
            return worker_options(listed["rows"], lang), [count], no_update, no_update
        return (
            worker_options(listed["rows"], lang),
            [count],
            summary_view(cov, trained, lang),
            outside_view(outside, lang),
        )  # fmt: skip

    @app.callback(
        Output(ids.ROSTER_DETAIL, "children"),
        Output(ids.ROSTER_EDIT_NAME, "value"),
        Output(ids.ROSTER_EDIT_DUTY, "value"),
        Input(ids.ROSTER_PICK, "value"),
        Input(ids.ROSTER_REFRESH, "data"),
        State(ids.URL, "search"),
    )
    def show_worker(picked: list[str] | None, refresh: Any, search: str | None) -> tuple:
        search = _s(search)
        lang = lang_from_search(search)
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
        except DBAPIError as exc:
            log.warning("roster detail: database unavailable (%s)", exc.orig)
            return [roster_message(t(DB_UNAVAILABLE, lang), "error")], no_update, no_update
        if history is None or trainings is None:
            return [roster_message(t(roster.NOT_IN_SCOPE, lang), "error")], "", None
        me = next((r for r in (row or {"rows": []})["rows"] if r["employee_no"] == no), None)
        return (
            detail_view(no, history, trainings, lang),
            me["name"] if me else "",
            me["duty_status"] if me else None,
        )

    @app.callback(
        Output(ids.ROSTER_MESSAGE, "children"),
        Output(ids.ROSTER_REFRESH, "data"),
        *[Input(b, "n_clicks") for b in _ACTIONS],
        State(ids.URL, "search"),
        State(ids.ROSTER_PICK, "value"),
        State(ids.ROSTER_ADD_NO, "value"),
        State(ids.ROSTER_ADD_NAME, "value"),
        State(ids.ROSTER_ADD_PHONE, "value"),
        State(ids.ROSTER_ADD_CELL, "value"),
        State(ids.ROSTER_EDIT_NAME, "value"),
        State(ids.ROSTER_EDIT_PHONE, "value"),
        State(ids.ROSTER_EDIT_DUTY, "value"),
        State(ids.ROSTER_MOVE_CELL, "value"),
        State(ids.ROSTER_MOVE_NOTE, "value"),
        State(ids.ROSTER_TRAIN_DATE, "value"),
        State(ids.ROSTER_TRAIN_TITLE, "value"),
        State(ids.ROSTER_TRAIN_HOURS, "value"),
        State(ids.ROSTER_REFRESH, "data"),
        prevent_initial_call=True,
    )
    def roster_action(
        n_add=None, n_edit=None, n_deactivate=None, n_reactivate=None, n_move=None,
        n_train=None, search=None, picked=None, add_no=None, add_name=None, add_phone=None,
        add_cell=None, edit_name=None, edit_phone=None, edit_duty=None, move_cell=None,
        move_note=None, train_date=None, train_title=None, train_hours=None, refresh=0,
    ) -> tuple:  # fmt: skip
        search = _s(search)
        lang = lang_from_search(search)
        action = _ACTIONS.get(ctx.triggered_id) if isinstance(ctx.triggered_id, str) else None
        if action is None:
            return no_update, no_update
        if isinstance(picked, str):
            picked = [picked]
        if not isinstance(picked, list):
            picked = []
        form = {
            "picked": [str(p) for p in picked or [] if isinstance(p, str | int)],
            "add_no": _s(add_no), "add_name": _s(add_name), "add_phone": _s(add_phone),
            "add_cell": _s(add_cell), "edit_name": _s(edit_name), "edit_phone": _s(edit_phone),
            "edit_duty": _s(edit_duty), "move_cell": _s(move_cell), "move_note": _s(move_note),
            "train_date": _s(train_date), "train_title": _s(train_title),
            "train_hours": train_hours if isinstance(train_hours, int | float | str) else None,
        }  # fmt: skip
        caller = web.caller_or_none()
        if caller is None or not has_permission(caller, "roster"):
            if caller is not None:
                try:
                    with engine.begin() as conn:
                        roster.log_roster(conn, caller, "denied", f"roster {action}",
                                          "no roster permission", ip=_ip())  # fmt: skip
                except DBAPIError:
                    pass
            return [roster_message(t(roster.NO_PERMISSION, lang), "error")], no_update
        try:
            with engine.begin() as conn:
                ok = _run(conn, caller, action, form, lang)
        except roster.NumberUnavailable:
            # Word for word the answer to any refused write: no sign of the out-of-scope
            # worker who holds the number (geodata.roster.add_worker); auditors see a denial.
            _log_denied(caller, action, "employee number unavailable")
            return [roster_message(t(FAILED, lang), "error")], no_update
        except roster.RosterError as exc:
            extra = str(exc)[len(exc.msgid) :].strip()
            text_ = t(exc.msgid, lang) + (f" {extra}" if extra else "")
            return [roster_message(text_, "error")], no_update
        except (LookupError, PermissionError) as exc:
            _log_denied(caller, action, type(exc).__name__)
            msg = roster.NO_PERMISSION if isinstance(exc, PermissionError) else roster.NOT_IN_SCOPE
            return [roster_message(t(msg, lang), "error")], no_update
        except DBAPIError as exc:
            log.warning("roster change failed: %s", exc.orig)
            return [roster_message(t(FAILED, lang), "error")], no_update
        except Exception:  # never a traceback to the browser
            log.exception("roster change failed")
            return [roster_message(t(FAILED, lang), "error")], no_update
        return [roster_message(ok, "ok")], (refresh or 0) + 1
