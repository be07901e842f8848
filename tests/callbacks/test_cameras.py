"""callbacks.cameras: the player callback called directly on the fixture database — only the
clicked id is used, re-read with the server-side scope."""

from __future__ import annotations

import pytest
from dash import html, no_update
from sqlalchemy import text

from callbacks import cameras
from dashboard import ids
from geodata.db import make_engine
from gridcmd import web
from tests.callbacks.fakes import FakeApp, set_triggered
from tests.camera_rows import committed_cameras


@pytest.fixture(scope="module")
def cam(engine):
    """One camera in 大理市 (532901), deleted after the module: its id."""
    with engine.connect() as conn:
        s = conn.execute(
            text(
                "SELECT ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat "
                "FROM grid_cell WHERE level = 6 AND path <@ '532900.532901' ORDER BY code LIMIT 1"
            )
        ).one()
    body = f"code,name,lon,lat,stream_url\nCBCAM1,真名,{s.lon},{s.lat},http://h.example/a.mp4\n"
    with committed_cameras(engine, body, "CBCAM"):
        with engine.connect() as conn:
            cam_id = conn.execute(text("SELECT id FROM camera WHERE code = 'CBCAM1'")).scalar_one()
        yield cam_id


def show(engine, settings, *args):
    app = FakeApp()
    cameras.register(app, engine, settings)
    return app.functions["show_camera"](*args)


def feature(cam_id, **props) -> dict:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [100, 25]},
        "properties": {"id": cam_id, "name": "forged <b>", "kind": "web", **props},
    }


def all_text(components) -> str:
    out = []

    def walk(c):
        ch = getattr(c, "children", None)
        if isinstance(ch, str):
            out.append(ch)
        elif isinstance(ch, list):
            for x in ch:
                walk(x)
        elif ch is not None:
            walk(ch)

    for c in components:
        walk(c)
    return " ".join(out)


def test_a_click_shows_the_camera_from_the_database(engine, settings, cam):
    set_triggered(f"{ids.CAMERA_LAYER}.n_clicks")
    hidden, body = show(engine, settings, 1, 0, feature(cam), "?lang=en")
    assert hidden is False
    shown = all_text(body)
    assert "真名" in shown and "forged" not in shown  # the browser's name is ignored
    player = next(c for c in body if "gc-camera-player" in (c.className or ""))
    video = [n for n in player.children if isinstance(n, html.Video)]
    assert video[0].src == "http://h.example/a.mp4"  # kind/URL from the database, not "web"


def test_outside_the_scope_is_unknown(engine, settings, cam, monkeypatch):
    monkeypatch.setattr(web, "caller_scope", lambda: "532900.532922")
    set_triggered(f"{ids.CAMERA_LAYER}.n_clicks")
    hidden, body = show(engine, settings, 1, 0, feature(cam), "")
    assert hidden is False
    assert all_text(body) == "摄像头不存在，或不在您的管辖范围内。"


@pytest.mark.parametrize(
    "click",
    [
        None,
        {
            "properties": {"cluster": True, "cluster_id": 5, "point_count": 3},
            "geometry": {"type": "Point"},
        },
        {"properties": {"id": "1"}, "geometry": {"type": "Point"}},
        {"properties": {"id": True}, "geometry": {"type": "Point"}},
        {"properties": {"id": 1}, "geometry": {"type": "LineString"}},  # a spider leg
        "junk",
    ],
)
def test_clusters_and_malformed_clicks_change_nothing(engine, settings, click):
    set_triggered(f"{ids.CAMERA_LAYER}.n_clicks")
    assert show(engine, settings, 1, 0, click, "") == (no_update, no_update)


def test_close_hides_and_empties_the_panel(engine, settings, cam):
    set_triggered(f"{ids.CAMERA_CLOSE}.n_clicks")
    assert show(engine, settings, 1, 1, feature(cam), "") == (True, [])


def test_database_down_is_a_message(settings, cam):
    eng = make_engine("postgresql://postgres@127.0.0.1:1/nowhere")
    try:
        set_triggered(f"{ids.CAMERA_LAYER}.n_clicks")
        hidden, body = show(eng, settings, 1, 0, feature(cam), "?lang=en")
    finally:
        eng.dispose()
    assert hidden is False and all_text(body) == "The database is unavailable."
