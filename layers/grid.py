"""The grid on the map: the viewport's cells as one geobuf GeoJSON layer, the breadcrumb of the
selected cell, the basemap/overlay control, the legend and the map's client-side config.

Pure builders (data and labels in, dash-leaflet/Dash components out): no database, no request,
no translation lookups (callers pass the texts in). Geometry never travels through callback
data: the layer's ``url`` points at ``GET /geo/grid.pbf`` and the browser fetches and
HTTP-caches it. Colours travel in ``hideout`` (``{"metric", "values", "breaks", "colors",
"selected"}``, written by ``callbacks/panel.py``) and are applied by the JS style functions in
``dashboard/assets/gridcmd.js``, which read the per-level look from :func:`map_config`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import dash_leaflet as dl
from dash import dcc, html

__all__ = [
    "CELL_STYLE",
    "CONTEXT_STYLE",
    "HOVER_STYLE",
    "NO_VALUE_STYLE",
    "SELECTED_STYLE",
    "breadcrumb",
    "cell_href",
    "default_hideout",
    "grid_layer",
    "js",
    "layers_control",
    "legend",
    "map_config",
]

#: Default look per level: outline colour, outline weight (px), fill colour, fill opacity.
CELL_STYLE: dict[int, dict[str, Any]] = {
    1: {"color": "#1f3b63", "weight": 2.5, "fillColor": "#5b7fb0", "fillOpacity": 0.05},
    2: {"color": "#2b5aa8", "weight": 1.5, "fillColor": "#6f96d6", "fillOpacity": 0.22},
    3: {"color": "#3566b5", "weight": 1.2, "fillColor": "#86a8de", "fillOpacity": 0.20},
    4: {"color": "#4a78c0", "weight": 1.0, "fillColor": "#9dbae6", "fillOpacity": 0.18},
    5: {"color": "#5f88c8", "weight": 0.8, "fillColor": "#b3cbef", "fillOpacity": 0.18},
    6: {"color": "#7798cf", "weight": 0.7, "fillColor": "#c6d8f4", "fillOpacity": 0.18},
}

#: Cells drawn as context around a selection (the zoom's natural level outside it).
CONTEXT_STYLE: dict[str, Any] = {
    "color": "#8a98aa", "weight": 0.8, "fillColor": "#dfe4ea", "fillOpacity": 0.25,
}  # fmt: skip

#: The selected cell: a thick outline on top, no fill, not clickable (clicks reach its children).
SELECTED_STYLE: dict[str, Any] = {
    "color": "#d9480f", "weight": 3.5, "fill": False, "fillOpacity": 0, "interactive": False,
}  # fmt: skip

#: Extra style applied while the pointer is over a cell.
HOVER_STYLE: dict[str, Any] = {"weight": 3, "color": "#c92a2a", "fillOpacity": 0.45}

#: Fill of a cell without a value while a metric is shown.
NO_VALUE_STYLE: dict[str, Any] = {"fillColor": "#cfd5dc", "fillOpacity": 0.35}

#: Fill opacity of metric colours.
METRIC_FILL_OPACITY = 0.62

#: At most this many features get a permanent name label (when the label also fits).
MAX_LABELS = 60


def js(name: str) -> dict[str, str]:
    """A reference to the JS function ``window.gridcmd.<name>`` (dashboard/assets/gridcmd.js),
    in the form dash-leaflet resolves for function-valued props."""
    return {"variable": f"gridcmd.{name}"}


def default_hideout(selected: str | None = None) -> dict[str, Any]:
    """The grid layer's ``hideout`` before any metric is chosen: per-level default styles."""
    return {"metric": "none", "values": {}, "breaks": [], "colors": [], "selected": selected}


