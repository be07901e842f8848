"""Spatial dispatch from the map (issue 6 §3), in headless Chromium.

A commander clicks a reported event's marker on the live layer → the case panel opens with
the ranked candidate workers (highlighted on the map with their ranks) and a countdown-free
status line → one click on the first candidate's 派遣 → the panel shows 已派遣 with a live
countdown to the due time, and the event's marker on the live layer turns to "dispatched"
by itself (the change feed), without a reload. Closing the panel clears the candidate
markers.

The module runs its own app against its own fixture database (the dispatch is committed), so
the session database and the other browser tests are unaffected.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from werkzeug.serving import make_server

from dashboard import ids
from geodata import migrate
from geodata.db import make_engine
from geodata.demo.load import seed_demo
from geodata.lod import build_lod
from gridcmd.settings import Settings
from tests.browser.conftest import screenshot
from tests.conftest import FIXTURE_NOW, FIXTURE_SCALE, FIXTURE_SEED

pytestmark = pytest.mark.browser
STATE = "window.gridcmdLive && window.gridcmdLive.state"


@pytest.fixture(scope="module")
def dispatch_db(make_database):
    url = make_database("gridcmd_dispatch")
    eng = make_engine(url)
    migrate.upgrade(eng)
    seed_demo(eng, seed=FIXTURE_SEED, scale=FIXTURE_SCALE, now=FIXTURE_NOW)
    build_lod(eng)
    yield url, eng
    eng.dispose()


@pytest.fixture(scope="module")
def dispatch_url(dispatch_db, tmp_path_factory):
    """This module's app on a free localhost port (a background thread)."""
    from app import create_app

    url, eng = dispatch_db
    settings = Settings(
        DATABASE_URL=url, secret_key="test-secret", basemap_url=None,
        var_dir=tmp_path_factory.mktemp("dispatch_var"), live_on_start=True,
    )  # fmt: skip
    app = create_app(settings, engine=eng)
    srv = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def browser_cookies(dispatch_url, dispatch_db) -> list[dict]:
    """Pages of this module sign in to this module's server as a prefecture commander."""
    from api.auth import SESSION_COOKIE
    from tests.conftest import ensure_accounts, session_token

    _url, eng = dispatch_db
    ensure_accounts(eng, {"t_commander": ("commander", "532900")})
    return [
        {"name": SESSION_COOKIE, "value": session_token(eng, "t_commander"), "url": dispatch_url,
         "httpOnly": True, "sameSite": "Lax"}
    ]  # fmt: skip


@pytest.fixture(scope="module")
def target(dispatch_db) -> dict:
    """A reported event alone at its spot (no other event within ~50 m), with active
    workers in its county."""
    _url, eng = dispatch_db
    with eng.connect() as conn:
        row = conn.execute(
            text(
                """
                SELECT e.id, ST_X(e.location) AS lon, ST_Y(e.location) AS lat
                FROM event e
                WHERE e.status = 'reported' AND NOT EXISTS (
                    SELECT 1 FROM event o WHERE o.id <> e.id
                    AND ST_DWithin(o.location::geography, e.location::geography, 50))
                ORDER BY e.id LIMIT 1
                """
            )
        ).one()
    return {"id": row.id, "lon": row.lon, "lat": row.lat}


def _wait_for(pg, predicate: str, **kw):
    """``pg.wait_for_function`` with the predicate as a function (the CSP forbids eval)."""
    if not predicate.lstrip().startswith(("(", "function")):
        predicate = f"() => ({predicate})"
    return pg.wait_for_function(predicate, **kw)


def _marker_js(event_id: int, status: str | None = None) -> str:
    cond = f" && l.feature.properties.status === '{status}'" if status else ""
    return f"""() => {{ let el = null; window.gridcmdLive.theMap().eachLayer(l => {{
        if (l.feature && l.feature.properties && l.feature.properties.id === {event_id}
            && !l.feature.properties.cluster && l._icon{cond}
            && l._icon.classList.contains('gc-dot-event')) el = l._icon; }}); return el; }}"""


def test_click_event_dispatch_first_candidate(make_page, dispatch_url, target, dispatch_db):
    _url, eng = dispatch_db
    pg = make_page(1280, 800)
    pg.goto(dispatch_url + "/")
    _wait_for(pg, "window.gridcmd && window.gridcmd.state && window.gridcmd.state.draws > 0")
    _wait_for(pg, f"{STATE}.shownEvents.includes({target['id']})", timeout=15_000)
    # Centre the event at the top-left quarter (clear of the panels) at street zoom.
    pg.evaluate(
        f"""() => {{ const m = window.gridcmdLive.theMap();
            m.setView([{target["lat"]}, {target["lon"]}], 18, {{animate: false}});
            m.panBy([160, 120], {{animate: false}}); }}"""
    )
    # Find and click in one step: the live layer may re-render its markers at any poll.
    _wait_for(
        pg,
        f"() => {{ const el = ({_marker_js(target['id'])})(); if (el) el.click(); return !!el; }}",
        timeout=10_000,
    )

    # The case panel: status, candidates ranked with a one-click 派遣, markers on the map.
    panel = pg.locator(f"#{ids.CASE_PANEL}")
    panel.wait_for(state="visible", timeout=10_000)
    pick = pg.locator(f"#{ids.CASE_CANDIDATES} button.gc-case-pick").first
    pick.wait_for(state="visible", timeout=10_000)
    assert "已上报" in pg.locator(f"#{ids.CASE_SUMMARY}").inner_text()
    assert pg.locator(f"#{ids.CASE_CANDIDATES} tbody tr").count() >= 1
    _wait_for(pg, "document.querySelectorAll('.leaflet-marker-icon.gc-cand').length > 0")
    assert pg.locator(".leaflet-marker-icon.gc-case-ring").count() == 1
    assert pick.inner_text() == "派遣"
    screenshot(pg, "dispatch-candidates")

    pick.click()
    _wait_for(
        pg,
        f"document.querySelector('#{ids.CASE_SUMMARY}').innerText.includes('已派遣')",
        timeout=10_000,
    )
    assert "已完成" in pg.locator(f"#{ids.CASE_MESSAGE}").inner_text()
    # A live countdown to the due time, ticking in the page.
    countdown = pg.locator(f"#{ids.CASE_SUMMARY} .gc-countdown")
    assert countdown.count() == 1 and "剩余" in countdown.inner_text()
    _wait_for(pg, "window.gridcmdCases.state.countdowns > 1", timeout=5000)
    screenshot(pg, "dispatch-done")
    with eng.connect() as conn:
        status, assignee = conn.execute(
            text("SELECT status, assignee_id FROM event WHERE id = :e"), {"e": target["id"]}
        ).one()
    assert status == "dispatched" and assignee is not None

    # The live layer picked the change up by itself: the marker now says "dispatched".
    _wait_for(
        pg,
        f"window.gridcmdLive.store().events.get({target['id']}).status === 'dispatched'",
        timeout=5000,
    )
    _wait_for(pg, _marker_js(target["id"], "dispatched"), timeout=5000)

    # Closing the panel clears the candidate markers.
    pg.locator(f"#{ids.CASE_CLOSE}").click()
    panel.wait_for(state="hidden", timeout=5000)
    _wait_for(pg, "document.querySelectorAll('.leaflet-marker-icon.gc-cand').length === 0")
