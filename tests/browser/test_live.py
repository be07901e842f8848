"""Live layers across processes, in headless Chromium.

Two app instances run as separate gunicorn processes on different ports against one
database. The browser watches instance B; the phone API calls go to instance A. A new event
and a new GPS fix must reach the browser within 2 s (the issue's requirement; the poll period
is the default 1 s), without a reload. Also: the layers are on when a page opens and stop
polling when switched off, filters and the heatmap work on the loaded points, and a worker
click shows details and today's track.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from dashboard import ids
from geodata.tokens import create_token
from tests.browser.conftest import (
    LIVE_STATE,
    click_live_marker,
    open_app_page,
    own_commander_cookies,
    wait_for_js,
)
from tests.conftest import engine_on

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            if time.monotonic() > end:
                raise
        time.sleep(0.2)


@pytest.fixture(scope="module")
def live_db(seeded_database):
    """This module's own seeded database (with LOD; the phone API commits): (url, engine)."""
    url = seeded_database("gridcmd_live2p", lod=True)
    with engine_on(url) as eng:
        yield url, eng


@pytest.fixture(scope="module")
def two_instances(live_db, tmp_path_factory):
    """Instances A and B: separate gunicorn processes (one worker each) on two ports."""
    url, _eng = live_db
    procs, bases = [], []
    for name in ("a", "b"):
        port = _free_port()
        env = dict(
            os.environ,
            DATABASE_URL=url,
            GRIDCMD_VAR_DIR=str(tmp_path_factory.mktemp(f"var_{name}")),
            GRIDCMD_SECRET_KEY="test-secret",
            GRIDCMD_BASEMAP_URL="",
        )
        log = (tmp_path_factory.mktemp(f"log_{name}") / "gunicorn.log").open("w")
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "-w",
                    "1",
                    "--threads",
                    "4",
                    "-b",
                    f"127.0.0.1:{port}",
                    "app:server",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        )
        bases.append(f"http://127.0.0.1:{port}")
    try:
        for base in bases:
            _wait_http(base + "/healthz")
        yield bases[0], bases[1]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=15)


@pytest.fixture
def browser_cookies(two_instances, live_db) -> list[dict]:
    """Pages of this module sign in to instance B's database (overrides the conftest one,
    which would start the session database's server)."""
    _url, eng = live_db
    return own_commander_cookies(eng, two_instances[1])


@pytest.fixture(scope="module")
def reporter(live_db):
    """A worker with a position and a bearer token, and a point inside their grid."""
    _url, eng = live_db
    with eng.begin() as conn:
        w = conn.execute(
            text(
                "SELECT w.id, ST_X(ST_PointOnSurface(c.geom)) AS lon, "
                "ST_Y(ST_PointOnSurface(c.geom)) AS lat FROM grid_worker w "
                "JOIN grid_cell c ON c.id = w.cell_id "
                "WHERE w.active AND w.position IS NOT NULL ORDER BY w.id LIMIT 1"
            )
        ).one()
        _tid, token = create_token(conn, w.id, label="live test")
    return {"id": w.id, "lon": w.lon, "lat": w.lat, "token": token}


