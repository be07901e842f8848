"""The dashboard's live routes (api/live.py): snapshot, change feed, 204 via LISTEN, errors."""

from __future__ import annotations

import gzip
import json
import time

import pytest
from sqlalchemy import text

from geodata import live


@pytest.fixture(scope="module")
def live_app(settings, engine):
    from app import create_app

    return create_app(settings, engine=engine).server


@pytest.fixture()
def web(live_app, accounts):
    from tests.conftest import login

    c = live_app.test_client()
    assert login(c, "t_commander").status_code == 303
    return c


def test_snapshot_is_gzip_json_with_cursor(web, engine):
    resp = web.get("/live/snapshot?kinds=events,workers", headers={"Accept-Encoding": "gzip"})
    assert resp.status_code == 200
    assert resp.headers["Content-Encoding"] == "gzip"
    assert resp.headers["Cache-Control"] == "no-store"
    data = json.loads(gzip.decompress(resp.data))
    with engine.connect() as conn:
        assert data["cursor"] == live.latest_change_id(conn)
        n_workers = conn.execute(
            text("SELECT count(*) FROM grid_worker WHERE active AND position IS NOT NULL")
        ).scalar_one()
    assert len(data["workers"]["i"]) == n_workers
    assert set(data["events"]) >= {"i", "x", "y", "k", "s", "v", "t", "o"}
    assert data["vocabulary"]["categories"][0] == "dispute"


def test_snapshot_of_one_kind(web):
    data = web.get("/live/snapshot?kinds=workers").get_json()
    assert "workers" in data and "events" not in data


@pytest.mark.parametrize(
    "query",
    ["kinds=cameras", "kinds=events,events,workers", "kinds=,", "kinds=%3Cscript%3E"],
)
def test_snapshot_rejects_bad_kinds(web, query):
    resp = web.get(f"/live/snapshot?{query}")
    assert resp.status_code == 400
    assert resp.get_json()["error"] == "invalid"


@pytest.mark.parametrize("cursor", ["", "x", "-1", "1.5", "9" * 30, "1e3"])
def test_changes_rejects_bad_cursor(web, cursor):
    resp = web.get(f"/live/changes?cursor={cursor}")
    assert resp.status_code == 400
    assert "cursor" in resp.get_json()["detail"]


def test_changes_without_news_is_204_once_the_listener_caught_up(web, engine):
    with engine.connect() as conn:
        top = live.latest_change_id(conn)
    statuses = []
    for _ in range(50):  # the listener thread connects on the first request
        resp = web.get(f"/live/changes?cursor={top}")
        statuses.append(resp.status_code)
        if resp.status_code == 204:
            break
        assert resp.status_code == 200 and resp.get_json()["cursor"] == top
        time.sleep(0.1)
    assert statuses[-1] == 204
    assert web.get(f"/live/changes?cursor={top}").data == b""


def _heard(app, top: int) -> None:
    """Wait (bounded) until this process's listener announced change ``top``."""
    web_listener = app.blueprints["live"].listener
    web_listener.start()
    for _ in range(100):
        if (web_listener.latest() or 0) >= top:
            return
        time.sleep(0.05)


def test_changes_behind_returns_rows_and_far_behind_asks_reset(live_app, web, engine):
    with engine.connect() as conn:
        top = live.latest_change_id(conn)
    _heard(live_app, top)
    resp = web.get(f"/live/changes?cursor={max(0, top - 1)}")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["cursor"] == top
    assert "workers" in body or "events" in body
    # Far behind (rows inserted by a committed statement, then removed again).
    with engine.begin() as conn:
        first = conn.execute(
            text(
                "INSERT INTO live_change (kind, ids) SELECT 'event', ARRAY[]::bigint[] "
                "FROM generate_series(1, :n) RETURNING id"
            ),
            {"n": live.MAX_CHANGE_ROWS + 1},
        ).scalars().all()  # fmt: skip
        conn.execute(text("SELECT pg_notify(:ch, :id)"), {"ch": live.CHANNEL, "id": str(first[-1])})
    try:
        for _ in range(50):  # until this process's listener heard of the new rows
            resp = web.get(f"/live/changes?cursor={top}")
            if resp.status_code != 204:
                break
            time.sleep(0.1)
        assert resp.status_code == 200
        assert resp.get_json()["reset"] is True
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM live_change WHERE id = ANY(:ids)"), {"ids": first})


def test_unknown_live_route_is_404(web):
    assert web.get("/live/nothing").status_code == 404


def test_identical_polls_share_one_computed_delta(live_app, web, engine):
    cache = live_app.blueprints["live"].delta_cache
    with engine.begin() as conn:  # a committed change, announced to the listener
        conn.execute(text("UPDATE grid_worker SET last_fix_at = last_fix_at WHERE id = 1"))
        top = live.latest_change_id(conn)
    _heard(live_app, top)
    hits = cache.hits
    first = web.get(f"/live/changes?cursor={top - 1}")
    second = web.get(f"/live/changes?cursor={top - 1}")
    assert first.status_code == second.status_code == 200
    assert first.get_json() == second.get_json()
    assert first.get_json()["cursor"] == top
    assert cache.hits == hits + 1
