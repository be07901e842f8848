"""layers.cameras (rows → GeoJSON, the clustered overlay) and the player panel components of
dashboard.cameras: pure builders, no database."""

from __future__ import annotations

import json

import dash_leaflet as dl
import pytest
from dash import html

from dashboard import ids
from dashboard.cameras import camera_overlay_for, camera_panel, camera_player, safe_href
from layers.cameras import (
    COORD_DIGITS,
    camera_layer,
    camera_overlay,
    cameras_geojson,
    cameras_geojson_text,
)
from tests.dash_tree import walk

ROWS = [
    {"id": 7, "code": "C7", "name": "<b>路口</b>", "kind": "hls", "lon": 100.123456789,
     "lat": 25.6, "stream_url": "http://secret.example/a.m3u8", "synthetic": True},
    {"id": 9, "code": "C9", "name": "桥头", "kind": "rtsp", "lon": 99.5, "lat": 25.987654321},
]  # fmt: skip


def texts(components) -> list[str]:
    out = []
    for c in components:
        for node in walk(c):
            ch = getattr(node, "children", None)
            if isinstance(ch, str):
                out.append(ch)
    return out


def test_geojson_has_points_with_id_name_kind_only():
    fc = cameras_geojson(ROWS)
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 2
    f = fc["features"][0]
    assert f["geometry"] == {
        "type": "Point",
        "coordinates": [round(100.123456789, COORD_DIGITS), 25.6],
    }
    assert f["properties"] == {"id": 7, "name": "<b>路口</b>", "kind": "hls"}
    assert f["id"] == 7
    body = cameras_geojson_text(ROWS)
    assert "secret.example" not in body and "stream_url" not in body  # URL never on the map
    assert "路口" in body  # compact UTF-8, not \\u escapes
    assert json.loads(body) == fc
    assert cameras_geojson([]) == {"type": "FeatureCollection", "features": []}


def test_camera_layer_is_clustered_with_js_icons_and_overlay_off_by_default():
    layer = camera_layer("/geo/cameras.geojson", id="cams")
    assert isinstance(layer, dl.GeoJSON)
    assert layer.cluster is True and layer.url == "/geo/cameras.geojson"
    assert layer.pointToLayer == {"variable": "gridcmdCameras.pointToLayer"}
    assert layer.clusterToLayer == {"variable": "gridcmdCameras.clusterToLayer"}
    assert layer.zoomToBoundsOnClick is True
    overlay = camera_overlay(layer, name="摄像头")
    assert isinstance(overlay, dl.Overlay) and overlay.checked is False and overlay.name == "摄像头"
    assert overlay.children is layer


@pytest.mark.parametrize(("lang", "name"), [("zh", "摄像头"), ("en", "Cameras")])
def test_overlay_for_the_page(lang, name):
    overlay = camera_overlay_for(lang)
    assert overlay.name == name and overlay.checked is False
    assert overlay.children.id == ids.CAMERA_LAYER


def test_panel_starts_hidden_with_a_close_button():
    panel = camera_panel("zh")
    assert panel.id == ids.CAMERA_PANEL and panel.hidden is True
    found = {getattr(n, "id", None) for n in walk(panel)}
    assert {ids.CAMERA_CLOSE, ids.CAMERA_PANEL_BODY} <= found


CAMERA = {"id": 3, "code": "CAM-3", "name": "<img src=x onerror=alert(1)>", "kind": "mp4",
          "stream_url": "http://v.example/a.mp4", "synthetic": True,
          "cell_code": "53290100100100101", "cell_name": "一号微网格"}  # fmt: skip


def test_mp4_player_is_a_video_with_src_and_a_safe_link():
    out = camera_player(CAMERA, "zh")
    nodes = [n for c in out for n in walk(c)]
    assert out[0].children == CAMERA["name"]  # a text child: React escapes it
    video = next(n for n in nodes if isinstance(n, html.Video))
    assert video.src == "http://v.example/a.mp4" and video.controls is True
    error = next(n for n in nodes if "gc-camera-error" in (getattr(n, "className", "") or ""))
    assert error.hidden is True  # shown by cameras.js on the video's error event
    link = next(n for n in nodes if isinstance(n, html.A))
    assert link.href == link.children == "http://v.example/a.mp4"
    assert link.target == "_blank" and link.rel == "noopener noreferrer"
    shown = texts(out)
    assert "模拟演示摄像头" in shown  # synthetic data is labelled
    assert "CAM-3" in shown and "一号微网格 (53290100100100101)" in shown
    assert "MP4 视频" in shown


def test_hls_player_leaves_src_to_hls_js():
    out = camera_player({**CAMERA, "kind": "hls", "stream_url": "https://v.example/a.m3u8"}, "en")
    video = next(n for c in out for n in walk(c) if isinstance(n, html.Video))
    props = video.to_plotly_json()["props"]
    assert "src" not in props
    assert props["data-src"] == "https://v.example/a.m3u8" and props["data-kind"] == "hls"
    assert "HLS live stream" in texts(out)


@pytest.mark.parametrize("kind", ["rtsp", "web"])
def test_rtsp_and_web_fall_back_to_the_link(kind):
    url = "rtsp://v.example/s" if kind == "rtsp" else "https://v.example/view"
    out = camera_player({**CAMERA, "kind": kind, "stream_url": url, "synthetic": False}, "en")
    nodes = [n for c in out for n in walk(c)]
    assert not any(isinstance(n, html.Video) for n in nodes)
    assert next(n for n in nodes if isinstance(n, html.A)).href == url
    assert any("open the link" in s for s in texts(out))
    assert "Synthetic demo camera" not in texts(out)


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", " JAVASCRIPT:alert(1)", "data:text/html,x", "", None, "//h/x"]
)
def test_unsafe_urls_never_become_links(url):
    assert safe_href(url) is None
    out = camera_player({**CAMERA, "stream_url": url}, "zh")
    nodes = [n for c in out for n in walk(c)]
    assert not any(isinstance(n, html.A | html.Video) for n in nodes)
