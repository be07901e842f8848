"""callbacks.panel: the callback functions, called directly on the fixture database (scope
from the server side, bad input → messages, database down → messages, never exceptions)."""

from __future__ import annotations

from typing import Any

import pytest
from dash import dcc

from callbacks import panel
from dashboard import ids
from geodata.db import make_engine
from gridcmd import web
from layers.lod import grid_url
from tests.callbacks.fakes import FakeApp, set_triggered

DALI_CITY = "532900.532901"



@pytest.fixture()
def cbs(engine, settings):
    app = FakeApp()
    panel.register(app, engine, settings)
    return app


@pytest.fixture()
def dead_cbs(settings):
    eng = make_engine("postgresql://postgres@127.0.0.1:1/nowhere")
    app = FakeApp()
    panel.register(app, eng, settings)
    yield app
    eng.dispose()


def _trigger(prop_id: str) -> None:
    set_triggered(prop_id, None)


def _texts(children) -> str:
    return repr(children)


def _ops(patch) -> dict[str, Any]:
    return {op["location"][0]: op["params"]["value"] for op in patch.to_plotly_json()["operations"]}


def test_registered_callbacks_and_their_wiring(cbs):
    assert set(cbs.functions) == {"show_cell", "find", "colour_grid", "language_links"}
    deps, kwargs = cbs.specs["colour_grid"]
    out = deps[0]
    assert out.component_id == ids.GRID_LAYER and out.component_property == "hideout"
    assert out.allow_duplicate and kwargs["prevent_initial_call"] == "initial_duplicate"


def test_panel_defaults_to_the_jurisdiction_root(cbs):
    text = _texts(cbs.functions["show_cell"](None))
    assert "大理白族自治州" in text and "州" in text


def test_panel_for_a_cell_in_english(cbs):
    text = _texts(cbs.functions["show_cell"]("?cell=532901&lang=en"))
    assert "大理市" in text and "County" in text and "Code 532901" in text


@pytest.mark.parametrize(
    ("search", "message"),
    [
        ("?cell=5329%27", "网格编码格式不正确。"),
        ("?cell=999999999", "未知的网格编码，或不在您的辖区内。"),
        ("?cell=999999999&lang=en", "Unknown cell code, or outside your jurisdiction."),
    ],
)
def test_panel_bad_cells_give_messages(cbs, search, message):
    assert message in _texts(cbs.functions["show_cell"](search))


def test_panel_respects_the_server_side_scope(cbs, monkeypatch):
    monkeypatch.setattr(web, "caller_scope", lambda: DALI_CITY)
    assert "未知的网格编码" in _texts(cbs.functions["show_cell"]("?cell=532922"))
    assert "未知的网格编码" in _texts(cbs.functions["show_cell"]("?cell=532900"))
    assert "大理市" in _texts(cbs.functions["show_cell"](None))  # the scope's root


def test_search_gives_links(cbs, monkeypatch):
    _trigger(f"{ids.SEARCH_INPUT}.value")
    links = cbs.functions["find"]("大理", "?lang=en")
    assert links and all(isinstance(x, dcc.Link) for x in links)
    assert links[0].href == "/?cell=532900&lang=en"
    assert cbs.functions["find"]("", None) == []
    assert "1至50" in _texts(cbs.functions["find"]("x" * 51, None))
    monkeypatch.setattr(web, "caller_scope", lambda: DALI_CITY)
    links = cbs.functions["find"]("大理", None)
    assert [x.href for x in links] == ["/?cell=532901"]


def test_navigation_closes_the_search_list(cbs):
    _trigger(f"{ids.URL}.search")
    assert cbs.functions["find"]("大理", "?cell=532901") == []


def test_metric_hideout_for_a_view(cbs):
    url = grid_url(8, (98.9, 24.7, 101.0, 26.7), None)
    patch, legend = cbs.functions["colour_grid"]("open", url, "?lang=en")
    ops = _ops(patch)
    assert ops["metric"] == "open" and ops["level"] == 2 and ops["selected"] is None
    assert all(c.startswith("5329") for c in ops["values"])
    assert len(ops["values"]) == 12
    assert len(ops["colors"]) == len(ops["breaks"]) + 1
    assert "Open events" in _texts(legend)
    # a selection travels through to the hideout; its children are coloured
    url = grid_url(8, (98.9, 24.7, 101.0, 26.7), "532901")
    ops = _ops(cbs.functions["colour_grid"]("coverage", url, None)[0])
    assert ops["selected"] == "532901" and ops["level"] == 3
    assert ops["values"] and all(c.startswith("532901") for c in ops["values"])
    assert all(0 <= v <= 1 for v in ops["values"].values())


def test_metric_none_and_bad_views(cbs):
    patch, legend = cbs.functions["colour_grid"]("none", None, None)
    assert _ops(patch)["metric"] == "none" and legend == []
    assert cbs.functions["colour_grid"]("open", None, None) == (
        panel.no_update,
        panel.no_update,
    )
    for url in (
        "/geo/grid.pbf?z=8",
        "/geo/grid.pbf?z=x&bbox=1,2,3,4",
        "/geo/grid.pbf?z=8&bbox=1,2,3",
        "/geo/grid.pbf?z=8&bbox=3,2,1,4",
        "/geo/grid.pbf?z=18&bbox=-180,-85,180,85",  # absurd for the zoom
        "/geo/grid.pbf?z=8&bbox=99,25,100,26&sel=53%27",
        "javascript:alert(1)",
    ):
        patch, legend = cbs.functions["colour_grid"]("open", url, "?lang=en")
        assert _ops(patch)["metric"] == "none", url
        assert "Invalid map view." in _texts(legend), url
    # an unknown metric value from the browser is treated as "none"
    patch, _ = cbs.functions["colour_grid"]("drop table", "/geo/grid.pbf?z=8", None)
    assert _ops(patch)["metric"] == "none"


def test_language_links_keep_the_cell(cbs):
    link_ids = [{"type": ids.LANG_LINK, "lang": "zh"}, {"type": ids.LANG_LINK, "lang": "en"}]
    assert cbs.functions["language_links"]("?cell=532901&lang=en", link_ids) == [
        "?cell=532901",
        "?cell=532901&lang=en",
    ]
    assert cbs.functions["language_links"](None, link_ids) == ["?", "?lang=en"]


def test_database_down_gives_messages_not_errors(dead_cbs):
    assert "数据库暂不可用" in _texts(dead_cbs.functions["show_cell"]("?cell=532901"))
    _trigger(f"{ids.SEARCH_INPUT}.value")
    assert "database is unavailable" in _texts(dead_cbs.functions["find"]("大理", "?lang=en"))
    url = grid_url(8, (98.9, 24.7, 101.0, 26.7), None)
    patch, legend = dead_cbs.functions["colour_grid"]("open", url, None)
    assert patch is panel.no_update and "数据库暂不可用" in _texts(legend)
