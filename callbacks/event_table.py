"""Callbacks of the event table (事件列表, ``dashboard/event_table.py``).

* header button / close / collapse / a row click → the drawer's ``hidden`` and ``className``
  (a row click collapses it, so the map is visible where it flies to);
* drawer open + filters + search + sort → the grid's rows (at most
  :data:`geodata.event_table.TABLE_MAX`), the status line "n of N", and whether the export
  links show (only with the ``export`` permission);
* the same filters → the export links' ``href`` (clientside, ``gridcmdEventTable.exportLinks``
  in ``assets/event_table.js``: the server never echoes browser text back; the export route
  validates and scopes the request itself);
* a row click (``cellClicked``: its row id) → the map flies to the event (a fly-to request in
  ``ids.FLY``: ``gridcmd.js`` ``flyClear`` shifts its centre so the event lands in the map's
  free part, not under the case panel or the drawer, and hands it to ``dl.Map.viewport``)
  and a marker highlights it.

The caller and its scope always come from :func:`web.current_caller` (server side);
the browser sends only filter values, validated by :func:`geodata.event_table.parse_filters`,
and a row id, looked up inside the caller's scope (unknown or out of scope: a message and a
``denied`` log entry, never the event). Bad input never raises to the browser.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import ClientsideFunction, Input, Output, State, ctx, no_update
from sqlalchemy.engine import Engine

from callbacks.guard import clicked_row_id, deny, guarded, require
from dashboard import fmt, ids
from dashboard.event_table import event_highlight, table_rows
from geodata.accounts import has_permission
from geodata.event_table import FilterError, event_location, event_rows
from geodata.event_table import parse_filters as parse_event_filters
from gridcmd import web
from gridcmd.i18n import lang_from_search, t
from gridcmd.settings import Settings

__all__ = ["filter_values", "register"]

NOT_ALLOWED = "Your role may not view events."
NOT_FOUND = "Unknown event, or outside your jurisdiction."
BAD_FILTER = "Invalid filter:"
COUNT_ALL = "{n} events"
COUNT_SOME = "Showing {n} of {total} events (narrow the filters; exports hold them all)"
COLLAPSE, EXPAND = "Collapse", "Expand"

PANEL_CLASS = "gc-et-panel"
COLLAPSED_CLASS = "gc-et-panel gc-et-collapsed"


def filter_values(
    query: Any,
    statuses: Any,
    categories: Any,
    priorities: Any,
    date_from: Any,
    date_to: Any,
    flags: Any,
    sort: Any,
) -> dict[str, Any]:
    """The browser's filter controls → the keys of :func:`geodata.event_table.parse_filters`
    (``assets/event_table.js`` builds the export links from the same keys). A crafted value of
    the wrong type is passed on and refused there."""
    flags = flags if isinstance(flags, list) else []
    return {
        "q": query,
        "status": statuses,
        "category": categories,
        "priority": priorities,
        "from": date_from,
        "to": date_to,
        "overdue": "overdue" in flags,
        "supervised": "supervised" in flags,
        "sort": sort,
    }


#: The filter controls, in the order of :func:`filter_values`' arguments (the rows callback
#: and the export links read the same ones).
FILTER_IDS = (ids.ET_QUERY, ids.ET_STATUS, ids.ET_CATEGORY, ids.ET_PRIORITY, ids.ET_FROM,
              ids.ET_TO, ids.ET_FLAGS, ids.ET_SORT)  # fmt: skip


def toggle_event_table(
    n_open: Any, n_close: Any, n_collapse: Any, click: Any, current: Any, search: Any
) -> tuple:
    """Open (expanded), close, collapse/expand, or collapse after a row click."""
    if not has_permission(web.caller_or_none(), "view"):
        return True, PANEL_CLASS, no_update
    lang = lang_from_search(search)
    trigger = ctx.triggered_id
    if trigger == ids.ET_OPEN:
        return False, PANEL_CLASS, t(COLLAPSE, lang)
    if trigger == ids.ET_CLOSE:
        return True, PANEL_CLASS, t(COLLAPSE, lang)
    collapsed = current == COLLAPSED_CLASS
    if trigger == ids.ET_GRID:
        if clicked_row_id(click) is None:
            return no_update, no_update, no_update
        return no_update, COLLAPSED_CLASS, t(EXPAND, lang)
    if collapsed:
        return no_update, PANEL_CLASS, t(COLLAPSE, lang)
    return no_update, COLLAPSED_CLASS, t(EXPAND, lang)


def register(app: dash.Dash, engine: Engine, settings: Settings) -> None:
    """Register the event table's callbacks on ``app``."""
    app.callback(
        Output(ids.ET_PANEL, "hidden"),
        Output(ids.ET_PANEL, "className"),
        Output(ids.ET_COLLAPSE, "children"),
        Input(ids.ET_OPEN, "n_clicks"),
        Input(ids.ET_CLOSE, "n_clicks"),
        Input(ids.ET_COLLAPSE, "n_clicks"),
        Input(ids.ET_GRID, "cellClicked"),
        State(ids.ET_PANEL, "className"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )(toggle_event_table)
    _register_rows(app, engine)
    app.clientside_callback(
        ClientsideFunction(namespace="gridcmdEventTable", function_name="exportLinks"),
        Output(ids.ET_CSV, "href"),
        Output(ids.ET_XLSX, "href"),
        *[Input(i, "value") for i in FILTER_IDS],
        Input(ids.URL, "search"),
    )
    _register_fly(app, engine)


def _register_rows(app: dash.Dash, engine: Engine) -> None:
    @app.callback(
        Output(ids.ET_GRID, "rowData"),
        Output(ids.ET_COUNT, "children"),
        Output(ids.ET_EXPORTS, "hidden"),
        Input(ids.ET_PANEL, "hidden"),
        *[Input(i, "value") for i in FILTER_IDS],
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )
    @guarded(unavailable=lambda message: (no_update, message, no_update))
    def event_table_rows(
        hidden: Any, query: Any, statuses: Any, categories: Any, priorities: Any,
        date_from: Any, date_to: Any, flags: Any, sort: Any, search: Any,
    ) -> tuple:  # fmt: skip
        """Filters → rows of the caller's scope, the status line, export links shown?"""
        if hidden is not False:  # closed (or a crafted value): nothing to load
            return no_update, no_update, no_update
        lang = lang_from_search(search)
        caller = require(engine, "view", ([], t(NOT_ALLOWED, lang), True))
        values = filter_values(
            query, statuses, categories, priorities, date_from, date_to, flags, sort
        )
        try:
            filters = parse_event_filters(values)
        except FilterError as exc:
            return [], f"{t(BAD_FILTER, lang)} {exc}", True
        with engine.connect() as conn:
            rows, total = event_rows(conn, scope_path=caller.scope_path, filters=filters)
        if len(rows) < total:
            status = t(COUNT_SOME, lang, n=fmt.count(len(rows)), total=fmt.count(total))
        else:
            status = t(COUNT_ALL, lang, n=fmt.count(total))
        return table_rows(rows, lang), status, not has_permission(caller, "export")


def _register_fly(app: dash.Dash, engine: Engine) -> None:
    @app.callback(
        Output(ids.FLY, "data", allow_duplicate=True),
        Output(ids.ET_MARKER, "children"),
        Output(ids.ET_COUNT, "children", allow_duplicate=True),
        Input(ids.ET_GRID, "cellClicked"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )
    @guarded(unavailable=lambda message: (no_update, no_update, message))
    def fly_to_event(click: Any, search: Any) -> tuple:
        """A row click → the map flies to the event (looked up in the caller's scope)."""
        event_id = clicked_row_id(click)
        if event_id is None:
            return no_update, no_update, no_update
        lang = lang_from_search(search)
        caller = require(engine, "view", (no_update, [], t(NOT_ALLOWED, lang)))
        with engine.connect() as conn:
            event = event_location(conn, scope_path=caller.scope_path, event_id=event_id)
        if event is None:
            deny(engine, f"event table {event_id}", (no_update, [], t(NOT_FOUND, lang)))
        fly, marker = event_highlight(event)
        return fly, marker, no_update
