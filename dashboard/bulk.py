"""Bulk selection (批量操作): draw a rectangle or polygon on the map to select the
open events inside it, then dispatch or escalate them together.

:func:`draw_layer` goes in the map: a ``dl.FeatureGroup`` holding dash-leaflet's
``EditControl`` (Leaflet.draw; its JavaScript, CSS and icons are bundled in dash-leaflet's own
``async-EditControl`` chunk, served locally — icons as data URIs — so nothing comes from a
CDN). Only the rectangle and polygon tools are offered, and only to roles with ``dispatch``;
for the others the control has no tool. :func:`bulk_panel` is shown while a shape is drawn.
The pure helpers turn :mod:`geodata.bulk` rows and results into components: text only.
``callbacks/bulk.py`` fills the panel and runs the actions; ``assets/bulk.js`` clears the
drawing and translates Leaflet.draw's tooltips.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dash_leaflet as dl
from dash import dcc, html

from dashboard import fmt, ids
from gridcmd.i18n import DEFAULT_LANG, t
from gridcmd.vocab import CATEGORY_MSGIDS, STATUS_MSGIDS

__all__ = [
    "RECOMMENDED",
    "bulk_panel",
    "draw_layer",
    "result_list",
    "selection_list",
    "selection_summary",
    "worker_options",
]

# msgids (English source texts; translations in gridcmd/locale/*/messages.po)
BULK = "Bulk actions"
#: Value of the worker dropdown's "each event's first recommended worker" choice.
RECOMMENDED = "recommended"
#: Leaflet.draw options: rectangle and polygon only (no self-crossing polygons).
SHAPE_STYLE = {"color": "#1864ab", "weight": 2, "fillOpacity": 0.08}
DRAW_TOOLS = {
    "polyline": False,
    "marker": False,
    "circle": False,
    "circlemarker": False,
    "rectangle": {"shapeOptions": SHAPE_STYLE, "showArea": False},
    "polygon": {"allowIntersection": False, "showArea": False, "shapeOptions": SHAPE_STYLE},
}
#: HTTP status of a refused event (geodata.workflow.WorkflowError) → msgid of the reason.
REFUSAL_MSGIDS: dict[int, str] = {
    403: "Not allowed for you on this case",
    404: "Unknown event, or outside your jurisdiction.",
    409: "Not possible in its current state",
    422: "Invalid request.",
}
NO_TOOLS = dict.fromkeys(("polyline", "marker", "circle", "circlemarker", "rectangle",
                          "polygon"), False)  # fmt: skip


def draw_layer(*, can_dispatch: bool) -> dl.FeatureGroup:
    """The map's drawing layer: rectangle/polygon tools (and delete) for dispatchers, no
    tools for anyone else (the component still exists: its callbacks need the id)."""
    return dl.FeatureGroup(
        [
            dl.EditControl(
                id=ids.BULK_DRAW,
                position="topleft",
                draw=DRAW_TOOLS if can_dispatch else NO_TOOLS,
                edit={"edit": False, "remove": can_dispatch},
            )
        ],
        id=ids.BULK_GROUP,
    )


def bulk_panel(lang: str = DEFAULT_LANG) -> html.Div:
    """The hidden panel: summary, list, worker choice, note, the two actions, results."""
    return html.Div(
        [
            html.Div(
                [
                    html.Strong(t(BULK, lang)),
                    html.Button(
                        "×",
                        id=ids.BULK_CLOSE,
                        n_clicks=0,
                        type="button",
                        title=t("Clear the drawing", lang),
                        className="gc-bulk-close",
                    ),  # fmt: skip
                ],
                className="gc-bulk-head",
            ),
            html.Div(id=ids.BULK_SUMMARY, className="gc-bulk-summary"),
            html.Div(id=ids.BULK_LIST, className="gc-bulk-list"),
            html.Label(t("Dispatch to", lang), htmlFor=ids.BULK_WORKER),
            dcc.Dropdown(
                id=ids.BULK_WORKER,
                options=[],
                value=RECOMMENDED,
                clearable=False,
                className="gc-bulk-worker",
            ),  # fmt: skip
            html.Label(t("Note", lang), htmlFor=ids.BULK_NOTE),
            dcc.Input(
                id=ids.BULK_NOTE,
                type="text",
                maxLength=2000,
                value="",
                debounce=False,
                className="gc-bulk-note",
            ),  # fmt: skip
            html.Div(
                [
                    html.Button(
                        t("Dispatch all", lang),
                        id=ids.BULK_DISPATCH,
                        n_clicks=0,
                        type="button",
                        className="gc-bulk-go",
                    ),  # fmt: skip
                    html.Button(
                        t("Escalate all", lang),
                        id=ids.BULK_ESCALATE,
                        n_clicks=0,
                        type="button",
                        className="gc-bulk-go",
                    ),  # fmt: skip
                ],
                className="gc-bulk-actions",
            ),
            html.Div(id=ids.BULK_RESULT, className="gc-bulk-result", role="status"),
            html.Div(t("Synthetic demo data", lang), className="gc-synthetic"),
            dcc.Store(id=ids.BULK_IDS, data=[]),
        ],
        id=ids.BULK_PANEL,
        hidden=True,
        className="gc-bulk-panel",
    )


def _cat(key: str, lang: str) -> str:
    return t(CATEGORY_MSGIDS.get(key, key), lang)


def selection_summary(sel: Mapping[str, Any], lang: str) -> list[Any]:
    """The line "n open events selected" and the count per category (most first)."""
    n = len(sel["events"])
    head = t("{n} open events in the shape", lang, n=n)
    if sel.get("truncated"):
        head += " · " + t("only the first {n} are listed", lang, n=n)
    cats = sorted(sel["by_category"].items(), key=lambda kv: (-kv[1], kv[0]))
    return [
        html.Div(head, className="gc-bulk-count"),
        html.Div(" · ".join(f"{_cat(k, lang)} {v}" for k, v in cats), className="gc-bulk-cats"),
    ]


def selection_list(events: Sequence[Mapping[str, Any]], lang: str) -> Any:
    """The selected events: title, category, status, due (overdue ones marked)."""
    if not events:
        return html.P(t("No open events in the shape.", lang))
    return html.Ol(
        [
            html.Li(
                [
                    html.Span(f"#{e['id']} ", className="gc-bulk-id"),
                    html.Span(e["title"], className="gc-bulk-title"),
                    html.Span(
                        f" · {_cat(e['category'], lang)} · "
                        f"{t(STATUS_MSGIDS.get(e['status'], e['status']), lang)} · "
                        f"{t('Due', lang)} {fmt.local_time(e.get('due_at'), 'short')}",
                        className="gc-bulk-meta",
                    ),
                ],
                className="gc-bulk-item" + (" gc-bulk-overdue" if e.get("overdue") else ""),
            )
            for e in events
        ]
    )


def worker_options(workers: Sequence[Mapping[str, Any]], lang: str) -> list[dict[str, Any]]:
    """The dispatch dropdown: "each event's first recommended worker", then the workers of
    the area (name, employee number, cell; no phone)."""
    opts: list[dict[str, Any]] = [{"label": t("Each event's first recommended worker", lang),
                                   "value": RECOMMENDED}]  # fmt: skip
    for w in workers:
        duty = "" if w["duty_status"] == "on_duty" else f" · {t('Off duty', lang)}"
        opts.append({"label": f"{w['name']} ({w['employee_no']}) · {w['cell_name']}{duty}",
                     "value": w["id"]})  # fmt: skip
    return opts


def result_list(results: Sequence[Mapping[str, Any]], lang: str) -> list[Any]:
    """Per-event results of :func:`geodata.bulk.bulk_perform`: "n done, m refused", then a
    line per event (new status, or the reason)."""
    ok = sum(1 for r in results if r["ok"])
    lines = []
    for r in results:
        name = f"#{r['id']}"
        if r["ok"]:
            text = f"{name}: {t(STATUS_MSGIDS.get(r['status'], r['status']), lang)}"
            lines.append(html.Li(text, className="gc-bulk-ok"))
            continue
        reason = t(REFUSAL_MSGIDS.get(r["code"], "Invalid request."), lang)
        # The workflow's own (English) detail on hover: which rule refused it.
        lines.append(html.Li(f"{name}: {reason}", className="gc-bulk-fail", title=r["detail"]))
    return [
        html.Div(
            t("{ok} done, {failed} refused", lang, ok=ok, failed=len(results) - ok),
            className="gc-bulk-count",
        ),  # fmt: skip
        html.Ul(lines),
    ]
