"""Dashboard sign-in, server-side sessions and the request gate (docs/security.md).

:func:`install_auth` is called once by :func:`app.create_app`, before Dash is attached, so
its ``before_request`` gate runs first on every request:

* public: ``/login``, ``/logout``, ``/healthz``, Dash's static bundles (``/assets/*``,
  ``/_dash-component-suites/*``, ``/_favicon.ico``) and the mobile API ``/api/v1/*`` (bearer
  tokens, its own checks). Everything else, including ``/_dash-layout``,
  ``/_dash-dependencies`` and ``/_dash-update-component``, needs a live session;
* no session: an HTML page request is redirected to ``/login?next=...``; anything else gets
  401 JSON ``{"error", "detail"}`` (logged as ``denied``, at most once a minute per IP, path,
  account and reason);
* ``grid_worker`` accounts get 403 (API only); an account that must change its password is
  sent to ``/account/password``; a pending second factor to ``/login/totp``;
* cookie-authenticated writes must be JSON, and same-origin: scheme, host and port
  (CSRF, ``api/csrf.py``; see docs/security.md).

``flask.g.caller`` is the :class:`geodata.accounts.Caller` of the session. Response headers
(CSP ...) are in ``api/headers.py``, the TOTP step and enrolment in ``api/second_factor.py``,
what the sign-in pages share (cookies, form tokens) in ``api/forms.py``.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from urllib.parse import urlencode

import flask
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from api.csrf import csrf_refusal
from api.forms import (
    CSRF_COOKIE,
    PUBLIC_PATHS,
    SESSION_COOKIE,
    SessionForms,
    html_page,
    now_utc,
    page_lang,
    safe_next,
)
from api.headers import SecurityHeaders
from api.second_factor import SecondFactor
from dashboard import login as pages
from geodata.accounts import AccountError, AuthFailure, Caller, change_password, revoke_all
from geodata.security_log import log_security, recent_failures_from
from geodata.sessions import create_session, revoke_session, session_caller
from geodata.signin import authenticate, check_current_password
from gridcmd.settings import Settings
from gridcmd.web import RETRY_AFTER_S, json_error, log_denial

__all__ = [
    "CSRF_COOKIE",
    "SESSION_COOKIE",
    "install_auth",
    "safe_next",
]

log = logging.getLogger(__name__)

PUBLIC_PREFIXES = ("/assets/", "/_dash-component-suites/", "/api/v1/")
#: Paths still open to a session that must change its password / is a grid worker.
ACCOUNT_PATHS = frozenset({"/account/password", "/logout"})
#: Paths open to a session whose second factor is pending.
SECOND_FACTOR_PATHS = frozenset({"/login/totp", "/account/totp", "/logout"})
#: Form endpoints that carry their own CSRF token (exempt from the JSON-only rule).
FORM_PATHS = frozenset({"/login", "/logout", "/login/totp", "/account/password", "/account/totp"})
#: Non-page prefixes: never redirected to the login page (401 JSON instead).
DATA_PREFIXES = ("/_dash-", "/_reload-hash", "/geo/", "/live/", "/media/", "/tiles/")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Failed sign-ins from one address within 15 minutes after which it must wait (any account).
IP_FAILURE_LIMIT = 50
API_PREFIX = "/api/v1/"


def _wants_html() -> bool:
    req = flask.request
    if req.method not in ("GET", "HEAD") or req.path.startswith(DATA_PREFIXES):
        return False
    return req.accept_mimetypes.accept_html


def _here() -> str:
    req = flask.request
    qs = req.query_string.decode("latin-1")
    return req.path + (f"?{qs}" if qs else "")


class _Auth(SessionForms):
    """The routes and the gate, bound to one engine and settings."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        super().__init__(engine, settings.secret_key.get_secret_value())
        self.idle = dt.timedelta(minutes=settings.session_idle_min)
        self.absolute = dt.timedelta(hours=settings.session_max_h)
        self.max_body = settings.max_body_bytes

    # -- helpers

    def deny(self, status: int, error: str, detail: str) -> flask.Response:
        """401/403 JSON, logged as ``denied`` for the session's caller, if any (throttled per
        IP, path, account and reason)."""
        log_denial(self.engine, f"{flask.request.method} {flask.request.path}", f"{status} {error}")
        return json_error(status, error, detail)

    def read_streamed_body(self) -> flask.Response | None:
        """Read a body sent without ``Content-Length`` (chunked) now, up to one byte past the
        limit: 413 JSON when it is longer, 400 JSON when it cannot be read, else ``None``
        (the body is cached for the route). Werkzeug's own limit on such a stream stops
        reading *at* the limit without an error, so Dash parsed a silently truncated body
        and answered with Werkzeug's HTML 400."""
        req = flask.request
        req.max_content_length = self.max_body + 1
        try:
            data = req.get_data(cache=True)
        except RequestEntityTooLarge:
            data = None
        except HTTPException:  # the client went away or sent broken chunks
            return json_error(400, "bad_request", "the request body could not be read")
        if data is None or len(data) > self.max_body:
            return json_error(413, "too_large", f"the body is over {self.max_body:,} bytes")
        return None

    def db_down(self) -> flask.Response:
        """503 when the session cannot be checked: a page for a browser, else JSON; both
        with ``Retry-After``."""
        if _wants_html():
            resp = html_page(pages.message_page(page_lang(), pages.SIGN_IN, pages.DB_DOWN), 503)
            resp.headers["Retry-After"] = str(RETRY_AFTER_S)
            return resp
        return json_error(
            503, "database_unavailable", "The database is unavailable; try again in a moment."
        )

    # -- the gate

    def lookup(self, token: str | None) -> Caller | None:
        """The caller of a session token (``None``: no live session)."""
        with self.engine.begin() as conn:
            return session_caller(
                conn, token, now=now_utc(), idle=self.idle, absolute=self.absolute
            )

    def gate(self) -> flask.Response | None:
        req = flask.request
        path = req.path
        if not path.startswith(API_PREFIX):  # the mobile API sets its own, larger limits
            req.max_content_length = self.max_body
            if req.content_length is not None and req.content_length > self.max_body:
                return json_error(413, "too_large", f"the body is over {self.max_body:,} bytes")
            if req.content_length is None and req.method not in SAFE_METHODS:
                refused = self.read_streamed_body()
                if refused is not None:
                    return refused
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            return None
        try:
            caller = self.lookup(req.cookies.get(SESSION_COOKIE))
        except DBAPIError as exc:
            log.error("session check: database error: %s", exc.orig or exc)
            return self.db_down()
        if caller is None:
            if _wants_html():
                return flask.redirect("/login?" + urlencode({"next": _here()}), 302)
            return self.deny(401, "unauthenticated", "Sign in first (no valid session).")
        flask.g.caller = caller
        if req.method not in SAFE_METHODS and path not in FORM_PATHS:
            refused = csrf_refusal(req)
            if refused:
                return self.deny(403, "csrf", refused)
        if caller.needs_second_factor and path not in SECOND_FACTOR_PATHS:
            if _wants_html():
                return flask.redirect("/login/totp?" + urlencode({"next": _here()}), 302)
            return self.deny(403, "second_factor_required", "Complete the second factor.")
        if caller.must_change_password and path not in ACCOUNT_PATHS | SECOND_FACTOR_PATHS:
            if _wants_html():
                return flask.redirect("/account/password", 302)
            return self.deny(403, "password_change_required", "Change the password first.")
        if caller.role == "grid_worker" and path not in ACCOUNT_PATHS | SECOND_FACTOR_PATHS:
            if _wants_html():
                self.deny(403, "api_only", "grid worker on the dashboard")
                return html_page(
                    pages.message_page(
                        page_lang(), pages.SIGN_IN, pages.WORKER_ONLY_API,
                        sign_out_csrf=self.session_csrf(),
                    ),
                    403,
                )  # fmt: skip
            return self.deny(403, "api_only", "Grid-worker accounts use the mobile API only.")
        return None

    # -- routes

    def login_form(self, *, status: int = 200, error: str | None = None, username: str = ""):
        cookie = flask.request.cookies.get(CSRF_COOKIE)
        fresh = not cookie or len(cookie) > 100
        if fresh:
            cookie = secrets.token_urlsafe(24)
        next_path = safe_next(flask.request.values.get("next"))
        resp = html_page(
            pages.login_page(
                page_lang(), csrf=self.csrf_for("login", cookie), next_path=next_path,
                username=username, error=error,
            ),
            status,
        )  # fmt: skip
        if fresh:
            resp.set_cookie(
                CSRF_COOKIE, cookie, httponly=True, samesite="Lax", secure=self.is_https(),
                path="/login",
            )  # fmt: skip
        return resp

    def login_get(self):
        return self.login_form()

    def login_post(self):
        req = flask.request
        username = req.form.get("username", "")[:64]
        if not self.csrf_ok("login", req.cookies.get(CSRF_COOKIE)):
            return self.login_form(status=400, error=pages.FORM_EXPIRED, username=username)
        now = now_utc()
        ip = req.remote_addr
        with self.engine.begin() as conn:
            if recent_failures_from(conn, ip) >= IP_FAILURE_LIMIT:
                # Password spraying across accounts: this address waits (same message).
                log_security(conn, "login_failed", username=username, ip=ip,
                             detail="address throttled")  # fmt: skip
                result = None
            else:
                result = authenticate(conn, username, req.form.get("password", ""), ip=ip, now=now)
        if result is None:
            return self.login_form(status=429, error=pages.LOGIN_FAILED, username=username)
        if not isinstance(result, Caller):
            return self.login_form(error=pages.LOGIN_FAILED, username=username)
        with self.engine.begin() as conn:
            # Session fixation: whatever session the browser had is dropped; a new id is issued.
            revoke_session(conn, req.cookies.get(SESSION_COOKIE), now=now)
            token = create_session(
                conn, result.account_id, ip=ip, ua=req.headers.get("User-Agent"), now=now,
                absolute=self.absolute,
            )  # fmt: skip
            caller = session_caller(conn, token, now=now, idle=self.idle, absolute=self.absolute)
            sid = caller.session_id if caller else "?"
            log_security(conn, "login", account_id=result.account_id, username=result.username,
                         ip=ip, detail=f"session {sid}")  # fmt: skip
        next_path = safe_next(req.form.get("next"))
        lang = page_lang()
        if caller is not None and caller.needs_second_factor:
            target = "/login/totp?" + urlencode({"next": next_path, "lang": lang})
        elif result.must_change_password:
            target = "/account/password?" + urlencode({"lang": lang})
        else:
            target = next_path
        resp = flask.redirect(target, 303)
        self.set_session_cookie(resp, token)
        resp.delete_cookie(CSRF_COOKIE, path="/login")
        return resp

    def logout_get(self):
        caller = self._optional_caller()
        if caller is None:
            return flask.redirect("/login", 302)
        return html_page(
            pages.account_page(
                page_lang(), csrf=self.session_csrf(), display_name=caller.display_name
            )
        )

    def logout_post(self):
        req = flask.request
        token = req.cookies.get(SESSION_COOKIE)
        resp = flask.redirect("/login?" + urlencode({"lang": page_lang()}), 303)
        if token and not self.csrf_ok("session", token):
            return html_page(
                pages.message_page(page_lang(), pages.SIGN_OUT, pages.FORM_EXPIRED), 400
            )
        if token:
            now = now_utc()
            with self.engine.begin() as conn:
                caller = session_caller(
                    conn, token, now=now, idle=self.idle, absolute=self.absolute
                )
                revoke_session(conn, token, now=now)
                if caller is not None:
                    log_security(conn, "logout", account_id=caller.account_id,
                                 username=caller.username, ip=req.remote_addr,
                                 detail=f"session {caller.session_id}")  # fmt: skip
        self.clear_session_cookie(resp)
        return resp

    def _optional_caller(self) -> Caller | None:
        token = flask.request.cookies.get(SESSION_COOKIE)
        if not token:
            return None
        with self.engine.begin() as conn:
            return session_caller(
                conn, token, now=now_utc(), idle=self.idle, absolute=self.absolute
            )

    def password_get(self):
        caller: Caller = flask.g.caller
        return html_page(
            pages.password_page(
                page_lang(), csrf=self.session_csrf(), display_name=caller.display_name,
                forced=caller.must_change_password,
            )
        )  # fmt: skip

    def password_post(self):
        req = flask.request
        caller: Caller = flask.g.caller
        lang = page_lang()

        def again(errors: list[str], status: int = 400):
            return html_page(
                pages.password_page(
                    lang, csrf=self.session_csrf(), display_name=caller.display_name,
                    forced=caller.must_change_password, errors=errors,
                ),
                status,
            )  # fmt: skip

        if not self.csrf_ok("session", req.cookies.get(SESSION_COOKIE)):
            return again([pages.FORM_EXPIRED])
        new, repeat = req.form.get("new", ""), req.form.get("repeat", "")
        if new != repeat:
            return again([pages.PASSWORDS_DIFFER])
        now = now_utc()
        with self.engine.begin() as conn:
            # Same counter and lock as sign-in: a stolen session cookie cannot guess here.
            failure = check_current_password(
                conn, caller.account_id, req.form.get("current", ""), ip=req.remote_addr, now=now
            )
            if failure is AuthFailure.LOCKED:
                # This session (the one guessing, or one acting while the account is locked)
                # ends; the account signs in again once the lock has run out.
                revoke_session(conn, req.cookies.get(SESSION_COOKIE), now=now)
                log_security(
                    conn, "logout", account_id=caller.account_id, username=caller.username,
                    ip=req.remote_addr, detail=f"session {caller.session_id} ended: account locked",
                )  # fmt: skip
                resp = html_page(pages.message_page(lang, pages.CHANGE_PASSWORD,
                                                    pages.LOCKED_SIGNED_OUT), 403)  # fmt: skip
                self.clear_session_cookie(resp)
                return resp
            if failure is not None:
                return again([pages.WRONG_CURRENT])
            if new == req.form.get("current", ""):
                return again(["The new password must differ from the current one."])
            try:
                change_password(conn, caller.account_id, new, now=now)
            except AccountError as exc:
                return again([exc.msgid])
            revoke_all(conn, caller.account_id, now=now, except_session=caller.session_id)
            log_security(conn, "password_change", account_id=caller.account_id,
                         username=caller.username, ip=req.remote_addr)  # fmt: skip
        return html_page(
            pages.password_page(
                lang, csrf=self.session_csrf(), display_name=caller.display_name,
                forced=False, done=True,
            )
        )  # fmt: skip


