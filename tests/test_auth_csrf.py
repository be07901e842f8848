"""CSRF: Dash's callback POSTs are JSON-only and same-origin; cookie-authenticated writes that
a cross-site form could send are refused (docs/security.md). The sign-in and account forms
carry tokens (tests/test_auth.py)."""

from __future__ import annotations

import pytest

from api.auth import SESSION_COOKIE
from tests.conftest import signed_in

BODY = '{"output": "x.children", "outputs": {"id": "x", "property": "children"}, "inputs": []}'


@pytest.fixture(scope="module")
def server(settings, engine):
    from app import create_app

    return create_app(settings, engine).server


@pytest.fixture()
def web(server, engine, accounts):
    """A test client of the app, signed in as the prefecture commander."""
    return signed_in(server, engine, "t_commander")


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x", None],
)
def test_cross_site_form_post_to_the_callback_endpoint_is_refused(web, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    r = web.post("/_dash-update-component", data=BODY, headers=headers)
    assert r.status_code == 403
    assert r.is_json and r.json["error"] == "csrf"


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://localhost.evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
)
def test_cross_origin_json_is_refused(web, headers):
    r = web.post("/_dash-update-component", data=BODY,
                 headers={"Content-Type": "application/json", **headers})  # fmt: skip
    assert r.status_code == 403 and r.json["error"] == "csrf"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Origin": "http://localhost"},
        {"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"},
    ],
)
def test_same_origin_json_passes_the_gate(web, headers):
    r = web.post("/_dash-update-component", data=BODY,
                 headers={"Content-Type": "application/json", **headers})  # fmt: skip
    assert r.status_code not in (401, 403)  # reaches Dash (this body is malformed: 400)


@pytest.mark.parametrize(
    ("origin", "status_ok"),
    [("https://localhost", False),  # another scheme: was accepted (netloc only)
     ("http://localhost:8050", False), ("https://localhost:80", False),
     ("http://localhost:80", True), ("HTTP://LOCALHOST", True)],
)  # fmt: skip
def test_the_origin_check_compares_scheme_host_and_port(web, origin, status_ok):
    r = web.post("/_dash-update-component", data=BODY,
                 headers={"Content-Type": "application/json", "Origin": origin})  # fmt: skip
    if status_ok:
        assert r.status_code not in (401, 403)
    else:
        assert r.status_code == 403 and r.json["error"] == "csrf"


@pytest.mark.parametrize("trust_proxy", [True, False])
def test_the_origin_scheme_follows_x_forwarded_proto_only_behind_a_trusted_proxy(
    settings, engine, accounts, trust_proxy
):
    from app import create_app
    from tests.conftest import session_token

    server = create_app(settings.model_copy(update={"trust_proxy": trust_proxy}), engine).server
    c = server.test_client()
    c.set_cookie(SESSION_COOKIE, session_token(engine, "t_commander"))

    def post(origin: str):
        headers = {"Content-Type": "application/json", "Origin": origin,
                   "X-Forwarded-Proto": "https", "X-Forwarded-For": "10.9.9.9"}  # fmt: skip
        return c.post("/_dash-update-component", data=BODY, headers=headers)

    https, http = post("https://localhost"), post("http://localhost")
    if trust_proxy:  # the proxy says the browser used HTTPS
        assert https.status_code not in (401, 403) and http.status_code == 403
    else:  # a client's X-Forwarded-Proto is ignored: the request is plain http
        assert https.status_code == 403 and http.status_code not in (401, 403)


def test_csrf_refusals_are_logged(web, engine):
    from sqlalchemy import text

    web.post("/_dash-update-component", data=BODY, headers={"Content-Type": "text/plain"},
             environ_base={"REMOTE_ADDR": "10.77.0.1"})  # fmt: skip
    with engine.connect() as c:
        row = c.execute(
            text("SELECT username, detail FROM security_log WHERE kind = 'denied' "
                 "AND ip = '10.77.0.1' ORDER BY id DESC LIMIT 1")
        ).one()  # fmt: skip
    assert row.username == "t_commander" and "csrf" in row.detail


def test_an_anonymous_401_does_not_suppress_a_signed_in_csrf_refusal_log(server, web, engine):
    # The throttle used to key on (address, path) only: an anonymous request a minute from the
    # same address (a shared proxy address) kept every user's CSRF refusals out of the log.
    from sqlalchemy import text

    ip = "10.77.0.2"
    anon = server.test_client()
    r = anon.post("/_dash-update-component", data=BODY,
                  headers={"Content-Type": "application/json"},
                  environ_base={"REMOTE_ADDR": ip})  # fmt: skip
    assert r.status_code == 401
    r = web.post("/_dash-update-component", data=BODY, headers={"Content-Type": "text/plain"},
                 environ_base={"REMOTE_ADDR": ip})  # fmt: skip
    assert r.status_code == 403
    with engine.connect() as c:
        rows = c.execute(
            text("SELECT username, detail FROM security_log WHERE kind = 'denied' AND ip = :ip"
                 " AND at > clock_timestamp() - interval '1 minute' ORDER BY id"), {"ip": ip},
        ).all()  # fmt: skip
    assert (None, "401 unauthenticated") in [tuple(r) for r in rows]
    assert ("t_commander", "403 csrf") in [tuple(r) for r in rows]


def test_the_session_cookie_is_samesite_lax(server, accounts):
    from tests.conftest import login

    c = server.test_client()
    r = login(c, "t_commander")
    cookie = [h for h in r.headers.getlist("Set-Cookie") if h.startswith(SESSION_COOKIE)][0]
    assert "SameSite=Lax" in cookie and "HttpOnly" in cookie


def test_mobile_api_is_not_cookie_authenticated(web):
    # A session cookie gives nothing on /api/v1 (bearer tokens only), so no CSRF surface there.
    r = web.get("/api/v1/me/tasks")
    assert r.status_code in (401, 404)
