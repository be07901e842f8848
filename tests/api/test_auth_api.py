"""Bearer-token authentication on every /api/v1 route, JSON errors, body limits, /me."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from api.v1.schemas import MAX_BODY_BYTES
from geodata.tokens import create_token, hash_token, revoke_token, worker_for_token

ROUTES = [
    ("get", "/api/v1/me"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/api/v1/events/7a3f4a56-0d0b-4ab8-9d1b-2c5a3f1e9b01"),
    ("post", "/api/v1/events"),
    ("post", "/api/v1/positions"),
]


@pytest.mark.parametrize("method,url", ROUTES)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"},
     {"Authorization": "Bearer "}, {"Cookie": "session=x"}],
    ids=["none", "unknown", "basic", "empty", "cookie"],
)  # fmt: skip
def test_every_route_needs_a_token(client, method, url, headers):
    resp = getattr(client, method)(url, headers=headers, json={})
    assert resp.status_code == 401
    body = resp.get_json()
    assert body["error"] == "unauthorized" and body["detail"]
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Set-Cookie" not in resp.headers


def test_token_is_stored_hashed_and_marked_used(api_engine, worker):
    with api_engine.connect() as conn:
        row = conn.execute(
            text("SELECT token_hash, last_used_at FROM api_token WHERE token_hash = :h"),
            {"h": hash_token(worker.token)},
        ).one()
        assert worker.token not in row.token_hash and len(row.token_hash) == 64
        assert conn.execute(text("SELECT count(*) FROM api_token WHERE token_hash = :t"),
                            {"t": worker.token}).scalar_one() == 0  # fmt: skip


def test_revoked_token_is_refused(api_engine, client, worker):
    with api_engine.begin() as conn:
        token_id, token = create_token(conn, worker.id, "to revoke")
    hdr = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=hdr).status_code == 200
    with api_engine.begin() as conn:
        assert revoke_token(conn, token_id) is True
        assert revoke_token(conn, token_id) is False
        assert worker_for_token(conn, token) is None
    assert client.get("/api/v1/me", headers=hdr).status_code == 401


def test_me(client, worker):
    resp = client.get("/api/v1/me", headers=worker.auth)
    assert resp.status_code == 200
    me = resp.get_json()
    assert me["employee_no"] == worker.employee_no
    levels = [c["level"] for c in me["cells"]]
    assert levels[:5] == [1, 2, 3, 4, 5]
    assert ".".join(c["code"] for c in me["cells"][:5]) == worker.grid_path
    assert "phone" not in me


def test_unknown_route_and_method_are_json(client, worker):
    resp = client.get("/api/v1/nothing-here", headers=worker.auth)
    assert resp.status_code == 404 and resp.get_json()["error"] == "not_found"
    resp = client.delete("/api/v1/me", headers=worker.auth)
    assert resp.status_code == 405 and resp.get_json()["detail"]


def test_oversized_body_is_413(client, worker):
    big = b'{"title": "' + b"x" * (MAX_BODY_BYTES + 10) + b'"}'
    resp = client.post("/api/v1/events", data=big, headers={**worker.auth,
                       "Content-Type": "application/json"})  # fmt: skip
    assert resp.status_code == 413
    assert resp.get_json()["error"] == "too_large"


def test_no_cookies_no_cors(client, worker):
    resp = client.get("/api/v1/me", headers={**worker.auth, "Origin": "https://evil.example"})
    assert "Set-Cookie" not in resp.headers
    assert "Access-Control-Allow-Origin" not in resp.headers


def test_database_down_is_503_json(api_engine, worker):
    import flask

    from api.v1 import api_blueprint
    from geodata.db import make_engine

    dead = make_engine("postgresql://nobody@127.0.0.1:1/nowhere")
    app = flask.Flask("t")
    app.register_blueprint(api_blueprint(dead))
    resp = app.test_client().get("/api/v1/me", headers=worker.auth)
    assert resp.status_code == 503
    assert resp.get_json()["error"] == "database_unavailable"
    assert resp.headers["Retry-After"] == "5"
    dead.dispose()
