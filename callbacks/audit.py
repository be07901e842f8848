"""Callbacks of the security-log viewer (``dashboard/audit.py``): open/close, and the entries
of the caller's jurisdiction for callers with the ``audit`` permission (auditors, admins).
Others get a refusal (and a ``denied`` entry); the scope comes from the server-side session
only."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, ctx, html, no_update
from sqlalchemy.engine import Engine

from callbacks.guard import guarded, require
from dashboard import ids
from dashboard.audit import audit_table
from geodata.security_log import security_log_in_scope
from gridcmd.i18n import lang_from_search, t
from gridcmd.settings import Settings
from gridcmd.vocab import SECURITY_KINDS

__all__ = ["register"]

LIMIT = 200
FORBIDDEN = "Only auditors and administrators may read the security log."


def toggle_audit(_open: Any, _close: Any) -> bool:
    """Open → shown; close → hidden."""
    return ctx.triggered_id != ids.AUDIT_OPEN


def register(app: dash.Dash, engine: Engine, settings: Settings) -> None:
    """Register the viewer's callbacks."""
    app.callback(
        Output(ids.AUDIT_PANEL, "hidden"),
        Input(ids.AUDIT_OPEN, "n_clicks"),
        Input(ids.AUDIT_CLOSE, "n_clicks"),
        prevent_initial_call=True,
    )(toggle_audit)

    @app.callback(
        Output(ids.AUDIT_BODY, "children"),
        Input(ids.AUDIT_PANEL, "hidden"),
        Input(ids.AUDIT_KIND, "value"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )
    @guarded(unavailable=html.P)
    def audit_entries(hidden: Any, kind: Any, search: Any) -> Any:
        """The panel opened or the kind filter changed → the newest entries of the scope."""
        if hidden is not False:
            return no_update
        lang = lang_from_search(search)
        caller = require(engine, "audit", html.P(t(FORBIDDEN, lang)), target="security log")
        kind = kind if kind in SECURITY_KINDS else None
        with engine.connect() as conn:
            rows = security_log_in_scope(conn, caller.scope_path, kind=kind, limit=LIMIT)
        return audit_table(rows, lang)
