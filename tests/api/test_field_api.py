"""Field-work routes: POST /checkins, /patrols, /visits; GET /me/overview, /me/tasks."""

from __future__ import annotations

import datetime as dt
import math
import uuid

import pytest
from sqlalchemy import text

from geodata.crs import wgs84_to_gcj02
from geodata.ingest import haversine_m
from gridcmd.vocab import OPEN_STATUSES

TOLERANCE = 200.0  # Settings().checkin_tolerance_m, the fixture app's value


def now_iso(**delta) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(**delta)).isoformat()


def post(client, worker, path, body):
    return client.post(f"/api/v1{path}", json=body, headers=worker.auth)


def offset_point(conn, cell_sql: str, params: dict, metres: float) -> tuple[float, float]:
    """A point ``metres`` due east of the east-most vertex of a cell (so its distance to the
    cell is ``metres``, within a metre or two)."""
    return conn.execute(
        text(
            f"""
            WITH c AS ({cell_sql}),
            v AS (SELECT (ST_DumpPoints(c.geom)).geom AS p FROM c ORDER BY ST_X((ST_DumpPoints(c.geom)).geom) DESC LIMIT 1)
            SELECT ST_X(q), ST_Y(q) FROM (
                SELECT CAST(ST_Project(CAST(v.p AS geography), :m, radians(90)) AS geometry) AS q
                FROM v) s
            """  # noqa: E501
        ),
        {**params, "m": metres},
    ).one()


def assigned_cell_sql() -> str:
    return "SELECT c.geom FROM grid_worker w JOIN grid_cell c ON c.id = w.cell_id WHERE w.id = :w"


def checkin(worker, **over) -> dict:
    body = {"uuid": str(uuid.uuid4()), "kind": "in", "at": now_iso(minutes=-1),
            "lon": worker.lon, "lat": worker.lat, "accuracy": 8.5}  # fmt: skip
    body.update(over)
    return {k: v for k, v in body.items() if v is not ...}


# ----------------------------------------------------------------------------- check-ins


def test_checkin_inside_then_replay_and_conflict(client, api_engine, worker):
    body = checkin(worker)
    first = post(client, worker, "/checkins", body)
    assert first.status_code == 201, first.get_json()
    out = first.get_json()
    assert out["inside"] is True and out["distance_m"] == 0 and out["tolerance_m"] == TOLERANCE
    assert out["original"] == {"lon": worker.lon, "lat": worker.lat, "crs": "wgs84"}
    again = post(client, worker, "/checkins", body)
    assert again.status_code == 200 and again.get_json() == out
    clash = post(client, worker, "/checkins", {**body, "kind": "out"})
    assert clash.status_code == 409 and clash.get_json()["field"] == "uuid"
    with api_engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT k.inside, k.distance_m, k.worker_id, c.code, w.cell_id = k.cell_id "
                "FROM checkin k JOIN grid_cell c ON c.id = k.cell_id "
                "JOIN grid_worker w ON w.id = k.worker_id WHERE k.uuid = :u"
            ),
            {"u": body["uuid"]},
        ).one()
    assert tuple(row) == (True, 0.0, worker.id, out["cell"], True)


def test_checkin_uuid_of_another_worker_is_409(client, workers):
    a, b = workers
    body = checkin(a)
    assert post(client, a, "/checkins", body).status_code == 201
    assert post(client, b, "/checkins", body).status_code == 409


@pytest.mark.parametrize("metres,inside", [(TOLERANCE - 40, True), (TOLERANCE + 40, False)])
def test_checkin_tolerance_edge(client, api_engine, worker, metres, inside):
    with api_engine.connect() as conn:
        lon, lat = offset_point(conn, assigned_cell_sql(), {"w": worker.id}, metres)
        independent = conn.execute(
            text(
                "SELECT ST_Distance(CAST(c.geom AS geography), CAST(ST_SetSRID("
                "ST_MakePoint(:x, :y), 4326) AS geography)), ST_Intersects(c.geom, "
                "ST_SetSRID(ST_MakePoint(:x, :y), 4326)) FROM grid_worker w "
                "JOIN grid_cell c ON c.id = w.cell_id WHERE w.id = :w"
            ),
            {"x": lon, "y": lat, "w": worker.id},
        ).one()
    assert independent[1] is False  # the point really is outside the polygon
    resp = post(client, worker, "/checkins", checkin(worker, lon=lon, lat=lat))
    assert resp.status_code == 201, resp.get_json()
    out = resp.get_json()
    assert out["inside"] is inside
    assert math.isclose(out["distance_m"], independent[0], abs_tol=0.1)
    assert abs(out["distance_m"] - metres) < 5


