"""Request plumbing shared by the REST routes (``api/``) and the Dash callbacks (``callbacks/``):
who is asking, from where, how a refusal is logged and how an error is answered.

The two tiers are siblings: neither imports the other; both import this module and
``geodata``. The caller always comes from the server side (``flask.g.caller``, set by the
session check in ``api/auth.py``), never from a value the browser sent.
"""

from __future__ import annotations

import contextvars
import logging
from typing import Any

import flask
from sqlalchemy.exc import DBAPIError

from geodata.accounts import Caller
from geodata.security_log import log_denied_throttled

__all__ = [
    "CALLER_OVERRIDE",
    "RETRY_AFTER_S",
    "NotAuthenticated",
    "account_id_of",
    "caller_or_none",
    "caller_scope",
    "client_ip",
    "current_caller",
    "json_error",
    "log_denial",
]

log = logging.getLogger(__name__)

#: Seconds a client is asked to wait (``Retry-After``) before retrying after a 503.
RETRY_AFTER_S = 5

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


def client_ip() -> str | None:
    """The client address of this request (the proxy's forwarded one only when the app trusts
    its proxy: ``GRIDCMD_TRUST_PROXY``, applied by ``ProxyFix`` in ``app.py``); None outside
    a request."""
    return flask.request.remote_addr if flask.has_request_context() else None


def account_id_of(caller: Caller | None) -> int | None:
    """The account id to log for ``caller`` (None for test callers and token callers)."""
    account_id = getattr(caller, "account_id", None)
    return account_id if isinstance(account_id, int) and account_id > 0 else None


def log_denial(engine, target: str, detail: str = "not found in the caller's jurisdiction") -> None:
    """Record a refused request (an id or code the caller may not see, or that does not exist
    — indistinguishable to the caller on purpose — or an action the role may not take) as a
    ``denied`` security-log entry, at most once a minute per (ip, target, account, detail).
    The one way every route and callback logs a refusal. Never raises: logging must not turn
    a refusal into a 500."""
    # The request's own caller only (a phone request has a worker, not a dashboard caller;
    # the test seam must not stand in for it).
    caller = getattr(flask.g, "caller", None) if flask.has_request_context() else None
    worker = getattr(flask.g, "api_worker", None) if flask.has_request_context() else None
    try:
        with engine.begin() as conn:
            log_denied_throttled(
                conn,
                account_id=account_id_of(caller),
                username=getattr(caller, "username", None) or getattr(worker, "employee_no", None),
                ip=client_ip(),
                target=target[:200],
                detail=detail,
            )
    except DBAPIError as exc:  # the answer is still the refusal
        log.warning("denial not logged: %s", exc.orig)


def json_error(
    status: int,
    error: str,
    detail: str,
    *,
    retry_after: int | None = None,
    **extra: Any,
) -> flask.Response:
    """The JSON error answer of every route: ``{"error", "detail", **extra}`` (e.g.
    ``field="bbox"``) with ``Cache-Control: no-store``; a 503 carries ``Retry-After``
    (``retry_after`` seconds, default :data:`RETRY_AFTER_S`)."""
    resp = flask.jsonify(error=error, detail=detail, **extra)
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    if status == 503 or retry_after is not None:
        resp.headers["Retry-After"] = str(retry_after if retry_after is not None else RETRY_AFTER_S)
    return resp
