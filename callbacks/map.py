"""Map callbacks: the URL drives the selection, the viewport drives the grid payload.

* ``?cell=`` (URL ``search``) → the map flies to the cell, the breadcrumb shows its path, the
  grid layer's ``url`` is set for the view the fly will land on (so the children download
  during the animation), and a message appears for an unknown or malformed code.
* the map's view (``{bounds, zoom, size}`` in the VIEW store, reported by gridcmd.js on
  ``moveend``) → the grid layer's ``url`` for that view (``layers.lod.grid_url``: level of
  detail, snapped bbox, selection).
* a click on a cell → ``?cell=<code>`` (clientside, ``gridcmd.selectCell``), keeping ``lang``;
  ``dcc.Location(refresh=False)`` pushes a history entry, so back/forward replay selections.

Thin: parse inputs → caller's scope (server side) → geodata → layers (the breadcrumb, the
grid URL, the viewport) → outputs. No module state; every callback works in any worker
process.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import dash
from dash import ClientsideFunction, Input, Output, State, no_update
from sqlalchemy.engine import Engine

from callbacks.guard import guarded
from dashboard import ids
from dashboard.layout import INITIAL, NOMINAL_SCREEN
from geodata.cells import cell_ancestors, cell_by_code
from gridcmd import web
from gridcmd.i18n import DEFAULT_LANG, lang_from_search, level_name, t
from gridcmd.settings import Settings
from gridcmd.vocab import CELL_CODE_RE, LEVEL_MSGIDS
from gridcmd.zoom import MAX_ZOOM, MIN_ZOOM, ZOOM_SNAP, display_level
from layers.grid import breadcrumb
from layers.lod import grid_url
from layers.viewport import (
    DEFAULT_PADDING_BR,
    DEFAULT_PADDING_TL,
    bbox_to_bounds,
    bounds_to_bbox,
    center_view,
    fit_view,
    map_size_px,
)

__all__ = ["cell_param", "detail_zoom", "register", "selection_view"]

#: Seconds of the fly animation to a selected cell (Leaflet's default grows with distance).
FLY_SECONDS = 0.6

UNKNOWN_CELL = "Unknown cell code, or outside your jurisdiction."
INVALID_CELL = "Invalid cell code."


def cell_param(search: str | None) -> tuple[str | None, bool]:
    """``(code, well_formed)`` of the ``cell`` query parameter (the last one wins);
    ``(None, True)`` when absent or empty."""
    values = parse_qs((search or "").lstrip("?"), keep_blank_values=True).get("cell") or [""]
    code = values[-1].strip()
    if not code:
        return None, True
    return code, bool(CELL_CODE_RE.fullmatch(code))


def detail_zoom(level: int) -> int:
    """The lowest zoom at which a selected cell of ``level`` is drawn with its children (a
    micro-grid: among the micro-grids), by ``gridcmd.zoom.display_level``."""
    target = min(level + 1, 6)
    for z in range(MIN_ZOOM, MAX_ZOOM + 1):
        if display_level(z, level) >= target:
            return z
    return MAX_ZOOM


def _size(view: dict[str, Any] | None) -> tuple[float, float]:
    """The map's size in pixels from the VIEW store (nominal before the first report)."""
    if not view:
        return NOMINAL_SCREEN
    size = view.get("size")
    if size and len(size) == 2 and size[0] > 0 and size[1] > 0:
        return (float(size[0]), float(size[1]))
    return map_size_px(view["bounds"], float(view["zoom"]))


