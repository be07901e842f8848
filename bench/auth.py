"""Sign a benchmark client in to a running dashboard (the login form, like a browser)."""

from __future__ import annotations

import http.cookiejar
import re
import urllib.parse
import urllib.request

#: The demo prefecture commander (geodata/demo/accounts.py; DEMO ONLY).
DEMO_USER = "commander"
DEMO_PASSWORD = "Dali-Demo-2026!"  # noqa: S105 (the documented demo password)
SESSION_COOKIE = "gridcmd_session"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: D102
        return None


def login_cookie(base: str, username: str = DEMO_USER, password: str = DEMO_PASSWORD) -> str:
    """Sign in at ``base`` (e.g. http://127.0.0.1:8050) and return the session token;
    ``RuntimeError`` when refused."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect)
    with opener.open(base.rstrip("/") + "/login", timeout=30) as resp:
        page = resp.read().decode()
    csrf = re.search(r'name="csrf_token" value="([A-Za-z0-9_-]+)"', page)
    if csrf is None:
        raise RuntimeError(f"no login form at {base}/login")
    data = urllib.parse.urlencode(
        {"username": username, "password": password, "csrf_token": csrf.group(1)}
    ).encode()
    try:
        opener.open(base.rstrip("/") + "/login", data=data, timeout=30)
    except urllib.error.HTTPError as exc:  # the 303 (not followed) lands here
        if exc.code not in (302, 303):
            raise RuntimeError(f"login refused ({exc.code})") from None
    for cookie in jar:
        if cookie.name == SESSION_COOKIE:
            return cookie.value
    raise RuntimeError(f"login as {username!r} refused at {base}")


def playwright_cookie(base: str, token: str) -> dict:
    """The session cookie for ``BrowserContext.add_cookies``."""
    return {"name": SESSION_COOKIE, "value": token, "url": base.rstrip("/"), "httpOnly": True,
            "sameSite": "Lax"}  # fmt: skip
