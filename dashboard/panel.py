"""The cell panel (the right-hand overlay): its frame, and its content for one cell — the
subtree summary of :func:`geodata.stats.cell_summary` with two small Plotly charts — plus the
metric selector with its legend box and the language switch (search: :mod:`dashboard.search`).

Rendering of panels lives in ``dashboard/`` (this module for the cell panel); map objects
(layers, hideouts, markers) in ``layers/``. Each factory takes the UI language and returns
components with their ids from :mod:`dashboard.ids`; ``callbacks/panel.py`` fills and
re-labels them. Figures are plain dicts (no ``plotly.graph_objects`` validation on the request
path); Dash serves plotly.js itself, so the charts work offline. All text is placed as
component children or Plotly text, both of which escape it. Styles are in
``dashboard/assets/panel.css`` (classes ``gc-panel*``, ``gc-pstat*``, ``gc-metric*``,
``gc-lang*``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode

from dash import dcc, html

from dashboard import fmt, ids
from gridcmd.i18n import DEFAULT_LANG, LANGS, category_name, level_name, normalise_lang, t
from gridcmd.vocab import METRIC_MSGIDS

__all__ = [
    "CHART_CONFIG",
    "DEFAULT_METRIC",
    "LANG_LABELS",
    "categories_figure",
    "lang_links",
    "language_switch",
    "metric_options",
    "metric_selector",
    "panel_container",
    "panel_content",
    "panel_message",
    "trend_figure",
    "with_lang",
]

#: Metric selected when the page opens.
DEFAULT_METRIC = "open"
#: Each language's name in itself (the switch never translates these).
LANG_LABELS: dict[str, str] = {"zh": "中文", "en": "English"}
#: dcc.Graph config: no toolbar, no Plotly logo, no scroll-zoom stealing the page's scroll.
CHART_CONFIG: dict[str, Any] = {
    "displayModeBar": False,
    "displaylogo": False,
    "scrollZoom": False,
    "responsive": True,
}
_FONT = {
    "family": '"PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", system-ui, sans-serif',
    "size": 11,
    "color": "#51606f",
}
_BAR = "#2b5aa8"


def _base_layout(height: int) -> dict[str, Any]:
    return {
        "height": height,
        "margin": {"l": 8, "r": 8, "t": 4, "b": 4},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": _FONT,
        "showlegend": False,
        "bargap": 0.25,
        "dragmode": False,
    }


def trend_figure(trend: Sequence[tuple[dt.date, int]], lang: str = DEFAULT_LANG) -> dict[str, Any]:
    """Bar chart of events per day (``[(date, count), …]``, oldest first)."""
    xs = [d.isoformat() if isinstance(d, dt.date) else str(d) for d, _ in trend]
    ys = [int(n) for _, n in trend]
    layout = _base_layout(120)
    # Whole-number ticks only (small counts would otherwise be labelled 0, 0.5→"1", 1).
    dtick = max(1, math.ceil(max(ys, default=0) / 3))
    layout["xaxis"] = {
        "type": "date",
        "tickformat": "%m-%d",
        "showgrid": False,
        "fixedrange": True,
        "automargin": True,
    }
    layout["yaxis"] = {
        "rangemode": "tozero",
        "fixedrange": True,
        "gridcolor": "#e1e7ee",
        "automargin": True,
        "tickformat": ",d",
        "tick0": 0,
        "dtick": dtick,
    }
    trace = {
        "type": "bar",
        "x": xs,
        "y": ys,
        "marker": {"color": _BAR},
        "hovertemplate": "%{x|%Y-%m-%d}: %{y}<extra></extra>",
        "name": t("Events", lang),
    }
    return {"data": [trace], "layout": layout}


def categories_figure(
    categories: Sequence[tuple[str, int]], lang: str = DEFAULT_LANG
) -> dict[str, Any]:
    """Horizontal bars of the top categories (``[(category key, count), …]``, largest
    first, drawn top to bottom), with translated category names."""
    names = [category_name(c, lang) for c, _ in categories]
    counts = [int(n) for _, n in categories]
    layout = _base_layout(28 + 22 * max(len(categories), 1))
    layout["xaxis"] = {"visible": False, "fixedrange": True, "rangemode": "tozero"}
    layout["yaxis"] = {"autorange": "reversed", "fixedrange": True, "automargin": True}
    trace = {
        "type": "bar",
        "orientation": "h",
        "x": counts,
        "y": names,
        "text": [fmt.count(n) for n in counts],
        "textposition": "auto",
        "marker": {"color": _BAR},
        "hovertemplate": "%{y}: %{x}<extra></extra>",
    }
    return {"data": [trace], "layout": layout}


def panel_message(text: str, *, kind: str = "info") -> html.Div:
    """A one-line message in the panel body (``kind``: "info" or "error")."""
    role = "alert" if kind == "error" else "status"
    return html.Div(text, className=f"gc-panel-msg gc-panel-msg-{kind}", role=role)


def _stat(label: str, value: str, *, of: str | None = None, tone: str = "") -> html.Div:
    """One headline number; ``of`` is a smaller "/ total" after it."""
    shown: list[Any] = [value]
    if of is not None:
        shown.append(html.Span(f" / {of}", className="gc-pstat-of"))
    return html.Div(
        [html.Div(label, className="gc-pstat-label"), html.Div(shown, className="gc-pstat-value")],
        className=f"gc-pstat {tone}".strip(),
    )


def panel_content(summary: Mapping[str, Any] | None, lang: str = DEFAULT_LANG) -> list[Any]:
    """The panel body for a :func:`geodata.stats.cell_summary` dict: heading (ancestor path,
    name, level and code), headline numbers, cells per lower level, the trend chart and the
    top categories. ``None`` gives the "select a cell" hint."""
    if not summary:
        return [panel_message(t("Select a cell on the map or search for one.", lang))]
    s = summary
    level = int(s["level"])
    ancestors = list(s.get("path_names") or [])[:-1]
    head = html.Div(
        [
            html.Div(" › ".join(ancestors), className="gc-panel-path") if ancestors else None,
            html.H2(s["name"], className="gc-panel-name"),
            html.Div(
                [
                    html.Span(level_name(level, lang), className="gc-panel-level"),
                    html.Span(f"{t('Code', lang)} {s['code']}", className="gc-panel-code"),
                ],
                className="gc-panel-meta",
            ),
        ],
        className="gc-panel-head",
    )
    overdue = int(s.get("events_overdue") or 0)
    stats = html.Div(
        [
            _stat(t("Population", lang), fmt.count(s.get("population"), lang)),
            _stat(t("Households", lang), fmt.count(s.get("households"), lang)),
            _stat(
                t("Workers (on duty / total)", lang),
                fmt.count(s.get("workers_on_duty"), lang),
                of=fmt.count(s.get("workers"), lang),
            ),
            _stat(t("Open", lang), fmt.count(s.get("events_open"), lang)),
            _stat(
                t("Overdue", lang),
                fmt.count(overdue, lang),
                tone="gc-pstat-alert" if overdue else "",
            ),
            _stat(t("Resolved (7 days)", lang), fmt.count(s.get("events_resolved_7d"), lang)),
        ],
        className="gc-pstats",
    )
    children: list[Any] = [head, stats]
    by_level: Mapping[int, int] = s.get("cells_by_level") or {}
    if by_level:
        children += [
            html.H3(t("Cells by level", lang)),
            html.Ul(
                [
                    html.Li([html.Span(level_name(k, lang)), html.Span(fmt.count(n, lang))])
                    for k, n in sorted(by_level.items())
                ],
                className="gc-panel-levels",
            ),
        ]
    days = int(s.get("trend_days") or len(s.get("trend") or []) or 30)
    trend = s.get("trend") or []
    children += [
        html.H3(t("Events reported, last {days} days", lang, days=days)),
        dcc.Graph(
            figure=trend_figure(trend, lang),
            config=CHART_CONFIG,
            className="gc-panel-chart",
        ),
    ]
    categories = s.get("categories") or []
    children.append(html.H3(t("Top categories, last {days} days", lang, days=days)))
    if categories:
        children.append(
            dcc.Graph(
                figure=categories_figure(categories, lang),
                config=CHART_CONFIG,
                className="gc-panel-chart",
            )
        )
    else:
        children.append(panel_message(t("No events", lang)))
    return children


def panel_container(lang: str = DEFAULT_LANG) -> html.Details:
    """The right-hand overlay: a ``<details>`` element (native collapse, no JS) whose summary
    line is the toggle and whose body (``ids.PANEL_BODY``) the panel callback fills."""
    return html.Details(
        [
            html.Summary(
                t("Cell details", lang),
                id=ids.PANEL_TOGGLE,
                className="gc-panel-toggle",
            ),
            dcc.Loading(
                html.Div(panel_content(None, lang), id=ids.PANEL_BODY, className="gc-panel-body"),
                type="dot",
                delay_show=300,
                color="#2b5aa8",
                parent_className="gc-panel-loading",
            ),
        ],
        id=ids.PANEL,
        open=True,
        className="gc-panel",
    )


def metric_options(lang: str = DEFAULT_LANG) -> list[dict[str, str]]:
    """Options of the metric selector, labelled in ``lang``."""
    return [{"label": t(msgid, lang), "value": key} for key, msgid in METRIC_MSGIDS.items()]


def metric_selector(lang: str = DEFAULT_LANG, value: str = DEFAULT_METRIC) -> html.Div:
    """The metric picker (``ids.METRIC_SELECT``) above its legend (``ids.METRIC_LEGEND``),
    as one small overlay box."""
    return html.Div(
        [
            dcc.RadioItems(
                id=ids.METRIC_SELECT,
                options=metric_options(lang),
                value=value if value in METRIC_MSGIDS else DEFAULT_METRIC,
                className="gc-metric-options",
                inputClassName="gc-metric-input",
                labelClassName="gc-metric-option",
            ),
            html.Div(id=ids.METRIC_LEGEND, className="gc-metric-legend", **{"aria-live": "polite"}),
        ],
        id=ids.METRIC,
        className="gc-metric",
    )


def with_lang(search: str | None, lang: str) -> str:
    """The query string ``search`` (e.g. ``"?cell=532901"``) with ``lang`` set; the default
    language is left out of the URL. Always starts with ``?`` (``"?"`` alone when empty)."""
    params = [(k, v) for k, v in parse_qsl((search or "").lstrip("?")) if k != "lang"]
    if normalise_lang(lang) != DEFAULT_LANG:
        params.append(("lang", lang))
    return "?" + urlencode(params)


def lang_links(lang: str, search: str | None = None, *, refresh: bool = True) -> list[Any]:
    """One link per language (id ``{"type": ids.LANG_LINK, "lang": code}``) keeping the rest
    of the query string; the current one marked."""
    current = normalise_lang(lang)
    return [
        dcc.Link(
            LANG_LABELS[code],
            id={"type": ids.LANG_LINK, "lang": code},
            href=with_lang(search, code),
            refresh=refresh,
            className="gc-lang-link" + (" gc-lang-current" if code == current else ""),
            title=LANG_LABELS[code],
        )
        for code in LANGS
    ]


def language_switch(
    lang: str = DEFAULT_LANG, search: str | None = None, *, refresh: bool = True
) -> html.Nav:
    """The zh/en switch (``ids.LANG_SWITCH``): links that set ``?lang=`` and reload the page
    (the layout is rendered in the URL's language; ``refresh=False`` only changes the URL).
    The panel callbacks keep each link's ``href`` in step with the current ``?cell=``."""
    return html.Nav(
        lang_links(lang, search, refresh=refresh),
        id=ids.LANG_SWITCH,
        className="gc-lang",
        **{"aria-label": t("Language", lang)},
    )
