"""The phone's side of the case workflow: POST /api/v1/events/<uuid>/accept|start|resolve|
decline (geodata.workflow through the API; the API database, which tests may write)."""

from __future__ import annotations

import io
import uuid

import pytest
from sqlalchemy import text

from geodata.accounts import Caller
from geodata.workflow import Actor, perform
from tests.api.test_photos_api import image_bytes


@pytest.fixture()
def task(api_engine, api_accounts, worker):
    """A fresh event in the worker's grid, dispatched to the worker by a prefecture admin."""
    with api_engine.begin() as conn:
        ev = conn.execute(
            text(
                """
                INSERT INTO event (uuid, category, severity, title, description, location,
                    cell_id, status, reported_at, version, synthetic)
                SELECT :u, 'dispute', 'medium', 'api case', '', ST_SetSRID(ST_MakePoint(:x, :y),
                       4326), c.id, 'reported', now(), 1, true
                FROM grid_cell c WHERE c.level = 6
                  AND ST_Covers(c.geom, ST_SetSRID(ST_MakePoint(:x, :y), 4326))
                RETURNING id, uuid::text
                """
            ),
            {"u": uuid.uuid4(), "x": worker.lon, "y": worker.lat},
        ).one()
        admin = Caller(api_accounts["t_admin"], "t_admin", "T", "admin", "532900")
        perform(conn, ev.id, "dispatch", Actor.from_caller(admin), worker_id=worker.id)
    return ev


def _post(client, who, uuid_: str, action: str, body=None, **kw):
    return client.post(f"/api/v1/events/{uuid_}/{action}", json=body if body is not None else {},
                       headers=who.auth, **kw)  # fmt: skip


def test_accept_start_resolve(client, api_engine, worker, task):
    r = _post(client, worker, task.uuid, "accept")
    assert r.status_code == 200, r.json
    assert r.json["status"] == "dispatched" and r.json["acknowledged_at"]
    version = r.json["version"]
    r = _post(client, worker, task.uuid, "start", {"version": version})
    assert r.status_code == 200 and r.json["status"] == "in_progress"
    r = _post(client, worker, task.uuid, "resolve", {"note": "双方达成一致 🤝"})
    assert r.status_code == 200 and r.json["status"] == "resolved"
    with api_engine.connect() as conn:
        hist = conn.execute(
            text("SELECT actor_type, actor_id, to_status, note FROM event_action "
                 "WHERE event_id = :e ORDER BY id"), {"e": task.id}
        ).all()  # fmt: skip
    assert [h.to_status for h in hist][-3:] == ["dispatched", "in_progress", "resolved"]
    assert hist[-1].actor_type == "worker" and hist[-1].actor_id == worker.id
    assert hist[-1].note.endswith("双方达成一致 🤝")


def test_resend_after_success_is_a_replay_not_a_conflict(client, worker, task):
    first = _post(client, worker, task.uuid, "start")
    again = _post(client, worker, task.uuid, "start")
    assert again.status_code == 200 and again.json["replayed"] is True
    assert again.json["version"] == first.json["version"]
    # but a genuinely illegal action is still refused
    r = _post(client, worker, task.uuid, "accept")
    assert r.status_code == 409 and "in_progress" in r.json["detail"]


def test_decline_needs_a_reason(client, worker, task):
    r = _post(client, worker, task.uuid, "decline")
    assert r.status_code == 422 and r.json["field"] == "note"
    r = _post(client, worker, task.uuid, "decline", {"note": "不在我的网格"})
    assert r.status_code == 200 and r.json["status"] == "returned"


def test_stale_version_is_409(client, worker, task):
    r = _post(client, worker, task.uuid, "start", {"version": 1})
    assert r.status_code == 409 and r.json["field"] == "version"


def test_another_worker_cannot_act(client, workers, task):
    r = _post(client, workers[1], task.uuid, "start")
    assert r.status_code == 404  # not theirs: as if unknown


@pytest.mark.parametrize(
    "body, status",
    [
        ({"version": "3"}, 400),
        ({"version": 0}, 400),
        ({"note": 5}, 400),
        ({"note": "x", "extra": 1}, 400),
        ({"note": "x" * 2001}, 400),
    ],
)
def test_bad_bodies(client, worker, task, body, status):
    r = _post(client, worker, task.uuid, "resolve", body)
    assert r.status_code == status and r.json["error"]


