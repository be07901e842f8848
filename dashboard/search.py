"""The search box overlay: a debounced text input and the list of matches under it.

``callbacks/panel.py`` turns the input's value into result links (``/?cell=<code>``); the map
reacts to the URL. Styles: ``dashboard/assets/panel.css`` (``gc-search*``).
"""

from __future__ import annotations

from dash import dcc, html

from dashboard import ids
from geodata.search import QUERY_MAX
from gridcmd.i18n import DEFAULT_LANG, t

__all__ = ["DEBOUNCE_S", "search_box"]

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
