"""The viewport URL of the grid payload: the view's box grown and snapped so that small pans
reuse the same URL. Pure functions (no database, no request); the zoom rules themselves (which
level at which zoom, the simplification bands) are in :mod:`gridcmd.zoom`.
"""

from __future__ import annotations

import math
from urllib.parse import urlencode

from gridcmd.zoom import MAX_ZOOM, MIN_ZOOM, pixel_deg

__all__ = ["MARGIN_PX", "SNAP_PX", "grid_url", "snap_bbox"]

#: Snapping grid for viewport boxes, in screen pixels at the request zoom: small pans reuse
#: the same URL (and the browser's HTTP cache) and the margin pre-loads the surroundings.
SNAP_PX = 256
MARGIN_PX = 128


def snap_bbox(
    bbox: tuple[float, float, float, float], zoom: float
) -> tuple[float, float, float, float]:
    """Grow ``(minx, miny, maxx, maxy)`` by a margin and snap it outward to a grid of
    ``SNAP_PX`` pixels at ``zoom``; clamp to valid lon/lat."""
    minx, miny, maxx, maxy = bbox
    if not all(math.isfinite(v) for v in bbox) or minx > maxx or miny > maxy:
        raise ValueError("bbox must be finite with min <= max")
    step = SNAP_PX * pixel_deg(int(math.floor(zoom)))
    m = MARGIN_PX * pixel_deg(int(math.floor(zoom)))
    out = (
        math.floor((minx - m) / step) * step,
        math.floor((miny - m) / step) * step,
        math.ceil((maxx + m) / step) * step,
        math.ceil((maxy + m) / step) * step,
    )
    return (
        round(max(out[0], -180.0), 6),
        round(max(out[1], -85.0), 6),
        round(min(out[2], 180.0), 6),
        round(min(out[3], 85.0), 6),
    )


def grid_url(
    zoom: float, bbox: tuple[float, float, float, float], selected: str | None = None
) -> str:
    """The URL of the grid payload for a viewport (see ``GET /geo/grid.pbf`` in app.py)."""
    z = min(max(int(math.floor(zoom)), MIN_ZOOM), MAX_ZOOM)
    params = {"z": z, "bbox": ",".join(f"{v:.6f}" for v in snap_bbox(bbox, z))}
    if selected:
        params["sel"] = selected
    return "/geo/grid.pbf?" + urlencode(params)
