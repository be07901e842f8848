"""POST /api/v1/events answers the possible duplicates of the report (geodata.duplicates).

Every test reports around its own spot (deep inside the worker's county, 700 m from any other
test's), so the events of other tests (the session's API database is shared) lie outside the
300 m radius and cannot show up; times are twenty days back, inside the phone API's 30-day
window for client times and far from the demo's events."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
import uuid

import pytest
from pyproj import Geod
from sqlalchemy import text

import api.v1.events
from api.v1.schemas import MAX_POSSIBLE_DUPLICATES, PossibleDuplicateOut

GEOD = Geod(ellps="WGS84")
#: Each test gets its own place: one of nine points 700 m apart (the radius is 300 m), so its
#: reports never meet another test's. Times are inside the phone API's 30-day window.
_SPOTS = itertools.count()
_GRID_M = 700.0
ITEM_KEYS = {"id", "uuid", "category", "subcategory", "status", "distance_m", "reported_at",
             "own"}  # fmt: skip
# (no phone or ID numbers: the reporter's own answer echoes them, and the session-wide scan of
# responses for personal data would rightly flag that)
SECRET_TITLE = "张三家门口纠纷 title-7f3a"
SECRET_TEXT = "李四反映 description-7f3a"
SECRET_SUB = "王五宅基地 sub-9c1e"


@pytest.fixture(scope="module")
def centre(api_engine, workers) -> tuple[float, float]:
    """The point deepest inside the first worker's county (≥ 2 km from its border)."""
    county = ".".join(workers[0].grid_path.split(".")[:2])
    with api_engine.connect() as conn:
        x, y, r = conn.execute(
            text(
                """
                SELECT ST_X(m.center), ST_Y(m.center), ST_Distance(m.center::geography,
                       ST_Boundary(c.geom)::geography)
                FROM grid_cell c, ST_MaximumInscribedCircle(c.geom) m
                WHERE c.path = CAST(:p AS ltree)
                """
            ),
            {"p": county},
        ).one()
    assert r > 2_000, r
    return x, y


@pytest.fixture()
def spot(centre) -> tuple[float, float]:
    """This test's own point: a 3 × 3 grid around ``centre`` (≤ 990 m from it, so ≥ 1 km
    inside the county with a 300 m circle around it)."""
    k = next(_SPOTS)
    assert k < 9, "more tests than places: widen the grid"
    dx, dy = (k % 3 - 1) * _GRID_M, (k // 3 - 1) * _GRID_M
    lon, lat, _ = GEOD.fwd(centre[0], centre[1], 90.0, dx) if dx else (*centre, 0)
    lon, lat, _ = GEOD.fwd(lon, lat, 0.0, dy) if dy else (lon, lat, 0)
    return lon, lat


@pytest.fixture()
def t0() -> dt.datetime:
    """Twenty days ago on the hour: every report of a test (t0 ± 80 h) is inside the phone
    API's 30-day window for client times."""
    now = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    return now - dt.timedelta(days=20)


def at(spot, metres: float = 0.0, azimuth: float = 90.0) -> tuple[float, float]:
    if not metres:
        return spot
    lon, lat, _ = GEOD.fwd(spot[0], spot[1], azimuth, metres)
    return lon, lat


def report(point, when: dt.datetime, **over) -> dict:
    body = {
        "uuid": str(uuid.uuid4()),
        "category": "dispute",
        "subcategory": "邻里纠纷",
        "title": "宅基地边界争执",
        "description": "需要调解",
        "lon": point[0],
        "lat": point[1],
        "reported_at": when.isoformat(),
    }
    body.update(over)
    return body


def post(client, worker, body):
    return client.post("/api/v1/events", json=body, headers=worker.auth)


def created(client, worker, body) -> dict:
    resp = post(client, worker, body)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def event_id(api_engine, ev_uuid: str) -> int:
    with api_engine.connect() as conn:
        sql = text("SELECT id FROM event WHERE uuid = :u")
        return conn.execute(sql, {"u": ev_uuid}).scalar_one()


def set_status(api_engine, ev_uuid: str, status: str, merged_into: str | None = None) -> None:
    with api_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE event SET status = :s, merged_into_id = (SELECT id FROM event "
                "WHERE uuid = CAST(:m AS uuid)) WHERE uuid = :u"
            ),
            {"s": status, "m": merged_into, "u": ev_uuid},
        )


