"""The side panel's content for one cell (pure: the dict of ``geodata.stats.cell_summary`` in,
Dash components out) and its two small Plotly charts.

Figures are plain dicts (no ``plotly.graph_objects`` validation on the request path); Dash
serves plotly.js itself, so the charts work offline. All text is placed as component children
or Plotly text, both of which escape it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

from dash import dcc, html

from gridcmd.i18n import category_name, level_name, t

__all__ = [
    "CHART_CONFIG",
    "categories_figure",
    "panel_content",
    "panel_message",
    "trend_figure",
]

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


def _fmt(n: Any, lang: str) -> str:
    return t("No data", lang) if n is None else f"{int(n):,}"


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


def trend_figure(trend: Sequence[tuple[dt.date, int]], lang: str = "zh") -> dict[str, Any]:
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


def categories_figure(categories: Sequence[tuple[str, int]], lang: str = "zh") -> dict[str, Any]:
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
        "text": [f"{n:,}" for n in counts],
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


def panel_content(summary: Mapping[str, Any] | None, lang: str = "zh") -> list[Any]:
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
            _stat(t("Population", lang), _fmt(s.get("population"), lang)),
            _stat(t("Households", lang), _fmt(s.get("households"), lang)),
            _stat(
                t("Workers (on duty / total)", lang),
                _fmt(s.get("workers_on_duty"), lang),
                of=_fmt(s.get("workers"), lang),
            ),
            _stat(t("Open", lang), _fmt(s.get("events_open"), lang)),
            _stat(
                t("Overdue", lang), _fmt(overdue, lang), tone="gc-pstat-alert" if overdue else ""
            ),
            _stat(t("Resolved (7 days)", lang), _fmt(s.get("events_resolved_7d"), lang)),
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
                    html.Li([html.Span(level_name(k, lang)), html.Span(_fmt(n, lang))])
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
