"""layers.grid: the grid layer, breadcrumb, layers control, legend and map config builders."""

from __future__ import annotations

import json

import dash_leaflet as dl
import pytest
from dash import dcc, html

from layers.grid import (
    CELL_STYLE,
    SELECTED_STYLE,
    breadcrumb,
    cell_href,
    default_hideout,
    grid_layer,
    js,
    layers_control,
    legend,
    map_config,
)
from tests.dash_tree import walk

LEVELS = {1: "州", 2: "县（市）", 3: "乡镇（街道）", 4: "村（社区）", 5: "网格", 6: "微网格"}
NAMES = {
    "none": "无底图",
    "basemap": "底图",
    "mbtiles": "本地瓦片",
    "grid": "网格",
    "events": "事件",
    "workers": "网格员",
}
PATH = [
    {"code": "532900", "name": "大理白族自治州", "level": 1},
    {"code": "532901", "name": "大理市", "level": 2},
    {"code": "532901001", "name": "<b>下关</b>", "level": 3},
]


def test_grid_layer_fetches_geobuf_from_its_url_and_styles_in_js():
    layer = grid_layer("/geo/grid.pbf?z=8&bbox=1,2,3,4", id="grid")
    assert isinstance(layer, dl.GeoJSON)
    assert layer.url == "/geo/grid.pbf?z=8&bbox=1,2,3,4"
    assert layer.format == "geobuf"
    assert not hasattr(layer, "data") or layer.data is None  # geometry never in callback data
    assert layer.style == js("styleCell") == {"variable": "gridcmd.styleCell"}
    assert layer.hoverStyle == js("hoverCell")
    assert layer.onEachFeature == js("onEachCell")
    assert layer.hideout == default_hideout()
    assert layer.zoomToBoundsOnClick is False


def test_default_hideout_follows_the_metric_contract():
    h = default_hideout("532901")
    assert h == {"metric": "none", "values": {}, "breaks": [], "colors": [], "selected": "532901"}
    layer = grid_layer(None, {"metric": "open", "values": {"1": 2.0}}, id="g")
    assert layer.url is None and layer.hideout["metric"] == "open"


@pytest.mark.parametrize(
    ("code", "lang", "href"),
    [
        (None, None, "/"),
        ("532901", None, "/?cell=532901"),
        ("532901", "en", "/?cell=532901&lang=en"),
        (None, "en", "/?lang=en"),
    ],
)
def test_cell_href(code, lang, href):
    assert cell_href(code, lang) == href
    assert cell_href(code, lang, base="/app/") == "/app/" + href[1:]


def test_breadcrumb_links_every_level_root_to_slash():
    out = breadcrumb(PATH, level_names=LEVELS)
    links = [c for c in out if isinstance(c, dcc.Link)]
    seps = [c for c in out if isinstance(c, html.Span)]
    assert [link.href for link in links] == ["/", "/?cell=532901", "/?cell=532901001"]
    assert len(seps) == 2 and all(s.children == "›" for s in seps)
    classes = [link.className for link in links]
    assert classes == ["gc-crumb", "gc-crumb", "gc-crumb gc-crumb-current"]
    level, name = links[1].children
    assert level.children == "县（市）" and name.children == "大理市"
    # names are plain text children: Dash escapes them
    assert links[2].children[1].children == "<b>下关</b>"
    assert links[2].title == "乡镇（街道） · 532901001"


def test_breadcrumb_keeps_the_language_and_handles_short_paths():
    out = breadcrumb(PATH, level_names=LEVELS, lang="en")
    hrefs = [c.href for c in out if isinstance(c, dcc.Link)]
    assert hrefs == ["/?lang=en", "/?cell=532901&lang=en", "/?cell=532901001&lang=en"]
    assert breadcrumb([], level_names=LEVELS) == []
    (only,) = breadcrumb(PATH[:1], level_names=LEVELS)
    assert only.href == "/" and "gc-crumb-current" in only.className


def _control(**kw) -> dl.LayersControl:
    grid = grid_layer(None, id="grid")
    return layers_control(
        grid, names=NAMES, events_id="ev", workers_id="wk", none_id="none", id="lc", **kw
    )


def test_layers_control_is_offline_by_default():
    ctl = _control()
    base = [c for c in ctl.children if isinstance(c, dl.BaseLayer)]
    over = [c for c in ctl.children if isinstance(c, dl.Overlay)]
    assert [b.name for b in base] == ["无底图"]
    assert base[0].checked is True and isinstance(base[0].children, dl.LayerGroup)
    assert not any(isinstance(c, dl.TileLayer) for c in walk(ctl))
    assert [o.name for o in over] == ["网格", "事件", "网格员"]
    assert all(o.checked for o in over)
    assert over[0].children.id == "grid"
    assert [o.children.id for o in over[1:]] == ["ev", "wk"]
    assert isinstance(over[1].children, dl.LayerGroup)


def test_layers_control_offers_configured_tiles_and_mbtiles():
    ctl = _control(
        basemap_url="https://tile.example/{z}/{x}/{y}.png",
        basemap_attribution="© example",
        basemap_id="bm",
        mbtiles={
            "url": "/tiles/{z}/{x}/{y}.jpg",
            "attribution": "local",
            "maxzoom": 14,
            "minzoom": 3,
        },  # fmt: skip
        mbtiles_id="mb",
    )
    base = [c for c in ctl.children if isinstance(c, dl.BaseLayer)]
    assert [b.name for b in base] == ["无底图", "底图", "本地瓦片"]
    assert [b.checked for b in base] == [True, False, False]  # still offline by default
    tiles = base[1].children
    assert tiles.url == "https://tile.example/{z}/{x}/{y}.png"
    assert tiles.attribution == "© example" and tiles.id == "bm"
    mb = base[2].children
    assert mb.url == "/tiles/{z}/{x}/{y}.jpg" and mb.id == "mb"
    assert mb.maxNativeZoom == 14 and mb.minNativeZoom == 3


def test_legend_swatches_per_level_and_selection():
    box = legend("图例", [("县", 2), ("选中", "selected"), ("周边", "context")], id="lg")
    assert box.id == "lg"
    title, ul = box.children
    assert title.children == "图例"
    swatches = [li.children[0].style for li in ul.children]
    assert swatches[0]["borderColor"] == CELL_STYLE[2]["color"]
    assert swatches[1]["borderColor"] == SELECTED_STYLE["color"]
    assert swatches[1]["backgroundColor"].endswith(", 0)")  # the selection is not filled
    extra = html.Div("metric")
    assert legend("t", [], extra=extra).children[-1] is extra


def test_map_config_carries_styles_texts_and_ids():
    div = map_config(
        id="cfg",
        map_id="map",
        view_store_id="view",
        grid_layer_id="grid",
        message_id="msg",
        level_names=LEVELS,
        texts={"code": "编码", "no_value": "无数据"},
        metric_names={"open": "未办结事件"},
    )
    assert div.hidden is True
    cfg = json.loads(div.to_plotly_json()["props"]["data-config"])
    assert cfg["mapId"] == "map" and cfg["viewStoreId"] == "view"
    assert cfg["gridLayerId"] == "grid" and cfg["messageId"] == "msg"
    assert cfg["levelNames"]["3"] == "乡镇（街道）"
    assert cfg["cellStyle"]["2"] == CELL_STYLE[2]
    assert cfg["selectedStyle"]["interactive"] is False and cfg["selectedStyle"]["fill"] is False
    assert cfg["texts"]["no_value"] == "无数据"
    assert cfg["metricNames"] == {"open": "未办结事件"}
    assert cfg["maxLabels"] > 0
