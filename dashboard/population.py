"""Population lookup (人口信息查询) panel and the household overlay of the map.

:func:`population_button` (in the header) opens the panel of :func:`population_controls` (query
form, results table, pagination, CSV export, the reason form for "show full");
``callbacks/population.py`` fills them. Everything shown is built from Dash components (text,
never HTML) from **masked** records: the raw ID/phone numbers appear only in the reply to a
permitted, reasoned, audited unmask request (:func:`unmasked_values`). The lookup's messages
are here too: the panel's callbacks and the CSV export (``POST /export/residents.csv``,
``api/resident_exports.py``; its header and cells: :func:`export_header`,
:func:`export_cells`) show the same words. The export button posts the typed query to that
route and saves the file (``dashboard/assets/population.js``).

:func:`household_overlay_for` is the "住户 / Households" overlay (off by default): a clustered
GeoJSON layer on ``GET /geo/households.geojson?bbox=`` whose markers and escaped tooltips are
drawn by ``dashboard/assets/households.js`` (namespace ``window.gridcmdHouseholds``).
Styles: ``dashboard/assets/population.css`` (classes ``gc-pop-*``, ``gc-household-*``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dash_leaflet as dl
from dash import dcc, html

from dashboard import ids
from gridcmd.i18n import DEFAULT_LANG, t

__all__ = [
    "BAD_QUERY",
    "HOUSEHOLDS",
    "HOUSEHOLDS_PATH",
    "ID_SEARCH_LIMITED",
    "ID_SEARCH_REASON",
    "ID_SEARCH_REFUSED",
    "NOT_PERMITTED",
    "RESIDENTS_EXPORT_PATH",
    "export_cells",
    "export_header",
    "household_layer",
    "household_overlay_for",
    "pop_message",
    "population_button",
    "population_controls",
    "results_table",
    "unmasked_values",
]

# msgids (English source texts; translations in gridcmd/locale/*/messages.po)
HOUSEHOLDS = "Household locations"
MEMBERS = "household members"
HOUSEHOLD_UNIT = "households (unit)"
LOOKUP = "Population lookup"
CLOSE = "Close"
QUERY_HINT = "Name, ID number (full, last 4 or 6) or mobile number (full or last 4)"
SEARCH = "Search"
PREVIOUS = "Previous page"
NEXT = "Next page"
EXPORT = "Export CSV"
COL_NAME = "Resident name"
COL_ID = "ID number"
COL_PHONE = "Phone number"
COL_HOUSEHOLD = "Household number"
COL_CELL = "Cell"
SHOW_FULL = "Show full"
UNMASK_TITLE = "Show full ID and phone number"
REASON = "Reason (at least 4 characters, recorded in the security log)"
CONFIRM = "Show full numbers"
CANCEL = "Cancel unmasking"
MASKED_NOTE = "ID and phone numbers are masked; showing one in full is recorded."
SEARCH_REASON = "Reason for an ID or phone number search (recorded)"
NOT_PERMITTED = "You are not permitted to do this."
BAD_QUERY = (
    "Search by the start of a name, a full ID number or its last 4 or 6 characters, or a "
    "full mobile number or its last 4 digits."
)
ID_SEARCH_REFUSED = (
    "Searching by ID or phone number needs the permission to see full numbers: search by name."
)
ID_SEARCH_REASON = "Give a reason of at least 4 characters to search by ID or phone number."
ID_SEARCH_LIMITED = "Too many ID or phone number searches: try again in {minutes} minutes."
DB_UNAVAILABLE = "The database is unavailable."

#: The households route (``api/households.py``) that the household layer reads.
HOUSEHOLDS_PATH = "/geo/households.geojson"
#: The CSV export of the lookup (``api/resident_exports.py``), posted to by the export button.
RESIDENTS_EXPORT_PATH = "/export/residents.csv"
#: supercluster options of the household layer: no clusters from zoom 17 on.
CLUSTER_OPTIONS: dict[str, Any] = {"radius": 60, "maxZoom": 16}


def _js(name: str) -> dict[str, str]:
    return {"variable": f"gridcmdHouseholds.{name}"}


def household_layer(url: str | None = None, *, id: str | dict = ids.HOUSEHOLD_LAYER) -> dl.GeoJSON:
    """The clustered household points fetched from ``url`` (set by a callback from the
    viewport once the overlay is checked)."""
    return dl.GeoJSON(
        id=id,
        url=url,
        cluster=True,
        superClusterOptions=dict(CLUSTER_OPTIONS),
        zoomToBoundsOnClick=True,
        pointToLayer=_js("pointToLayer"),
        clusterToLayer=_js("clusterToLayer"),
        bubblingMouseEvents=False,
    )


def household_overlay_for(lang: str = DEFAULT_LANG) -> dl.Overlay:
    """The "住户 / Households" overlay of the layers control, off by default. The tooltip
    labels are passed to the JS through the layer's ``hideout``."""
    layer = household_layer()
    layer.hideout = {"label": t(HOUSEHOLDS, lang), "members": t(MEMBERS, lang),
                     "unit": t(HOUSEHOLD_UNIT, lang)}  # fmt: skip
    return dl.Overlay(layer, name=t(HOUSEHOLDS, lang), checked=False)


