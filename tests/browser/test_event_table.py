"""The event table (事件列表) in real headless Chromium: the header button opens the drawer
with the synthetic-data label and the AG Grid table (served locally: the page fixture fails on
any non-localhost request or console error), the search narrows the rows, the export link
carries the filters and downloads them, and a row click flies the map to the event and
collapses the drawer. Read-only on the shared database."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from dashboard import ids
from tests.browser.conftest import screenshot, wait_for_grid

pytestmark = pytest.mark.browser

CENTER_JS = """() => { const m = window.gridcmd.state._map;
    const c = m.getCenter(); return [c.lng, c.lat, m.getZoom()]; }"""

#: JS function (lon, lat) → whether that point is inside the map's view and not under a
#: floating box (the element there belongs to the map itself).
EVENT_IN_CLEAR_JS = """(lon, lat) => { const m = window.gridcmd.state._map;
    const r = m.getContainer().getBoundingClientRect();
    const p = m.latLngToContainerPoint([lat, lon]);
    const x = r.left + p.x, y = r.top + p.y;
    if (x < r.left + 60 || y < r.top + 60 || x > r.right - 20 || y > r.bottom - 20)
        return false;
    const el = document.elementFromPoint(x, y);
    return !!el && !!el.closest('.leaflet-container')
        && !el.closest('.gc-dock, .gc-panel, .gc-et-panel, .gc-top-left'); }"""


@pytest.fixture(scope="module")
def target(engine) -> dict:
    """An event of 大理市 with a title shared by few others (found by searching for it)."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                """
                SELECT e.id, e.title, ST_X(e.location) AS lon, ST_Y(e.location) AS lat
                FROM event e JOIN grid_cell c ON c.id = e.cell_id
                WHERE c.path <@ '532900.532901'
                  AND (SELECT count(*) FROM event o WHERE o.title = e.title) <= 20
                ORDER BY e.reported_at DESC, e.id LIMIT 1
                """
            )
        ).mappings().one()  # fmt: skip
    return dict(row)


def test_search_export_and_fly_to_an_event(page, live_url, target):
    page.goto(live_url + "/")
    wait_for_grid(page, "s.draws > 0", timeout=30_000)
    panel = page.locator(f"#{ids.ET_PANEL}")
    assert panel.is_hidden()
    page.locator(f"#{ids.ET_OPEN}").click()
    panel.wait_for(state="visible")
    assert "合成数据" in panel.locator(".gc-et-synthetic").inner_text()
    grid = page.locator(f"#{ids.ET_GRID}")
    grid.locator(".ag-center-cols-container .ag-row").first.wait_for(timeout=20_000)
    assert "共" in page.locator(f"#{ids.ET_COUNT}").inner_text()

    # search: only rows whose title or description holds the text
    page.locator(f"#{ids.ET_QUERY}").fill(target["title"])
    row = grid.locator(f'.ag-center-cols-container .ag-row[row-id="{target["id"]}"]')
    page.wait_for_function(
        """([sel, title]) => { const rows = document.querySelectorAll(sel);
            return rows.length > 0 && [...rows].every(r => r.innerText.includes(title)); }""",
        arg=[f"#{ids.ET_GRID} .ag-center-cols-container .ag-row", target["title"]],
        timeout=15_000,
    )
    row.wait_for(timeout=10_000)
    screenshot(page, "event_table_search")

    # the export link carries the search and downloads those rows (session cookie)
    href = page.locator(f"#{ids.ET_CSV}").get_attribute("href")
    assert href.startswith("/export/events.csv?") and "q=" in href
    resp = page.request.get(live_url + href)
    assert resp.status == 200
    body = resp.body()
    assert body.startswith(b"\xef\xbb\xbf") and str(target["id"]).encode() in body

    # a row click flies the map to the event and collapses the drawer
    before = page.evaluate(CENTER_JS)
    row.locator('[col-id="title"]').click()
    # the map flew there: the event is in view, in the map's free part (not under the case
    # panel, the cell panel or the drawer: the flight's centre is shifted for them)
    page.wait_for_function(
        f"""([lon, lat, lon0, lat0]) => {{ const s = window.gridcmd.state, m = s._map;
            if (!m || s.moving || m.getZoom() < 15) return false;
            const c = m.getCenter();
            if (c.lng === lon0 && c.lat === lat0) return false;  // not flown yet
            return ({EVENT_IN_CLEAR_JS})(lon, lat); }}""",
        arg=[target["lon"], target["lat"], before[0], before[1]],
        timeout=15_000,
    )
    screenshot(page, "event_table_flown")
    lon, lat, zoom = page.evaluate(CENTER_JS)
    assert (lon, lat) != tuple(before[:2]) and zoom >= 15
    assert "gc-et-collapsed" in (panel.get_attribute("class") or "")
    assert grid.is_hidden()
    page.locator(".leaflet-tooltip").first.wait_for(timeout=5_000)  # the event's marker
    assert str(target["id"]) in page.locator(".leaflet-tooltip").first.inner_text()
    # expand again: the same rows are still there
    page.locator(f"#{ids.ET_COLLAPSE}").click()
    row.wait_for(state="visible", timeout=5_000)
