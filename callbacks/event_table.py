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

import logging
from typing import Any

import dash
import dash_leaflet as dl
from dash import ClientsideFunction, Input, Output, State, ctx, no_update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from dashboard import fmt, ids
from dashboard.event_table import table_rows
from geodata.accounts import has_permission
from geodata.event_table import FilterError, event_location, event_rows
from geodata.event_table import parse_filters as parse_event_filters
from gridcmd import web
from gridcmd.i18n import lang_from_search, t
from gridcmd.settings import Settings
from gridcmd.web import log_denial

__all__ = ["FLY_ZOOM", "filter_values", "register"]

log = logging.getLogger(__name__)

DB_UNAVAILABLE = "The database is unavailable."
NOT_ALLOWED = "Your role may not view events."
NOT_FOUND = "Unknown event, or outside your jurisdiction."
BAD_FILTER = "Invalid filter:"
COUNT_ALL = "{n} events"
COUNT_SOME = "Showing {n} of {total} events (narrow the filters; exports hold them all)"
COLLAPSE, EXPAND = "Collapse", "Expand"

#: Zoom the map flies to for an event (the micro-grid level of layers.lod).
FLY_ZOOM = 16
FLY_SECONDS = 0.8
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


def _row_id(click: Any) -> int | None:
    """The event id of a ``cellClicked`` value (``rowId`` is the row's ``id`` as text)."""
    if not isinstance(click, dict):
        return None
    raw = click.get("rowId")
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw if raw > 0 else None
    if isinstance(raw, str) and raw.isdigit() and len(raw) <= 18:
        return int(raw)
    return None


#: The filter controls, in the order of :func:`filter_values`' arguments (the rows callback
#: and the export links read the same ones).
FILTER_IDS = (ids.ET_QUERY, ids.ET_STATUS, ids.ET_CATEGORY, ids.ET_PRIORITY, ids.ET_FROM,
              ids.ET_TO, ids.ET_FLAGS, ids.ET_SORT)  # fmt: skip


def register(app: dash.Dash, engine: Engine, settings: Settings) -> None:
    """Register the event table's callbacks on ``app``."""
    del settings

    @app.callback(
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
    )
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
            if _row_id(click) is None:
                return no_update, no_update, no_update
            return no_update, COLLAPSED_CLASS, t(EXPAND, lang)
        if collapsed:
            return no_update, PANEL_CLASS, t(COLLAPSE, lang)
        return no_update, COLLAPSED_CLASS, t(EXPAND, lang)

    @app.callback(
        Output(ids.ET_GRID, "rowData"),
        Output(ids.ET_COUNT, "children"),
        Output(ids.ET_EXPORTS, "hidden"),
        Input(ids.ET_PANEL, "hidden"),
        *[Input(i, "value") for i in FILTER_IDS],
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )
    def event_table_rows(
        hidden: Any, query: Any, statuses: Any, categories: Any, priorities: Any,
        date_from: Any, date_to: Any, flags: Any, sort: Any, search: Any,
    ) -> tuple:  # fmt: skip
        """Filters → rows of the caller's scope, the status line, export links shown?"""
        if hidden is not False:  # closed (or a crafted value): nothing to load
            return no_update, no_update, no_update
        lang = lang_from_search(search)
        caller = web.caller_or_none()
        if not has_permission(caller, "view"):
            return [], t(NOT_ALLOWED, lang), True
        assert caller is not None
        values = filter_values(
            query, statuses, categories, priorities, date_from, date_to, flags, sort
        )
        try:
            filters = parse_event_filters(values)
        except FilterError as exc:
            return [], f"{t(BAD_FILTER, lang)} {exc}", True
        try:
            with engine.connect() as conn:
                rows, total = event_rows(conn, scope_path=caller.scope_path, filters=filters)
        except DBAPIError as exc:
            log.warning("event table: database unavailable (%s)", exc.orig)
            return no_update, t(DB_UNAVAILABLE, lang), no_update
        if len(rows) < total:
            status = t(COUNT_SOME, lang, n=fmt.count(len(rows)), total=fmt.count(total))
        else:
            status = t(COUNT_ALL, lang, n=fmt.count(total))
        return table_rows(rows, lang), status, not has_permission(caller, "export")

    app.clientside_callback(
        ClientsideFunction(namespace="gridcmdEventTable", function_name="exportLinks"),
        Output(ids.ET_CSV, "href"),
        Output(ids.ET_XLSX, "href"),
        *[Input(i, "value") for i in FILTER_IDS],
        Input(ids.URL, "search"),
    )

    @app.callback(
        Output(ids.FLY, "data", allow_duplicate=True),
        Output(ids.ET_MARKER, "children"),
        Output(ids.ET_COUNT, "children", allow_duplicate=True),
        Input(ids.ET_GRID, "cellClicked"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )
    def fly_to_event(click: Any, search: Any) -> tuple:
        """A row click → the map flies to the event (looked up in the caller's scope)."""
        lang = lang_from_search(search)
        event_id = _row_id(click)
        caller = web.caller_or_none()
        if event_id is None:
            return no_update, no_update, no_update
        if not has_permission(caller, "view"):
            return no_update, [], t(NOT_ALLOWED, lang)
        assert caller is not None
        try:
            with engine.connect() as conn:
                event = event_location(conn, scope_path=caller.scope_path, event_id=event_id)
        except DBAPIError as exc:
            log.warning("event table fly: database unavailable (%s)", exc.orig)
            return no_update, no_update, t(DB_UNAVAILABLE, lang)
        if event is None:
            log_denial(engine, f"event table {event_id}")
            return no_update, [], t(NOT_FOUND, lang)
        center = [event["lat"], event["lon"]]
        viewport = {
            "center": center,
            "zoom": FLY_ZOOM,
            "transition": "flyTo",
            "options": {"duration": FLY_SECONDS},
        }
        marker = dl.CircleMarker(
            center=center, radius=14, color="#d1262b", weight=3, fill=True,
            fillColor="#ffd84d", fillOpacity=0.35, interactive=False,
            children=dl.Tooltip(f"#{event['id']} {event['title']}", permanent=True),
        )  # fmt: skip
        return viewport, [marker], no_update