def test_checkin_outside_prefecture_is_stored_outside(client, worker):
    resp = post(client, worker, "/checkins", checkin(worker, lon=116.397, lat=39.909))
    assert resp.status_code == 201, resp.get_json()
    out = resp.get_json()
    assert out["inside"] is False and out["distance_m"] > 1_000_000


def test_checkin_gcj02_converted(client, worker):
    glon, glat = wgs84_to_gcj02(worker.lon, worker.lat)
    resp = post(client, worker, "/checkins", checkin(worker, lon=glon, lat=glat, crs="gcj02"))
    assert resp.status_code == 201, resp.get_json()
    out = resp.get_json()
    assert out["original"] == {"lon": glon, "lat": glat, "crs": "gcj02"}
    assert math.isclose(out["lon"], worker.lon, abs_tol=1e-6) and out["inside"] is True


@pytest.mark.parametrize(
    "over,status,field",
    [
        ({"at": now_iso(minutes=10)}, 422, "at"),
        ({"lon": 25.6, "lat": 100.2}, 422, "lon"),
        ({"lon": 200.0, "lat": 100.0}, 422, "lon"),
        ({"lon": "100.2"}, 400, "lon"),
        ({"kind": "lunch"}, 400, "kind"),
        ({"at": "2026-11-01T08:00:00"}, 400, "at"),  # naive time
        ({"accuracy": -1.0}, 400, "accuracy"),
        ({"crs": "utm"}, 400, "crs"),
        ({"uuid": ...}, 400, "uuid"),
        ({"extra": 1}, 400, "extra"),
    ],
)
def test_checkin_rejections(client, worker, over, status, field):
    resp = post(client, worker, "/checkins", checkin(worker, **over))
    assert resp.status_code == status, resp.get_json()
    assert resp.get_json()["field"] == field


# ----------------------------------------------------------------------------- patrols


def patrol(worker, **over) -> dict:
    d = 0.0005
    body = {
        "uuid": str(uuid.uuid4()),
        "started_at": now_iso(minutes=-40),
        "ended_at": now_iso(minutes=-5),
        "points": [[worker.lon, worker.lat], [worker.lon + d, worker.lat],
                   [worker.lon + d, worker.lat + d]],
        "note": "夜间巡查 🌙",
    }  # fmt: skip
    body.update(over)
    return body


def test_patrol_created_length_and_replay(client, api_engine, worker):
    body = patrol(worker)
    resp = post(client, worker, "/patrols", body)
    assert resp.status_code == 201, resp.get_json()
    out = resp.get_json()
    pts = body["points"]
    expected = sum(haversine_m(*pts[i], *pts[i + 1]) for i in range(len(pts) - 1))
    assert out["n_points"] == 3 and math.isclose(out["length_m"], expected, rel_tol=0.01)
    assert out["note"] == "夜间巡查 🌙"
    with api_engine.connect() as conn:
        n, cell_ok, npts = conn.execute(
            text(
                "SELECT count(*), bool_and(p.cell_id = w.cell_id), max(ST_NPoints(p.track)) "
                "FROM patrol p JOIN grid_worker w ON w.id = p.worker_id WHERE p.uuid = :u"
            ),
            {"u": body["uuid"]},
        ).one()
    assert (n, cell_ok, npts) == (1, True, 3)
    assert post(client, worker, "/patrols", body).get_json() == out
    assert post(client, worker, "/patrols", {**body, "note": "x"}).status_code == 409


