"""Camera player callback: a click on a camera marker opens the player panel.

Thin: the clicked feature's ``id`` → :func:`geodata.cameras.camera_by_id` with the caller's
scope (server side, :func:`web.caller_scope`) → :func:`dashboard.cameras.camera_player`.
Only the id is taken from the browser: name, URL and kind are re-read from the database, so a
forged ``clickData`` can neither inject text nor open a camera outside the jurisdiction.
"""

from __future__ import annotations

import logging
from typing import Any

import dash
from dash import Input, Output, State, ctx, no_update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from dashboard import ids
from dashboard.cameras import camera_message, camera_player
from geodata.cameras import camera_by_id
from gridcmd import web
from gridcmd.i18n import lang_from_search, t
from gridcmd.settings import Settings
from gridcmd.web import log_denial

__all__ = ["clicked_camera_id", "register"]

log = logging.getLogger(__name__)

UNKNOWN_CAMERA = "Unknown camera, or outside your jurisdiction."
DB_UNAVAILABLE = "The database is unavailable."


def clicked_camera_id(click: Any) -> int | None:
    """The camera id of a GeoJSON ``clickData`` feature; None for a cluster, a spider leg or
    anything malformed."""
    if not isinstance(click, dict):
        return None
    props = click.get("properties")
    if not isinstance(props, dict) or props.get("cluster"):
        return None
    if (click.get("geometry") or {}).get("type") != "Point":
        return None
    value = props.get("id")
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    return value


def register(app: dash.Dash, engine: Engine, settings: Settings) -> None:
    """Register the camera panel callback on ``app``."""
    del settings  # nothing configurable yet

    @app.callback(
        Output(ids.CAMERA_PANEL, "hidden"),
        Output(ids.CAMERA_PANEL_BODY, "children"),
        Input(ids.CAMERA_LAYER, "n_clicks"),
        Input(ids.CAMERA_CLOSE, "n_clicks"),
        State(ids.CAMERA_LAYER, "clickData"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )
    def show_camera(_clicks: Any, _close: Any, click: Any, search: str | None) -> tuple:
        """Camera clicked → panel shown with its player; close → hidden and emptied (which
        also stops the stream)."""
        if ctx.triggered_id == ids.CAMERA_CLOSE:
            return True, []
        camera_id = clicked_camera_id(click)
        if camera_id is None:  # a cluster: the layer zooms into it
            return no_update, no_update
        lang = lang_from_search(search)
        try:
            with engine.connect() as conn:
                camera = camera_by_id(conn, web.caller_scope(), camera_id)
        except DBAPIError as exc:
            log.warning("show_camera: database unavailable (%s)", exc.orig)
            return False, camera_message(t(DB_UNAVAILABLE, lang))
        if camera is None:
            log_denial(engine, f"camera {camera_id}")
            return False, camera_message(t(UNKNOWN_CAMERA, lang))
        return False, camera_player(camera, lang)
