"""POST /api/v1/events (validation, CRS, attribution, idempotency) and GET /events/<uuid>."""

from __future__ import annotations

import json
import math
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from geodata.crs import gcj02_to_bd09, wgs84_to_gcj02


def report(worker, **over) -> dict:
    body = {
        "uuid": str(uuid.uuid4()),
        "category": "dispute",
        "difficulty": "ordinary",
        "title": "邻里纠纷 🏠",
        "description": "两户因宅基地边界发生争执\n需要调解",
        "lon": worker.lon,
        "lat": worker.lat,
    }
    body.update(over)
    return {k: v for k, v in body.items() if v is not ...}


def post(client, worker, body, **kw):
    return client.post("/api/v1/events", json=body, headers=worker.auth, **kw)


def test_create_then_replay(client, api_engine, worker):
    body = report(worker)
    first = post(client, worker, body)
    assert first.status_code == 201, first.get_json()
    ev = first.get_json()
    assert ev["uuid"] == body["uuid"] and ev["status"] == "reported"
    assert ev["title"] == "邻里纠纷 🏠" and "\n" in ev["description"]
    assert len(ev["cell_path"]) == 6 and ev["cell"] == ev["cell_path"][-1]
    assert ev["original"] == {"lon": worker.lon, "lat": worker.lat, "crs": "wgs84"}

    again = post(client, worker, body)
    assert again.status_code == 200 and again.get_json() == ev
    # key order does not matter: the hash is over the canonical body
    again = post(client, worker, dict(reversed(list(body.items()))))
    assert again.status_code == 200

    with api_engine.connect() as conn:
        n_ev, n_act, actor = conn.execute(
            text(
                "SELECT count(DISTINCT e.id), count(a.id), max(a.actor_id) FROM event e "
                "JOIN event_action a ON a.event_id = e.id WHERE e.uuid = :u"
            ),
            {"u": body["uuid"]},
        ).one()
    assert (n_ev, n_act, actor) == (1, 1, worker.id)


def test_same_uuid_different_body_is_409(client, worker):
    body = report(worker)
    assert post(client, worker, body).status_code == 201
    resp = post(client, worker, {**body, "title": "another title"})
    assert resp.status_code == 409
    assert resp.get_json()["field"] == "uuid"


def test_concurrent_replays_make_one_event(api_app, api_engine, worker):
    body = report(worker)

    def send(_):
        return post(api_app.test_client(), worker, body).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = sorted(pool.map(send, range(8)))
    assert codes.count(201) == 1 and codes.count(200) == 7
    with api_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM event_action a JOIN event e "
                                 "ON e.id = a.event_id WHERE e.uuid = :u"),
                            {"u": body["uuid"]}).scalar_one() == 1  # fmt: skip


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_chinese_crs_is_converted_and_original_kept(client, worker, crs):
    lon, lat = wgs84_to_gcj02(worker.lon, worker.lat)
    if crs == "bd09":
        lon, lat = gcj02_to_bd09(lon, lat)
    resp = post(client, worker, report(worker, lon=lon, lat=lat, crs=crs))
    assert resp.status_code == 201, resp.get_json()
    ev = resp.get_json()
    assert ev["original"] == {"lon": lon, "lat": lat, "crs": crs}
    assert math.isclose(ev["lon"], worker.lon, abs_tol=1e-5)
    assert math.isclose(ev["lat"], worker.lat, abs_tol=1e-5)


def test_control_characters_are_stripped(client, worker):
    resp = post(client, worker, report(worker, title="a\x00b\x07c\u200b𠀀", description="x\ty\rz"))
    assert resp.status_code == 201, resp.get_json()
    ev = resp.get_json()
    assert ev["title"] == "abc\u200b𠀀" and ev["description"] == "x\tyz"


@pytest.mark.parametrize(
    "over,status,field",
    [
        ({"lon": 2.35, "lat": 48.85}, 422, "lon"),  # Paris: outside the prefecture
        ({"lon": 25.6, "lat": 100.2}, 422, "lon"),  # swapped
        ({"lon": 1e308, "lat": 25.0}, 422, "lon"),
        ({"lon": "100.2"}, 400, "lon"),
        ({"lon": True}, 400, "lon"),
        ({"lat": None}, 400, "lat"),
        ({"lon": ...}, 400, "lon"),
        ({"uuid": "not-a-uuid"}, 400, "uuid"),
        ({"category": "aliens"}, 400, "category"),
        ({"category": "environment"}, 422, "difficulty"),
        ({"crs": "utm"}, 400, "crs"),
        ({"title": "   "}, 400, "title"),
        ({"title": "\x00\x01"}, 400, "title"),
        ({"title": "x" * 201}, 400, "title"),
        ({"title": 5}, 400, "title"),
        ({"reported_at": "2026-01-01T00:00:00"}, 400, "reported_at"),
        ({"reported_at": "2999-01-01T00:00:00Z"}, 422, "reported_at"),
        ({"extra": 1}, 400, "extra"),
    ],
)
def test_bad_bodies(client, worker, over, status, field):
    resp = post(client, worker, report(worker, **over))
    assert resp.status_code == status, resp.get_json()
    err = resp.get_json()
    assert err["field"] == field and err["error"] and err["detail"]


