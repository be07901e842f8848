"""The dashboard shell in real headless Chromium: counties drawn, labels shown, fully offline."""

from __future__ import annotations

import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

from app import create_app
from dashboard.layout import STRINGS

pytestmark = pytest.mark.browser

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
SCREENSHOT = Path("/tmp/shell.png")
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@pytest.fixture(scope="module")
def live_url(settings, engine):
    """The app on a free localhost port, served from a background thread."""
    srv = make_server("127.0.0.1", 0, create_app(settings, engine).server, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    # run.sh installs Debian's chromium; a missing browser is a set-up error, not a skip.
    assert CHROMIUM.exists(), f"{CHROMIUM} not installed: apt-get install chromium"
    from playwright import sync_api

    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    pg = context.new_page()
    yield pg
    context.close()


def test_shell_shows_the_counties_offline(page, live_url):
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    with page.expect_response(lambda r: "/geo/cells.geojson" in r.url, timeout=30_000) as resp:
        page.goto(live_url + "/")
    geo = resp.value
    assert geo.status == 200
    names = [f["properties"]["name"] for f in geo.json()["features"]]
    assert len(names) == 12 and "大理市" in names

    # header, synthetic-data badge and summary panel
    page.get_by_text(STRINGS["title"]).wait_for(timeout=15_000)
    assert page.locator("#gc-demo-badge").inner_text() == STRINGS["demo_badge"]
    assert "大理白族自治州" in page.locator("#gc-summary").inner_text()

    # preferCanvas: the polygons are pixels on one canvas; wait until it has been painted
    page.wait_for_function(
        """() => {
            const c = document.querySelector('.leaflet-overlay-pane canvas');
            if (!c || !c.width) return false;
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let painted = 0;
            for (let i = 3; i < d.length; i += 4 * 7) if (d[i] > 0) painted++;
            return painted > (d.length / 4 / 7) * 0.05;  // canvas is padded beyond the view
        }""",
        timeout=15_000,
    )

    # hovering the middle of the map hits a county and shows its (escaped) name
    box = page.locator("#gc-map").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx - 10, cy)
    page.mouse.move(cx, cy, steps=5)
    tooltip = page.locator(".leaflet-tooltip.gc-tooltip")
    tooltip.wait_for(timeout=10_000)
    assert tooltip.inner_text() in names

    page.mouse.move(box["x"] + 60, box["y"] + box["height"] / 2, steps=10)  # off the counties
    page.wait_for_function("() => !document.querySelector('.leaflet-tooltip')", timeout=10_000)
    page.screenshot(path=str(SCREENSHOT))

    external = [u for u in requests if urlsplit(u).scheme in ("http", "https", "ws", "wss")
                and urlsplit(u).hostname not in LOCAL_HOSTS]  # fmt: skip
    assert external == []
    assert errors == []


def test_tooltips_escape_html(page, live_url):
    page.goto(live_url + "/")
    page.wait_for_function("() => window.gridcmd && window.gridcmd.bindCellTooltip")
    got = page.evaluate(
        """() => {
            let content = null;
            const fakeLayer = {bindTooltip: (c) => { content = c; }};
            const name = '<img src=x onerror="window.pwned=1">&';
            window.gridcmd.bindCellTooltip({properties: {name: name}}, fakeLayer);
            return content;
        }"""
    )
    assert got == "&lt;img src=x onerror=&quot;window.pwned=1&quot;&gt;&amp;"
