"""dashboard.layout: the page as Dash serves it — language from the page URL, the map and its
overlays, the offline default, the MBTiles base layer, and the database-outage banner."""

from __future__ import annotations

import json

import flask
import pytest

from app import create_app
from dashboard import ids
from dashboard.layout import INITIAL, page, page_title, request_lang
from dashboard.tiles import tiles_blueprint
from geodata.db import make_engine
from tests.conftest import signed_in
from tests.dashboard.test_tiles import make_mbtiles

DEAD_DB = "postgresql+psycopg://postgres@127.0.0.1:1/gridcmd_absent"
ROOT = {"code": "532900", "name": "大理白族自治州", "level": 1, "bbox": [98.9, 24.7, 101.0, 26.7]}


def layout_json(client, referer: str | None = None) -> dict:
    headers = {"Referer": referer} if referer else {}
    r = client.get("/_dash-layout", headers=headers)
    assert r.status_code == 200
    return r.json


def find(node, component_id):
    """The component with ``id`` in a serialised layout (or None)."""
    if isinstance(node, dict):
        props = node.get("props", {})
        if props.get("id") == component_id:
            return node
        for v in props.values():
            found = find(v, component_id)
            if found is not None:
                return found
    elif isinstance(node, list):
        for v in node:
            found = find(v, component_id)
            if found is not None:
                return found
    return None


@pytest.fixture(scope="module")
def client(settings, engine, accounts):
    return signed_in(create_app(settings, engine).server, engine)


def test_request_lang():
    app = flask.Flask(__name__)
    assert request_lang() == "zh"  # outside a request
    cases = [
        ("/?lang=en", {}, "en"),
        ("/_dash-layout", {"Referer": "http://h/?cell=1&lang=en"}, "en"),
        ("/_dash-layout", {"Referer": "http://h/?lang=fr"}, "zh"),
        ("/_dash-layout", {}, "zh"),
        ("/?lang=zh", {"Referer": "http://h/?lang=en"}, "zh"),  # the request's own wins
    ]
    for path, headers, lang in cases:
        with app.test_request_context(path, headers=headers):
            assert request_lang() == lang, (path, headers)


def test_page_structure_and_map():
    div = page(root=ROOT)
    assert div.id == ids.ROOT and div.lang == "zh"
    data = json.loads(json.dumps(div.to_plotly_json(), default=lambda o: o.to_plotly_json()))
    the_map = find(data, ids.MAP)["props"]
    assert the_map["preferCanvas"] is True
    assert the_map["trackViewport"] is False  # gridcmd.js reports the view (see layout.py)
    assert len(the_map["center"]) == 2 and 6 <= the_map["zoom"] <= 10
    assert "viewport" not in the_map
    grid = find(data, ids.GRID_LAYER)["props"]
    assert grid["format"] == "geobuf" and grid["url"] is None
    assert find(data, ids.SELECTED)["props"]["data"] == INITIAL
    assert find(data, ids.URL)["props"]["refresh"] is False
    for component_id in (ids.VIEW, ids.BREADCRUMB, ids.MESSAGE, ids.LEGEND, ids.MAP_CONFIG,
                         ids.LAYERS_CONTROL, ids.EVENTS_LAYER, ids.WORKERS_LAYER, ids.PANEL,
                         ids.SEARCH, ids.METRIC, ids.LANG_SWITCH):  # fmt: skip
        assert find(data, component_id) is not None, component_id
    crumbs = find(data, ids.BREADCRUMB)["props"]["children"]
    assert [c["props"]["href"] for c in crumbs] == ["/"]
    assert find(data, ids.DB_ALERT) is None
    assert "TileLayer" not in json.dumps(data)


def test_english_page():
    data = json.dumps(
        page(lang="en", root=ROOT).to_plotly_json(),
        default=lambda o: o.to_plotly_json(),
        ensure_ascii=False,
    )
    assert "Dali Social Governance · Grid Command" in data
    assert page_title("zh") not in data
    assert '"href": "/?lang=en"' in data  # the root crumb keeps the language


def test_served_layout_follows_the_page_language(client):
    zh = json.dumps(layout_json(client), ensure_ascii=False)
    assert page_title("zh") in zh and "大理白族自治州" in zh
    en = json.dumps(
        layout_json(client, "http://127.0.0.1/?cell=532901&lang=en"), ensure_ascii=False
    )
    assert "Dali Social Governance · Grid Command" in en and page_title("zh") not in en


def test_mbtiles_base_layer_only_when_registered(settings, engine, accounts, tmp_path):
    path = make_mbtiles(tmp_path / "b.mbtiles", "jpg", {(0, 0, 0): b"x"})
    app = create_app(settings, engine)
    if "gridcmd_tiles" not in app.server.blueprints:
        app.server.register_blueprint(tiles_blueprint(path))
    data = json.dumps(layout_json(signed_in(app.server, engine)))
    if app.server.blueprints["gridcmd_tiles"].mbtiles_path == path:
        assert "/tiles/{z}/{x}/{y}.jpg" in data and ids.BASEMAP_MBTILES in data
    plain = json.dumps(layout_json(signed_in(create_app(settings, engine).server, engine)))
    assert ids.BASEMAP_MBTILES not in plain


def test_database_outage_gives_the_banner(settings, session_without_db):
    dead = make_engine(DEAD_DB, connect_args={"connect_timeout": 2})
    try:
        data = layout_json(create_app(settings, dead).server.test_client())
    finally:
        dead.dispose()
    assert find(data, ids.DB_ALERT) is not None
    assert find(data, ids.MAP) is not None  # the page still renders


def test_header_shows_the_signed_in_user_with_sign_out():
    def links(component, out):
        for child in getattr(component, "children", None) or []:
            if isinstance(child, list):
                for c in child:
                    links(c, out)
            elif not isinstance(child, str):
                if getattr(child, "href", None):
                    out[child.href] = child.children
                links(child, out)
        return out

    zh = page(root=None, user={"name": "张三", "role": "commander"})
    found = links(zh, {})
    assert found["/logout"] == "退出登录" and "/account/password" in found
    assert "张三 · 指挥长" in repr(zh)
    en = page(lang="en", root=None, user={"name": "Zhang", "role": "supervisor"})
    assert links(en, {})["/logout"] == "Sign out" and "Zhang · Supervisor" in repr(en)
    assert "/logout" not in links(page(root=None), {})