@pytest.mark.parametrize(
    "over,status,field",
    [
        ({"ended_at": now_iso(minutes=-50)}, 422, "ended_at"),
        ({"ended_at": now_iso(minutes=30)}, 422, "ended_at"),
        ({"points": [[100.2, 25.6]]}, 400, "points"),
        ({"points": [[100.2, 25.6], [100.2, 25.6]]}, 422, "points"),
        ({"points": [[100.2, 25.6], [25.6, 100.2]]}, 422, "points.1"),
        ({"points": [[100.2, 25.6], [100.2]]}, 400, "points.1.1"),
        ({"points": [[100.2, 25.6], [100.2, "25.6"]]}, 400, "points.1.1"),
        ({"points": [[100.2 + i * 1e-5, 25.6] for i in range(5001)]}, 400, "points"),
        ({"note": "x" * 4001}, 400, "note"),
    ],
)
def test_patrol_rejections(client, worker, over, status, field):
    resp = post(client, worker, "/patrols", patrol(worker, **over))
    assert resp.status_code == status, resp.get_json()
    assert resp.get_json()["field"] == field


# ----------------------------------------------------------------------------- visits


def visit(**over) -> dict:
    body = {"uuid": str(uuid.uuid4()), "visited_at": now_iso(minutes=-3),
            "household": "3组 12号 (李家)", "note": "独居老人，身体状况良好"}  # fmt: skip
    body.update(over)
    return body


def l6_in(conn, grid_path: str) -> str:
    return conn.execute(
        text("SELECT code FROM grid_cell WHERE level = 6 AND path <@ CAST(:g AS ltree) "
             "ORDER BY code DESC LIMIT 1"),
        {"g": grid_path},
    ).scalar_one()  # fmt: skip


def test_visit_by_cell_code(client, api_engine, worker):
    with api_engine.connect() as conn:
        code = l6_in(conn, worker.grid_path)
    body = visit(cell_code=code)
    resp = post(client, worker, "/visits", body)
    assert resp.status_code == 201, resp.get_json()
    out = resp.get_json()
    assert out["cell"] == code and out["lon"] is None
    assert ".".join(out["cell_path"]).startswith(worker.grid_path)
    assert post(client, worker, "/visits", body).status_code == 200
    assert post(client, worker, "/visits", {**body, "note": "改"}).status_code == 409


def test_visit_by_point_is_attributed(client, api_engine, worker):
    resp = post(client, worker, "/visits", visit(lon=worker.lon, lat=worker.lat))
    assert resp.status_code == 201, resp.get_json()
    out = resp.get_json()
    with api_engine.connect() as conn:
        expected = conn.execute(
            text("SELECT code FROM grid_cell WHERE level = 6 AND ST_Intersects(geom, "
                 "ST_SetSRID(ST_MakePoint(:x, :y), 4326)) ORDER BY code LIMIT 1"),
            {"x": worker.lon, "y": worker.lat},
        ).scalar_one()  # fmt: skip
    assert out["cell"] == expected and out["lon"] == pytest.approx(worker.lon)


def test_visit_other_grid_cell_code_is_403(client, api_engine, workers):
    a, b = workers
    with api_engine.connect() as conn:
        code = l6_in(conn, b.grid_path)
    resp = post(client, a, "/visits", visit(cell_code=code))
    assert resp.status_code == 403 and resp.get_json()["field"] == "cell_code"


def test_visit_point_far_outside_grid_is_422(client, api_engine, worker):
    with api_engine.connect() as conn:
        far = conn.execute(
            text(
                """
                SELECT ST_X(ST_PointOnSurface(c.geom)), ST_Y(ST_PointOnSurface(c.geom))
                FROM grid_cell c, grid_cell g
                WHERE c.level = 6 AND g.path = CAST(:g AS ltree)
                  AND ST_Distance(CAST(c.geom AS geography), CAST(g.geom AS geography)) > 2000
                ORDER BY c.code LIMIT 1
                """
            ),
            {"g": worker.grid_path},
        ).one()
    resp = post(client, worker, "/visits", visit(lon=far[0], lat=far[1]))
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["error"] == "outside_grid"