def test_unknown_event_and_no_token(client, worker):
    assert _post(client, worker, str(uuid.uuid4()), "start").status_code == 404
    assert _post(client, worker, "not-a-uuid", "start").status_code == 404
    r = client.post(f"/api/v1/events/{uuid.uuid4()}/start", json={})
    assert r.status_code == 401


def test_another_workers_event_and_an_unknown_one_get_the_same_answer(client, api_engine,
                                                                      workers, task):  # fmt: skip
    # The attack: a worker probing uuids learnt that an event existed outside its reach, and
    # its internal id ("no event 737 in your area" vs "no such event"). Now: one answer.
    other = workers[1]
    answers = [
        _post(client, other, task.uuid, "start"),  # exists, not theirs
        _post(client, other, str(uuid.uuid4()), "start"),  # does not exist
        _post(client, other, "not-a-uuid", "start"),
    ]
    assert {r.status_code for r in answers} == {404}
    assert len({r.get_data() for r in answers}) == 1, [r.json for r in answers]
    assert answers[0].json == {"error": "not_found", "detail": "no such event in your area",
                               "field": "uuid"}  # fmt: skip
    assert str(task.id) not in answers[0].get_data(as_text=True)
    with api_engine.connect() as conn:  # logged like the other refused lookups
        assert conn.execute(
            text("SELECT 1 FROM security_log WHERE kind = 'denied' AND target = 'api case start'"
                 " AND username = :w AND at > clock_timestamp() - interval '1 minute'"),
            {"w": other.employee_no},
        ).first()  # fmt: skip


def test_case_notes_lose_bidi_controls(client, api_engine, worker, task):
    r = _post(client, worker, task.uuid, "resolve", {"note": "已处理\u202egnp.exe\u2069"})
    assert r.status_code == 200, r.json
    with api_engine.connect() as conn:
        note = conn.execute(
            text("SELECT note FROM event_action WHERE event_id = :e ORDER BY id DESC LIMIT 1"),
            {"e": task.id},
        ).scalar_one()
    assert note.endswith("已处理gnp.exe")


def test_resolve_with_photos(client, api_engine, worker, task):
    _post(client, worker, task.uuid, "start")
    data = {
        "report": (io.BytesIO(b'{"note": "cleaned up"}'), "report.json", "application/json"),
        "photos": [(io.BytesIO(image_bytes()), "after.jpg", "image/jpeg")],
    }
    r = client.post(f"/api/v1/events/{task.uuid}/resolve", data=data, headers=worker.auth,
                    content_type="multipart/form-data")  # fmt: skip
    assert r.status_code == 200, r.json
    assert r.json["status"] == "resolved" and r.json["photos_added"] == 1
    with api_engine.connect() as conn:
        n = conn.execute(
            text("SELECT count(*) FROM event_photo WHERE event_id = :e AND uploaded_by = :w"),
            {"e": task.id, "w": worker.id},
        ).scalar_one()
    assert n == 1


def test_reporter_of_a_merged_duplicate_follows_the_original(client, api_engine, api_accounts,
                                                             workers, task):  # fmt: skip
    other = workers[1]
    r = client.post("/api/v1/events", headers=other.auth, json={
        "uuid": str(uuid.uuid4()), "category": "dispute", "title": "same dispute again",
        "description": "", "lon": other.lon, "lat": other.lat, "crs": "wgs84",
    })  # fmt: skip
    assert r.status_code == 201, r.json
    with api_engine.begin() as conn:
        dup = conn.execute(text("SELECT id FROM event WHERE uuid = :u"),
                           {"u": r.json["uuid"]}).scalar_one()  # fmt: skip
        admin = Caller(api_accounts["t_admin"], "t_admin", "T", "admin", "532900")
        perform(conn, dup, "merge", Actor.from_caller(admin), merge_into=task.id)
    items = client.get("/api/v1/me/tasks?include=reported", headers=other.auth).json["items"]
    mine = {i["uuid"]: i for i in items}
    assert task.uuid in mine and mine[task.uuid]["role"] == "following"
    assert r.json["uuid"] not in mine  # the duplicate is closed
    assert {"version", "priority", "acknowledged", "supervised"} <= set(mine[task.uuid])
