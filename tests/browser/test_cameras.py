"""Cameras in real headless Chromium: the overlay (off by default) in the layers control, a
click on a camera opens the player panel with the escaped name, a <video> with the stream URL
and a safe link; HLS goes through the vendored hls.js; a failing stream shows a message.

The streams are local URLs of files that are not video (the app's own CSS), so nothing leaves
localhost and the player's error path is exercised without console errors.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from dashboard import ids
from tests.browser.conftest import screenshot, wait_for_grid
from tests.camera_rows import committed_cameras

pytestmark = pytest.mark.browser

EVIL = "<img src=x onerror=window.__pwned=1>"


@pytest.fixture(scope="module")
def cams(engine, live_url) -> dict[str, dict]:
    """Three cameras far apart (no clustering at the prefecture view): an MP4 one with a
    hostile name, an HLS one and an RTSP one. Deleted after the module."""
    with engine.connect() as conn:
        sites = conn.execute(
            text(
                """
                SELECT DISTINCT ON (subpath(path, 1, 1)) code,
                       ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat
                FROM grid_cell WHERE level = 6
                  AND subpath(path, 1, 1) IN ('532901', '532922', '532929')
                ORDER BY subpath(path, 1, 1), code
                """
            )
        ).all()
    assert len(sites) == 3
    specs = [
        ("BRCAM1", EVIL, f"{live_url}/assets/cameras.css?clip=1", "mp4"),
        ("BRCAM2", "HLS 路口", f"{live_url}/assets/cameras.css?live=1", "hls"),
        ("BRCAM3", "RTSP 桥头", "rtsp://127.0.0.1:1/s1", "rtsp"),
    ]
    body = "code,name,lon,lat,stream_url,kind\n" + "".join(
        f'{code},"{name}",{s.lon},{s.lat},{url},{kind}\n'
        for (code, name, url, kind), s in zip(specs, sites, strict=True)
    )
    with committed_cameras(engine, body, "BRCAM"):
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT code, id, stream_url FROM camera WHERE code LIKE 'BRCAM%'")
            ).all()
        yield {r.code: {"id": r.id, "url": r.stream_url} for r in rows}


def open_map(pg, live_url: str) -> None:
    pg.goto(live_url + "/")
    wait_for_grid(pg, "s.draws > 0 && s.levels['2'] === 12", timeout=30_000)


def enable_cameras(pg) -> None:
    """Open the (collapsed) layers control and tick the camera overlay."""
    control = pg.locator(".leaflet-control-layers")
    control.hover()
    label = pg.locator(".leaflet-control-layers-overlays label", has_text="摄像头")
    box = label.locator("input[type=checkbox]")
    assert not box.is_checked()  # off by default
    label.click()
    assert box.is_checked()


def marker(pg, cam_id: int):
    return pg.locator(f".gc-camera-marker[data-camera='{cam_id}']")


def test_cameras_are_off_until_enabled_then_drawn(page, live_url, cams):
    open_map(page, live_url)
    assert page.locator(".gc-camera-marker, .gc-camera-cluster").count() == 0
    assert page.locator(f"#{ids.CAMERA_PANEL}").is_hidden()
    # hls.js is not part of the page until a stream needs it
    assert page.evaluate("() => typeof window.Hls") == "undefined"
    enable_cameras(page)
    for code in ("BRCAM1", "BRCAM2", "BRCAM3"):
        marker(page, cams[code]["id"]).wait_for(timeout=10_000)
    # the hostile name is text in the tooltip, never markup
    marker(page, cams["BRCAM1"]["id"]).hover()
    tip = page.locator(".leaflet-tooltip.gc-camera-tooltip")
    tip.wait_for()
    assert tip.inner_text() == EVIL
    assert page.evaluate("() => window.__pwned") is None


def test_click_opens_the_player_with_escaped_name_video_and_safe_link(page, live_url, cams):
    open_map(page, live_url)
    enable_cameras(page)
    cam = cams["BRCAM1"]
    marker(page, cam["id"]).click()
    panel = page.locator(f"#{ids.CAMERA_PANEL}")
    panel.wait_for(state="visible", timeout=10_000)
    assert panel.locator(".gc-camera-name").inner_text() == EVIL  # literal text
    assert panel.locator("img").count() == 0
    assert page.evaluate("() => window.__pwned") is None
    video = panel.locator("video.gc-camera-video")
    assert video.get_attribute("src") == cam["url"]
    assert video.get_attribute("controls") is not None
    link = panel.locator("a.gc-camera-link")
    assert link.get_attribute("href") == cam["url"]
    assert link.get_attribute("rel") == "noopener noreferrer"
    assert link.get_attribute("target") == "_blank"
    assert "BRCAM1" in panel.inner_text() and "MP4 视频" in panel.inner_text()
    # the URL is CSS, not video: the error event shows the message
    panel.locator(".gc-camera-error").wait_for(state="visible", timeout=10_000)
    assert "视频流无法加载" in panel.locator(".gc-camera-error").inner_text()
    screenshot(page, "camera-player")
    # close: hidden and emptied (the video is gone, so the stream stops)
    page.locator(f"#{ids.CAMERA_CLOSE}").click()
    panel.wait_for(state="hidden")
    assert page.locator("video.gc-camera-video").count() == 0


def test_hls_uses_the_vendored_hls_js_and_reports_failure(page, live_url, cams):
    open_map(page, live_url)
    enable_cameras(page)
    marker(page, cams["BRCAM2"]["id"]).click()
    panel = page.locator(f"#{ids.CAMERA_PANEL}")
    panel.wait_for(state="visible", timeout=10_000)
    video = panel.locator("video.gc-camera-video")
    assert video.get_attribute("data-src") == cams["BRCAM2"]["url"]
    page.wait_for_function("() => window.gridcmdCameras.state.hls === 1", timeout=10_000)
    assert page.evaluate("() => typeof window.Hls") == "function"
    # hls.js fetched the "playlist" (a CSS file) and gave up: the message is shown
    panel.locator(".gc-camera-error").wait_for(state="visible", timeout=15_000)
    # another camera replaces the content: rtsp shows the link and a hint, no video
    marker(page, cams["BRCAM3"]["id"]).click()
    page.locator(".gc-camera-hint").wait_for(timeout=10_000)
    assert panel.locator("video").count() == 0
    assert panel.locator("a.gc-camera-link").get_attribute("href") == "rtsp://127.0.0.1:1/s1"
    assert panel.locator(".gc-camera-name").inner_text() == "RTSP 桥头"


def test_english_labels(page, live_url, cams):
    page.goto(live_url + "/?lang=en")
    wait_for_grid(page, "s.draws > 0 && s.levels['2'] === 12", timeout=30_000)
    page.locator(".leaflet-control-layers").hover()
    label = page.locator(".leaflet-control-layers-overlays label", has_text="Cameras")
    label.click()
    marker(page, cams["BRCAM3"]["id"]).click()
    panel = page.locator(f"#{ids.CAMERA_PANEL}")
    panel.wait_for(state="visible", timeout=10_000)
    assert "RTSP stream" in panel.inner_text()
    assert "open the link in a video client" in panel.inner_text()