def test_visit_point_just_outside_grid_within_tolerance(client, api_engine, worker):
    grid_sql = "SELECT geom FROM grid_cell WHERE path = CAST(:g AS ltree)"
    with api_engine.connect() as conn:
        lon, lat = offset_point(conn, grid_sql, {"g": worker.grid_path}, TOLERANCE / 2)
        in_prefecture = conn.execute(
            text("SELECT EXISTS (SELECT 1 FROM grid_cell WHERE level = 1 AND ST_Intersects("
                 "geom, ST_SetSRID(ST_MakePoint(:x, :y), 4326)))"), {"x": lon, "y": lat},
        ).scalar_one()  # fmt: skip
    resp = post(client, worker, "/visits", visit(lon=lon, lat=lat))
    if not in_prefecture:
        assert resp.status_code == 422 and resp.get_json()["error"] == "outside_area"
        return
    assert resp.status_code == 201, resp.get_json()
    assert ".".join(resp.get_json()["cell_path"]).startswith(worker.grid_path + ".")


@pytest.mark.parametrize(
    "over,status,field",
    [
        ({}, 400, "cell_code"),
        ({"lon": 100.2}, 400, "lat"),
        ({"cell_code": "999999999999"}, 422, "cell_code"),
        ({"cell_code": "53/29"}, 400, "cell_code"),
        ({"household": " "}, 400, "household"),
        ({"household": "x" * 201}, 400, "household"),
        ({"lon": 2.35, "lat": 48.85}, 422, "lon"),
        ({"visited_at": now_iso(hours=1), "cell_code": "532901"}, 422, "visited_at"),
    ],
)
def test_visit_rejections(client, worker, over, status, field):
    resp = post(client, worker, "/visits", visit(**over))
    assert resp.status_code == status, resp.get_json()
    assert resp.get_json()["field"] == field


# ----------------------------------------------------------------------------- bounds, text

YEAR_ONE = "0001-01-01T00:00:00+08:00"


@pytest.mark.parametrize(
    ("path", "field", "over"),
    [
        ("/checkins", "at", {"at": YEAR_ONE}),
        ("/checkins", "at", {"at": now_iso(days=-31)}),
        ("/patrols", "started_at", {"started_at": YEAR_ONE}),
        ("/patrols", "started_at", {"started_at": now_iso(days=-31)}),
        ("/visits", "visited_at", {"visited_at": YEAR_ONE, "cell_code": "532901"}),
        ("/visits", "visited_at", {"visited_at": now_iso(days=-31), "cell_code": "532901"}),
    ],
)
def test_client_times_older_than_a_month_are_422(client, worker, path, field, over):
    # The attack: field records dated in the year 1 were accepted.
    body = {"/checkins": checkin(worker), "/patrols": patrol(worker), "/visits": visit()}[path]
    resp = post(client, worker, path, {**body, **over})
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["field"] == field and field in resp.get_json()["detail"]


def test_a_queued_checkin_within_the_month_is_kept(client, worker):
    resp = post(client, worker, "/checkins", checkin(worker, at=now_iso(days=-29)))
    assert resp.status_code == 201, resp.get_json()


def test_field_text_drops_bidi_controls(client, api_engine, worker):
    resp = post(client, worker, "/patrols", patrol(worker, note="巡查\u202e完成\u200f"))
    assert resp.status_code == 201 and resp.get_json()["note"] == "巡查完成"
    with api_engine.connect() as conn:
        code = l6_in(conn, worker.grid_path)
    resp = post(client, worker, "/visits",
                visit(cell_code=code, household="\u202e号21", note="\u2066老人\u2069"))  # fmt: skip
    assert resp.status_code == 201, resp.get_json()
    assert (resp.get_json()["household"], resp.get_json()["note"]) == ("号21", "老人")


# ----------------------------------------------------------------------------- overview