def grid_layer(
    url: str | None, hideout: Mapping[str, Any] | None = None, *, id: str | dict
) -> dl.GeoJSON:
    """The grid cells of the current view, fetched from ``url`` (``GET /geo/grid.pbf``, geobuf;
    None: nothing yet). Features carry ``code, name, level, role`` (``role`` = "cell",
    "context" or "selected"). Styled by ``gridcmd.styleCell`` from ``hideout``; hover
    highlight, escaped tooltip and name labels by ``gridcmd.onEachCell``."""
    return dl.GeoJSON(
        id=id,
        url=url,
        format="geobuf",
        hideout=dict(hideout) if hideout is not None else default_hideout(),
        style=js("styleCell"),
        hoverStyle=js("hoverCell"),
        onEachFeature=js("onEachCell"),
        # Click selects (callbacks/map.py); no zoom-to-feature here: the URL drives the view.
        zoomToBoundsOnClick=False,
        bubblingMouseEvents=False,
    )


def cell_href(code: str | None, lang: str | None = None, *, base: str = "/") -> str:
    """The page URL selecting ``code`` (None: the jurisdiction root), keeping a non-default
    ``lang``: ``/?cell=532901&lang=en``."""
    params: dict[str, str] = {}
    if code:
        params["cell"] = code
    if lang:
        params["lang"] = lang
    return base + ("?" + urlencode(params) if params else "")


def breadcrumb(
    path: Sequence[Mapping[str, Any]],
    *,
    level_names: Mapping[int, str],
    lang: str | None = None,
    base: str = "/",
) -> list[Any]:
    """Crumbs for ``path`` (``[{code, name, level}, ...]`` from the jurisdiction root down to
    the selected cell): each a ``dcc.Link`` to ``/?cell=<code>`` (the root's to ``/``), with
    the level name as a small tag, separated by ``›``. The last crumb is the current one.
    ``lang`` is kept in the links (pass None for the default language)."""
    out: list[Any] = []
    for i, cell in enumerate(path):
        level = int(cell["level"])
        last = i == len(path) - 1
        href = cell_href(None if i == 0 else str(cell["code"]), lang, base=base)
        if i:
            out.append(html.Span("›", className="gc-crumb-sep", **{"aria-hidden": "true"}))
        out.append(
            dcc.Link(
                [
                    html.Span(level_names.get(level, str(level)), className="gc-crumb-level"),
                    html.Span(str(cell["name"]), className="gc-crumb-name"),
                ],
                href=href,
                className="gc-crumb gc-crumb-current" if last else "gc-crumb",
                title=f"{level_names.get(level, level)} · {cell['code']}",
            )
        )
    return out


def layers_control(
    grid: Any,
    *,
    names: Mapping[str, str],
    events_id: str,
    workers_id: str,
    none_id: str,
    basemap_url: str | None = None,
    basemap_attribution: str = "",
    basemap_id: str | None = None,
    mbtiles: Mapping[str, Any] | None = None,
    mbtiles_id: str | None = None,
    id: str | None = None,
    events: Sequence[Any] = (),
    workers: Sequence[Any] = (),
    live_checked: bool = True,
) -> dl.LayersControl:
    """Basemap choice and overlays.

    Base layers: "none" (checked: fully offline, the grid on a neutral background), the
    configured raster tiles (``basemap_url``, a ``{z}/{x}/{y}`` template) when set, and the
    local MBTiles when ``mbtiles`` is given (``{"url", "attribution", "minzoom", "maxzoom"}``,
    served by ``dashboard/tiles.py``). Overlays: ``grid``, the live ``events`` and ``workers``
    layers (layer groups holding the given children; on when ``live_checked``). ``names``
    holds the labels: keys ``none, basemap, mbtiles, grid, events, workers``.
    """
    base: list[Any] = [
        dl.BaseLayer(dl.LayerGroup(id=none_id), name=names["none"], checked=True),
    ]
    if basemap_url:
        tile_kw = {"id": basemap_id} if basemap_id else {}
        base.append(
            dl.BaseLayer(
                dl.TileLayer(url=basemap_url, attribution=basemap_attribution, **tile_kw),
                name=names["basemap"],
                checked=False,
            )
        )
    if mbtiles:
        mb_kw: dict[str, Any] = {"id": mbtiles_id} if mbtiles_id else {}
        if mbtiles.get("maxzoom") is not None:
            mb_kw["maxNativeZoom"] = int(mbtiles["maxzoom"])
        if mbtiles.get("minzoom") is not None:
            mb_kw["minNativeZoom"] = int(mbtiles["minzoom"])
        base.append(
            dl.BaseLayer(
                dl.TileLayer(
                    url=mbtiles["url"], attribution=mbtiles.get("attribution") or "", **mb_kw
                ),
                name=names["mbtiles"],
                checked=False,
            )
        )
    overlays = [
        dl.Overlay(grid, name=names["grid"], checked=True),
        dl.Overlay(
            dl.LayerGroup(list(events), id=events_id), name=names["events"], checked=live_checked
        ),
        dl.Overlay(
            dl.LayerGroup(list(workers), id=workers_id), name=names["workers"],
            checked=live_checked,
        ),  # fmt: skip
    ]
    kw = {"id": id} if id else {}
    # The checked overlays given explicitly: dash-leaflet 1.1.3's control filters this list
    # when a box is toggled and fails on an unset one; callbacks also read it from the start.
    checked = [names["grid"]] + ([names["events"], names["workers"]] if live_checked else [])
    return dl.LayersControl(
        base + overlays, position="topleft", collapsed=True, overlays=checked,
        baseLayer=names["none"], **kw,
    )  # fmt: skip


