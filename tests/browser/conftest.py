"""Browser-test fixtures: the app on a free localhost port (fixture database), Debian's headless
Chromium through Playwright, and a page that records console errors and every request.

Helpers wait on ``window.gridcmd.state`` (dashboard/assets/gridcmd.js), the summary of what the
grid layer last drew, instead of sleeping.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from app import create_app
from dashboard import ids
from tests.conftest import ensure_accounts, serve, session_token

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
SCREENSHOTS = Path("/tmp/gridcmd-screenshots")

#: JS: the live layers' state (dashboard/assets), falsy until they have loaded.
LIVE_STATE = "window.gridcmdLive && window.gridcmdLive.state"
#: JS: the grid layer has drawn at least once.
GRID_DRAWN = "window.gridcmd && window.gridcmd.state && window.gridcmd.state.draws > 0"

#: JS: the grid state without its private (``_``) members, JSON-safe.
STATE_JS = """() => {
    const s = (window.gridcmd && window.gridcmd.state) || {};
    const out = {};
    for (const k in s) if (!k.startsWith('_')) out[k] = s[k];
    return out;
}"""

#: JS: a page point inside the drawn cell ``code`` that is not under an overlay, or null.
POINT_IN_CELL_JS = """(code) => {
    const s = window.gridcmd.state, map = s._map;
    const layer = (s._layers || []).find(
        l => l.feature.properties.code === code && l.feature.properties.role !== 'selected');
    if (!map || !layer || !layer._map) return null;
    const rect = map.getContainer().getBoundingClientRect();
    const b = layer.getBounds();
    const cands = [];
    try { cands.push(layer.getCenter()); } catch (e) {}
    for (let i = 1; i < 10; i++) for (let j = 1; j < 10; j++)
        cands.push(L.latLng(b.getSouth() + (b.getNorth() - b.getSouth()) * i / 10,
                            b.getWest() + (b.getEast() - b.getWest()) * j / 10));
    for (const ll of cands) {
        const lp = map.latLngToLayerPoint(ll);
        if (!layer._containsPoint(lp)) continue;
        const cp = map.latLngToContainerPoint(ll);
        const x = rect.left + cp.x, y = rect.top + cp.y;
        if (x < 5 || y < 5 || x > innerWidth - 5 || y > innerHeight - 5) continue;
        const el = document.elementFromPoint(x, y);
        if (el && el.tagName === 'CANVAS' && el.closest('.leaflet-overlay-pane')) return [x, y];
    }
    return null;
}"""


@pytest.fixture(scope="session")
def live_url(settings, engine):
    """The app on a free localhost port, served from a background thread."""
    app = create_app(settings, engine)
    with serve(app.server) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def browser():
    # run.sh installs Debian's chromium; a missing browser is a set-up error, not a skip.
    assert CHROMIUM.exists(), f"{CHROMIUM} not installed: apt-get install chromium"
    from playwright import sync_api

    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


class PageLog:
    """Console errors, page errors and requested URLs of one page."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.requests: list[str] = []

    def external(self) -> list[str]:
        """Requests to anything but localhost (data: and blob: URLs are local)."""
        return [
            u
            for u in self.requests
            if urlsplit(u).scheme in ("http", "https", "ws", "wss")
            and urlsplit(u).hostname not in LOCAL_HOSTS
        ]


@pytest.fixture
def page_log() -> PageLog:
    return PageLog()


@pytest.fixture(scope="session")
def browser_user() -> str:
    """Who the browser pages are signed in as (a module may override it)."""
    return "t_commander"


@pytest.fixture
def browser_cookies(live_url, engine, accounts, browser_user) -> list[dict]:
    """The session cookie that signs pages in (a fresh server-side session per test, created
    in the database; ``tests/browser/test_login.py`` covers the form itself). A module whose
    pages use another server overrides this fixture (:func:`own_commander_cookies`)."""
    return session_cookies(engine, live_url, browser_user)


def session_cookies(engine, base_url: str, username: str) -> list[dict]:
    """The session cookie of a fresh session of ``username`` (created in ``engine``'s
    database) for pages of ``base_url``."""
    from api.auth import SESSION_COOKIE

    return [
        {"name": SESSION_COOKIE, "value": session_token(engine, username), "url": base_url,
         "httpOnly": True, "sameSite": "Lax"}
    ]  # fmt: skip


def own_commander_cookies(engine, base_url: str) -> list[dict]:
    """For a module serving its own database: a prefecture commander account there (created
    if missing) and its session cookie for ``base_url``."""
    ensure_accounts(engine, {"t_commander": ("commander", "532900")})
    return session_cookies(engine, base_url, "t_commander")


def _new_page(browser, log: PageLog, width: int, height: int, cookies: list[dict] = ()):
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    if cookies:
        context.add_cookies(list(cookies))
    pg = context.new_page()
    pg.on("request", lambda r: log.requests.append(r.url))
    pg.on("pageerror", lambda e: log.errors.append(f"pageerror: {e}"))
    pg.on("console", lambda m: log.errors.append(m.text) if m.type == "error" else None)
    return context, pg