def test_overview_matches_independent_counts(client, api_engine, worker):
    assert post(client, worker, "/checkins", checkin(worker, kind="out")).status_code == 201
    # a patrol of today in Dali time (UTC+8) whatever the hour the suite runs: at most 40
    # minutes long, starting no earlier than local midnight
    now = dt.datetime.now(dt.UTC)
    midnight = now.astimezone(dt.timezone(dt.timedelta(hours=8))).replace(
        hour=0, minute=0, second=0, microsecond=0)  # fmt: skip
    started = max(now - dt.timedelta(minutes=40), midnight)
    today = patrol(worker, started_at=started.isoformat(), ended_at=now.isoformat())
    assert post(client, worker, "/patrols", today).status_code == 201
    ev = {"uuid": str(uuid.uuid4()), "category": "public_security", "title": "井盖缺失",
          "lon": worker.lon, "lat": worker.lat}  # fmt: skip
    assert post(client, worker, "/events", ev).status_code == 201
    resp = client.get("/api/v1/me/overview", headers=worker.auth)
    assert resp.status_code == 200, resp.get_json()
    ov = resp.get_json()
    g = worker.grid_path
    with api_engine.connect() as conn:
        q = lambda sql, **p: conn.execute(text(sql), {"g": g, "w": worker.id, **p}).all()  # noqa: E731
        code, pop = q("SELECT code, population FROM grid_cell WHERE path = CAST(:g AS ltree)")[0]
        micro = q("SELECT count(*) FROM grid_cell WHERE level = 6 AND path <@ CAST(:g AS ltree)")
        workers = q("SELECT count(*), count(*) FILTER (WHERE duty_status = 'on_duty') "
                    "FROM grid_worker w JOIN grid_cell c ON c.id = w.cell_id "
                    "WHERE w.active AND c.path <@ CAST(:g AS ltree)")[0]  # fmt: skip
        by_status = dict(q("SELECT e.status, count(*) FROM event e JOIN grid_cell c "
                           "ON c.id = e.cell_id WHERE c.path <@ CAST(:g AS ltree) "
                           "AND e.status = ANY(:o) GROUP BY 1", o=list(OPEN_STATUSES)))  # fmt: skip
        day0 = "date_trunc('day', now() AT TIME ZONE 'Asia/Shanghai') AT TIME ZONE 'Asia/Shanghai'"
        checkins = q(f"SELECT count(*) FROM checkin WHERE worker_id = :w AND at >= {day0}")
        km = q(f"SELECT coalesce(sum(length_m), 0) / 1000 FROM patrol WHERE worker_id = :w "
               f"AND started_at >= {day0}")  # fmt: skip
        reported = q(f"SELECT count(*) FROM event WHERE reporter_id = :w "
                     f"AND reported_at >= {day0}")  # fmt: skip
        last = q("SELECT kind, inside FROM checkin WHERE worker_id = :w "
                 "ORDER BY at DESC, id DESC LIMIT 1")[0]  # fmt: skip
    assert ov["grid"]["code"] == code and ov["grid"]["population"] == pop
    assert [c["level"] for c in ov["cells"]] == list(range(1, len(g.split(".")) + 1))
    assert ov["cells"][-1]["code"] == code
    assert ov["micro_grids"] == micro[0][0] > 0
    assert (ov["workers"]["total"], ov["workers"]["on_duty"]) == tuple(workers)
    assert ov["events_open"]["by_status"] == by_status
    assert ov["events_open"]["total"] == sum(by_status.values()) >= 1
    assert sum(ov["events_open"]["by_category"].values()) == sum(by_status.values())
    assert ov["mine"]["events_reported_today"] == reported[0][0] >= 1
    assert ov["mine"]["events_reported_month"] >= reported[0][0]
    assert ov["mine"]["checkins_today"] == checkins[0][0] >= 1
    assert ov["mine"]["patrols_today"] >= 1
    assert ov["mine"]["patrol_km_today"] == pytest.approx(float(km[0][0]), abs=0.001)
    assert ov["mine"]["last_checkin"]["kind"] == last[0]


# ----------------------------------------------------------------------------- tasks


