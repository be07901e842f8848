"""Self-contained overlay components of the command map: the collapsible cell panel, the
metric selector with its legend and the language switch (search: :mod:`dashboard.search`).

Each factory takes the UI language and returns a component with its ids from
:mod:`dashboard.ids`; ``callbacks/panel.py`` fills and re-labels them. Styles are in
``dashboard/assets/panel.css`` (classes ``gc-panel*``, ``gc-metric*``, ``gc-lang*``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from dash import dcc, html

from dashboard import ids
from gridcmd.i18n import DEFAULT_LANG, LANGS, normalise_lang, t
from gridcmd.vocab import METRIC_MSGIDS
from layers.panel import panel_content

__all__ = [
    "DEFAULT_METRIC",
    "LANG_LABELS",
    "lang_links",
    "language_switch",
    "metric_options",
    "metric_selector",
    "panel_container",
    "with_lang",
]

#: Metric selected when the page opens.
DEFAULT_METRIC = "open"
#: Each language's name in itself (the switch never translates these).
LANG_LABELS: dict[str, str] = {"zh": "中文", "en": "English"}


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
