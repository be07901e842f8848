"""Dash callbacks: thin glue (inputs → caller's scope → one geodata call → one layers call).

:func:`register` is the single entry point :func:`app.create_app` calls; each noun has its
module (``callbacks/map.py``, ``callbacks/panel.py``, ...) with its own ``register``.
"""

from __future__ import annotations

import dash
from sqlalchemy.engine import Engine

from geodata.cells import PREFECTURE_PATH
from gridcmd.settings import Settings


def caller_scope() -> str:
    """The ltree path of the caller's jurisdiction, derived on the server, never from a value
    the browser sent. Until accounts exist every caller sees the whole prefecture; the
    accounts issue replaces this body with a lookup of the session's account."""
    return PREFECTURE_PATH


def register(app: dash.Dash, engine: Engine, settings: Settings) -> None:
    """Register every callback of the dashboard on ``app`` (one module per noun)."""
    from callbacks import cameras as camera_callbacks
    from callbacks import live as live_callbacks
    from callbacks import map as map_callbacks
    from callbacks import panel as panel_callbacks

    map_callbacks.register(app, engine, settings)
    panel_callbacks.register(app, engine, settings)
    live_callbacks.register(app, engine, settings)
    camera_callbacks.register(app, engine, settings)
