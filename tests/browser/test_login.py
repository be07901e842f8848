"""Sign-in in headless Chromium: the form, the redirect back to the deep link, the HttpOnly
cookie, sign-out; the page's CSP holds (no console errors); an XSS payload in the login page's
``next``/username echo and in an event title shown in the live details panel never runs."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest
from playwright.sync_api import Error as PlaywrightError
from sqlalchemy import text

from dashboard import ids
from tests.browser.conftest import LIVE_STATE, _new_page, close_and_check, live_marker_js
from tests.conftest import TEST_PASSWORD

pytestmark = pytest.mark.browser
PAYLOAD = "<img src=x onerror=window.__pwned=1>"


@pytest.fixture
def anon_page(browser, page_log, live_url, accounts):
    """A page with no session (same console/external-request checks as ``page``)."""
    context, pg = _new_page(browser, page_log, 1280, 800)
    yield pg
    close_and_check([context], page_log)


def _submit(pg, username: str, password: str) -> None:
    pg.fill("#username", username)
    pg.fill("#password", password)
    pg.click("button[type=submit]")


def test_sign_in_returns_to_the_deep_link_with_an_httponly_cookie(anon_page, live_url):
    pg = anon_page
    pg.goto(f"{live_url}/?cell=532901")
    assert "/login?next=" in pg.url
    assert pg.locator("html").get_attribute("lang") == "zh-CN"
    _submit(pg, "t_commander", TEST_PASSWORD)
    pg.wait_for_url(f"{live_url}/?cell=532901")
    pg.wait_for_function("() => window.gridcmd && window.gridcmd.state.draws > 0")
    assert "gridcmd_session" not in pg.evaluate("document.cookie")  # HttpOnly
    cookies = {c["name"]: c for c in pg.context.cookies()}
    assert (
        cookies["gridcmd_session"]["httpOnly"] and cookies["gridcmd_session"]["sameSite"] == "Lax"
    )
    # Sign out: the confirmation page's form, then the map is closed again.
    pg.goto(f"{live_url}/logout")
    pg.click("button[type=submit]")
    pg.wait_for_url(f"{live_url}/login*")
    pg.goto(f"{live_url}/")
    assert "/login" in pg.url


def test_wrong_password_in_english(anon_page, live_url):
    pg = anon_page
    pg.goto(f"{live_url}/login?lang=en")
    _submit(pg, "t_commander", "Wrong-Pass-123")
    assert "Wrong username or password" in pg.locator("[role=alert]").inner_text()
    assert pg.locator("html").get_attribute("lang") == "en"


def test_payload_in_next_and_username_does_not_run(anon_page, live_url):
    pg = anon_page
    pg.goto(f"{live_url}/login?next={quote('/' + chr(34) + '>' + PAYLOAD)}")
    _submit(pg, PAYLOAD, "Wrong-Pass-123")
    pg.wait_for_selector("[role=alert]")
    assert pg.evaluate("() => window.__pwned") is None
    assert pg.locator("#username").input_value() == PAYLOAD  # shown as text, not markup
    assert pg.locator("img").count() == 0
    # Signing in from here still lands on a same-site path, never elsewhere.
    pg.fill("#username", "t_commander")
    pg.fill("#password", TEST_PASSWORD)
    pg.click("button[type=submit]")
    pg.wait_for_load_state()
    assert pg.url.startswith(live_url + "/")
    assert pg.evaluate("() => window.__pwned") is None


@pytest.fixture
def xss_event(engine, live_url):
    """An open event in 532922 whose title and description are an XSS payload; removed after."""
    with engine.begin() as c:
        row = c.execute(
            text(
                """
                INSERT INTO event (uuid, category, severity, title, description, location,
                                   cell_id, status, reported_at, version, synthetic)
                SELECT :u, 'dispute', 'high', :p, :p, ST_PointOnSurface(geom), id, 'reported',
                       now(), 1, true
                FROM grid_cell WHERE level = 5 AND code LIKE '532922%' ORDER BY code LIMIT 1
                RETURNING id, ST_X(location) AS lon, ST_Y(location) AS lat
                """
            ),
            {"u": str(uuid.uuid4()), "p": PAYLOAD},
        ).one()
    yield row
    with engine.begin() as c:
        c.execute(text("DELETE FROM event WHERE id = :i"), {"i": row.id})


def test_event_title_payload_is_text_in_the_details_panel(page, live_url, xss_event):
    pg = page
    pg.goto(f"{live_url}/?cell=532922")
    pg.wait_for_function("() => window.gridcmd && window.gridcmd.state.draws > 0")
    pg.hover(".leaflet-control-layers")
    pg.locator(".leaflet-control-layers-overlays label", has_text="事件").locator("input").check()
    pg.mouse.move(900, 500)
    pg.wait_for_function(f"() => {LIVE_STATE} && {LIVE_STATE}.shownEvents.includes({xss_event.id})",
                         timeout=15_000)  # fmt: skip
    pg.evaluate(
        f"() => window.gridcmdLive.theMap().setView([{xss_event.lat}, {xss_event.lon}], 18,"
        " {animate: false})"
    )
    find = live_marker_js("event", xss_event.id)
    pg.wait_for_function(find, timeout=10_000)
    pg.evaluate_handle(find).as_element().click()
    detail = pg.locator(f"#{ids.LIVE_DETAIL}")
    pg.wait_for_function(
        f"() => (document.querySelector('#{ids.LIVE_DETAIL}') || {{}}).innerText"
        " && document.querySelector('#" + ids.LIVE_DETAIL + "').innerText.includes('onerror')",
        timeout=10_000,
    )
    assert PAYLOAD in detail.inner_text()  # the literal text
    assert detail.locator("img[src=x]").count() == 0
    assert pg.evaluate("() => window.__pwned") is None


def test_an_ended_session_sends_the_open_map_to_sign_in(page, page_log, live_url, engine):
    pg = page
    pg.goto(f"{live_url}/?cell=532901")
    pg.wait_for_function("() => window.gridcmd && window.gridcmd.state.draws > 0")
    token = next(c["value"] for c in pg.context.cookies() if c["name"] == "gridcmd_session")
    from geodata.sessions import token_hash

    with engine.begin() as c:  # e.g. the idle timeout, or a sign-out in another tab
        c.execute(
            text("UPDATE auth_session SET revoked_at = now() WHERE token_hash = :h"),
            {"h": token_hash(token)},
        )
    try:
        pg.evaluate("() => { fetch('/geo/cells.geojson?level=2'); }")
    except PlaywrightError as exc:  # a refused poll may have redirected the page already
        assert "Execution context was destroyed" in str(exc), exc
    pg.wait_for_url(f"{live_url}/login?next=%2F%3Fcell%3D532901", timeout=10_000)
    # The refused requests themselves are expected console noise here; nothing else is.
    page_log.errors[:] = [e for e in page_log.errors if "status of 401" not in e]
