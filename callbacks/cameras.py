"""Camera player callback: a click on a camera marker opens the player panel
(``dashboard/cameras.py``).

Thin: the clicked feature's ``id`` → :func:`geodata.cameras.camera_by_id` with the caller's
scope (server side, :func:`web.caller_scope`) → :func:`dashboard.cameras.camera_player`.
Only the id is taken from the browser: name, URL and kind are re-read from the database, so a
forged ``clickData`` can neither inject text nor open a camera outside the jurisdiction.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, ctx, no_update
from sqlalchemy.engine import Engine

from callbacks.guard import clicked_feature_id, deny, guarded
from dashboard import ids
from dashboard.cameras import camera_message, camera_player
from geodata.cameras import camera_by_id
from gridcmd import web
from gridcmd.i18n import lang_from_search, t
from gridcmd.settings import Settings

__all__ = ["clicked_camera_id", "register"]

UNKNOWN_CAMERA = "Unknown camera, or outside your jurisdiction."


def clicked_camera_id(click: Any) -> int | None:
    """The camera id of a GeoJSON ``clickData`` feature; None for a cluster, a spider leg or
    anything malformed."""
    if not isinstance(click, dict) or (click.get("geometry") or {}).get("type") != "Point":
        return None
    return clicked_feature_id(click)


def register(app: dash.Dash, engine: Engine, settings: Settings) -> None:
    """Register the camera panel callback on ``app``."""

    @app.callback(
        Output(ids.CAMERA_PANEL, "hidden"),
        Output(ids.CAMERA_PANEL_BODY, "children"),
        Input(ids.CAMERA_LAYER, "n_clicks"),
        Input(ids.CAMERA_CLOSE, "n_clicks"),
        State(ids.CAMERA_LAYER, "clickData"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )
    @guarded(unavailable=lambda message: (False, camera_message(message)))
    def show_camera(_clicks: Any, _close: Any, click: Any, search: str | None) -> tuple:
        """Camera clicked → panel shown with its player; close → hidden and emptied (which
        also stops the stream)."""
        if ctx.triggered_id == ids.CAMERA_CLOSE:
            return True, []
        camera_id = clicked_camera_id(click)
        if camera_id is None:  # a cluster: the layer zooms into it
            return no_update, no_update
        lang = lang_from_search(search)
        with engine.connect() as conn:
            camera = camera_by_id(conn, web.caller_scope(), camera_id)
        if camera is None:
            deny(engine, f"camera {camera_id}", (False, camera_message(t(UNKNOWN_CAMERA, lang))))
        return False, camera_player(camera, lang)
