"""The live layers are drawn when a page opens on a cell, and recover when the map layer
loses its data (real headless Chromium, fixture database, read-only).

dash-leaflet's GeoJSON drops a ``data`` update that arrives while it is still loading the
previous one, so a page opened on ``?cell=`` could keep its live layers blank at a static
view — a wall screen nobody touches showed no events. ``dashboard/assets/live.js`` checks,
after each handover, that a layer whose data has a point in view shows markers, and hands the
data over again otherwise (``gridcmdLive.state.rehanded``)."""

from __future__ import annotations

import pytest

from app import create_app
from dashboard import ids
from tests.browser.conftest import wait_for_grid
from tests.conftest import serve

pytestmark = pytest.mark.browser

#: JS: live markers on the page, per layer.
MARKERS_JS = """() => ({
    events: document.querySelectorAll('.gc-dot-event, .gc-cluster-events').length,
    workers: document.querySelectorAll('.gc-dot-worker, .gc-cluster-workers').length })"""

#: JS: empty the live layers the way the dropped update leaves them (Leaflet layers cleared,
#: dash-leaflet's props untouched), returning how many markers were removed.
CLEAR_JS = """() => { const m = window.gridcmdLive.theMap(); let n = 0;
    Object.values(m._layers).forEach(l => {
        if (!(l instanceof L.GeoJSON)) return;
        const kids = Object.values(l._layers);
        if (!kids.some(k => k._icon && /gc-(dot|cluster)/.test(k._icon.className))) return;
        n += kids.length; l.clearLayers(); });
    return n; }"""


@pytest.fixture(scope="module")
def live_on_url(settings, engine):
    """The app as deployed: live overlays on when a page opens (the session's ``live_url`` app
    has them off so map tests can click cells); same database, so the same sign-in works."""
    on = settings.model_copy(update={"live_on_start": True})
    app = create_app(on, engine)
    with serve(app.server) as base_url:
        yield base_url


def _markers_shown(page, timeout: float = 15_000) -> None:
    page.wait_for_function(
        f"() => {{ const n = ({MARKERS_JS})(); return n.events > 0 && n.workers > 0; }}",
        timeout=timeout,
    )


@pytest.mark.parametrize("attempt", range(3))
def test_page_opened_on_a_cell_draws_the_live_layers(page, live_on_url, attempt):
    # the race is timing-dependent: open the page a few times; every time it must draw
    page.goto(f"{live_on_url}/?cell=532901")
    wait_for_grid(page, "s.draws > 0", timeout=30_000)
    page.wait_for_function(
        "() => window.gridcmdLive && window.gridcmdLive.state.shownEvents.length > 0",
        timeout=15_000,
    )
    _markers_shown(page)


def test_a_layer_that_lost_its_markers_gets_its_data_again(page, live_on_url):
    page.goto(f"{live_on_url}/?cell=532901")
    wait_for_grid(page, "s.draws > 0", timeout=30_000)
    _markers_shown(page)
    before = page.evaluate("() => window.gridcmdLive.state.rehanded")
    # cleared and counted in one turn of the page's event loop: a live poll answered between
    # two evaluate calls may already draw the markers again (seen on a loaded machine)
    removed, left = page.evaluate(f"() => [({CLEAR_JS})(), ({MARKERS_JS})()]")
    assert removed > 0
    assert left == {"events": 0, "workers": 0}
    # within a few polls the data is handed over again and drawn, without a reload
    _markers_shown(page, timeout=10_000)
    assert page.evaluate("() => window.gridcmdLive.state.rehanded") >= before + 2
    assert page.locator(f"#{ids.LIVE_DETAIL}").count() == 1