def test_second_report_lists_the_first(client, api_engine, workers, spot, t0):
    a, b = workers
    first = created(client, b, report(spot, t0, title=SECRET_TITLE, description=SECRET_TEXT,
                                      subcategory=SECRET_SUB))  # fmt: skip
    assert first["possible_duplicates"] == [] and first["duplicates_checked"] is True

    second = created(client, a, report(at(spot, 100), t0 + dt.timedelta(hours=3)))
    assert second["duplicates_checked"] is True
    assert second["status"] == "reported" and second["title"] == "宅基地边界争执"  # own: full
    (dup,) = second["possible_duplicates"]
    assert set(dup) == ITEM_KEYS
    assert dup == {
        "id": event_id(api_engine, first["uuid"]),
        "uuid": first["uuid"],
        "category": "dispute",
        "subcategory": None,  # free text: only of one's own reports
        "status": "reported",
        "distance_m": 100,
        "reported_at": dt.datetime.fromisoformat(first["reported_at"]).isoformat(),
        "own": False,
    }
    assert dt.datetime.fromisoformat(dup["reported_at"]) == t0
    PossibleDuplicateOut.model_validate(dup)
    # nothing of the other worker's report beyond the listed fields
    listed = created(client, a, report(at(spot, 50), t0))
    assert first["uuid"] in [d["uuid"] for d in listed["possible_duplicates"]]
    raw = json.dumps(listed, ensure_ascii=False)  # the answer is ASCII-escaped JSON
    for secret in ("张三", "李四", "7f3a", SECRET_SUB):
        assert secret not in raw

    # the first reporter now sees the second report (and their own first one is flagged)
    third = created(client, b, report(at(spot, 20, 270), t0 + dt.timedelta(hours=5)))
    got = {d["uuid"]: d for d in third["possible_duplicates"]}
    assert got[first["uuid"]]["own"] is True and got[first["uuid"]]["distance_m"] == 20
    assert got[first["uuid"]]["subcategory"] == SECRET_SUB  # one's own report: in full
    assert got[second["uuid"]]["own"] is False and got[second["uuid"]]["distance_m"] == 120
    assert got[second["uuid"]]["subcategory"] is None
    assert third["uuid"] not in got


def test_only_open_same_category_near_and_recent(client, api_engine, worker, spot, t0):
    hour = dt.timedelta(hours=1)
    base = created(client, worker, report(spot, t0))
    edge = created(client, worker, report(at(spot, 290, 0), t0 + 70 * hour))
    other_cat = created(client, worker, report(at(spot, 10), t0, category="environment",
                                                subcategory=None))  # fmt: skip
    too_far = created(client, worker, report(at(spot, 320, 180), t0))
    too_old = created(client, worker, report(at(spot, 10, 0), t0 - 80 * hour))
    too_new = created(client, worker, report(at(spot, 10, 0), t0 + 80 * hour))
    closed = created(client, worker, report(at(spot, 15), t0))
    rejected = created(client, worker, report(at(spot, 15), t0))
    merged = created(client, worker, report(at(spot, 15), t0))
    set_status(api_engine, closed["uuid"], "closed")
    set_status(api_engine, rejected["uuid"], "rejected")
    set_status(api_engine, merged["uuid"], "closed", merged_into=base["uuid"])

    new = created(client, worker, report(at(spot, 5, 180), t0 + 2 * hour))
    listed = [d["uuid"] for d in new["possible_duplicates"]]
    assert listed == [base["uuid"], edge["uuid"]]
    assert new["uuid"] not in listed
    for absent in (other_cat, too_far, too_old, too_new, closed, rejected, merged):
        assert absent["uuid"] not in listed
    assert [d["own"] for d in new["possible_duplicates"]] == [True, True]
    assert new["possible_duplicates"][1]["distance_m"] in (294, 295)
    # the other category has its own duplicates only
    env = created(client, worker, report(at(spot, 12), t0, category="environment",
                                         subcategory=None))  # fmt: skip
    assert [d["uuid"] for d in env["possible_duplicates"]] == [other_cat["uuid"]]
    assert env["possible_duplicates"][0]["subcategory"] is None


def test_capped_nearest_first(client, worker, spot, t0):
    metres = [250, 30, 200, 120, 60, 290, 10]
    for i, m in enumerate(metres):
        created(client, worker, report(at(spot, m, 45 * i), t0 + dt.timedelta(minutes=i)))
    new = created(client, worker, report(spot, t0 + dt.timedelta(hours=1)))
    dups = new["possible_duplicates"]
    assert len(dups) == MAX_POSSIBLE_DUPLICATES == 5
    assert [d["distance_m"] for d in dups] == sorted(metres)[:5]