def _post(url: str, token: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, json.loads(resp.read())


def _enable_live(pg) -> None:
    pg.hover(".leaflet-control-layers")
    for name in ("事件", "网格员"):
        box = pg.locator(".leaflet-control-layers-overlays label", has_text=name).locator("input")
        box.check()
    pg.mouse.move(900, 500)


def test_live_layers_are_on_at_start_and_switch_off(two_instances, make_page):
    _a, b = two_instances
    pg = open_app_page(make_page, b)  # default settings: the live overlays are on when a page opens
    wait_for_js(pg, f"{LIVE_STATE}.shownWorkers.length > 0 && {LIVE_STATE}.shownEvents.length > 0")
    assert pg.locator(".gc-cluster, .gc-dot").count() > 0
    pg.hover(".leaflet-control-layers")
    for name in ("事件", "网格员"):
        box = pg.locator(".leaflet-control-layers-overlays label", has_text=name).locator("input")
        box.uncheck()
    pg.mouse.move(900, 500)
    wait_for_js(pg, f"{LIVE_STATE}.cursor === null")
    polls = pg.evaluate(f"{LIVE_STATE}.polls")
    assert pg.locator(".gc-cluster, .gc-dot").count() == 0
    time.sleep(2.5)  # the poll interval is off: no more requests
    assert pg.evaluate(f"{LIVE_STATE}.polls") == polls


def test_event_and_fix_posted_to_a_appear_on_b_within_2s(two_instances, reporter, live_db,
                                                         make_page):  # fmt: skip
    a, b = two_instances
    _url, eng = live_db
    pg = open_app_page(make_page, b)
    _enable_live(pg)
    wait_for_js(pg, f"{LIVE_STATE}.shownWorkers.length > 0 && {LIVE_STATE}.polls > 0")
    # At most one snapshot per overlay switched on; from then on only changes travel.
    snapshots = pg.evaluate(f"{LIVE_STATE}.snapshots")
    assert 1 <= snapshots <= 2

    ev_uuid = str(uuid.uuid4())
    status, _body = _post(
        a + "/api/v1/events",
        reporter["token"],
        {
            "uuid": ev_uuid, "category": "dispute", "difficulty": "simple",
            "title": "邻里纠纷 live test", "lon": reporter["lon"], "lat": reporter["lat"],
        },
    )  # fmt: skip
    posted = time.monotonic()
    assert status == 201
    with eng.connect() as conn:
        ev_id = conn.execute(text("SELECT id FROM event WHERE uuid = :u"), {"u": ev_uuid}).scalar()
    wait_for_js(pg, f"{LIVE_STATE}.shownEvents.includes({ev_id})", timeout=2000)
    assert time.monotonic() - posted <= 2.5  # 2 s plus the wait's own polling slack

    lon, lat = reporter["lon"] + 0.0004, reporter["lat"] + 0.0003
    fix_time = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    status, body = _post(
        a + "/api/v1/positions",
        reporter["token"],
        {"fixes": [{"fix_time": fix_time, "lon": lon, "lat": lat, "accuracy": 5}]},
    )
    assert status == 200 and body["accepted"] == 1, body
    wait_for_js(
        pg,
        f"""() => {{ const w = window.gridcmdLive.store().workers.get({reporter["id"]});
            return !!w && Math.abs(w.lon - {lon}) < 2e-5 && Math.abs(w.lat - {lat}) < 2e-5; }}""",
        timeout=2000,
    )
    assert pg.evaluate(f"{LIVE_STATE}.snapshots") == snapshots


def test_filters_and_heatmap_work_on_loaded_points(two_instances, make_page):
    _a, b = two_instances
    pg = open_app_page(make_page, b)
    _enable_live(pg)
    wait_for_js(pg, f"{LIVE_STATE}.shownEvents.length > 0")
    total = pg.evaluate(f"{LIVE_STATE}.shownEvents.length")
    pg.locator(f"#{ids.LIVE_FILTERS} summary").click()
    pg.locator(f"#{ids.LIVE_CATEGORY}").click()
    pg.locator(".Select-menu-outer, [role=listbox]", has_text="矛盾纠纷").get_by_text(
        "矛盾纠纷", exact=True
    ).click()
    wait_for_js(pg, f"{LIVE_STATE}.shownEvents.length < {total}")
    cats = pg.evaluate(
        "() => { const s = window.gridcmdLive.store(); const st = window.gridcmdLive.state;"
        " return [...new Set(st.shownEvents.map(i => s.events.get(i).category))]; }"
    )
    assert cats == ["dispute"]
    pg.keyboard.press("Escape")  # close the dropdown's menu
    pg.locator(f"#{ids.LIVE_HEAT} input").check()
    wait_for_js(pg, f"{LIVE_STATE}.heat === true")
    pg.wait_for_selector("canvas.leaflet-heatmap-layer", timeout=5000)


def test_worker_click_shows_details_and_track(two_instances, reporter, make_page):
    a, b = two_instances
    # Two fixes today, so today's track has a line and two stamped ends.
    now = time.time()
    fixes = [
        {"fix_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60 + k * 30)),
         "lon": reporter["lon"] + 0.0002 * k, "lat": reporter["lat"], "accuracy": 5}
        for k in range(2)
    ]  # fmt: skip
    status, body = _post(a + "/api/v1/positions", reporter["token"], {"fixes": fixes})
    assert status == 200 and body["accepted"] + body["duplicates"] == 2, body
    pg = open_app_page(make_page, b)
    _enable_live(pg)
    wait_for_js(pg, f"{LIVE_STATE}.shownWorkers.includes({reporter['id']})")
    pg.evaluate(
        f"""() => {{ const w = window.gridcmdLive.store().workers.get({reporter["id"]});
            window.gridcmdLive.theMap().setView([w.lat, w.lon], 18, {{animate: false}}); }}"""
    )
    click_live_marker(pg, "worker", reporter["id"], timeout=5000)
    wait_for_js(pg, f"document.querySelector('#{ids.LIVE_DETAIL} h3') !== null")
    with_name = pg.locator(f"#{ids.LIVE_DETAIL} h3").inner_text()
    assert with_name and with_name in pg.locator(f"#{ids.LIVE_PLAY_WHO}").inner_text()
    # Today's track: the line's ends are stamped, the slider's marker sits on the last fix.
    pg.wait_for_selector(".gc-dot-track", timeout=5000)
    assert pg.locator(".gc-dot-track").count() == 2
    wait_for_js(
        pg,
        f"/\\d{{4}}-\\d{{2}}-\\d{{2}} \\d{{2}}:\\d{{2}}/.test("
        f"document.querySelector('#{ids.LIVE_PLAY_TIME}').innerText)",
        timeout=5000,
    )
    assert pg.evaluate("window.gridcmdLive.state.playback.idx") >= 1
