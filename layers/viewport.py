"""Viewport arithmetic in Web Mercator, mirroring Leaflet's own: the map's size in pixels from
its reported bounds and zoom, and the view Leaflet will land on after ``fitBounds`` /
``flyToBounds`` of a box. Pure functions (no database, no request).

Knowing the landing view on the server lets the drill-down callback request the children's
payload for the *final* view at the same time as it starts the fly animation, instead of
waiting for the animation's ``moveend`` (see ``callbacks/map.py``).

Conventions: lon/lat degrees (EPSG:4326); a *bbox* is ``(minx, miny, maxx, maxy)``; Leaflet
*bounds* are ``[[south, west], [north, east]]``; zooms are Leaflet zooms (256-px tiles);
padding is ``(x, y)`` pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from gridcmd.vocab import CELL_CODE_RE
from gridcmd.zoom import MAX_ZOOM, MIN_ZOOM, pixel_deg

__all__ = [
    "MAX_VIEW_PX",
    "parse_view",
    "DEFAULT_PADDING_BR",
    "DEFAULT_PADDING_TL",
    "MAX_LAT",
    "bbox_to_bounds",
    "center_view",
    "bounds_to_bbox",
    "fit_view",
    "map_size_px",
]

#: Leaflet's Web Mercator latitude limit.
MAX_LAT = 85.0511287798

#: Padding used when fitting a cell to the screen, in pixels: room for the header and
#: breadcrumb (top) and the side panel (right, 300 px + margins); see gridcmd.css.
DEFAULT_PADDING_TL: tuple[int, int] = (40, 110)
DEFAULT_PADDING_BR: tuple[int, int] = (330, 40)

BBox = tuple[float, float, float, float]


def _x(lon: float) -> float:
    """Longitude → Mercator x in [0, 1] (world units)."""
    return (lon + 180.0) / 360.0


def _y(lat: float) -> float:
    """Latitude → Mercator y in [0, 1] (world units, 0 at the north limit, like Leaflet)."""
    lat = max(min(lat, MAX_LAT), -MAX_LAT)
    s = math.sin(math.radians(lat))
    return 0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)


def _lon(x: float) -> float:
    return x * 360.0 - 180.0


def _lat(y: float) -> float:
    return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y))))


def _world_px(zoom: float) -> float:
    return 256.0 * 2.0**zoom


def bounds_to_bbox(bounds: Sequence[Sequence[float]]) -> BBox:
    """Leaflet ``[[s, w], [n, e]]`` → ``(minx, miny, maxx, maxy)``."""
    (s, w), (n, e) = bounds
    return (float(w), float(s), float(e), float(n))


def bbox_to_bounds(bbox: Sequence[float]) -> list[list[float]]:
    """``(minx, miny, maxx, maxy)`` → Leaflet ``[[s, w], [n, e]]``."""
    minx, miny, maxx, maxy = bbox
    return [[float(miny), float(minx)], [float(maxy), float(maxx)]]


def map_size_px(bounds: Sequence[Sequence[float]], zoom: float) -> tuple[float, float]:
    """The map container's size ``(width, height)`` in CSS pixels, recovered from the bounds
    and zoom Leaflet reports (exact up to Leaflet's rounding of the pixel origin)."""
    minx, miny, maxx, maxy = bounds_to_bbox(bounds)
    w = (_x(maxx) - _x(minx)) * _world_px(zoom)
    h = (_y(miny) - _y(maxy)) * _world_px(zoom)
    return (w, h)


def _bounds_zoom(
    bbox: BBox, size: tuple[float, float], padding: tuple[float, float], snap: float
) -> float:
    # Leaflet Map.getBoundsZoom(bounds, inside=false, padding).
    minx, miny, maxx, maxy = bbox
    avail_w = max(size[0] - padding[0], 1.0)
    avail_h = max(size[1] - padding[1], 1.0)
    bw = max(_x(maxx) - _x(minx), 1e-12)
    bh = max(_y(miny) - _y(maxy), 1e-12)
    # Scale from zoom 0, where the world is 256 px wide.
    zoom = math.log2(min(avail_w / (bw * 256.0), avail_h / (bh * 256.0)))
    if snap:
        zoom = round(zoom / (snap / 100)) * (snap / 100)  # within 1 % of a snap level: keep it
        zoom = math.floor(zoom / snap) * snap
    return zoom


def fit_view(
    bbox: Sequence[float],
    size: tuple[float, float],
    *,
    padding_tl: tuple[float, float] = DEFAULT_PADDING_TL,
    padding_br: tuple[float, float] = DEFAULT_PADDING_BR,
    zoom_snap: float = 0.25,
    min_zoom: float = 0,
    max_zoom: float = 18,
) -> tuple[float, BBox]:
    """The view Leaflet lands on after ``fitBounds(bbox, {paddingTopLeft, paddingBottomRight})``
    (or ``flyToBounds``) on a map of ``size`` pixels: ``(zoom, view_bbox)``.

    Follows Leaflet 1.9's ``getBoundsZoom`` and ``_getBoundsCenterZoom``: the largest zoom
    (snapped down to ``zoom_snap``) at which ``bbox`` fits inside the padded map, centred in
    the padded area.
    """
    minx, miny, maxx, maxy = (float(v) for v in bbox)
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)) or minx > maxx or miny > maxy:
        raise ValueError("bbox must be finite with min <= max")
    if size[0] <= 0 or size[1] <= 0:
        raise ValueError("size must be positive")
    pad = (padding_tl[0] + padding_br[0], padding_tl[1] + padding_br[1])
    zoom = _bounds_zoom((minx, miny, maxx, maxy), size, pad, zoom_snap)
    zoom = max(min_zoom, min(max_zoom, zoom))
    world = _world_px(zoom)
    # Centre of the box, shifted by half the padding difference (Leaflet's paddingOffset).
    cx = (_x(minx) + _x(maxx)) / 2 * world + (padding_br[0] - padding_tl[0]) / 2
    cy = (_y(miny) + _y(maxy)) / 2 * world + (padding_br[1] - padding_tl[1]) / 2
    view = _view_box(cx, cy, size, world)
    return zoom, view


