"""Live layers in headless Chromium: events and workers appear (clustered), an event written
straight into the database through a separate connection (as another app process would)
shows up on the open page within 2 s without reload, user text renders as text (no HTML, no
dialog), clicks open details and a worker's track — without console errors."""

from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy import text

from dashboard import ids
from geodata.db import make_engine
from tests.browser.conftest import screenshot, wait_for_grid

pytestmark = pytest.mark.browser

XSS = '<img src=x onerror="window.__xss=1;alert(1)">'

LIVE_STATE_JS = """() => {
    const s = (window.gridcmdLive && window.gridcmdLive.state) || {};
    return {events: s.events || [], workers: s.workers || [], deltas: s.deltas || 0,
            trackFixes: s.trackFixes || 0};
}"""

#: JS: page point of the unclustered marker of feature ``id`` in layer ``kind``, or null.
MARKER_POINT_JS = """([kind, id]) => {
    const map = window.gridcmd.state._map;
    if (!map) return null;
    let found = null;
    map.eachLayer(l => {
        if (l.feature && l.feature.properties && l.feature.properties.id === id
            && !l.feature.properties.cluster && l.getLatLng && (l._radius !== undefined)) {
            found = l;
        }
    });
    if (!found) return null;
    const rect = map.getContainer().getBoundingClientRect();
    const p = map.latLngToContainerPoint(found.getLatLng());
    return [rect.left + p.x, rect.top + p.y];
}"""


def live_state(pg) -> dict:
    return pg.evaluate(LIVE_STATE_JS)


def wait_live(pg, predicate_js: str, timeout: float = 15_000) -> dict:
    pg.wait_for_function(
        "() => { const s = window.gridcmdLive && window.gridcmdLive.state;"
        f" return !!s && ({predicate_js}); }}",
        timeout=timeout,
    )
    return live_state(pg)


@pytest.fixture
def other_engine(db_url):
    """A second engine with its own pool: the database as another app process sees it."""
    eng = make_engine(db_url)
    yield eng
    with eng.begin() as c:
        c.execute(text("DELETE FROM event WHERE title LIKE 'live-test %'"))
    eng.dispose()


def insert_event(eng, title: str) -> tuple[int, float, float]:
    with eng.begin() as c:
        cell_id, lon, lat = c.execute(
            text(
                "SELECT id, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) "
                "FROM grid_cell WHERE level = 6 ORDER BY code LIMIT 1"
            )
        ).one()
        eid = c.execute(
            text(
                """
                INSERT INTO event (uuid, category, severity, title, description, location,
                                   cell_id, status, reported_at, version, synthetic, updated_at)
                VALUES (:u, 'dispute', 'high', :title, :title,
                        ST_SetSRID(ST_MakePoint(:x, :y), 4326), :cell, 'reported', now(), 1,
                        true, clock_timestamp())
                RETURNING id
                """
            ),
            {"u": str(uuid.uuid4()), "title": title, "x": lon, "y": lat, "cell": cell_id},
        ).scalar_one()
    return eid, lon, lat


def open_page(pg, live_url: str) -> dict:
    dialogs: list[str] = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg._gc_dialogs = dialogs  # noqa: SLF001 (test bookkeeping)
    pg.goto(live_url + "/")
    wait_for_grid(pg, "s.draws > 0 && !!s._map", timeout=30_000)
    return wait_live(pg, "s.events.length > 0 && s.workers.length > 0", timeout=30_000)


def test_events_and_workers_layers_appear(page, live_url, engine):
    st = open_page(page, live_url)
    with engine.connect() as c:
        n_events = c.execute(text("SELECT count(*) FROM event")).scalar_one()
    assert 0 < len(st["events"]) <= n_events
    # clustered: the prefecture view shows cluster badges of both kinds
    page.wait_for_selector(".gc-cluster-events", timeout=10_000)
    page.wait_for_selector(".gc-cluster-workers", timeout=10_000)
    assert page.locator(f"#{ids.LIVE_FILTERS}").count() == 1
    screenshot(page, "live-layers")
    # filters: open the overlay, switch on the density ("heat") style → the layer redraws
    page.locator(f"#{ids.LIVE_FILTERS} summary").click()
    page.locator(f"#{ids.LIVE_HEAT} input").check()
    page.wait_for_function(
        "() => { let big = false; window.gridcmd.state._map.eachLayer(l => {"
        " if (l._gcLive && l._radius === 22) big = true; }); return big; }",
        timeout=10_000,
    )
    # the time range is a plain radio list (a callback reloads the layer)
    page.locator(f"#{ids.LIVE_RANGE} input[value='24h']").check()
    screenshot(page, "live-filters")


