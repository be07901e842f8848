"""Error answers of the whole app: JSON (or a plain 404), never an HTML error page, a traceback
or a 500 for what is the client's mistake.

* Werkzeug's HTTP errors (400 malformed JSON, 404, 405 ...) → ``{"error", "detail"}`` JSON
  with their status, instead of Werkzeug's HTML page. Redirects (< 400) pass unchanged.
* A database failure → 503 JSON with ``Retry-After``.
* A malformed request to Dash's callback endpoint (``/_dash-update-component``): Dash's
  dispatch raises ``KeyError``, ``TypeError`` ... on a crafted body, and ``RecursionError``
  on deeply nested JSON (``json.loads`` recurses once per level) → 400 JSON.
* An unknown or malformed path under ``/_dash-component-suites/`` (Dash raises
  ``DependencyException``, ``KeyError``, ``OSError`` ...) → a plain 404.
* Anything else is ours: 500 JSON, logged with its traceback.

Bodies over ``GRIDCMD_MAX_BODY_BYTES`` are refused as 413 JSON by the gate (``api/auth.py``),
also when they come chunked. Every JSON error is :func:`gridcmd.web.json_error`.
"""

from __future__ import annotations

import logging

import dash.exceptions
import flask
import werkzeug.exceptions
from sqlalchemy.exc import DBAPIError

from gridcmd.web import json_error

__all__ = ["install_error_handlers"]

log = logging.getLogger(__name__)

CALLBACK_PATH = "/_dash-update-component"
SUITES_PREFIX = "/_dash-component-suites/"
#: What a crafted or malformed callback request raises inside Dash's dispatch.
_BAD_CALLBACK_REQUEST = (
    KeyError, TypeError, ValueError, IndexError, AttributeError, RecursionError,
    dash.exceptions.DashException,
)  # fmt: skip
#: What Dash raises for a component-suite path it does not serve.
_NO_SUCH_SUITE = (dash.exceptions.DashException, KeyError, OSError, ValueError, ImportError)


def _http_error(exc: werkzeug.exceptions.HTTPException) -> flask.Response:
    """Werkzeug's HTTP errors as JSON (its own page is HTML); redirects pass unchanged."""
    if exc.code is None or exc.code < 400:
        return exc  # type: ignore[return-value]
    name = (exc.name or "error").lower().replace(" ", "_")
    return json_error(exc.code, name, exc.description or exc.name or "error")


def _db_error(exc: DBAPIError) -> flask.Response:
    """Any database failure in a route: 503 JSON with a clear message (logged in full)."""
    log.error("database error: %s", exc.orig if exc.orig is not None else exc)
    return json_error(
        503, "database_unavailable", "The database is unavailable; try again in a moment."
    )


def _unexpected(exc: Exception) -> flask.Response:
    """No HTML error page and no traceback to the client: a malformed request to Dash's
    routes is the client's error (400, or a plain 404 for component suites); anything else
    is ours (500, logged)."""
    if isinstance(exc, werkzeug.exceptions.HTTPException):
        return _http_error(exc)
    path = flask.request.path
    if path == CALLBACK_PATH and isinstance(exc, _BAD_CALLBACK_REQUEST):
        log.warning("malformed callback request: %s: %.200s", type(exc).__name__, exc)
        return json_error(400, "bad_request", "malformed or unsupported callback request")
    if path.startswith(SUITES_PREFIX) and isinstance(exc, _NO_SUCH_SUITE):
        return flask.Response("not found\n", status=404, mimetype="text/plain")
    log.exception("unexpected error in %s %s", flask.request.method, path)
    return json_error(500, "internal", "unexpected server error")


def install_error_handlers(server: flask.Flask) -> None:
    """Register the app-wide error handlers on ``server`` (blueprints such as ``/api/v1``
    keep their own, which take precedence on their routes)."""
    server.register_error_handler(werkzeug.exceptions.HTTPException, _http_error)
    server.register_error_handler(DBAPIError, _db_error)
    server.register_error_handler(Exception, _unexpected)
