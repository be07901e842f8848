"""The event table (事件列表): a large bottom drawer with the events of the
caller's jurisdiction in a dash-ag-grid table, filters, a search box and export links.

:func:`event_table_button` goes in the header, :func:`event_table_panel` on the page (hidden
until opened) and :func:`event_marker_layer` in the map (the highlighted event after a row
click). ``callbacks/event_table.py`` fills the rows and the export links; ``api/exports.py``
serves the exports. The pure helpers :func:`table_rows`, :func:`export_header` and
:func:`export_values` turn :mod:`geodata.event_table` rows into display values, so the table
and the files show the same words.

User text (titles, descriptions) is shown by AG Grid's default text renderer: no column has a
``cellRenderer`` and ``dangerously_allow_code`` stays off, so nothing is parsed as HTML.
dash-ag-grid ≥ 33 styles itself through AG Grid's JavaScript theming API (CSS generated in
the page, no stylesheet to fetch, Google fonts not loaded), and Dash serves its JavaScript
from the installed package (``serve_locally``): the table works offline. Styles of the drawer
are in ``dashboard/assets/event_table.css`` (classes ``gc-et-*``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import dash_ag_grid as dag
import dash_leaflet as dl
from dash import dcc, html

from dashboard import fmt, ids
from geodata.event_table import EXPORT_MAX, QUERY_MAX, ROW_KEYS
from gridcmd.i18n import DEFAULT_LANG, t
from gridcmd.vocab import CATEGORY_MSGIDS, PRIORITY_MSGIDS, SEVERITY_MSGIDS, STATUS_MSGIDS

__all__ = [
    "COLUMN_MSGIDS",
    "FLY_SECONDS",
    "FLY_ZOOM",
    "SORT_MSGIDS",
    "event_highlight",
    "event_marker_layer",
    "event_table_button",
    "event_table_panel",
    "export_header",
    "export_values",
    "table_rows",
]

# msgids (English source texts; translations in gridcmd/locale/*/messages.po)
EVENT_TABLE = "Event list"
SYNTHETIC = "Synthetic data"
SYNTHETIC_HINT = "The demo's events are synthetic (generated), not real cases."

#: Column key (geodata.event_table.ROW_KEYS) → msgid of its header (table and exports).
COLUMN_MSGIDS: dict[str, str] = {
    "id": "Event no.",
    "uuid": "Short UUID",
    "reported_at": "Reported at",
    "category": "Category",
    "subcategory": "Subcategory",
    "severity": "Severity",
    "priority": "Priority",
    "status": "Status",
    "title": "Event title",
    "description": "Description",
    "county": "County",
    "township": "Township",
    "assignee": "Assignee",
    "department": "Department",
    "due_at": "Due",
    "overdue": "Overdue",
    "supervised_at": "Supervised at",
    "synthetic": "Synthetic",
}
#: Sort keys of geodata.event_table.SORTS → msgid.
SORT_MSGIDS: dict[str, str] = {
    "reported_desc": "Newest first",
    "reported_asc": "Oldest first",
    "due_asc": "Due soonest",
    "priority": "Priority (red first)",
    "severity": "Severity (critical first)",
    "supervised_desc": "Recently supervised",
}
#: Checklist flags → msgid.
FLAG_MSGIDS: dict[str, str] = {"overdue": "Overdue only", "supervised": "Supervised only (督办)"}
YES, NO = "Yes", "No"

#: Zoom the map flies to for an event (the micro-grid level of layers.lod), and how long.
FLY_ZOOM = 16
FLY_SECONDS = 0.8
#: Characters of the description shown in the table (the export has it whole).
DESCRIPTION_CHARS = 120
#: Table columns: key → width (px), in display order.
_GRID_COLUMNS: tuple[tuple[str, int], ...] = (
    ("id", 90), ("reported_at", 156), ("priority", 80), ("status", 90), ("category", 120),
    ("subcategory", 120), ("severity", 96), ("title", 240), ("county", 110),
    ("township", 120), ("assignee", 90), ("department", 130), ("due_at", 156),
    ("overdue", 70), ("supervised_at", 156), ("description", 260), ("uuid", 110),
    ("synthetic", 70),
)  # fmt: skip


def _label(msgids: Mapping[str, str], key: Any, lang: str) -> str:
    if key is None:
        return ""
    msgid = msgids.get(key)
    return t(msgid, lang) if msgid else str(key)


def _display(key: str, value: Any, lang: str) -> Any:
    """One value of a geodata row as the table and the exports show it."""
    if key == "category":
        return _label(CATEGORY_MSGIDS, value, lang)
    if key == "status":
        return _label(STATUS_MSGIDS, value, lang)
    if key == "priority":
        return _label(PRIORITY_MSGIDS, value, lang)
    if key == "severity":
        return _label(SEVERITY_MSGIDS, value, lang)
    if key == "uuid":
        return (value or "")[:8]
    if key in ("overdue", "synthetic"):
        return t(YES, lang) if value else ""
    if value is None:
        return ""
    return value


def table_rows(rows: Iterable[Mapping[str, Any]], lang: str = DEFAULT_LANG) -> list[dict]:
    """geodata rows → the grid's ``rowData``: translated labels, local times as text, the
    description cut to :data:`DESCRIPTION_CHARS` characters, ``_p`` (priority key, for the
    row colour) and ``_o`` (overdue). Plain values only: the grid renders them as text."""
    out = []
    for r in rows:
        d = {}
        for key, _w in _GRID_COLUMNS:
            v = r.get(key)
            if key in ("reported_at", "due_at", "supervised_at"):
                d[key] = fmt.local_time(v, empty="")
            elif key == "description":
                text = v or ""
                d[key] = text if len(text) <= DESCRIPTION_CHARS else text[:DESCRIPTION_CHARS] + "…"
            else:
                d[key] = _display(key, v, lang)
        d["_p"] = r.get("priority")
        d["_o"] = bool(r.get("overdue"))
        out.append(d)
    return out


def export_header(lang: str = DEFAULT_LANG) -> list[str]:
    """Header row of the exports: the column names in the UI language (see docs)."""
    return [t(COLUMN_MSGIDS[k], lang) for k in ROW_KEYS]


def export_values(row: Mapping[str, Any], lang: str = DEFAULT_LANG) -> list[Any]:
    """One geodata row → the export's cells (ROW_KEYS order): labels translated, timestamps
    as naive datetimes in Dali local time (UTC+8, to the second), everything else as is.
    The formula-injection guard is the exporter's job (api/exports.py)."""
    out: list[Any] = []
    for key in ROW_KEYS:
        v = row.get(key)
        if isinstance(v, dt.datetime):
            out.append(fmt.local_naive(v))
        else:
            out.append(_display(key, v, lang))
    return out


