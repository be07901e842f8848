"""Error answers of the whole app (api/errors.py): malformed requests to Dash's callback
endpoint — bad JSON, deeply nested JSON, bodies over the limit, also chunked through a real
server — and unknown component-suite paths get JSON (or a plain 404), never Werkzeug's HTML
page, a traceback or a 500."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from api.auth import SESSION_COOKIE
from tests.conftest import serve, session_token

CALLBACK = "/_dash-update-component"
JSON = {"Content-Type": "application/json"}
#: Deeper than Python's recursion limit (and under the test's 20,000-byte body limit):
#: json.loads raised RecursionError, a 500.
DEEP = "[" * 5_000 + "]" * 5_000


@pytest.fixture(scope="module")
def small_app(settings, engine):
    """The app with a 20,000-byte body limit."""
    from app import create_app

    return create_app(settings.model_copy(update={"max_body_bytes": 20_000}), engine).server


@pytest.fixture()
def web(small_app, engine, accounts):
    c = small_app.test_client()
    c.set_cookie(SESSION_COOKIE, session_token(engine, "t_commander"))
    return c


def _is_json_error(resp, status: int) -> None:
    body = resp.get_data(as_text=True)
    assert resp.status_code == status, (resp.status_code, body[:300])
    assert resp.mimetype == "application/json", body[:300]
    assert "<html" not in body.lower() and "Traceback" not in body
    assert json.loads(body)["error"]


@pytest.mark.parametrize(
    "body",
    ["{not json", "", "[1, 2", '{"output": "x.children", "inputs": [}', "\ufeff{}", "nan]"],
)
def test_malformed_json_is_a_json_400(web, body):
    _is_json_error(web.post(CALLBACK, data=body, headers=JSON), 400)


@pytest.mark.parametrize(
    "body",
    [DEEP, '{"output": "x.children", "outputs": {"id": "x", "property": "children"}, '
           '"inputs": ' + "[" * 4_000 + "]" * 4_000 + "}",
     '{"a": ' * 2_000 + "1" + "}" * 2_000],
)  # fmt: skip
def test_deeply_nested_json_is_a_json_400_not_a_500(web, body):
    _is_json_error(web.post(CALLBACK, data=body, headers=JSON), 400)


def test_body_over_the_limit_is_a_json_413(web):
    _is_json_error(web.post(CALLBACK, data="{" + " " * 30_000 + "}", headers=JSON), 413)


@pytest.mark.parametrize(
    "path",
    ["/_dash-component-suites/nope/nope.js", "/_dash-component-suites/dash/nope.v1_0_0m1.js",
     "/_dash-component-suites/dash_leaflet/../../app.py", "/_dash-component-suites/x/%00.js"],
)  # fmt: skip
def test_unknown_component_suite_paths_are_404_not_500(small_app, path):
    resp = small_app.test_client().get(path)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 404, (resp.status_code, body[:300])
    assert "<html" not in body.lower() and "Traceback" not in body


def test_other_http_errors_are_json(web):
    # Werkzeug's own error pages are HTML; every other page GET is Dash's index (catch-all).
    _is_json_error(web.put(CALLBACK, data="{}", headers=JSON), 405)
    _is_json_error(web.post("/geo/cells.geojson", data="{}", headers=JSON), 405)


def _chunked_post(base: str, token: str, body: bytes) -> tuple[int, str, bytes]:
    """POST ``body`` to the callback endpoint with ``Transfer-Encoding: chunked`` (no
    Content-Length, so the limit can only act while the body is read)."""
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.putrequest("POST", CALLBACK)
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Cookie", f"{SESSION_COOKIE}={token}")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        for i in range(0, len(body), 8192):
            chunk = body[i : i + 8192]
            conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        conn.send(b"0\r\n\r\n")
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type") or "", resp.read()
    finally:
        conn.close()


def test_chunked_bodies_through_a_real_server(small_app, engine, accounts):
    token = session_token(engine, "t_commander")
    cases = [
        (b"{" + b" " * 50_000 + b"}", 413),  # over the limit, no Content-Length
        (b"{bad", 400),
        (b"[" * 9_000 + b"]" * 9_000, 400),  # under the byte limit, too deep
    ]
    with serve(small_app) as base:
        for body, status in cases:
            got, ctype, data = _chunked_post(base, token, body)
            assert got == status, (got, data[:300])
            assert ctype.startswith("application/json"), (ctype, data[:300])
            assert b"<html" not in data.lower() and json.loads(data)["error"]