def selection_view(
    cell: dict[str, Any], view: dict[str, Any] | None, *, animate: bool
) -> tuple[dict[str, Any], float, tuple[float, float, float, float]]:
    """How to show a selected ``cell`` (``cell_by_code`` row) on a map whose current state is
    ``view`` (the VIEW store): ``(viewport prop, landing zoom, landing bbox)``.

    Normally the cell's bounds are fitted (``flyToBounds``/``fitBounds`` with the overlay
    padding). A cell too large for its level — fitted, the zoom would be below the range in
    which its children are drawn (:func:`detail_zoom`) — is centred at the lowest zoom that
    draws them (``flyTo``/``setView``): showing the children is the point of selecting it.
    """
    size = _size(view)
    bbox = tuple(cell["bbox"])
    zoom, box = fit_view(bbox, size, zoom_snap=ZOOM_SNAP, max_zoom=MAX_ZOOM)
    options: dict[str, Any] = {"duration": FLY_SECONDS} if animate else {"animate": False}
    need = detail_zoom(int(cell["level"]))
    if zoom < need:
        point = cell.get("label_point") or [(bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2]
        center, box = center_view(point, need, size)
        viewport = {
            "center": center,
            "zoom": need,
            "transition": "flyTo" if animate else "setView",
            "options": options,
        }
        return viewport, float(need), box
    viewport = {
        "bounds": bbox_to_bounds(bbox),
        "transition": "flyToBounds" if animate else "fitBounds",
        "options": {
            "paddingTopLeft": list(DEFAULT_PADDING_TL),
            "paddingBottomRight": list(DEFAULT_PADDING_BR),
            "maxZoom": MAX_ZOOM,
            **options,
        },
    }
    return viewport, zoom, box


def follow_viewport(view: Any, selected: str | None, current_url: str | None) -> Any:
    """Map moved (``moveend``) → the grid URL of the new view (unchanged: no update, e.g.
    after a fly whose landing view ``follow_url`` already requested)."""
    if not view:
        return no_update
    sel = selected if selected and selected != INITIAL else None
    try:
        url = grid_url(float(view["zoom"]), bounds_to_bbox(view["bounds"]), sel)
    except (KeyError, TypeError, ValueError):
        return no_update
    return no_update if url == current_url else url


def register(app: dash.Dash, engine: Engine, settings: Settings) -> None:
    """Register the map callbacks on ``app``."""
    _register_follow_url(app, engine)
    app.callback(
        Output(ids.GRID_LAYER, "url"),
        Input(ids.VIEW, "data"),
        State(ids.SELECTED, "data"),
        State(ids.GRID_LAYER, "url"),
    )(follow_viewport)
    app.clientside_callback(
        ClientsideFunction(namespace="gridcmd", function_name="flyClear"),
        Output(ids.MAP, "viewport", allow_duplicate=True),
        Input(ids.FLY, "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction(namespace="gridcmd", function_name="selectCell"),
        Output(ids.URL, "search"),
        Input(ids.GRID_LAYER, "n_clicks"),
        State(ids.GRID_LAYER, "clickData"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )


def _register_follow_url(app: dash.Dash, engine: Engine) -> None:
    @app.callback(
        Output(ids.MAP, "viewport"),
        Output(ids.GRID_LAYER, "url", allow_duplicate=True),
        Output(ids.SELECTED, "data"),
        Output(ids.BREADCRUMB, "children"),
        Output(ids.MESSAGE, "children"),
        Input(ids.URL, "search"),
        State(ids.VIEW, "data"),
        State(ids.SELECTED, "data"),
        State(ids.GRID_LAYER, "url"),
        prevent_initial_call="initial_duplicate",
    )
    @guarded(unavailable=lambda message: (*(no_update,) * 4, message))
    def follow_url(
        search: str | None, view: Any, previous: str | None, current_url: str | None
    ) -> tuple[Any, ...]:
        """``?cell=`` → viewport, predicted grid URL, selected code, breadcrumb, message."""
        lang = lang_from_search(search)
        code, well_formed = cell_param(search)
        # First call of the page (page load, deep link): fit without animation.
        first = previous == INITIAL
        scope = web.caller_scope()
        root_code = scope.rsplit(".", 1)[-1]
        message = ""
        if not well_formed:
            message, code = t(INVALID_CELL, lang), None
        with engine.connect() as conn:
            cell = cell_by_code(conn, code or root_code, scope_path=scope)
            if cell is None and code:
                message, code = t(UNKNOWN_CELL, lang), None
                cell = cell_by_code(conn, root_code, scope_path=scope)
            path = cell_ancestors(conn, cell["code"], scope_path=scope) if cell else []
        if cell is None:  # the scope's root itself is missing: nothing to show
            return no_update, no_update, None, [], t(UNKNOWN_CELL, lang)
        crumbs = breadcrumb(
            path,
            level_names={k: level_name(k, lang) for k in LEVEL_MSGIDS},
            lang=None if lang == DEFAULT_LANG else lang,
        )
        viewport, zoom, box = selection_view(cell, view, animate=not first)
        # The children's payload for the landing view, requested now (during the fly) when
        # the map has reported its size; else the moveend after the fit requests it.
        url = grid_url(zoom, box, code) if view else None
        # An unchanged url would still re-trigger the metric callback (Input on the url).
        url = no_update if url is None or url == current_url else url
        return viewport, url, code, crumbs, message