def _too_large(_exc: Exception) -> flask.Response:
    """413 as JSON (a chunked body that outgrew the limit while being read)."""
    return json_error(413, "too_large", "the request body is too large")


def install_auth(server: flask.Flask, engine: Engine, settings: Settings) -> None:
    """Mount the sign-in routes and the session gate on ``server`` (call before Dash is
    attached, so the gate runs before any Dash handler)."""
    if settings.trust_proxy:
        from werkzeug.middleware.proxy_fix import ProxyFix

        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=1, x_proto=1)  # type: ignore[method-assign]
    auth = _Auth(engine, settings)
    server.before_request(auth.gate)
    server.after_request(SecurityHeaders(settings).add)
    server.register_error_handler(413, _too_large)
    server.add_url_rule("/login", "auth_login", auth.login_get, methods=["GET"])
    server.add_url_rule("/login", "auth_login_post", auth.login_post, methods=["POST"])
    server.add_url_rule("/logout", "auth_logout", auth.logout_get, methods=["GET"])
    server.add_url_rule("/logout", "auth_logout_post", auth.logout_post, methods=["POST"])
    totp = SecondFactor(auth)
    server.add_url_rule("/login/totp", "auth_totp", totp.step_get, methods=["GET"])
    server.add_url_rule("/login/totp", "auth_totp_post", totp.step_post, methods=["POST"])
    server.add_url_rule("/account/totp", "auth_totp_enrol", totp.enrol_get, methods=["GET"])
    server.add_url_rule("/account/totp", "auth_totp_enrol_post", totp.enrol_post, methods=["POST"])
    server.add_url_rule("/account/password", "auth_password", auth.password_get, methods=["GET"])
    server.add_url_rule(
        "/account/password", "auth_password_post", auth.password_post, methods=["POST"]
    )