def legend(
    title: str,
    items: Sequence[tuple[str, int | str]],
    *,
    id: str | None = None,
    extra: Any = None,
) -> html.Div:
    """A small map legend: ``title`` and one line-and-fill swatch per ``(label, key)``; ``key``
    is a level (1–6) or ``"selected"`` / ``"context"``. Labels are plain text (Dash escapes
    them). ``extra`` (e.g. the metric legend) is appended below."""
    rows = []
    for label, key in items:
        s = _style_for(key)
        fill = s.get("fillColor", "#ffffff") if s.get("fill", True) else "#ffffff"
        swatch = html.Span(
            className="gc-legend-swatch",
            style={
                "borderColor": s["color"],
                "borderWidth": f"{max(1, round(s['weight']))}px",
                "backgroundColor": _rgba(
                    fill, s.get("fillOpacity", 0) if s.get("fill", True) else 0
                ),
            },
        )
        rows.append(html.Li([swatch, html.Span(label)]))
    children: list[Any] = [html.Div(title, className="gc-legend-title"), html.Ul(rows)]
    if extra is not None:
        children.append(extra)
    kwargs = {"id": id} if id else {}
    return html.Div(children, className="gc-legend", **kwargs)


def map_config(
    *,
    id: str,
    map_id: str,
    view_store_id: str,
    grid_layer_id: str,
    message_id: str,
    level_names: Mapping[int, str],
    texts: Mapping[str, str],
    metric_names: Mapping[str, str] | None = None,
) -> html.Div:
    """A hidden element carrying what the JS functions need as ``data-config`` JSON: the style
    tables above, translated level names and tooltip texts (``texts`` keys: ``level``,
    ``code``, ``no_value``, ``grid_unavailable``), metric names, and the ids of the map, the
    viewport store, the grid layer and the message toast. Keeps every UI string server-side
    (gettext catalogs)."""
    config = {
        "mapId": map_id,
        "viewStoreId": view_store_id,
        "gridLayerId": grid_layer_id,
        "messageId": message_id,
        "levelNames": {str(k): v for k, v in level_names.items()},
        "metricNames": dict(metric_names or {}),
        "texts": dict(texts),
        "cellStyle": {str(k): v for k, v in CELL_STYLE.items()},
        "contextStyle": CONTEXT_STYLE,
        "selectedStyle": SELECTED_STYLE,
        "hoverStyle": HOVER_STYLE,
        "noValueStyle": NO_VALUE_STYLE,
        "metricFillOpacity": METRIC_FILL_OPACITY,
        "maxLabels": MAX_LABELS,
    }
    return html.Div(
        id=id, hidden=True, className="gc-map-config", **{"data-config": json.dumps(config)}
    )


def _style_for(key: int | str) -> dict[str, Any]:
    if key == "selected":
        return SELECTED_STYLE
    if key == "context":
        return CONTEXT_STYLE
    return CELL_STYLE[int(key)]


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r}, {g}, {b}, {alpha})"