def population_button(lang: str = DEFAULT_LANG) -> html.Button:
    """The header button (``ids.POP_OPEN``) that opens/closes the lookup panel."""
    return html.Button(
        t(LOOKUP, lang), id=ids.POP_OPEN, className="gc-pop-open", n_clicks=0, type="button"
    )


def population_controls(lang: str = DEFAULT_LANG) -> list[Any]:
    """The hidden lookup panel (``ids.POP_PANEL``) and its stores."""
    panel = html.Section(
        [
            html.Div(
                [
                    html.Span(t(LOOKUP, lang), className="gc-pop-title"),
                    html.Button(
                        "×",
                        id=ids.POP_CLOSE,
                        className="gc-pop-close",
                        title=t(CLOSE, lang),
                        n_clicks=0,
                        type="button",
                        **{"aria-label": t(CLOSE, lang)},
                    ),
                ],
                className="gc-pop-head",
            ),
            html.Div(
                [
                    dcc.Input(
                        id=ids.POP_QUERY,
                        type="search",
                        placeholder=t(QUERY_HINT, lang),
                        maxLength=30,
                        n_submit=0,
                        autoComplete="off",
                        className="gc-pop-query",
                    ),
                    html.Button(
                        t(SEARCH, lang),
                        id=ids.POP_SEARCH,
                        n_clicks=0,
                        type="button",
                        className="gc-pop-search",
                    ),  # fmt: skip
                    # Searching by an identifier discloses whether it exists: the server asks
                    # for the unmask permission and this reason, and logs every such search.
                    dcc.Input(
                        id=ids.POP_SEARCH_REASON,
                        type="text",
                        placeholder=t(SEARCH_REASON, lang),
                        maxLength=200,
                        autoComplete="off",
                        className="gc-pop-search-reason",
                    ),
                ],
                className="gc-pop-form",
            ),
            html.P(t(MASKED_NOTE, lang), className="gc-pop-note"),
            html.Div(id=ids.POP_STATUS, className="gc-pop-status", role="status"),
            html.Div(
                [
                    html.Div(t(UNMASK_TITLE, lang), className="gc-pop-unmask-title"),
                    html.Div(id=ids.POP_UNMASK_WHO, className="gc-pop-unmask-who"),
                    dcc.Input(
                        id=ids.POP_REASON,
                        type="text",
                        placeholder=t(REASON, lang),
                        maxLength=200,
                        autoComplete="off",
                        className="gc-pop-reason",
                    ),
                    html.Div(
                        [
                            html.Button(
                                t(CONFIRM, lang), id=ids.POP_UNMASK_GO, n_clicks=0, type="button"
                            ),
                            html.Button(
                                t(CANCEL, lang), id=ids.POP_UNMASK_CANCEL, n_clicks=0, type="button"
                            ),
                        ],
                        className="gc-pop-unmask-buttons",
                    ),  # fmt: skip
                    html.Div(id=ids.POP_UNMASK_OUT, className="gc-pop-unmask-out", role="status"),
                ],
                id=ids.POP_UNMASK,
                className="gc-pop-unmask",
                hidden=True,
            ),
            html.Div(id=ids.POP_RESULTS, className="gc-pop-results"),
            html.Div(
                [
                    html.Button(
                        t(PREVIOUS, lang), id=ids.POP_PREV, n_clicks=0, disabled=True, type="button"
                    ),
                    html.Button(
                        t(NEXT, lang), id=ids.POP_NEXT, n_clicks=0, disabled=True, type="button"
                    ),
                    html.Button(
                        t(EXPORT, lang),
                        id=ids.POP_EXPORT,
                        n_clicks=0,
                        disabled=True,
                        type="button",
                        className="gc-pop-export",
                    ),
                ],
                className="gc-pop-pager",
            ),  # fmt: skip
            dcc.Store(id=ids.POP_PAGE, data=None),
            dcc.Store(id=ids.POP_UNMASK_TARGET, data=None),
            # What population.js needs to post the export and to word its failure.
            dcc.Store(
                id=ids.POP_EXPORT_CONFIG,
                data={"url": RESIDENTS_EXPORT_PATH, "filename": "residents.csv",
                      "unavailable": t(DB_UNAVAILABLE, lang)},
            ),  # fmt: skip
        ],
        id=ids.POP_PANEL,
        className="gc-pop-panel",
        hidden=True,
        **{"aria-label": t(LOOKUP, lang)},
    )
    return [panel]


