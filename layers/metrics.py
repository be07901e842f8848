"""Metric colouring of the grid layer: class breaks, colours and legend (pure functions).

The grid layer (``dl.GeoJSON`` id ``ids.GRID_LAYER``) is never re-sent to change colours: a
callback patches these keys of its ``hideout`` (``dash.Patch``, so keys set by the map's own
callbacks, e.g. ``style``/``hover``, are kept) and the JS style function re-colours.

Hideout contract (keys written by ``callbacks/panel.py`` from :func:`metric_hideout`)::

    metric    "none" | "open" | "overdue" | "rate30" | "coverage"
    values    {cell code: number}  values of the cells of the drawn level (feature
              ``properties.code``); a drawn cell missing here has no value (see ``nodata``).
              Only features of role "cell" are meant to be coloured; "context" and
              "selected" features keep the default style.
    breaks    ascending thresholds [b1, …, bk]; a value v is in class
              i = number of breaks b with v >= b (0 … k)
    colors    k + 1 fill colours (CSS hex), colors[i] for class i
    nodata    fill colour of a drawn cell without a value
    opacity   fill opacity to use for coloured cells (0–1)
    label     the metric's name in the UI language (tooltip line "label: value")
    fmt       how to print a value in the tooltip: "int" (counts), "rate" (one decimal,
              "per 10k"), "pct" (value × 100, no decimals, "%"); "" for "none"
    unit      text after a formatted value ("" / "/万人" / "%" …), already translated
    level     the level of the cells the values belong to (int), or None
    selected  code of the selected cell (from the layer's ``sel``), or None

With ``metric == "none"`` (or empty ``values``) the style function should fall back to the
layer's default style. The style function only reads these keys; nothing else is needed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from dash import html

from gridcmd.i18n import t
from gridcmd.vocab import METRIC_MSGIDS

__all__ = [
    "METRIC_PALETTES",
    "NODATA_COLOR",
    "class_breaks",
    "format_value",
    "legend_items",
    "metric_hideout",
    "metric_legend",
]


#: Sequential palettes (ColorBrewer). Event metrics: more is worse, light → dark red.
#: Coverage: less is worse, red → blue (RdYlBu, readable with red-green colour blindness).
METRIC_PALETTES: dict[str, tuple[str, ...]] = {
    "open": ("#fef0d9", "#fdcc8a", "#fc8d59", "#e34a33", "#b30000"),
    "overdue": ("#fef0d9", "#fdcc8a", "#fc8d59", "#e34a33", "#b30000"),
    "rate30": ("#fef0d9", "#fdcc8a", "#fc8d59", "#e34a33", "#b30000"),
    "coverage": ("#d7191c", "#fdae61", "#ffffbf", "#abd9e9", "#2c7bb6"),
    # Roster (geodata/metrics.py): 0 workers red, 1 pale, 2+ blue; uncovered grids: more
    # is worse.
    "staffing": ("#d7191c", "#ffffbf", "#2c7bb6"),
    "uncovered": ("#fef0d9", "#fdcc8a", "#fc8d59", "#e34a33", "#b30000"),
}
NODATA_COLOR = "#d9dde3"
FILL_OPACITY = 0.72
#: Fixed coverage classes: < 25 %, 25–50 %, 50–75 %, 75–90 %, >= 90 %.
COVERAGE_BREAKS = (0.25, 0.5, 0.75, 0.9)
#: Fixed staffing classes: 0 (uncovered), 1, 2+ (several).
STAFFING_BREAKS = (1.0, 2.0)
_FIXED_BREAKS = {"coverage": COVERAGE_BREAKS, "staffing": STAFFING_BREAKS}
_FMT = {"none": "", "open": "int", "overdue": "int", "rate30": "rate", "coverage": "pct",
        "staffing": "int", "uncovered": "int"}  # fmt: skip
_UNIT_MSGIDS = {"rate30": "per 10k residents"}


def _quantile(sorted_vals: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile of an ascending, non-empty sequence."""
    pos = (len(sorted_vals) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (pos - lo)


def _nice(x: float) -> float:
    """``x`` rounded up to two significant digits (legend-friendly), e.g. 2.83 → 2.9."""
    if x <= 0:
        return 0.0
    digits = 1 - math.floor(math.log10(x))
    return round(math.ceil(round(x * 10**digits, 6)) / 10**digits, max(digits, 0))


def class_breaks(values: Sequence[float], metric: str) -> list[float]:
    """Ascending class thresholds for ``values`` of ``metric`` (at most one fewer than the
    metric's palette has colours).

    Coverage uses :data:`COVERAGE_BREAKS`. Event metrics give zero its own class (a cell with
    no events must not share a colour with a busy one), then quantiles of the distinct
    positive values (rounded up: whole numbers for counts, two significant digits for rates),
    without duplicates. No positive values → no breaks (one class, the zeros).
    """
    if metric in _FIXED_BREAKS:
        return list(_FIXED_BREAKS[metric])
    if metric not in METRIC_PALETTES:
        return []
    # Distinct values: with many equal small counts, quantiles of the raw values collapse.
    positive = sorted({v for v in values if isinstance(v, int | float) and v > 0})
    if not positive:
        return []
    integer = _FMT[metric] == "int"
    breaks = [1.0 if integer else positive[0]]  # class 0 holds exactly the zeros
    classes = len(METRIC_PALETTES[metric])
    for i in range(1, classes - 1):
        q = _quantile(positive, i / (classes - 1))
        b = float(math.ceil(q)) if integer else _nice(q)
        if b > breaks[-1] and b <= positive[-1]:
            breaks.append(b)
    return breaks


def format_value(value: float | None, metric: str, lang: str = "zh") -> str:
    """A metric value as shown in the panel/legend (same rules as the tooltip's ``fmt``)."""
    if value is None or metric == "none":
        return t("No data", lang)
    fmt = _FMT.get(metric, "")
    if fmt == "int":
        return f"{value:,.0f}"
    if fmt == "pct":
        return f"{value * 100:.0f}%"
    return f"{value:,.1f}" if abs(value) >= 1 or value == 0 else f"{value:.2g}"


def metric_hideout(
    values: Mapping[str, float],
    metric: str,
    lang: str = "zh",
    *,
    selected: str | None = None,
    level: int | None = None,
) -> dict[str, Any]:
    """The hideout keys for ``metric`` with ``values`` ({code: value}); see the module
    docstring for the contract. An unknown metric is treated as "none"."""
    if metric not in METRIC_PALETTES:
        metric, values = "none", {}
    clean = {
        str(k): float(v)
        for k, v in values.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    }
    breaks = class_breaks(list(clean.values()), metric)
    palette = METRIC_PALETTES.get(metric, ())
    if metric in _FIXED_BREAKS:
        colors = list(palette)
    elif palette:
        # Spread the palette over the classes actually present (light stays "zero").
        n = len(breaks) + 1
        colors = [palette[round(i * (len(palette) - 1) / max(n - 1, 1))] for i in range(n)]
    else:
        colors = []
    unit = _UNIT_MSGIDS.get(metric)
    return {
        "metric": metric,
        "values": clean,
        "breaks": breaks,
        "colors": colors,
        "nodata": NODATA_COLOR,
        "opacity": FILL_OPACITY,
        "label": t(METRIC_MSGIDS[metric], lang),
        "fmt": _FMT[metric],
        "unit": ("%" if metric == "coverage" else t(unit, lang) if unit else ""),
        "level": level,
        "selected": selected,
    }


def legend_items(hideout: Mapping[str, Any], lang: str = "zh") -> list[tuple[str, str]]:
    """``(label, colour)`` rows of the legend for a hideout of :func:`metric_hideout`."""
    metric = hideout.get("metric", "none")
    breaks: list[float] = list(hideout.get("breaks") or [])
    colors: list[str] = list(hideout.get("colors") or [])
    if metric not in _FMT or metric == "none" or not colors:
        return []
    fmt = _FMT[metric]

    def show(v: float) -> str:
        return format_value(v, metric, lang)

    rows: list[tuple[str, str]] = []
    bounds = [None, *breaks, None]
    for i, colour in enumerate(colors[: len(breaks) + 1]):
        lo, hi = bounds[i], bounds[i + 1]
        if lo is None:  # the lowest class: the zeros, or "below the first break"
            label = "0" if fmt != "pct" or hi is None else f"< {show(hi)}"
        elif hi is None:
            label = f"≥ {show(lo)}"
        elif fmt == "int" and hi - lo == 1:
            label = show(lo)
        elif fmt == "int":
            label = f"{show(lo)}–{show(hi - 1)}"
        else:
            label = f"{show(lo)}–{show(hi)}"
        rows.append((label, colour))
    if metric in ("rate30", "coverage", "staffing"):
        rows.append((t("No value", lang), hideout.get("nodata", NODATA_COLOR)))
    return rows


def metric_legend(hideout: Mapping[str, Any], lang: str = "zh") -> list[Any]:
    """Children of the metric legend box: the metric name (and unit) and one swatch per
    class; empty for "none". Labels are plain text (Dash escapes them)."""
    items = legend_items(hideout, lang)
    if not items:
        return []
    title = hideout.get("label") or t(METRIC_MSGIDS.get(hideout.get("metric", ""), "None"), lang)
    rows = [
        html.Li(
            [
                html.Span(className="gc-metric-swatch", style={"backgroundColor": colour}),
                html.Span(label),
            ]
        )
        for label, colour in items
    ]
    return [html.Div(title, className="gc-metric-legend-title"), html.Ul(rows)]
