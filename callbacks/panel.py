"""Callbacks of the cell panel, the search box, the metric colouring and the language links.

* ``?cell=`` (``ids.URL`` ``search``) → the panel body: the cell's subtree summary, trend and
  top categories (the caller's jurisdiction root when no cell is given).
* search input (debounced) → result links ``/?cell=<code>``; the map reacts to the URL.
* metric selector + the grid layer's ``url`` (``/geo/grid.pbf?z=…&bbox=…&sel=…``, parsed and
  validated server side like the route does) → the grid layer's ``hideout`` (a ``Patch`` of
  the keys in :mod:`layers.metrics`, so geometry is never re-sent) and the metric legend.
* ``?cell=`` → the language links keep the current cell.

Thin: inputs → caller's scope (server side, :func:`web.caller_scope`) → one geodata
call → one render call (``dashboard/panel.py``, ``dashboard/search.py``; the hideout and
legend of ``layers/metrics.py``). Bad input gives a message in the UI, never an exception.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import dash
from dash import ALL, Input, Output, Patch, State, ctx, no_update
from sqlalchemy.engine import Engine

from callbacks.guard import guarded
from dashboard import ids
from dashboard.panel import panel_content, panel_message, with_lang
from dashboard.search import search_message, search_results
from geodata.metrics import view_metric_values
from geodata.search import search_cells
from geodata.stats import cell_summary
from gridcmd import web
from gridcmd.i18n import lang_from_search, t
from gridcmd.settings import Settings
from gridcmd.vocab import METRICS
from layers.metrics import metric_hideout, metric_legend
from layers.viewport import parse_view

__all__ = ["hideout_patch", "parse_grid_url", "query_params", "register"]

UNKNOWN_CELL = "Unknown cell code, or outside your jurisdiction."
INVALID_CELL = "Invalid cell code."
BAD_QUERY = "Type 1 to 50 characters."
BAD_VIEW = "Invalid map view."
SEARCH_LIMIT = 20


def query_params(search: str | None) -> dict[str, str]:
    """The query string of a URL's ``search`` part as a dict (the last value of a repeated
    key wins; blank values kept as "")."""
    return dict(parse_qsl((search or "").lstrip("?"), keep_blank_values=True))


def parse_grid_url(url: str) -> tuple[int, tuple[float, float, float, float], str | None]:
    """``(zoom, bbox, sel)`` of a grid layer URL, validated by the grid route's own rules
    (:func:`layers.viewport.parse_view`); ValueError when malformed."""
    try:
        return parse_view(query_params(urlsplit(str(url)).query))
    except ValueError as exc:
        raise ValueError(*exc.args) from None


def hideout_patch(hideout: dict[str, Any]) -> Patch:
    """A ``Patch`` setting each key of ``hideout`` (other keys of the layer's hideout stay)."""
    patch = Patch()
    for key, value in hideout.items():
        patch[key] = value
    return patch


def register(app: dash.Dash, engine: Engine, settings: Settings) -> None:
    """Register the panel, search, metric and language-link callbacks on ``app``."""
    _register_cell_panel(app, engine)
    _register_search(app, engine)
    _register_metric(app, engine)
    app.callback(
        Output({"type": ids.LANG_LINK, "lang": ALL}, "href"),
        Input(ids.URL, "search"),
        State({"type": ids.LANG_LINK, "lang": ALL}, "id"),
    )(language_links)


def language_links(search: str | None, link_ids: list[dict[str, str]]) -> Any:
    """``?cell=`` changed → each language link keeps it (and sets its own ``lang``)."""
    # A crafted request may send anything here: only well-formed link ids get hrefs.
    if not isinstance(link_ids, list) or not all(
        isinstance(link, dict) and isinstance(link.get("lang"), str) for link in link_ids
    ):
        return [no_update] * len(ctx.outputs_list)
    return [with_lang(search, link["lang"]) for link in link_ids]


def _register_cell_panel(app: dash.Dash, engine: Engine) -> None:
    @app.callback(Output(ids.PANEL_BODY, "children"), Input(ids.URL, "search"))
    @guarded(unavailable=lambda message: [panel_message(message, kind="error")])
    def show_cell(search: str | None) -> list[Any]:
        """``?cell=`` (or the jurisdiction's root) → the cell's summary in the panel."""
        lang = lang_from_search(search)
        scope = web.caller_scope()
        code = query_params(search).get("cell", "").strip() or scope.rsplit(".", 1)[-1]
        try:
            with engine.connect() as conn:
                summary = cell_summary(conn, scope_path=scope, code=code)
        except ValueError:
            return [panel_message(t(INVALID_CELL, lang), kind="error")]
        if summary is None:
            return [panel_message(t(UNKNOWN_CELL, lang), kind="error")]
        return panel_content(summary, lang)


def _register_search(app: dash.Dash, engine: Engine) -> None:
    @app.callback(
        Output(ids.SEARCH_RESULTS, "children"),
        Input(ids.SEARCH_INPUT, "value"),
        Input(ids.URL, "search"),
        prevent_initial_call=True,
    )
    @guarded(unavailable=lambda message: [search_message(message)])
    def find(q: str | None, search: str | None) -> list[Any]:
        """Typed text → links to the matching cells of the scope."""
        # Navigating (a result was followed, or the map changed the cell) closes the list.
        if ctx.triggered_id == ids.URL or not q or not q.strip():
            return []
        lang = lang_from_search(search)
        try:
            with engine.connect() as conn:
                rows = search_cells(conn, scope_path=web.caller_scope(), q=q, limit=SEARCH_LIMIT)
        except ValueError:
            return [search_message(t(BAD_QUERY, lang))]
        return search_results(rows, lang, base=app.get_relative_path("/"))


def _register_metric(app: dash.Dash, engine: Engine) -> None:
    @app.callback(
        Output(ids.GRID_LAYER, "hideout", allow_duplicate=True),
        Output(ids.METRIC_LEGEND, "children"),
        Input(ids.METRIC_SELECT, "value"),
        Input(ids.GRID_LAYER, "url"),
        State(ids.URL, "search"),
        prevent_initial_call="initial_duplicate",
    )
    @guarded(unavailable=lambda message: (no_update, [search_message(message)]))
    def colour_grid(metric: str | None, url: str | None, search: str | None) -> tuple:
        """Metric chosen or the grid layer's view changed → the values as a hideout patch
        (geometry is never re-sent) and the legend."""
        lang = lang_from_search(search)
        metric = metric if metric in METRICS else "none"
        if metric == "none":
            hideout = metric_hideout({}, "none", lang)
            return hideout_patch(hideout), metric_legend(hideout, lang)
        if not url:
            return no_update, no_update  # the map has not asked for a view yet
        try:
            zoom, bbox, sel = parse_grid_url(url)
            with engine.connect() as conn:
                level, values = view_metric_values(
                    conn, scope_path=web.caller_scope(), zoom=zoom, bbox=bbox, selected=sel,
                    metric=metric,
                )  # fmt: skip
        except ValueError:
            return _bad_view(lang)
        hideout = metric_hideout(values, metric, lang, selected=sel, level=level)
        return hideout_patch(hideout), metric_legend(hideout, lang)


def _bad_view(lang: str) -> tuple:
    """The metric colours cleared and a message, for a view that cannot be coloured."""
    return hideout_patch(metric_hideout({}, "none", lang)), [search_message(t(BAD_VIEW, lang))]
