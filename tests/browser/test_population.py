"""The population lookup and the household overlay in real headless Chromium: the header button
opens the panel, a search shows masked rows, "show full" asks for a reason and then shows the
raw values once (audited); the export button downloads a masked CSV of the matches on screen
(posted to /export/residents.csv: the query never in a URL); the households overlay is off by
default and draws clustered points when ticked; tooltips are escaped."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from sqlalchemy import text

from dashboard import ids
from geodata.demo.residents import delete_residents, seed_residents
from tests.browser.conftest import screenshot, wait_for_grid
from tests.conftest import FIXTURE_SCALE, FIXTURE_SEED
from tests.scan import assert_no_personal_data

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def residents(engine, live_url):
    seed_residents(engine, FIXTURE_SEED, FIXTURE_SCALE)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(
            text("SELECT id, name, id_number, phone FROM resident ORDER BY name, id")
        )]  # fmt: skip
    yield rows
    delete_residents(engine)


def open_map(pg, live_url: str) -> None:
    pg.goto(live_url + "/")
    wait_for_grid(pg, "s.draws > 0 && s.levels['2'] === 12", timeout=30_000)


def test_lookup_masks_and_unmasks_once(page, live_url, residents, engine):
    open_map(page, live_url)
    panel = page.locator(f"#{ids.POP_PANEL}")
    assert panel.is_hidden()
    page.locator(f"#{ids.POP_OPEN}").click()
    panel.wait_for(state="visible")
    surname = residents[0]["name"][0]
    page.locator(f"#{ids.POP_QUERY}").fill(surname)
    page.locator(f"#{ids.POP_QUERY}").press("Enter")
    table = page.locator(".gc-pop-table")
    table.wait_for(state="visible", timeout=10_000)
    html = table.inner_html()
    assert re.search(r"\d{4}\*{10}[\dX]{4}", html) and re.search(r"1\d{2}\*{4}\d{4}", html)
    assert not re.search(r"\d{17}[\dX]", html)
    assert "共" in page.locator(f"#{ids.POP_STATUS}").inner_text()
    # Show full: a reason is asked for, then the raw values appear once.
    first = table.locator("tbody tr").first
    name = first.locator("td").nth(0).inner_text()
    masked = first.locator("td").nth(1).inner_text()
    first.locator(".gc-pop-show").click()
    form = page.locator(f"#{ids.POP_UNMASK}")
    form.wait_for(state="visible")
    assert masked in page.locator(f"#{ids.POP_UNMASK_WHO}").inner_text()
    page.locator(f"#{ids.POP_REASON}").fill("ab")
    page.locator(f"#{ids.POP_UNMASK_GO}").click()
    out = page.locator(f"#{ids.POP_UNMASK_OUT}")
    out.get_by_text("至少4个字").wait_for()
    page.locator(f"#{ids.POP_REASON}").fill("入户走访核实")
    page.locator(f"#{ids.POP_UNMASK_GO}").click()
    page.locator(".gc-pop-unmasked").wait_for()
    screenshot(page, "population-unmasked")
    raw = [r for r in residents if r["name"] == name and masked[:4] == r["id_number"][:4]
           and masked[-4:] == r["id_number"][-4:]]  # fmt: skip
    assert len(raw) == 1
    assert raw[0]["id_number"] in out.inner_text() and raw[0]["phone"] in out.inner_text()
    with engine.connect() as conn:
        kind = conn.execute(
            text("SELECT kind FROM security_log WHERE target = :t ORDER BY id DESC LIMIT 1"),
            {"t": f"resident:{raw[0]['id']}"},
        ).scalar()
    assert kind == "unmask"
    page.locator(f"#{ids.POP_UNMASK_CANCEL}").click()
    form.wait_for(state="hidden")
    assert raw[0]["id_number"] not in page.content()


def test_export_downloads_a_masked_csv(page, page_log, live_url, residents, engine):
    open_map(page, live_url)
    page.locator(f"#{ids.POP_OPEN}").click()
    surname = residents[0]["name"][0]
    query = page.locator(f"#{ids.POP_QUERY}")
    query.fill(surname)
    query.press("Enter")
    page.locator(".gc-pop-table").wait_for(state="visible", timeout=10_000)
    export = page.locator(f"#{ids.POP_EXPORT}")
    page.wait_for_function(f"() => !document.getElementById('{ids.POP_EXPORT}').disabled")
    with engine.connect() as conn:
        before = conn.execute(text("SELECT coalesce(max(id), 0) FROM security_log")).scalar()
    with page.expect_download(timeout=15_000) as download:
        export.click()
    assert download.value.suggested_filename == "residents.csv"
    body = Path(download.value.path()).read_bytes()
    assert body.startswith(b"\xef\xbb\xbf")
    known = [r["id_number"] for r in residents] + [r["phone"] for r in residents]
    assert_no_personal_data(body, known=known, where="residents.csv download")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:2] == ["姓名", "身份证号"] and len(rows) > 1
    assert all(r[0].startswith(surname) and "*" in r[1] and "*" in r[2] for r in rows[1:])
    # The query went in the POST body: no request URL carries it.
    posted = [u for u in page_log.requests if "/export/residents.csv" in u]
    assert posted and all(u.endswith("/export/residents.csv") for u in posted)
    with engine.connect() as conn:
        kinds = conn.execute(
            text("SELECT kind, detail FROM security_log WHERE id > :i ORDER BY id"), {"i": before}
        ).all()
    assert ("export", f"query {surname!r}: {len(rows) - 1} rows") in [tuple(k) for k in kinds]
    # A new query typed but not searched: no export of something not on screen.
    query.fill(surname + "一")
    page.wait_for_function(f"() => document.getElementById('{ids.POP_EXPORT}').disabled")


def test_households_overlay_off_by_default_then_drawn(page, live_url, residents):
    open_map(page, live_url)
    assert page.locator(".gc-household-cluster, .gc-household-marker").count() == 0
    control = page.locator(".leaflet-control-layers")
    control.hover()
    label = page.locator(".leaflet-control-layers-overlays label", has_text="住户")
    box = label.locator("input[type=checkbox]")
    assert not box.is_checked()
    with page.expect_response(lambda r: "/geo/households.geojson" in r.url) as resp:
        label.click()  # the callback sets the layer's URL for the current view
    assert resp.value.status == 200
    page.locator(".gc-household-cluster, .gc-household-marker").first.wait_for(timeout=10_000)
    screenshot(page, "households-overlay")
    escaped = page.evaluate(
        "() => gridcmdHouseholds.tooltip({household_no: '<img src=x onerror=window.__p=1>',"
        " members: 3}, {label: '住户', members: '人'})"
    )
    assert "<img" not in escaped and "&lt;img" in escaped and "3 人" in escaped
    # a wide view's grid aggregates: bubbles and cluster sums count households, not points
    drawn = page.evaluate(
        """() => {
            const H = gridcmdHouseholds, ll = L.latLng(25.6, 100.2);
            const leaves = [{properties: {aggregate: true, households: 5, grid: 'g'}},
                            {properties: {household_no: 'x', members: 3}}];
            const cluster = H.clusterToLayer({properties: {point_count: 2, cluster_id: 7}}, ll,
                                             {getLeaves: () => leaves});
            const grid = H.pointToLayer({properties: {aggregate: true, households: 42,
                grid: '<b>网格</b>', code: '1'}}, ll, {hideout: {unit: '户'}});
            return [cluster.options.icon.options.html, grid.options.icon.options.html,
                    grid.getTooltip().getContent()];
        }"""
    )
    assert drawn[0] == "<span>6</span>" and drawn[1] == "<span>42</span>"
    assert drawn[2] == "&lt;b&gt;网格&lt;/b&gt; · 42 户"
