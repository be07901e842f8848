"""Spatial dispatch from the map, in headless Chromium.

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

import pytest
from sqlalchemy import text

from dashboard import ids
from gridcmd.settings import Settings
from tests.browser.conftest import (
    LIVE_STATE,
    click_live_marker,
    live_marker_js,
    open_app_page,
    own_commander_cookies,
    screenshot,
    wait_for_js,
)
from tests.conftest import engine_on, serve

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def dispatch_db(seeded_database):
    """This module's own seeded database (with LOD; the dispatch commits): (url, engine)."""
    url = seeded_database("gridcmd_dispatch", lod=True)
    with engine_on(url) as eng:
        yield url, eng


@pytest.fixture(scope="module")
def dispatch_url(dispatch_db, tmp_path_factory):
    """This module's app on a free localhost port (a background thread)."""
    from app import create_app

    url, eng = dispatch_db
    settings = Settings(
        DATABASE_URL=url, secret_key="test-secret", basemap_url=None,
        var_dir=tmp_path_factory.mktemp("dispatch_var"), live_on_start=True,
    )  # fmt: skip
    with serve(create_app(settings, engine=eng).server) as base_url:
        yield base_url


@pytest.fixture
def browser_cookies(dispatch_url, dispatch_db) -> list[dict]:
    """Pages of this module sign in to this module's server as a prefecture commander."""
    _url, eng = dispatch_db
    return own_commander_cookies(eng, dispatch_url)


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


def test_click_event_dispatch_first_candidate(make_page, dispatch_url, target, dispatch_db):
    _url, eng = dispatch_db
    pg = open_app_page(make_page, dispatch_url)
    wait_for_js(pg, f"{LIVE_STATE}.shownEvents.includes({target['id']})", timeout=15_000)
    # Centre the event at the top-left quarter (clear of the panels) at street zoom.
    pg.evaluate(
        f"""() => {{ const m = window.gridcmdLive.theMap();
            m.setView([{target["lat"]}, {target["lon"]}], 18, {{animate: false}});
            m.panBy([160, 120], {{animate: false}}); }}"""
    )
    click_live_marker(pg, "event", target["id"], timeout=10_000)

    # The case panel: status, candidates ranked with a one-click 派遣, markers on the map.
    panel = pg.locator(f"#{ids.CASE_PANEL}")
    panel.wait_for(state="visible", timeout=10_000)
    pick = pg.locator(f"#{ids.CASE_CANDIDATES} button.gc-case-pick").first
    pick.wait_for(state="visible", timeout=10_000)
    assert "已上报" in pg.locator(f"#{ids.CASE_SUMMARY}").inner_text()
    assert pg.locator(f"#{ids.CASE_CANDIDATES} tbody tr").count() >= 1
    wait_for_js(pg, "document.querySelectorAll('.leaflet-marker-icon.gc-cand').length > 0")
    assert pg.locator(".leaflet-marker-icon.gc-case-ring").count() == 1
    assert pick.inner_text() == "派遣"
    screenshot(pg, "dispatch-candidates")

    pick.click()
    wait_for_js(
        pg,
        f"document.querySelector('#{ids.CASE_SUMMARY}').innerText.includes('已派遣')",
        timeout=10_000,
    )
    assert "已完成" in pg.locator(f"#{ids.CASE_MESSAGE}").inner_text()
    # A live countdown to the due time, ticking in the page.
    countdown = pg.locator(f"#{ids.CASE_SUMMARY} .gc-countdown")
    assert countdown.count() == 1 and "剩余" in countdown.inner_text()
    wait_for_js(pg, "window.gridcmdCases.state.countdowns > 1", timeout=5000)
    screenshot(pg, "dispatch-done")
    with eng.connect() as conn:
        status, assignee = conn.execute(
            text("SELECT status, assignee_id FROM event WHERE id = :e"), {"e": target["id"]}
        ).one()
    assert status == "dispatched" and assignee is not None

    # The live layer picked the change up by itself: the marker now says "dispatched".
    wait_for_js(
        pg,
        f"window.gridcmdLive.store().events.get({target['id']}).status === 'dispatched'",
        timeout=5000,
    )
    wait_for_js(pg, live_marker_js("event", target["id"], "dispatched"), timeout=5000)

    # Closing the panel clears the candidate markers.
    pg.locator(f"#{ids.CASE_CLOSE}").click()
    panel.wait_for(state="hidden", timeout=5000)
    wait_for_js(pg, "document.querySelectorAll('.leaflet-marker-icon.gc-cand').length === 0")
