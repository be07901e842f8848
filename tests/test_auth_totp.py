"""Second factor (TOTP, pyotp): enrolment with a proof code, the sign-in step when enrolled or
required by the role policy, wrong codes, the attempt limit, the security log."""

from __future__ import annotations

import re
import uuid

import pyotp
import pytest
from sqlalchemy import text

from geodata.accounts import create_account
from geodata.second_factor import set_totp_required
from tests.conftest import TEST_PASSWORD, login

HTML = {"Accept": "text/html"}


@pytest.fixture(scope="module")
def server(settings, engine):
    from app import create_app

    return create_app(settings, engine).server


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([A-Za-z0-9_-]+)"', page).group(1)


def _user(engine, role: str = "supervisor") -> str:
    name = f"totp_{uuid.uuid4().hex[:8]}"
    with engine.begin() as c:
        create_account(c, name, "TOTP user", role, "532901", TEST_PASSWORD)
    return name


def _enrol(client) -> str:
    page = client.get("/account/totp").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    assert "otpauth://totp/Grid%20Command:" in page or "otpauth://totp/" in page
    assert "http" not in page.split("<body>", 1)[1]  # no external QR service
    r = client.post("/account/totp", data={"csrf_token": _csrf(page), "secret": secret,
                                           "code": pyotp.TOTP(secret).now()})  # fmt: skip
    assert r.status_code == 200 and "已启用" in r.get_data(as_text=True)
    return secret


def test_voluntary_enrolment_then_sign_in_needs_the_code(server, engine):
    name = _user(engine)
    c = server.test_client()
    login(c, name)
    page = c.get("/account/totp").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    bad = c.post("/account/totp", data={"csrf_token": _csrf(page), "secret": secret,
                                        "code": "000000"})  # fmt: skip
    assert bad.status_code == 400
    secret = _enrol(c)
    assert c.get("/_dash-layout").status_code == 200  # this session proved it

    c2 = server.test_client()
    r = login(c2, name, next_path="/?cell=532901")
    assert r.status_code == 303 and r.headers["Location"].startswith("/login/totp")
    blocked = c2.get("/_dash-layout")
    assert blocked.status_code == 403 and blocked.json["error"] == "second_factor_required"
    assert c2.get("/", headers=HTML).headers["Location"].startswith("/login/totp")
    page = c2.get(r.headers["Location"]).get_data(as_text=True)
    wrong = c2.post("/login/totp", data={"csrf_token": _csrf(page), "code": "123456",
                                         "next": "/?cell=532901"})  # fmt: skip
    assert wrong.status_code == 400
    form = {"csrf_token": _csrf(page), "code": pyotp.TOTP(secret).now(), "next": "/?cell=532901"}
    ok = c2.post("/login/totp", data=form)
    assert ok.status_code == 303 and ok.headers["Location"] == "/?cell=532901"
    assert c2.get("/_dash-layout").status_code == 200
    with engine.connect() as conn:
        details = (
            conn.execute(
                text(
                    "SELECT detail FROM security_log WHERE kind = 'second_factor' AND username = :u"
                ),
                {"u": name},
            )
            .scalars()
            .all()
        )
    assert {"enrolled", "failed", "ok"} <= set(details)


def test_role_policy_forces_enrolment(server, engine):
    name = _user(engine, role="auditor")
    with engine.begin() as c:
        set_totp_required(c, "auditor", True)
    try:
        client = server.test_client()
        r = login(client, name)
        assert r.headers["Location"].startswith("/login/totp")
        step = client.get("/login/totp")
        assert step.status_code == 302 and step.headers["Location"].startswith("/account/totp")
        assert client.get("/_dash-layout").status_code == 403
        assert "双因素" in client.get("/account/totp").get_data(as_text=True)
        _enrol(client)
        assert client.get("/_dash-layout").status_code == 200
    finally:
        with engine.begin() as c:
            set_totp_required(c, "auditor", False)


def test_too_many_wrong_codes_end_the_half_signed_in_session(server, engine):
    name = _user(engine)
    c = server.test_client()
    login(c, name)
    secret = _enrol(c)
    c2 = server.test_client()
    login(c2, name)
    page = c2.get("/login/totp").get_data(as_text=True)
    good = pyotp.TOTP(secret).now()
    wrong = f"{(int(good) + 500_000) % 1_000_000:06d}"
    for _ in range(5):
        r = c2.post("/login/totp", data={"csrf_token": _csrf(page), "code": wrong})
    assert r.status_code == 303 and r.headers["Location"].startswith("/login")
    assert c2.get("/_dash-layout").status_code == 401  # the session is gone


def test_enrolment_needs_the_form_token(server, engine):
    name = _user(engine)
    c = server.test_client()
    login(c, name)
    secret = pyotp.random_base32()
    r = c.post("/account/totp", data={"secret": secret, "code": pyotp.TOTP(secret).now()})
    assert r.status_code == 400
    with engine.connect() as conn:
        assert (
            conn.execute(
                text("SELECT totp_secret FROM account WHERE username = :u"), {"u": name}
            ).scalar()
            is None
        )
