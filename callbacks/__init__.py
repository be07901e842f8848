"""Dash callbacks: thin glue (inputs → the caller and its permission → one geodata call → one
render call → outputs).

Who is asking comes from :mod:`gridcmd.web` (shared with the REST routes);
:mod:`callbacks.guard` checks the permission, logs refusals and turns a database failure into
the standard message. Rendering is ``dashboard/``'s (panels) and ``layers/``' (map objects).

:func:`register` is the single entry point :func:`app.create_app` calls; each noun has its
module (``callbacks/map.py``, ``callbacks/panel.py``, ...) with its own ``register``.
"""

from __future__ import annotations

import dash
from sqlalchemy.engine import Engine

from gridcmd.settings import Settings


def register(app: dash.Dash, engine: Engine, settings: Settings) -> None:
    """Register every callback of the dashboard on ``app`` (one module per noun)."""
    from callbacks import audit as audit_callbacks
    from callbacks import bulk as bulk_callbacks
    from callbacks import cameras as camera_callbacks
    from callbacks import cases as case_callbacks
    from callbacks import event_table as event_table_callbacks
    from callbacks import live as live_callbacks
    from callbacks import map as map_callbacks
    from callbacks import panel as panel_callbacks
    from callbacks import population as population_callbacks
    from callbacks import roster as roster_callbacks
    from callbacks import supervision as supervision_callbacks

    map_callbacks.register(app, engine, settings)
    panel_callbacks.register(app, engine, settings)
    live_callbacks.register(app, engine, settings)
    camera_callbacks.register(app, engine, settings)
    audit_callbacks.register(app, engine, settings)
    population_callbacks.register(app, engine, settings)
    roster_callbacks.register(app, engine, settings)
    event_table_callbacks.register(app, engine, settings)
    case_callbacks.register(app, engine, settings)
    supervision_callbacks.register(app, engine, settings)
    bulk_callbacks.register(app, engine, settings)
