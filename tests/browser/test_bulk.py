"""Bulk selection and the 督办 queues in real headless Chromium: a rectangle drawn with the
mouse (Leaflet.draw, served locally) lists the open events inside it in the bulk panel; the
panel's × clears the drawing; the supervision panel opens with counted tabs. The event this
test needs is created for it and deleted afterwards; nothing is dispatched (writes are
covered by tests/callbacks/test_bulk.py in rolled-back transactions)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from dashboard import ids
from tests.browser.conftest import wait_for_grid

pytestmark = pytest.mark.browser


@pytest.fixture()
def bulk_event(engine):
    """An open event at the middle of a micro-grid of 532901; yields (id, grid code)."""
    with engine.begin() as conn:
        row = conn.execute(
            text(
                """
                INSERT INTO event (uuid, category, severity, title, description, location,
                    cell_id, status, reported_at, version, synthetic)
                SELECT :u, 'environment', 'low', 'BULK-BROWSER', '', ST_PointOnSurface(geom),
                       id, 'reported', now(), 1, true
                FROM grid_cell WHERE level = 6 AND code LIKE '532901%' ORDER BY code LIMIT 1
                RETURNING id, (SELECT code FROM grid_cell p WHERE p.id = (
                    SELECT parent_id FROM grid_cell WHERE id = event.cell_id)) AS grid
                """
            ),
            {"u": uuid.uuid4()},
        ).one()
    yield row.id, row.grid
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM event WHERE id = :i"), {"i": row.id})


def test_draw_a_rectangle_lists_the_events(page, live_url, bulk_event):
    event_id, grid = bulk_event
    page.goto(f"{live_url}/?cell={grid}")
    wait_for_grid(page, f"s.selected === '{grid}' && s.draws > 0", timeout=30_000)
    tool = page.locator(".leaflet-draw-draw-rectangle")
    tool.wait_for(state="visible", timeout=15_000)
    assert page.locator(".leaflet-draw-draw-polygon").count() == 1
    assert page.locator(".leaflet-draw-draw-marker").count() == 0
    panel = page.locator(f"#{ids.BULK_PANEL}")
    assert panel.is_hidden()
    tool.click()
    box = page.locator(f"#{ids.MAP}").bounding_box()
    x0, y0 = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3
    x1, y1 = box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.75
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=5)
    page.mouse.move(x1, y1, steps=5)
    page.mouse.up()
    panel.wait_for(state="visible", timeout=15_000)
    page.locator(f"#{ids.BULK_LIST} li").first.wait_for(state="visible", timeout=15_000)
    assert "BULK-BROWSER" in page.locator(f"#{ids.BULK_LIST}").inner_text()
    assert "选区内未办结事件" in page.locator(f"#{ids.BULK_SUMMARY}").inner_text()
    assert page.locator(f"#{ids.BULK_DISPATCH}").inner_text() == "批量派遣"
    # × clears the drawing, and with it the selection
    page.locator(f"#{ids.BULK_CLOSE}").click()
    panel.wait_for(state="hidden", timeout=15_000)


def test_supervision_panel_opens_with_counted_tabs(page, live_url):
    page.goto(f"{live_url}/?cell=532901")
    wait_for_grid(page, "s.draws > 0", timeout=30_000)
    page.locator(f"#{ids.SUP_OPEN}").click()
    panel = page.locator(f"#{ids.SUP_PANEL}")
    panel.wait_for(state="visible")
    page.locator(f"#{ids.SUP_STATUS}", has_text="更新于").wait_for(timeout=15_000)
    tabs = page.locator(f"#{ids.SUP_PANEL} .gc-sup-tab").all_inner_texts()
    assert len(tabs) == 3 and all("(" in x for x in tabs), tabs
    assert "督办中" in tabs[0] and "超期" in tabs[1]
    page.locator(f"#{ids.SUP_CLOSE}").click()
    panel.wait_for(state="hidden")
