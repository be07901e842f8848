"""The second factor (TOTP, pyotp): the sign-in step ``/login/totp`` and enrolment
``/account/totp``; mounted by :func:`api.auth.install_auth`. See docs/security.md."""

from __future__ import annotations

from urllib.parse import urlencode

import flask

from api.forms import SESSION_COOKIE, SessionForms, html_page, now_utc, page_lang, safe_next
from dashboard import login as pages
from geodata.accounts import Caller
from geodata.second_factor import enrol_totp, totp_status, verify_totp
from geodata.security_log import log_security, second_factor_failures
from geodata.sessions import mark_second_factor, revoke_session

__all__ = ["TOTP_ATTEMPTS", "SecondFactor"]

#: Wrong second-factor codes a half-signed-in session may send before it is ended.
TOTP_ATTEMPTS = 5


class SecondFactor:
    """TOTP: the sign-in step (``/login/totp``) and enrolment (``/account/totp``)."""

    def __init__(self, auth: SessionForms) -> None:
        self.auth = auth

    def step_get(self):
        caller: Caller = flask.g.caller
        if not caller.needs_second_factor:
            return flask.redirect(safe_next(flask.request.args.get("next")), 302)
        with self.auth.engine.connect() as conn:
            enrolled, _required = totp_status(conn, caller.account_id)
        if not enrolled:  # required by the role, not set up yet: enrol first
            return flask.redirect("/account/totp?" + urlencode({"lang": page_lang()}), 302)
        return html_page(
            pages.totp_page(
                page_lang(), csrf=self.auth.session_csrf(),
                next_path=safe_next(flask.request.args.get("next")),
            )
        )  # fmt: skip

    def step_post(self):
        req = flask.request
        caller: Caller = flask.g.caller
        lang = page_lang()
        next_path = safe_next(req.form.get("next"))
        if not self.auth.csrf_ok("session", req.cookies.get(SESSION_COOKIE)):
            page = pages.totp_page(lang, csrf=self.auth.session_csrf(), next_path=next_path,
                                   error=pages.FORM_EXPIRED)  # fmt: skip
            return html_page(page, 400)
        if not caller.needs_second_factor:
            return flask.redirect(next_path, 303)
        now = now_utc()
        target = f"session {caller.session_id}"
        with self.auth.engine.begin() as conn:
            ok = verify_totp(conn, caller.account_id, req.form.get("code", ""), now=now)
            log_security(conn, "second_factor", account_id=caller.account_id,
                         username=caller.username, ip=req.remote_addr, target=target,
                         detail="ok" if ok else "failed")  # fmt: skip
            if ok:
                mark_second_factor(conn, caller.session_id)
            else:
                failures = second_factor_failures(conn, target)
                if failures >= TOTP_ATTEMPTS:
                    revoke_session(conn, req.cookies.get(SESSION_COOKIE), now=now)
        if ok:
            dest = "/account/password" if caller.must_change_password else next_path
            return flask.redirect(dest, 303)
        if failures >= TOTP_ATTEMPTS:
            resp = flask.redirect("/login?" + urlencode({"lang": lang}), 303)
            self.auth.clear_session_cookie(resp)
            return resp
        page = pages.totp_page(lang, csrf=self.auth.session_csrf(), next_path=next_path,
                               error=pages.WRONG_CODE)  # fmt: skip
        return html_page(page, 400)

    def enrol_get(self, *, error: str | None = None, status: int = 200):
        import pyotp

        caller: Caller = flask.g.caller
        with self.auth.engine.connect() as conn:
            enrolled, required = totp_status(conn, caller.account_id)
        secret = None if enrolled else pyotp.random_base32()
        uri = (
            pyotp.TOTP(secret).provisioning_uri(name=caller.username, issuer_name="Grid Command")
            if secret else None
        )  # fmt: skip
        return html_page(
            pages.totp_enrol_page(
                page_lang(), csrf=self.auth.session_csrf(), secret=secret, uri=uri,
                enabled=enrolled, required=required, error=error,
            ),
            status,
        )  # fmt: skip

    def enrol_post(self):
        req = flask.request
        caller: Caller = flask.g.caller
        if not self.auth.csrf_ok("session", req.cookies.get(SESSION_COOKIE)):
            return self.enrol_get(error=pages.FORM_EXPIRED, status=400)
        now = now_utc()
        with self.auth.engine.begin() as conn:
            enrolled, _required = totp_status(conn, caller.account_id)
            if enrolled:  # replacing a factor needs an admin reset, not a form post
                return self.enrol_get(status=409)
            secret = req.form.get("secret", "")[:64]
            if not enrol_totp(conn, caller.account_id, secret, req.form.get("code", ""), now=now):
                return self.enrol_get(error=pages.WRONG_CODE, status=400)
            mark_second_factor(conn, caller.session_id)
            log_security(conn, "second_factor", account_id=caller.account_id,
                         username=caller.username, ip=req.remote_addr,
                         detail="enrolled")  # fmt: skip
        return self.enrol_get()
