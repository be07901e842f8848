"""The roster panel (网格员管理) in real headless Chromium: the header button opens it, the list
shows masked phones only, one selected worker shows their history, a bad cell code is a clear
message; a supervisor sees the forms disabled. Read-only on the shared database (writes are
covered by tests/callbacks/test_roster.py in rolled-back transactions)."""

from __future__ import annotations

import re

import pytest

from dashboard import ids
from tests.browser.conftest import _new_page, session_cookies, wait_for_grid

pytestmark = pytest.mark.browser

UNMASKED = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def open_roster(pg, live_url: str) -> None:
    pg.goto(live_url + "/?cell=532901")
    wait_for_grid(pg, "s.draws > 0", timeout=30_000)
    panel = pg.locator(f"#{ids.ROSTER_PANEL}")
    assert panel.is_hidden()
    pg.locator(f"#{ids.ROSTER_OPEN}").click()
    panel.wait_for(state="visible")
    pg.locator(f"#{ids.ROSTER_PICK} label").first.wait_for(state="visible", timeout=15_000)


def test_roster_lists_masked_workers_and_history(page, live_url):
    open_roster(page, live_url)
    html = page.locator(f"#{ids.ROSTER_PANEL}").inner_html()
    assert re.search(r"1\d{2}\*{4}\d{4}", html) and not UNMASKED.search(html)
    assert "532901" in page.locator(f"#{ids.ROSTER_PICK}").inner_text()
    assert page.locator(f"#{ids.ROSTER_ADD}").is_enabled()
    assert "培训" in page.locator(f"#{ids.ROSTER_SUMMARY}").inner_text()
    # one worker selected → their history (the fixture has no assignment rows: "无。")
    page.locator(f"#{ids.ROSTER_PICK} input").first.check()
    page.locator(f"#{ids.ROSTER_DETAIL} h3").wait_for(state="visible", timeout=10_000)
    assert "任职" in page.locator(f"#{ids.ROSTER_DETAIL}").inner_text()
    # a malformed cell code is refused with a message, nothing saved
    page.locator(f"#{ids.ROSTER_PANEL} summary", has_text="调整所选网格员").click()
    page.locator(f"#{ids.ROSTER_MOVE_CELL}").fill("<img src=x onerror=alert(1)>")
    page.locator(f"#{ids.ROSTER_MOVE}").click()
    msg = page.locator(f"#{ids.ROSTER_MESSAGE}")
    msg.locator(".gc-roster-msg-error").wait_for(state="visible", timeout=10_000)
    assert "网格编码格式不正确" in msg.inner_text() or "编码" in msg.inner_text()
    page.locator(f"#{ids.ROSTER_CLOSE}").click()
    page.locator(f"#{ids.ROSTER_PANEL}").wait_for(state="hidden")


def test_supervisor_sees_the_forms_disabled(browser, page_log, live_url, engine, accounts):
    cookies = session_cookies(engine, live_url, "t_supervisor")
    context, pg = _new_page(browser, page_log, 1280, 800, cookies)
    try:
        open_roster(pg, live_url)
        for control in (ids.ROSTER_ADD, ids.ROSTER_MOVE, ids.ROSTER_TRAIN, ids.ROSTER_EDIT):
            assert pg.locator(f"#{control}").is_disabled()
        assert "只读" in pg.locator(f"#{ids.ROSTER_READONLY}").inner_text()
        assert not UNMASKED.search(pg.locator(f"#{ids.ROSTER_PANEL}").inner_html())
    finally:
        context.close()
    assert page_log.errors == []