@pytest.fixture()
def assigned(api_engine, worker):
    """Two events (anywhere) assigned to the worker by SQL, open, one overdue; restored
    afterwards."""
    with api_engine.begin() as conn:
        rows = conn.execute(
            text(
                """
                SELECT e.id, e.uuid, e.assignee_id, e.status, e.due_at
                FROM event e
                WHERE coalesce(e.assignee_id, 0) <> :w AND coalesce(e.reporter_id, 0) <> :w
                ORDER BY e.id LIMIT 2
                """
            ),
            {"w": worker.id},
        ).all()
        assert len(rows) == 2
        for r, (status, due) in zip(rows, [("dispatched", "-1 day"), ("in_progress", "2 days")],
                                    strict=True):  # fmt: skip
            conn.execute(
                text("UPDATE event SET assignee_id = :w, status = :s, "
                     "due_at = now() + CAST(:d AS interval) WHERE id = :id"),
                {"w": worker.id, "s": status, "d": due, "id": r.id},
            )  # fmt: skip
    yield [str(r.uuid) for r in rows]
    with api_engine.begin() as conn:
        for r in rows:
            conn.execute(
                text("UPDATE event SET assignee_id = :a, status = :s, due_at = :d WHERE id = :id"),
                {"a": r.assignee_id, "s": r.status, "d": r.due_at, "id": r.id},
            )


def test_tasks_lists_assigned_open_events(client, api_engine, worker, assigned):
    resp = client.get("/api/v1/me/tasks", headers=worker.auth)
    assert resp.status_code == 200, resp.get_json()
    items = resp.get_json()["items"]
    with api_engine.connect() as conn:
        expected = {
            str(u)
            for (u,) in conn.execute(
                text("SELECT uuid FROM event WHERE assignee_id = :w AND status = ANY(:o)"),
                {"w": worker.id, "o": list(OPEN_STATUSES)},
            )
        }
    assert {i["uuid"] for i in items} == expected >= set(assigned)
    mine = {i["uuid"]: i for i in items}
    overdue, later = mine[assigned[0]], mine[assigned[1]]
    assert overdue["overdue"] is True and overdue["status"] == "dispatched"
    assert later["overdue"] is False and later["role"] == "assigned"
    dues = [i["due_at"] for i in items if i["due_at"]]
    assert dues == sorted(dues, key=dt.datetime.fromisoformat)


def test_tasks_paginate_and_include_reported(client, worker, assigned):
    seen, cursor = [], None
    while True:
        url = "/api/v1/me/tasks?limit=1" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=worker.auth).get_json()
        assert len(page["items"]) <= 1
        seen += [i["uuid"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    full = client.get("/api/v1/me/tasks", headers=worker.auth).get_json()["items"]
    assert seen == [i["uuid"] for i in full]

    ev = {"uuid": str(uuid.uuid4()), "category": "environment", "title": "垃圾堆放",
          "lon": worker.lon, "lat": worker.lat}  # fmt: skip
    assert client.post("/api/v1/events", json=ev, headers=worker.auth).status_code == 201
    plain = client.get("/api/v1/me/tasks", headers=worker.auth).get_json()["items"]
    withrep = client.get("/api/v1/me/tasks?include=reported&limit=200",
                         headers=worker.auth).get_json()["items"]  # fmt: skip
    assert ev["uuid"] not in {i["uuid"] for i in plain}
    assert {"uuid": ev["uuid"], "role": "reported"}.items() <= next(
        i for i in withrep if i["uuid"] == ev["uuid"]
    ).items()


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "limit=x", "cursor=-1", "include=all"])
def test_tasks_bad_query_is_400(client, worker, query):
    resp = client.get(f"/api/v1/me/tasks?{query}", headers=worker.auth)
    assert resp.status_code == 400 and resp.get_json()["field"] == query.split("=")[0]


def test_field_routes_need_a_token(client):
    for method, path in [("post", "/checkins"), ("post", "/patrols"), ("post", "/visits"),
                         ("get", "/me/overview"), ("get", "/me/tasks")]:  # fmt: skip
        assert getattr(client, method)(f"/api/v1{path}").status_code == 401
