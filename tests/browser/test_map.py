"""The command map in real headless Chromium, on the fixture data (12 real counties, synthetic
L3–L6 at scale 0.01): drawing, drill-down, breadcrumb, URL and history, deep links, level of
detail by zoom, metric colours, search, bad input, language — offline, without console errors.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from dashboard.layout import DEMO_BADGE, TITLE
from gridcmd.i18n import t
from layers.grid import HOVER_STYLE
from tests.browser.conftest import (
    click_cell,
    grid_state,
    point_in_cell,
    screenshot,
    wait_for_grid,
)

pytestmark = pytest.mark.browser

DRAWN_JS = """() => (window.gridcmd.state._layers || []).map(l => {
    const p = l.feature.properties;
    return {code: p.code, level: p.level, role: p.role, fill: l.options.fillColor,
            color: l.options.color};
})"""


@pytest.fixture(scope="module")
def chain(engine) -> list[dict]:
    """A root-to-leaf path of the fixture with children at every level: the L6 cell whose
    L4 village has the most grids, and its ancestors ({code, name, level})."""
    with engine.connect() as conn:
        leaf = conn.execute(
            text(
                """
                SELECT c6.path::text FROM grid_cell c6
                JOIN grid_cell c5 ON c5.id = c6.parent_id
                WHERE c6.level = 6
                ORDER BY (SELECT count(*) FROM grid_cell k WHERE k.parent_id = c5.parent_id) DESC,
                         c6.code
                LIMIT 1
                """
            )
        ).scalar_one()
        rows = conn.execute(
            text("SELECT code, name, level FROM grid_cell WHERE code = ANY(:codes) ORDER BY level"),
            {"codes": leaf.split(".")},
        ).mappings()
        return [dict(r) for r in rows]


def children(engine, code: str) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                text(
                    "SELECT c.code FROM grid_cell c JOIN grid_cell p ON p.id = c.parent_id "
                    "WHERE p.code = :code"
                ),
                {"code": code},
            ).scalars()
        )


def drawn(pg) -> list[dict]:
    return pg.evaluate(DRAWN_JS)


def crumbs(pg) -> list[str]:
    return [t.strip() for t in pg.locator("#gc-breadcrumb .gc-crumb-name").all_inner_texts()]


def open_root(pg, live_url: str, query: str = "") -> dict:
    pg.goto(live_url + "/" + query)
    return wait_for_grid(pg, "s.draws > 0 && s.levels['2'] === 12", timeout=30_000)


def test_page_loads_with_the_counties_drawn(page, live_url):
    state = open_root(page, live_url)
    assert state["cells"] == 12 and state["roles"] == {"cell": 12}
    assert state["url"].startswith("/geo/grid.pbf?z=")
    assert "sel=" not in state["url"]
    page.get_by_text(t(TITLE, "zh")).wait_for()
    assert page.locator("#gc-demo-badge").inner_text() == t(DEMO_BADGE, "zh")
    assert crumbs(page) == ["大理白族自治州"]
    assert page.locator("#gc-message").inner_text() == ""
    # preferCanvas: the polygons are pixels on one canvas
    assert page.locator(".leaflet-overlay-pane canvas").count() == 1
    assert page.locator(".leaflet-overlay-pane svg").count() == 0
    assert state["labels"] > 0  # county names where they fit
    screenshot(page, "map-1280x800")


def test_hover_shows_an_escaped_tooltip(page, live_url, chain):
    open_root(page, live_url)
    county = chain[1]["code"]
    x, y = point_in_cell(page, county)
    page.mouse.move(x - 5, y)
    page.mouse.move(x, y, steps=3)
    tip = page.locator(".leaflet-tooltip.gc-tooltip")
    tip.wait_for(timeout=10_000)
    assert chain[1]["name"] in tip.inner_text() and county in tip.inner_text()
    hovered = next(d for d in drawn(page) if d["code"] == county)
    assert hovered["color"] == HOVER_STYLE["color"]  # highlighted while under the pointer
    got = page.evaluate(
        """() => window.gridcmd.tooltipHtml(
            {name: '<img src=x onerror="window.pwned=1">&', level: 3, code: '"1<2"'},
            {metric: 'open', values: {}, label: '<b>'})"""
    )
    assert "<img" not in got and "&lt;img src=x onerror=&quot;window.pwned=1&quot;&gt;&amp;" in got
    assert "&quot;1&lt;2&quot;" in got and "&lt;b&gt;" in got


def test_click_a_county_draws_its_townships(page, live_url, engine, chain):
    open_root(page, live_url)
    county = chain[1]
    x, y = point_in_cell(page, county["code"])  # once the map has settled
    fetches = grid_state(page)["fetches"]
    page.mouse.click(x, y)
    state = wait_for_grid(page, f"s.selected === '{county['code']}'")
    assert page.url.endswith(f"/?cell={county['code']}")
    # the children were requested for the view the fly lands on: no second request after it
    page.wait_for_function("() => !window.gridcmd.state.moving")
    page.wait_for_timeout(300)
    assert grid_state(page)["fetches"] == fetches + 1
    assert "3" in state["levels"] and state["roles"]["selected"] == 1
    cells = {d["code"] for d in drawn(page) if d["role"] == "cell"}
    assert children(engine, county["code"]) <= cells
    assert crumbs(page) == ["大理白族自治州", county["name"]]
    page.locator("#gc-panel-body").get_by_text(county["name"]).first.wait_for(timeout=10_000)
    screenshot(page, "map-county")


def test_drill_down_to_a_micro_grid_and_back_up(page, live_url, engine, chain):
    open_root(page, live_url)
    for depth in range(1, 6):
        cell = chain[depth]
        click_cell(page, cell["code"])
        code = cell["code"]
        state = wait_for_grid(page, f"s.selected === '{code}' || s.url.includes('sel={code}')")
        assert page.url.endswith(f"?cell={cell['code']}")
        assert crumbs(page) == [c["name"] for c in chain[: depth + 1]]
        if cell["level"] < 6:
            cells = {d["code"] for d in drawn(page) if d["role"] == "cell"}
            assert children(engine, cell["code"]) <= cells, f"children of level {depth + 1}"
            assert str(cell["level"] + 1) in state["levels"]
    # the selected micro-grid is drawn as a cell, outlined like a selection (the URL can show
    # the selection a draw before the outline does: wait for the draw, then check it)
    page.wait_for_function(
        f"([code]) => ({DRAWN_JS})().some(d => d.code === code && d.color === '#d9480f')",
        arg=[chain[5]["code"]], timeout=10_000,
    )  # fmt: skip
    leaf = next(d for d in drawn(page) if d["code"] == chain[5]["code"])
    assert leaf["color"] == "#d9480f"
    screenshot(page, "map-micro-grid")

    # browser back: the grid, then forward again
    page.go_back()
    wait_for_grid(page, f"s.selected === '{chain[4]['code']}'")
    assert page.url.endswith(f"?cell={chain[4]['code']}")
    page.go_forward()
    wait_for_grid(page, f"s.url.includes('sel={chain[5]['code']}')")

    # a crumb goes back up: the county, then the root
    page.locator("#gc-breadcrumb .gc-crumb").nth(1).click()
    wait_for_grid(page, f"s.selected === '{chain[1]['code']}'")
    assert page.url.endswith(f"?cell={chain[1]['code']}")
    assert crumbs(page) == [chain[0]["name"], chain[1]["name"]]
    page.locator("#gc-breadcrumb .gc-crumb").first.click()
    state = wait_for_grid(page, "!s.url.includes('sel=') && s.levels['2'] === 12")
    assert page.url == live_url + "/"
    assert crumbs(page) == [chain[0]["name"]]


def test_deep_link_opens_the_village(page, live_url, engine, chain):
    village = chain[3]
    page.goto(f"{live_url}/?cell={village['code']}")
    state = wait_for_grid(page, f"s.selected === '{village['code']}'", timeout=30_000)
    assert "5" in state["levels"]
    cells = {d["code"] for d in drawn(page) if d["role"] == "cell"}
    assert children(engine, village["code"]) <= cells
    assert crumbs(page) == [c["name"] for c in chain[:4]]
    page.locator("#gc-panel-body").get_by_text(village["name"]).first.wait_for(timeout=10_000)
    # the view is on the village: fitted to it, or (a village too large for its level, as in
    # the small fixture) centred on it at the zoom that draws its children
    on_it = page.evaluate(
        """(code) => { const s = window.gridcmd.state;
            const l = s._layers.find(l => l.feature.properties.code === code);
            const view = s._map.getBounds(), cell = l.getBounds();
            return view.pad(0.01).contains(cell) || cell.contains(view.getCenter()); }""",
        village["code"],
    )
    assert on_it


def test_zooming_into_a_village_draws_grids(page, live_url, engine, chain):
    open_root(page, live_url)
    with engine.connect() as conn:
        lon, lat = conn.execute(
            text("SELECT ST_X(label_point), ST_Y(label_point) FROM grid_cell WHERE code = :c"),
            {"c": chain[3]["code"]},
        ).one()
    page.evaluate(f"() => window.gridcmd.state._map.setView([{lat}, {lon}], 14)")
    state = wait_for_grid(page, "s.levels['5'] > 0")
    assert "sel=" not in state["url"] and "?cell" not in page.url
    cells = {d["code"] for d in drawn(page) if d["role"] == "cell"}
    assert cells & children(engine, chain[3]["code"])
    assert set(state["levels"]) == {"5"}


#: JS: every drawn cell (role "cell") has a fill colour passing TEST (e.g. "=== '#fff'").
ALL_CELLS_JS = """() => {
    const cells = (window.gridcmd.state._layers || []).filter(
        l => l.feature.properties.role === 'cell');
    return cells.length > 0 && cells.every(l => l.options.fillColor TEST);
}"""


def test_switching_the_metric_changes_colours(page, live_url, chain):
    page.goto(f"{live_url}/?cell={chain[1]['code']}")
    wait_for_grid(page, f"s.selected === '{chain[1]['code']}'", timeout=30_000)
    page.locator("#gc-metric-select").get_by_text("无", exact=True).click()
    page.wait_for_function(ALL_CELLS_JS.replace("TEST", "=== '#86a8de'"))
    page.locator("#gc-metric-select").get_by_text("未办结事件", exact=True).click()
    page.wait_for_function(ALL_CELLS_JS.replace("TEST", "!== '#86a8de'"))
    fills = {d["fill"] for d in drawn(page) if d["role"] == "cell"}
    assert "#86a8de" not in fills
    assert page.locator("#gc-metric-legend").inner_text().strip() != ""
    screenshot(page, "map-metric")


def test_search_finds_a_cell_by_partial_chinese_name(page, live_url, chain):
    open_root(page, live_url)
    village = chain[3]
    part = village["name"][:2]
    page.locator("#gc-search-input").fill(part)
    link = page.locator(f"#gc-search-results a[href$='cell={village['code']}']")
    link.wait_for(timeout=10_000)
    link.click()
    wait_for_grid(page, f"s.selected === '{village['code']}'")
    assert page.url.endswith(f"?cell={village['code']}")
    assert crumbs(page)[-1] == village["name"]


@pytest.mark.parametrize(
    ("query", "message"),
    [("?cell=999999999", "未知的网格编码"), ("?cell=abc%3Cscript%3E", "网格编码格式不正确")],
)
def test_bad_cell_in_the_url_shows_a_message(page, live_url, query, message):
    state = open_root(page, live_url, query)
    assert message in page.locator("#gc-message").inner_text()
    assert "sel=" not in state["url"]
    assert crumbs(page) == ["大理白族自治州"]


def test_english_page_keeps_the_language(page, live_url, chain):
    open_root(page, live_url)
    page.locator("#gc-lang-switch").get_by_text("English").click()  # a link: a page load
    page.wait_for_url("**/?lang=en")
    page.get_by_text("Dali Social Governance · Grid Command").wait_for()
    wait_for_grid(page, "s.levels['2'] === 12")
    click_cell(page, chain[1]["code"])
    wait_for_grid(page, f"s.selected === '{chain[1]['code']}'")
    assert "lang=en" in page.url
    hrefs = page.locator("#gc-breadcrumb a").evaluate_all("els => els.map(e => e.href)")
    assert all("lang=en" in h for h in hrefs)
    assert page.locator("#gc-breadcrumb .gc-crumb-level").first.inner_text() == "Prefecture"


@pytest.mark.parametrize("size", [(1920, 1080), (1280, 720)])
def test_layout_fits_the_screen(make_page, live_url, chain, size):
    pg = make_page(*size)
    county = chain[1]
    pg.goto(f"{live_url}/?cell={county['code']}")
    wait_for_grid(pg, f"s.selected === '{county['code']}'", timeout=30_000)
    pg.locator("#gc-panel-body").get_by_text(county["name"]).first.wait_for(timeout=10_000)
    boxes = {
        name: pg.locator(sel).bounding_box()
        for name, sel in {
            "header": "#gc-header",
            "crumbs": "#gc-breadcrumb",
            "panel": "#gc-panel",
            "legend": "#gc-legend",
        }.items()
    }
    w, h = size
    for name, b in boxes.items():
        assert b is not None, name
        assert b["x"] >= 0 and b["y"] >= 0, name
        assert b["x"] + b["width"] <= w and b["y"] + b["height"] <= h, name

    def overlap(a, b):
        return not (
            a["x"] + a["width"] <= b["x"]
            or b["x"] + b["width"] <= a["x"]
            or a["y"] + a["height"] <= b["y"]
            or b["y"] + b["height"] <= a["y"]
        )

    assert not overlap(boxes["header"], boxes["panel"])
    assert not overlap(boxes["crumbs"], boxes["panel"])
    assert not overlap(boxes["header"], boxes["crumbs"])
    # the selected county is on screen, clear of the panel
    sel = pg.evaluate(
        """(code) => { const s = window.gridcmd.state;
            const l = s._layers.find(l => l.feature.properties.code === code);
            const b = l.getBounds(), m = s._map;
            const ne = m.latLngToContainerPoint(b.getNorthEast());
            const sw = m.latLngToContainerPoint(b.getSouthWest());
            return [sw.x, ne.y, ne.x, sw.y]; }""",
        county["code"],
    )
    assert sel[0] >= 0 and sel[1] >= 0 and sel[3] <= h
    assert sel[2] <= boxes["panel"]["x"] + 2
    screenshot(pg, f"map-{w}x{h}")
    assert grid_state(pg)["errors"] == 0