def pop_message(message: str) -> list[Any]:
    """A message in place of results."""
    return [html.P(message, className="gc-pop-message", role="alert")]


def results_table(
    rows: Sequence[Mapping[str, Any]], lang: str = DEFAULT_LANG, *, can_unmask: bool = False
) -> html.Table:
    """The results (rows of :func:`geodata.residents.search_residents`: masked values only),
    with a "show full" button per row when ``can_unmask``."""
    head = [t(COL_NAME, lang), t(COL_ID, lang), t(COL_PHONE, lang), t(COL_HOUSEHOLD, lang),
            t(COL_CELL, lang)] + ([""] if can_unmask else [])  # fmt: skip
    body = []
    for r in rows:
        cells = [
            html.Td(str(r["name"])),
            html.Td(str(r["id_masked"]), className="gc-pop-mono"),
            html.Td(str(r["phone_masked"]), className="gc-pop-mono"),
            html.Td(str(r["household_no"]), className="gc-pop-mono"),
            html.Td(str(r["cell_name"]), title=str(r["cell_code"])),
        ]
        if can_unmask:
            cells.append(
                html.Td(
                    html.Button(
                        t(SHOW_FULL, lang),
                        id={"type": ids.POP_SHOW, "id": int(r["id"])},
                        n_clicks=0,
                        type="button",
                        className="gc-pop-show",
                    )
                )
            )
        body.append(html.Tr(cells))
    return html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(body)],
        className="gc-pop-table",
    )


def unmasked_values(record: Mapping[str, Any], lang: str = DEFAULT_LANG) -> list[Any]:
    """The raw ID and phone number of one resident (the only place they are rendered)."""
    return [
        html.Dl(
            [
                html.Dt(t(COL_ID, lang)),
                html.Dd(str(record["id_number"]), className="gc-pop-mono"),
                html.Dt(t(COL_PHONE, lang)),
                html.Dd(str(record["phone"]), className="gc-pop-mono"),
            ],
            className="gc-pop-unmasked",
        )
    ]


def export_header(lang: str = DEFAULT_LANG) -> list[str]:
    """The header row of the CSV export: the results table's columns, then ``cell_code``."""
    return [t(COL_NAME, lang), t(COL_ID, lang), t(COL_PHONE, lang), t(COL_HOUSEHOLD, lang),
            t(COL_CELL, lang), "cell_code"]  # fmt: skip


def export_cells(row: Mapping[str, Any]) -> list[Any]:
    """One result row (masked values only) as the export's cells, in :func:`export_header`
    order. The formula-injection guard is the exporter's job (``api/resident_exports.py``)."""
    return [row["name"], row["id_masked"], row["phone_masked"], row["household_no"],
            row["cell_name"], row["cell_code"]]  # fmt: skip
