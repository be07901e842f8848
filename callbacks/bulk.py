"""Callbacks of the bulk selection (批量操作, ``dashboard/bulk.py``).

* the draw control's ``geojson`` (shapes drawn or deleted) → the selection: the open events
  of the caller's scope inside the shapes (:func:`geodata.bulk.selection`), their count per
  category, the workers of the area for the dispatch dropdown; no shape → panel hidden;
* 批量派遣 / 批量升级 → :func:`geodata.bulk.bulk_perform` on the listed ids (each in its own
  savepoint, committed by ``engine.begin()``): dispatch (or reassign) to the chosen worker or
  to each event's first recommended worker, or escalate; results per event;
* the panel's × (clientside, ``gridcmdBulk.clear``): clears the drawing, hence the selection.

Only roles with ``dispatch`` (others: a refusal and a ``denied`` log entry). The caller comes
from :func:`web.current_caller`; the drawn shape is only a filter inside the caller's
scope, and the ids sent back are re-checked by the workflow (scope, permission, status).
"""

from __future__ import annotations

from typing import Any

import dash
from dash import ClientsideFunction, Input, Output, State, ctx, html, no_update
from sqlalchemy.engine import Engine

from callbacks.guard import guarded, require
from dashboard import ids
from dashboard.bulk import (
    RECOMMENDED,
    result_list,
    selection_list,
    selection_summary,
    worker_options,
)
from geodata import bulk
from geodata.workflow import MAX_NOTE, Actor
from gridcmd.i18n import lang_from_search, t
from gridcmd.settings import Settings

__all__ = ["register"]

NOT_ALLOWED = "Only dispatchers and commanders may act on events in bulk."
BAD_SHAPE = "The shape cannot be used:"
NOTHING = "No events selected."
CHOOSE_WORKER = "Choose a worker."
NOTE_TOO_LONG = "The note is too long."


def _panel(message: Any) -> tuple:
    """The panel shown with only ``message`` (a refusal, a bad shape, the database down)."""
    return False, html.P(message), [], [], [], RECOMMENDED, []


def _id_list(value: Any) -> list[int]:
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, int) and not isinstance(v, bool) and v > 0][
        : bulk.MAX_BULK
    ]


def register(app: dash.Dash, engine: Engine, settings: Settings) -> None:
    """Register the bulk panel's callbacks on ``app``."""
    _register_selection(app, engine)
    _register_actions(app, engine, settings.stale_after_s)
    app.clientside_callback(
        ClientsideFunction("gridcmdBulk", "clear"),
        Output(ids.BULK_DRAW, "editToolbar"),
        Input(ids.BULK_CLOSE, "n_clicks"),
        prevent_initial_call=True,
    )


def _register_selection(app: dash.Dash, engine: Engine) -> None:
    @app.callback(
        Output(ids.BULK_PANEL, "hidden"),
        Output(ids.BULK_SUMMARY, "children"),
        Output(ids.BULK_LIST, "children"),
        Output(ids.BULK_IDS, "data"),
        Output(ids.BULK_WORKER, "options"),
        Output(ids.BULK_WORKER, "value"),
        Output(ids.BULK_RESULT, "children"),
        Input(ids.BULK_DRAW, "geojson"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )
    @guarded(unavailable=_panel)
    def bulk_select(drawing: Any, search: Any) -> tuple:
        """Shapes drawn → the open events inside them (caller's scope) and the area's workers."""
        lang = lang_from_search(search)
        empty = (True, [], [], [], [], RECOMMENDED, [])
        feats = drawing.get("features") if isinstance(drawing, dict) else None
        if not feats:
            return empty
        caller = require(engine, "dispatch", _panel(t(NOT_ALLOWED, lang)),
                         target="bulk selection")  # fmt: skip
        try:
            shape = bulk.selection_shape(drawing)
        except ValueError as exc:
            return _panel(f"{t(BAD_SHAPE, lang)} {exc}")
        if shape is None:
            return empty
        with engine.connect() as conn:
            sel = bulk.selection(conn, shape, scope_path=caller.scope_path)
        return (
            False,
            selection_summary(sel, lang),
            selection_list(sel["events"], lang),
            [e["id"] for e in sel["events"]],
            worker_options(sel["workers"], lang),
            RECOMMENDED,
            [],
        )


def _register_actions(app: dash.Dash, engine: Engine, stale_after_s: int) -> None:
    @app.callback(
        Output(ids.BULK_RESULT, "children", allow_duplicate=True),
        Input(ids.BULK_DISPATCH, "n_clicks"),
        Input(ids.BULK_ESCALATE, "n_clicks"),
        State(ids.BULK_IDS, "data"),
        State(ids.BULK_WORKER, "value"),
        State(ids.BULK_NOTE, "value"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )
    @guarded(unavailable=html.P)
    def bulk_act(_d: Any, _e: Any, event_ids: Any, worker: Any, note: Any, search: Any) -> Any:
        """批量派遣 / 批量升级 on the listed events; one result line per event."""
        lang = lang_from_search(search)
        trigger = ctx.triggered_id
        if trigger not in (ids.BULK_DISPATCH, ids.BULK_ESCALATE):
            return no_update
        caller = require(engine, "dispatch", html.P(t(NOT_ALLOWED, lang)),
                         target="bulk action")  # fmt: skip
        targets = _id_list(event_ids)
        if not targets:
            return html.P(t(NOTHING, lang))
        note = note if isinstance(note, str) else ""
        if len(note) > MAX_NOTE:
            return html.P(t(NOTE_TOO_LONG, lang))
        params: dict[str, Any] = {"note": note}
        if trigger == ids.BULK_ESCALATE:
            action = "escalate"
        else:
            action = "assign"
            if worker == RECOMMENDED:
                params.update(recommend=True, stale_after_s=stale_after_s)
            elif isinstance(worker, int) and not isinstance(worker, bool) and worker > 0:
                params["worker_id"] = worker
            else:
                return html.P(t(CHOOSE_WORKER, lang))
        with engine.begin() as conn:
            results = bulk.bulk_perform(conn, targets, action, Actor.from_caller(caller),
                                        **params)  # fmt: skip
        return result_list(results, lang)
