"""The search box overlay — a debounced text input and the list of matches under it — and
the matches themselves (rows of :func:`geodata.search.search_cells` in, Dash links out).

Rendering of panels lives in ``dashboard/``; ``callbacks/panel.py`` turns the input's value
into result links. Navigation is by URL: a result is a ``dcc.Link`` to ``?cell=<code>`` and
the map's own callback selects, zooms to and draws the cell. Styles:
``dashboard/assets/panel.css`` (``gc-search*``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from dash import dcc, html

from dashboard import ids
from geodata.search import QUERY_MAX
from gridcmd.i18n import DEFAULT_LANG, level_name, normalise_lang, t

__all__ = ["DEBOUNCE_S", "cell_href", "search_box", "search_message", "search_results"]

#: Seconds without typing before the search runs.
DEBOUNCE_S = 0.35


def search_box(lang: str = DEFAULT_LANG) -> html.Div:
    """The search input (``ids.SEARCH_INPUT``) and its result list (``ids.SEARCH_RESULTS``)."""
    return html.Div(
        [
            dcc.Input(
                id=ids.SEARCH_INPUT,
                type="search",
                placeholder=t("Search by name or code", lang),
                debounce=DEBOUNCE_S,
                maxLength=QUERY_MAX,
                autoComplete="off",
                spellCheck=False,
                className="gc-search-input",
            ),
            html.Div(id=ids.SEARCH_RESULTS, className="gc-search-results", role="listbox"),
        ],
        id=ids.SEARCH,
        className="gc-search",
        role="search",
    )


def cell_href(code: str, lang: str = DEFAULT_LANG, *, base: str = "/") -> str:
    """The page URL selecting ``code`` (``/?cell=<code>``, plus ``&lang=en`` off the default
    language); ``base`` is the app's root path (``dash.get_relative_path("/")``)."""
    params = {"cell": code}
    if normalise_lang(lang) != DEFAULT_LANG:
        params["lang"] = lang
    return f"{base}?{urlencode(params)}"


def search_message(text: str) -> html.Div:
    """A one-line note in place of results (no matches, bad query, database down)."""
    return html.Div(text, className="gc-search-msg", role="status")


def search_results(
    rows: Sequence[Mapping[str, Any]], lang: str = DEFAULT_LANG, *, base: str = "/"
) -> list[Any]:
    """One link per match: the name, its level, and the path of ancestor names above it
    (e.g. "大理市 › 永山街道") with the code. No rows → a "No matches." note."""
    if not rows:
        return [search_message(t("No matches.", lang))]
    items = []
    for r in rows:
        above = list(r.get("path_names") or [])[:-1]
        items.append(
            dcc.Link(
                [
                    html.Div(
                        [
                            html.Span(r["name"], className="gc-search-name"),
                            html.Span(
                                level_name(int(r["level"]), lang), className="gc-search-level"
                            ),
                        ],
                        className="gc-search-line",
                    ),
                    html.Div(
                        " › ".join([*above, r["code"]]) if above else r["code"],
                        className="gc-search-path",
                    ),
                ],
                href=cell_href(r["code"], lang, base=base),
                className="gc-search-item",
                title=r.get("path_label") or r["name"],
            )
        )
    return items
