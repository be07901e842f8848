"""callbacks.live helpers: viewport padding, time ranges, details panels (text stays text)."""

from __future__ import annotations

import datetime as dt

from dash import html

from callbacks.live import event_panel, padded_bbox, since_for, track_since, worker_panel

NOW = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)


def test_padded_bbox():
    assert padded_bbox({"bounds": [[25, 100], [26, 101]]}) == (99.5, 24.5, 101.5, 26.5)
    assert padded_bbox({"bounds": [[-89, -179], [89, 179]]}) == (-180, -90, 180, 90)
    assert padded_bbox(None) is None
    assert padded_bbox({"bounds": "nope"}) is None


def test_since_for():
    assert since_for("24h", NOW) == NOW - dt.timedelta(hours=24)
    assert since_for("30d", NOW) == NOW - dt.timedelta(days=30)
    assert since_for("all", NOW) is None
    assert since_for("'; DROP", NOW) is None
    assert since_for(None, NOW) is None


def _texts(component) -> list[str]:
    out = []
    stack = [component]
    while stack:
        c = stack.pop()
        if isinstance(c, list):
            stack.extend(c)
        elif isinstance(c, str):
            out.append(c)
        elif c is not None:
            stack.append(getattr(c, "children", None))
    return out


def test_event_panel_keeps_html_as_text():
    title = '<img src=x onerror="alert(1)">'
    panel = event_panel(
        {
            "title": title, "category": "dispute", "status": "reported",
            "reported_at": "2026-11-27T01:00:00+00:00", "cell_name": "网格", "overdue": True,
            "due_at": "2026-11-26T01:00:00+00:00", "description": "<b>x</b>",
        },
        "zh",
    )  # fmt: skip
    assert isinstance(panel[0], html.H3) and panel[0].children == title
    texts = _texts(panel)
    assert "2026-11-27 09:00" in texts  # local time (UTC+8)
    assert "矛盾纠纷" in texts and "超期" in texts and "<b>x</b>" in texts


def test_worker_panel():
    track = {"properties": {"name": "张三", "cell_name": "一网格", "fix_age_s": 90,
                            "times": ["a", "b", "c"]}}  # fmt: skip
    texts = _texts(worker_panel(track, "stale", "en", "24h"))
    assert "张三" in texts and "一网格" in texts and "90 s ago" in texts
    assert "3 fixes" in texts and "No recent fix" in texts and "Track · Last 24 hours" in texts
    assert "轨迹 · 今天" in _texts(worker_panel(track, None, "zh"))


def test_track_since():
    local = dt.datetime(2026, 11, 27, 17, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert track_since("today", local) == local.replace(hour=0, minute=0)
    assert track_since("24h", local) == local - dt.timedelta(hours=24)
    assert track_since("7d", local) == local - dt.timedelta(days=7)
    assert track_since("all", local) == local.replace(hour=0, minute=0)
    assert track_since(None, local) == local.replace(hour=0, minute=0)
