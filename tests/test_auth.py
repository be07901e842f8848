"""Sign-in, sessions and the request gate (api/auth.py) through the real app: login required
everywhere, session fixation, logout replay, lockout, unknown users, password policy and the
forced change, grid-worker accounts, scope from the session, the security log."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from sqlalchemy import text

from api.auth import CSRF_COOKIE, SESSION_COOKIE, safe_next
from geodata.accounts import (
    LOCKOUT_AFTER,
    AccountError,
    AuthFailure,
    Caller,
    check_password_policy,
    create_account,
)
from geodata.security_log import recent_security_log
from geodata.signin import authenticate, check_current_password
from tests.conftest import TEST_PASSWORD, login

HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture(scope="module")
def server(settings, engine):
    from app import create_app

    return create_app(settings, engine).server


@pytest.fixture()
def client(server, accounts):
    return server.test_client()


@pytest.fixture()
def fresh_account(engine):
    """Factory: a new account (unique username) in the session database."""

    def make(role: str = "commander", code: str = "532901", **kw) -> str:
        username = f"u_{uuid.uuid4().hex[:10]}"
        with engine.begin() as c:
            wid = None
            if role == "grid_worker":
                wid = c.execute(text("SELECT id FROM grid_worker ORDER BY id LIMIT 1")).scalar()
            create_account(c, username, "Fresh", role, code, TEST_PASSWORD, worker_id=wid, **kw)
        return username

    return make


def _cookie(client, name: str = SESSION_COOKIE) -> str | None:
    c = client.get_cookie(name)
    return c.value if c else None


def _log(engine, kind: str, username: str) -> list[dict]:
    with engine.connect() as c:
        return [
            r for r in recent_security_log(c, limit=500, kind=kind) if r["username"] == username
        ]


# ----------------------------------------------------------------------------- the gate


@pytest.mark.parametrize(
    "path",
    ["/_dash-layout", "/_dash-dependencies", "/geo/cells.geojson?level=2", "/live/snapshot",
     "/media/photo/1", "/geo/grid.pbf?z=9&bbox=99,25,101,27"],
)  # fmt: skip
def test_anonymous_data_requests_get_401_json(client, path):
    r = client.get(path)
    assert r.status_code == 401
    assert r.is_json and r.json["error"] == "unauthenticated" and r.json["detail"]


def test_anonymous_dash_callback_post_is_401(client):
    r = client.post("/_dash-update-component", json={"output": "x.children", "inputs": []})
    assert r.status_code == 401 and r.json["error"] == "unauthenticated"


def test_anonymous_page_redirects_to_login_with_next(client):
    r = client.get("/?cell=532901&lang=en", headers=HTML)
    assert r.status_code == 302
    assert r.headers["Location"] == "/login?next=%2F%3Fcell%3D532901%26lang%3Den"


@pytest.mark.parametrize("path", ["/healthz", "/login", "/login?lang=en", "/assets/gridcmd.js"])
def test_public_paths(client, path):
    assert client.get(path).status_code == 200


def test_api_v1_keeps_its_own_bearer_auth(client):
    r = client.get("/api/v1/me/tasks")
    assert r.status_code in (401, 404)  # its own answer, never a login redirect
    assert "Location" not in r.headers


# ----------------------------------------------------------------------------- login


def test_login_sets_a_hardened_cookie_and_redirects_to_next(client, engine):
    r = login(client, "t_commander", next_path="/?cell=532901")
    assert r.status_code == 303 and r.headers["Location"] == "/?cell=532901"
    set_cookie = [h for h in r.headers.getlist("Set-Cookie") if h.startswith(SESSION_COOKIE)][0]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie and "Path=/" in set_cookie
    assert "Secure" not in set_cookie  # plain http
    assert client.get("/_dash-layout").status_code == 200
    assert client.get("/", headers=HTML).status_code == 200
    # Only the sha256 of the token is stored.
    token = _cookie(client)
    with engine.connect() as c:
        assert not c.execute(
            text("SELECT 1 FROM auth_session WHERE token_hash = :t"), {"t": token}
        ).first()


def test_cookie_is_secure_over_https(server, accounts):
    c = server.test_client()
    page = c.get("/login", base_url="https://gridcmd.example").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([A-Za-z0-9_-]+)"', page).group(1)
    r = c.post(
        "/login", base_url="https://gridcmd.example",
        data={"username": "t_commander", "password": TEST_PASSWORD, "csrf_token": csrf},
    )  # fmt: skip
    assert r.status_code == 303
    set_cookie = [h for h in r.headers.getlist("Set-Cookie") if h.startswith(SESSION_COOKIE)][0]
    assert "Secure" in set_cookie and "HttpOnly" in set_cookie


def test_forwarded_proto_is_ignored_unless_the_proxy_is_trusted(settings, engine, accounts):
    from app import create_app

    for trust, secure in ((False, False), (True, True)):
        s = settings.model_copy(update={"trust_proxy": trust})
        c = create_app(s, engine).server.test_client()
        headers = {"X-Forwarded-Proto": "https"}
        page = c.get("/login", headers=headers).get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([A-Za-z0-9_-]+)"', page).group(1)
        r = c.post("/login", headers=headers, data={
            "username": "t_commander", "password": TEST_PASSWORD, "csrf_token": csrf})  # fmt: skip
        cookie = [h for h in r.headers.getlist("Set-Cookie") if h.startswith(SESSION_COOKIE)][0]
        assert ("Secure" in cookie) is secure


def test_login_without_the_csrf_token_is_refused(client):
    client.get("/login")
    r = client.post("/login", data={"username": "t_commander", "password": TEST_PASSWORD})
    assert r.status_code == 400 and _cookie(client) is None
    # A token from another browser (other pre-login cookie) does not work either.
    other = client.application.test_client()
    page = other.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([A-Za-z0-9_-]+)"', page).group(1)
    r = client.post(
        "/login", data={"username": "t_commander", "password": TEST_PASSWORD, "csrf_token": csrf}
    )
    assert r.status_code == 400 and _cookie(client) is None


def test_prelogin_cookie_is_httponly_and_scoped_to_login(client):
    r = client.get("/login")
    cookie = [h for h in r.headers.getlist("Set-Cookie") if h.startswith(CSRF_COOKIE)][0]
    assert "HttpOnly" in cookie and "Path=/login" in cookie and "SameSite=Lax" in cookie


def test_session_fixation_a_new_id_at_login(client, engine):
    login(client, "t_commander")
    first = _cookie(client)
    login(client, "t_county")  # the same browser signs in again (e.g. another user)
    second = _cookie(client)
    assert first and second and first != second
    # The old id is dead: replaying it is refused.
    client.set_cookie(SESSION_COOKIE, first)
    assert client.get("/_dash-layout").status_code == 401
    # A token the attacker planted before login is never adopted.
    planted = "planted-token-" + uuid.uuid4().hex
    fresh = client.application.test_client()
    fresh.set_cookie(SESSION_COOKIE, planted)
    login(fresh, "t_commander")
    assert _cookie(fresh) != planted


def test_logout_revokes_the_server_side_session(client, engine):
    login(client, "t_commander")
    token = _cookie(client)
    page = client.get("/logout", headers=HTML).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([A-Za-z0-9_-]+)"', page).group(1)
    r = client.post("/logout", data={"csrf_token": csrf})
    assert r.status_code == 303 and r.headers["Location"].startswith("/login")
    assert _cookie(client) is None
    client.set_cookie(SESSION_COOKIE, token)  # replay the old cookie
    r = client.get("/_dash-layout")
    assert r.status_code == 401 and r.json["error"] == "unauthenticated"
    assert _log(engine, "logout", "t_commander")


def test_logout_needs_the_form_token(client):
    login(client, "t_commander")
    r = client.post("/logout", data={})
    assert r.status_code == 400
    assert client.get("/_dash-layout").status_code == 200  # still signed in


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/?cell=532901", "/?cell=532901"),
        ("/geo/x", "/geo/x"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/login?next=//evil", "/"),
        ("/\r\nSet-Cookie: x=1", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_safe_next(value, expected):
    assert safe_next(value) == expected


def test_next_and_username_are_escaped_on_the_login_page(client):
    payload = '"><img src=x onerror=window.__pwned=1>'
    page = client.get("/login", query_string={"next": "/" + payload}).get_data(as_text=True)
    assert "<img" not in page and "&lt;img" in page
    csrf = re.search(r'name="csrf_token" value="([A-Za-z0-9_-]+)"', page).group(1)
    r = client.post("/login", data={"username": payload, "password": "x", "csrf_token": csrf})
    body = r.get_data(as_text=True)
    assert "<img" not in body and "&lt;img" in body


# ----------------------------------------------------------------------------- failures


def test_unknown_user_gets_the_same_answer_as_a_wrong_password(client, engine):
    def attempt(username: str):
        page = client.get("/login").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([A-Za-z0-9_-]+)"', page).group(1)
        r = client.post("/login", data={"username": username, "password": "Wrong-Pass-123",
                                        "csrf_token": csrf})  # fmt: skip
        return r.status_code, r.get_data(as_text=True).replace(username, "USER")

    assert attempt("t_auditor") == attempt("nobody_" + uuid.uuid4().hex[:8])
    assert _cookie(client) is None
    with engine.connect() as c:
        kinds = {r["detail"] for r in recent_security_log(c, limit=50, kind="login_failed")}
    assert "unknown user" in kinds


def test_lockout_after_five_failures_even_with_the_right_password(engine, fresh_account):
    username = fresh_account()
    now = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
    with engine.begin() as c:
        for _ in range(LOCKOUT_AFTER):
            assert authenticate(c, username, "Wrong-Pass-123", ip="10.0.0.9", now=now) == (
                AuthFailure.BAD_CREDENTIALS
            )
        # The 6th attempt, with the right password, is still refused while locked.
        later = now + dt.timedelta(minutes=14)
        assert authenticate(c, username, TEST_PASSWORD, ip="10.0.0.9", now=later) == (
            AuthFailure.LOCKED
        )
        until = c.execute(
            text("SELECT locked_until FROM account WHERE username = :u"), {"u": username}
        ).scalar()
        assert until == now + dt.timedelta(minutes=15)
        after = now + dt.timedelta(minutes=15, seconds=1)
        assert isinstance(
            authenticate(c, username, TEST_PASSWORD, ip="10.0.0.9", now=after), Caller
        )
    assert _log(engine, "lockout", username)
    assert len(_log(engine, "login_failed", username)) == LOCKOUT_AFTER + 1


def test_lockout_through_the_form(server, engine, fresh_account):
    username = fresh_account()
    c = server.test_client()
    for _ in range(LOCKOUT_AFTER):
        assert _cookie(c) is None
        login(c, username, "Wrong-Pass-123")
    r = login(c, username, TEST_PASSWORD)
    assert r.status_code == 200 and _cookie(c) is None  # the form again, no session
    assert "锁定" in r.get_data(as_text=True)


def test_a_success_resets_the_failure_count(engine, fresh_account):
    username = fresh_account()
    now = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
    with engine.begin() as c:
        for _ in range(LOCKOUT_AFTER - 1):
            authenticate(c, username, "Wrong-Pass-123", ip=None, now=now)
        assert isinstance(authenticate(c, username, TEST_PASSWORD, ip=None, now=now), Caller)
        for _ in range(LOCKOUT_AFTER - 1):
            authenticate(c, username, "Wrong-Pass-123", ip=None, now=now)
        assert isinstance(authenticate(c, username, TEST_PASSWORD, ip=None, now=now), Caller)


def test_disabled_account_cannot_sign_in_and_loses_its_sessions(server, engine, fresh_account):
    from geodata.accounts import disable

    username = fresh_account()
    c = server.test_client()
    login(c, username)
    assert c.get("/_dash-layout").status_code == 200
    with engine.begin() as conn:
        disable(conn, username, now=dt.datetime.now(dt.UTC))
    assert c.get("/_dash-layout").status_code == 401
    c2 = server.test_client()
    login(c2, username)
    assert _cookie(c2) is None


# ----------------------------------------------------------------------------- policy


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("Short-1a", False),  # < 10
        ("alllowercaseletters", False),  # one class
        ("lowercase123456", False),  # two classes
        ("Lower-and-UPPER", True),  # lower, upper, symbol
        ("Dali2026river", True),  # lower, upper, digit
        ("dali-2026-river", True),  # lower, digit, symbol
        ("My-alice-Pass1", False),  # contains the username
    ],
)
def test_password_policy(password, ok):
    assert (check_password_policy(password, "alice") == []) is ok


def test_policy_messages_are_translated():
    from gridcmd.i18n import CATALOGS

    for msgid in check_password_policy("a", "a"):
        assert msgid in CATALOGS["zh"]


def test_create_account_refuses_weak_passwords_and_duplicates(conn):
    with pytest.raises(AccountError):
        create_account(conn, "weak_one", "W", "commander", "532901", "password")
    create_account(conn, "dup_one", "D", "commander", "532901", TEST_PASSWORD)
    with pytest.raises(AccountError, match="taken"):
        create_account(conn, "DUP_one", "D", "commander", "532901", TEST_PASSWORD)
    with pytest.raises(AccountError, match="role"):
        create_account(conn, "bad_role", "B", "emperor", "532901", TEST_PASSWORD)
    with pytest.raises(AccountError, match="cell"):
        create_account(conn, "bad_cell", "B", "commander", "999999", TEST_PASSWORD)
    hashed = conn.execute(
        text("SELECT password_hash FROM account WHERE username = 'dup_one'")
    ).scalar()
    assert hashed.startswith("$argon2id$") and TEST_PASSWORD not in hashed


# ----------------------------------------------------------------------------- must change


def test_forced_password_change_flow(server, engine, fresh_account):
    username = fresh_account(must_change_password=True)
    c = server.test_client()
    r = login(c, username)
    assert r.status_code == 303 and r.headers["Location"].startswith("/account/password")
    assert c.get("/", headers=HTML).headers["Location"] == "/account/password"
    blocked = c.get("/_dash-layout")
    assert blocked.status_code == 403 and blocked.json["error"] == "password_change_required"
    page = c.get("/account/password").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([A-Za-z0-9_-]+)"', page).group(1)

    def change(current: str, new: str, repeat: str | None = None):
        form = {"csrf_token": csrf, "current": current, "new": new, "repeat": repeat or new}
        return c.post("/account/password", data=form)

    assert change("Wrong-Pass-123", "New-Pass-2027!").status_code == 400
    assert change(TEST_PASSWORD, "New-Pass-2027!", "Other-Pass-2027!").status_code == 400
    assert change(TEST_PASSWORD, "weakpass").status_code == 400
    assert change(TEST_PASSWORD, TEST_PASSWORD).status_code == 400
    no_token = {"current": TEST_PASSWORD, "new": "New-Pass-2027!", "repeat": "New-Pass-2027!"}
    assert c.post("/account/password", data=no_token).status_code == 400
    assert change(TEST_PASSWORD, "New-Pass-2027!").status_code == 200
    assert c.get("/_dash-layout").status_code == 200
    assert _log(engine, "password_change", username)
    c2 = server.test_client()
    assert _cookie(c2) is None and login(c2, username, TEST_PASSWORD).status_code == 200
    assert login(c2, username, "New-Pass-2027!").status_code == 303


def test_password_change_ends_the_other_sessions(server, fresh_account):
    username = fresh_account()
    a, b = server.test_client(), server.test_client()
    login(a, username)
    login(b, username)
    page = a.get("/account/password").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([A-Za-z0-9_-]+)"', page).group(1)
    form = {"csrf_token": csrf, "current": TEST_PASSWORD, "new": "Other-Pass-2027!",
            "repeat": "Other-Pass-2027!"}  # fmt: skip
    r = a.post("/account/password", data=form)
    assert r.status_code == 200
    assert a.get("/_dash-layout").status_code == 200
    assert b.get("/_dash-layout").status_code == 401


def _password_form(client) -> dict[str, str]:
    page = client.get("/account/password").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([A-Za-z0-9_-]+)"', page).group(1)
    return {"csrf_token": csrf, "new": "Guessed-Pass-2027!", "repeat": "Guessed-Pass-2027!"}


def test_a_stolen_session_cannot_guess_the_password_on_the_change_form(server, engine,
                                                                        fresh_account):  # fmt: skip
    # The attack: a stolen session cookie, and the change form's "current password" check as
    # an unlimited guessing oracle. Now it shares the sign-in counter and lock.
    username = fresh_account()
    thief = server.test_client()
    assert login(thief, username).status_code == 303
    form = _password_form(thief)
    for _ in range(LOCKOUT_AFTER - 1):
        r = thief.post("/account/password", data={**form, "current": "Wrong-Pass-123"})
        assert r.status_code == 400 and "当前密码错误" in r.get_data(as_text=True)
    r = thief.post("/account/password", data={**form, "current": "Wrong-Pass-123"})
    assert r.status_code == 403 and "锁定" in r.get_data(as_text=True)
    assert _log(engine, "lockout", username)
    # The guessing session has ended: even the right password gets nowhere now.
    assert _cookie(thief) is None
    r = thief.post("/account/password", data={**form, "current": TEST_PASSWORD})
    assert r.status_code in (302, 401, 403)
    assert server.test_client().get("/_dash-layout").status_code == 401
    # And the account is locked for sign-in too, right password or not.
    assert login(server.test_client(), username).status_code == 200
    with engine.connect() as c:
        locked_until = c.execute(
            text("SELECT locked_until FROM account WHERE username = :u"), {"u": username}
        ).scalar()
    assert locked_until is not None


def test_a_locked_account_session_cannot_check_passwords(server, engine, fresh_account):
    # Another live session of an account locked by sign-in failures cannot use the change
    # form to test passwords: refused without a check (even the right one), session ended.
    username = fresh_account()
    c = server.test_client()
    assert login(c, username).status_code == 303
    form = _password_form(c)
    for _ in range(LOCKOUT_AFTER):
        login(server.test_client(), username, "Wrong-Pass-123")
    r = c.post("/account/password", data={**form, "current": TEST_PASSWORD})
    assert r.status_code == 403 and "锁定" in r.get_data(as_text=True)
    assert c.get("/_dash-layout").status_code == 401
    with engine.connect() as conn:
        assert conn.execute(
            text("SELECT password_hash FROM account WHERE username = :u"), {"u": username}
        ).scalar()  # unchanged: the guessed password was never set
    assert login(server.test_client(), username, "Guessed-Pass-2027!").status_code == 200


def test_change_form_and_sign_in_failures_share_one_counter(engine, fresh_account):
    username = fresh_account()
    now = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
    with engine.begin() as c:
        account_id = c.execute(
            text("SELECT id FROM account WHERE username = :u"), {"u": username}
        ).scalar_one()
        for _ in range(LOCKOUT_AFTER - 2):
            authenticate(c, username, "Wrong-Pass-123", ip=None, now=now)
        assert check_current_password(c, account_id, "Wrong-Pass-123", ip=None, now=now) == (
            AuthFailure.BAD_CREDENTIALS
        )
        assert check_current_password(c, account_id, "Wrong-Pass-123", ip=None, now=now) == (
            AuthFailure.LOCKED
        )
        assert authenticate(c, username, TEST_PASSWORD, ip=None, now=now) == AuthFailure.LOCKED
        later = now + dt.timedelta(minutes=16)
        assert check_current_password(c, account_id, TEST_PASSWORD, ip=None, now=later) is None
        # A right current password resets the count, like a sign-in.
        failed = c.execute(
            text("SELECT failed_logins FROM account WHERE id = :id"), {"id": account_id}
        ).scalar()
        assert failed == 0


# ----------------------------------------------------------------------------- roles, scope


def test_grid_worker_account_is_api_only(client, engine):
    assert login(client, "t_worker").status_code == 303
    page = client.get("/", headers=HTML)
    assert page.status_code == 403 and "移动端" in page.get_data(as_text=True)
    r = client.get("/_dash-layout")
    assert r.status_code == 403 and r.json["error"] == "api_only"
    assert client.get("/geo/cells.geojson?level=2").status_code == 403
    assert _log(engine, "denied", "t_worker")


def test_scope_comes_from_the_session(server, accounts):
    county = server.test_client()
    login(county, "t_county")
    codes = {
        f["properties"]["code"] for f in county.get("/geo/cells.geojson?level=2").json["features"]
    }
    assert codes == {"532901"}
    pref = server.test_client()
    login(pref, "t_commander")
    codes = {
        f["properties"]["code"] for f in pref.get("/geo/cells.geojson?level=2").json["features"]
    }
    assert len(codes) == 12
    # A browser-sent hint of another scope changes nothing.
    r = county.get("/geo/cells.geojson?level=2&scope=532900", headers={"X-Scope": "532900"})
    assert {f["properties"]["code"] for f in r.json["features"]} == {"532901"}


def test_denials_are_logged_at_most_once_a_minute_per_ip_and_path(server, engine):
    c = server.test_client()
    path = f"/geo/cell/{uuid.uuid4().hex[:6]}.json"
    for _ in range(5):
        assert c.get(path, environ_base={"REMOTE_ADDR": "10.9.9.9"}).status_code == 401
    with engine.connect() as conn:
        n = conn.execute(
            text("SELECT count(*) FROM security_log WHERE kind = 'denied' AND target = :t"),
            {"t": f"GET {path}"},
        ).scalar()
    assert n == 1


def test_security_log_records_logins_and_is_append_only(client, engine):
    login(client, "t_supervisor")
    rows = _log(engine, "login", "t_supervisor")
    assert rows and rows[0]["ip"] == "127.0.0.1"
    assert all(TEST_PASSWORD not in (r["detail"] or "") for r in rows)
    with engine.connect() as c, pytest.raises(Exception, match="append-only"):
        c.execute(text("DELETE FROM security_log WHERE id = :i"), {"i": rows[0]["id"]})


def test_an_address_with_many_failures_must_wait(server, engine, accounts):
    from api.auth import IP_FAILURE_LIMIT
    from geodata.security_log import log_security

    ip = f"10.66.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    with engine.begin() as c:
        for _ in range(IP_FAILURE_LIMIT):
            log_security(c, "login_failed", username="sprayed", ip=ip, detail="wrong password")
    c = server.test_client()
    page = c.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([A-Za-z0-9_-]+)"', page).group(1)
    form = {"username": "t_commander", "password": TEST_PASSWORD, "csrf_token": csrf}
    r = c.post("/login", data=form, environ_base={"REMOTE_ADDR": ip})
    assert r.status_code == 429 and _cookie(c) is None
    # Another address is not affected.
    assert c.post("/login", data=form).status_code == 303
