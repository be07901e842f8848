"""Callbacks of the security-log viewer: open/close, and the entries of the caller's
jurisdiction for callers with the ``audit`` permission (auditors, admins). Others get a
refusal (and a ``denied`` entry); scope from the server-side session only."""

from __future__ import annotations

import logging
from typing import Any

import dash
from dash import Input, Output, State, ctx, html, no_update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from dashboard import ids
from dashboard.audit import audit_table
from geodata.accounts import has_permission
from geodata.security_log import security_log_in_scope
from gridcmd import web
from gridcmd.i18n import lang_from_search, t
from gridcmd.settings import Settings
from gridcmd.vocab import SECURITY_KINDS
from gridcmd.web import log_denial

__all__ = ["register"]

log = logging.getLogger(__name__)
LIMIT = 200
FORBIDDEN = "Only auditors and administrators may read the security log."
DB_UNAVAILABLE = "The database is unavailable."


def register(app: dash.Dash, engine: Engine, settings: Settings) -> None:
    """Register the viewer's callbacks."""

    @app.callback(
        Output(ids.AUDIT_PANEL, "hidden"),
        Input(ids.AUDIT_OPEN, "n_clicks"),
        Input(ids.AUDIT_CLOSE, "n_clicks"),
        prevent_initial_call=True,
    )
    def toggle_audit(_open: Any, _close: Any) -> bool:
        return ctx.triggered_id != ids.AUDIT_OPEN

    @app.callback(
        Output(ids.AUDIT_BODY, "children"),
        Input(ids.AUDIT_PANEL, "hidden"),
        Input(ids.AUDIT_KIND, "value"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )
    def audit_entries(hidden: Any, kind: Any, search: Any) -> Any:
        lang = lang_from_search(search)
        if hidden is not False:
            return no_update
        caller = web.current_caller()
        if not has_permission(caller, "audit"):
            log_denial(engine, "security log", "no audit permission")
            return html.P(t(FORBIDDEN, lang))
        if kind is not None and kind not in SECURITY_KINDS:
            kind = None
        try:
            with engine.connect() as conn:
                rows = security_log_in_scope(conn, caller.scope_path, kind=kind, limit=LIMIT)
        except DBAPIError as exc:
            log.warning("security log unavailable: %s", exc.orig)
            return html.P(t(DB_UNAVAILABLE, lang))
        return audit_table(rows, lang)
