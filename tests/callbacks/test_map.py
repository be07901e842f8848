"""callbacks.map: the URL → selection/viewport/breadcrumb callback and the viewport → grid URL
callback, called through Dash's own HTTP endpoint on the fixture database; pure helpers."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from app import create_app
from callbacks.map import cell_param, detail_zoom, selection_view
from dashboard import ids
from dashboard.layout import INITIAL
from geodata.cells import cell_by_code
from geodata.db import make_engine
from gridcmd.zoom import display_level
from layers.lod import grid_url
from layers.viewport import bbox_to_bounds, fit_view
from tests.conftest import signed_in

DEAD_DB = "postgresql+psycopg://postgres@127.0.0.1:1/gridcmd_absent"
VIEW = {"bounds": [[24.3, 97.8], [27.3, 103.7]], "zoom": 8.25, "size": [1280, 800]}


def _app(settings, engine):
    return create_app(settings, engine)  # callbacks.register wires the map callbacks


@pytest.fixture(scope="module")
def app(settings, engine, accounts):
    a = _app(settings, engine)
    a.server.config["TEST_CLIENT"] = signed_in(a.server, engine)  # prefecture commander
    return a


def call(app, first_output: str, inputs: dict, state: dict | None = None) -> dict | None:
    """Run the server callback whose outputs start with ``first_output`` ("id.prop") the way
    the browser does; returns ``{id: {prop: value}}`` (None for 204: nothing to update)."""
    key = next(k for k in app.callback_map if k.lstrip(".").startswith(first_output))
    spec = app.callback_map[key]
    outs = [
        {"id": part.split(".", 1)[0], "property": part.split(".", 1)[1]}
        for part in key.strip(".").split("...")
    ]

    def values(specs, given):
        return [{**s, "value": given.get(f"{s['id']}.{s['property']}")} for s in specs]

    body = {
        "output": key,
        "outputs": outs if key.startswith("..") else outs[0],
        "inputs": values(spec["inputs"], inputs),
        "state": values(spec["state"], state or {}),
        "changedPropIds": list(inputs),
    }
    client = app.server.config.get("TEST_CLIENT") or app.server.test_client()
    r = client.post("/_dash-update-component", json=body)
    assert r.status_code in (200, 204), r.get_data(as_text=True)
    return (r.json["response"] or None) if r.status_code == 200 else None


def follow_url(app, search: str, *, view=None, previous=INITIAL, url=None) -> dict:
    return call(
        app,
        f"{ids.MAP}.viewport",
        {f"{ids.URL}.search": search},
        {f"{ids.VIEW}.data": view, f"{ids.SELECTED}.data": previous, f"{ids.GRID_LAYER}.url": url},
    )


def crumb_hrefs(resp) -> list[str]:
    return [c["props"]["href"] for c in resp[ids.BREADCRUMB]["children"] if c["type"] == "Link"]


@pytest.mark.parametrize(
    ("search", "code", "ok"),
    [
        (None, None, True),
        ("", None, True),
        ("?lang=en", None, True),
        ("?cell=", None, True),
        ("?cell=532901", "532901", True),
        ("?cell=532901&lang=en", "532901", True),
        ("?cell=1&cell=532901", "532901", True),  # the last one wins
        ("?cell=abc", "abc", False),
        ("?cell=53290%27--", "53290'--", False),
        ("?cell=12345", "12345", False),  # codes are 6–20 digits
    ],
)
def test_cell_param(search, code, ok):
    assert cell_param(search) == (code, ok)


def test_detail_zoom_draws_the_children():
    for level in range(1, 7):
        z = detail_zoom(level)
        assert display_level(z, level) >= min(level + 1, 6)
        assert display_level(z - 1, level) < min(level + 1, 6) or z == 6


def test_first_load_fits_the_cell_without_animation(app, conn):
    county = cell_by_code(conn, "532901", scope_path="532900")
    resp = follow_url(app, "?cell=532901")
    vp = resp[ids.MAP]["viewport"]
    assert vp["transition"] == "fitBounds" and vp["options"]["animate"] is False
    assert vp["bounds"] == bbox_to_bounds(county["bbox"])
    assert resp[ids.SELECTED]["data"] == "532901"
    assert ids.GRID_LAYER not in resp  # the map has not reported its size: moveend will
    assert crumb_hrefs(resp) == ["/", "/?cell=532901"]
    assert resp[ids.MESSAGE]["children"] == ""


def test_later_selection_flies_and_requests_the_landing_view(app, conn):
    county = cell_by_code(conn, "532901", scope_path="532900")
    resp = follow_url(app, "?cell=532901", view=VIEW, previous=None)
    vp = resp[ids.MAP]["viewport"]
    assert vp["transition"] == "flyToBounds" and vp["options"]["duration"] > 0
    zoom, box = fit_view(county["bbox"], (1280, 800), zoom_snap=0.25, max_zoom=18)
    url = resp[ids.GRID_LAYER]["url"]
    assert url == grid_url(zoom, box, "532901")
    assert parse_qs(urlsplit(url).query)["sel"] == ["532901"]
    # same url as the layer already has: not re-sent (it would re-trigger the metric callback)
    again = follow_url(app, "?cell=532901", view=VIEW, previous="532901", url=url)
    assert ids.GRID_LAYER not in again


def test_a_cell_too_large_for_its_level_is_centred_at_its_detail_zoom(app, conn):
    # at the fixture's small scale the largest grid is far larger than a real one: fitted, it
    # would land below even the relaxed zoom range that draws its micro-grids
    code = conn.exec_driver_sql(
        "SELECT code FROM grid_cell WHERE level = 5 ORDER BY area_km2 DESC LIMIT 1"
    ).scalar_one()
    cell = cell_by_code(conn, code, scope_path="532900")
    viewport, zoom, box = selection_view(cell, VIEW, animate=True)
    assert viewport["transition"] == "flyTo" and viewport["zoom"] == detail_zoom(5) == zoom
    assert display_level(zoom, 5) == 6
    lon, lat = cell["label_point"]
    assert box[0] < lon < box[2] and box[1] < lat < box[3]
    resp = follow_url(app, f"?cell={code}", view=VIEW, previous=None)
    assert resp[ids.MAP]["viewport"]["zoom"] == detail_zoom(5)
    assert f"z={detail_zoom(5)}&" in resp[ids.GRID_LAYER]["url"]


def test_no_cell_is_the_prefecture(app):
    resp = follow_url(app, "", view=VIEW, previous="532901")
    assert resp[ids.SELECTED]["data"] is None
    assert crumb_hrefs(resp) == ["/"]
    assert "sel=" not in resp[ids.GRID_LAYER]["url"]


@pytest.mark.parametrize(
    ("search", "message"),
    [
        ("?cell=999999999", "未知的网格编码，或不在您的辖区内。"),
        ("?cell=532901%3Cscript%3E", "网格编码格式不正确。"),
        ("?cell=999999999&lang=en", "Unknown cell code, or outside your jurisdiction."),
    ],
)
def test_bad_cell_is_a_message_and_the_prefecture(app, search, message):
    resp = follow_url(app, search, view=VIEW, previous=None)
    assert resp[ids.MESSAGE]["children"] == message
    assert resp[ids.SELECTED]["data"] is None
    assert len(crumb_hrefs(resp)) == 1
    assert "sel=" not in resp[ids.GRID_LAYER]["url"]


def test_english_breadcrumb_keeps_the_language(app):
    resp = follow_url(app, "?cell=532901&lang=en", view=VIEW, previous=None)
    assert crumb_hrefs(resp) == ["/?lang=en", "/?cell=532901&lang=en"]
    level_tag = resp[ids.BREADCRUMB]["children"][0]["props"]["children"][0]["props"]["children"]
    assert level_tag == "Prefecture"


def test_database_outage_is_a_message_not_a_500(settings, session_without_db):
    dead = make_engine(DEAD_DB, connect_args={"connect_timeout": 2})
    try:
        resp = follow_url(_app(settings, dead), "?cell=532901", view=VIEW, previous=None)
    finally:
        dead.dispose()
    assert resp == {ids.MESSAGE: {"children": "数据库暂不可用。"}}


def test_viewport_gives_the_grid_url(app):
    view_key = f"{ids.VIEW}.data"
    resp = call(app, f"{ids.GRID_LAYER}.url", {view_key: VIEW}, {f"{ids.SELECTED}.data": None})
    expected = grid_url(8.25, (97.8, 24.3, 103.7, 27.3))
    assert resp[ids.GRID_LAYER]["url"] == expected
    sel = call(app, f"{ids.GRID_LAYER}.url", {view_key: VIEW}, {f"{ids.SELECTED}.data": "532901"})
    assert sel[ids.GRID_LAYER]["url"] == grid_url(8.25, (97.8, 24.3, 103.7, 27.3), "532901")
    # before the URL was applied, or when unchanged, or before any report: nothing to do
    init = call(app, f"{ids.GRID_LAYER}.url", {view_key: VIEW}, {f"{ids.SELECTED}.data": INITIAL})
    assert init[ids.GRID_LAYER]["url"] == expected
    same = {f"{ids.SELECTED}.data": None, f"{ids.GRID_LAYER}.url": expected}
    assert call(app, f"{ids.GRID_LAYER}.url", {view_key: VIEW}, same) is None
    assert call(app, f"{ids.GRID_LAYER}.url", {view_key: None}) is None
    assert call(app, f"{ids.GRID_LAYER}.url", {view_key: {"zoom": "x"}}) is None
