"""Security headers on every kind of response, the Content-Security-Policy (no external
sources; Dash's inline scripts by hash), no CORS, body limits (413 JSON), debug mode refused
off loopback."""

from __future__ import annotations

import pytest

from tests.conftest import signed_in

REQUIRED = {
    "default-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data: blob:",
    "media-src": "'self' blob:",
    "worker-src": "'self' blob:",
    "connect-src": "'self'",
    "frame-ancestors": "'none'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
}


@pytest.fixture(scope="module")
def dash_app(settings, engine):
    from app import create_app

    return create_app(settings, engine)


@pytest.fixture()
def web(dash_app, engine, accounts):
    """A test client of the app, signed in as the prefecture commander."""
    return signed_in(dash_app.server, engine, "t_commander")


def csp(resp) -> dict[str, str]:
    return {
        d.strip().split(" ", 1)[0]: d.strip().split(" ", 1)[1]
        for d in resp.headers["Content-Security-Policy"].split(";")
    }


RESPONSES = [
    ("GET", "/login", None),  # HTML, public
    ("GET", "/", {"Accept": "text/html"}),  # the dashboard page
    ("GET", "/_dash-layout", None),  # JSON
    ("GET", "/geo/cells.geojson?level=2", None),  # GeoJSON
    ("GET", "/assets/gridcmd.js", None),  # a static asset
    ("GET", "/healthz", None),
    ("GET", "/no/such/page.json", None),  # 404
    ("GET", "/api/v1/me/tasks", None),  # the mobile API's own 401
]


@pytest.mark.parametrize(("method", "path", "headers"), RESPONSES)
def test_headers_on_every_response(web, method, path, headers):
    r = web.open(path, method=method, headers=headers or {})
    h = r.headers
    assert h["X-Frame-Options"] == "DENY"
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Referrer-Policy"] == "same-origin"
    policy = csp(r)
    for directive, value in REQUIRED.items():
        assert policy[directive] == value, directive
    assert "http" not in h["Content-Security-Policy"]  # no external source at all
    assert "unsafe-eval" not in h["Content-Security-Policy"]
    assert "Access-Control-Allow-Origin" not in h


def test_anonymous_401_carries_the_headers_too(dash_app):
    r = dash_app.server.test_client().get("/_dash-layout")
    assert r.status_code == 401 and r.headers["X-Frame-Options"] == "DENY"
    assert "Content-Security-Policy" in r.headers


def test_script_src_is_self_plus_dashs_inline_script_hashes(web, dash_app):
    script_src = csp(web.get("/", headers={"Accept": "text/html"}))["script-src"].split()
    assert script_src[0] == "'self'"
    assert sorted(script_src[1:]) == sorted(dash_app.csp_hashes())
    assert all(s.startswith("'sha256-") for s in script_src[1:])
    assert "'unsafe-inline'" not in script_src


def test_the_page_has_no_inline_script_outside_the_hashes(web, dash_app):
    import base64
    import hashlib
    import re

    html = web.get("/", headers={"Accept": "text/html"}).get_data(as_text=True)
    allowed = set(dash_app.csp_hashes())
    html = re.sub(r"<!--.*?-->", "", html, flags=re.S)  # e.g. Dash's IE notice, never run
    for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S):
        if "src=" in attrs or 'type="application/json"' in attrs or not body.strip():
            continue
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in allowed, body[:80]


def test_media_origins_and_basemap_extend_only_their_directives(settings, engine, accounts):
    from app import create_app

    s = settings.model_copy(
        update={
            "media_origins": "http://10.20.0.5:8080,https://cams.internal",
            "basemap_url": "https://tiles.internal/{z}/{x}/{y}.png",
        }
    )
    r = create_app(s, engine).server.test_client().get("/login")
    policy = csp(r)
    assert policy["media-src"] == "'self' blob: http://10.20.0.5:8080 https://cams.internal"
    assert policy["connect-src"] == "'self' http://10.20.0.5:8080 https://cams.internal"
    assert policy["img-src"] == "'self' data: blob: https://tiles.internal"
    assert policy["script-src"].startswith("'self'") and "10.20" not in policy["script-src"]
    assert policy["default-src"] == "'self'"


def test_bad_media_origin_is_refused_at_startup():
    from pydantic import ValidationError

    from gridcmd.settings import Settings

    with pytest.raises(ValidationError):
        Settings(media_origins="http://x.example; script-src *")


def test_no_cors_even_when_asked(web):
    pre = web.open(
        "/_dash-update-component",
        method="OPTIONS",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in pre.headers
    got = web.get("/geo/cells.geojson?level=2", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in got.headers


@pytest.mark.parametrize("signed_in", [False, True])
def test_large_bodies_on_dashboard_routes_are_413_json(dash_app, web, signed_in):
    client = web if signed_in else dash_app.server.test_client()
    r = client.post(
        "/_dash-update-component", data=b"x" * 2_100_000, content_type="application/json"
    )
    assert r.status_code == 413
    assert r.is_json and r.json["error"] == "too_large"


def test_chunked_large_body_is_refused_without_a_5xx(web):
    import io

    for path, ctype, body in (
        ("/_dash-update-component", "application/json", b"{" + b" " * 2_100_000 + b"}"),
        ("/login", "application/x-www-form-urlencoded", b"a=" + b"x" * 2_100_000),
    ):
        r = web.post(
            path,
            input_stream=io.BytesIO(body),
            headers={"Content-Type": ctype, "Transfer-Encoding": "chunked"},
            environ_base={"wsgi.input_terminated": True},  # a real chunked body, no length
        )
        assert r.status_code in (400, 413), path  # the limit holds while reading
        assert "Traceback" not in r.get_data(as_text=True)


def test_serve_refuses_debug_off_loopback():
    from typer.testing import CliRunner

    from gridcmd.cli import app

    res = CliRunner().invoke(app, ["serve", "--debug", "--host", "0.0.0.0"])  # noqa: S104
    assert res.exit_code == 2
    assert "debug" in res.output and "Traceback" not in res.output
