"""The fast path of POST /api/v1/events: one autocommit connection per request (token check
and insert), the insert as one statement committed before the answer (history row chained,
live change logged), and the error precedence of the pre-merge pipeline kept."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import text


def _report(worker, **over) -> dict:
    body = {
        "uuid": str(uuid.uuid4()),
        "category": "environment",
        "title": "垃圾堆放未清运",
        "lon": worker.lon,
        "lat": worker.lat,
    }
    body.update(over)
    return body


def test_event_is_committed_chained_and_logged_before_201(client, api_engine, worker):
    with api_engine.connect() as conn:
        live_before = conn.execute(text("SELECT coalesce(max(id), 0) FROM live_change")).scalar()
    body = _report(worker)
    resp = client.post("/api/v1/events", json=body, headers=worker.auth)
    assert resp.status_code == 201, resp.get_json()
    # another connection sees it at once: committed before the answer
    with api_engine.connect() as conn:
        ev = conn.execute(
            text("SELECT e.id, c.code, c.level FROM event e JOIN grid_cell c ON c.id = e.cell_id "
                 "WHERE e.uuid = :u"), {"u": body["uuid"]}
        ).one()  # fmt: skip
        act = conn.execute(
            text("SELECT id, actor_type, actor_id, to_status, prev_hash, row_hash "
                 "FROM event_action WHERE event_id = :e"), {"e": ev.id}
        ).one()  # fmt: skip
        before = conn.execute(
            text("SELECT row_hash FROM event_action WHERE id < :i ORDER BY id DESC LIMIT 1"),
            {"i": act.id},
        ).scalar()
        live = conn.execute(
            text("SELECT kind, ids FROM live_change WHERE id > :i AND :e = ANY (ids)"),
            {"i": live_before, "e": ev.id},
        ).all()
    assert ev.level == 6 and resp.get_json()["cell"] == ev.code
    assert (act.actor_type, act.actor_id, act.to_status) == ("worker", worker.id, "reported")
    assert len(act.row_hash) == 64 and act.prev_hash == (before or "0" * 64)
    assert [r.kind for r in live] == ["event"]
    # the answer built from the statement equals the stored event as GET shows it
    got = client.get(f"/api/v1/events/{body['uuid']}", headers=worker.auth).get_json()
    answer = resp.get_json()
    # ... besides the possible duplicates looked up after the commit (test_event_duplicates.py)
    assert answer.pop("duplicates_checked") is True and "possible_duplicates" in answer
    del answer["possible_duplicates"]
    assert {k: v for k, v in got.items() if k != "photos"} == answer


def test_outside_wins_over_future_and_nothing_is_written(client, api_engine, worker):
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    paris = _report(worker, lon=2.35, lat=48.85, reported_at=future)
    resp = client.post("/api/v1/events", json=paris, headers=worker.auth)
    assert resp.status_code == 422 and resp.get_json()["error"] == "outside_area"
    inside = _report(worker, reported_at=future)
    resp = client.post("/api/v1/events", json=inside, headers=worker.auth)
    assert resp.status_code == 422 and resp.get_json()["field"] == "reported_at"
    with api_engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM event WHERE uuid = ANY(:u)"),
                         {"u": [paris["uuid"], inside["uuid"]]}).scalar()  # fmt: skip
    assert n == 0


def test_request_connection_is_returned_to_the_pool(client, api_engine, worker):
    pool = api_engine.pool
    idle = pool.checkedout()
    client.post("/api/v1/events", json=_report(worker), headers=worker.auth)  # 201
    client.post("/api/v1/events", json={"uuid": "x"}, headers=worker.auth)  # 400
    client.post("/api/v1/events", json=_report(worker), headers={"Authorization": "Bearer no"})
    client.get("/api/v1/me", headers=worker.auth)
    assert pool.checkedout() == idle
