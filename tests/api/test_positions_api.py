"""POST /api/v1/positions: batches, duplicates, ordering, per-item rejections, limits."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import text

from api.v1.schemas import MAX_FIXES

#: Before the test, after the seed, and inside the accepted window of client times
#: (geodata.client_time.MAX_CLIENT_AGE: a fixed date would age out of it).
BASE = (dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).replace(second=0, microsecond=0)


@pytest.fixture()
def w(workers, api_engine):
    """The second worker, with their stored fixes after BASE removed again after the test."""
    worker = workers[1]
    yield worker
    with api_engine.begin() as conn:
        conn.execute(text("DELETE FROM worker_position WHERE worker_id = :w AND fix_time >= :t"),
                     {"w": worker.id, "t": BASE})  # fmt: skip


def fix(worker, minutes: float, dlon: float = 0.0, **over) -> dict:
    body = {"fix_time": (BASE + dt.timedelta(minutes=minutes)).isoformat(),
            "lon": worker.lon + dlon, "lat": worker.lat, "accuracy": 8.5}  # fmt: skip
    body.update(over)
    return body


def send(client, worker, fixes):
    return client.post("/api/v1/positions", json={"fixes": fixes}, headers=worker.auth)


def current(api_engine, worker):
    with api_engine.connect() as conn:
        return conn.execute(
            text("SELECT last_fix_at, ST_X(position) AS lon FROM grid_worker WHERE id = :w"),
            {"w": worker.id},
        ).one()


def test_batch_duplicates_and_forward_only(client, api_engine, w):
    resp = send(client, w, [fix(w, 0), fix(w, 1, 0.001), fix(w, 2, 0.002)])
    assert resp.status_code == 200
    assert resp.get_json() == {"accepted": 3, "duplicates": 0, "rejected": []}
    now = current(api_engine, w)
    assert now.last_fix_at == BASE + dt.timedelta(minutes=2)
    assert now.lon == pytest.approx(w.lon + 0.002)

    # resend (at-least-once) plus an older, out-of-order fix
    resp = send(client, w, [fix(w, 1, 0.001), fix(w, -1, -0.001), fix(w, 2, 0.002)])
    assert resp.get_json() == {"accepted": 1, "duplicates": 2, "rejected": []}
    assert current(api_engine, w).last_fix_at == BASE + dt.timedelta(minutes=2)  # not moved back
    with api_engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM worker_position WHERE worker_id = :w "
                              "AND fix_time >= :t"), {"w": w.id, "t": BASE - dt.timedelta(
                                  minutes=1)}).scalar_one()  # fmt: skip
    assert n == 4


def test_duplicate_inside_one_batch(client, w):
    resp = send(client, w, [fix(w, 0), fix(w, 0)])
    assert resp.get_json() == {"accepted": 1, "duplicates": 1, "rejected": []}


def test_fix_times_out_of_bounds_are_rejected_per_item(client, w):
    # The attack: fixes dated in the year 1 were stored (and sorted before every real one).
    month_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(days=31)).isoformat()
    fixes = [fix(w, 0), fix(w, 1, fix_time="0001-01-01T00:00:00+08:00"),
             fix(w, 2, fix_time=month_ago), fix(w, 3, fix_time="0001-01-01T00:00:00-08:00")]
    resp = send(client, w, fixes)
    assert resp.status_code == 200
    out = resp.get_json()
    assert out["accepted"] == 1
    assert [(r["index"], r["reason"]) for r in out["rejected"]] == [
        (1, "too_old"), (2, "too_old"), (3, "too_old")
    ]
    assert all("fix_time" in r["detail"] for r in out["rejected"])


def test_per_item_rejections_keep_the_rest(client, workers, w):
    other = workers[0]
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    fixes = [
        fix(w, 0),                                   # 0 ok
        fix(w, 1, fix_time=future),                  # 1 future
        fix(w, 2, lon=0.0, lat=0.0),                 # 2 null island
        fix(w, 3, lon=2.35, lat=48.85),              # 3 outside China
        fix(w, 4, lon=w.lat, lat=w.lon),             # 4 swapped
        fix(w, 5, 0.5),                              # 5 ~50 km in 5 min: impossible speed
        fix(w, 6, worker_id=other.employee_no),      # 6 someone else's
        fix(w, 7, lon="x"),                          # 7 wrong type
        fix(w, 8),                                   # 8 infinite lon (below)
        fix(w, 9, accuracy=-1),                      # 9 bad accuracy
        fix(w, 10, 0.001, worker_id=w.employee_no),  # 10 ok (own id)
        "not an object",                             # 11
    ]  # fmt: skip
    # JSON has no NaN (a literal NaN refuses the whole body); a huge number parses to inf
    fixes[8]["lon"] = "__HUGE__"
    raw = json.dumps({"fixes": fixes}).replace('"__HUGE__"', "1e999")
    resp = client.post("/api/v1/positions", data=raw, headers={**w.auth,
                       "Content-Type": "application/json"})  # fmt: skip
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    reasons = {r["index"]: r["reason"] for r in body["rejected"]}
    assert body["accepted"] == 2 and body["duplicates"] == 0
    assert reasons == {
        1: "future", 2: "null_island", 3: "outside_china", 4: "invalid_coordinates",
        5: "impossible_speed", 6: "forbidden", 7: "invalid", 8: "invalid", 9: "invalid",
        11: "invalid",
    }  # fmt: skip
    assert all(r["detail"] for r in body["rejected"])
    assert body["rejected"][0]["index"] == 1  # sorted by index


def test_speed_checked_against_stored_neighbours(client, w):
    assert send(client, w, [fix(w, 0), fix(w, 10)]).get_json()["accepted"] == 2
    # out of order, between the two stored fixes, 50 km away: impossible either side
    resp = send(client, w, [fix(w, 5, 0.5)])
    assert resp.get_json()["rejected"][0]["reason"] == "impossible_speed"
    # a plausible one in between is fine
    assert send(client, w, [fix(w, 5, 0.001)]).get_json()["accepted"] == 1


def test_limits_and_shape(client, w):
    resp = send(client, w, [fix(w, i / 60) for i in range(MAX_FIXES + 1)])
    assert resp.status_code == 413 and resp.get_json()["field"] == "fixes"
    for bad in ({}, {"fixes": "x"}, [], {"fixes": [], "more": 1}):
        resp = client.post("/api/v1/positions", json=bad, headers=w.auth)
        assert resp.status_code == 400, bad
    assert send(client, w, []).get_json() == {"accepted": 0, "duplicates": 0, "rejected": []}


def test_full_batch_is_accepted(client, w):
    fixes = [fix(w, i / 60, i * 1e-5) for i in range(MAX_FIXES)]  # one per second
    resp = send(client, w, fixes)
    assert resp.get_json() == {"accepted": MAX_FIXES, "duplicates": 0, "rejected": []}


def test_worker_id_may_be_the_numeric_id(client, workers, w):
    other = workers[0]
    resp = send(client, w, [fix(w, 0, worker_id=w.id), fix(w, 1, worker_id=other.id),
                            fix(w, 2, worker_id=True)])  # fmt: skip
    body = resp.get_json()
    assert body["accepted"] == 1
    assert [(r["index"], r["reason"]) for r in body["rejected"]] == [(1, "forbidden"),
                                                                     (2, "invalid")]  # fmt: skip