def test_new_event_appears_within_2s_and_title_is_text(page, live_url, other_engine):
    open_page(page, live_url)
    # let the first poll settle (cursor handed out), then write from "another process"
    page.wait_for_timeout(1500)
    title = f"live-test {XSS}"
    t0 = time.monotonic()
    eid, lon, lat = insert_event(other_engine, title)
    wait_live(page, f"s.events.indexOf({eid}) !== -1", timeout=2_500)
    elapsed = time.monotonic() - t0
    assert elapsed <= 2.0, f"event took {elapsed:.2f} s to reach the page"

    # zoom onto it (past the cluster max zoom) and hover/click the marker
    page.evaluate(
        f"() => window.gridcmd.state._map.setView([{lat}, {lon}], 18, {{animate: false}})"
    )
    page.wait_for_function(
        "([id]) => { let ok = false; window.gridcmd.state._map.eachLayer(l => {"
        " if (l.feature && l.feature.properties.id === id && l._radius !== undefined) ok = true;"
        " }); return ok; }",
        arg=[eid],
        timeout=10_000,
    )
    pt = page.evaluate(MARKER_POINT_JS, ["events", eid])
    assert pt is not None
    page.mouse.move(*pt)
    tooltip = page.locator(".gc-live-tooltip").first
    tooltip.wait_for(timeout=5_000)
    assert XSS in tooltip.inner_text()
    assert tooltip.locator("img").count() == 0
    page.mouse.click(*pt)
    detail = page.locator(f"#{ids.LIVE_DETAIL} h3")
    detail.wait_for(timeout=5_000)
    assert detail.inner_text() == title
    assert page.locator(f"#{ids.LIVE_DETAIL} img").count() == 0
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.__xss") is None
    assert page._gc_dialogs == []  # noqa: SLF001
    screenshot(page, "live-event-detail")


def test_click_worker_shows_details_and_todays_track(page, live_url, engine):
    with engine.connect() as c:
        w = c.execute(
            text(
                "SELECT w.id, w.name, ST_X(w.position) AS lon, ST_Y(w.position) AS lat "
                "FROM grid_worker w WHERE w.position IS NOT NULL AND w.active "
                "ORDER BY w.id LIMIT 1"
            )
        ).one()
        original = c.execute(
            text("SELECT last_fix_at FROM grid_worker WHERE id = :id"), {"id": w.id}
        ).scalar_one()
    try:
        # two fixes today, so "today's track" has a line
        with engine.begin() as c:
            c.execute(
                text(
                    "INSERT INTO worker_position (worker_id, fix_time, geom, source) VALUES "
                    "(:id, now() - interval '2 minutes', ST_SetSRID(ST_MakePoint(:x, :y), 4326),"
                    " 'simulated'), (:id, now() - interval '1 minute', "
                    "ST_SetSRID(ST_MakePoint(:x + 0.001, :y + 0.001), 4326), 'simulated')"
                ),
                {"id": w.id, "x": w.lon, "y": w.lat},
            )
        open_page(page, live_url)
        page.evaluate(
            f"() => window.gridcmd.state._map.setView([{w.lat}, {w.lon}], 18, {{animate: false}})"
        )
        page.wait_for_function(
            "([id]) => { let ok = false; window.gridcmd.state._map.eachLayer(l => {"
            " if (l.feature && l.feature.properties.id === id && l._radius !== undefined"
            " && l.feature.properties.fix_age_s !== undefined) ok = true; }); return ok; }",
            arg=[w.id],
            timeout=10_000,
        )
        pt = page.evaluate(
            """([id]) => { const map = window.gridcmd.state._map; let f = null;
            map.eachLayer(l => { const p = l.feature && l.feature.properties;
                if (p && p.id === id && p.fix_age_s !== undefined && l._radius !== undefined)
                    f = l; });
            const r = map.getContainer().getBoundingClientRect();
            const p = map.latLngToContainerPoint(f.getLatLng());
            return [r.left + p.x, r.top + p.y]; }""",
            [w.id],
        )
        page.mouse.click(*pt)
        detail = page.locator(f"#{ids.LIVE_DETAIL} h3")
        detail.wait_for(timeout=5_000)
        assert detail.inner_text() == w.name
        wait_live(page, "s.trackFixes >= 2", timeout=5_000)
        screenshot(page, "live-worker-track")
        # patrol playback: another period for the same worker redraws its track
        page.locator(f"#{ids.LIVE_FILTERS} summary").click()
        page.locator(f"#{ids.LIVE_TRACK_RANGE} input[value='7d']").check()
        page.locator(f"#{ids.LIVE_DETAIL}", has_text="最近7天").wait_for(timeout=5_000)
        assert page.locator(f"#{ids.LIVE_DETAIL} h3").inner_text() == w.name
        wait_live(page, "s.trackFixes >= 2", timeout=5_000)
    finally:
        with engine.begin() as c:
            c.execute(
                text(
                    "DELETE FROM worker_position WHERE worker_id = :id AND source = 'simulated' "
                    "AND fix_time > now() - interval '1 hour'"
                ),
                {"id": w.id},
            )
            c.execute(
                text("UPDATE grid_worker SET last_fix_at = :t WHERE id = :id"),
                {"t": original, "id": w.id},
            )
