"""What the sign-in and account pages share: the cookie names, the form tokens (CSRF), the
session cookie, the HTML answer, the page language and the safe ``next`` path.

Used by the gate and sign-in routes (``api/auth.py``) and the second factor
(``api/second_factor.py``); it imports neither.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from urllib.parse import urlsplit

import flask
from sqlalchemy.engine import Engine

from gridcmd.i18n import normalise_lang

__all__ = [
    "CSRF_COOKIE",
    "PUBLIC_PATHS",
    "SESSION_COOKIE",
    "SessionForms",
    "html_page",
    "now_utc",
    "page_lang",
    "safe_next",
]

SESSION_COOKIE = "gridcmd_session"
#: Pre-login cookie the sign-in form's CSRF token is bound to.
CSRF_COOKIE = "gridcmd_login"
#: Paths open without a session (besides the static prefixes of ``api/auth.py``).
PUBLIC_PATHS = frozenset({"/login", "/logout", "/healthz", "/_favicon.ico"})


def now_utc() -> dt.datetime:
    """The current time, timezone-aware UTC (sessions and sign-in counters compare it)."""
    return dt.datetime.now(dt.UTC)


def safe_next(value: str | None) -> str:
    """``value`` if it is a same-site relative path (``/...``), else ``/``. Refuses scheme or
    host (``//evil``, ``/\\evil``, ``https:...``), control characters and the auth pages."""
    if not value or not isinstance(value, str) or len(value) > 2000:
        return "/"
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    if parts.path in PUBLIC_PATHS or parts.path.startswith(("/login", "/logout")):
        return "/"
    return value


def html_page(body: str, status: int = 200) -> flask.Response:
    """An HTML answer that is never cached (the pages carry form tokens)."""
    resp = flask.Response(body, status=status, mimetype="text/html")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def page_lang() -> str:
    """The page language the request asks for (``lang`` in the query or form), normalised."""
    return normalise_lang(flask.request.values.get("lang"))


class SessionForms:
    """The form tokens and the session cookie, bound to one engine and the app's secret."""

    def __init__(self, engine: Engine, secret: str) -> None:
        self.engine = engine
        self._key = hashlib.sha256(("gridcmd-csrf|" + secret).encode()).digest()

    def csrf_for(self, purpose: str, bound_to: str) -> str:
        """A form token: HMAC of ``bound_to`` (the pre-login cookie or the session token)."""
        mac = hmac.new(self._key, f"{purpose}|{bound_to}".encode(), hashlib.sha256).digest()
        # base64url, not hex: no long digit runs that look like an ID number to a scanner
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def csrf_ok(self, purpose: str, bound_to: str | None) -> bool:
        """Whether the posted ``csrf_token`` is the token of ``purpose`` for ``bound_to``."""
        sent = flask.request.form.get("csrf_token", "")
        return bool(bound_to) and hmac.compare_digest(sent, self.csrf_for(purpose, bound_to))

    def session_csrf(self) -> str:
        """The form token of the request's session (for the forms of a signed-in page)."""
        return self.csrf_for("session", flask.request.cookies.get(SESSION_COOKIE, ""))

    def is_https(self) -> bool:
        """Whether the request came over HTTPS (with ``GRIDCMD_TRUST_PROXY``, ProxyFix has
        already applied the proxy's ``X-Forwarded-Proto``)."""
        return flask.request.is_secure

    def set_session_cookie(self, resp: flask.Response, token: str) -> None:
        """Set the session cookie on ``resp`` (HttpOnly, SameSite=Lax, Secure over HTTPS)."""
        resp.set_cookie(
            SESSION_COOKIE, token, httponly=True, samesite="Lax", secure=self.is_https(), path="/"
        )

    def clear_session_cookie(self, resp: flask.Response) -> None:
        """Delete the session cookie on ``resp``."""
        resp.delete_cookie(
            SESSION_COOKIE, path="/", httponly=True, samesite="Lax", secure=self.is_https()
        )
