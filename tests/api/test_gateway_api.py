"""Gateway tokens: only ``POST /positions`` (and the OpenAPI document), fixes of many workers in
one batch, each resolved against the gateway's subtree; larger limits than a worker token."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import text

from api.v1.schemas import MAX_GATEWAY_BODY_BYTES, MAX_GATEWAY_FIXES
from geodata.tokens import create_gateway_token, revoke_token

#: After the seed, before the test, inside the accepted window of client times
#: (geodata.client_time.MAX_CLIENT_AGE: a fixed date would age out of it).
BASE = (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).replace(second=0, microsecond=0)


@pytest.fixture()
def gw(api_engine, workers):
    """A gateway scoped to worker A's township (L3), the in-scope workers, one worker outside;
    fixes and current positions are restored after the test."""
    a = workers[0]
    scope = ".".join(a.grid_path.split(".")[:3])
    with api_engine.begin() as conn:
        scope_id = conn.execute(text("SELECT id FROM grid_cell WHERE path = CAST(:p AS ltree)"),
                                {"p": scope}).scalar_one()  # fmt: skip
        token_id, token = create_gateway_token(conn, scope_id, "test gateway")
        inside = conn.execute(
            text(
                """
                SELECT w.id, w.employee_no, ST_X(ST_PointOnSurface(c.geom)) AS lon,
                       ST_Y(ST_PointOnSurface(c.geom)) AS lat
                FROM grid_worker w JOIN grid_cell c ON c.id = w.cell_id
                WHERE w.active AND c.path <@ CAST(:p AS ltree) ORDER BY w.id LIMIT 20
                """
            ),
            {"p": scope},
        ).all()
        outside = conn.execute(
            text(
                "SELECT w.employee_no FROM grid_worker w JOIN grid_cell c ON c.id = w.cell_id "
                "WHERE w.active AND NOT c.path <@ CAST(:p AS ltree) ORDER BY w.id LIMIT 1"
            ),
            {"p": scope},
        ).scalar_one()
        ids = [r.id for r in inside]
        saved = conn.execute(
            text("SELECT id, position, last_fix_at FROM grid_worker WHERE id = ANY(:ids)"),
            {"ids": ids},
        ).all()
    assert len(inside) >= 3
    yield {"token": token, "token_id": token_id, "inside": inside, "outside": outside,
           "auth": {"Authorization": f"Bearer {token}"}}  # fmt: skip
    with api_engine.begin() as conn:
        conn.execute(text("DELETE FROM worker_position WHERE worker_id = ANY(:ids) "
                          "AND fix_time >= :t"), {"ids": ids, "t": BASE})  # fmt: skip
        for r in saved:
            conn.execute(text("UPDATE grid_worker SET position = :p, last_fix_at = :t "
                              "WHERE id = :i"), {"p": r.position, "t": r.last_fix_at,
                                                 "i": r.id})  # fmt: skip
        conn.execute(text("DELETE FROM api_token WHERE id = :i"), {"i": token_id})


def fix(w, seconds: float, dlon: float = 0.0, **over) -> dict:
    body = {"worker_id": w.employee_no, "lon": w.lon + dlon, "lat": w.lat,
            "fix_time": (BASE + dt.timedelta(seconds=seconds)).isoformat()}  # fmt: skip
    body.update(over)
    return body


def test_gateway_may_only_send_positions(client, gw):
    for method, path in [("get", "/api/v1/me"), ("post", "/api/v1/events"),
                         ("get", "/api/v1/events/00000000-0000-0000-0000-000000000000"),
                         ("get", "/api/v1/nope"), ("get", "/api/v1/positions")]:  # fmt: skip
        resp = getattr(client, method)(path, headers=gw["auth"], json={})
        assert resp.status_code == 403, path
        assert resp.get_json() == {
            "error": "forbidden",
            "detail": "a gateway token may only send positions",
        }
    assert client.get("/api/v1/openapi.json", headers=gw["auth"]).status_code == 200
    resp = client.post("/api/v1/positions", json={"fixes": []}, headers=gw["auth"])
    assert resp.get_json() == {"accepted": 0, "duplicates": 0, "rejected": []}


def test_multi_worker_batch_with_per_item_rejections(client, api_engine, gw):
    a, b, c = gw["inside"][:3]
    fixes = [
        fix(a, 0), fix(a, 10, 0.0001),            # 0, 1 ok (employee number)
        fix(b, 5, worker_id=b.id),                # 2 ok (numeric id)
        fix(c, 5), fix(c, 5),                     # 3 ok, 4 duplicate in the batch
        fix(a, 20, worker_id="NOPE-404"),         # 5 unknown worker
        fix(a, 20, worker_id=10**30),             # 6 unknown (beyond bigint)
        fix(a, 20, worker_id=gw["outside"]),      # 7 outside the gateway's subtree
        {k: v for k, v in fix(a, 30).items() if k != "worker_id"},  # 8 no worker_id
        fix(c, 65, 1.0),                          # 9 ~100 km in 60 s: impossible speed
        fix(c, 70, 0.0001),                       # 10 ok (compared with 3, not 9)
        fix(b, 6, lon="x"),                       # 11 invalid
    ]  # fmt: skip
    with api_engine.connect() as conn:
        before = conn.execute(text("SELECT coalesce(max(id), 0) FROM live_change")).scalar_one()
    resp = client.post("/api/v1/positions", json={"fixes": fixes}, headers=gw["auth"])
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert {r["index"]: r["reason"] for r in body["rejected"]} == {
        5: "unknown_worker", 6: "unknown_worker", 7: "forbidden", 8: "invalid",
        9: "impossible_speed", 11: "invalid"}  # fmt: skip
    assert (body["accepted"], body["duplicates"]) == (5, 1)
    with api_engine.connect() as conn:
        cur = {r.id: r for r in conn.execute(
            text("SELECT id, last_fix_at, ST_X(position) AS lon FROM grid_worker "
                 "WHERE id = ANY(:ids)"), {"ids": [a.id, b.id, c.id]})}  # fmt: skip
        changes = conn.execute(text("SELECT kind, ids FROM live_change WHERE id > :i"),
                               {"i": before}).all()  # fmt: skip
    assert cur[a.id].last_fix_at == BASE + dt.timedelta(seconds=10)
    assert cur[a.id].lon == pytest.approx(a.lon + 0.0001)
    assert cur[b.id].last_fix_at == BASE + dt.timedelta(seconds=5)
    assert cur[c.id].last_fix_at == BASE + dt.timedelta(seconds=70)
    # one statement moved all three workers: one change row (one NOTIFY) for the batch
    assert changes == [("worker", sorted([a.id, b.id, c.id]))]


def test_gateway_limits(client, gw):
    a = gw["inside"][0]
    full = [fix(a, i) for i in range(MAX_GATEWAY_FIXES)]
    resp = client.post("/api/v1/positions", json={"fixes": full}, headers=gw["auth"])
    assert resp.status_code == 200
    assert resp.get_json() == {"accepted": MAX_GATEWAY_FIXES, "duplicates": 0, "rejected": []}
    resp = client.post("/api/v1/positions", json={"fixes": full + [fix(a, -1)]},
                       headers=gw["auth"])  # fmt: skip
    assert resp.status_code == 413 and resp.get_json()["field"] == "fixes"
    huge = json.dumps({"fixes": full, "pad": "x" * MAX_GATEWAY_BODY_BYTES})
    resp = client.post("/api/v1/positions", data=huge, headers={
        **gw["auth"], "Content-Type": "application/json"})  # fmt: skip
    assert resp.status_code == 413 and resp.get_json()["error"] == "too_large"
    resp = client.post("/api/v1/positions", data="{nope", headers={
        **gw["auth"], "Content-Type": "application/json"})  # fmt: skip
    assert resp.status_code == 400 and resp.get_json()["error"] == "malformed_json"


def test_worker_token_cannot_send_a_gateway_sized_batch(client, workers):
    w = workers[1]
    fixes = [{"fix_time": (BASE + dt.timedelta(seconds=i)).isoformat(), "lon": w.lon,
              "lat": w.lat} for i in range(501)]  # fmt: skip
    resp = client.post("/api/v1/positions", json={"fixes": fixes}, headers=w.auth)
    assert resp.status_code == 413


def test_revoked_gateway_is_401(client, api_engine, gw):
    with api_engine.begin() as conn:
        assert revoke_token(conn, gw["token_id"])
    resp = client.post("/api/v1/positions", json={"fixes": []}, headers=gw["auth"])
    assert resp.status_code == 401