# ----------------------------------------------------------------------------- layout


def event_table_button(lang: str = DEFAULT_LANG) -> html.Button:
    """The header button that opens the event table."""
    return html.Button(
        t(EVENT_TABLE, lang), id=ids.ET_OPEN, n_clicks=0, className="gc-et-open", type="button"
    )


def event_marker_layer() -> dl.LayerGroup:
    """Map layer holding the marker of the event a row click flew to (filled by a callback)."""
    return dl.LayerGroup(id=ids.ET_MARKER, children=[])


def event_highlight(event: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    """Where the map flies for an event (a :func:`geodata.event_table.event_location` row,
    ``{id, title, lon, lat}``) and what marks it there: ``(fly-to request, children of the
    marker layer)``. The request goes to ``ids.FLY``, which ``gridcmd.js`` shifts clear of
    the panels before it reaches the map; the title is a tooltip's text, never HTML. Used
    by the event table's and the supervision queues' row clicks."""
    center = [event["lat"], event["lon"]]
    fly = {"center": center, "zoom": FLY_ZOOM, "transition": "flyTo",
           "options": {"duration": FLY_SECONDS}}  # fmt: skip
    marker = dl.CircleMarker(
        center=center, radius=14, color="#d1262b", weight=3, fill=True,
        fillColor="#ffd84d", fillOpacity=0.35, interactive=False,
        children=dl.Tooltip(f"#{event['id']} {event['title']}", permanent=True),
    )  # fmt: skip
    return fly, [marker]


def column_defs(lang: str = DEFAULT_LANG) -> list[dict[str, Any]]:
    """The grid's columns (text only: no cell renderers)."""
    cols = []
    for key, width in _GRID_COLUMNS:
        col: dict[str, Any] = {"field": key, "headerName": t(COLUMN_MSGIDS[key], lang),
                               "width": width}  # fmt: skip
        if key in ("id",):
            col["pinned"] = "left"
        if key in ("title", "description"):
            col["tooltipField"] = key
        cols.append(col)
    return cols


def _dropdown(id_: str, placeholder: str, options: list[dict], lang: str) -> dcc.Dropdown:
    return dcc.Dropdown(
        id=id_, options=options, value=[], multi=True, placeholder=t(placeholder, lang),
        className="gc-et-dropdown", searchable=False,
    )  # fmt: skip


def event_table_panel(lang: str = DEFAULT_LANG) -> html.Section:
    """The drawer (``ids.ET_PANEL``, hidden until opened): title with the synthetic-data label,
    filters, search, sort, the status line, export links and the grid."""
    statuses = [{"label": t(v, lang), "value": k} for k, v in STATUS_MSGIDS.items()]
    categories = [{"label": t(v, lang), "value": k} for k, v in CATEGORY_MSGIDS.items()]
    priorities = [{"label": t(v, lang), "value": k} for k, v in PRIORITY_MSGIDS.items()]
    return html.Section(
        [
            html.Div(
                [
                    html.H2(t(EVENT_TABLE, lang)),
                    html.Span(
                        t(SYNTHETIC, lang) + " / synthetic",
                        className="gc-et-synthetic",
                        title=t(SYNTHETIC_HINT, lang),
                    ),
                    html.Span(id=ids.ET_COUNT, className="gc-et-count", role="status"),
                    html.Span(
                        [
                            html.A(
                                t("Export CSV", lang),
                                id=ids.ET_CSV,
                                href="",
                                download="",
                                className="gc-et-export",
                            ),
                            html.A(
                                t("Export Excel", lang),
                                id=ids.ET_XLSX,
                                href="",
                                download="",
                                className="gc-et-export",
                            ),
                        ],  # fmt: skip
                        id=ids.ET_EXPORTS,
                        className="gc-et-exports",
                        hidden=True,
                        title=t(
                            "Exports hold every matching row (at most {n}).",
                            lang,
                            n=fmt.count(EXPORT_MAX),
                        ),
                    ),  # fmt: skip
                    html.Button(
                        t("Collapse", lang),
                        id=ids.ET_COLLAPSE,
                        n_clicks=0,
                        type="button",
                        className="gc-et-collapse",
                    ),  # fmt: skip
                    html.Button(
                        "×",
                        id=ids.ET_CLOSE,
                        n_clicks=0,
                        type="button",
                        className="gc-et-close",
                        title=t("Close", lang),
                    ),  # fmt: skip
                ],
                className="gc-et-title",
            ),
            html.Div(
                [
                    dcc.Input(
                        id=ids.ET_QUERY,
                        type="search",
                        debounce=0.4,
                        maxLength=QUERY_MAX,
                        placeholder=t("Search title and description", lang),
                        className="gc-et-query",
                        autoComplete="off",
                        spellCheck=False,
                    ),  # fmt: skip
                    _dropdown(ids.ET_STATUS, "Status", statuses, lang),
                    _dropdown(ids.ET_CATEGORY, "Category", categories, lang),
                    _dropdown(ids.ET_PRIORITY, "Priority", priorities, lang),
                    html.Label(
                        [t("From", lang), dcc.Input(id=ids.ET_FROM, type="date", debounce=True)],
                        className="gc-et-date",
                    ),
                    html.Label(
                        [t("To", lang), dcc.Input(id=ids.ET_TO, type="date", debounce=True)],
                        className="gc-et-date",
                    ),
                    dcc.Checklist(
                        id=ids.ET_FLAGS,
                        value=[],
                        inline=True,
                        className="gc-et-flags",
                        options=[{"label": t(v, lang), "value": k} for k, v in FLAG_MSGIDS.items()],
                    ),  # fmt: skip
                    dcc.Dropdown(
                        id=ids.ET_SORT,
                        value="reported_desc",
                        clearable=False,
                        searchable=False,
                        className="gc-et-sort",
                        options=[{"label": t(v, lang), "value": k} for k, v in SORT_MSGIDS.items()],
                    ),  # fmt: skip
                ],
                className="gc-et-filters",
            ),
            html.Div(
                dag.AgGrid(
                    id=ids.ET_GRID,
                    rowData=[],
                    columnDefs=column_defs(lang),
                    defaultColDef={"sortable": True, "resizable": True, "filter": False},
                    getRowId="params.data.id",
                    rowClassRules={
                        "gc-et-row-red": "params.data._p === 'red'",
                        "gc-et-row-overdue": "params.data._o",
                    },
                    dashGridOptions={
                        "rowSelection": {
                            "mode": "singleRow",
                            "checkboxes": False,
                            "enableClickSelection": True,
                        },
                        "tooltipShowDelay": 400,
                        "animateRows": False,
                        "localeText": {"noRowsToShow": t("No matching events.", lang)},
                    },  # fmt: skip
                    className="gc-et-grid",
                    style={"height": "100%", "width": "100%"},
                ),
                className="gc-et-grid-box",
            ),
        ],
        id=ids.ET_PANEL,
        className="gc-et-panel",
        hidden=True,
        **{"aria-label": t(EVENT_TABLE, lang)},
    )
