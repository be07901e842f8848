"""Grid-cell layers: a GeoJSON layer of one level, fetched from a URL and styled in JS.

The geometry never travels through callback data: the component's ``url`` prop points at the
GeoJSON endpoint and the browser fetches (and HTTP-caches) it. Colours travel in ``hideout``,
so restyling later means updating a small dict, not re-sending geometry.
"""

from __future__ import annotations

from typing import Any

import dash_leaflet as dl
from dash import html

__all__ = [
    "CELL_STYLE",
    "cell_layer",
    "cell_style_hideout",
    "county_layer",
    "js",
    "legend",
]

#: Default look per level: outline colour, outline weight (px), fill colour, fill opacity.
CELL_STYLE: dict[int, dict[str, Any]] = {
    1: {"color": "#1f3b63", "weight": 2.5, "fillColor": "#5b7fb0", "fillOpacity": 0.05},
    2: {"color": "#2b5aa8", "weight": 1.5, "fillColor": "#6f96d6", "fillOpacity": 0.22},
    3: {"color": "#3d6fbf", "weight": 1.0, "fillColor": "#8fb0e3", "fillOpacity": 0.18},
    4: {"color": "#5b86c9", "weight": 0.8, "fillColor": "#a9c3ea", "fillOpacity": 0.15},
    5: {"color": "#7a9bd1", "weight": 0.6, "fillColor": "#c2d5f0", "fillOpacity": 0.12},
    6: {"color": "#9bb3da", "weight": 0.4, "fillColor": "#d6e3f5", "fillOpacity": 0.10},
}

#: Extra style applied while the pointer is over a cell.
HOVER_STYLE: dict[str, Any] = {"weight": 3, "color": "#c0392b", "fillOpacity": 0.38}


def js(name: str) -> dict[str, str]:
    """A reference to the JS function ``window.gridcmd.<name>`` (dashboard/assets/gridcmd.js),
    in the form dash-leaflet resolves for function-valued props."""
    return {"variable": f"gridcmd.{name}"}


def cell_style_hideout(level: int, **overrides: Any) -> dict[str, Any]:
    """The ``hideout`` dict read by ``gridcmd.styleCell`` / ``gridcmd.hoverCell`` for ``level``.

    Keys: ``style`` (Leaflet path options) and ``hover`` (options merged on hover);
    ``overrides`` replace entries of ``style``.
    """
    if level not in CELL_STYLE:
        raise ValueError(f"level must be 1..6, not {level!r}")
    return {"style": {**CELL_STYLE[level], **overrides}, "hover": dict(HOVER_STYLE)}


def cell_layer(url: str, *, level: int, id: str | dict) -> dl.GeoJSON:
    """A GeoJSON layer of grid cells loaded from ``url`` (a GeoJSON FeatureCollection whose
    features carry ``properties.name``), styled for ``level``, with an HTML-escaped name
    tooltip on hover."""
    return dl.GeoJSON(
        id=id,
        url=url,
        format="geojson",
        hideout=cell_style_hideout(level),
        style=js("styleCell"),
        hoverStyle=js("hoverCell"),
        onEachFeature=js("bindCellTooltip"),
    )


def county_layer(url: str, *, id: str | dict = "county-layer") -> dl.GeoJSON:
    """The 12 counties (level 2) of the prefecture, loaded from ``url``."""
    return cell_layer(url, level=2, id=id)


def legend(title: str, items: list[tuple[str, int]], *, id: str | None = None) -> html.Div:
    """A small map legend: ``title`` and one line-and-fill swatch per ``(label, level)``.

    Labels are plain text (Dash escapes them); colours come from :data:`CELL_STYLE`.
    """
    rows = []
    for label, level in items:
        s = CELL_STYLE[level]
        swatch = html.Span(
            className="gc-legend-swatch",
            style={
                "borderColor": s["color"],
                "borderWidth": f"{max(1, round(s['weight']))}px",
                "backgroundColor": _rgba(s["fillColor"], s["fillOpacity"]),
            },
        )
        rows.append(html.Li([swatch, html.Span(label)]))
    kwargs = {"id": id} if id else {}
    return html.Div(
        [html.Div(title, className="gc-legend-title"), html.Ul(rows)],
        className="gc-legend",
        **kwargs,
    )


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r}, {g}, {b}, {alpha})"
