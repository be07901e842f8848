"""The floating panels do not cover each other (real headless Chromium, fixture database).

A supervisor's usual screen: the cell panel, the 督办 queues, a case opened from the event
table, and the event-table drawer, all at once. The right dock (dashboard/layout.py,
gridcmd.css ``.gc-dock``) stacks the queues and the case panel left of the cell panel and
ends above the drawer, whether the drawer is collapsed to its title bar or open at full
height; folding the cell panel away moves the dock to the right edge. Read-only."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from dashboard import ids
from tests.browser.conftest import screenshot, wait_for_grid
from tests.browser.test_event_table import EVENT_IN_CLEAR_JS

pytestmark = pytest.mark.browser

#: JS: the page rectangle of each visible element of ``ids`` (null when hidden or absent).
RECTS_JS = """(ids) => Object.fromEntries(ids.map(id => {
    const el = document.getElementById(id);
    if (!el || el.offsetParent === null) return [id, null];
    const r = el.getBoundingClientRect();
    return [id, {left: r.left, top: r.top, right: r.right, bottom: r.bottom}];
}))"""

BOXES = [ids.PANEL, ids.SUP_PANEL, ids.CASE_PANEL, ids.ET_PANEL]

#: JS: true once the rectangles of ``ids`` (RECTS_JS) were the same for 5 frames running.
STILL_JS = f"""(ids) => {{
    const now = JSON.stringify(({RECTS_JS})(ids));
    const w = window.__gcLayout || (window.__gcLayout = {{last: null, same: 0}});
    w.same = now === w.last ? w.same + 1 : 0;
    w.last = now;
    return w.same >= 5;
}}"""


def _overlap(a: dict, b: dict) -> bool:
    return (min(a["right"], b["right"]) - max(a["left"], b["left"]) > 0.5
            and min(a["bottom"], b["bottom"]) - max(a["top"], b["top"]) > 0.5)  # fmt: skip


def _assert_apart(page, names: list[str], width: int, height: int) -> dict:
    rects = page.evaluate(RECTS_JS, names)
    missing = [k for k in names if rects[k] is None]
    assert not missing, f"not visible: {missing}"
    for i, a in enumerate(names):
        r = rects[a]
        assert r["left"] >= 0 and r["top"] >= 0, (a, r)
        assert r["right"] <= width + 0.5 and r["bottom"] <= height + 0.5, (a, r)
        for b in names[i + 1:]:
            assert not _overlap(r, rects[b]), f"{a} {r} overlaps {b} {rects[b]}"
    return rects


@pytest.mark.parametrize("size", [(1920, 1080), (1280, 720)])
def test_queues_case_cell_panel_and_drawer_do_not_overlap(make_page, live_url, engine, size):
    width, height = size
    page = make_page(width, height)
    page.goto(f"{live_url}/?cell=532901")
    wait_for_grid(page, "s.draws > 0", timeout=30_000)

    page.locator(f"#{ids.SUP_OPEN}").click()
    page.locator(f"#{ids.SUP_PANEL}").wait_for(state="visible")
    page.locator(f"#{ids.ET_OPEN}").click()
    grid = page.locator(f"#{ids.ET_GRID}")
    grid.locator(".ag-center-cols-container .ag-row").first.wait_for(timeout=20_000)
    # the drawer open at full height: the queues and the cell panel end above it
    _assert_apart(page, [ids.PANEL, ids.SUP_PANEL, ids.ET_PANEL], width, height)

    # a row click opens the case and collapses the drawer to its title bar
    row = grid.locator(".ag-center-cols-container .ag-row").first
    with engine.connect() as conn:
        lon, lat = conn.execute(
            text("SELECT ST_X(location), ST_Y(location) FROM event WHERE id = :i"),
            {"i": int(row.get_attribute("row-id"))},
        ).one()
    row.locator('[col-id="title"]').click()
    page.locator(f"#{ids.CASE_PANEL}").wait_for(state="visible", timeout=15_000)
    page.wait_for_function(
        f"document.getElementById('{ids.ET_PANEL}').classList.contains('gc-et-collapsed')"
    )
    # the map's fly-to does not move the panels; let the layout settle (no transition left)
    page.evaluate("() => { window.__gcLayout = null; }")
    page.wait_for_function(STILL_JS, arg=BOXES, polling="raf", timeout=5_000)
    screenshot(page, f"dock_{width}x{height}")
    rects = _assert_apart(page, BOXES, width, height)
    # the map flew so that the event is in its free part, not under the case panel (at
    # 1280 px the map's centre is under the dock)
    page.wait_for_function(
        f"""([lon, lat]) => {{ const s = window.gridcmd.state;
            return s._map && !s.moving && s._map.getZoom() >= 15
                && ({EVENT_IN_CLEAR_JS})(lon, lat); }}""",
        arg=[lon, lat],
        timeout=15_000,
    )
    # stacked in one column, the queues above the case
    assert rects[ids.SUP_PANEL]["bottom"] <= rects[ids.CASE_PANEL]["top"]
    # the queues keep their tabs and status line readable beside a long case
    assert page.locator(f"#{ids.SUP_STATUS}").is_visible()
    sup = rects[ids.SUP_PANEL]
    assert sup["bottom"] - sup["top"] >= 120, sup

    # fold the cell panel away: the dock moves to the right edge, still clear of the drawer
    page.locator(f"#{ids.PANEL} > summary").click()
    page.wait_for_function(f"!document.getElementById('{ids.PANEL}').open")
    rects = _assert_apart(page, BOXES, width, height)
    assert rects[ids.CASE_PANEL]["right"] > width - 40


def test_queue_row_opens_case_and_details_in_the_dock_and_x_closes_details(page, live_url):
    page.goto(f"{live_url}/?cell=532901")
    wait_for_grid(page, "s.draws > 0", timeout=30_000)
    page.locator(f"#{ids.SUP_OPEN}").click()
    page.locator(f"#{ids.SUP_PANEL}").wait_for(state="visible")
    page.locator(f"#{ids.SUP_PANEL} .gc-sup-tab", has_text="超期").click()
    first = page.locator(f"#{ids.SUP_BODY} .gc-sup-row-main").first
    first.wait_for(timeout=15_000)
    first.click()
    # the case panel and the marker details (the same path as a click on the marker) open
    page.locator(f"#{ids.CASE_PANEL}").wait_for(state="visible", timeout=15_000)
    details = page.locator(f"#{ids.LIVE_DETAIL}")
    page.locator(f"#{ids.LIVE_DETAIL} h3").wait_for(timeout=15_000)
    box = page.locator(".gc-dock .gc-live-detail")
    assert box.is_visible()
    rects = _assert_apart(page, [ids.PANEL, ids.SUP_PANEL, ids.CASE_PANEL], 1280, 800)
    detail = box.bounding_box()
    for name in (ids.PANEL, ids.SUP_PANEL, ids.CASE_PANEL):
        r = rects[name]
        as_rect = {"left": detail["x"], "top": detail["y"], "right": detail["x"]
                   + detail["width"], "bottom": detail["y"] + detail["height"]}  # fmt: skip
        assert not _overlap(as_rect, r), (name, r, detail)
    screenshot(page, "dock_details")
    # × empties the details, which hides their box; the case stays open
    page.locator(f"#{ids.LIVE_DETAIL_CLOSE}").click()
    box.wait_for(state="hidden", timeout=5_000)
    assert details.inner_text() == ""
    assert page.locator(f"#{ids.CASE_PANEL}").is_visible()
