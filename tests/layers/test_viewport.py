"""layers.viewport: Web Mercator view arithmetic mirroring Leaflet (fitBounds landing view)."""

from __future__ import annotations

import math

import pytest

from layers.viewport import (
    bbox_to_bounds,
    bounds_to_bbox,
    center_view,
    fit_view,
    map_size_px,
)

DALI = (98.87, 24.68, 101.05, 26.72)
VILLAGE = (100.52, 25.79, 100.66, 25.88)


def test_bounds_and_bbox_round_trip():
    assert bbox_to_bounds(DALI) == [[24.68, 98.87], [26.72, 101.05]]
    assert bounds_to_bbox(bbox_to_bounds(DALI)) == DALI


@pytest.mark.parametrize("size", [(1920, 1080), (1280, 720), (800, 600)])
@pytest.mark.parametrize("bbox", [DALI, VILLAGE])
def test_fit_view_lands_like_leaflet(size, bbox):
    pad_tl, pad_br = (40, 110), (330, 40)
    zoom, view = fit_view(bbox, size, padding_tl=pad_tl, padding_br=pad_br, zoom_snap=0.25)
    assert zoom == pytest.approx(round(zoom * 4) / 4)  # on the zoomSnap grid
    # the view has exactly the screen's size at that zoom
    w, h = map_size_px(bbox_to_bounds(view), zoom)
    assert w == pytest.approx(size[0], abs=0.5) and h == pytest.approx(size[1], abs=0.5)
    # the box fits inside the padded area: projected, its size is within the padded size …
    bw, bh = map_size_px(bbox_to_bounds(bbox), zoom)
    assert bw <= size[0] - pad_tl[0] - pad_br[0] + 1e-6
    assert bh <= size[1] - pad_tl[1] - pad_br[1] + 1e-6
    # … but not at the next snap level (the largest zoom that fits)
    bw2, bh2 = map_size_px(bbox_to_bounds(bbox), zoom + 0.25)
    assert bw2 > size[0] - pad_tl[0] - pad_br[0] or bh2 > size[1] - pad_tl[1] - pad_br[1]
    # and the box is inside the view, offset away from the right-hand panel
    assert view[0] <= bbox[0] and view[1] <= bbox[1] and view[2] >= bbox[2]
    assert view[3] >= bbox[3]
    right_gap = (view[2] - bbox[2]) / (view[2] - view[0]) * size[0]
    assert right_gap >= pad_br[0] - 1


def test_fit_view_known_value_and_limits():
    # a box of exactly 256 × 256 px at zoom 0 fits a 256-px screen at zoom 0
    world = (-180.0, -85.0511287798, 180.0, 85.0511287798)
    zoom, _ = fit_view(world, (256, 256), padding_tl=(0, 0), padding_br=(0, 0), zoom_snap=1)
    assert zoom == 0
    zoom, _ = fit_view(world, (512, 512), padding_tl=(0, 0), padding_br=(0, 0), zoom_snap=1)
    assert zoom == 1
    z, _ = fit_view((100.0, 25.0, 100.0000001, 25.0000001), (1000, 800), max_zoom=18)
    assert z == 18  # a point-like box: clamped to the map's max zoom
    with pytest.raises(ValueError):
        fit_view((1, 2, 0, 3), (800, 600))
    with pytest.raises(ValueError):
        fit_view(DALI, (0, 600))


def test_center_view_puts_the_point_in_the_padded_middle():
    pad_tl, pad_br = (40, 110), (330, 40)
    center, view = center_view((100.2, 25.6), 12, (1280, 720), padding_tl=pad_tl,
                               padding_br=pad_br)  # fmt: skip
    w, h = map_size_px(bbox_to_bounds(view), 12)
    assert w == pytest.approx(1280, abs=0.5) and h == pytest.approx(720, abs=0.5)
    # the point sits at the middle of the padded area (x = 40 + (1280 - 370) / 2 = 495 px)
    x_px = (100.2 - view[0]) / (view[2] - view[0]) * 1280
    assert x_px == pytest.approx(40 + (1280 - 40 - 330) / 2, abs=1)
    # the returned centre is the view's centre (what setView/flyTo is given)
    assert center[1] == pytest.approx((view[0] + view[2]) / 2)
    assert view[1] < center[0] < view[3]
    assert not math.isclose(center[1], 100.2)  # shifted left of the panel
