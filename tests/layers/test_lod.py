"""layers.lod: the level-of-detail contract — natural and display level per zoom, zoom bands
(simplification tolerance and coordinate quantum), viewport snapping and the grid URL."""

from __future__ import annotations

import math
from urllib.parse import parse_qs, urlsplit

import pytest

from gridcmd.zoom import (
    BANDS,
    MAX_ZOOM,
    MIN_ZOOM,
    band_for_zoom,
    bands_for_level,
    display_level,
    levels_at_zoom,
    natural_level,
    pixel_deg,
)
from layers.lod import MARGIN_PX, SNAP_PX, grid_url, snap_bbox

ZOOMS = [z / 4 for z in range(MIN_ZOOM * 4, MAX_ZOOM * 4 + 1)]  # every 0.25 (zoomSnap)
DALI_VIEW = (99.9, 25.4, 100.4, 25.8)


def test_natural_level_grows_with_zoom_from_counties_to_micro_grids():
    levels = [natural_level(z) for z in ZOOMS]
    assert levels == sorted(levels)
    assert levels[0] == 2 and levels[-1] == 6
    assert set(levels) == {2, 3, 4, 5, 6}
    # only whole zooms matter: fractional zooms take the level of their floor
    assert all(natural_level(z) == natural_level(math.floor(z)) for z in ZOOMS)
    assert natural_level(0) == 2 and natural_level(25) == 6


@pytest.mark.parametrize("zoom", ZOOMS)
def test_display_level_without_selection_is_natural(zoom):
    assert display_level(zoom, None) == natural_level(zoom)


@pytest.mark.parametrize("zoom", ZOOMS)
@pytest.mark.parametrize("sel", [1, 2, 3, 4, 5, 6])
def test_display_level_with_a_selection(zoom, sel):
    nat = natural_level(zoom)
    got = display_level(zoom, sel)
    # never coarser than the natural level; at most two finer, and then only inside the
    # selected cell (a cell larger than usual for its level, fitted one zoom range early)
    assert nat <= got <= nat + 2
    if got > nat + 1:
        assert got == sel + 1
    if sel < 6 and nat >= sel - 1:
        assert got == max(nat, sel + 1)  # the selection's children (or finer)
    else:
        assert got == nat  # zoomed out far from the selection: natural level


def test_bands_tolerance_is_half_a_pixel_and_quantum_below_a_pixel():
    assert sorted(BANDS) == list(range(8, 17))
    for b, spec in BANDS.items():
        assert spec.band == b
        # Douglas–Peucker tolerance: at most half a screen pixel at the band's own zoom
        assert spec.tolerance <= pixel_deg(b) / 2 + 1e-15
        assert spec.tolerance == pytest.approx(pixel_deg(b) / 2)
        # coordinates rounded to a power of ten not above one pixel (Leaflet draws whole px)
        assert 10.0**-spec.digits <= pixel_deg(b)
        assert 10.0 ** -(spec.digits - 1) > pixel_deg(b)  # … and not needlessly finer
    tolerances = [BANDS[b].tolerance for b in sorted(BANDS)]
    assert tolerances == sorted(tolerances, reverse=True)
    digits = [BANDS[b].digits for b in sorted(BANDS)]
    assert digits == sorted(digits)


@pytest.mark.parametrize("zoom", ZOOMS)
def test_band_for_zoom_never_uses_a_coarser_band_than_the_zoom(zoom):
    band = band_for_zoom(zoom)
    assert band in BANDS
    assert band == min(max(math.floor(zoom), min(BANDS)), max(BANDS))
    if zoom >= min(BANDS):
        # the band's tolerance is at most half a pixel at the zoom it is used at
        assert BANDS[band].tolerance <= pixel_deg(min(zoom, max(BANDS))) / 2 * 2**0.75 + 1e-15


