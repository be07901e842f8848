"""Zoom rules shared by the database tier and the map: the zoom range of the map, which grid
level is drawn at which zoom, and the zoom bands of pre-simplified geometry (tolerance and
coordinate quantum per band). Pure functions, no imports of the project: ``geodata.lod``
builds and reads the LOD tables by these rules, ``layers.lod`` builds viewport URLs with them.

Zooms are Leaflet/Web-Mercator zooms (256 px tiles). At zoom ``z`` one screen pixel spans
``360 / (256 · 2^z)`` degrees of longitude; simplification tolerances are half a pixel at the
band's lowest zoom, so the simplified outline is indistinguishable from the original.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "BANDS",
    "MAX_ZOOM",
    "MIN_ZOOM",
    "ZOOM_SNAP",
    "Band",
    "band_for_zoom",
    "bands_for_level",
    "display_level",
    "levels_at_zoom",
    "natural_level",
    "pixel_deg",
]

#: The map's zoom range (the dashboard's map and every grid request are clamped to it).
MIN_ZOOM = 6
MAX_ZOOM = 18
#: Zoom step of the dashboard's map (fractional zoom when fitting a cell to the screen).
ZOOM_SNAP = 0.25

#: Natural level per zoom: the level whose cells are a comfortable size on screen. At Dali's
#: latitude a screen pixel is ~141 km / 2^z, so a 1920-px screen spans ~530 km at z9 (the
#: whole prefecture), ~66 km at z12, ~16 km at z14, ~4 km at z16. Chosen so that fitting a
#: cell of level L to the screen lands in the natural range of level L + 1 (the prefecture fits
#: at z9 → counties; a county at z10–11 → townships; a township at z12–13 → villages; a
#: village at z14–15 → grids; a grid at z16+ → micro-grids).
_NATURAL = ((9, 2), (11, 3), (13, 4), (15, 5))  # (max zoom, level); above → 6


def natural_level(zoom: float) -> int:
    """The grid level drawn at ``zoom`` when nothing is selected (2 … 6)."""
    z = int(math.floor(zoom))
    for max_z, level in _NATURAL:
        if z <= max_z:
            return level
    return 6


def display_level(zoom: float, selected_level: int | None) -> int:
    """The level to draw: the natural level, or the selected cell's children when the view is
    at most one level coarser than the selection (a cell larger than usual for its level fits
    the screen one zoom range early; its children are still drawn). Zooming out further falls
    back to the natural level. Deeper-than-natural cells are drawn inside the selection only
    (see ``geodata.lod.grid_view``), so the polygon count stays bounded."""
    nat = natural_level(zoom)
    if selected_level is not None and selected_level < 6 and nat >= selected_level - 1:
        return max(nat, selected_level + 1)
    return nat


@dataclass(frozen=True)
class Band:
    """One zoom band of pre-simplified geometry."""

    band: int  # the band's lowest zoom
    tolerance: float  # simplification tolerance, degrees
    digits: int  # coordinates rounded to 10^-digits degrees


def pixel_deg(zoom: float) -> float:
    """Degrees of longitude per screen pixel at ``zoom``."""
    return 360.0 / (256.0 * 2.0**zoom)


def _digits_for(zoom: int) -> int:
    # Coordinate quantum: the largest power of ten not above one screen pixel at ``zoom``
    # (Leaflet draws at whole pixels anyway). Geobuf stores integers at that precision, so a
    # coarser quantum means smaller deltas and fewer bytes per vertex.
    return math.ceil(-math.log10(pixel_deg(zoom)))


#: Bands 8 … 16; zooms below 8 use band 8, above 16 band 16 (≈ 1 m, 2 px at z18).
BANDS: dict[int, Band] = {
    b: Band(b, pixel_deg(b) / 2, _digits_for(b)) for b in range(8, 17)
}


def band_for_zoom(zoom: float) -> int:
    """The pre-simplified band used at ``zoom``."""
    return min(max(int(math.floor(zoom)), min(BANDS)), max(BANDS))


def levels_at_zoom(zoom: float) -> set[int]:
    """The levels drawn across a whole viewport at ``zoom``: natural or one deeper (a level two
    deeper appears only inside one selected cell and uses the nearest stored band)."""
    nat = natural_level(zoom)
    return {nat, min(nat + 1, 6)}


def bands_for_level(level: int) -> list[int]:
    """The zoom bands in which ``level`` can be drawn (those the LOD table must hold)."""
    bands = {band_for_zoom(z) for z in range(MIN_ZOOM, MAX_ZOOM + 1) if level in levels_at_zoom(z)}
    return sorted(bands)