@pytest.fixture
def page(browser, page_log, browser_cookies):
    """A 1280×800 page, signed in (:func:`browser_cookies`); the test fails if the page logged
    a console error or asked for a non-localhost URL."""
    context, pg = _new_page(browser, page_log, 1280, 800, browser_cookies)
    yield pg
    close_and_check([context], page_log)


@pytest.fixture
def make_page(browser, page_log, browser_cookies):
    """Factory for pages of other sizes, signed in (same checks as :func:`page`)."""
    contexts = []

    def make(width: int, height: int):
        context, pg = _new_page(browser, page_log, width, height, browser_cookies)
        contexts.append(context)
        return pg

    yield make
    close_and_check(contexts, page_log)


def close_and_check(contexts, log: PageLog) -> None:
    """Close the pages' contexts; fail if a page logged a console error or asked for a
    non-localhost URL."""
    for c in contexts:
        c.close()
    assert log.errors == []
    assert log.external() == []


def wait_for_js(pg, predicate: str, **kw):
    """``pg.wait_for_function`` with the predicate as a function: the page's CSP forbids
    eval, which Playwright needs for a bare expression."""
    if not predicate.lstrip().startswith(("(", "function")):
        predicate = f"() => ({predicate})"
    return pg.wait_for_function(predicate, **kw)


def open_app_page(make_page, base_url: str):
    """A 1280×800 page (``make_page``) on ``base_url``'s map, once the grid has drawn."""
    pg = make_page(1280, 800)
    pg.goto(base_url + "/")
    wait_for_js(pg, GRID_DRAWN)
    return pg


def live_marker_js(kind: str, ident: int, status: str | None = None) -> str:
    """JS function → the icon element of the live layer's ``kind`` ("event" or "worker")
    marker ``ident`` (with ``status``, only in that status), or null."""
    cond = f" && l.feature.properties.status === '{status}'" if status else ""
    return f"""() => {{ let el = null; window.gridcmdLive.theMap().eachLayer(l => {{
        if (l.feature && l.feature.properties && l.feature.properties.id === {ident}
            && !l.feature.properties.cluster && l._icon{cond}
            && l._icon.classList.contains('gc-dot-{kind}')) el = l._icon; }}); return el; }}"""


def click_live_marker(pg, kind: str, ident: int, timeout: float) -> None:
    """Click a live-layer marker (:func:`live_marker_js`) as soon as it is drawn: find and
    click in one step, since the live layer may re-render its markers at any poll."""
    wait_for_js(
        pg,
        f"() => {{ const el = ({live_marker_js(kind, ident)})(); if (el) el.click(); "
        "return !!el; }",
        timeout=timeout,
    )


def grid_state(pg) -> dict:
    """What the grid layer last drew (``window.gridcmd.state`` without private members)."""
    return pg.evaluate(STATE_JS)


def wait_for_grid(pg, predicate_js: str, timeout: float = 15_000) -> dict:
    """Wait until ``predicate_js`` (a JS expression over ``s``, the grid state) holds; on
    timeout, fail with the state, the URL and the message shown."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        pg.wait_for_function(
            "() => { const s = window.gridcmd && window.gridcmd.state;"
            f" return !!s && ({predicate_js}); }}",
            timeout=timeout,
        )
    except PlaywrightTimeout:
        msg = (
            pg.locator(f"#{ids.MESSAGE}").inner_text()
            if pg.locator(f"#{ids.MESSAGE}").count()
            else ""
        )
        raise AssertionError(
            f"grid never satisfied {predicate_js!r}: url={pg.url} message={msg!r} "
            f"state={grid_state(pg)}"
        ) from None
    return grid_state(pg)


def point_in_cell(pg, code: str) -> tuple[float, float]:
    """A page point inside the drawn cell ``code``, not covered by an overlay, once the map
    has stopped moving."""
    pg.wait_for_function("() => !window.gridcmd.state.moving")
    # The grid may still be (re)drawing after the map stopped (e.g. after a history step):
    # wait a bounded time for the cell to be drawn at a clickable place.
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        handle = pg.wait_for_function(
            f"(code) => ({POINT_IN_CELL_JS})(code)", arg=code, timeout=10_000
        )
        pt = handle.json_value()
    except PlaywrightTimeout:
        pt = None
    assert pt is not None, f"cell {code} is not drawn at a clickable place"
    return pt[0], pt[1]


def click_cell(pg, code: str) -> None:
    """Click inside the drawn cell ``code`` (see :func:`point_in_cell`)."""
    pg.mouse.click(*point_in_cell(pg, code))


def screenshot(pg, name: str) -> Path:
    """Save a screenshot under /tmp/gridcmd-screenshots (for looking at the page)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    pg.screenshot(path=str(path))
    return path