def test_bands_for_level_cover_every_zoom_the_level_is_drawn_at():
    for level in range(2, 7):
        bands = bands_for_level(level)
        assert bands == sorted(set(bands))
        for z in range(MIN_ZOOM, MAX_ZOOM + 1):
            if level in levels_at_zoom(z):
                assert band_for_zoom(z) in bands
    assert bands_for_level(1) == []  # the prefecture itself is never a drawn level


@pytest.mark.parametrize("zoom", [6, 8, 9.5, 11, 13.25, 16, 19])
def test_snap_bbox_contains_the_input_with_its_margin_on_the_grid(zoom):
    out = snap_bbox(DALI_VIEW, zoom)
    step = SNAP_PX * pixel_deg(math.floor(zoom))
    margin = MARGIN_PX * pixel_deg(math.floor(zoom))
    assert out[0] <= DALI_VIEW[0] - margin + 1e-6 and out[1] <= DALI_VIEW[1] - margin + 1e-6
    assert out[2] >= DALI_VIEW[2] + margin - 1e-6 and out[3] >= DALI_VIEW[3] + margin - 1e-6
    for v in out:  # aligned to the snapping grid (6 decimals in the URL)
        assert abs(v / step - round(v / step)) * step < 1e-6
    # no more than one snapping step beyond the margin on each side
    assert out[0] > DALI_VIEW[0] - margin - step and out[2] < DALI_VIEW[2] + margin + step


@pytest.mark.parametrize("zoom", [8, 11, 14, 17])
def test_snap_bbox_is_stable_under_small_pans(zoom):
    """Views whose margin-grown boxes fall in the same grid cells share one URL (HTTP cache)."""
    out = snap_bbox(DALI_VIEW, zoom)
    assert snap_bbox(DALI_VIEW, zoom) == out  # deterministic
    px = pixel_deg(math.floor(zoom))
    same = 0
    for dx in range(-8, 9, 2):
        moved = tuple(v + dx * px for v in DALI_VIEW)
        if snap_bbox(moved, zoom) == out:
            same += 1
    assert same >= 1
    # idempotent on the grid: snapping the snapped box minus its margin gives it back (a
    # quarter pixel inside, as the output is rounded to 6 decimals, off the exact grid)
    inset = MARGIN_PX * px + px / 4
    inner = (out[0] + inset, out[1] + inset, out[2] - inset, out[3] - inset)
    assert snap_bbox(inner, zoom) == out


def test_snap_bbox_clamps_and_rejects_bad_boxes():
    out = snap_bbox((-179.99, -84.99, 179.99, 84.99), 6)
    assert out == (-180.0, -85.0, 180.0, 85.0)
    for bad in [(1, 2, 0, 3), (0, 3, 1, 2), (math.nan, 0, 1, 1), (0, 0, math.inf, 1)]:
        with pytest.raises(ValueError):
            snap_bbox(bad, 10)


def test_grid_url():
    url = grid_url(10.75, DALI_VIEW, "532901")
    parts = urlsplit(url)
    assert parts.path == "/geo/grid.pbf"
    q = parse_qs(parts.query)
    assert q["z"] == ["10"]  # floored
    bbox = [float(v) for v in q["bbox"][0].split(",")]
    assert bbox == pytest.approx(snap_bbox(DALI_VIEW, 10), abs=1e-6)
    assert all(len(v.split(".")[1]) == 6 for v in q["bbox"][0].split(","))
    assert q["sel"] == ["532901"]
    assert "sel" not in parse_qs(urlsplit(grid_url(10, DALI_VIEW)).query)
    assert "sel" not in parse_qs(urlsplit(grid_url(10, DALI_VIEW, "")).query)
    # zoom clamped to the served range
    assert parse_qs(urlsplit(grid_url(2, DALI_VIEW)).query)["z"] == [str(MIN_ZOOM)]
    assert parse_qs(urlsplit(grid_url(25, DALI_VIEW)).query)["z"] == [str(MAX_ZOOM)]
    # same view, same URL (cacheable)
    assert grid_url(10.25, DALI_VIEW) == grid_url(10.5, DALI_VIEW)
