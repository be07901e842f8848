"""dashboard.panel and dashboard.search: the panel body, its Plotly figures and search results
(pure: dicts in, Dash components out)."""

from __future__ import annotations

import datetime as dt
import json

import plotly.io
from dash import dcc, html

from dashboard.panel import (
    CHART_CONFIG,
    categories_figure,
    panel_content,
    panel_message,
    trend_figure,
)
from dashboard.search import cell_href, search_results

TREND = [(dt.date(2026, 10, 3) + dt.timedelta(days=i), i % 3) for i in range(30)]
SUMMARY = {
    "code": "532901001",
    "name": "青箐乡",
    "level": 3,
    "path": "532900.532901.532901001",
    "path_names": ["大理市", "青箐乡"],
    "population": 16611,
    "households": 5222,
    "whole": False,
    "cells_by_level": {4: 10, 5: 113, 6: 286},
    "grids": 113,
    "workers": 167,
    "workers_on_duty": 99,
    "events_total": 39,
    "events_open": 3,
    "events_overdue": 2,
    "events_resolved_7d": 0,
    "trend_days": 30,
    "trend": TREND,
    "categories": [("dispute", 5), ("social_risk", 2)],
}


def _walk(component):
    """Every component in a tree (depth first)."""
    yield component
    children = getattr(component, "children", None)
    if isinstance(children, list | tuple):
        for c in children:
            yield from _walk(c)
    elif children is not None and not isinstance(children, str | int | float):
        yield from _walk(children)


def _texts(components) -> list[str]:
    out = []
    for root in components:
        for c in _walk(root):
            if isinstance(c, str):
                out.append(c)
            elif isinstance(getattr(c, "children", None), str):
                out.append(c.children)
    return out


def test_panel_shows_the_numbers_in_chinese():
    body = panel_content(SUMMARY, "zh")
    texts = _texts(body)
    for expected in (
        "青箐乡", "大理市", "乡镇（街道）", "编码 532901001", "16,611", "5,222", "99", " / 167",
        "村（社区）", "113", "近30天上报事件", "近30天主要事件类别",
    ):  # fmt: skip
        assert expected in texts, expected
    graphs = [c for root in body for c in _walk(root) if isinstance(c, dcc.Graph)]
    assert len(graphs) == 2
    assert all(g.config["displayModeBar"] is False for g in graphs)
    # the overdue count is highlighted
    alert = [
        c
        for root in body
        for c in _walk(root)
        if "gc-pstat-alert" in (getattr(c, "className", None) or "")
    ]
    assert len(alert) == 1


def test_panel_in_english_and_without_events():
    s = {**SUMMARY, "events_overdue": 0, "categories": [], "path_names": ["青箐乡"]}
    texts = _texts(panel_content(s, "en"))
    assert "Township" in texts and "Code 532901001" in texts
    assert "No events" in texts
    assert "Events reported, last 30 days" in texts
    assert not any(" › " in x for x in texts)  # no ancestors line for a top cell


def test_panel_placeholder_and_message():
    assert _texts(panel_content(None, "en")) == ["Select a cell on the map or search for one."]
    msg = panel_message("数据库暂不可用。", kind="error")
    assert msg.role == "alert" and "gc-panel-msg-error" in msg.className


def test_trend_figure_is_plain_json_and_valid_plotly():
    fig = trend_figure(TREND, "zh")
    assert json.loads(json.dumps(fig)) == fig
    trace = fig["data"][0]
    assert trace["type"] == "bar" and len(trace["x"]) == len(trace["y"]) == 30
    assert trace["x"][0] == "2026-10-03" and trace["y"][:3] == [0, 1, 2]
    plotly.io.from_json(json.dumps(fig))  # validates against the Plotly schema
    assert fig["layout"]["yaxis"]["dtick"] == 1  # counts up to 2: ticks 0, 1, 2
    assert trend_figure([(dt.date(2026, 1, 1), 90)])["layout"]["yaxis"]["dtick"] == 30
    assert trend_figure([])["data"][0]["x"] == []


def test_categories_figure_translates_and_keeps_order():
    fig = categories_figure([("dispute", 5), ("forest_fire", 2)], "zh")
    trace = fig["data"][0]
    assert trace["y"] == ["矛盾纠纷", "森林防火"] and trace["x"] == [5, 2]
    assert fig["layout"]["yaxis"]["autorange"] == "reversed"  # largest on top
    assert categories_figure([("livelihood", 1)], "en")["data"][0]["y"] == ["Livelihood services"]
    plotly.io.from_json(json.dumps(fig))
    assert CHART_CONFIG["displayModeBar"] is False


def test_search_results_are_links_with_paths():
    rows = [
        {
            "code": "532901001001",
            "name": "西里村",
            "level": 4,
            "path_names": ["大理市", "青箐乡", "西里村"],
            "path_label": "大理市 › 青箐乡 › 西里村",
        }
    ]
    (link,) = search_results(rows, "zh")
    assert isinstance(link, dcc.Link) and link.href == "/?cell=532901001001"
    texts = _texts([link])
    assert "西里村" in texts and "村（社区）" in texts and "大理市 › 青箐乡 › 532901001001" in texts
    (link,) = search_results(rows, "en", base="/app/")
    assert link.href == "/app/?cell=532901001001&lang=en"
    (msg,) = search_results([], "en")
    assert isinstance(msg, html.Div) and msg.children == "No matches."


def test_cell_href():
    assert cell_href("532901") == "/?cell=532901"
    assert cell_href("532901", "en") == "/?cell=532901&lang=en"
    assert cell_href("532901", "fr") == "/?cell=532901"