def test_replay_answers_the_same_shape_recomputed(client, worker, spot, t0):
    first = created(client, worker, report(spot, t0))
    body = report(at(spot, 40), t0)
    ev = created(client, worker, body)
    assert [d["uuid"] for d in ev["possible_duplicates"]] == [first["uuid"]]

    again = post(client, worker, body)
    assert again.status_code == 200 and again.get_json() == ev
    # a report arriving later shows in the next replay's answer
    later = created(client, worker, report(at(spot, 45), t0 + dt.timedelta(hours=1)))
    again = post(client, worker, body)
    assert again.status_code == 200
    replayed = again.get_json()
    assert set(replayed) == set(ev) and replayed["duplicates_checked"] is True
    assert [d["uuid"] for d in replayed["possible_duplicates"]] == [later["uuid"], first["uuid"]]
    assert {k: v for k, v in replayed.items() if k != "possible_duplicates"} == {
        k: v for k, v in ev.items() if k != "possible_duplicates"
    }


def test_multipart_carries_it(client, worker, spot, t0):
    from PIL import Image

    first = created(client, worker, report(spot, t0))
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 120, 200)).save(buf, "PNG")
    body = report(at(spot, 100, 0), t0)
    data = {"report": json.dumps(body, ensure_ascii=False),
            "photos": [(io.BytesIO(buf.getvalue()), "a.png")]}  # fmt: skip
    resp = client.post("/api/v1/events", data=data, headers=worker.auth,
                       content_type="multipart/form-data")  # fmt: skip
    assert resp.status_code == 201, resp.get_json()
    ev = resp.get_json()
    assert len(ev["photos"]) == 1 and ev["duplicates_checked"] is True
    assert [(d["uuid"], d["distance_m"]) for d in ev["possible_duplicates"]] == [
        (first["uuid"], 100)
    ]
    again = client.post("/api/v1/events", data={"report": json.dumps(body, ensure_ascii=False)},
                        headers=worker.auth, content_type="multipart/form-data")  # fmt: skip
    assert again.status_code == 200
    assert again.get_json()["possible_duplicates"] == ev["possible_duplicates"]


def test_outside_the_workers_county_nothing_is_listed(client, api_engine, workers, t0):
    """The lookup's scope is the reporting worker's county (from the token)."""
    a, b = workers
    county = ".".join(a.grid_path.split(".")[:2])
    with api_engine.connect() as conn:
        x, y = conn.execute(
            text(
                """
                SELECT ST_X(m.center), ST_Y(m.center)
                FROM grid_cell c, ST_MaximumInscribedCircle(c.geom) m
                WHERE c.level = 2 AND c.path <> CAST(:p AS ltree) ORDER BY c.code LIMIT 1
                """
            ),
            {"p": county},
        ).one()
    first = created(client, b, report((x, y), t0))
    ev = created(client, a, report(at((x, y), 50), t0))
    assert ev["possible_duplicates"] == [] and ev["duplicates_checked"] is True
    assert first["uuid"] not in json.dumps(ev)


def test_a_failed_lookup_still_answers_201_stored(client, api_engine, worker, spot, t0,
                                                  monkeypatch, caplog):  # fmt: skip
    created(client, worker, report(spot, t0))

    def broken(*_a, **_k):
        raise RuntimeError("database went away after the commit")

    monkeypatch.setattr(api.v1.events, "find_duplicates", broken)
    body = report(at(spot, 30), t0)
    resp = post(client, worker, body)
    assert resp.status_code == 201
    ev = resp.get_json()
    assert ev["possible_duplicates"] == [] and ev["duplicates_checked"] is False
    assert ev["uuid"] == body["uuid"] and ev["status"] == "reported"
    assert "lookup failed" in caplog.text
    event_id(api_engine, body["uuid"])  # stored
    mp = client.post("/api/v1/events", data={"report": json.dumps(report(spot, t0))},
                     headers=worker.auth, content_type="multipart/form-data")  # fmt: skip
    assert mp.status_code == 201 and mp.get_json()["duplicates_checked"] is False

    monkeypatch.undo()  # the resend of the stored report finds them
    again = post(client, worker, body)
    assert again.status_code == 200 and again.get_json()["duplicates_checked"] is True
    assert len(again.get_json()["possible_duplicates"]) == 2


def test_documented_in_openapi(client, worker):
    doc = client.get("/api/v1/openapi.json", headers=worker.auth).get_json()
    op = doc["paths"]["/api/v1/events"]["post"]
    for status in ("200", "201"):
        ref = op["responses"][status]["content"]["application/json"]["schema"]["$ref"]
        assert ref == "#/components/schemas/EventReportOut"
    out = doc["components"]["schemas"]["EventReportOut"]
    assert {"possible_duplicates", "duplicates_checked"} <= set(out["required"])
    assert out["properties"]["possible_duplicates"]["maxItems"] == MAX_POSSIBLE_DUPLICATES
    item = doc["components"]["schemas"]["PossibleDuplicateOut"]
    assert set(item["properties"]) == ITEM_KEYS and "title" not in item["properties"]
