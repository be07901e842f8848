"""Search results as a list of links (pure: rows of ``geodata.search.search_cells`` in, Dash
components out). Navigation is by URL: a result is a ``dcc.Link`` to ``?cell=<code>`` and the
map's own callback selects, zooms to and draws the cell."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from dash import dcc, html

from gridcmd.i18n import DEFAULT_LANG, level_name, normalise_lang, t

__all__ = ["cell_href", "search_message", "search_results"]


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