def _view_box(cx: float, cy: float, size: tuple[float, float], world: float) -> BBox:
    """The lon/lat box of a ``size`` screen centred on world pixel (cx, cy)."""
    half_w, half_h = size[0] / 2, size[1] / 2
    return (
        _lon((cx - half_w) / world),
        _lat((cy + half_h) / world),
        _lon((cx + half_w) / world),
        _lat((cy - half_h) / world),
    )


def center_view(
    center: Sequence[float],
    zoom: float,
    size: tuple[float, float],
    *,
    padding_tl: tuple[float, float] = DEFAULT_PADDING_TL,
    padding_br: tuple[float, float] = DEFAULT_PADDING_BR,
) -> tuple[list[float], BBox]:
    """Put the point ``center`` (lon, lat) in the middle of the padded map area at ``zoom``:
    ``([lat, lng] to pass to Leaflet's setView/flyTo, view_bbox)``."""
    world = _world_px(zoom)
    cx = _x(float(center[0])) * world + (padding_br[0] - padding_tl[0]) / 2
    cy = _y(float(center[1])) * world + (padding_br[1] - padding_tl[1]) / 2
    view = _view_box(cx, cy, size, world)
    return [_lat(cy / world), _lon(cx / world)], view


#: Largest viewport accepted, in screen pixels at the request zoom (a 4K screen plus margins).
MAX_VIEW_PX = 6000


def parse_view(args) -> tuple[int, tuple[float, float, float, float], str | None]:
    """Validate ``z``, ``bbox`` and ``sel``; raise ValueError(field, detail) when bad."""
    try:
        z = int(args.get("z", ""))
    except ValueError:
        raise ValueError("z", "z must be an integer zoom level") from None
    z = min(max(z, MIN_ZOOM), MAX_ZOOM)
    parts = args.get("bbox", "").split(",")
    try:
        bbox = tuple(float(p) for p in parts)
    except ValueError:
        raise ValueError("bbox", "bbox must be four numbers: minx,miny,maxx,maxy") from None
    if len(bbox) != 4 or not all(math.isfinite(v) for v in bbox):
        raise ValueError("bbox", "bbox must be four finite numbers: minx,miny,maxx,maxy")
    minx, miny, maxx, maxy = bbox
    if minx >= maxx or miny >= maxy:
        raise ValueError("bbox", "bbox must have minx < maxx and miny < maxy")
    if not (
        -180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90 and -90 <= maxy <= 90
    ):
        raise ValueError("bbox", "bbox is outside the lon/lat range (did you swap lat and lon?)")
    if (maxx - minx) / pixel_deg(z) > MAX_VIEW_PX or (maxy - miny) / pixel_deg(z) > MAX_VIEW_PX:
        raise ValueError("bbox", f"bbox too large for zoom {z}: zoom out or send a smaller box")
    sel = args.get("sel") or None
    if sel is not None and not CELL_CODE_RE.fullmatch(sel):
        raise ValueError("sel", "sel must be a cell code (digits)")
    return z, bbox, sel