#: Bidirectional controls: "\u202e" makes "…gnp.exe" display as "…exe.png".
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


def _ago(**delta) -> str:
    import datetime as dt

    return (dt.datetime.now(dt.UTC) - dt.timedelta(**delta)).isoformat()


@pytest.mark.parametrize(
    "when",
    ["0001-01-01T00:00:00+08:00", "0001-01-01T00:00:00-08:00", "1970-01-01T00:00:00Z",
     "9999-12-31T23:59:59-08:00"],
)  # fmt: skip
def test_reported_at_out_of_bounds_is_422(client, api_engine, worker, when):
    # The attack: a report dated in the year 1 was stored (and sorted first, counted nowhere).
    body = report(worker, reported_at=when)
    resp = post(client, worker, body)
    assert resp.status_code == 422, resp.get_json()
    err = resp.get_json()
    assert err["field"] == "reported_at" and "reported_at" in err["detail"]
    with api_engine.connect() as conn:
        assert not conn.execute(
            text("SELECT 1 FROM event WHERE uuid = :u"), {"u": body["uuid"]}
        ).first()


def test_reported_at_bounds_are_a_month_back_and_minutes_ahead(client, worker):
    assert post(client, worker, report(worker, reported_at=_ago(days=31))).status_code == 422
    assert post(client, worker, report(worker, reported_at=_ago(minutes=-10))).status_code == 422
    queued = report(worker, reported_at=_ago(days=29))  # a phone's offline queue, replayed
    resp = post(client, worker, queued)
    assert resp.status_code == 201, resp.get_json()


def test_bidi_controls_are_stripped_from_every_text_field(client, api_engine, worker):
    body = report(worker, title="照片\u202egnp.exe", description=f"说明{BIDI}\n第二行",
                  subcategory="\u2067劳资纠纷\u2069")  # fmt: skip
    resp = post(client, worker, body)
    assert resp.status_code == 201, resp.get_json()
    ev = resp.get_json()
    assert (ev["title"], ev["description"], ev["subcategory"]) == (
        "照片gnp.exe", "说明\n第二行", "劳资纠纷"
    )
    with api_engine.connect() as conn:
        row = conn.execute(
            text("SELECT title || description || coalesce(subcategory, '') FROM event"
                 " WHERE uuid = :u"), {"u": body["uuid"]},
        ).scalar_one()  # fmt: skip
    assert not set(row) & set(BIDI)
    assert post(client, worker, report(worker, title=BIDI)).status_code == 400  # blank after


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"[]", b"null", b'"x"', b"\xff\xfe", b'{"lon": NaN}', b'{"lon": Infinity}',
     b"[" * 100000, b'{"lon": 1' + b"0" * 5000 + b"}",
     b'{"title": "\\ud800", "category": "dispute"}'],
)  # fmt: skip
def test_malformed_json_never_500(client, worker, raw):
    resp = client.post("/api/v1/events", data=raw, headers={**worker.auth,
                       "Content-Type": "application/json"})  # fmt: skip
    assert resp.status_code == 400, resp.data[:200]
    assert resp.get_json()["error"] in ("malformed_json", "invalid")


def test_lone_surrogate_is_dropped(client, worker):
    # a JSON escape of a lone surrogate is valid JSON but not encodable as UTF-8
    raw = json.dumps(report(worker)).replace('"title": "', '"title": "\\ud800ok').encode()
    resp = client.post("/api/v1/events", data=raw, headers={**worker.auth,
                       "Content-Type": "application/json"})  # fmt: skip
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["title"].startswith("ok")


def test_get_event_scope(client, workers):
    a, b = workers
    body = report(a)
    assert post(client, a, body).status_code == 201
    assert client.get(f"/api/v1/events/{body['uuid']}", headers=a.auth).status_code == 200
    # b is in another L5 grid, did not report it and is not assigned: indistinguishable 404
    resp = client.get(f"/api/v1/events/{body['uuid']}", headers=b.auth)
    assert resp.status_code == 404 and resp.get_json()["error"] == "not_found"
    assert client.get(f"/api/v1/events/{uuid.uuid4()}", headers=a.auth).status_code == 404
    assert client.get("/api/v1/events/not-a-uuid", headers=a.auth).status_code == 404


def test_reporter_sees_own_event_outside_their_grid(client, workers):
    a, b = workers
    body = report(b)  # inside b's grid, reported by a
    assert post(client, a, body).status_code == 201
    assert client.get(f"/api/v1/events/{body['uuid']}", headers=a.auth).status_code == 200
    assert client.get(f"/api/v1/events/{body['uuid']}", headers=b.auth).status_code == 200
