"""Dash callbacks: thin glue (inputs → caller's scope → one geodata call → one layers call).

:func:`register` is the single entry point :func:`app.create_app` calls; each noun has its
module (``callbacks/map.py``, ``callbacks/panel.py``, ...) with its own ``register``.
"""

from __future__ import annotations

import contextvars

import dash
import flask
from sqlalchemy.engine import Engine

from geodata.accounts import Caller
from gridcmd.settings import Settings

#: Test seam: a caller for code run outside any request (tests calling callbacks directly).
#: Never set in production; outside a request without it, :func:`current_caller` refuses.
CALLER_OVERRIDE: contextvars.ContextVar[Caller | None] = contextvars.ContextVar(
    "gridcmd_caller_override", default=None
)


class NotAuthenticated(PermissionError):
    """No logged-in caller for this request."""


def current_caller() -> Caller:
    """The logged-in caller of this request (set server-side by the session check on
    ``flask.g.caller``), never a value the browser sent. Raises :class:`NotAuthenticated`
    when there is none."""
    if flask.has_request_context():
        caller = getattr(flask.g, "caller", None)
        if caller is not None:
            return caller
    override = CALLER_OVERRIDE.get()
    if override is not None:
        return override
    raise NotAuthenticated("no logged-in caller")


def caller_or_none() -> Caller | None:
    """:func:`current_caller`, or ``None`` when nobody is signed in (for callbacks that answer
    a refusal message instead of raising)."""
    try:
        return current_caller()
    except PermissionError:
        return None


def caller_scope() -> str:
    """The ltree path of the caller's jurisdiction (see :func:`current_caller`)."""
    return current_caller().scope_path


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
